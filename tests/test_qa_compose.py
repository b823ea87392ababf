"""Answer composition (issue 13, item 1): regions merged by document position, windows bounded inside
their section, a lead-in's code block kept, [n] markers tied to sources that are exact chunk slices."""

from __future__ import annotations

import re

from docqa.qa.answer import QaConfig, compose_answer
from docqa.qa.compose import MAX_CHARS, Layout, fitted, marked, piece_source, pieces_of, window
from docqa.qa.context import build_regions
from docqa.qa.evidence import Evidence
from docqa.qa.extractive import Candidate, Scored
from docqa.types import SearchHit
from tests.test_qa import assert_spans_exact

DOC = (
    "Fridge temperature\n\n"
    "If the fridge is too warm, move the vaccines to the backup fridge at once. "
    "Then ring pharmacy on extension 4410 and record the reading in the log. "
    "Do not use the vaccines again until pharmacy says they are safe.\n\n"
    "Restoring a dump\n\n"
    "Text files are restored with psql. Run psql with the variable set:\n\n"
    "psql -X --set ON_ERROR_STOP=on dbname < dumpfile\n"
    "    --single-transaction\n\n"
    "Either way, you will only have a partially restored database."
)
FRIDGE, DUMP = "Fridge temperature", "Restoring a dump"


def hit(chunk_id: int, ordinal: int, start: int, end: int, heading: str, score: float = 0.5) -> SearchHit:
    return SearchHit(
        chunk_id=chunk_id,
        document_id="doc",
        score=score,
        content=DOC[start:end],
        filename="policy.md",
        content_type="text/markdown",
        chunk_index=ordinal,
        metadata={},
        char_start=start,
        char_end=end,
        heading=heading,
    )


def chunks() -> list[SearchHit]:
    """Four chunks as a chunker with overlap writes them: the second starts in the middle of a sentence
    the first ends with, the fourth holds the code block the third's last sentence introduces."""
    second = DOC.index("the backup fridge")
    third = DOC.index("Restoring a dump")
    fourth = DOC.index("psql -X")
    return [
        hit(1, 0, 0, DOC.index("Do not use"), FRIDGE),
        hit(2, 1, second, DOC.index("Restoring") - 2, FRIDGE),
        hit(3, 2, third, fourth - 2, DUMP),
        hit(4, 3, fourth, len(DOC), DUMP),
    ]


def test_overlapping_chunks_merge_into_one_region_holding_each_character_once() -> None:
    c = chunks()
    regions = build_regions([c[1]], [c[0], c[2]])
    assert len(regions) == 1
    region = regions[0]
    assert region.start == 0 and region.text == DOC[: c[2].char_end]
    assert region.ranks == {2: 0}
    layout = Layout.of(region)
    texts = [u.text for u in layout.units]
    assert len(texts) == len(set(texts))  # the overlap is not cut into units twice
    assert not any(t.startswith("the backup fridge") for t in texts)  # nor is the half sentence a chunk starts with
    assert FRIDGE not in texts and DUMP not in texts  # heading lines are not units


def test_chunks_whose_offsets_disagree_are_regions_of_their_own() -> None:
    c = chunks()
    liar = hit(9, 1, 0, 30, FRIDGE)  # the next ordinal, but the same place as chunk 1
    assert [r.text for r in build_regions([c[0], liar], [])] == [c[0].content, liar.content]


def test_window_grows_inside_its_section_within_the_target() -> None:
    c = chunks()
    layout = Layout.of(build_regions([c[0]], [c[1], c[2], c[3]])[0])
    units = layout.units
    anchor = next(i for i, u in enumerate(units) if u.text.startswith("Then ring pharmacy"))
    first, last = window(layout, anchor, target=600)
    text = layout.text_of(first, last)
    assert text.startswith("If the fridge is too warm") and text.endswith("they are safe.")
    assert "Restoring" not in text and "psql" not in text  # never across a heading
    first, last = window(layout, anchor, target=80)
    assert len(layout.text_of(first, last)) <= 80 or first == last == anchor
    assert units[first].section == units[last].section == units[anchor].section


def test_a_lead_in_ending_in_a_colon_keeps_the_code_block_from_the_next_chunk() -> None:
    c = chunks()
    region = build_regions([c[2]], [c[1], c[3]])[0]
    layout = Layout.of(region)
    anchor = next(i for i, u in enumerate(layout.units) if u.text.endswith("the variable set:"))
    first, last = window(layout, anchor, target=40)  # even when the target is tiny
    text = layout.text_of(first, last)
    assert text.endswith(
        "Run psql with the variable set:\npsql -X --set ON_ERROR_STOP=on dbname < dumpfile\n    --single-transaction"
    )
    pieces = pieces_of(layout, first, last)
    assert [p.chunk.chunk_id for p in pieces] == [3, 4]  # the code block is the next chunk's
    answer = marked(layout, pieces, 1)
    assert re.findall(r"\[(\d+)\]", answer) == ["1", "2"]
    assert "variable set: [1]\npsql -X --set ON_ERROR_STOP=on dbname < dumpfile\n    --single-transaction [2]" in answer
    for piece in pieces:
        source = piece_source(region, piece, 0.5)
        assert piece.chunk.char_start <= source.char_start < source.char_end <= piece.chunk.char_end
        assert source.text == DOC[source.char_start : source.char_end]
        assert source.text == piece.chunk.content[source.char_start - piece.chunk.char_start :][: len(source.text)]


