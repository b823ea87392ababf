"""What a user sees and pays on the command line: progress only on a terminal (never piped, never with
--json), no model loading bar anywhere, and no torch on the int8 query path."""

from __future__ import annotations

import os
import pty
import select
import subprocess
import sys
from pathlib import Path

import pytest

SAMPLES = Path(__file__).resolve().parent.parent / "samples"
DOCQA = [sys.executable, "-m", "docqa.cli.main"]


def corpus(tmp_path: Path, n: int = 6) -> Path:
    folder = tmp_path / "corpus"
    folder.mkdir()
    for i in range(n):
        (folder / f"note{i}.txt").write_text(f"Note {i} about the vaccine fridge log and its checks. " * 30)
    return folder


def on_a_terminal(args: list[str]) -> tuple[str, str]:
    """Run with stderr on a pseudo-terminal: (stdout, what the terminal showed)."""
    master, slave = pty.openpty()
    proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=slave)
    os.close(slave)
    shown = b""
    while True:
        ready, _, _ = select.select([master], [], [], 0.2)
        if ready:
            try:
                data = os.read(master, 65536)
            except OSError:  # the child closed the terminal
                break
            if not data:
                break
            shown += data
        elif proc.poll() is not None:
            break
    stdout = proc.stdout.read().decode() if proc.stdout else ""
    proc.wait(timeout=60)
    os.close(master)
    assert proc.returncode == 0, shown.decode(errors="replace")
    return stdout, shown.decode(errors="replace")


def test_progress_on_a_terminal_shows_files_chunks_rate_and_eta(tmp_path):
    folder = corpus(tmp_path)
    data = tmp_path / "data"
    stdout, shown = on_a_terminal([*DOCQA, "--data-dir", str(data), "--embedder", "hash", "ingest", str(folder)])
    assert "added 6" in stdout
    assert "files 6/6" in shown and "chunks" in shown and "chunks/s" in shown and "ETA" in shown
    (folder / "note0.txt").write_text("changed " * 50)
    stdout, shown = on_a_terminal(
        [*DOCQA, "--data-dir", str(data), "--embedder", "hash", "ingest", str(folder), "--json"]
    )
    assert '"updated": 1' in stdout and shown.strip() == ""  # --json: nothing but the JSON


def test_piped_ingest_prints_no_progress(tmp_path):
    folder = corpus(tmp_path)
    run = subprocess.run(
        [*DOCQA, "--data-dir", str(tmp_path / "data"), "--embedder", "hash", "ingest", str(folder)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 0 and "added 6" in run.stdout
    assert run.stderr == ""


@pytest.mark.model
@pytest.mark.parametrize("embedder", ["minilm", "minilm-int8"])
def test_no_model_loading_bar_when_piped(tmp_path, embedder):
    """transformers draws 'Loading weights' with tqdm on every load of the torch model; docqa silences it."""
    run = subprocess.run(
        [*DOCQA, "--data-dir", str(tmp_path / "data"), "--embedder", embedder, "ingest", str(corpus(tmp_path, 2))],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert run.returncode == 0, run.stderr
    assert run.stderr == "", run.stderr  # no "Loading weights", no loader warnings, no progress


@pytest.mark.model
def test_the_int8_query_path_imports_no_torch(tmp_path):
    """With the int8 model built (the first use builds and caches it), search and ask in a fresh process
    import neither torch nor transformers nor sentence-transformers nor onnx."""
    data = tmp_path / "data"
    subprocess.run(
        [*DOCQA, "--data-dir", str(data), "ingest", str(SAMPLES / "clinic-patient-intake.md")],
        check=True,
        capture_output=True,
        timeout=600,
    )  # no --embedder: a new collection, built with the default minilm-int8
    code = (
        "import sys\n"
        "from docqa.cli.main import main\n"
        f"data = {str(data)!r}\n"
        "assert main(['--data-dir', data, 'stats', '--json']) == 0\n"
        "assert main(['--data-dir', data, 'search', 'what must a patient bring']) == 0\n"
        "assert main(['--data-dir', data, 'ask', 'what must a patient bring?']) == 0\n"
        "heavy = sorted(m for m in ('torch', 'transformers', 'sentence_transformers', 'onnx') if m in sys.modules)\n"
        "assert 'onnxruntime' in sys.modules and not heavy, heavy\n"
    )
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-2000:]
    assert '"model": "minilm-int8"' in run.stdout
