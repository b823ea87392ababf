// docqa web UI: plain JavaScript against the HTTP API. All text goes through textContent.
"use strict";

const $ = (id) => document.getElementById(id);

function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

async function call(path, options) {
  const response = await fetch(path, options);
  let body = null;
  try { body = await response.json(); } catch (e) { body = null; }
  if (!response.ok) {
    const err = body && body.error ? body.error : { code: "http_" + response.status, message: response.statusText };
    throw new Error(err.message + " (" + err.code + ")");
  }
  return body;
}

function snippet(text, max) {
  const flat = text.replace(/\s+/g, " ").trim();
  return flat.length > max ? flat.slice(0, max) + "…" : flat;
}

function resultItem(name, score, where, text) {
  const li = el("li");
  const meta = el("div", "meta");
  meta.appendChild(el("b", "", name));
  meta.appendChild(document.createTextNode("  score " + score.toFixed(3) + (where ? "  " + where : "")));
  li.appendChild(meta);
  li.appendChild(el("p", "snippet", snippet(text, 400)));
  return li;
}

async function onSearch(event) {
  event.preventDefault();
  const button = event.submitter || $("search-form").querySelector("button");
  const info = $("search-info");
  const list = $("results");
  button.disabled = true;
  info.className = "info";
  info.textContent = "searching…";
  list.replaceChildren();
  try {
    const body = await call("/api/v1/search/", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ query: $("q").value, mode: $("mode").value, limit: Number($("limit").value) }),
    });
    info.textContent = body.total_results + " result(s) in " + body.execution_time_ms.toFixed(1) + " ms (" + body.mode + ")";
    for (const r of body.results) {
      const where = "chunk " + r.chunk_index + (r.page ? ", page " + r.page : "");
      list.appendChild(resultItem(r.filename || r.document_id, r.score, where, r.content));
    }
  } catch (e) {
    info.className = "info error";
    info.textContent = e.message;
  } finally {
    button.disabled = false;
  }
}

async function onAsk(event) {
  event.preventDefault();
  const button = event.submitter || $("ask-form").querySelector("button");
  const box = $("answer");
  button.disabled = true;
  box.hidden = false;
  $("answer-text").textContent = "thinking…";
  $("answer-info").textContent = "";
  $("answer-info").className = "info";
  $("sources").replaceChildren();
  try {
    const body = await call("/api/v1/qa/ask?question=" + encodeURIComponent($("question").value));
    $("answer-text").textContent = body.answer;
    let info = body.mode + " answer in " + body.processing_time_ms.toFixed(0) + " ms";
    if (body.fallback_reason) info += " (" + body.fallback_reason + ")";
    $("answer-info").textContent = body.found ? info + " — sources:" : info;
    for (const s of body.sources) {
      const where = "chunk " + s.chunk_index + (s.page ? ", page " + s.page : "") + ", chars " + s.char_start + "–" + s.char_end;
      $("sources").appendChild(resultItem(s.filename || s.document_id, s.score, where, s.text));
    }
  } catch (e) {
    $("answer-text").textContent = "";
    $("answer-info").className = "info error";
    $("answer-info").textContent = e.message;
  } finally {
    button.disabled = false;
  }
}

function showStats(rows) {
  const dl = $("stats");
  dl.replaceChildren();
  for (const [key, value] of rows) {
    dl.appendChild(el("dt", "", key));
    dl.appendChild(el("dd", "", value === null || value === undefined ? "—" : String(value)));
  }
}

async function refreshStatus() {
  const badge = $("status");
  try {
    const health = await call("/health");
    badge.className = "status " + health.status;
    badge.textContent = health.status + (health.reason ? ": " + health.reason : "");
    const rows = [["status", health.status + (health.reason ? " — " + health.reason : "")]];
    if (health.last_sync) {
      rows.push(["last sync", health.last_sync.status + " in " + health.last_sync.duration_ms.toFixed(0) + " ms"]);
    }
    try {
      const s = await call("/api/v1/search/stats");
      rows.push(["documents", s.total_documents], ["chunks", s.total_chunks], ["vectors", s.total_vectors],
        ["model", s.embedding_model + " (" + s.dim + "-d)"], ["index", s.index_type],
        ["applied seq", s.applied_seq + " / " + s.db_seq], ["lag", s.lag]);
    } catch (e) {
      rows.push(["stats", e.message]);
    }
    showStats(rows);
  } catch (e) {
    badge.className = "status degraded";
    badge.textContent = "unreachable";
  }
}

// Suggestions from the corpus (headings, frequent phrases) as the user types; the last request wins.
let suggestTimer = null;
let suggestSeq = 0;
function onType() {
  clearTimeout(suggestTimer);
  const q = $("q").value;
  if (q.trim().length < 2 || q.length > 200) { $("suggestions").replaceChildren(); return; }
  suggestTimer = setTimeout(async () => {
    const seq = ++suggestSeq;
    try {
      const body = await call("/api/v1/search/suggest?limit=8&q=" + encodeURIComponent(q));
      if (seq !== suggestSeq) return;
      $("suggestions").replaceChildren(...body.suggestions.map((s) => { const o = el("option"); o.value = s; return o; }));
    } catch (e) {
      $("suggestions").replaceChildren();  // suggestions are a convenience: never an error on the page
    }
  }, 150);
}

$("q").addEventListener("input", onType);
$("search-form").addEventListener("submit", onSearch);
$("ask-form").addEventListener("submit", onAsk);
refreshStatus();
setInterval(refreshStatus, 5000);
