"""Whether the evidence answers the question at all: more than a score (pure, given the counts).

A composed answer is refused ("not found") when:

1. **floor**: the best evidence is below `QaConfig.min_score`;
2. **unknown name**: the question names something the collection never mentions: a word written as a
   name (capitalised inside the question, CamelCase, an acronym of four letters or more, joined by "_" or
   called with "()") that no chunk holds: "InnoDB", "Kubernetes", "gen_salt()"; or a lower-case
   hyphenated compound of two or more parts of four letters or more, the way packages and commands are
   named, one of which no chunk holds: "unattended-upgrades" (never "e-mail", "up-to-date", "follow-up":
   one long part, a spelling of a word). Plain words the collection
   lacks do not refuse: people ask in their own words ("fridge" for "refrigerator"), and so do short
   acronyms ("GP");
3. **unknown version**: a name with a version ("PostgreSQL 18") whose pair no chunk holds, while the
   name alone is known: the collection is about another version;
4. **answer type**: a "how many / how much" question whose answer holds no number, a "when will / when
   did ..." question whose answer holds no time, a "who ..." question whose answer names nobody.

Each check has a switch in `RefusalConfig`; the reason is reported to the caller (not to the user).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from docqa.qa.evidence import Evidence
from docqa.search.stopwords import STOP_WORDS

PhraseCount = Callable[[list[str]], int]  # chunks holding the words as a phrase

_WORD = re.compile(r"[^\W_]+(?:[_'-][^\W_]+)*(?:\(\))?", re.UNICODE)
_COMPOUND = re.compile(r"[a-z\d]+(?:-[a-z\d]+)+")  # a lower-case hyphenated name: unattended-upgrades, apt-get
MIN_COMPOUND_PART = 4  # shorter parts of a compound ("re-run", "e-mail", "on-call") are prefixes and particles
_VERSIONED = re.compile(r"\b([A-Z][\w+-]*[A-Za-z])\s+v?(\d+(?:\.\d+)*)\b")
_NUMBER_WORDS = (
    "one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|twenty|thirty|forty|fifty|hundred|"
    "thousand|million|billion|dozen|half|single|double|twice|once|none|zero|no more than|at most|at least"
)
_NUMBER = re.compile(rf"\d|\b(?:{_NUMBER_WORDS})\b", re.IGNORECASE)
_TIME = re.compile(
    r"\d|\b(?:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|sep(?:tember)?|"
    r"oct(?:ober)?|nov(?:ember)?|dec(?:ember)?|monday|tuesday|wednesday|thursday|friday|saturday|sunday|"
    r"today|tomorrow|tonight|yesterday|now|soon|later|daily|weekly|monthly|yearly|annually|hourly|nightly|"
    r"morning|afternoon|evening|night|noon|midnight|second|minute|hour|day|week|month|quarter|year|"
    r"seconds|minutes|hours|days|weeks|months|years|before|after|during|until|till|since|when|whenever|"
    r"every|each time|immediately|first|last|next|previous|earlier|beginning|end|start|time|date|schedule|"
    r"period|always|never|once|upon|following|prior|ago|release[ds]?)\b",
    re.IGNORECASE,
)
_AGENT = re.compile(
    r"\b(?:mr|mrs|ms|dr|prof|sir|team|staff|department|office|desk|committee|board|council|manager|director|"
    r"head|lead|leader|chair|president|founder|author|maintainer|owner|administrator|admin|superuser|"
    r"nurse|doctor|pharmacist|pharmacy|officer|clerk|secretary|coordinator|supervisor|engineer|developer|"
    r"person|people|someone|anyone|everyone|nobody|member|members|user|users|role|roles|customer|patient|"
    r"volunteer|contact|call|ring|phone|telephone|extension|email)\b",
    re.IGNORECASE,
)
_TIME_QUESTION = re.compile(
    r"^\s*(?:(?:and|so|but)\s+)?(?:when|what\s+(?:year|date|day|time))\s+"
    r"(?:will|would|was|were|is|are|did|does|do|has|have|had|should|must|can|could|may)\b",
    re.IGNORECASE,
)
_QUANTITY_QUESTION = re.compile(r"\bhow\s+(?:many|much)\b", re.IGNORECASE)
_WHO_QUESTION = re.compile(r"^\s*(?:who|whom|whose)\b", re.IGNORECASE)
_FULL_NAME = re.compile(r"(?<=[a-z,;] )[A-Z][a-z]+ [A-Z][a-z]+")  # "... ask Jane Smith", not a sentence start
_MARKER = re.compile(r"\s?\[\d+(?:,\s*\d+)*\]")
_NAME_INSIDE = re.compile(r"[a-z][A-Z]|[A-Z]{2}[a-z]|[A-Z]{4}|_|\(\)$")


@dataclass(frozen=True)
class RefusalConfig:
    """Which checks refuse an answer, beyond the evidence floor."""

    unknown_names: bool = True
    unknown_versions: bool = True
    answer_types: bool = True


def name_like_words(question: str) -> list[str]:
    """The question's words written as names: capitalised past the first word, CamelCase, acronyms,
    snake_case, or followed by "()"."""
    out = []
    for n, match in enumerate(_WORD.finditer(question)):
        word = match.group(0)
        bare = word.removesuffix("()")
        if bare.casefold() in STOP_WORDS or not any(c.isalpha() for c in bare):
            continue
        short_acronym = bare.isupper() and len(bare) < 4
        if _COMPOUND.fullmatch(bare) or (
            not short_acronym and (_NAME_INSIDE.search(word) or (n > 0 and bare[0].isupper()))
        ):
            out.append(bare)
    return out


def _parts(word: str) -> list[str]:
    """The words the full-text index holds a name as: "gen_salt" -> gen, salt; a hyphenated compound's
    parts of MIN_COMPOUND_PART letters or more (its short ones are prefixes and particles)."""
    parts = [p.casefold() for p in re.split(r"[_'-]", word) if p]
    if "-" in word:
        long_parts = [p for p in parts if len(p) >= MIN_COMPOUND_PART]
        return long_parts if len(long_parts) >= 2 else []  # "e-mail", "up-to-date", "follow-up": words
    return parts


def expected_type(question: str) -> str | None:
    """What kind of answer the question asks for: "quantity", "time", "agent", or None."""
    if _QUANTITY_QUESTION.search(question):
        return "quantity"
    if _TIME_QUESTION.search(question):
        return "time"
    if _WHO_QUESTION.search(question):
        return "agent"
    return None


def has_type(kind: str, text: str) -> bool:
    if kind == "quantity":
        return bool(_NUMBER.search(text))
    if kind == "time":
        return bool(_TIME.search(text))
    return bool(_AGENT.search(text) or _FULL_NAME.search(text))


def refusal_reason(
    evidence: Evidence,
    answer_text: str,
    floor: float,
    config: RefusalConfig,
    phrase_count: PhraseCount | None = None,
) -> str | None:
    """Why the composed answer does not answer the question, or None when it does."""
    best = evidence.best
    if best is None or best.score < floor:
        return "no passage above the relevance floor"
    question, known = evidence.question, evidence.frequencies
    if config.unknown_names:
        for word in name_like_words(question):
            parts = _parts(word)
            if any(known.get(p, 1) == 0 for p in parts):  # an identifier's parts are indexed as words
                return f"the collection never mentions {word}"
    if config.unknown_versions and phrase_count is not None:
        for name, version in _VERSIONED.findall(question):
            if phrase_count([name, version]) == 0 and phrase_count([name]) > 0:
                return f"the collection never mentions {name} {version}"
    if config.answer_types:
        kind = expected_type(question)
        if kind and not has_type(kind, _MARKER.sub("", answer_text)):
            return f"the passage holds no {kind} for a {kind} question"
    return None
