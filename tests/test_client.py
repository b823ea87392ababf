"""The same behaviour through the library (`Docqa`) and through the HTTP client (`Client` against a real
`docqa serve` process): writes, reads, search in every mode with filters, ask, ingest, errors. The library runs
on SQLite, the served one on PostgreSQL, so both databases are seen through both faces' results.

Each test tags its documents with its own id and filters on it, so the faces are opened once per module.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from docqa.app import Docqa
from docqa.client import Client, RetryPolicy
from docqa.config import Settings
from docqa.errors import DocqaError, Forbidden, InvalidInput, NotFound, ServiceDegraded, Unauthorized
from docqa.types import ChunkInput, SearchFilters
from tests.conftest import PG_ADMIN_DSN, _pg_dsn_for, database_for
from tests.test_serve_process import free_port, wait_healthy

ADMIN_KEY, READ_KEY = "admin-key-for-tests", "read-key-for-tests"
TOPICS = [
    "The fridge keeps food at four degrees; defrost it twice a year.",
    "Preheat the oven before baking bread; clean the racks monthly.",
    "Check the tyre pressure of the car every month.",
]


def serve(env_overrides: dict[str, str], tmp: Path) -> tuple[subprocess.Popen, str, Path]:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("DOCQA_")}
    env.update(
        {
            "DOCQA_EMBEDDER": "hash",
            "DOCQA_DATA_DIR": str(tmp / "data"),
            "DOCQA_POLL_INTERVAL_S": "0.05",
            "DOCQA_QA_MIN_SCORE": "0.2",
            **env_overrides,
        }
    )
    log = tmp / "server.log"
    with open(log, "w") as out:
        cmd = [sys.executable, "-m", "docqa.cli.main", "serve", "--host", "127.0.0.1", "--port", str(port)]
        proc = subprocess.Popen(cmd, env=env, stdout=out, stderr=subprocess.STDOUT)
    return proc, f"http://127.0.0.1:{port}", log


def stop(proc: subprocess.Popen) -> None:
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


@pytest.fixture(scope="module")
def served(tmp_path_factory, pg_server) -> Iterator[str]:
    tmp = tmp_path_factory.mktemp("served")
    url = database_for("postgres", tmp, pg_server)
    proc, base, log = serve(
        {"DOCQA_DATABASE_URL": url, "DOCQA_API_KEY": ADMIN_KEY, "DOCQA_READ_API_KEY": READ_KEY}, tmp
    )
    try:
        wait_healthy(base, proc)
    except AssertionError:
        stop(proc)
        raise AssertionError(log.read_text()[-3000:]) from None
    yield base
    stop(proc)


@pytest.fixture(scope="module")
def library(tmp_path_factory) -> Iterator[Docqa]:
    tmp = tmp_path_factory.mktemp("library")
    settings = Settings(data_dir=tmp, embedder="hash", snapshot_interval_s=0.0, qa_min_score=0.2)
    docqa = Docqa.open(settings)
    docqa.sync()
    workers = docqa.jobs.pool(1)  # what `docqa serve` runs beside the service, so jobs run for both faces
    workers.start()
    yield docqa
    workers.stop()
    docqa.close()


@pytest.fixture(params=["library", "client"])
def face(request):
    """The library, or the client of a served docqa: the tests below run against both."""
    if request.param == "library":
        yield request.getfixturevalue("library")
        return
    client = Client(request.getfixturevalue("served"), api_key=ADMIN_KEY)
    yield client
    client.close()


@pytest.fixture
def tag() -> str:
    return uuid.uuid4().hex[:12]


def chunks(*texts: str) -> list[ChunkInput]:
    """Chunks with their places in the document, as the HTTP route gives them (texts joined by one space)."""
    out, pos = [], 0
    for i, text in enumerate(texts):
        out.append(ChunkInput(text=text, ordinal=i, char_start=pos, char_end=pos + len(text)))
        pos += len(text) + 1
    return out


def mine(tag: str) -> SearchFilters:
    return SearchFilters(metadata={"tag": tag})


def test_add_search_and_read_your_write(face, tag):
    written = face.add_document(chunks(*TOPICS), document_id=f"home-{tag}", filename="home.txt", metadata={"tag": tag})
    assert (written.document_id, written.added, written.status) == (f"home-{tag}", 3, "indexed") and written.seq > 0
    hits = face.search(TOPICS[2], k=2, filters=mine(tag), min_seq=written.seq)
    assert [h.content for h in hits][:1] == [TOPICS[2]] and len(hits) == 2
    top = hits[0]
    assert (top.document_id, top.filename, top.chunk_index, top.metadata) == (
        f"home-{tag}",
        "home.txt",
        2,
        {"tag": tag},
    )
    assert top.content_type == "text/plain" and 0.99 <= top.score <= 1.0001
    again = face.add_document(chunks(*TOPICS), document_id=f"home-{tag}", filename="home.txt", metadata={"tag": tag})
    assert again.added == 0  # unchanged chunks keep their rows: nothing re-embedded


def test_every_search_mode_with_filters(face, tag):
    face.add_document(chunks(TOPICS[0]), document_id=f"k-{tag}", metadata={"tag": tag, "room": "kitchen"})
    face.add_document(chunks(TOPICS[2]), document_id=f"g-{tag}", metadata={"tag": tag, "room": "garage"})
    garage = SearchFilters(metadata={"tag": tag, "room": "garage"})
    for mode in ("vector", "keyword", "hybrid"):
        assert [h.document_id for h in face.search("tyre pressure", mode=mode, k=5, filters=garage)] == [f"g-{tag}"]
    both = face.search("defrost the fridge", mode="hybrid", k=5, filters=mine(tag), keyword_weight=2.0)
    assert both[0].document_id == f"k-{tag}"
    assert face.search("tyre", mode="keyword", k=5, filters=SearchFilters(metadata={"tag": tag, "room": "attic"})) == []
    by_id = SearchFilters(document_ids=(f"k-{tag}",))
    assert {h.document_id for h in face.search("anything at all", k=5, filters=by_id)} == {f"k-{tag}"}


def test_get_and_delete_document(face, tag):
    face.add_document(chunks("alpha", "beta"), document_id=f"d-{tag}", filename="d.txt", metadata={"tag": tag})
    record = face.get_document(f"d-{tag}")
    assert (record.id, record.status, record.chunks_total, record.filename) == (f"d-{tag}", "indexed", 2, "d.txt")
    deleted = face.delete_document(f"d-{tag}")
    assert (deleted.document_id, deleted.chunks_deleted, deleted.vectors_deleted) == (f"d-{tag}", 2, 2)
    assert face.search("alpha", k=5, filters=mine(tag)) == []
    with pytest.raises(NotFound):
        face.get_document(f"d-{tag}")
    with pytest.raises(NotFound):
        face.delete_document(f"d-{tag}")


def test_ask_cites_the_passage(face, tag):
    written = face.add_document(chunks(*TOPICS), document_id=f"qa-{tag}", filename="qa.txt", metadata={"tag": tag})
    answer = face.ask(
        "How often should I check the tyre pressure of the car?", document_ids=[f"qa-{tag}"], min_seq=written.seq
    )
    assert answer.found and "tyre pressure" in answer.answer
    assert {s.document_id for s in answer.sources} == {f"qa-{tag}"}
    assert any(s.chunk_index == 2 and s.text in TOPICS[2] for s in answer.sources)  # the passage is cited


def test_ingest_a_file_and_a_file_that_cannot_be_read(face, tag):
    text = f"# Bikes {tag}\n\nOil the chain every month.\n\n# Boats\n\nCheck the hull before sailing.\n".encode()
    outcome = face.ingest_bytes(text, f"care-{tag}.md", metadata={"tag": tag})
    assert outcome.status == "added" and outcome.chunks >= 1 and outcome.document_id
    assert face.ingest_bytes(text, f"care-{tag}.md", metadata={"tag": tag}).status == "unchanged"
    assert face.search("hull", mode="keyword", k=3, filters=mine(tag))[0].document_id == outcome.document_id
    broken = face.ingest_bytes(b"%PDF-1.7\n1 0 obj << /Type /Catalog", f"broken-{tag}.pdf")
    assert broken.status == "failed" and "PDF" in (broken.error or "") and broken.document_id
    assert face.get_document(broken.document_id).status == "failed"


def test_bad_input_is_the_same_error_class(face, tag):
    with pytest.raises(InvalidInput):
        face.search("x", k=0)
    with pytest.raises(InvalidInput):
        face.search("x", mode="nonsense")
    with pytest.raises(NotFound):
        face.ask("anything?", document_ids=[f"missing-{tag}"])


def test_list_count_and_the_context_of_a_passage(face, tag):
    face.add_document(chunks(*TOPICS), document_id=f"ctx-{tag}", filename="ctx.txt", metadata={"tag": tag})
    newest = face.list_documents(limit=1, newest_first=True)[0]
    assert (newest.id, newest.chunks_total, newest.metadata, newest.status) == (
        f"ctx-{tag}",
        3,
        {"tag": tag},
        "indexed",
    )
    assert face.count_documents() >= 1 and face.count_documents("indexed") <= face.count_documents()
    assert f"ctx-{tag}" not in {d.id for d in face.list_documents(status="failed")}
    hit = face.search(TOPICS[1], k=1, filters=SearchFilters(document_ids=(f"ctx-{tag}",)))[0]
    context = face.passage_context(hit.document_id, hit.chunk_id)
    assert context.text == " ".join(TOPICS) and context.highlighted == TOPICS[1] and context.contiguous
    assert [c.ordinal for c in context.chunks] == [0, 1, 2] and not context.more_after
    oven = TOPICS[1].index("oven")
    span = (hit.char_start + oven, hit.char_start + oven + 4)
    assert face.passage_context(hit.document_id, hit.chunk_id, before=0, after=0, span=span).highlighted == "oven"
    with pytest.raises(NotFound):
        face.passage_context(f"ctx-{tag}", 10**12)
    with pytest.raises(InvalidInput):
        face.passage_context(hit.document_id, hit.chunk_id, before=99)
    with pytest.raises(InvalidInput):
        face.list_documents(status="bogus")


def test_stats_and_suggest(face, tag):
    face.add_document(chunks(f"Zephyrine{tag} maintenance schedule"), document_id=f"s-{tag}", metadata={"tag": tag})
    stats = face.stats()
    assert stats.model == "hash-384" and stats.dim == 384 and stats.total_documents >= 1
    assert stats.total_vectors == stats.indexable_chunks and stats.collection == "default"
    assert isinstance(face.suggest("zeph"), list)


# --- the client only ---------------------------------------------------------------


def test_keys_are_sent_and_refusals_are_docqa_errors(served):
    with Client(served) as anonymous, pytest.raises(Unauthorized):
        anonymous.stats()
    with Client(served, api_key=READ_KEY) as reader:
        assert reader.stats().dim == 384
        with pytest.raises(Forbidden):
            reader.add_document(chunks("x"), document_id="never")
    with Client(served, api_key=ADMIN_KEY) as admin, pytest.raises(InvalidInput, match="query vector"):
        admin.search(object())  # type: ignore[arg-type]


def test_a_503_is_retried_with_backoff_until_the_service_recovers(tmp_path):
    """A served docqa whose database does not exist yet is degraded (503); it exists a moment later."""
    import psycopg

    name = f"docqa_retry_{uuid.uuid4().hex[:8]}"
    proc, base, log = serve({"DOCQA_DATABASE_URL": _pg_dsn_for(name), "DOCQA_STARTUP_SYNC_TIMEOUT_S": "2"}, tmp_path)
    try:
        with Client(base, retry=RetryPolicy(attempts=1)) as impatient:
            _wait_for_state(impatient, "degraded", proc, log)
            with pytest.raises(ServiceDegraded):
                impatient.search("anything")
        with psycopg.connect(PG_ADMIN_DSN, autocommit=True) as admin:
            admin.execute(f'CREATE DATABASE "{name}"')
        with Client(base, retry=RetryPolicy(attempts=40, backoff_s=0.1, max_backoff_s=0.5)) as patient:
            assert patient.search("anything") == []  # answered once the worker reconnected
            assert patient.health()["status"] == "healthy"
    finally:
        stop(proc)
        with psycopg.connect(PG_ADMIN_DSN, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def test_connection_refused_is_retried_then_a_clear_error():
    nobody = Client(f"http://127.0.0.1:{free_port()}", retry=RetryPolicy(attempts=2, backoff_s=0.01))
    with nobody, pytest.raises(ServiceDegraded, match="cannot reach"):
        nobody.stats()


def _wait_for_state(client: Client, state: str, proc: subprocess.Popen, log: Path) -> None:
    import time

    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if client.health()["status"] == state:
                return
        except DocqaError:
            pass
        except Exception:  # not listening yet
            pass
        if proc.poll() is not None:
            raise AssertionError(log.read_text()[-3000:])
        time.sleep(0.1)
    raise AssertionError(f"never {state}: {log.read_text()[-3000:]}")


def test_jobs_submit_follow_list_and_cancel(face, tag):
    """The library's Docqa.jobs and the client's jobs: the same methods, the same JobRecord, the same errors."""
    from docqa.errors import Conflict

    text = f"# Sails {tag}\n\nRinse the sails in fresh water after every trip.\n".encode()
    job = face.jobs.submit(text, f"job-{tag}.md", metadata={"tag": tag})
    assert job.status in ("queued", "running", "done") and job.filename == f"job-{tag}.md"
    done = face.jobs.wait(job.id, 60)
    assert (done.status, done.chunks_total, done.error) == ("done", done.chunks_done, None), done
    assert done.result_document_id and done.result and done.result["status"] == "added"
    assert face.get_document(done.result_document_id).status == "indexed"
    assert job.id in [j.id for j in face.jobs.list_jobs(status="done", limit=100)]
    with pytest.raises(Conflict):  # a finished job cannot be cancelled
        face.jobs.cancel(job.id)
    with pytest.raises(NotFound):
        face.jobs.get(str(uuid.uuid4()))
    with pytest.raises(InvalidInput):
        face.jobs.list_jobs(status="sleeping")


def test_an_upload_the_service_queues_is_followed_to_its_outcome(tmp_path):
    """`upload_wait_s` 0: the upload answers 202 with its job; Client.ingest_bytes follows it and returns the
    outcome, as the library's ingest_bytes would (and a file that cannot be read is `failed` either way)."""
    proc, base, log = serve({"DOCQA_UPLOAD_WAIT_S": "0"}, tmp_path)
    try:
        wait_healthy(base, proc)
        with Client(base) as client:
            outcome = client.ingest_bytes(b"# Kites\n\nFly kites away from power lines.\n", "kites.md")
            assert outcome.status == "added" and outcome.chunks == 1 and outcome.document_id
            assert client.search("power lines", mode="keyword", k=1)[0].document_id == outcome.document_id
            broken = client.ingest_bytes(b"%PDF-1.7\n1 0 obj << /Type /Catalog", "broken.pdf")
            assert broken.status == "failed" and "PDF" in (broken.error or ""), broken
    except AssertionError as exc:
        raise AssertionError(f"{exc}\n{log.read_text()[-3000:]}") from None
    finally:
        stop(proc)
