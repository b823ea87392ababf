"""Decompression bombs and deep markup, built in memory at test time (nothing big is committed).

Used by tests/test_parse_limits.py and bench/bench_parse_limits.py. A deflate
stream of N copies of a unit is made by compressing the unit once with a full
flush (which makes its compressed block independent of what came before) and
repeating that block, so a 300 MB member costs a CRC pass, not a compression.
The zip is written by hand so that its declared sizes can lie.
"""

from __future__ import annotations

import io
import struct
import zipfile
import zlib
from dataclasses import dataclass
from functools import cache
from pathlib import Path

SAMPLES = Path(__file__).resolve().parent.parent / "samples"
DOCX_SAMPLE = SAMPLES / "discharge-checklist.docx"


@dataclass
class RawMember:
    name: str
    compressed: bytes
    crc: int
    file_size: int  # declared inflated size
    method: int = zipfile.ZIP_DEFLATED


def raw_member(name: str, data: bytes) -> RawMember:
    deflater = zlib.compressobj(6, zlib.DEFLATED, -zlib.MAX_WBITS)
    return RawMember(name, deflater.compress(data) + deflater.flush(), zlib.crc32(data), len(data))


def repeated_member(name: str, head: bytes, unit: bytes, count: int, tail: bytes) -> RawMember:
    """head + unit * count + tail, deflated without compressing count units."""
    deflater = zlib.compressobj(9, zlib.DEFLATED, -zlib.MAX_WBITS)
    first = deflater.compress(head) + deflater.flush(zlib.Z_FULL_FLUSH)
    block = deflater.compress(unit) + deflater.flush(zlib.Z_FULL_FLUSH)
    last = deflater.compress(tail) + deflater.flush()
    crc = zlib.crc32(head)
    for _ in range(count):
        crc = zlib.crc32(unit, crc)
    crc = zlib.crc32(tail, crc)
    return RawMember(name, first + block * count + last, crc, len(head) + len(unit) * count + len(tail))


def build_zip(members: list[RawMember]) -> bytes:
    out = io.BytesIO()
    central = io.BytesIO()
    for member in members:
        name = member.name.encode()
        offset = out.tell()
        fields = (20, 0, member.method, 0, 0, member.crc, len(member.compressed), member.file_size, len(name), 0)
        out.write(struct.pack("<4s5H3L2H", b"PK\x03\x04", *fields) + name + member.compressed)
        central.write(struct.pack("<4s6H3L5H2L", b"PK\x01\x02", 20, *fields, 0, 0, 0, 0, offset) + name)
    directory = central.getvalue()
    start = out.tell()
    out.write(directory)
    out.write(struct.pack("<4s4H2LH", b"PK\x05\x06", 0, 0, len(members), len(members), len(directory), start, 0))
    return out.getvalue()


def sample_parts() -> dict[str, bytes]:
    with zipfile.ZipFile(DOCX_SAMPLE) as archive:
        return {info.filename: archive.read(info) for info in archive.infolist()}


def _body_split() -> tuple[bytes, bytes]:
    document = sample_parts()["word/document.xml"]
    body = document.index(b"<w:body>") + len(b"<w:body>")
    section = document.rindex(b"<w:sectPr")
    return document[:body], document[section:]


def paragraph_unit() -> bytes:
    """1 MiB of Word paragraphs (a sentence, then a run of dots) that deflates ~470:1, like the issue's bombs."""
    paragraph = b"<w:p><w:r><w:t>Take your medicines as listed " + b"." * 1400 + b"</w:t></w:r></w:p>"
    return paragraph * (1024 * 1024 // len(paragraph))


def docx_with_document(document: RawMember) -> bytes:
    """The sample DOCX with its word/document.xml replaced."""
    members = [raw_member(name, data) for name, data in sample_parts().items() if name != "word/document.xml"]
    return build_zip([document, *members])


@cache
def docx_bomb(inflated_bytes: int) -> bytes:
    """A valid DOCX whose document.xml inflates to about `inflated_bytes` (ratio ~470:1)."""
    head, tail = _body_split()
    unit = paragraph_unit()
    count = max(1, inflated_bytes // len(unit))
    return docx_with_document(repeated_member("word/document.xml", head, unit, count, tail))


@cache
def docx_lying_bomb(inflated_bytes: int, declared_bytes: int = 20_000) -> bytes:
    """document.xml declares `declared_bytes` (with the CRC of that prefix), but its stream inflates much further."""
    head, tail = _body_split()
    unit = paragraph_unit()
    member = repeated_member("word/document.xml", head, unit, max(1, inflated_bytes // len(unit)), tail)
    prefix = (head + unit * (declared_bytes // len(unit) + 1))[:declared_bytes]
    member.file_size = declared_bytes
    member.crc = zlib.crc32(prefix)
    return docx_with_document(member)


def _pdf(objects: list[bytes]) -> bytes:
    out = io.BytesIO()
    out.write(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(out.tell())
        out.write(b"%d 0 obj\n" % number + body + b"\nendobj\n")
    xref = out.tell()
    out.write(b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1))
    for offset in offsets:
        out.write(b"%010d 00000 n \n" % offset)
    out.write(b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref))
    return out.getvalue()


def pdf_with_streams(streams: list[bytes]) -> bytes:
    """A PDF with one page per FlateDecode content stream in `streams` (already deflated, zlib format)."""
    pages = len(streams)
    first_page = 4
    kids = b" ".join(b"%d 0 R" % (first_page + 2 * k) for k in range(pages))
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [" + kids + b"] /Count %d >>" % pages,
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    for k, stream in enumerate(streams):
        content = first_page + 2 * k + 1
        objects.append(
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] "
            b"/Resources << /Font << /F1 3 0 R >> >> /Contents %d 0 R >>" % content
        )
        objects.append(b"<< /Length %d /Filter /FlateDecode >>\nstream\n" % len(stream) + stream + b"\nendstream")
    return _pdf(objects)


def text_content(text: str) -> bytes:
    return b"BT /F1 12 Tf 72 720 Td (" + text.encode("latin-1") + b") Tj ET\n"


def zlib_repeated(head: bytes, unit: bytes, count: int) -> bytes:
    """zlib-format stream of head + unit * count."""
    raw = repeated_member("x", head, unit, count, b"")
    check = zlib.adler32(head)
    for _ in range(count):
        check = zlib.adler32(unit, check)
    return b"\x78\xda" + raw.compressed + struct.pack(">L", check)


@cache
def pdf_flate_bomb(inflated_bytes: int) -> bytes:
    """A one-page PDF whose content stream shows a line of text, then inflates to ~`inflated_bytes` of spaces."""
    unit = b" " * 65536
    return pdf_with_streams([zlib_repeated(text_content("Flate bomb"), unit, max(1, inflated_bytes // len(unit)))])


def deep_html(depth: int, tag: str = "div") -> bytes:
    return b"<html><body>" + f"<{tag}>".encode() * depth + b"deep" + f"</{tag}>".encode() * depth + b"</body></html>"
