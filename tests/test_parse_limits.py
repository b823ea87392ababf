"""Parse limits (issue 11, bug 1): decompression bombs, lying zip headers, PDF flate bombs, text per document.

The bombs are built in memory by tests/bombs.py (nothing big is committed).
Each refusal is checked for its class and for naming the limit it hit; how
fast and how lean the refusals are is measured in bench/bench_parse_limits.py.
"""

from __future__ import annotations

import io
import tracemalloc
import zipfile
import zlib
from dataclasses import FrozenInstanceError
from pathlib import Path

import pytest

from docqa.errors import DocqaError, ParseError, PayloadTooLarge
from docqa.ingest import parse_bytes, sniff
from docqa.ingest.limits import ParseLimits
from tests import bombs

SAMPLES = Path(__file__).resolve().parent.parent / "samples"
MB = 1_000_000


def refusal(data: bytes, name: str, limits: ParseLimits | None = None) -> DocqaError:
    with pytest.raises(DocqaError) as caught:
        parse_bytes(data, name, limits=limits)
    return caught.value


# --- the limits themselves ----------------------------------------------------------


def test_defaults_admit_a_50_mb_text_file_and_are_frozen() -> None:
    limits = ParseLimits()
    assert limits.max_text_chars >= 50 * MB  # decoded text never has more characters than the file has bytes
    assert limits.max_decompressed_bytes == 64 * 1024 * 1024
    assert limits.max_html_depth == 512
    with pytest.raises(FrozenInstanceError):
        limits.max_text_chars = 1  # type: ignore[misc]


@pytest.mark.parametrize("field", ["max_decompressed_bytes", "max_text_chars", "max_html_depth", "max_archive_members"])
@pytest.mark.parametrize("value", [0, -1, 1.5, True])
def test_limits_must_be_positive_integers(field: str, value: object) -> None:
    with pytest.raises(ValueError, match=field):
        ParseLimits(**{field: value})  # type: ignore[arg-type]


@pytest.mark.parametrize("path", sorted(p for p in SAMPLES.iterdir() if p.suffix in (".docx", ".pdf", ".html")))
def test_real_documents_parse_within_the_default_limits(path: Path) -> None:
    doc = parse_bytes(path.read_bytes(), path.name, limits=ParseLimits())
    assert len(doc.text) > 1000 and doc.sections


# --- zip bombs (DOCX) -----------------------------------------------------------------


def test_the_issues_50_mb_docx_bomb_is_refused_by_its_compression_ratio() -> None:
    data = bombs.docx_bomb(50 * MB)  # ~140 KiB, document.xml inflates ~470:1 to ~50 MB
    assert len(data) < 200 * 1024
    error = refusal(data, "report.docx")
    assert isinstance(error, PayloadTooLarge) and error.http_status == 413
    assert "word/document.xml" in error.message and "max_compression_ratio" in error.message
    assert "100:1" in error.message


def test_the_issues_300_mb_docx_bomb_is_refused_by_its_size() -> None:
    data = bombs.docx_bomb(300 * MB)  # ~650 KiB
    error = refusal(data, "report.docx", ParseLimits(max_compression_ratio=10_000))
    assert isinstance(error, PayloadTooLarge)
    assert error.message.startswith("report.docx: word/document.xml ")
    assert "64 MiB decompression limit (max_decompressed_bytes)" in error.message


def test_a_docx_whose_declared_sizes_lie_is_measured_by_inflating_it() -> None:
    # document.xml declares 20,000 bytes (with the CRC of that prefix, so zipfile accepts it), but its deflate
    # stream goes on to ~50 MB, which zipfile.read() would inflate in one piece before cutting it short.
    data = bombs.docx_lying_bomb(50 * MB)
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        assert archive.getinfo("word/document.xml").file_size == 20_000
    by_ratio = refusal(data, "lies.docx")
    assert isinstance(by_ratio, PayloadTooLarge) and "max_compression_ratio" in by_ratio.message
    by_size = refusal(data, "lies.docx", ParseLimits(max_compression_ratio=10_000, max_decompressed_bytes=8 * 2**20))
    assert isinstance(by_size, PayloadTooLarge)
    assert "word/document.xml inflates past the 8 MiB decompression limit (max_decompressed_bytes)" in by_size.message


