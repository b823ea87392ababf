// The index's state: health (open) and stats (needs the read key when keys are set), every few seconds.

import { request } from "./api.js";
import { $, ago, el } from "./dom.js";

const LABELS = {
  healthy: "healthy", starting: "starting", warming_up: "warming up", repairing: "repairing",
  writes_failing: "writes failing", degraded: "degraded",
};

function rows(dl, entries) {
  dl.replaceChildren(...entries.flatMap(([key, value, testid]) => [
    el("dt", { text: key }),
    el("dd", { text: value === null || value === undefined || value === "" ? "—" : String(value), testid }),
  ]));
}

export async function refreshState() {
  const badge = $("status");
  let health;
  try {
    health = await request("/health", { prompt: false });
  } catch (e) {
    badge.className = "status degraded";
    badge.textContent = "unreachable";
    rows($("stats"), [["service", e.message]]);
    return;
  }
  badge.className = "status " + health.status;
  badge.textContent = LABELS[health.status] || health.status;
  badge.title = health.reason || "";
  const history = health.sync_history || {};
  const last = health.last_sync;
  const entries = [["state", (LABELS[health.status] || health.status) + (health.reason ? " — " + health.reason : ""), "state-status"]];
  if (last) entries.push(["last sync", last.status + " " + ago(history.last_sync_at) + " (" + last.duration_ms.toFixed(0) + " ms)", "state-last-sync"]);
  entries.push(["last verified", ago(history.last_verified_at)]);
  const drift = history.drift_found
    ? history.drift_found + " time(s), " + history.drift_repaired_ids + " id(s) " + (history.last_drift_action || "repaired") + ", last " + ago(history.last_drift_at)
    : "none found since start";
  entries.push(["drift repaired", drift, "state-drift"]);
  try {
    const s = await request("/api/v1/search/stats", { prompt: false });
    entries.push(["lag", s.lag === 0 ? "0 (in sync)" : s.lag + " change(s) behind", "state-lag"],
      ["documents", s.total_documents + (s.failed_documents ? " (" + s.failed_documents + " failed)" : "")],
      ["chunks / vectors", s.total_chunks + " / " + s.total_vectors],
      ["applied change", s.applied_seq + " of " + s.db_seq],
      ["model", s.embedding_model + " (" + s.dim + "-d), " + s.index_type + " index"]);
  } catch (e) {
    entries.push(["stats", e.status === 401 ? "needs the API key" : e.message]);
  }
  rows($("stats"), entries);
}
