"""Key phrases: the exact words a correct answer must contain, matched leniently on form (pure).

Both the phrase and the text are normalised the same way before a substring test:

- Unicode NFKC, then case-folded;
- markup removed: HTML tags (`<code>`, `</b>`), Markdown backticks and `**`;
- double quotes of every kind dropped (“replica identity” = "replica identity" = replica identity),
  curly apostrophes made straight;
- runs of whitespace collapsed, and whitespace next to punctuation removed, so the spacing a
  parser or an answer composer puts around symbols does not matter:
  `jsonb_set ( a , b )`, `jsonb_set(a, b)` and `jsonb_set(a,b)` are the same text.

Words stay words: `VACUUM FULL` never matches `VACUUMFULL`.
"""

from __future__ import annotations

import re
import unicodedata

_TAG = re.compile(r"</?[A-Za-z][A-Za-z0-9-]*(?:\s[^<>]*)?/?>")
_CHARS = str.maketrans({"“": None, "”": None, "„": None, '"': None, "‘": "'", "’": "'", "`": None})
_AROUND_PUNCT = re.compile(r"\s*([^\w\s])\s*")
_WORD = re.compile(r"\w+")


def normalize_phrase(text: str) -> str:
    text = unicodedata.normalize("NFKC", text)
    text = _TAG.sub(" ", text).replace("**", "").translate(_CHARS).casefold()
    return _AROUND_PUNCT.sub(r"\1", " ".join(text.split()))


def contains_phrase(text: str, phrase: str) -> bool:
    """Whether `text` holds `phrase` once both are normalised; an empty phrase is never contained."""
    wanted = normalize_phrase(phrase)
    return bool(wanted) and wanted in normalize_phrase(text)


def word_count(phrase: str) -> int:
    """Words as runs of letters, digits and underscores: `hostname:port:database` is 3, `-1 (the default)` 3."""
    return len(_WORD.findall(phrase))
