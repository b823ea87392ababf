"""The ingest stages (prepare / embed / write overlapping on bounded queues), how the int8 model's runs are
planned, and the progress rates that leave the model load out."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import numpy as np
import pytest

from docqa.app import Docqa
from docqa.embedders.hash import HashEmbedder
from docqa.embedders.minilm_onnx import plan_batches
from docqa.ingest.batch import Progress
from docqa.ingest.pipeline import IngestOutcome, PreparedDocument
from docqa.ingest.stages import run_stages
from docqa.types import ChunkInput


def doc(name: str, chunks: int) -> PreparedDocument:
    return PreparedDocument(
        filename=name,
        source=name,
        content_hash="",
        content_type="text/plain",
        chunks=[ChunkInput(text=f"{name} {i}", ordinal=i) for i in range(chunks)],
        document_id=None,
    )


def paths(n: int) -> list[Path]:
    return [Path(f"f{i:03d}.txt") for i in range(n)]


def test_files_come_out_in_order_and_windows_span_files() -> None:
    windows: list[list[str]] = []

    def prepare(path: Path) -> PreparedDocument | IngestOutcome:
        if path.name == "f003.txt":
            return IngestOutcome(document_id="x", filename=path.name, status="unchanged")
        return doc(path.name, 3)

    def embed(docs: list[PreparedDocument]) -> list[int]:
        windows.append([d.filename for d in docs])
        return [len(d.chunks) for d in docs]

    out = list(run_stages(paths(10), prepare, embed, window_chunks=9, window_files=64))
    assert [s.path.name for s in out] == [p.name for p in paths(10)]
    assert out[3].outcome is not None and out[3].outcome.status == "unchanged" and out[3].prepared is None
    assert all(s.embedded == 3 for i, s in enumerate(out) if i != 3)
    assert windows[0] == ["f000.txt", "f001.txt", "f002.txt"]  # 9 chunks from three files, one call
    assert sum(len(w) for w in windows) == 9


def test_the_next_files_are_prepared_while_a_window_is_embedded() -> None:
    prepared = threading.Semaphore(0)
    seen: list[int] = []

    def prepare(path: Path) -> PreparedDocument:
        prepared.release()
        return doc(path.name, 1)

    def embed(docs: list[PreparedDocument]) -> list[int]:
        if not seen:  # the first window (2 files): the prepare stage must run on meanwhile
            assert all(prepared.acquire(timeout=10) for _ in range(2 + 3)), "nothing was prepared during embedding"
        seen.append(len(docs))
        return [1] * len(docs)

    assert len(list(run_stages(paths(8), prepare, embed, window_chunks=2))) == 8
    assert seen[0] == 2


def test_an_error_in_a_stage_is_raised_in_the_caller_after_the_files_before_it() -> None:
    def prepare(path: Path) -> PreparedDocument:
        if path.name == "f005.txt":
            raise RuntimeError("disk on fire")
        return doc(path.name, 1)

    got: list[str] = []
    with pytest.raises(RuntimeError, match="disk on fire"):
        for staged in run_stages(paths(10), prepare, lambda docs: [1] * len(docs), window_chunks=2):
            got.append(staged.path.name)
    assert got == [f"f00{i}.txt" for i in range(5)]  # every file before the failure, written, then the error

    def bad_embed(docs: list[PreparedDocument]) -> list[int]:
        raise ValueError("model gone")

    with pytest.raises(ValueError, match="model gone"):
        list(run_stages(paths(3), lambda p: doc(p.name, 1), bad_embed))


def test_stopping_early_stops_the_stages() -> None:
    calls: list[str] = []

    def prepare(path: Path) -> PreparedDocument:
        calls.append(path.name)
        return doc(path.name, 1)

    stages = run_stages(paths(1000), prepare, lambda docs: [1] * len(docs), window_chunks=4)
    next(stages)
    stages.close()  # the caller stops (an error while writing, Ctrl-C)
    time.sleep(0.5)
    settled = len(calls)
    time.sleep(0.5)
    assert len(calls) == settled < 1000  # the prepare stage stopped, bounded by the queues
    assert not [t for t in threading.enumerate() if t.name.startswith("docqa-ingest-prepare")]


def test_the_model_loads_once_and_only_when_something_needs_embedding() -> None:
    loads: list[int] = []

    def unchanged(path: Path) -> IngestOutcome:
        return IngestOutcome(document_id="x", filename=path.name, status="unchanged")

    list(run_stages(paths(5), unchanged, lambda docs: [], load_model=lambda: loads.append(1)))
    assert loads == []
    list(run_stages(paths(5), lambda p: doc(p.name, 2), lambda d: [2] * len(d), load_model=lambda: loads.append(1)))
    assert loads == [1]


def test_rates_leave_the_model_load_out() -> None:
    progress = Progress(files_total=10, bytes_total=1000)
    progress.started -= 100.0  # 90 s of model load, then 10 s of work
    progress.model_ready_at = time.monotonic() - 10.0
    progress.embedded, progress.bytes_done = 100, 500
    assert progress.chunks_per_s == pytest.approx(10.0, rel=0.05)  # not 100 / 100 s
    assert progress.eta_s == pytest.approx(10.0, rel=0.05)  # half the bytes in 10 s of work: 10 s to go


def test_model_runs_are_sorted_by_length_and_sized_by_tokens() -> None:
    lengths = [200, 10, 200, 12, 150, 11, 199, 13] * 4
    batches = plan_batches(lengths, max_texts=64, max_tokens=800, workers=2)
    assert sorted(np.concatenate(batches).tolist()) == list(range(len(lengths)))  # every row once
    for rows in batches:
        width = max(lengths[i] for i in rows)
        assert len(rows) * width <= 800 or len(rows) == 1
        assert max(lengths[i] for i in rows) - min(lengths[i] for i in rows) <= 50  # neighbours in length
    assert max(lengths[i] for i in batches[0]) == 200  # longest first
    assert max(len(b) for b in plan_batches([5] * 10, max_texts=64, max_tokens=10_000, workers=2)) == 5  # both busy
    assert [len(b) for b in plan_batches([300], 64, 100, 2)] == [1]  # a text longer than the budget runs alone


class CallRecorder(HashEmbedder):
    def __init__(self) -> None:
        super().__init__(384)
        self.calls: list[list[str]] = []

    def embed(self, texts):
        self.calls.append(list(texts))
        return super().embed(texts)


def test_one_embedder_call_spans_many_files_longest_first(settings, tmp_path) -> None:
    folder = tmp_path / "notes"
    folder.mkdir()
    for i in range(40):
        (folder / f"n{i:02d}.txt").write_text(f"Note {i} about topic {i}. " + "word " * (5 + 7 * i))
    recorder = CallRecorder()
    docqa = Docqa.open(settings, embedder=recorder)
    try:
        summary = docqa.ingest_paths([folder])
    finally:
        docqa.close()
    assert summary.count("added") == 40
    assert len(recorder.calls) == 1 and len(recorder.calls[0]) >= 40  # not calls of 64 texts per file batch
    sizes = [len(t) for t in recorder.calls[0]]
    assert sizes == sorted(sizes, reverse=True)