def test_a_unit_no_chunk_holds_whole_is_cut_where_a_chunk_ends() -> None:
    start = DOC.index("If the fridge")
    cut = DOC.index("to the backup") + 3  # chunk 0 ends inside the first sentence, chunk 1 starts after it
    a, b = hit(1, 0, 0, cut, FRIDGE), hit(2, 1, cut, DOC.index("Restoring") - 2, FRIDGE)
    region = build_regions([a, b], [])[0]
    layout = Layout.of(region)
    anchor = next(i for i, u in enumerate(layout.units) if u.start == start)
    pieces = pieces_of(layout, anchor, anchor)
    assert [p.chunk.chunk_id for p in pieces] == [1, 2]
    sources = [piece_source(region, p, 0.5) for p in pieces]
    assert sources[0].char_end <= sources[1].char_start  # never the same characters twice
    assert "".join(s.text for s in sources).replace(" ", "") == layout.units[anchor].text.replace(" ", "")


def test_rendering_joins_wrapped_lines_and_keeps_code_lines() -> None:
    text = (
        "The chain is cleaned and lubricated every three hundred kilometres, or after\n"
        "any ride in the rain, whichever comes first.\n\n"
        "Run this:\n\n"
        "  oil --chain  --light\n"
        "  wipe"
    )
    region = build_regions([SearchHit(1, "d", 0.5, text, "m.pdf", "application/pdf", 0, {}, None, 0, len(text))], [])[0]
    layout = Layout.of(region)
    rendered = layout.render(0, len(text))
    assert rendered == (
        "The chain is cleaned and lubricated every three hundred kilometres, or after any ride in the rain, "
        "whichever comes first.\nRun this:\n  oil --chain  --light\n  wipe"
    )


def _layout(text: str, content_type: str = "text/plain") -> Layout:
    return Layout.of(
        build_regions([SearchHit(1, "d", 0.5, text, "f.txt", content_type, 0, {}, None, 0, len(text))], [])[0]
    )


def test_a_plain_text_indented_as_a_whole_reads_flush_left_and_keeps_its_code_shape() -> None:
    # the Debian FAQ's plain text: every paragraph indented four spaces, some continuation lines by
    # no-break spaces, a blank line of no-break spaces between paragraphs, a command indented further
    text = (
        "    The Debian Project was created by Ian Murdock in 1993, initially\n"
        "\u00a0\u00a0\u00a0 under the sponsorship of the Free Software Foundation's GNU\n"
        "    project.\n"
        "\u00a0\u00a0\u00a0\u00a0\n"
        "    To build a kernel package, run the following command from the top:\n\n"
        "        make deb-pkg\n"
    )
    layout = _layout(text)
    assert layout.render(0, len(text)) == (
        "The Debian Project was created by Ian Murdock in 1993, initially under the sponsorship of the Free "
        "Software Foundation's GNU project.\n"
        "To build a kernel package, run the following command from the top:\n"
        "    make deb-pkg"
    )
    paragraphs = {u.group for u in layout.units}
    assert len(paragraphs) == 3  # the line of no-break spaces is blank: it ends the paragraph


def test_a_code_block_cut_between_two_chunks_keeps_its_shape() -> None:
    """Each chunk's stretch of a window loses the indentation the whole window shares, not its own."""
    text = "    server:\n        port: 8080\n        host: 0.0.0.0\n        workers: 4\n"
    cut = text.index("        host")
    hits = [
        SearchHit(1, "d", 0.5, text[:cut], "c.txt", "text/plain", 0, {}, None, 0, cut),
        SearchHit(2, "d", 0.5, text[cut:], "c.txt", "text/plain", 1, {}, None, cut, len(text)),
    ]
    layout = Layout.of(build_regions(hits, [])[0])
    pieces = pieces_of(layout, 0, len(layout.units) - 1)
    assert len(pieces) == 2
    assert marked(layout, pieces, 1) == "server:\n    port: 8080 [1]\n    host: 0.0.0.0\n    workers: 4 [2]"


def test_a_window_starting_mid_line_keeps_the_indentation_of_the_lines_after() -> None:
    text = "Run it like this. Then check:\n\n  oil --chain\n    --light\n"
    layout = _layout(text)
    start = text.index("Then")
    assert layout.render(start, len(text)) == "Then check:\noil --chain\n  --light"


