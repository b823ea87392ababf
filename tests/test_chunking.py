"""Chunking: exact offsets, the token limit, headings, pages, overlap, determinism, speed."""

from __future__ import annotations

import math
import re
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from docqa.errors import InvalidInput
from docqa.ingest import ParsedDocument, Section, chunk_document, parse_bytes, parse_file
from docqa.types import ChunkInput

SAMPLES = Path(__file__).resolve().parent.parent / "samples"
SAMPLE_FILES = sorted(p for p in SAMPLES.iterdir() if p.is_file() and p.name != "README.md")


def words_and_marks(text: str) -> int:
    """The test token counter: words and punctuation marks."""
    return len(re.findall(r"\w+|[^\w\s]", text))


def whitespace_words(text: str) -> int:
    return len(text.split())


def four_chars(text: str) -> int:
    """Like a sub-word tokenizer: not additive over concatenation, long words cost many tokens."""
    return sum(math.ceil(len(word) / 4) for word in text.split())


COUNTERS = [words_and_marks, whitespace_words, four_chars]


def check_invariants(doc: ParsedDocument, chunks: list[ChunkInput], count, max_tokens: int) -> None:
    assert [c.ordinal for c in chunks] == list(range(len(chunks)))
    covered = bytearray(len(doc.text))
    previous_start = -1
    for chunk in chunks:
        assert chunk.text == doc.text[chunk.char_start : chunk.char_end]
        assert chunk.text.strip(), "blank chunk"
        assert chunk.text == chunk.text.strip(), "chunks start and end on text"
        assert count(chunk.text) <= max_tokens
        assert chunk.token_count == count(chunk.text)
        assert chunk.char_start > previous_start, "chunks move forward"
        previous_start = chunk.char_start
        covered[chunk.char_start : chunk.char_end] = b"\x01" * (chunk.char_end - chunk.char_start)
    dropped = [i for i, ch in enumerate(doc.text) if not ch.isspace() and not covered[i]]
    assert not dropped, f"text dropped at {dropped[:5]}: {doc.text[dropped[0] : dropped[0] + 40]!r}"


@pytest.mark.parametrize("path", SAMPLE_FILES, ids=lambda p: p.name)
@pytest.mark.parametrize("count", COUNTERS, ids=lambda c: c.__name__)
def test_sample_chunks_keep_every_invariant(path: Path, count) -> None:
    doc = parse_file(path)
    for max_tokens, overlap in ((200, 30), (60, 10), (25, 0)):
        chunks = chunk_document(doc, count, max_tokens=max_tokens, overlap_tokens=overlap)
        assert chunks
        check_invariants(doc, chunks, count, max_tokens)


def test_headings_travel_with_their_chunks() -> None:
    doc = parse_file(SAMPLES / "clinic-patient-intake.md")
    chunks = chunk_document(doc, words_and_marks, max_tokens=120, overlap_tokens=20)
    booking = next(c for c in chunks if "Routine appointments are 15 minutes long." in c.text)
    assert booking.heading == "Patient Intake Procedure — Riverside Family Clinic > 1. Before the visit > Booking"
    audit = next(c for c in chunks if "20 random new-patient registrations" in c.text)
    assert audit.heading == "Patient Intake Procedure — Riverside Family Clinic > 10. Audit"


@pytest.mark.parametrize(
    ("name", "passage", "heading"),
    [
        (
            "travel-expense-policy.md",
            "0.30 EUR per kilometre",
            "Travel and Expense Policy > Booking travel > Cars and taxis",
        ),
        ("history-of-millbrook.txt", "4.2 metres above its normal level", "THE TWENTIETH CENTURY"),
        (
            "recipe-collection.txt",
            "75 degrees",
            "Weeknight Recipes from the Hartley Family Kitchen > Lemon and Herb Roast Chicken",
        ),
        ("home-espresso-guide.html", "60 to 65 °C", "Home Espresso Guide: Dialling In Your Shot > Milk drinks"),
        ("data-retention-policy.docx", "Only the General Counsel", "Data Retention and Deletion Policy > Legal holds"),
        (
            "bicycle-maintenance-manual.pdf",
            "grooves are about 1 mm deep",
            "Bicycle Maintenance Manual for Commuters > 6. Brakes > 6.1 Rim brakes",
        ),
    ],
)
def test_heading_paths_in_every_format(name: str, passage: str, heading: str) -> None:
    chunks = chunk_document(parse_file(SAMPLES / name), words_and_marks, max_tokens=150, overlap_tokens=20)
    assert next(c for c in chunks if passage in " ".join(c.text.split())).heading == heading


def test_a_heading_starts_a_new_chunk_without_overlap() -> None:
    text = "# One\n\nFirst section text. It is short.\n\n# Two\n\nSecond section text."
    doc = parse_bytes(text.encode(), "x.md")
    chunks = chunk_document(doc, words_and_marks, max_tokens=200, overlap_tokens=30)
    assert [c.text for c in chunks] == ["# One\n\nFirst section text. It is short.", "# Two\n\nSecond section text."]
    assert [c.heading for c in chunks] == ["One", "Two"]


