"""The readers-writer lock around the index: readers share, a writer excludes, a waiting writer goes first.

No timing is asserted: each step waits on events, and a "has not happened" check only waits a little
(a broken lock would let the thread through at once; a slow machine only makes the check easier to pass).
"""

from __future__ import annotations

import threading

from docqa.sync.rwlock import RWLock

WAIT = 10.0  # generous: only reached when the lock is broken and a thread never arrives


def _hold(lock_cm, entered: threading.Event, release: threading.Event) -> threading.Thread:
    def run() -> None:
        with lock_cm:
            entered.set()
            release.wait(WAIT)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


def test_readers_share():
    rw = RWLock()
    a_in, b_in, release = threading.Event(), threading.Event(), threading.Event()
    a, b = _hold(rw.read(), a_in, release), _hold(rw.read(), b_in, release)
    assert a_in.wait(WAIT) and b_in.wait(WAIT)  # both inside at once
    release.set()
    a.join(WAIT), b.join(WAIT)


def test_a_writer_waits_for_readers_and_holds_back_new_ones():
    rw = RWLock()
    reader_in, release_reader = threading.Event(), threading.Event()
    reader = _hold(rw.read(), reader_in, release_reader)
    assert reader_in.wait(WAIT)
    writer_in, release_writer = threading.Event(), threading.Event()
    writer = _hold(rw.write(), writer_in, release_writer)
    assert not writer_in.wait(0.2)  # excluded while the reader holds it
    late_in, release_late = threading.Event(), threading.Event()
    late = _hold(rw.read(), late_in, release_late)
    assert not late_in.wait(0.2)  # a new reader waits behind the waiting writer
    release_reader.set()
    assert writer_in.wait(WAIT)
    assert not late_in.is_set()  # still excluded by the writer inside
    release_writer.set()
    assert late_in.wait(WAIT)
    release_late.set()
    for t in (reader, writer, late):
        t.join(WAIT)


def test_writers_exclude_each_other_and_the_lock_is_reusable():
    rw = RWLock()
    inside, most = [0], [0]
    guard = threading.Lock()

    def work() -> None:
        for _ in range(200):
            with rw.write():
                with guard:
                    inside[0] += 1
                    most[0] = max(most[0], inside[0])
                with guard:
                    inside[0] -= 1
            with rw.read():
                pass

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(WAIT * 3)
    assert most[0] == 1 and inside[0] == 0
