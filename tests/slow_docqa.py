"""`docqa` with a slow hash embedder: a test embedder through an importable module, for worker processes.

    python -m tests.slow_docqa worker      # DOCQA_TEST_EMBED_STALL_S=60 DOCQA_TEST_EMBED_MARKER=/tmp/m

Each embedding call first touches the marker file (the job is mid-run), then
sleeps the stall; a text containing DOCQA_TEST_CRASH_ON kills the process. The vectors are the hash embedder's, so the collection
opens as a hash collection and any other process can read what it wrote.
"""

from __future__ import annotations

import os
import signal
import sys
import time
from pathlib import Path

from docqa.cli.main import main
from docqa.embedders.hash import HashEmbedder
from docqa.ingest import stream

_embed = HashEmbedder.embed


def _slow_embed(self, texts):
    crash_on = os.environ.get("DOCQA_TEST_CRASH_ON")  # a poison document: the worker dies on it, every time
    if crash_on and any(crash_on in text for text in texts):
        os.kill(os.getpid(), signal.SIGKILL)
    marker = os.environ.get("DOCQA_TEST_EMBED_MARKER")
    if marker:
        Path(marker).write_text("embedding\n")
    time.sleep(float(os.environ.get("DOCQA_TEST_EMBED_STALL_S", "0")))
    return _embed(self, texts)


HashEmbedder.embed = _slow_embed  # type: ignore[method-assign]

if os.environ.get("DOCQA_TEST_BATCH_CHUNKS"):  # small batches, so a stop is seen between them
    stream.BATCH_CHUNKS = int(os.environ["DOCQA_TEST_BATCH_CHUNKS"])

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
