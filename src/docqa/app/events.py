"""What a sync report means to people watching (metrics, webhooks): one rule, used by both."""

from __future__ import annotations

from docqa.types import SyncReport


def drift_found(report: SyncReport) -> str | None:
    """ "repaired" or "rebuilt" when the sync found the index differing from the database, else None.

    A check only says what it would do; a forced rebuild is not drift (someone asked for it), nor
    is a change of index settings, a compaction, or a rebuild that changed nothing. A missing
    snapshot is: with rows in the database, the index was lost (the original incident)."""
    if not report.sync_performed:
        return None
    if report.status == "repaired":
        return "repaired"
    if (
        report.status == "rebuilt"
        and report.cause not in ("forced", "settings", "compaction")
        and (report.added or report.removed)
    ):
        return "rebuilt"
    return None
