"""A document's bytes, read in blocks instead of held: in memory, in a file, or in a spooled upload.

    source = ByteSource.from_path(Path("big.txt"))     # or from_bytes(data), from_file(spooled_upload)
    source.content_hash()                              # one streamed pass (the same digest as the bytes')
    for base, text in decoded_windows(source, "big.txt", limits, markdown=False): ...

`decoded_windows` decodes plain text and Markdown the way `parse_text.decode_text` does
(byte-order mark, else UTF-8, else cp1252, else latin-1; newlines normalised, NUL removed) and
hands the text out in windows of about WINDOW_CHARS cut at a blank line, so a 50 MB file never
exists as one string: each window is parsed and chunked on its own (ingest/windows.py). The
offsets (`base`) are those of the whole decoded text, so chunks cite the same spans a whole parse
would. Markdown windows are never cut inside a fenced code block, nor before a `---` line (a new
window starting with one would read as front matter).
"""

from __future__ import annotations

import codecs
import io
import re
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

import xxhash

from docqa.errors import ParseError
from docqa.ingest.limits import ParseLimits, check_text_length
from docqa.ingest.parse_text import BLOCK_SPLIT, BOMS, FALLBACK_ENCODINGS

READ_BYTES = 1 << 20
HEAD_BYTES = 64 * 1024
WINDOW_CHARS = 256 * 1024
_HARD_CUT = 4  # a window with no blank line is cut at a newline (else anywhere) past this many WINDOW_CHARS
_FENCE_LINE = re.compile(r"^ {0,3}(`{3,}|~{3,})", re.M)


class ByteSource:
    """The bytes of one document; every pass reads them again from the start, block by block."""

    def __init__(self, *, data: bytes | None = None, file: BinaryIO | None = None, path: Path | None = None) -> None:
        self._data, self._file, self._path = data, file, path
        if data is not None:
            self.size = len(data)
        elif path is not None:
            self.size = path.stat().st_size
        else:
            assert file is not None
            self.size = file.seek(0, io.SEEK_END)

    @classmethod
    def from_bytes(cls, data: bytes) -> ByteSource:
        return cls(data=data)

    @classmethod
    def from_file(cls, file: BinaryIO) -> ByteSource:
        """A seekable binary file (e.g. a SpooledTemporaryFile); it is read, never closed."""
        return cls(file=file)

    @classmethod
    def from_path(cls, path: Path) -> ByteSource:
        return cls(path=Path(path))

    def blocks(self, size: int | None = None) -> Iterator[bytes]:
        size = size or READ_BYTES
        if self._data is not None:
            for start in range(0, len(self._data), size):
                yield self._data[start : start + size]
            return
        handle = self._path.open("rb") if self._path is not None else self._file
        assert handle is not None
        try:
            handle.seek(0)
            while block := handle.read(size):
                yield block
        finally:
            if self._path is not None:
                handle.close()

    def head(self, size: int = HEAD_BYTES) -> bytes:
        if self._data is not None:
            return self._data[:size]
        return next(self.blocks(size), b"")

    def read_all(self) -> bytes:
        """The whole content, for parsers that need it (PDF, DOCX, HTML)."""
        if self._data is not None:
            return self._data
        return b"".join(self.blocks())

    def content_hash(self) -> str:
        digest = xxhash.xxh3_128()
        for block in self.blocks():
            digest.update(block)
        return digest.hexdigest()


def _encoding(source: ByteSource) -> tuple[str, int]:
    """(encoding, bytes of byte-order mark to skip), decided as decode_text decides."""
    head = source.head(4)
    for bom, encoding in BOMS:
        if head.startswith(bom):
            return encoding, len(bom)
    *tried, always = FALLBACK_ENCODINGS
    for encoding in tried:
        decoder = codecs.getincrementaldecoder(encoding)()
        try:
            for block in source.blocks():
                decoder.decode(block)
            decoder.decode(b"", final=True)
            return encoding, 0
        except UnicodeDecodeError:
            continue
    return always, 0


def _decoded(source: ByteSource, filename: str) -> Iterator[str]:
    """The decoded, normalised text in pieces (a CR at a piece's end waits for a possible LF)."""
    encoding, skip = _encoding(source)
    decoder = codecs.getincrementaldecoder(encoding)()
    held = ""
    try:
        for block in source.blocks():
            if skip:
                block, skip = block[skip:], max(0, skip - len(block))
            text = held + decoder.decode(block)
            held = "\r" if text.endswith("\r") else ""
            yield _normalise(text[:-1] if held else text)
        text = held + decoder.decode(b"", final=True)
    except UnicodeDecodeError as exc:
        raise ParseError(
            f"{filename}: invalid {encoding} text after its byte-order mark ({exc.reason})", filename=filename
        ) from exc
    yield _normalise(text)


def _normalise(text: str) -> str:
    return text.replace("\r\n", "\n").replace("\r", "\n").replace("\x00", "")


def decoded_windows(
    source: ByteSource, filename: str, limits: ParseLimits, *, markdown: bool, window_chars: int = WINDOW_CHARS
) -> Iterator[tuple[int, str]]:
    """(offset in the whole decoded text, window text), in order; together they are the whole text."""
    window_chars = max(1, window_chars)
    buffer, base, total, seen_text = "", 0, 0, False
    for piece in _decoded(source, filename):
        total += len(piece)
        check_text_length(total, filename, limits.max_text_chars)
        buffer += piece
        while len(buffer) >= window_chars:
            cut = _cut(buffer, window_chars, markdown)
            if cut is None:
                break
            window, buffer = buffer[:cut], buffer[cut:]
            seen_text = seen_text or bool(window.strip())
            yield base, window
            base += cut
    if buffer.strip() or not seen_text:
        if not seen_text and not buffer.strip():
            raise ParseError(f"{filename}: file is empty (no text to extract)", filename=filename)
        yield base, buffer


def _cut(buffer: str, window_chars: int, markdown: bool) -> int | None:
    """Where to end the next window: after the last blank line that leaves whole blocks on both sides."""
    fences = [m.start() for m in _FENCE_LINE.finditer(buffer)] if markdown else []
    for match in reversed(list(BLOCK_SPLIT.finditer(buffer, window_chars // 2))):
        cut = match.end()
        if markdown and (sum(1 for f in fences if f < cut) % 2 or buffer[cut:].split("\n", 1)[0].strip() == "---"):
            continue
        return cut
    if len(buffer) < _HARD_CUT * window_chars:
        return None  # wait for more text: a blank line is probably near
    newline = buffer.rfind("\n", 0, len(buffer) - 1)
    return newline + 1 if newline > 0 else len(buffer)
