"""Open zip-based documents (DOCX) without trusting what the archive says about itself.

Before `zipfile` lists the members, the member count is read from the end
record and checked (`max_archive_members`): listing half a million members
costs seconds and hundreds of MB. Before python-docx/lxml touch the package,
every member is inflated here once, in bounded steps, from its raw bytes
(exactly the bytes `zipfile` would feed to zlib), and the counts are checked
as the bytes come out: the total against `max_decompressed_bytes`, each member
and the archive as a whole against `max_compression_ratio`. Declared sizes are
checked too, but they are not what is trusted: `zipfile.ZipFile.read()`
inflates a member's whole compressed stream in one call and only then cuts it
to the declared size, so a member declaring 10 KiB could still inflate to
gigabytes in memory. Nothing is kept: the memory used is one step's output.
"""

from __future__ import annotations

import io
import struct
import zipfile

from docqa.errors import ParseError
from docqa.ingest.limits import (
    ParseLimits,
    decompression_refusal,
    inflated_size,
    ratio_exceeded,
    ratio_refusal,
    refuse,
)

_EOCD = b"PK\x05\x06"
_ZIP64_LOCATOR = b"PK\x06\x07"
_ZIP64_EOCD = b"PK\x06\x06"
_LOCAL_HEADER = struct.Struct("<4s5H3L2H")  # signature ... name length, extra length


def declared_member_count(data: bytes) -> int | None:
    """The member count the end-of-central-directory record declares (zip64 aware); None if not found."""
    start = data.rfind(_EOCD, max(0, len(data) - 22 - 65535))
    if start < 0 or start + 22 > len(data):
        return None
    count = struct.unpack_from("<H", data, start + 10)[0]
    if count != 0xFFFF:
        return count
    locator = start - 20
    if locator < 0 or data[locator : locator + 4] != _ZIP64_LOCATOR:
        return count
    offset = struct.unpack_from("<Q", data, locator + 8)[0]
    if offset + 56 > len(data) or data[offset : offset + 4] != _ZIP64_EOCD:
        return count
    return int(struct.unpack_from("<Q", data, offset + 32)[0])


def open_archive(data: bytes, filename: str, limits: ParseLimits) -> zipfile.ZipFile:
    """A ZipFile over `data`, once its member count is within the limit."""
    count = declared_member_count(data)
    if count is not None and count > limits.max_archive_members:
        what = f"zip archive has {count:,} members, over the {limits.max_archive_members:,}-member limit"
        raise refuse(filename, what, "max_archive_members", limits.max_archive_members)
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, OSError, ValueError, EOFError, struct.error) as exc:
        raise ParseError(f"{filename}: not a readable DOCX/zip file ({exc})", filename=filename) from exc
    if len(archive.infolist()) > limits.max_archive_members:  # the end record was missing or lied
        archive.close()
        what = f"zip archive has over {limits.max_archive_members:,} members"
        raise refuse(filename, what, "max_archive_members", limits.max_archive_members)
    return archive


def _raw_bytes(data: bytes, info: zipfile.ZipInfo, filename: str) -> memoryview:
    """The compressed bytes of `info`, as zipfile reads them (local header, then compress_size bytes)."""
    offset = info.header_offset
    if offset < 0 or offset + _LOCAL_HEADER.size > len(data):
        raise ParseError(f"{filename}: zip member {info.filename} points outside the file", filename=filename)
    header = _LOCAL_HEADER.unpack_from(data, offset)
    if header[0] != b"PK\x03\x04":
        raise ParseError(f"{filename}: zip member {info.filename} has a bad local header", filename=filename)
    start = offset + _LOCAL_HEADER.size + header[9] + header[10]
    return memoryview(data)[start : start + info.compress_size]


def _check_declared(infos: list[zipfile.ZipInfo], filename: str, limits: ParseLimits) -> None:
    """What the central directory declares: cheap to check, so checked first (but not trusted)."""
    budget = limits.max_decompressed_bytes
    declared = 0
    for info in infos:
        if info.flag_bits & 0x1:
            raise ParseError(f"{filename}: zip member {info.filename} is encrypted", filename=filename)
        if info.file_size > budget:
            raise decompression_refusal(filename, info.filename, limits, verb=f"declares {info.file_size:,} bytes,")
        if ratio_exceeded(info.file_size, info.compress_size, limits):
            raise ratio_refusal(filename, info.filename, info.file_size, info.compress_size, limits)
        declared += info.file_size
        if declared > budget:
            raise decompression_refusal(filename, "the members", limits, verb=f"declare {declared:,} bytes in all,")


def _inflated(
    data: bytes, info: zipfile.ZipInfo, stop_after: int, filename: str, limits: ParseLimits
) -> tuple[int, int]:
    """(inflated, compressed) size of a member, inflating at most just past `stop_after`."""
    raw = _raw_bytes(data, info, filename)
    if info.compress_type == zipfile.ZIP_STORED:
        return len(raw), len(raw)
    if info.compress_type != zipfile.ZIP_DEFLATED:
        raise ParseError(
            f"{filename}: zip member {info.filename} uses compression method {info.compress_type}, "
            "which Word documents do not use",
            filename=filename,
        )
    # Ratio first: a bomb is stopped once it has inflated just past the ratio floor.
    ratio_stop = max(limits.ratio_check_min_bytes, limits.max_compression_ratio * len(raw))
    size = inflated_size(raw, min(stop_after, ratio_stop))
    if size is None:
        raise ParseError(f"{filename}: zip member {info.filename} is not valid deflate data", filename=filename)
    if ratio_exceeded(size, len(raw), limits):
        raise ratio_refusal(filename, info.filename, size, len(raw), limits)
    return size, len(raw)


def check_inflation(archive: zipfile.ZipFile, data: bytes, filename: str, limits: ParseLimits) -> None:
    """Refuse the archive if inflating its members would pass a limit (see the module docstring)."""
    infos = archive.infolist()
    _check_declared(infos, filename, limits)
    budget = limits.max_decompressed_bytes
    total = 0
    compressed_total = 0
    for info in infos:
        size, compressed = _inflated(data, info, budget - total, filename, limits)
        total += size
        compressed_total += compressed
        if size > budget:
            raise decompression_refusal(filename, info.filename, limits)
        if total > budget:
            raise decompression_refusal(filename, f"the members up to {info.filename}", limits, verb="inflate")
        if ratio_exceeded(total, compressed_total, limits):
            raise ratio_refusal(filename, "the archive as a whole", total, compressed_total, limits)