def test_pdf_chunks_carry_the_page_they_start_on() -> None:
    doc = parse_file(SAMPLES / "medication-storage-policy.pdf")
    chunks = chunk_document(doc, words_and_marks, max_tokens=120, overlap_tokens=20)
    assert {c.page for c in chunks} == {1, 2, 3}
    for chunk in chunks:
        number, _start, _end = next(p for p in doc.pages if p[1] <= chunk.char_start <= p[2])
        assert chunk.page == number
    discrepancies = next(c for c in chunks if "Discrepancies" in c.text)
    assert discrepancies.page == 2
    assert discrepancies.heading.endswith("5. Controlled drugs > 5.1 Discrepancies")


def test_non_pdf_chunks_have_no_page() -> None:
    chunks = chunk_document(parse_file(SAMPLES / "recipe-collection.txt"), words_and_marks)
    assert all(c.page is None for c in chunks)


def _long_section(sentences: int = 60) -> ParsedDocument:
    text = " ".join(f"Sentence {i} says something about topic {i % 7}." for i in range(sentences))
    return parse_bytes(text.encode(), "long.txt")


def test_consecutive_chunks_overlap_on_sentence_boundaries() -> None:
    doc = _long_section()
    chunks = chunk_document(doc, words_and_marks, max_tokens=60, overlap_tokens=15)
    assert len(chunks) > 3
    for before, after in zip(chunks, chunks[1:]):
        assert after.char_start < before.char_end, "no overlap"
        shared = doc.text[after.char_start : before.char_end]
        assert 0 < words_and_marks(shared) <= 15
        assert after.text.startswith("Sentence "), "overlap starts mid-sentence"


def test_zero_overlap_means_adjacent_chunks() -> None:
    doc = _long_section()
    chunks = chunk_document(doc, words_and_marks, max_tokens=60, overlap_tokens=0)
    for before, after in zip(chunks, chunks[1:]):
        assert after.char_start >= before.char_end


def test_overlap_falls_back_to_words_when_a_sentence_is_too_long() -> None:
    text = " ".join(f"word{i}" for i in range(400))  # one sentence, no punctuation
    doc = parse_bytes(text.encode(), "words.txt")
    chunks = chunk_document(doc, whitespace_words, max_tokens=50, overlap_tokens=10)
    check_invariants(doc, chunks, whitespace_words, 50)
    for before, after in zip(chunks, chunks[1:]):
        shared = doc.text[after.char_start : before.char_end]
        assert 1 <= whitespace_words(shared) <= 10
        assert doc.text[after.char_start - 1] == " ", "overlap starts on a word"


def test_an_overlong_word_is_split_by_characters() -> None:
    doc = parse_bytes(("a" * 3000 + " tail").encode(), "blob.txt")
    chunks = chunk_document(doc, four_chars, max_tokens=100, overlap_tokens=10)
    check_invariants(doc, chunks, four_chars, 100)
    assert len(chunks) >= 8


def test_output_is_deterministic() -> None:
    doc = parse_file(SAMPLES / "docqa-user-guide.md")
    first = chunk_document(doc, words_and_marks, max_tokens=80, overlap_tokens=15)
    second = chunk_document(
        parse_file(SAMPLES / "docqa-user-guide.md"), words_and_marks, max_tokens=80, overlap_tokens=15
    )
    assert first == second


def test_untidy_sections_are_normalised() -> None:
    text = "Alpha beta gamma.\n\n   \n\nDelta epsilon. Zeta eta theta.\n\nUncovered tail text."
    sections = [
        Section(19, 60, "paragraph"),  # starts in whitespace, overlaps the next one
        Section(0, 17, "paragraph"),  # out of order
        Section(23, 40, "heading", level=2),  # inside the first
        Section(17, 21, "paragraph"),  # blank
    ]
    doc = ParsedDocument(text=text, content_type="text/plain", title="t", sections=sections)
    chunks = chunk_document(doc, words_and_marks, max_tokens=8, overlap_tokens=2)
    check_invariants(doc, chunks, words_and_marks, 8)


def test_a_document_without_sections_is_chunked_by_blocks() -> None:
    text = "First block here.\n\nSecond block here."
    doc = ParsedDocument(text=text, content_type="text/plain", title="t", sections=[])
    chunks = chunk_document(doc, words_and_marks, max_tokens=4, overlap_tokens=0)
    assert [c.text for c in chunks] == ["First block here.", "Second block here."]


@pytest.mark.parametrize(("max_tokens", "overlap"), [(0, 0), (10, 10), (10, -1)])
def test_bad_limits_are_refused(max_tokens: int, overlap: int) -> None:
    with pytest.raises(InvalidInput):
        chunk_document(_long_section(3), words_and_marks, max_tokens=max_tokens, overlap_tokens=overlap)


