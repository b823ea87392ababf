"""The library API: one method per use case, the one surface every face calls.

    docqa = Docqa.open(Settings(data_dir=Path("./data"), embedder="hash"))
    docqa.sync()                                     # prove or repair the index
    summary = docqa.ingest_paths([Path("docs")])     # files in, index caught up and saved
    hits = docqa.search("question", mode="hybrid", k=5)
    answer = docqa.ask("What do I do if the fridge is too warm?")
    docqa.delete_document(hits[0].document_id)
    docqa.close()

The CLI, the HTTP service and the integrations are thin over this class; the
service lifecycle around it (startup sync, worker, health) is `Runtime`'s.
Below this layer nothing knows it exists: search, QA and ingest receive a
`Corpus` (database, index reader, embedder) or a `DocumentWriter`.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from docqa.app import freshness
from docqa.app.batch import DocumentInput, StoredDocument, read_documents, write_documents
from docqa.app.databases import Databases
from docqa.app.file_ingest import FileIngest, IngestSlots
from docqa.app.jobs import JobQueue
from docqa.app.stats import IndexState, Stats, collect_stats, index_state
from docqa.app.wiring import engine_config, hybrid_params, ingest_context, qa_config
from docqa.config import Settings
from docqa.embedders import Embedder, embedder_for_collection
from docqa.errors import DatabaseUnavailable
from docqa.eval.qa_eval import Unanswerable, evaluate_qa
from docqa.eval.runner import EvalTarget, Question, evaluate
from docqa.index.threads import use_search_threads
from docqa.ingest.batch import IngestSummary, Progress, ingest_paths
from docqa.ingest.identity import document_identity
from docqa.ingest.parsers import DEFAULT_MAX_BYTES
from docqa.ingest.pipeline import IngestContext
from docqa.ingest.writer import DocumentWriter
from docqa.limits import MIN_SEQ_WAIT_S, check_status
from docqa.qa.answer import ask as answer_question
from docqa.qa.types import Answer
from docqa.search import dispatch
from docqa.search.context import passage_context
from docqa.search.corpus import Corpus, HybridParams
from docqa.storage import repo, staging
from docqa.storage.db import Database
from docqa.sync.engine import SyncEngine
from docqa.types import (
    ChunkInput,
    DeleteResult,
    DocumentRecord,
    PassageContext,
    SearchFilters,
    SearchHit,
    SyncReport,
    WriteResult,
)

WRITE_FAILURE_TTL_S = 60.0
STALE_STAGING_S = 3600.0  # a staged document not written for this long was left by a killed ingest


class Docqa(FileIngest):
    """The library; one-document ingest (`ingest_bytes`, `ingest_file`) is in app/file_ingest.py."""

    def __init__(self, settings: Settings, db: Database, embedder: Embedder, read_db: Database | None = None) -> None:
        self.settings = settings
        self.db = db  # the primary: writes
        self.read_db = read_db or db  # what the index follows and searches read (a hot standby, or db itself)
        self.databases = Databases(db, self.read_db)
        self.embedder = embedder
        self.engine = SyncEngine(self.read_db, engine_config(settings, embedder))
        self.writer = DocumentWriter(db, embedder, settings.collection, settings.embed_batch_size)
        self._write_failure = ("", 0.0)  # (why the last write failed, when): health's writes_failing
        self.primary_failure = ""  # with a standby: why the primary cannot take writes (docqa.app.primary_probe)
        self._failure_lock = threading.Lock()
        self.ingest_slots = IngestSlots(settings.max_concurrent_ingests)

    @classmethod
    def open(cls, settings: Settings, embedder: Embedder | None = None, db: Database | None = None) -> Docqa:
        """Connect, migrate, bind the collection to its embedder. Does not sync: call `sync()`.

        Without an explicit choice (`embedder`, or `settings.embedder`), an existing collection opens
        with the embedder it was built with (recorded with it) and a new one with
        `settings.default_embedder`. An explicit choice the collection was not built with raises
        EmbedderMismatch naming the `docqa reembed --to NAME` that switches it.
        """
        owned = db is None
        dbs = Databases.for_settings(settings, db)
        try:
            bound, primary_up = dbs.open(settings.collection)
            embedder = embedder_for_collection(settings, bound, embedder)
            if bound is not None and primary_up:
                with dbs.primary.connection() as conn, conn.transaction():
                    repo.ensure_collection(conn, settings.collection, embedder.model_id, embedder.dim)
                    staging.drop_stale(conn, settings.collection, STALE_STAGING_S)  # left by a killed ingest
        except BaseException:
            if owned:
                dbs.close()
            elif dbs.split:
                dbs.read.close()
            raise
        return cls(settings, dbs.primary, embedder, dbs.read)

    # --- what the collection is ------------------------------------------------
    @property
    def collection(self) -> str:
        return self.settings.collection

    @property
    def model(self) -> str:
        return self.embedder.model_id

    @property
    def dim(self) -> int:
        return self.embedder.dim

    @property
    def corpus(self) -> Corpus:
        return Corpus(db=self.read_db, index=self.engine, embedder=self.embedder, collection=self.collection)

    @cached_property
    def jobs(self) -> JobQueue:  # ingest jobs of this collection: submit, follow, cancel (docqa.app.jobs)
        return JobQueue(self)

    # --- the index -------------------------------------------------------------
    def sync(self, mode: str = "auto", deep: bool = False) -> SyncReport:
        """Prove the index equals the database, or repair it (auto), or only say so (check), or rebuild (force)."""
        return self.engine.sync(mode, deep=deep)

    def save(self) -> None:
        """Write the index snapshot now (it is otherwise saved at most every `snapshot_interval_s` and on close)."""
        self.engine.save()

    def wait_applied(self, min_seq: int | None, timeout_s: float = MIN_SEQ_WAIT_S) -> None:
        """Read-your-writes: return once the index has applied change `min_seq`.

        None or 0 asks for nothing. A seq the database has never issued is a client error
        (InvalidInput, 422), not a wait; a timeout is ServiceDegraded (503), never a stale answer.
        """
        freshness.wait_applied(self.databases, self.engine, min_seq, timeout_s)

    # --- writes ----------------------------------------------------------------
    @contextmanager
    def writing(self) -> Iterator[None]:
        """Remember whether writes fail (a full disk, a database gone read-only) for the health model: every
        write of this library goes through it (documents, deletes, job submissions)."""
        try:
            yield
        except DatabaseUnavailable as exc:
            with self._failure_lock:
                self._write_failure = (exc.message, time.monotonic())
            raise
        with self._failure_lock:
            self._write_failure = ("", 0.0)

    @property
    def write_failure(self) -> str:
        """Why writes fail: the last write's error, until one succeeds or WRITE_FAILURE_TTL_S passes
        (a replica that only serves reads would otherwise report an outage long over); with a standby,
        also a primary that its probe cannot reach."""
        with self._failure_lock:
            reason, at = self._write_failure
        failing = reason if reason and time.monotonic() - at < WRITE_FAILURE_TTL_S else ""
        return failing or self.primary_failure

    def _ingest_context(self) -> IngestContext:
        return ingest_context(self.settings, self.writer)

    def add_document(
        self,
        chunks: Sequence[ChunkInput],
        *,
        document_id: str | None = None,
        filename: str = "",
        source: str = "",
        content_type: str = "text/plain",
        content_hash: str = "",
        metadata: dict[str, Any] | None = None,
        sync: bool = True,
    ) -> WriteResult:
        """Store a document made of ready chunks (replacing its previous chunks); only new content is embedded.

        The returned `seq` can be passed as `min_seq`."""
        with self.writing():
            result = self.writer.write(
                chunks,
                identity=document_identity(document_id=document_id, source=source),
                document_id=document_id,
                filename=filename,
                source=source,
                content_type=content_type,
                content_hash=content_hash,
                metadata=metadata,
            )
        if sync:
            self.engine.sync("catch_up")
        return result

    def add_documents(self, documents: Sequence[DocumentInput], *, sync: bool = True) -> list[WriteResult]:
        """Store many documents of ready chunks: their new chunks embedded together, then the index caught up once."""
        return write_documents(self.writer, documents, self.writing, self.engine if sync else None)

    def ingest_paths(
        self,
        paths: Iterable[Path],
        *,
        recursive: bool = False,
        pattern: str | None = None,
        exclude: Iterable[str] = (),
        prune: bool = False,
        metadata: dict[str, Any] | None = None,
        on_progress: Callable[[Progress], None] | None = None,
        max_bytes: int = DEFAULT_MAX_BYTES,
    ) -> IngestSummary:
        """Add or update documents from files and folders, then bring the index up to date and save it.

        Each document commits on its own: an interrupted run keeps what it wrote and the next run resumes."""
        with self.writing():
            summary = ingest_paths(
                self._ingest_context(),
                paths,
                recursive=recursive,
                pattern=pattern,
                exclude=exclude,
                prune=prune,
                metadata=metadata,
                on_progress=on_progress,
                max_bytes=max_bytes,
            )
        summary.sync = self.engine.sync("auto").to_dict()
        # leave the index provably in sync on disk (`sync --check` passes right after `docqa ingest`); a library
        # shared with a running service leaves the save to its worker
        self.engine.save_soon()
        return summary

    def delete_document(self, document_id: str, sync: bool = True) -> DeleteResult:
        """Delete a document and its chunks; its vectors leave the index."""
        with self.writing():
            doc, chunks, seq = self.writer.delete(document_id)
        if sync:
            self.engine.sync("catch_up")
        vectors = chunks if doc.status == "indexed" else 0
        return DeleteResult(document_id=document_id, chunks_deleted=chunks, vectors_deleted=vectors, seq=seq)

    # --- reads -----------------------------------------------------------------
    def get_document(self, document_id: str) -> DocumentRecord:
        """The document (NotFound when it is not in this collection)."""
        return self.writer.get_document(document_id)

    def get_documents(self, ids: Sequence[str] | SearchFilters, *, vectors: bool = False) -> list[StoredDocument]:
        """Documents by id (in that order, missing ones left out) or by filters, with chunks (`vectors`: embeddings)."""
        return read_documents(self.db, self.collection, ids, vectors)

    def find_by_source(self, source: str) -> DocumentRecord | None:
        return self.writer.find_document(identity=document_identity(source=source))

    def list_documents(
        self, limit: int = 1000, offset: int = 0, status: str | None = None, newest_first: bool = False
    ) -> list[DocumentRecord]:
        """A page of documents, oldest first (or newest first), of one status when given."""
        with self.db.connection() as conn:
            return repo.list_documents(conn, self.collection, limit, offset, check_status(status), newest_first)

    def count_documents(self, status: str | None = None) -> int:
        with self.db.connection() as conn:
            return repo.count_documents(conn, self.collection, check_status(status))

    def passage_context(
        self, document_id: str, chunk_id: int, *, before: int = 1, after: int = 1, span: tuple[int, int] | None = None
    ) -> PassageContext:
        """A cited chunk with `before` / `after` neighbours and the span to highlight (a Source's char_start,
        char_end; by default the chunk): what a reader opens from an answer's [n]."""
        return passage_context(self.db, self.collection, document_id, chunk_id, before, after, span)

    def search(
        self,
        query: str | npt.NDArray[np.float32],
        *,
        mode: str = "vector",
        k: int = 10,
        filters: SearchFilters | None = None,
        min_score: float | None = None,
        min_seq: int | None = None,
        vector_weight: float | None = None,
        keyword_weight: float | None = None,
        rrf_k: int | None = None,
    ) -> list[SearchHit]:
        """Search in one mode: vector (text or a query vector), keyword or hybrid.

        hybrid: `vector_weight`, `keyword_weight` and `rrf_k` override the settings for this query."""
        dispatch.validate(query, mode, k)
        self.wait_applied(min_seq)
        use_search_threads(self.settings.search_threads)
        return dispatch.search(
            self.corpus, query, mode, k, filters, min_score, self._hybrid(vector_weight, keyword_weight, rrf_k)
        )

    def suggest(self, q: str, limit: int = 10) -> list[str]:
        """Completions of a partial query, taken from the corpus (headings and frequent phrases)."""
        return dispatch.suggest(self.corpus, q, limit)

    def ask(self, question: str, *, document_ids: Sequence[str] = (), k: int = 5, min_seq: int | None = None) -> Answer:
        """An answer with the passages it cites, or a plain "not found"."""
        self.wait_applied(min_seq)
        use_search_threads(self.settings.search_threads)
        return answer_question(self.corpus, question, document_ids, k, qa_config(self.settings))

    def stats(self) -> Stats:
        """Counts from the database and the index, the model, and the sync position."""
        return collect_stats(self.read_db, self.engine, self.collection, self.model, self.dim)

    def index_state(self) -> IndexState:
        """The in-memory index as it stands; needs no database."""
        return index_state(self.engine)

    def describe_database(self) -> str:
        if self.databases.split:
            return f"{self.db.describe()} (reads: {self.read_db.describe()})"
        return self.db.describe()

    # --- evaluation ----------------------------------------------------------------
    def evaluate(
        self,
        questions: Sequence[Question],
        modes: Sequence[str],
        k: int = 10,
        progress: Callable[[int], None] | None = None,
    ) -> dict[str, Any]:
        """Retrieval quality per search mode on labelled questions."""
        return evaluate(self._eval_target(), questions, modes, k, progress)

    def evaluate_answers(
        self,
        questions: Sequence[Question],
        unanswerable: Sequence[Unanswerable | str],
        progress: Callable[[int], None] | None = None,
    ) -> dict[str, Any]:
        """Answer quality on labelled questions (key phrase, length, citation, false refusals; per split),
        and refusals on questions the corpus cannot answer; with one row per question."""
        return evaluate_qa(self._eval_target(), questions, unanswerable, progress)

    def _eval_target(self) -> EvalTarget:
        return EvalTarget(
            corpus=self.corpus,
            model=self.model,
            search=lambda query, mode, k: self.search(query, mode=mode, k=k),
            ask=lambda question: self.ask(question),
            qa_floor=self.settings.qa_min_score,
        )

    def _hybrid(
        self, vector: float | None = None, keyword: float | None = None, rrf_k: int | None = None
    ) -> HybridParams:
        return hybrid_params(self.settings, vector, keyword, rrf_k)

    def close(self) -> None:
        """Save the index snapshot (when it changed) and release the database."""
        self.engine.close()
        self.databases.close()
