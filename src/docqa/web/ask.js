// Ask: the answer with its [n] markers as buttons that open the cited passage, highlighted in its context.

import { request } from "./api.js";
import { $, el, setMessage, setQuery, snippet } from "./dom.js";
import { showPassage } from "./passage.js";

const MARKER = /(\[\d+(?:\s*,\s*\d+)*\])/;

function citation(n, source, onOpen) {
  const name = source.filename || source.document_id;
  return el("button", {
    type: "button", className: "cite", testid: "citation", "data-source": String(n),
    "aria-label": "Source " + n + ": " + name, title: name, text: "[" + n + "]",
    onclick: () => onOpen(n),
  });
}

function renderAnswer(text, sources, onOpen) {
  const out = [];
  for (const part of text.split(MARKER)) {
    if (!MARKER.test(part)) { if (part) out.push(document.createTextNode(part)); continue; }
    const numbers = part.slice(1, -1).split(",").map((n) => Number(n.trim()));
    numbers.forEach((n, i) => {
      if (i) out.push(document.createTextNode(" "));
      out.push(sources[n - 1] ? citation(n, sources[n - 1], onOpen) : document.createTextNode("[" + n + "]"));
    });
  }
  return out;
}

function sourceItem(source, n, onOpen) {
  return el("li", { id: "source-" + n, className: "source" },
    el("div", { className: "meta" },
      el("b", { text: "[" + n + "] " + (source.filename || source.document_id) }),
      " chunk " + source.chunk_index + (source.page ? ", page " + source.page : "") + " · score " + source.score.toFixed(3)),
    el("p", { className: "snippet", text: snippet(source.text, 240) }),
    el("button", { type: "button", className: "secondary small", text: "Show in context", onclick: () => onOpen(n) }));
}

export async function runAsk(question) {
  const button = $("ask-submit");
  const text = $("answer-text");
  const info = $("answer-info");
  setQuery({ ask: question });
  button.disabled = true;
  $("answer").hidden = false;
  text.textContent = "Thinking…";
  setMessage(info, "");
  $("sources").replaceChildren();
  $("passage").hidden = true;
  try {
    const body = await request("/api/v1/qa/ask?question=" + encodeURIComponent(question));
    const sources = body.sources || [];
    const open = (n) => {
      for (const item of document.querySelectorAll(".source.active, .cite.active")) item.classList.remove("active");
      $("source-" + n)?.classList.add("active");
      for (const cite of document.querySelectorAll('.cite[data-source="' + n + '"]')) cite.classList.add("active");
      showPassage($("passage"), sources[n - 1], "[" + n + "]");
    };
    text.replaceChildren(...renderAnswer(body.answer, sources, open));
    let line = (body.found ? "" : "Nothing found. ") + body.mode + " answer in " + body.processing_time_ms.toFixed(0) + " ms";
    if (body.fallback_reason) line += " (" + body.fallback_reason + ")";
    setMessage(info, line + (sources.length ? " · " + sources.length + " source(s): click a [n] to read it in context" : ""));
    $("sources").replaceChildren(...sources.map((s, i) => sourceItem(s, i + 1, open)));
  } catch (e) {
    text.textContent = "";
    setMessage(info, e.message, "error");
  } finally {
    button.disabled = false;
  }
}

export function initAsk() {
  $("ask-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const question = $("ask-input").value.trim();
    if (question) runAsk(question);
  });
}
