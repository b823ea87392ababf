"""The CLI as a user runs it: sync / stats / search / ingest / documents / delete, with --json."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from docqa.cli.main import main
from tests.helpers import RawSQL

SAMPLES = Path(__file__).resolve().parent.parent / "samples"


@pytest.fixture
def cli(db_url, tmp_path, capsys):
    def run(*args: str) -> tuple[int, str, str]:
        code = main(["--db", db_url, "--data-dir", str(tmp_path / "data"), "--embedder", "hash", *args])
        out, err = capsys.readouterr()
        return code, out, err

    return run


def test_ingest_search_stats_sync_roundtrip(cli):
    code, out, _ = cli("ingest", str(SAMPLES), "--recursive", "--json")
    summary = json.loads(out)
    assert code == 0 and summary["added"] >= 10 and summary["failed"] == 0

    code, out, _ = cli("sync", "--json")
    report = json.loads(out)
    assert code == 0 and report["status"] in ("rebuilt", "in_sync", "caught_up")
    for key in (
        "status",
        "sync_performed",
        "db_count",
        "index_count",
        "applied_seq",
        "added",
        "removed",
        "repaired",
        "duration_ms",
        "reason",
    ):
        assert key in report

    code, out, _ = cli("sync", "--check", "--json")
    assert code == 0 and json.loads(out)["status"] == "in_sync"

    code, out, _ = cli("stats", "--json")
    stats = json.loads(out)
    for key in ("total_vectors", "total_chunks", "total_documents", "model", "dim", "index_type", "applied_seq"):
        assert key in stats
    assert stats["total_vectors"] == stats["total_chunks"] > 0 and stats["model"] == "hash-384"

    code, out, _ = cli("search", "espresso grind size", "-k", "3", "--json")
    data = json.loads(out)
    assert code == 0 and len(data["results"]) == 3
    for key in ("chunk_id", "document_id", "score", "content", "filename", "chunk_index", "metadata"):
        assert key in data["results"][0]

    # idempotent re-ingest
    code, out, _ = cli("ingest", str(SAMPLES), "--recursive", "--json")
    again = json.loads(out)
    assert again["unchanged"] == summary["added"] and again["chunks_embedded"] == 0


def test_check_exits_non_zero_on_drift_and_changes_nothing(cli, db_url):
    cli("ingest", str(SAMPLES / "recipe-collection.txt"))
    assert cli("sync")[0] == 0
    raw = RawSQL(db_url)
    cid = raw.scalar("SELECT min(id) FROM chunks")
    import numpy as np

    raw.update_embedding_silently(cid, np.ones(384, dtype=np.float32) / np.sqrt(384))
    raw.close()
    code, out, _ = cli("sync", "--check", "--json")
    assert code == 1 and json.loads(out)["status"] == "repaired" and json.loads(out)["sync_performed"] is False
    code, out, _ = cli("sync", "--check")  # still drifted: check repaired nothing
    assert code == 1 and "would repair" in out
    code, out, _ = cli("sync", "--json")
    assert code == 0 and json.loads(out)["status"] == "repaired"
    assert cli("sync", "--check")[0] == 0


def test_documents_and_delete(cli):
    cli("ingest", str(SAMPLES / "recipe-collection.txt"), str(SAMPLES / "history-of-millbrook.txt"))
    code, out, _ = cli("documents", "--json")
    docs = json.loads(out)
    assert code == 0 and len(docs) == 2
    assert all("document_id" in d and "id" not in d for d in docs)  # the name every face uses
    code, out, _ = cli("delete", docs[0]["document_id"], "--json")
    deleted = json.loads(out)
    assert code == 0 and deleted["status"] == "deleted" and deleted["document_id"] == docs[0]["document_id"]
    assert deleted["chunks_deleted"] == deleted["vectors_deleted"] == docs[0]["chunks_total"] and deleted["seq"] > 0
    code, out, _ = cli("stats", "--json")
    assert json.loads(out)["total_documents"] == 1
    code, _, err = cli("delete", docs[0]["document_id"])
    assert code != 0 and "not found" in err


def test_bad_input_is_a_message_not_a_traceback(cli, tmp_path):
    code, _, err = cli("ingest", str(tmp_path / "missing-folder"))
    assert code != 0 and "no such file" in err and "Traceback" not in err
    broken = tmp_path / "broken.pdf"
    broken.write_bytes(b"%PDF-1.7\n garbage garbage")
    code, out, err = cli("ingest", str(broken), "--json")
    assert code == 1 and "Traceback" not in err
    assert json.loads(out)["failures"][0]["error"]
    code, _, err = cli("search", "   ")
    assert code != 0 and "empty" in err
    code, _, err = cli("sync", "--force", "--check")
    assert code != 0 and "cannot be combined" in err


def test_unreachable_database_is_a_clear_error(tmp_path, capsys):
    code = main(
        ["--db", "postgresql://postgres@127.0.0.1:1/nope", "--data-dir", str(tmp_path), "--embedder", "hash", "stats"]
    )
    _, err = capsys.readouterr()
    assert code != 0 and "cannot connect" in err and "Traceback" not in err


def test_console_script_runs(tmp_path):
    env = {**os.environ, "DOCQA_DATA_DIR": str(tmp_path / "d"), "DOCQA_EMBEDDER": "hash"}
    exe = Path(sys.executable).parent / "docqa"
    done = subprocess.run([str(exe), "sync", "--json"], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["status"] in ("rebuilt", "in_sync")


def test_sync_deep_and_its_misuse(cli):
    code, out, _ = cli("ingest", str(SAMPLES / "recipe-collection.txt"), "--json")
    assert code == 0 and cli("sync")[0] == 0  # builds and saves the index
    code, out, _ = cli("sync", "--deep", "--json")
    assert code == 0 and json.loads(out)["status"] == "in_sync"
    code, out, err = cli("sync", "--deep", "--force")
    assert code != 0 and "--deep" in (out + err)


def test_limits_and_read_your_writes_mean_what_they_mean_over_http(cli):
    """One behaviour per concept: the CLI refuses what the HTTP API refuses, with the same rule."""
    cli("ingest", str(SAMPLES / "recipe-collection.txt"))
    code, _, err = cli("search", "rice", "-k", "101")
    assert code != 0 and "1<=x<=100" in err
    code, _, err = cli("ask", "rice?", "-k", "21")
    assert code != 0 and "1<=x<=20" in err
    code, out, _ = cli("search", "rice", "-k", "100", "--json")
    assert code == 0 and json.loads(out)["results"]
    for command in (("search", "rice"), ("ask", "how long does rice cook?")):
        code, _, err = cli(*command, "--min-seq", "999999")
        assert code == 2 and "min_seq 999999 is ahead of the change log" in err


def test_check_after_plain_sql_changes_says_what_a_sync_would_do_and_exits_1(cli, db_url, tmp_path):
    cli("ingest", str(SAMPLES / "recipe-collection.txt"), str(SAMPLES / "history-of-millbrook.txt"))
    assert cli("sync", "--check")[0] == 0  # ingest left the index provably in sync on disk
    snapshot = sorted((p.relative_to(tmp_path), p.stat().st_mtime_ns) for p in (tmp_path / "data").rglob("*"))
    raw = RawSQL(db_url)
    raw.delete_chunk(raw.scalar("SELECT min(id) FROM chunks"))
    raw.close()
    code, out, _ = cli("sync", "--check")
    assert code == 1 and out.startswith("caught_up") and "would catch up 1 change" in out, out
    after = sorted((p.relative_to(tmp_path), p.stat().st_mtime_ns) for p in (tmp_path / "data").rglob("*"))
    data_files = [p for p in after if "docqa.db" not in str(p[0])]
    assert data_files == [p for p in snapshot if "docqa.db" not in str(p[0])]  # no snapshot file touched
    assert cli("sync")[0] == 0 and cli("sync", "--check")[0] == 0


def test_sync_on_a_full_disk_says_so_in_one_line_and_fails(cli, monkeypatch):
    """The snapshot is what `docqa sync` leaves behind: one that cannot be written is a clear error (exit 2),
    not FAISS's RuntimeError, a traceback, or a success that saved nothing."""
    import faiss

    code, _, _ = cli("ingest", str(SAMPLES / "medication-storage-policy.pdf"))
    assert code == 0

    def disk_full(*args, **kwargs):  # type: ignore[no-untyped-def]
        raise RuntimeError("Error in void faiss::write_index: write error in x: 1 != 2 (No space left on device)")

    monkeypatch.setattr(faiss, "write_index", disk_full)
    code, _, err = cli("sync", "--force")
    assert code == 2, err
    assert "error: cannot save the index snapshot in" in err and "No space left on device" in err, err
    assert "Traceback" not in err
    monkeypatch.undo()
    code, out, _ = cli("sync", "--check")
    assert code == 0, out  # the old snapshot is still whole and still proves the database
