"""Parse limits reach the service: settings name them, a bomb is a 413 naming the limit, nothing good is lost."""

from __future__ import annotations

import io
import zipfile

from docqa.config import Settings
from tests.test_api_support import assert_error, fast, running


def zip_bomb(inflated: int = 30 * 1024 * 1024) -> bytes:
    """A DOCX-shaped zip whose document.xml inflates ~1000:1."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr(
            "[Content_Types].xml",
            '<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"/>',
        )
        z.writestr("word/document.xml", b"<w:document>" + b"A" * inflated + b"</w:document>")
    return out.getvalue()


def test_a_decompression_bomb_upload_is_a_413_naming_the_limit(tmp_path):
    settings = Settings(data_dir=tmp_path / "data", database_url=f"sqlite:///{tmp_path / 'd.db'}", embedder="hash")
    with running(fast(settings)) as client:
        good = client.post("/api/v1/index/upload", files={"file": ("ok.txt", b"a fine note about the kettle")}).json()
        bomb = zip_bomb()
        assert len(bomb) < 200_000
        response = client.post("/api/v1/index/upload", files={"file": ("bomb.docx", bomb)})
        error = assert_error(response, 413, "payload_too_large")
        assert "max_compression_ratio" in error["message"] or "max_decompressed_bytes" in error["message"]
        status = client.get(f"/api/v1/index/status/{good['document_id']}").json()
        assert status["status"] == "indexed"  # what was stored before is untouched


def test_the_limits_are_settings(tmp_path):
    settings = Settings(
        data_dir=tmp_path / "data", database_url=f"sqlite:///{tmp_path / 'd.db'}", embedder="hash", max_html_depth=8
    )
    deep = ("<div>" * 20 + "text" + "</div>" * 20).encode()
    with running(fast(settings)) as client:
        error = assert_error(
            client.post("/api/v1/index/upload", files={"file": ("deep.html", deep)}), 422, "parse_error"
        )
        assert "max_html_depth" in error["message"] and "8" in error["message"]
    assert Settings.from_env({"DOCQA_MAX_TEXT_CHARS": "1000"}).max_text_chars == 1000
