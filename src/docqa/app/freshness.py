"""Read-your-writes: a read that names `min_seq` waits until the index has applied that change.

None or 0 asks for nothing. A seq the database has never issued is a client error (InvalidInput,
422), not a wait; a timeout is ServiceDegraded (503), never a stale answer. When the index follows
a hot standby (docqa.app.databases), a seq the primary issued but the standby has not replayed yet
is waited for as well — the polling worker applies it once replayed — and the 503 after the timeout
says how far the standby is behind.
"""

from __future__ import annotations

from docqa.app.databases import Databases, standby_position
from docqa.errors import DatabaseUnavailable, InvalidInput, ServiceDegraded
from docqa.storage import changes
from docqa.sync.engine import SyncEngine


def wait_applied(dbs: Databases, engine: SyncEngine, min_seq: int | None, timeout_s: float) -> None:
    if not min_seq:
        return
    if isinstance(min_seq, bool) or not isinstance(min_seq, int) or min_seq < 0:
        raise InvalidInput("min_seq must be a non-negative integer", field="min_seq")
    if engine.applied_seq >= min_seq:
        return
    with dbs.read.connection() as conn:
        top = changes.max_seq(conn)
    if min_seq > top:
        _refuse_unissued(dbs, min_seq, top)
    else:
        engine.sync("catch_up")
    if engine.wait_for_seq(min_seq, timeout_s):
        return
    details: dict[str, object] = {"applied_seq": engine.applied_seq}
    message = f"the index has applied change {engine.applied_seq}, not yet {min_seq} (min_seq); retry shortly"
    if dbs.split:
        try:
            details.update(standby_position(dbs.read))
        except DatabaseUnavailable:
            details["standby_seq"] = None
        message = (
            f"the read database (a standby) has replayed changes up to {details['standby_seq']}, not yet {min_seq} "
            f"(min_seq; replay lag {details.get('replay_lag_s')} s); retry shortly"
        )
    raise ServiceDegraded(message, min_seq=min_seq, **details)


def _refuse_unissued(dbs: Databases, min_seq: int, read_top: int) -> None:
    """A seq past the read database's log: unissued (422) — unless a standby only has not replayed it yet."""
    if not dbs.split:
        raise InvalidInput(
            f"min_seq {min_seq} is ahead of the change log (latest seq is {read_top})",
            field="min_seq",
            latest_seq=read_top,
        )
    try:
        with dbs.primary.connection() as conn:
            top = changes.max_seq(conn)
    except DatabaseUnavailable:
        return  # the primary cannot say; the standby may still replay it: wait, then 503
    if min_seq > top:
        raise InvalidInput(
            f"min_seq {min_seq} is ahead of the change log (latest seq is {top})", field="min_seq", latest_seq=top
        )