def test_the_inflated_total_counts_every_member() -> None:
    # many members, each harmless, together past the limit: refused on what they declare, and when they lie
    # about it, on what they inflate to
    members = [bombs.raw_member(name, data) for name, data in bombs.sample_parts().items()]
    pads = [bombs.raw_member(f"word/media/pad{i}.bin", bytes(range(256)) * 2048) for i in range(6)]
    data = bombs.build_zip(members + pads)
    assert parse_bytes(data, "ok.docx").text
    limits = ParseLimits(max_decompressed_bytes=2 * 2**20)
    declared = refusal(data, "many.docx", limits)
    assert isinstance(declared, PayloadTooLarge)
    assert "the members declare" in declared.message and "2 MiB decompression limit" in declared.message
    for pad in pads:
        pad.file_size = 1000
    inflated = refusal(bombs.build_zip(members + pads), "many.docx", limits)
    assert isinstance(inflated, PayloadTooLarge)
    assert "the members up to word/media/pad" in inflated.message
    assert "inflate past the 2 MiB decompression limit (max_decompressed_bytes)" in inflated.message


def test_too_many_members_are_refused_before_zipfile_lists_them() -> None:
    members = [bombs.raw_member(name, data) for name, data in bombs.sample_parts().items()]
    members += [bombs.raw_member(f"junk/{i}", b"") for i in range(40)]
    data = bombs.build_zip(members)
    limits = ParseLimits(max_archive_members=50)
    error = refusal(data, "crowd.docx", limits)
    assert isinstance(error, PayloadTooLarge)
    assert "57 members" in error.message and "(max_archive_members)" in error.message
    with pytest.raises(PayloadTooLarge, match="max_archive_members"):
        sniff(data, "crowd.docx", limits=limits)


def test_compression_methods_word_does_not_use_are_refused() -> None:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        for name, data in bombs.sample_parts().items():
            archive.writestr(name, data, compress_type=zipfile.ZIP_BZIP2)
    error = refusal(out.getvalue(), "bzip.docx")
    assert isinstance(error, ParseError) and "compression method 12" in error.message


def _docx_with_body(body: bytes, doctype: bytes = b"") -> bytes:
    head, tail = bombs._body_split()
    declaration, rest = head.split(b"?>", 1)
    return bombs.docx_with_document(
        bombs.raw_member("word/document.xml", declaration + b"?>" + doctype + rest + body + tail)
    )


def _paragraph(text: bytes) -> bytes:
    return b"<w:p><w:r><w:t>" + text + b"</w:t></w:r></w:p>"


