"""Ingest jobs: a pool of workers claiming jobs from the database (storage/jobs.py) and running them.

Between ingest and the app: the app hands the pool a runner (its ingest of one
job's bytes) and a way to reach the database; the pool knows nothing of the
library above it.
"""

from docqa.jobs.control import JobControl, JobInterrupted, JobOutcome
from docqa.jobs.worker import JobWorkers, WorkerConfig

__all__ = ["JobControl", "JobInterrupted", "JobOutcome", "JobWorkers", "WorkerConfig"]
