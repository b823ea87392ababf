"""Streamed decoding: the windows of a file joined are exactly the text a whole-file decode gives."""

from __future__ import annotations

import pytest

from docqa.errors import ParseError
from docqa.ingest import source as source_mod
from docqa.ingest.limits import ParseLimits
from docqa.ingest.parse_text import decode_text
from docqa.ingest.source import ByteSource, decoded_windows

TEXT = (
    "Caf\u00e9 r\u00e9sum\u00e9 \u2014 na\u00efve.\r\n\r\nSecond block\rthird line\r\n\r\n```\ncode\n\nmore code\n```\n\n"
    * 40
)


@pytest.mark.parametrize(
    "data",
    [
        TEXT.encode("utf-8"),
        b"\xef\xbb\xbf" + TEXT.encode("utf-8"),
        b"\xff\xfe" + TEXT.encode("utf-16-le"),
        TEXT.replace("\u2014", "-").encode("cp1252"),
        TEXT.replace("\u2014", "-").encode("cp1252") + b"\x81",  # not cp1252 either: latin-1
        TEXT.encode("utf-8").replace(b"\n", b"\x00\n"),
    ],
    ids=["utf8", "utf8-bom", "utf16-bom", "cp1252", "latin1", "nul"],
)
@pytest.mark.parametrize("markdown", [False, True])
def test_windows_join_to_the_whole_decode(monkeypatch, tmp_path, data, markdown):
    monkeypatch.setattr(source_mod, "READ_BYTES", 7)  # blocks split CRLF pairs and multi-byte characters
    path = tmp_path / "f.txt"
    path.write_bytes(data)
    for src in (ByteSource.from_bytes(data), ByteSource.from_path(path)):
        windows = list(decoded_windows(src, "f.txt", ParseLimits(), markdown=markdown, window_chars=200))
        assert len(windows) > 5
        assert "".join(w for _, w in windows) == decode_text(data, "f.txt")
        assert [b for b, _ in windows] == [sum(len(w) for _, w in windows[:i]) for i in range(len(windows))]
        if markdown:  # no window ends inside a fenced block
            assert all(w.count("```") % 2 == 0 for _, w in windows)


def test_an_empty_or_oversized_stream_is_refused():
    with pytest.raises(ParseError, match="empty"):
        list(decoded_windows(ByteSource.from_bytes(b" \n\n \x00"), "e.txt", ParseLimits(), markdown=False))
    with pytest.raises(Exception, match="max_text_chars"):
        list(
            decoded_windows(
                ByteSource.from_bytes(b"x" * 5000), "b.txt", ParseLimits(max_text_chars=4096), markdown=False
            )
        )


def test_the_streamed_hash_is_the_bytes_hash(tmp_path):
    from docqa.ingest.pipeline import content_hash_of

    data = TEXT.encode() * 50
    (tmp_path / "f").write_bytes(data)
    assert ByteSource.from_path(tmp_path / "f").content_hash() == content_hash_of(data)