def _megabyte_of_prose() -> bytes:
    vocabulary = [
        "the",
        "patient",
        "fridge",
        "policy",
        "nurse",
        "temperature",
        "chain",
        "brake",
        "espresso",
        "grind",
        "market",
        "river",
    ]
    paragraphs, size, state = [], 0, 7
    while size < 1_000_000:
        sentences = []
        for _ in range(1 + state % 6):
            state = (state * 1103515245 + 12345) % 2**31
            words = [vocabulary[(state >> k) % len(vocabulary)] for k in range(3 + state % 20)]
            sentences.append(" ".join(words).capitalize() + ".")
        paragraph = " ".join(sentences) if state % 17 else "## " + sentences[0]
        paragraphs.append(paragraph)
        size += len(paragraph) + 2
    return "\n\n".join(paragraphs).encode()


def test_a_megabyte_counts_tokens_linearly() -> None:
    """The work is linear in the text (what keeps 1 MB fast; the time itself belongs in bench/, not here)."""
    doc = parse_bytes(_megabyte_of_prose(), "big.md")
    counted = [0]

    def counter(text: str) -> int:
        counted[0] += len(text)
        return whitespace_words(text)

    chunks = chunk_document(doc, counter, max_tokens=200, overlap_tokens=30)
    assert counted[0] < 4 * len(doc.text), "count_tokens saw the text too many times"
    assert len(chunks) > 500


text_pieces = st.one_of(
    st.text(alphabet="abcdefghij XYZ", min_size=1, max_size=12),
    st.sampled_from(
        [
            ". ",
            "! ",
            "? ",
            "\n",
            "\n\n",
            "# ",
            "## Heading\n",
            "- item\n",
            "```\n",
            "|a|b|\n|--|--|\n",
            "e.g. ",
            "   ",
            "\t",
            "...",
            "x" * 60,
            "!!!!!!!!",
            "é",
            "😀",
        ]
    ),
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    pieces=st.lists(text_pieces, min_size=1, max_size=120),
    max_tokens=st.integers(min_value=3, max_value=40),
    overlap_fraction=st.floats(min_value=0.0, max_value=0.9),
    counter=st.sampled_from(COUNTERS),
    kind=st.sampled_from(["x.md", "x.txt"]),
)
def test_random_texts_keep_every_invariant(pieces, max_tokens, overlap_fraction, counter, kind) -> None:
    text = "".join(pieces)
    if not text.strip():
        return
    doc = parse_bytes(text.encode("utf-8"), kind)
    overlap = min(max_tokens - 1, int(max_tokens * overlap_fraction))
    chunks = chunk_document(doc, counter, max_tokens=max_tokens, overlap_tokens=overlap)
    check_invariants(doc, chunks, counter, max_tokens)


def test_a_page_title_roots_heading_paths_that_do_not_start_with_it() -> None:
    """A DocBook reference page puts its name beside its sections (<h2>VACUUM</h2>, <h2>Description</h2>):
    the page's own title becomes the root of their paths, for the model and the keyword index."""
    from docqa.ingest.chunking import under_title

    def headings(data: bytes, name: str) -> list[str]:
        doc = parse_bytes(data, name)
        chunks = chunk_document(doc, lambda t: len(t.split()), max_tokens=50)
        under_title(chunks, doc)
        return [c.heading for c in chunks]

    page = (
        b"<html><head><title>VACUUM</title></head><body>"
        b"<h2>VACUUM</h2><p>VACUUM - garbage-collect a database.</p>"
        b"<h2>Description</h2><p>VACUUM reclaims storage occupied by dead tuples.</p>"
        b"<h2>Parameters</h2><p>PARALLEL: perform index vacuum in parallel workers.</p></body></html>"
    )
    assert headings(page, "sql-vacuum.html") == ["VACUUM", "VACUUM > Description", "VACUUM > Parameters"]
    chapter = b"<title>5.7. Privileges</title><h2>5.7. Privileges</h2><p>An owner has every right.</p>"
    assert headings(chapter, "ddl.html") == ["5.7. Privileges"]  # already rooted at its title
    text = b"Intro line\n\nNOTES\n\nBody text here.\n"  # plain text: its title is a line of its own
    assert headings(text, "n.txt") == ["", "NOTES"]  # nothing added
    site = b"<title>Install | Acme Cloud Docs</title><h1>Install</h1><p>Run the installer.</p><h2>Upgrade</h2><p>Run it again.</p>"
    assert headings(site, "i.html") == ["Install", "Install > Upgrade"]  # the site's name left out
    bare = b"<h2>Install</h2><p>Run the installer.</p><h2>Upgrade</h2><p>Run it again.</p>"  # no <title>
    assert headings(bare, "index.html") == ["Install", "Upgrade"]  # never rooted at a file name
    crumbs = b"<title>Docs > Install</title><h2>Steps</h2><p>Run the installer.</p>"
    assert headings(crumbs, "c.html") == ["Docs \u203a Install > Steps"]  # one level, not two
