"""The app layer: the library API (`Docqa`), the runtime around it, and the one health model.

Every face — the CLI, the HTTP service, the web page, the integrations —
imports from here (and from config, errors, types, logging), never from the
engine, the database or FAISS.
"""

from docqa.app.health import READY_STATES, Health, HealthState
from docqa.app.jobs import JobQueue, QueueStats
from docqa.app.library import Docqa
from docqa.app.maintenance import reembed
from docqa.app.runtime import Runtime
from docqa.app.stats import Stats
from docqa.eval.qa_eval import DEFAULT_UNANSWERABLE, load_unanswerable
from docqa.eval.runner import DEFAULT_QUESTIONS, Question, format_table, load_questions, parse_modes
from docqa.ingest.batch import IngestSummary, Progress
from docqa.ingest.pipeline import IngestOutcome
from docqa.qa.types import Answer, Source
from docqa.storage.jobs import JobRecord

__all__ = [
    "DEFAULT_QUESTIONS",
    "DEFAULT_UNANSWERABLE",
    "READY_STATES",
    "Answer",
    "Docqa",
    "Health",
    "HealthState",
    "IngestOutcome",
    "IngestSummary",
    "JobQueue",
    "JobRecord",
    "Progress",
    "Question",
    "QueueStats",
    "Runtime",
    "Source",
    "Stats",
    "format_table",
    "load_questions",
    "load_unanswerable",
    "parse_modes",
    "reembed",
]
