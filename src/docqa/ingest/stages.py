"""Ingest as three overlapping stages on bounded queues.

    prepare thread ──(≤ PREPARED_QUEUE files)──> embed thread ──(≤ EMBEDDED_QUEUE files)──> caller's thread
    read, hash, parse, chunk file N+1            embed the window holding file N           write file N-1

The embed thread gathers prepared files into a window of at least
`window_chunks` chunks (or `window_files` files) so that one embedder call
spans several files and the model sorts all of them by length; it loads the
model when the first file with chunks arrives, while parsing goes on. Only
that thread embeds (one model per process; the model's own workers use the
cores). Files come out in the order they went in. An error in a stage is
raised in the caller's thread; when the caller stops early (an error, Ctrl-C),
the stages stop at their next file or window, and nothing they have not
handed over is written.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from docqa.ingest.pipeline import IngestOutcome, PreparedDocument

PREPARED_QUEUE = 16
EMBEDDED_QUEUE = 128
_POLL_S = 0.1
Q = TypeVar("Q")


@dataclass(frozen=True)
class Staged:
    """One input file out of the stages: either decided while preparing (`outcome`: failed,
    unchanged), or prepared and embedded (`prepared`, with `embedded` chunks), for the caller to write."""

    path: Path
    outcome: IngestOutcome | None = None
    prepared: PreparedDocument | None = None
    embedded: int = 0


@dataclass(frozen=True)
class _Raised:
    error: BaseException


class _End:
    pass


def run_stages(
    paths: Sequence[Path],
    prepare: Callable[[Path], PreparedDocument | IngestOutcome],
    embed: Callable[[list[PreparedDocument]], list[int]],
    *,
    load_model: Callable[[], None] = lambda: None,
    window_chunks: int = 256,
    window_files: int = 64,
) -> Iterator[Staged]:
    """Yield every path, in input order, as it leaves the embed stage."""
    stop = threading.Event()
    prepared_q: queue.Queue[tuple[Path, PreparedDocument | IngestOutcome] | _Raised | _End] = queue.Queue(
        maxsize=PREPARED_QUEUE
    )
    embedded_q: queue.Queue[Staged | _Raised | _End] = queue.Queue(maxsize=EMBEDDED_QUEUE)

    def prepare_all() -> None:
        try:
            for path in paths:
                if stop.is_set():
                    return
                _put(prepared_q, (path, prepare(path)), stop)
            _put(prepared_q, _End(), stop)
        except BaseException as exc:  # handed to the caller's thread, raised there
            _put(prepared_q, _Raised(exc), stop)

    def embed_all() -> None:
        loaded = False
        try:
            while True:
                window: list[tuple[Path, PreparedDocument | IngestOutcome]] = []
                chunks = 0
                got: tuple[Path, PreparedDocument | IngestOutcome] | _Raised | _End | None = None
                while chunks < window_chunks and len(window) < window_files:
                    got = _get(prepared_q, stop)
                    if not isinstance(got, tuple):
                        break
                    window.append(got)
                    if isinstance(got[1], PreparedDocument) and got[1].chunks:
                        if not loaded:
                            load_model()  # while the prepare thread goes on parsing
                            loaded = True
                        chunks += len(got[1].chunks)
                if stop.is_set():
                    return
                docs = [doc for _, doc in window if isinstance(doc, PreparedDocument)]
                counts = iter(embed(docs) if docs else [])
                for path, doc in window:
                    if isinstance(doc, PreparedDocument):
                        _put(embedded_q, Staged(path, prepared=doc, embedded=next(counts)), stop)
                    else:
                        _put(embedded_q, Staged(path, outcome=doc), stop)
                if isinstance(got, (_Raised, _End)):
                    _put(embedded_q, got, stop)
                    return
        except BaseException as exc:
            _put(embedded_q, _Raised(exc), stop)

    threads = [
        threading.Thread(target=prepare_all, name="docqa-ingest-prepare", daemon=True),
        threading.Thread(target=embed_all, name="docqa-ingest-embed", daemon=True),
    ]
    for thread in threads:
        thread.start()
    try:
        while True:
            out = _get(embedded_q, None)
            if isinstance(out, _End):
                return
            if isinstance(out, _Raised):
                raise out.error
            if out is not None:
                yield out
    finally:
        stop.set()
        threads[0].join(timeout=1.0)  # the file being prepared; a transaction cut short commits nothing


def _put(q: queue.Queue[Q], value: Q, stop: threading.Event) -> None:
    while not stop.is_set():
        try:
            q.put(value, timeout=_POLL_S)
            return
        except queue.Full:
            continue


def _get(q: queue.Queue[Q], stop: threading.Event | None) -> Q | None:
    """The next value; None once `stop` is set."""
    while stop is None or not stop.is_set():
        try:
            return q.get(timeout=_POLL_S)
        except queue.Empty:
            continue
    return None
