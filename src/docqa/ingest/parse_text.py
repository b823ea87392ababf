"""Text decoding and the plain-text parser.

The extracted text of a text file is the decoded file itself (newlines
normalized to `\\n`, BOM removed), so chunk offsets point at the source.
"""

from __future__ import annotations

import codecs
import re
from collections import Counter
from pathlib import PurePath

from docqa.errors import ParseError
from docqa.ingest.document import CT_TEXT, ParsedDocument, Section
from docqa.ingest.limits import DEFAULT_LIMITS, ParseLimits, check_text_length

BOMS = (  # byte-order marks, longest first (UTF-32 LE starts like UTF-16 LE)
    (codecs.BOM_UTF32_LE, "utf-32-le"),
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)

FALLBACK_ENCODINGS = ("utf-8", "cp1252", "latin-1")  # without a BOM, the first that decodes; latin-1 always does
BLOCK_SPLIT = re.compile(r"\n[^\S\n]*\n")  # a blank line: nothing but whitespace (no-break spaces too)
_UNDERLINE = re.compile(r"^\s*(=+|-+)\s*$")
LIST_ITEM = re.compile(r"^\s*([-*+\u2022\u2013]|\d{1,3}[.)]|[a-z][.)])\s+")
_TERMINAL_PUNCT = tuple(".,;:!?")
# numbered headings of plain-text manuals and FAQs: "Chapter 3. Choosing", "Section 2", "1.3. What is ...?"
# (two or more levels of at most three digits, then a capital or a digit: not "1.5 cups", "192.168.1.1 is")
_CHAPTER = re.compile(r"^(?:chapter|section|part|appendix)\s+[\dIVXLC]+\b\.?\s*", re.IGNORECASE)
_SECTION_NUMBER = re.compile(r"^(\d{1,3}(?:\.\d{1,3})+)(?:\.\s+|\s+(?=[A-Z\d]))")  # "8.1.1. dpkg", "2.4 Setup"
_QUESTION_MARK = re.compile(r"^(?:Q\s*\d*\s*[:.)]\s*)?\S.*\?[!\"'\u201d\u2019)]*$", re.DOTALL)
_SENTENCE_INSIDE = re.compile(r"[.!]\s+[A-Z]")  # a title or a question is one sentence
_CODE_CHARS = re.compile(r"[=*{}<>|$\\]")  # not ";": prose asks with it
_QUOTED = re.compile(r"^[\"'\u201c\u2018]")
WRAPPED_HEADING_CHARS = 50  # a heading's line continues on the next only when it is at least this long
MAX_HEADING_CHARS = 200  # a heading block (wrapped over up to three lines) is at most this long


def decode_text(data: bytes, filename: str) -> str:
    """Decode bytes to text: BOM if present, else UTF-8, else cp1252, else latin-1."""
    text: str | None = None
    for bom, encoding in BOMS:
        if data.startswith(bom):
            try:
                text = data[len(bom) :].decode(encoding)
            except UnicodeDecodeError as exc:
                raise ParseError(
                    f"{filename}: invalid {encoding} text after its byte-order mark ({exc.reason})", filename=filename
                ) from exc
            break
    if text is None:
        for encoding in FALLBACK_ENCODINGS:
            try:
                text = data.decode(encoding)
                break
            except UnicodeDecodeError:
                continue
    assert text is not None  # latin-1 decodes any byte string
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\x00", "")
    if not text.strip():
        raise ParseError(f"{filename}: file is empty (no text to extract)", filename=filename)
    return text


def iter_blocks(text: str, base: int = 0) -> list[tuple[int, int]]:
    """(start, end) of the non-blank blocks separated by blank lines, trimmed of whitespace."""
    blocks: list[tuple[int, int]] = []
    position = 0
    for match in [*BLOCK_SPLIT.finditer(text), None]:
        stop = match.start() if match else len(text)
        segment = text[position:stop]
        stripped = segment.strip()
        if stripped:
            lead = len(segment) - len(segment.lstrip())
            blocks.append((base + position + lead, base + position + lead + len(stripped)))
        if match:
            position = match.end()
    return blocks


def _is_caps_heading(line: str) -> bool:
    letters = [c for c in line if c.isalpha()]
    return (
        len(line) <= 80
        and len(letters) >= 3
        and all(c.isupper() for c in letters)
        and not line.rstrip().endswith(_TERMINAL_PUNCT[:3])
    )


