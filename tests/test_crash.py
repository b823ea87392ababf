"""A process killed with SIGKILL while saving a snapshot: the next start loads a
valid snapshot or rebuilds, never a torn one, and leaves no stale temporary or
.old directory behind, wherever the kill landed (no timing is asserted: how far
the child got before the kill only changes which case each trial exercises)."""

from __future__ import annotations

import multiprocessing as mp
import os
import random
import signal
import time

import pytest

from docqa.app import Docqa
from docqa.config import Settings
from docqa.embedders.hash import HashEmbedder
from docqa.types import ChunkInput
from tests.conftest import random_unit

N_DOCS, PER_DOC = 8, 500


def _fill(settings: Settings) -> None:
    store = Docqa.open(settings, embedder=HashEmbedder())
    vecs = random_unit(N_DOCS * PER_DOC, seed=5)
    for d in range(N_DOCS):
        chunks = [
            ChunkInput(text=f"doc {d} chunk {i}", ordinal=i, embedding=vecs[d * PER_DOC + i]) for i in range(PER_DOC)
        ]
        store.add_document(chunks, filename=f"d{d}.txt", sync=False)
    store.sync()
    store.close()


def _save_forever(settings: Settings, ready) -> None:
    store = Docqa.open(settings, embedder=HashEmbedder())
    store.sync()
    ready.set()
    while True:
        store.engine.save(force=True)  # as after a catch-up: every pass writes a whole snapshot


@pytest.mark.slow
def test_sigkill_during_snapshot_save_never_leaves_a_torn_snapshot(settings):
    _fill(settings)
    ctx = mp.get_context("spawn")
    rng = random.Random(11)
    root = settings.index_dir
    for _ in range(4):
        ready = ctx.Event()
        child = ctx.Process(target=_save_forever, args=(settings, ready))
        child.start()
        assert ready.wait(120)
        time.sleep(rng.uniform(0.0, 0.15))
        os.kill(child.pid, signal.SIGKILL)
        child.join()
        store = Docqa.open(settings, embedder=HashEmbedder())
        report = store.sync()
        assert report.status in ("in_sync", "rebuilt"), report
        assert report.index_count == N_DOCS * PER_DOC
        assert store.sync("check").status == "in_sync"
        store.close()
        # swept at load, after choosing what to load: the one whole snapshot is in place, nothing else
        names = sorted(p.name for p in root.iterdir() if not p.name.startswith("."))
        assert names == [settings.collection], names
        assert (root / settings.collection / "manifest.json").is_file()
