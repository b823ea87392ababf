// A cited passage in its context: the chunk with its neighbours, the cited span highlighted.

import { request } from "./api.js";
import { el } from "./dom.js";

function where(source) {
  const parts = ["chunk " + source.chunk_index];
  if (source.page) parts.push("page " + source.page);
  return parts.join(", ");
}

export function contextPath(source) {
  const params = new URLSearchParams({ before: "1", after: "1" });
  if (source.char_end > source.char_start) {
    params.set("start", String(source.char_start));
    params.set("end", String(source.char_end));
  }
  return "/api/v1/documents/" + encodeURIComponent(source.document_id) + "/chunks/" + source.chunk_id + "/context?" + params;
}

// Render the context of `source` (a search result or an answer's source) into `target` and focus it.
export async function showPassage(target, source, label) {
  target.hidden = false;
  target.replaceChildren(el("p", { className: "info", text: "Loading the passage…" }));
  try {
    const ctx = await request(contextPath(source));
    const { text } = ctx;
    const start = ctx.highlight_start, end = ctx.highlight_end;
    const mark = el("mark", { testid: "highlight", text: text.slice(start, end) });
    const body = el("div", { className: "passage-text" },
      ctx.more_before ? el("span", { className: "more", text: "…\n" }) : null,
      text.slice(0, start), mark, text.slice(end),
      ctx.more_after ? el("span", { className: "more", text: "\n…" }) : null);
    const title = [label, ctx.filename || ctx.document_id, where(source)].filter(Boolean).join(" · ");
    target.replaceChildren(el("h3", { className: "passage-title", text: title }), body);
    target.focus({ preventScroll: true });
    target.scrollIntoView({ block: "nearest", behavior: "smooth" });
    body.scrollTop = Math.max(0, mark.offsetTop - 24); // .passage-text is the mark's offsetParent
  } catch (e) {
    target.replaceChildren(el("p", { className: "info error", text: "Could not load the passage: " + e.message }));
  }
}