def _numbered_or_question_heading(block: str, lines: list[str]) -> tuple[str, int]:
    """(kind, level) of a block that is a heading by its form (("", 0) if it is not): a numbered title
    ("Chapter 3. Choosing a distribution", "1.3. What is Linux?") or, on its own, a question ("How do I reset
    my password?", "Q: Can I ...?"), which is how FAQs head their answers. Only at the left margin, at most
    three lines each wrapped (long) but the last, one sentence (a numbered question may have more), never
    a line of code or a quote. Kinds:
    "numbered", "question" (`plain_sections` keeps them only where a document holds several)."""
    flat = " ".join(block.split())
    wrapped = all(len(line.strip()) >= WRAPPED_HEADING_CHARS for line in lines[:-1])
    if len(lines) > 3 or len(flat) > MAX_HEADING_CHARS or not wrapped or block[:1].isspace():
        return "", 0
    if any(line[:1].isspace() or LIST_ITEM.match(line) for line in lines[1:]) or _CODE_CHARS.search(flat):
        return "", 0
    chapter = _CHAPTER.match(flat)
    number = _SECTION_NUMBER.match(flat)
    head = chapter or number
    rest = flat[head.end() :] if head else flat
    numbered_question = bool(head) and rest.endswith("?")
    if rest.endswith(".") or (_SENTENCE_INSIDE.search(rest) and not numbered_question):
        return "", 0  # a sentence, or several; an FAQ's numbered question may set its scene first
    if chapter:
        return "numbered", 1
    if number:
        return "numbered", min(6, number.group(1).count(".") + 1)
    if _QUESTION_MARK.match(flat) and not LIST_ITEM.match(lines[0]) and not _QUOTED.match(flat):
        return "question", 6
    return "", 0


def _plain_block_sections(text: str, start: int, end: int) -> list[Section]:
    block = text[start:end]
    lines = block.split("\n")
    if len(lines) >= 2 and _UNDERLINE.match(lines[1]) and len(lines[0].strip()) <= 120:
        level = 1 if lines[1].strip().startswith("=") else 2
        head_end = start + len(lines[0]) + 1 + len(lines[1].rstrip())
        sections = [Section(start, head_end, "heading", level, title=lines[0].strip())]
        rest = text[head_end:end]
        if rest.strip():
            lead = len(rest) - len(rest.lstrip())
            sections.extend(_plain_block_sections(text, head_end + lead, end))
        return sections
    if len(lines) == 1 and _is_caps_heading(block):
        return [Section(start, end, "heading", 1, title=block.strip())]
    kind, level = _numbered_or_question_heading(text[text.rfind("\n", 0, start) + 1 : end], lines)
    if level:
        return [Section(start, end, "heading", level, title=" ".join(block.split()), form=kind)]
    if all(LIST_ITEM.match(line) or line.startswith((" ", "\t")) for line in lines) and LIST_ITEM.match(lines[0]):
        return [Section(start, end, "list")]
    return [Section(start, end, "paragraph")]


MIN_FORM_HEADINGS = 2  # numbered titles and question lines are headings where a text holds this many of a kind


def plain_sections(text: str) -> list[Section]:
    sections: list[Section] = []
    for start, end in iter_blocks(text):
        sections.extend(_plain_block_sections(text, start, end))
    forms = Counter(s.form for s in sections if s.form)
    return [
        s if not s.form or forms[s.form] >= MIN_FORM_HEADINGS else Section(s.start, s.end, "paragraph")
        for s in sections
    ]


def default_title(filename: str) -> str:
    stem = PurePath(filename).stem
    return stem.replace("_", " ").replace("-", " ").strip() or filename


def first_line_title(text: str, filename: str) -> str:
    for line in text.split("\n"):
        line = line.strip()
        if line:
            return line[:120]
    return default_title(filename)


def parse_plain(data: bytes, filename: str, limits: ParseLimits = DEFAULT_LIMITS) -> ParsedDocument:
    text = decode_text(data, filename)
    check_text_length(len(text), filename, limits.max_text_chars)
    sections = plain_sections(text)
    headings = [s for s in sections if s.kind == "heading"]
    if sections and sections[0].kind == "heading":
        title = headings[0].title
    else:
        title = first_line_title(text, filename)
    return ParsedDocument(text=text, content_type=CT_TEXT, title=title, sections=sections)
