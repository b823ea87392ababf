"""Bound what a PDF may inflate to, and how much text it may yield.

Two layers, both through pypdf's public API:

- per stream, while inflating: pypdf's own output limits (`pypdf.Configuration`,
  e.g. `zlib_maximum_output_length`, default 75 MB) are lowered, for the whole
  parse, to what is left of `max_decompressed_bytes`; a stream that would
  inflate further stops there (pypdf raises LimitReachedError, refused here as
  PayloadTooLarge naming `max_decompressed_bytes`). This covers every stream
  pypdf decodes: xref and object streams, content streams, fonts, CMaps.
- per document: before a page's text is extracted, its content streams, its
  form XObjects (recursively) and its fonts' streams are decoded here (pypdf
  caches the result on the stream object, so extraction does not decode them
  again) and their sizes are added up against `max_decompressed_bytes`, and
  each one is checked against `max_compression_ratio`: a content stream
  inflating 1000:1 into tens of MB of whitespace is a bomb even under the size
  limit, and pypdf's content parser would spend a minute on it.

Text is counted as pypdf's visitor hands it over, so a page whose fonts map
one byte to many characters is stopped inside `extract_text`, not after it.
"""

from __future__ import annotations

import re
import zlib
from collections.abc import Iterator
from contextlib import contextmanager

from pypdf import Configuration, PageObject, apply_configuration
from pypdf.errors import LimitReachedError
from pypdf.generic import ArrayObject, DictionaryObject, StreamObject

from docqa.errors import DocqaError, ParseError
from docqa.ingest.limits import (
    ParseLimits,
    check_text_length,
    decompression_refusal,
    inflated_size,
    ratio_exceeded,
    ratio_refusal,
)

_OUTPUT_LIMITS = (
    "zlib_maximum_output_length",
    "lzw_maximum_output_length",
    "run_length_maximum_output_length",
    "brotli_maximum_output_length",
    "jbig2_maximum_output_length",
    "array_based_stream_maximum_output_length",
    "stream_decoding_work_maximum_length",
)
_DECODING_LIMIT = re.compile(r"decompress|decoding work|output bytes", re.I)  # the limits lowered above
_FLATE = ("/FlateDecode", "/Fl", ["/FlateDecode"], ["/Fl"])
_FONT_FILES = ("/FontFile", "/FontFile2", "/FontFile3")
_MAX_FORM_NESTING = 32
_PYPDF_DEFAULTS = Configuration()


def _resolve(value: object) -> object:
    return value.get_object() if hasattr(value, "get_object") else value


def _streams(value: object) -> Iterator[StreamObject]:
    value = _resolve(value)
    if isinstance(value, StreamObject):
        yield value
    elif isinstance(value, ArrayObject):
        for item in value:
            item = _resolve(item)
            if isinstance(item, StreamObject):
                yield item


def _font_streams(font: object) -> Iterator[StreamObject]:
    font = _resolve(font)
    if not isinstance(font, DictionaryObject):
        return
    yield from _streams(font.get("/ToUnicode"))
    descriptors = [font.get("/FontDescriptor")]
    descendants = _resolve(font.get("/DescendantFonts"))
    for descendant in descendants if isinstance(descendants, ArrayObject) else ():
        descendant = _resolve(descendant)
        if isinstance(descendant, DictionaryObject):
            descriptors.append(descendant.get("/FontDescriptor"))
    for descriptor in descriptors:
        descriptor = _resolve(descriptor)
        if isinstance(descriptor, DictionaryObject):
            for key in _FONT_FILES:
                yield from _streams(descriptor.get(key))


def _resource_streams(resources: object, nesting: int = 0) -> Iterator[StreamObject]:
    resources = _resolve(resources)
    if not isinstance(resources, DictionaryObject) or nesting > _MAX_FORM_NESTING:
        return
    fonts = _resolve(resources.get("/Font"))
    if isinstance(fonts, DictionaryObject):
        for font in fonts.values():
            yield from _font_streams(font)
    xobjects = _resolve(resources.get("/XObject"))
    if isinstance(xobjects, DictionaryObject):
        for xobject in xobjects.values():
            xobject = _resolve(xobject)
            if isinstance(xobject, StreamObject) and xobject.get("/Subtype") == "/Form":
                yield xobject
                yield from _resource_streams(xobject.get("/Resources"), nesting + 1)


class StreamBudget:
    """The decompression and text budget of one PDF."""

    def __init__(self, filename: str, limits: ParseLimits) -> None:
        self.filename = filename
        self.limits = limits
        self.inflated = 0
        self.text = 0
        self._seen: set[int] = set()

    @property
    def remaining(self) -> int:
        return max(self.limits.max_decompressed_bytes - self.inflated, 1)

    @contextmanager
    def applied(self) -> Iterator[None]:
        """pypdf's per-stream output limits, lowered to what is left of the budget."""
        caps = {name: min(getattr(_PYPDF_DEFAULTS, name), self.remaining) for name in _OUTPUT_LIMITS}
        with apply_configuration(**caps):
            yield

    def account(self, page: PageObject, number: int) -> None:
        """Decode the streams page `number` draws with, counting them; refuse past a limit."""
        streams = [*_streams(page.get("/Contents")), *_resource_streams(page.get("/Resources"))]
        for stream in streams:
            if id(stream) in self._seen:
                continue
            self._seen.add(id(stream))
            self._precheck(stream, number)
            with self.applied():
                size = len(stream.get_data())
            compressed = len(getattr(stream, "_data", b"")) if stream.get("/Filter") else size
            self.inflated += size
            if ratio_exceeded(size, compressed, self.limits):
                raise ratio_refusal(self.filename, f"a stream of page {number}", size, compressed, self.limits)
            if self.inflated > self.limits.max_decompressed_bytes:
                raise decompression_refusal(self.filename, f"the streams up to page {number}", self.limits, "inflate")

    def _precheck(self, stream: StreamObject, number: int) -> None:
        """Inflate a FlateDecode stream in bounded steps first, so a bomb is refused before pypdf holds it."""
        raw = getattr(stream, "_data", None)
        if not isinstance(raw, bytes) or _resolve(stream.get("/Filter")) not in _FLATE:
            return
        ratio_stop = max(self.limits.ratio_check_min_bytes, self.limits.max_compression_ratio * len(raw))
        size = inflated_size(raw, min(self.remaining, ratio_stop), zlib.MAX_WBITS | 32)
        if size is None:
            return  # damaged or unusual data: pypdf's own recovery decides, within the lowered limits
        if ratio_exceeded(size, len(raw), self.limits):
            raise ratio_refusal(self.filename, f"a stream of page {number}", size, len(raw), self.limits)
        if size >= self.remaining:
            raise decompression_refusal(self.filename, f"the streams up to page {number}", self.limits, "inflate")

    def spend_text(self, count: int) -> None:
        self.text += count
        check_text_length(self.text, self.filename, self.limits.max_text_chars)

    def error(self, exc: Exception, where: str) -> DocqaError:
        """The DocqaError for an exception pypdf raised while reading `where`."""
        if isinstance(exc, DocqaError):
            return exc
        if isinstance(exc, LimitReachedError) and _DECODING_LIMIT.search(str(exc)):
            return decompression_refusal(self.filename, where, self.limits)
        if isinstance(exc, LimitReachedError):
            return ParseError(f"{self.filename}: {where} passes a pypdf safety limit ({exc})", filename=self.filename)
        return ParseError(
            f"{self.filename}: could not read {where} ({type(exc).__name__}: {exc})", filename=self.filename
        )
