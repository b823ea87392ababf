// The document list: status, paging, delete (a second click confirms: no blocking dialog).

import { request } from "./api.js";
import { $, ago, el, setMessage } from "./dom.js";

const PAGE = 20;
let offset = 0;
let listeners = [];
let busyTimer = null;

export function onDocuments(fn) { listeners.push(fn); }

function badge(status) {
  return el("span", { className: "badge " + status, text: status });
}

function deleteButton(doc) {
  const name = doc.filename || doc.document_id;
  let armed = null;
  const button = el("button", { type: "button", className: "secondary danger", text: "Delete", "aria-label": "Delete " + name });
  button.addEventListener("click", async () => {
    if (!armed) {
      button.textContent = "Confirm delete";
      button.setAttribute("aria-label", "Confirm: delete " + name);
      armed = setTimeout(() => {
        armed = null;
        button.textContent = "Delete";
        button.setAttribute("aria-label", "Delete " + name);
      }, 5000);
      return;
    }
    clearTimeout(armed);
    button.disabled = true;
    try {
      const result = await request("/api/v1/index/" + encodeURIComponent(doc.document_id), { method: "DELETE" });
      setMessage($("documents-info"), "Deleted " + name + " (" + result.chunks_deleted + " chunk(s)).", "ok");
      if ($("documents").children.length === 1 && offset > 0) offset = Math.max(0, offset - PAGE);
    } catch (e) {
      setMessage($("documents-info"), "Could not delete " + name + ": " + e.message, "error");
    }
    await loadDocuments();
  });
  return button;
}

function row(doc) {
  const name = doc.filename || doc.document_id;
  const details = [doc.chunks_total + " chunk(s)", doc.content_type, "added " + ago(doc.created_at)].filter(Boolean);
  return el("li", { className: "document", testid: "document", "data-document-id": doc.document_id, "data-status": doc.status },
    el("div", { className: "document-main" },
      el("b", { className: "document-name", text: name, title: doc.source || doc.document_id }),
      badge(doc.status),
      el("div", { className: "meta", text: details.join(" · ") }),
      doc.error ? el("div", { className: "error document-error", text: doc.error }) : null),
    deleteButton(doc));
}

export async function loadDocuments() {
  const status = $("documents-status").value;
  const params = new URLSearchParams({ limit: String(PAGE), offset: String(offset), order: "newest" });
  if (status) params.set("status", status);
  const list = $("documents");
  list.setAttribute("aria-busy", "true");
  try {
    const body = await request("/api/v1/documents?" + params);
    list.replaceChildren(...body.documents.map(row));
    if (!body.documents.length) list.append(el("li", { className: "empty", text: status ? "No " + status + " documents." : "No documents yet: add some above." }));
    const last = offset + body.documents.length;
    $("documents-total").textContent = body.total + " document(s)" + (status ? " " + status : "");
    $("documents-page").textContent = body.total > PAGE ? (offset + 1) + "–" + last + " of " + body.total : "";
    $("documents-prev").hidden = offset === 0;
    $("documents-next").hidden = body.next_offset === null;
    for (const fn of listeners) fn(body.documents);
    clearTimeout(busyTimer);
    if (body.documents.some((d) => d.status === "pending" || d.status === "processing")) busyTimer = setTimeout(loadDocuments, 2000);
  } catch (e) {
    setMessage($("documents-info"), "Could not list the documents: " + e.message, "error");
  } finally {
    list.removeAttribute("aria-busy");
  }
}

export function initDocuments() {
  $("documents-status").addEventListener("change", () => { offset = 0; loadDocuments(); });
  $("documents-refresh").addEventListener("click", () => loadDocuments());
  $("documents-prev").addEventListener("click", () => { offset = Math.max(0, offset - PAGE); loadDocuments(); });
  $("documents-next").addEventListener("click", () => { offset += PAGE; loadDocuments(); });
}
