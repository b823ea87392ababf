"""Settings: typed and validated, read from the environment only when asked, errors naming the variable."""

from __future__ import annotations

from pathlib import Path

import pytest

from docqa.config import Settings
from docqa.errors import InvalidInput


def test_constructing_settings_never_reads_the_environment(monkeypatch) -> None:
    monkeypatch.setenv("DOCQA_PORT", "9999")
    monkeypatch.setenv("DOCQA_COLLECTION", "from-env")
    assert Settings().port == 8003 and Settings().collection == "default"
    assert Settings.from_env().port == 9999 and Settings.from_env().collection == "from-env"


def test_values_are_typed_and_lists_are_comma_separated() -> None:
    s = Settings.from_env(
        {
            "DOCQA_PORT": "9001",
            "DOCQA_LOG_JSON": "false",
            "DOCQA_CORS_ORIGINS": "http://a, http://b",
            "DOCQA_DATA_DIR": "/tmp/x",
            "DOCQA_REPAIR_MAX_FRACTION": "0.5",
            "DOCQA_LOG_LEVEL": "debug",
        }
    )
    assert (s.port, s.log_json, s.cors_origins, s.data_dir) == (9001, False, ("http://a", "http://b"), Path("/tmp/x"))
    assert s.repair_max_fraction == 0.5 and s.log_level == "DEBUG"


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("DOCQA_PORT", "eighty"),
        ("DOCQA_PORT", "70000"),
        ("DOCQA_INDEX_TYPE", "ivf"),
        ("DOCQA_LOG_JSON", "maybe"),
        ("DOCQA_REPAIR_MAX_FRACTION", "2"),
        ("DOCQA_COLLECTION", "a b"),
        ("DOCQA_EMBED_BATCH_SIZE", "0"),
    ],
)
def test_a_bad_value_is_an_error_naming_the_variable(variable, value) -> None:
    with pytest.raises(InvalidInput) as info:
        Settings.from_env({variable: value})
    assert f"{variable}={value!r}" in info.value.message
    assert info.value.details["settings"] == [variable]


def test_a_bad_value_in_code_names_the_field() -> None:
    with pytest.raises(InvalidInput, match=r"port='x'"):
        Settings(port="x")  # type: ignore[arg-type]
    with pytest.raises(InvalidInput, match="no_such_setting"):
        Settings(no_such_setting=1)  # type: ignore[call-arg]


def test_command_line_overrides_win_even_over_a_bad_variable(monkeypatch) -> None:
    monkeypatch.setenv("DOCQA_PORT", "not-a-port")
    assert Settings.from_env(port=7000).port == 7000
    with pytest.raises(InvalidInput, match="DOCQA_PORT"):
        Settings.from_env(port=None)  # None means "not given"
    monkeypatch.delenv("DOCQA_PORT")
    assert Settings.from_env(port=None, collection="c").collection == "c"


def test_a_dotenv_file_is_read_and_the_environment_wins(tmp_path, monkeypatch) -> None:
    env_file = tmp_path / ".env"
    env_file.write_text("DOCQA_COLLECTION=from-dotenv\nDOCQA_PORT=8100\n")
    assert Settings.from_env(env_file=env_file).collection == "from-dotenv"
    monkeypatch.setenv("DOCQA_PORT", "8200")
    assert Settings.from_env(env_file=env_file).port == 8200
    assert Settings.from_env(env_file=tmp_path / "missing.env").collection == "default"


def test_replace_validates_and_keeps_the_rest() -> None:
    s = Settings(embedder="hash", port=9000)
    assert s.replace(port=9100).port == 9100 and s.replace(port=9100).embedder == "hash"
    assert s.replace(port=None).port == 9000
    with pytest.raises(InvalidInput, match="index_type"):
        s.replace(index_type="annoy")


def test_the_cli_reads_settings_only_through_settings(tmp_path, monkeypatch) -> None:
    """No option reads the environment itself: DOCQA_* reaches the CLI through Settings.from_env."""
    from docqa.cli.context import settings_from_options

    monkeypatch.setenv("DOCQA_COLLECTION", "team")
    monkeypatch.setenv("DOCQA_EMBEDDER", "hash")
    s = settings_from_options(None, tmp_path, None, None, None, False)
    assert (s.collection, s.embedder, s.data_dir) == ("team", "hash", tmp_path)
    assert settings_from_options(None, tmp_path, "other", None, None, False).collection == "other"
