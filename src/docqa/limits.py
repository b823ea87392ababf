"""Limits every face shares (library, CLI, HTTP), so one request means the same everywhere."""

from __future__ import annotations

MAX_SEARCH_K = 100  # results per search
MAX_ASK_K = 20  # chunks retrieved to answer one question
MAX_QUERY_CHARS = 10_000
MAX_QUESTION_CHARS = 2_000
MAX_SUGGEST = 100
MIN_SEQ_WAIT_S = 5.0  # read-your-writes: how long a read waits for its `min_seq` before a 503
