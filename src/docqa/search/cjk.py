"""Keyword search for Chinese, Japanese and Korean text, which has no spaces between words.

Full-text tokenizers (SQLite FTS5 unicode61, PostgreSQL's parsers) cut text at
spaces and punctuation, so a CJK sentence is one long token and a two-character
word such as 東京 inside it is never found; trigram tokenizers need three
characters. Instead, CJK runs of a query are cut into overlapping character
bigrams (a lone character stays itself) and matched as substrings of the
chunk text, ranked by how often they occur. That is a scan of the
collection's text, done only for queries that contain CJK characters.
"""

from __future__ import annotations

import re

# Hiragana, Katakana (+ phonetic extensions), CJK unified ideographs (+ extension A), compatibility
# ideographs, Hangul syllables.
CJK_RUN = re.compile(r"[\u3040-\u30ff\u31f0-\u31ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uac00-\ud7af]+")
MAX_GRAMS = 16


def split_cjk(text: str) -> tuple[str, list[str]]:
    """(the text with its CJK runs blanked, the distinct bigrams of those runs in order)."""
    grams: list[str] = []
    for run in CJK_RUN.findall(text):
        grams.extend([run] if len(run) == 1 else [run[i : i + 2] for i in range(len(run) - 1)])
    return CJK_RUN.sub(" ", text), list(dict.fromkeys(grams))[:MAX_GRAMS]
