// Upload: a file input and a drop zone. Each file is sent with its progress; a 200 is the indexed document,
// a 202 a job followed until it is done or failed; a refusal shows the service's reason.

import { followJob, jobFraction, sendFile } from "./api.js";
import { $, bytes, el } from "./dom.js";

let queue = Promise.resolve();
let changed = () => {};

function item(file) {
  const progress = el("progress", { max: "1", value: "0", "aria-label": "Progress of " + file.name });
  const status = el("span", { className: "upload-status", text: "waiting…" });
  const li = el("li", { className: "upload", testid: "upload-item", "data-state": "waiting" },
    el("div", { className: "upload-head" }, el("b", { text: file.name }), el("span", { className: "meta", text: bytes(file.size) })),
    progress, status);
  $("uploads").prepend(li);
  const set = (state, text, fraction) => {
    li.dataset.state = state;
    status.textContent = text;
    status.className = "upload-status" + (state === "failed" ? " error" : state === "done" ? " ok" : "");
    if (fraction === null) progress.removeAttribute("value");
    else if (fraction !== undefined) progress.value = fraction;
  };
  return { set, li };
}

function describeDone(body) {
  if (!body) return "indexed";
  const chunks = body.chunks !== undefined ? body.chunks + " chunk(s)" : "";
  const what = { added: "added", updated: "updated", unchanged: "unchanged (already indexed)" }[body.status] || body.status || "indexed";
  return [what, chunks].filter(Boolean).join(", ");
}

function describeJob(job) {
  const fraction = jobFraction(job);
  const pct = fraction === null ? "" : " " + Math.round(fraction * 100) + "%";
  return { queued: "queued", running: "indexing" + pct }[job.status] || job.status;
}

async function uploadOne(file) {
  const { set } = item(file);
  set("sending", "sending…", 0);
  try {
    const answer = await sendFile(file, (loaded, total) => {
      const done = loaded >= total;
      set("sending", done ? "sent, indexing…" : "sending " + Math.round((loaded / total) * 100) + "%", done ? null : loaded / total);
    });
    if (answer.status === 202 && answer.body && answer.body.job_id) {
      set("indexing", "queued", null);
      const job = await followJob(answer.body.job_id, (j) => set("indexing", describeJob(j), jobFraction(j)));
      if (job.status === "done") set("done", describeDone(job.result || { status: "added", chunks: job.chunks_total }), 1);
      else set("failed", (job.status === "cancelled" ? "cancelled" : "failed") + (job.error ? ": " + job.error : ""), 0);
    } else {
      set("done", describeDone(answer.body), 1);
    }
  } catch (e) {
    const reason = e.message.startsWith(file.name + ": ") ? e.message.slice(file.name.length + 2) : e.message;
    set("failed", "failed: " + reason, 0);
  } finally {
    changed();
  }
}

export function uploadFiles(files) {
  for (const file of Array.from(files)) queue = queue.then(() => uploadOne(file));
  return queue;
}

export function initUpload(onChanged) {
  changed = onChanged;
  const input = $("upload-input");
  const zone = $("dropzone");
  input.addEventListener("change", () => {
    uploadFiles(input.files);
    input.value = "";
  });
  zone.addEventListener("dragover", (event) => {
    event.preventDefault();
    event.dataTransfer.dropEffect = "copy";
    zone.classList.add("over");
  });
  zone.addEventListener("dragleave", () => zone.classList.remove("over"));
  zone.addEventListener("drop", (event) => {
    event.preventDefault();
    zone.classList.remove("over");
    if (event.dataTransfer && event.dataTransfer.files.length) uploadFiles(event.dataTransfer.files);
  });
}
