// docqa's page: plain ES modules against the HTTP API, no build step. This module wires the parts together,
// asks for the API key when the service wants one, and follows deep links (/?q=...&mode=..., /?ask=...).

import { apiKey, onKeyNeeded, setApiKey } from "./api.js";
import { initAsk, runAsk } from "./ask.js";
import { initDocuments, loadDocuments, onDocuments } from "./documents.js";
import { $ } from "./dom.js";
import { applySearchParams, initSearch, offerDocuments, runSearch } from "./search.js";
import { refreshState } from "./state.js";
import { initUpload } from "./upload.js";

// The key dialog: resolves to the key typed, or null (Cancel, Escape).
function promptForKey(message) {
  const dialog = $("key-dialog");
  const input = $("key-input");
  $("key-message").textContent = message;
  input.value = "";
  return new Promise((resolve) => {
    const done = () => {
      dialog.removeEventListener("close", done);
      const key = dialog.returnValue === "ok" ? input.value.trim() : "";
      resolve(key || null);
      showKeyButton();
    };
    dialog.addEventListener("close", done);
    dialog.returnValue = "";
    dialog.showModal();
    input.focus();
  });
}

function showKeyButton() {
  $("key-forget").hidden = !apiKey();
}

function initKey() {
  onKeyNeeded(promptForKey);
  $("key-cancel").addEventListener("click", () => $("key-dialog").close("cancel"));
  $("key-form").addEventListener("submit", (event) => {
    event.preventDefault();
    $("key-dialog").close($("key-input").value.trim() ? "ok" : "cancel");
  });
  $("key-forget").addEventListener("click", () => {
    setApiKey("");
    window.location.reload();
  });
  showKeyButton();
}

function refreshAll() {
  loadDocuments();
  refreshState();
}

function main() {
  initKey();
  initUpload(refreshAll);
  initDocuments();
  initSearch();
  initAsk();
  onDocuments(offerDocuments);
  // A file dropped beside the drop zone must not navigate away from the page.
  for (const type of ["dragover", "drop"]) window.addEventListener(type, (event) => event.preventDefault());

  const params = new URLSearchParams(window.location.search);
  applySearchParams(params);
  refreshState();
  loadDocuments();
  if (params.get("q")) runSearch();
  if (params.get("ask")) {
    $("ask-input").value = params.get("ask");
    runAsk(params.get("ask"));
  }
  setInterval(refreshState, 5000);
}

main();
