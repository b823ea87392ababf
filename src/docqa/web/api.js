// The HTTP API: JSON requests, the upload with its progress, jobs followed to their end, and the API key.
// With keys set on the service, a 401 asks for the key once (one prompt shared by every waiting request);
// the key is kept in sessionStorage and sent as X-API-Key.

const KEY = "docqa.apiKey";
let askForKey = async () => null;
let prompting = null;

export class ApiError extends Error {
  constructor(status, code, message, details) {
    super(message);
    this.status = status;
    this.code = code;
    this.details = details || {};
  }
}

export function apiKey() {
  try { return sessionStorage.getItem(KEY) || ""; } catch (e) { return ""; }
}

export function setApiKey(value) {
  try {
    if (value) sessionStorage.setItem(KEY, value); else sessionStorage.removeItem(KEY);
  } catch (e) { /* storage disabled: the key lasts as long as this page */ }
}

// `prompt(message)` resolves to the key typed, or null when the user declines.
export function onKeyNeeded(prompt) { askForKey = prompt; }

async function keyAfter401(sent, message) {
  if (apiKey() && apiKey() !== sent) return true; // another request got the key meanwhile
  if (!prompting) {
    prompting = Promise.resolve(askForKey(message)).finally(() => { prompting = null; });
  }
  const key = await prompting;
  if (!key) return false;
  setApiKey(key);
  return true;
}

function errorOf(status, body, statusText) {
  const err = body && body.error;
  if (err) return new ApiError(status, err.code, err.message, err.details);
  return new ApiError(status, "http_" + status, "HTTP " + status + (statusText ? " " + statusText : ""));
}

function parse(text) {
  try { return text ? JSON.parse(text) : null; } catch (e) { return null; }
}

// `options`: method, json (a body to send as JSON), prompt (false: a 401 fails at once, for background polls).
export async function request(path, options = {}) {
  for (let attempt = 0; attempt < 4; attempt += 1) {
    const sent = apiKey();
    const headers = { Accept: "application/json" };
    if (sent) headers["X-API-Key"] = sent;
    let body;
    if (options.json !== undefined) {
      headers["Content-Type"] = "application/json";
      body = JSON.stringify(options.json);
    }
    let response;
    try {
      response = await fetch(path, { method: options.method || "GET", headers, body });
    } catch (e) {
      throw new ApiError(0, "network", "the service cannot be reached (" + e.message + ")");
    }
    const data = parse(await response.text());
    if (response.status === 401 && attempt < 3 && options.prompt !== false) {
      const message = data && data.error ? data.error.message : "this service needs an API key";
      if (await keyAfter401(sent, message)) continue;
    }
    if (!response.ok) throw errorOf(response.status, data, response.statusText);
    return data;
  }
  throw new ApiError(401, "unauthorized", "an API key is required");
}

// One file to POST /api/v1/index/upload with XMLHttpRequest (fetch cannot report upload progress).
// Resolves to {status, body}: 200 (indexed) or 202 (a job to follow); rejects with an ApiError.
export function sendFile(file, onProgress) {
  const once = (sent) => new Promise((resolve, reject) => {
    const form = new FormData();
    form.append("file", file, file.name);
    const xhr = new XMLHttpRequest();
    xhr.open("POST", "/api/v1/index/upload");
    xhr.setRequestHeader("Accept", "application/json");
    if (sent) xhr.setRequestHeader("X-API-Key", sent);
    xhr.upload.onprogress = (event) => {
      if (event.lengthComputable) onProgress(event.loaded, event.total);
    };
    xhr.onload = () => resolve({ status: xhr.status, body: parse(xhr.responseText), statusText: xhr.statusText });
    xhr.onerror = () => reject(new ApiError(0, "network", "the upload was interrupted (the service cannot be reached)"));
    xhr.onabort = () => reject(new ApiError(0, "aborted", "the upload was cancelled"));
    xhr.send(form);
  });
  return (async () => {
    for (let attempt = 0; attempt < 4; attempt += 1) {
      const sent = apiKey();
      const answer = await once(sent);
      if (answer.status === 401 && attempt < 3) {
        const message = answer.body && answer.body.error ? answer.body.error.message : "this service needs an API key";
        if (await keyAfter401(sent, message)) continue;
      }
      if (answer.status >= 200 && answer.status < 300) return answer;
      throw errorOf(answer.status, answer.body, answer.statusText);
    }
    throw new ApiError(401, "unauthorized", "an API key is required");
  })();
}

export const FINISHED = ["done", "failed", "cancelled"];

// GET /api/v1/jobs/{id} until the job ends; `onUpdate(job)` after each poll. Resolves to the last job.
// A poll answered 503 or lost on the network is retried (the job goes on meanwhile), up to 5 times in a row.
export async function followJob(jobId, onUpdate) {
  let wait = 250, misses = 0;
  for (;;) {
    let job;
    try {
      job = await request("/api/v1/jobs/" + encodeURIComponent(jobId));
      misses = 0;
    } catch (e) {
      if (!(e.status === 503 || e.status === 0) || ++misses > 5) throw e;
      await new Promise((resolve) => setTimeout(resolve, 1000));
      continue;
    }
    onUpdate(job);
    if (FINISHED.includes(job.status)) return job;
    await new Promise((resolve) => setTimeout(resolve, wait));
    wait = Math.min(wait * 1.5, 2000);
  }
}

// A job's progress as a fraction (0..1), or null when it does not say: `progress` may be {done, total},
// a fraction, or chunk counts beside it.
export function jobFraction(job) {
  const p = job.progress;
  if (p && typeof p === "object") {
    const done = p.done ?? p.chunks_done, total = p.total ?? p.chunks_total;
    if (total > 0) return Math.min(1, done / total);
  } else if (typeof p === "number" && p >= 0) {
    return p > 1 ? Math.min(1, p / 100) : p;
  }
  if (job.chunks_total > 0) return Math.min(1, (job.chunks_done || 0) / job.chunks_total);
  return null;
}
