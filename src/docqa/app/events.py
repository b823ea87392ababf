"""What a sync report means to people watching (metrics, webhooks): one rule, used by both."""

from __future__ import annotations

from docqa.types import SyncReport


def drift_found(report: SyncReport) -> str | None:
    """ "repaired" or "rebuilt" when the sync found the index differing from the database, else None.

    A forced rebuild is not drift (someone asked for it), nor is a first build
    or a rebuild that changed nothing."""
    if report.status == "repaired":
        return "repaired"
    if report.status == "rebuilt" and not report.reason.startswith("forced") and (report.added or report.removed):
        return "rebuilt"
    return None