def test_xml_entities_are_not_expanded(tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET-CONTENT")
    doctype = (
        b'<!DOCTYPE w:document [<!ENTITY lol "LOLLOLLOL"><!ENTITY lol2 "&lol;&lol;&lol;&lol;">'
        b'<!ENTITY xxe SYSTEM "' + secret.as_uri().encode() + b'">]>'
    )
    body = _paragraph(b"Before &lol2; and &xxe; after") + _paragraph(b"Second paragraph")
    try:
        doc = parse_bytes(_docx_with_body(body, doctype), "entities.docx")
    except ParseError:
        return  # refusing the DTD outright is as good
    assert "LOL" not in doc.text and "TOP-SECRET" not in doc.text
    assert "Second paragraph" in doc.text


def _table(rows: list[bytes]) -> bytes:
    return b"<w:tbl>" + b"".join(b"<w:tr>" + row + b"</w:tr>" for row in rows) + b"</w:tbl>"


def _cell(text: bytes, properties: bytes = b"") -> bytes:
    return b"<w:tc><w:tcPr>" + properties + b"</w:tcPr>" + _paragraph(text) + b"</w:tc>"


def test_merged_table_cells_keep_their_text_once_per_row() -> None:
    rows = [
        _cell(b"Wide heading", b'<w:gridSpan w:val="2"/>') + _cell(b"Notes", b'<w:vMerge w:val="restart"/>'),
        _cell(b"a") + _cell(b"b") + _cell(b"", b"<w:vMerge/>"),
    ]
    doc = parse_bytes(_docx_with_body(_paragraph(b"Intro") + _table(rows)), "merged.docx")
    assert "Wide heading | Notes\na | b | Notes" in doc.text


def test_a_cell_spanning_millions_of_columns_costs_nothing() -> None:
    # python-docx's row.cells repeats a cell once per grid column it spans: 20 rows x 200,000 columns took
    # seconds and hundreds of MB (20,000,000 columns: minutes). Cells are now read from the XML.
    rows = [_cell(b"x", b'<w:gridSpan w:val="200000"/>') + _cell(b"y") for _ in range(20)]
    data = _docx_with_body(_paragraph(b"Intro") + _table(rows))
    tracemalloc.start()
    try:
        doc = parse_bytes(data, "span.docx")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert "x | y" in doc.text
    assert peak < 30 * MB


# --- PDF flate bombs -----------------------------------------------------------------------


def test_a_pdf_flate_bomb_is_refused_by_its_ratio() -> None:
    data = bombs.pdf_flate_bomb(100 * 2**20)  # ~140 KB, one content stream inflating to 100 MiB of spaces
    assert len(data) < 200 * 1024
    error = refusal(data, "bomb.pdf")
    assert isinstance(error, PayloadTooLarge) and "page 1" in error.message
    assert "(max_compression_ratio)" in error.message


def test_a_pdf_flate_bomb_is_refused_by_its_size() -> None:
    error = refusal(bombs.pdf_flate_bomb(100 * 2**20), "bomb.pdf", ParseLimits(max_compression_ratio=100_000))
    assert isinstance(error, PayloadTooLarge)
    assert "inflate past the 64 MiB decompression limit (max_decompressed_bytes)" in error.message


def _page_stream(number: int, size: int) -> bytes:
    line = bombs.text_content(f"Page {number} line")
    return zlib.compress(line * (size // len(line)))


def test_the_decompressed_total_counts_every_page() -> None:
    data = bombs.pdf_with_streams([_page_stream(n, 30_000) for n in range(1, 6)])
    assert parse_bytes(data, "pages.pdf").pages[-1][0] == 5
    error = refusal(data, "pages.pdf", ParseLimits(max_decompressed_bytes=100 * 1024))
    assert isinstance(error, PayloadTooLarge)
    assert "the streams up to page 4 inflate past the 100 KiB decompression limit" in error.message


def test_pdf_text_is_stopped_at_the_limit_while_it_is_extracted() -> None:
    data = bombs.pdf_with_streams([_page_stream(n, 30_000) for n in range(1, 6)])
    error = refusal(data, "pages.pdf", ParseLimits(max_text_chars=10_000))
    assert isinstance(error, PayloadTooLarge)
    assert "extracted text exceeds the 10,000-character limit (max_text_chars)" in error.message


# --- extracted text per document ----------------------------------------------------------


def _sample(suffix: str) -> Path:
    return next(p for p in sorted(SAMPLES.iterdir()) if p.suffix == suffix)


@pytest.mark.parametrize("suffix", [".txt", ".md", ".html", ".pdf", ".docx"])
def test_text_over_the_limit_is_refused_in_every_format(suffix: str) -> None:
    path = _sample(suffix)
    length = len(parse_bytes(path.read_bytes(), path.name).text)
    assert parse_bytes(path.read_bytes(), path.name, limits=ParseLimits(max_text_chars=length + 2))
    error = refusal(path.read_bytes(), path.name, ParseLimits(max_text_chars=length // 2))
    assert isinstance(error, PayloadTooLarge) and error.http_status == 413
    assert f"the {length // 2:,}-character limit (max_text_chars)" in error.message
    assert error.message.startswith(path.name + ": ")


def test_plain_text_at_exactly_the_limit_passes() -> None:
    text = ("word " * 2000).encode()
    assert len(parse_bytes(text, "a.txt", limits=ParseLimits(max_text_chars=len(text))).text) == len(text)
    with pytest.raises(PayloadTooLarge, match="max_text_chars"):
        parse_bytes(text, "a.txt", limits=ParseLimits(max_text_chars=len(text) - 1))


def test_style_names_are_python_docxs_looked_up_once(monkeypatch: pytest.MonkeyPatch) -> None:
    # python-docx's paragraph.style scans every style on each call (the issue's 50 MB document: minutes)
    import docx
    from docx.styles.styles import Styles

    from docqa.ingest.parse_docx import _StyleNames

    ids = [b"Heading1", b"Title", b"ListBullet", b"NoSuchStyle", b"DefaultParagraphFont", b""]  # last: no pStyle
    body = b"".join(
        b"<w:p><w:pPr>" + (b'<w:pStyle w:val="' + i + b'"/>' if i else b"") + b"</w:pPr><w:r><w:t>p</w:t></w:r></w:p>"
        for i in ids
    )
    data = _docx_with_body(body)
    document = docx.Document(io.BytesIO(data))
    names = _StyleNames(document)
    assert [names.of(p) for p in document.paragraphs] == [p.style.name for p in document.paragraphs]
    calls = []
    original = Styles.default
    monkeypatch.setattr(Styles, "default", lambda self, kind: calls.append(kind) or original(self, kind))
    parse_bytes(_docx_with_body(body * 200), "styles.docx")
    assert len(calls) == 1
