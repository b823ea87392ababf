"""Resource limits for parsing one document, and the errors that name them.

The upload limit (`max_upload_bytes`) counts the bytes a client sends. These
limits bound what those bytes turn into, so that a small file cannot make a
parser inflate, build or walk something huge (issue 11: a 107 KiB DOCX whose
`word/document.xml` inflates to ~50 MB took 297 s and 1.5 GB of RSS).

Defaults, and why:

- `max_decompressed_bytes` = 64 MiB: the total inflated size of the members
  of a zip-based file (DOCX) and of the decompressed content streams of a
  PDF. Real documents sit far below it: a 500-page Word book has a
  `document.xml` of 5-15 MB, a 100-page report 1-3 MB, and embedded images are
  stored already compressed (inflated ~= stored, so bounded by the upload
  limit). 64 MiB still admits any of those with room to spare. What it admits
  is paid for in memory: lxml's tree of element-dense Word XML takes ~11x the
  XML's size (17 MiB of short paragraphs: 187 MB of RSS), so a document at the
  limit costs ~700 MB while it is parsed; 200 MiB would let one upload cost
  over 2 GB. Lower it where workers have less to spend.
- `max_compression_ratio` = 100 and `ratio_check_min_bytes` = 10 MiB: a member
  (or PDF stream, or the archive as a whole) that has inflated past 10 MiB at
  more than 100 bytes out per byte in is refused as a bomb. The issue's bombs
  inflate at ~470:1 (107 KiB -> 50 MB, 647 KiB -> 300 MB); the 50 MB one is
  under the size limit, so the size limit alone would not refuse it, but the
  ratio rule refuses both after inflating 10 MiB (tens of milliseconds).
  Real Word XML compresses 3-30:1 (styles.xml, the most repetitive part,
  ~30:1), PDF content streams 3-10:1. Below 10 MiB the ratio is not judged:
  small, very regular parts (an empty table of 1,000 rows) may compress
  better than 100:1 and cost nothing.
- `max_archive_members` = 10,000: a DOCX has 10-50 parts (a few hundred with
  many images). Listing the members costs `zipfile` ~15 us and ~0.5 KB each
  (65,000 empty members in a 5.8 MB file: ~1 s and 33 MB; a 50 MiB upload can
  hold ten times that), so the count is read from the end record first.
- `max_text_chars` = 64 Mi characters of extracted text per document: must
  admit a 50 MB plain-text file (the upload limit is 50 MiB, and decoded text
  never has more characters than the file has bytes); bounds what a
  compressed format can expand to.
- `max_html_depth` = 512 elements: what the HTML extractor could already
  walk (it failed at ~490 block levels on Python's recursion limit). Real pages
  nest 10-50 deep, generated ones rarely past 100. The check runs on the bytes
  before the HTML parser, whose tree building is quadratic in the depth
  (100,000 deep took over 150 s), and again on the parsed tree.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass, fields

from docqa.errors import PayloadTooLarge

MiB = 1024 * 1024


@dataclass(frozen=True)
class ParseLimits:
    """What one document may cost to parse. Every field is a positive integer."""

    max_decompressed_bytes: int = 64 * MiB
    max_compression_ratio: int = 100
    ratio_check_min_bytes: int = 10 * MiB
    max_archive_members: int = 10_000
    max_text_chars: int = 64 * MiB
    max_html_depth: int = 512

    def __post_init__(self) -> None:
        for item in fields(self):
            value = getattr(self, item.name)
            if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
                raise ValueError(f"ParseLimits.{item.name} must be a positive integer, not {value!r}")


DEFAULT_LIMITS = ParseLimits()


def size_text(nbytes: int) -> str:
    """`67108864` -> "64 MiB"; sizes that are not whole MiB or KiB stay in bytes."""
    for unit, size in (("GiB", 1024 * MiB), ("MiB", MiB), ("KiB", 1024)):
        if nbytes >= size and nbytes % size == 0:
            return f"{nbytes // size} {unit}"
    return f"{nbytes} bytes"


def refuse(filename: str, what: str, limit_name: str, limit: int, **details: object) -> PayloadTooLarge:
    """The error for `what` going past `limit_name`; the message names the limit and its value."""
    return PayloadTooLarge(f"{filename}: {what} ({limit_name})", filename=filename, limit=limit, **details)


def decompression_refusal(filename: str, subject: str, limits: ParseLimits, verb: str = "inflates") -> PayloadTooLarge:
    """E.g. "report.docx: word/document.xml inflates past the 64 MiB decompression limit (max_decompressed_bytes)"."""
    limit = limits.max_decompressed_bytes
    return refuse(
        filename, f"{subject} {verb} past the {size_text(limit)} decompression limit", "max_decompressed_bytes", limit
    )


def ratio_refusal(filename: str, subject: str, inflated: int, compressed: int, limits: ParseLimits) -> PayloadTooLarge:
    ratio = limits.max_compression_ratio
    what = (
        f"{subject} inflates {compressed:,} bytes to over {size_text(limits.ratio_check_min_bytes)}, "
        f"more than {ratio}:1 (a decompression bomb)"
    )
    return refuse(filename, what, "max_compression_ratio", ratio, inflated=inflated, compressed=compressed)


def ratio_exceeded(inflated: int, compressed: int, limits: ParseLimits) -> bool:
    return inflated > limits.ratio_check_min_bytes and inflated > limits.max_compression_ratio * max(compressed, 1)


def inflated_size(raw: bytes | memoryview, stop_after: int, wbits: int = -zlib.MAX_WBITS) -> int | None:
    """What deflate data `raw` inflates to, in 1 MiB steps, stopping once past `stop_after`; None if not deflate.

    Memory stays at one step's output, whatever `raw` declares or holds.
    """
    inflater = zlib.decompressobj(wbits)
    total = 0
    pending: bytes | memoryview = raw
    try:
        while pending and not inflater.eof and total <= stop_after:
            total += len(inflater.decompress(pending, MiB))
            pending = inflater.unconsumed_tail
    except zlib.error:
        return None
    return total


def check_text_length(length: int, filename: str, max_text_chars: int) -> None:
    """Refuse extracted text longer than `max_text_chars`."""
    if length > max_text_chars:
        what = f"extracted text exceeds the {max_text_chars:,}-character limit"
        raise refuse(filename, what, "max_text_chars", max_text_chars)