def test_a_unit_longer_than_the_bound_is_cut_at_a_space() -> None:
    text = "Row | " + " | ".join(f"value {n} of the very wide table row" for n in range(60))
    region = build_regions([SearchHit(1, "d", 0.5, text, "t.md", "text/markdown", 0, {}, None, 0, len(text))], [])[0]
    layout = Layout.of(region)
    first, last = window(layout, 0)
    answer, pieces = fitted(layout, pieces_of(layout, first, last), 1)
    assert len(text) > MAX_CHARS >= len(answer) > MAX_CHARS - 60
    assert answer.endswith(" … [1]") and text.startswith(answer[: -len(" … [1]")])
    source = piece_source(region, pieces[0], 0.5)
    assert source.text == text[source.char_start : source.char_end] and source.char_end < len(text)


# --- through the library (both databases) -------------------------------------------------

GUIDE = (
    "# Storage guide\n\n"
    "## Fridge too warm\n\n"
    + " ".join(f"Filler sentence number {n} talks about shelves, labels and the weekly stock count." for n in range(6))
    + " If the fridge is too warm, move the vaccines to the backup fridge and ring pharmacy on extension 4410."
    + " Record the reading in the temperature log.\n\n"
    "## Restoring\n\n"
    "Stop at the first error by running psql with the variable set:\n\n"
    "```\npsql -X --set ON_ERROR_STOP=on dbname < dumpfile\n```\n\n"
    + " ".join(f"Closing remark {n} about dumps, archives and restores of the catalog." for n in range(8))
)


def _guide(store):
    store.settings = store.settings.replace(qa_min_score=0.1, chunk_max_tokens=40, chunk_overlap_tokens=10)
    outcome = store.ingest_bytes(GUIDE.encode(), "guide.md")
    assert outcome.status == "added"


def _check(store, answer) -> None:
    assert answer.found and len(answer.answer) <= MAX_CHARS
    assert_spans_exact(store, answer)
    markers = [int(n) for n in re.findall(r"\[(\d+)\]", answer.answer)]
    assert markers and sorted(set(markers)) == list(range(1, len(answer.sources) + 1))
    spans = sorted((s.document_id, s.char_start, s.char_end) for s in answer.sources)
    for (d1, _, end), (d2, start, _) in zip(spans, spans[1:]):
        assert d1 != d2 or end <= start  # no span quoted twice, not even in part
    for source in answer.sources:  # each stretch is in the answer, marked with its number
        assert f"[{answer.sources.index(source) + 1}]" in answer.answer


def test_answers_are_bounded_marked_and_never_repeat_a_span(store) -> None:
    _guide(store)
    for question in (
        "What do I do if the fridge is too warm?",
        "Which extension do I ring about the fridge?",
        "How do I make psql stop at the first error when restoring?",
        "weekly stock count shelves labels",
        "closing remark about archives",
    ):
        _check(store, store.ask(question, k=3))


def test_the_code_block_after_a_lead_in_is_in_the_answer(store) -> None:
    _guide(store)
    answer = store.ask("How do I make psql stop at the first error when restoring?", k=3)
    _check(store, answer)
    assert "variable set:" in answer.answer
    assert "psql -X --set ON_ERROR_STOP=on dbname < dumpfile" in answer.answer


def test_a_window_stays_inside_its_bounds() -> None:
    c = chunks()
    layout = Layout.of(build_regions([c[0]], [c[1], c[2], c[3]])[0])
    anchor = next(i for i, u in enumerate(layout.units) if u.text.startswith("Then ring pharmacy"))
    assert window(layout, anchor, target=600) == (anchor - 1, anchor + 1)
    assert window(layout, anchor, target=600, bounds=(anchor, anchor)) == (anchor, anchor)
    assert window(layout, anchor, target=600, bounds=(anchor - 1, anchor)) == (anchor - 1, anchor)


def _evidence_for(layout: Layout, picks: dict[int, float]) -> Evidence:
    scored = [
        Scored(Candidate(0, i, layout.units[i], "", 0), 0.6, 0.6, 0.5, pick)
        for i, pick in sorted(picks.items(), key=lambda x: -x[1])
    ]
    return Evidence("q", layout.region.chunks, [layout], scored, {}, {}, 4)


def test_a_second_place_next_to_the_first_is_quoted_up_to_it_not_dropped() -> None:
    c = chunks()
    layout = Layout.of(build_regions([c[0]], [c[1], c[2], c[3]])[0])
    units = layout.units
    first = next(i for i, u in enumerate(units) if u.text.startswith("If the fridge"))
    second = next(i for i, u in enumerate(units) if u.text.startswith("Do not use"))
    config = QaConfig(answer_chars=150)  # the second window alone would start with the first one's last sentence
    passages = compose_answer(_evidence_for(layout, {first: 1.0, second: 0.95}), config)
    assert len(passages) == 2
    assert "Do not use the vaccines again" in passages[1].text
    assert "Do not use" not in passages[0].text  # ... and no sentence is quoted twice
    assert passages[0].units[1] < passages[1].units[0]
    assert sum(len(p.text) for p in passages) + 2 <= MAX_CHARS
