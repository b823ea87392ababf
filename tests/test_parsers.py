"""Parsers: every format on the real samples, broken and mislabelled files, encodings, the eval set."""

from __future__ import annotations

import json
import random
import re
import zlib
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from docqa.errors import DocqaError, ParseError, PayloadTooLarge, UnsupportedType
from docqa.ingest import (
    CT_DOCX,
    CT_HTML,
    CT_MARKDOWN,
    CT_PDF,
    CT_TEXT,
    ParsedDocument,
    parse_bytes,
    parse_file,
    sniff,
)
from docqa.ingest.chunking import chunk_document

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "samples"
FIXTURES = Path(__file__).resolve().parent / "fixtures"
QUESTIONS = ROOT / "src" / "docqa" / "eval" / "questions.jsonl"

EXPECTED_TYPES = {".md": CT_MARKDOWN, ".txt": CT_TEXT, ".html": CT_HTML, ".pdf": CT_PDF, ".docx": CT_DOCX}
SAMPLE_FILES = sorted(
    p for p in SAMPLES.iterdir() if p.is_file() and p.suffix in EXPECTED_TYPES and p.name != "README.md"
)


def squash(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


def headings(doc: ParsedDocument) -> list[tuple[int, str]]:
    return [(s.level, s.title) for s in doc.sections if s.kind == "heading"]


def check_sections(doc: ParsedDocument) -> None:
    previous_end = 0
    for section in doc.sections:
        assert 0 <= previous_end <= section.start < section.end <= len(doc.text)
        body = doc.text[section.start : section.end]
        assert body == body.strip() and body
        assert section.kind in ("heading", "paragraph", "list", "code", "table")
        if section.kind == "heading":
            assert section.title and section.level >= 1
        previous_end = section.end


# --- the sample corpus ---------------------------------------------------------


def test_the_corpus_mixes_formats() -> None:
    suffixes = [p.suffix for p in SAMPLE_FILES]
    assert 10 <= len(SAMPLE_FILES) <= 14
    assert suffixes.count(".pdf") >= 2 and suffixes.count(".docx") == 2 and suffixes.count(".html") == 2
    assert suffixes.count(".md") + suffixes.count(".txt") >= 4


@pytest.mark.parametrize("path", SAMPLE_FILES, ids=lambda p: p.name)
def test_every_sample_parses_with_structure(path: Path) -> None:
    doc = parse_file(path)
    assert doc.content_type == EXPECTED_TYPES[path.suffix]
    assert doc.title
    assert 2500 <= len(squash(doc.text)) <= 20000
    assert len(headings(doc)) >= 5
    check_sections(doc)
    assert (doc.pages != []) == (doc.content_type == CT_PDF)


def test_markdown_headings_code_tables_and_lists() -> None:
    doc = parse_file(SAMPLES / "docqa-user-guide.md")
    assert doc.title == "docqa User Guide"
    assert (1, "docqa User Guide") in headings(doc)
    assert (3, "The FAISS index is a cache") in headings(doc)
    kinds = {s.kind for s in doc.sections}
    assert {"heading", "paragraph", "list", "code"} <= kinds
    code = next(s for s in doc.sections if s.kind == "code")
    assert doc.text[code.start : code.end].startswith("```bash\nmake run")
    table_doc = parse_file(SAMPLES / "incident-postmortem-search-outage.md")
    tables = [table_doc.text[s.start : s.end] for s in table_doc.sections if s.kind == "table"]
    assert any("Move the index snapshot to the persistent volume" in t for t in tables)


def test_markdown_setext_headings_and_front_matter() -> None:
    doc = parse_file(SAMPLES / "travel-expense-policy.md")
    assert headings(doc)[:3] == [(1, "Travel and Expense Policy"), (2, "Principles"), (2, "Booking travel")]
    assert (3, "Class of travel") in headings(doc)
    front = parse_bytes(b"---\ntitle: From front matter\ndate: 2024-01-01\n---\n\n# Heading\n\nBody.\n", "f.md")
    assert front.title == "From front matter"
    assert (1, "Heading") in headings(front)


def test_markdown_text_is_the_source() -> None:
    data = (SAMPLES / "clinic-patient-intake.md").read_bytes()
    assert parse_bytes(data, "c.md").text == data.decode("utf-8")


def test_plain_text_headings() -> None:
    history = parse_file(SAMPLES / "history-of-millbrook.txt")
    assert history.title == "A SHORT HISTORY OF MILLBROOK"
    assert (1, "THE CANAL AND THE MILLS") in headings(history)
    recipes = parse_file(SAMPLES / "recipe-collection.txt")
    assert (1, "Weeknight Recipes from the Hartley Family Kitchen") in headings(recipes)
    assert (2, "Vegetable Fried Rice") in headings(recipes)


def test_plain_text_faq_headings_numbered_and_question_lines() -> None:
    # the Debian FAQ's plain text (no-break spaces after the numbers, a question wrapped over two lines,
    # bodies indented), a "Q:" FAQ, and a question on its own line heading its answer
    faq = (
        "Chapter\u00a01.\u00a0Definitions and overview\n\n"
        "1.1.\u00a0What is this FAQ?\n\n"
        "    This document answers questions.\n\n"
        "1.5.\u00a0What is the difference between Debian and other Linux\n"
        "distributions?\n\n"
        "    Debian is the only one made by volunteers.\n\n"
        "Q: Can I sell CDs?\n\n"
        "Go ahead.\n\n"
        "How do I reset my password?\n\n"
        "Open the settings page.\n"
    )
    doc = parse_bytes(faq.encode(), "faq.txt")
    assert headings(doc) == [
        (1, "Chapter 1. Definitions and overview"),
        (2, "1.1. What is this FAQ?"),
        (2, "1.5. What is the difference between Debian and other Linux distributions?"),
        (6, "Q: Can I sell CDs?"),
        (6, "How do I reset my password?"),
    ]
    assert doc.title == "Chapter 1. Definitions and overview"


@pytest.mark.parametrize(
    "block",
    [
        "1. Install the package",  # a numbered list, one level
        "    Why does this matter?",  # an indented question is text
        "1.2. The value is set to five.",  # a numbered sentence
        "1.1 Installation\nRun pip install docqa",  # a short first line does not wrap: a title and its body
        "- Is it safe?",  # a list item asking
        "A question that goes on and on? " + "and on " * 40,  # too long for a heading
        "Section 2 lists every option; the port option sets the TCP port and defaults to 8080.",
        "Chapter 3 covers installation. Read it before you start.",  # sentences, not a title
        "1.5 cups of flour\n2 eggs\n1.25 cups of milk",  # quantities
        "192.168.1.1 is the default gateway address",
        "2.0.1 (2023-01-05)\n- Fixed crash on empty input",  # a changelog entry
        "SELECT * FROM users WHERE id = ?",  # code
        '"Are you coming?" she asked.',  # dialogue
        "We tried it for years. But is it worth it?",  # two sentences
    ],
)
def test_plain_text_lines_that_are_not_headings(block: str) -> None:
    # twice in the text: numbered titles and question lines count as headings where a text holds several
    text = f"Intro.\n\n{block}\n\nSome text after it.\n\n{block}\n\nMore text after it.\n"
    assert headings(parse_bytes(text.encode(), "notes.txt")) == []


def test_a_single_question_line_in_a_text_stays_text() -> None:
    text = "The garden opens at nine.\n\nWhy does it open so early?\n\nBecause the bees start early too.\n"
    assert headings(parse_bytes(text.encode(), "garden.txt")) == []  # one of its kind: not an FAQ


@pytest.mark.parametrize(
    ("name", "noise"),
    [
        (
            "home-espresso-guide.html",
            [
                "Grinder reviews",
                "Subscribe to our newsletter",
                "cookies",
                "gtag",
                "dataLayer",
                "Popular posts",
                "All rights reserved",
                "font-family",
                "querySelectorAll",
            ],
        ),
        (
            "community-garden-handbook.html",
            [
                "Join the waiting list",
                "Donate",
                "_paq",
                "Upcoming events",
                "Seed swap",
                "registered community group",
                "Follow us",
                "display:flex",
            ],
        ),
    ],
)
def test_html_keeps_main_text_and_drops_the_chrome(name: str, noise: list[str]) -> None:
    doc = parse_file(SAMPLES / name)
    for word in noise:
        assert word not in doc.text, word
    assert headings(doc)[0][0] == 1
    assert {"heading", "paragraph", "list", "table"} <= {s.kind for s in doc.sections}


def test_html_content_details() -> None:
    doc = parse_file(SAMPLES / "home-espresso-guide.html")
    assert doc.title == "Home Espresso Guide | The Daily Grind Blog"
    assert (2, "Puck preparation") in headings(doc)
    assert "Backflush with espresso machine detergent | Weekly" in doc.text
    assert "- Sour, sharp or salty, thin body: under-extracted." in doc.text
    assert "dialling in a new bag of beans" in doc.text  # inline <em> joined into its paragraph


def test_pdf_pages_and_headings() -> None:
    doc = parse_file(SAMPLES / "bicycle-maintenance-manual.pdf")
    assert doc.title == "Bicycle Maintenance Manual for Commuters"
    assert [p[0] for p in doc.pages] == [1, 2, 3]
    for (_, _, end), (_, start, _) in zip(doc.pages, doc.pages[1:]):
        assert start == end + 2 and doc.text[end:start] == "\n\n"
    assert doc.pages[-1][2] == len(doc.text)
    assert (2, "6. Brakes") in headings(doc) and (3, "6.1 Rim brakes") in headings(doc)
    for section in doc.sections:
        _number, start, end = next(p for p in doc.pages if p[0] == section.page)
        assert start <= section.start and section.end <= end
    wrapped = parse_file(SAMPLES / "medication-storage-policy.pdf")
    assert headings(wrapped)[0] == (1, "Medication Storage Policy - St. Aldric Community Hospital")
    assert next(s.page for s in wrapped.sections if s.title == "5.1 Discrepancies") == 2


def test_docx_heading_styles_lists_and_tables() -> None:
    doc = parse_file(SAMPLES / "data-retention-policy.docx")
    assert doc.title == "Data Retention and Deletion Policy"
    assert headings(doc)[0] == (1, "Data Retention and Deletion Policy")
    assert (2, "Legal holds") in headings(doc)
    table = next(s for s in doc.sections if s.kind == "table")
    assert doc.text[table.start : table.end].splitlines()[0] == "Record type | Retention period | Starts from"
    checklist = parse_file(SAMPLES / "discharge-checklist.docx")
    lists = [checklist.text[s.start : s.end] for s in checklist.sections if s.kind == "list"]
    assert any(item.count("\n- ") >= 3 for item in lists)


# --- broken, odd and mislabelled files ------------------------------------------


@pytest.mark.parametrize(
    ("name", "error", "reason"),
    [
        ("truncated.pdf", ParseError, "not a readable PDF"),
        ("encrypted.pdf", ParseError, "encrypted"),
        ("no-text.pdf", ParseError, "no extractable text"),
        ("empty.txt", ParseError, "empty"),
        ("blank.md", ParseError, "empty"),
        ("garbage.txt", UnsupportedType, "binary"),
        ("not-a-zip.docx", UnsupportedType, "binary"),
        ("truncated.docx", ParseError, "not a readable DOCX"),
        ("zip-without-word.docx", UnsupportedType, "not a Word"),
        ("script-only.html", ParseError, "no visible text"),
    ],
)
def test_broken_files_fail_clearly(name: str, error: type[DocqaError], reason: str) -> None:
    with pytest.raises(error) as caught:
        parse_file(FIXTURES / name)
    assert name in caught.value.message and reason in caught.value.message


def test_a_pdf_encrypted_with_an_empty_password_opens() -> None:
    doc = parse_file(FIXTURES / "encrypted-empty-password.pdf")
    assert "Fixing a puncture" in doc.text and len(doc.pages) == 3


@pytest.mark.parametrize(
    ("name", "content_type", "phrase"),
    [
        ("really-text.pdf", CT_TEXT, "named .pdf but it is plain text"),
        ("really-html.docx", CT_HTML, "This document now lives elsewhere."),
    ],
)
def test_the_content_wins_over_a_lying_extension(name: str, content_type: str, phrase: str) -> None:
    doc = parse_file(FIXTURES / name)
    assert doc.content_type == content_type and phrase in doc.text


def test_sniffing_uses_magic_bytes_then_the_name_then_the_hint() -> None:
    pdf = (SAMPLES / "bicycle-maintenance-manual.pdf").read_bytes()
    docx = (SAMPLES / "data-retention-policy.docx").read_bytes()
    assert sniff(pdf, "upload.bin") == CT_PDF
    assert sniff(docx, "upload") == CT_DOCX
    assert sniff(b"<!DOCTYPE html><p>x</p>", "notes.txt") == CT_HTML
    assert sniff(b"# Title\n\ntext", "notes.md") == CT_MARKDOWN
    assert sniff(b"# Title\n\ntext", "upload", "text/markdown; charset=utf-8") == CT_MARKDOWN
    assert sniff(b"# Title\n\ntext", "upload") == CT_TEXT
    assert sniff(b"<p>x</p>", "page.html") == CT_HTML
    with pytest.raises(UnsupportedType, match="PNG"):
        sniff(b"\x89PNG\r\n\x1a\n" + bytes(100), "photo.pdf")


def test_parse_bytes_refuses_empty_input() -> None:
    with pytest.raises(ParseError, match="x.txt: file is empty"):
        parse_bytes(b"", "x.txt")


def test_size_limit_and_missing_files(tmp_path: Path) -> None:
    big = tmp_path / "big.txt"
    big.write_text("word " * 1000)
    with pytest.raises(PayloadTooLarge, match="big.txt"):
        parse_file(big, max_bytes=100)
    assert parse_file(big, max_bytes=10_000).text.startswith("word")
    with pytest.raises(ParseError, match="missing.md: file not found"):
        parse_file(tmp_path / "missing.md")
    with pytest.raises(ParseError, match="is a directory"):
        parse_file(tmp_path)


def test_text_encodings() -> None:
    assert parse_file(FIXTURES / "cp1252.txt").text.startswith("Café menu – crème brûlée costs €6.")
    assert parse_file(FIXTURES / "utf16.txt").text.startswith("Grüße aus Köln.")
    bom = parse_file(FIXTURES / "bom.md")
    assert bom.text == "# Title with BOM\n\nA paragraph with Windows line endings.\n"
    assert bom.title == "Title with BOM"
    assert parse_bytes("naïve".encode("latin-1") + b"\x81", "x.txt").text == "naïve\x81"


@pytest.mark.parametrize("name", ["medication-storage-policy.pdf", "discharge-checklist.docx"])
def test_damaged_binaries_only_raise_docqa_errors(name: str) -> None:
    data = (SAMPLES / name).read_bytes()
    rng = random.Random(name)
    variants = [data[:cut] for cut in range(0, len(data), max(1, len(data) // 40))]
    for _ in range(40):
        damaged = bytearray(data)
        for _ in range(rng.randint(1, 20)):
            damaged[rng.randrange(len(damaged))] = rng.randrange(256)
        variants.append(bytes(damaged))
    for variant in variants:
        try:
            doc = parse_bytes(variant, name)
        except DocqaError:
            continue
        assert doc.text.strip()


def test_html_edge_cases() -> None:
    doc = parse_bytes(
        b"<html><body><main><article><header><h1>Kept</h1></header><p>Body &amp; soul</p>"
        b"<footer>Article footer kept</footer></article></main><footer>Site footer</footer>"
        b"</body></html>",
        "a.html",
    )
    assert "Kept" in doc.text and "Body & soul" in doc.text and "Article footer kept" in doc.text
    assert "Site footer" not in doc.text
    latin = parse_bytes(
        '<html><head><meta charset="iso-8859-1"></head><body><p>Caf\xe9</p></body></html>'.encode("latin-1"), "l.html"
    )
    assert latin.text == "Café"


# --- the labelled questions -------------------------------------------------------


def _questions() -> list[dict[str, str]]:
    return [json.loads(line) for line in QUESTIONS.read_text(encoding="utf-8").splitlines() if line.strip()]


def test_questions_are_well_formed() -> None:
    questions = _questions()
    assert len(questions) >= 60
    assert len({q["id"] for q in questions}) == len(questions)
    assert {q["expected_filename"] for q in questions} == {p.name for p in SAMPLE_FILES}
    for q in questions:
        assert set(q) == {"id", "question", "expected_filename", "expected_passage"}
        assert q["question"].strip() and 3 <= len(q["expected_passage"]) <= 200


def test_questions_expected_passages_exist_in_the_parsed_text() -> None:
    texts = {p.name: squash(parse_file(p).text) for p in SAMPLE_FILES}
    missing = [q["id"] for q in _questions() if squash(q["expected_passage"]) not in texts[q["expected_filename"]]]
    assert not missing


# --- anything at all in, only DocqaError out --------------------------------------

_prefixes = st.sampled_from(
    [
        b"",
        b"%PDF-1.7\n",
        b"PK\x03\x04",
        b"<!doctype html>",
        b"<html><body>",
        b"# ",
        b"\xef\xbb\xbf",
        b"\xff\xfe",
        b"---\ntitle: x\n---\n",
    ]
)


@settings(max_examples=300, deadline=None)
@given(
    prefix=_prefixes,
    body=st.one_of(st.binary(max_size=400), st.text(max_size=400).map(str.encode)),
    name=st.sampled_from(["a.txt", "a.md", "a.html", "a.pdf", "a.docx", "a", "a.bin"]),
)
def test_arbitrary_bytes_parse_or_raise_a_docqa_error(prefix: bytes, body: bytes, name: str) -> None:
    try:
        doc = parse_bytes(prefix + body, name)
    except DocqaError:
        return
    assert doc.text.strip()
    check_sections(doc)


@pytest.mark.parametrize("algorithm", ["AES-128", "AES-256"])
def test_an_aes_encrypted_pdf_opens_with_an_empty_password_and_is_refused_with_a_real_one(algorithm: str) -> None:
    import io

    from pypdf import PdfReader, PdfWriter

    source = PdfReader(FIXTURES / "encrypted-empty-password.pdf")
    source.decrypt("")
    for user_password, opens in (("", True), ("s3cret", False)):
        writer = PdfWriter()
        for page in source.pages:
            writer.add_page(page)
        writer.encrypt(user_password=user_password, owner_password="owner", algorithm=algorithm)
        buf = io.BytesIO()
        writer.write(buf)
        if opens:
            doc = parse_bytes(buf.getvalue(), "aes.pdf")
            assert "Fixing a puncture" in doc.text and len(doc.pages) == 3
        else:
            with pytest.raises(ParseError) as caught:
                parse_bytes(buf.getvalue(), "aes.pdf")
            assert "encrypted with a password" in caught.value.message


# --- text extraction details (issue 13) ---------------------------------------------

DOC_PAGE = """<html><head><title>Guide</title></head><body><div class="body" role="main">
<h1>Pathname functions<a class="headerlink" href="#top" title="Permalink to this heading">\u00b6</a></h1>
<aside class="topic"><p class="topic-title">Abstract</p><p>This module implements useful path functions.</p></aside>
<aside class="topic contents"><p><a href="#a">Contents</a></p><ul><li><a href="#a">Splitting</a></li>
<li><a href="#b">Joining paths</a></li></ul></aside>
<h2 id="split">Splitting <a href="#split">#</a></h2>
<p>Call <code><span class="n">split</span><span class="p">(</span><span class="n">path</span><span class="p">,</span>
<span class="n">sep</span><span class="o">=</span><span class="n">os</span><span class="o">.</span><span class="n">sep</span>\
<span class="p">)</span></code> to cut a path.<a class="footnote-reference" href="#f1">1</a></p>
<aside class="sidebar"><p class="sidebar-title">Portability</p><p>Windows paths use backslashes.</p></aside>
<ul><li><p>First, normalise the path.</p><ul><li>Collapse <code>a//b</code> to <code>a/b</code>.</li>
<li>Resolve <code>..</code> parts.</li></ul></li>
<li>Then run:<pre>python -m paths \\
    --check  input.txt</pre></li></ul>
<table><tr><th>Function</th><td><code><span class="n">join</span><span class="p">(</span><span class="n">a</span>\
<span class="p">,</span> <span class="n">b</span><span class="p">)</span></code></td></tr></table>
<aside class="footnote" id="f1"><span class="label"><a href="#r1">1</a></span><p>Paths are strings here.</p></aside>
<div class="related" role="complementary"><p>Upcoming release party</p></div>
</div></body></html>"""


def test_html_keeps_aside_topic_sidebar_and_footnote_text() -> None:
    doc = parse_bytes(DOC_PAGE.encode(), "paths.html")
    for kept in (
        "This module implements useful path functions.",
        "Windows paths use backslashes.",
        "Paths are strings",
    ):
        assert kept in doc.text, kept
    assert "Contents" not in doc.text and "Joining paths" not in doc.text  # an aside made of links is navigation
    assert "Upcoming release party" not in doc.text  # a complementary region that is not an aside is chrome
    check_sections(doc)


def test_html_headings_lose_their_permalink_anchors() -> None:
    doc = parse_bytes(DOC_PAGE.encode(), "paths.html")
    assert headings(doc) == [(1, "Pathname functions"), (2, "Splitting")]
    assert "\u00b6" not in doc.text and "Splitting #" not in doc.text


def test_html_code_is_kept_verbatim() -> None:
    doc = parse_bytes(DOC_PAGE.encode(), "paths.html")
    assert "Call split(path, sep=os.sep) to cut a path." in doc.text  # highlighted tokens, no spaces added
    assert "Function | join(a, b)" in doc.text  # in a table cell too
    assert "  python -m paths \\\n      --check  input.txt" in doc.text  # <pre> in a list item: lines, spaces


def test_html_lists_keep_their_structure() -> None:
    doc = parse_bytes(DOC_PAGE.encode(), "paths.html")
    lists = [doc.text[s.start : s.end] for s in doc.sections if s.kind == "list"]
    assert lists == [
        "- First, normalise the path.\n"
        "  - Collapse a//b to a/b.\n"
        "  - Resolve .. parts.\n"
        "- Then run:\n"
        "  python -m paths \\\n"
        "      --check  input.txt"
    ]
    ordered = parse_bytes(
        b"<html><body><ol><li>One<ol><li>Inner</li></ol></li><li>Two</li></ol></body></html>", "o.html"
    )
    assert ordered.text == "1. One\n  1. Inner\n2. Two"


def _pdf_lines(*lines: str) -> bytes:
    from tests.bombs import pdf_with_streams

    shown = b" 0 -14 Td ".join(b"(" + line.encode("latin-1") + b") Tj" for line in lines)
    return pdf_with_streams([zlib.compress(b"BT /F1 12 Tf 72 720 Td " + shown + b" ET")])


def test_pdf_rejoins_words_hyphenated_at_a_line_break() -> None:
    doc = parse_bytes(
        _pdf_lines(
            "Vaccines must be kept in the refrig-",
            "erator between two and eight degrees.",
            "A well-known rule applies to the whole ward: Re-",
            "Check the log every morn-",
            "ing and every evening.",
        ),
        "hyphens.pdf",
    )
    assert "kept in the refrigerator between two" in doc.text
    assert "every morning and every evening." in doc.text
    assert "well-known" in doc.text and "ward: Re-\nCheck" in doc.text  # a capital after the break: not a split word
    check_sections(doc)
    assert doc.pages == [(1, 0, len(doc.text))]


def test_html_drops_the_navigation_blocks_of_documentation_generators() -> None:
    page = (
        b'<html><body><div class="navheader"><table><tr><th>26.1. SQL Dump</th></tr><tr><td><a href="p.html">Prev'
        b'</a></td><th>Chapter 26. Backup and Restore</th></tr></table></div><div class="sect1"><h2>26.1. SQL Dump</h2>'
        b'<div class="toc"><dl class="toc"><dt><span class="sect2"><a href="#r">26.1.1. Restoring the Dump</a></span>'
        b"</dt></dl></div><p>The idea behind this dump method is simple.</p></div>"
        b'<div class="navfooter"><table><tr><td>Chapter 26. Backup and Restore</td></tr></table></div></body></html>'
    )
    doc = parse_bytes(page, "backup-dump.html")
    assert doc.text == "26.1. SQL Dump\n\nThe idea behind this dump method is simple."


def test_html_a_note_box_inside_a_section_stays_inside_that_section() -> None:
    """DocBook titles its note/tip/warning boxes with a heading of the same rank as the sections around them: the
    box is a heading below every section level, so its chunks are "Section > Subsection > Note" (not a sibling
    "Section > Note" that lost the subsection), and the next section starts as before."""
    page = (
        b'<html><body><div class="sect1"><h2>26.3. Archiving</h2><div class="sect2"><h3>26.3.4. Recovering</h3>'
        b'<p>Stop the server.</p><div class="note"><h3 class="title">Note</h3><p>Create a file recovery.signal in'
        b" the data directory.</p></div></div>"
        b'<div class="sect2"><h3>26.3.5. Timelines</h3><p>Each recovery starts a new timeline.</p></div></div>'
        b"</body></html>"
    )
    doc = parse_bytes(page, "continuous-archiving.html")
    assert headings(doc) == [(2, "26.3. Archiving"), (3, "26.3.4. Recovering"), (7, "Note"), (3, "26.3.5. Timelines")]
    chunks = chunk_document(doc, lambda text: len(text.split()), max_tokens=12, overlap_tokens=0)
    paths = {c.text.split("\n")[-1]: c.heading for c in chunks}
    assert paths["Create a file recovery.signal in the data directory."] == (
        "26.3. Archiving > 26.3.4. Recovering > Note"
    )
    assert paths["Each recovery starts a new timeline."] == "26.3. Archiving > 26.3.5. Timelines"
    check_sections(doc)
