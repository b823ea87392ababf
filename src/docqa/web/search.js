// Search: a query in one mode (vector, keyword, hybrid) with filters; each result opens in its context.

import { request } from "./api.js";
import { $, el, setMessage, setQuery, snippet } from "./dom.js";
import { showPassage } from "./passage.js";

const MODES = ["vector", "keyword", "hybrid"];

function filters() {
  const out = {};
  const type = $("filter-type").value, doc = $("filter-document").value;
  const from = $("filter-from").value, to = $("filter-to").value;
  if (type) out.document_type = type;
  if (doc) out.document_id = doc;
  if (from) out.date_from = from;
  if (to) out.date_to = to;
  return out;
}

function result(hit, rank) {
  const passage = el("div", { className: "passage inline", tabindex: "-1", hidden: true, "aria-live": "polite" });
  const where = "chunk " + hit.chunk_index + (hit.page ? ", page " + hit.page : "") + (hit.heading ? " · " + hit.heading : "");
  const toggle = el("button", { type: "button", className: "secondary small", text: "Show in context", "aria-expanded": "false" });
  toggle.addEventListener("click", () => {
    const open = toggle.getAttribute("aria-expanded") === "true";
    toggle.setAttribute("aria-expanded", String(!open));
    toggle.textContent = open ? "Show in context" : "Hide context";
    if (open) passage.hidden = true;
    else showPassage(passage, hit, "#" + rank);
  });
  return el("li", { className: "result", testid: "result", "data-document-id": hit.document_id, "data-chunk-id": String(hit.chunk_id) },
    el("div", { className: "meta" },
      el("b", { text: hit.filename || hit.document_id }), " " + where + " · score " + hit.score.toFixed(3)),
    el("p", { className: "snippet", text: snippet(hit.content, 360) }),
    toggle, passage);
}

export async function runSearch() {
  const query = $("search-input").value.trim();
  if (!query) return;
  const mode = $("search-mode").value;
  const info = $("search-info");
  const list = $("results");
  const applied = filters();
  setQuery({ q: query, mode, type: applied.document_type, doc: applied.document_id, from: applied.date_from, to: applied.date_to });
  $("search-submit").disabled = true;
  setMessage(info, "Searching…");
  list.replaceChildren();
  try {
    const body = await request("/api/v1/search/", {
      method: "POST",
      json: { query, mode, limit: Number($("search-limit").value), filters: Object.keys(applied).length ? applied : undefined },
    });
    setMessage(info, body.total_results + " result(s) in " + body.execution_time_ms.toFixed(1) + " ms (" + body.mode + ")");
    list.replaceChildren(...body.results.map((hit, i) => result(hit, i + 1)));
  } catch (e) {
    setMessage(info, e.message, "error");
  } finally {
    $("search-submit").disabled = false;
  }
}

// Deep link: /?q=...&mode=...&type=...&doc=...&from=...&to=...
export function applySearchParams(params) {
  if (MODES.includes(params.get("mode"))) $("search-mode").value = params.get("mode");
  const type = params.get("type");
  if (type) {
    if (![...$("filter-type").options].some((o) => o.value === type)) $("filter-type").append(el("option", { value: type, text: type }));
    $("filter-type").value = type;
  }
  const doc = params.get("doc");
  if (doc) {
    $("filter-document").append(el("option", { value: doc, text: doc }));
    $("filter-document").value = doc;
  }
  if (params.get("from")) $("filter-from").value = params.get("from");
  if (params.get("to")) $("filter-to").value = params.get("to");
  if (type || doc || params.get("from") || params.get("to")) $("filters").open = true;
  $("search-input").value = params.get("q") || "";
}

// The document filter lists the documents on the page (keeping the chosen one).
export function offerDocuments(docs) {
  const select = $("filter-document");
  const chosen = select.value;
  const options = [el("option", { value: "", text: "any document" })];
  const seen = new Set();
  for (const d of docs) {
    if (d.status !== "indexed") continue;
    seen.add(d.document_id);
    options.push(el("option", { value: d.document_id, text: d.filename || d.document_id }));
  }
  if (chosen && !seen.has(chosen)) options.push(el("option", { value: chosen, text: chosen }));
  select.replaceChildren(...options);
  select.value = chosen;
}

// Suggestions from the corpus as the user types (the last request wins; never an error on the page).
let timer = null, seq = 0;
function suggest() {
  clearTimeout(timer);
  const q = $("search-input").value;
  if (q.trim().length < 2 || q.length > 200) { $("suggestions").replaceChildren(); return; }
  timer = setTimeout(async () => {
    const mine = ++seq;
    try {
      const body = await request("/api/v1/search/suggest?limit=8&q=" + encodeURIComponent(q), { prompt: false });
      if (mine === seq) $("suggestions").replaceChildren(...body.suggestions.map((s) => el("option", { value: s })));
    } catch (e) {
      $("suggestions").replaceChildren();
    }
  }, 150);
}

export function initSearch() {
  $("search-input").addEventListener("input", suggest);
  $("search-form").addEventListener("submit", (event) => { event.preventDefault(); runSearch(); });
}
