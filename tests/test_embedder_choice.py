"""Which embedder opens a collection: new collections get the default (minilm-int8), existing ones keep
the model recorded for them, and an explicit mismatch names the command that switches the collection.

No model is loaded: the MiniLM embedders load lazily, and the chunks written here carry their vectors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from docqa.app import Docqa
from docqa.cli.main import main
from docqa.config import Settings
from docqa.embedders import name_for_model
from docqa.embedders.hash import HashEmbedder
from docqa.errors import EmbedderMismatch
from docqa.types import ChunkInput
from tests.conftest import random_unit


def unset(db_url: str, tmp_path: Path, **values) -> Settings:
    """Settings that choose no embedder, as a user who passes no --embedder has."""
    return Settings(data_dir=tmp_path / "data", database_url=db_url, snapshot_interval_s=0.0, **values)


def bind(settings: Settings, embedder=None) -> str:
    """Create the collection with one pre-embedded document; returns the model it is bound to."""
    docqa = Docqa.open(settings, embedder=embedder)
    try:
        vector = random_unit(1)[0]
        docqa.add_document([ChunkInput(text="fridge log", ordinal=0, embedding=vector)], filename="a.txt", sync=False)
        return docqa.model
    finally:
        docqa.close()


def test_a_new_collection_gets_the_default_embedder_minilm_int8(db_url, tmp_path):
    assert Settings().default_embedder == "minilm-int8" and Settings().embedder == ""
    assert bind(unset(db_url, tmp_path)) == "minilm-int8"
    reopened = Docqa.open(unset(db_url, tmp_path))
    assert reopened.model == "minilm-int8"
    reopened.close()


@pytest.mark.parametrize("built_with", ["minilm", "hash"])
def test_an_existing_collection_keeps_the_model_it_was_built_with(db_url, tmp_path, built_with):
    model = bind(unset(db_url, tmp_path, embedder=built_with))
    assert model == ("hash-384" if built_with == "hash" else "minilm")
    docqa = Docqa.open(unset(db_url, tmp_path))  # no choice: the recorded embedder, not the default
    try:
        assert docqa.model == model
        assert [d.filename for d in docqa.list_documents()] == ["a.txt"]
    finally:
        docqa.close()
    other = Docqa.open(unset(db_url, tmp_path, collection="fresh"))  # a new collection beside it
    assert other.model == "minilm-int8"
    other.close()


def test_an_explicit_mismatch_names_the_reembed_command(db_url, tmp_path):
    bind(unset(db_url, tmp_path, embedder="minilm"))
    with pytest.raises(EmbedderMismatch) as raised:
        Docqa.open(unset(db_url, tmp_path, embedder="minilm-int8"))
    message = raised.value.message
    assert "docqa reembed --to minilm-int8" in message and "'minilm'" in message
    assert "--embedder minilm" in message  # the other way out: keep the collection's own
    with pytest.raises(EmbedderMismatch, match="docqa reembed --to hash"):
        Docqa.open(unset(db_url, tmp_path), embedder=HashEmbedder())  # an embedder object is a choice too
    bind(unset(db_url, tmp_path, embedder="hash", collection="team"))
    with pytest.raises(EmbedderMismatch, match="docqa --collection team reembed --to minilm"):
        Docqa.open(unset(db_url, tmp_path, embedder="minilm", collection="team"))


def test_the_cli_says_which_command_switches_the_collection(tmp_path, capsys):
    data = tmp_path / "data"
    bind(Settings(data_dir=data, embedder="hash"))
    assert main(["--data-dir", str(data), "--embedder", "minilm-int8", "documents"]) == 2
    assert "docqa reembed --to minilm-int8" in capsys.readouterr().err
    assert main(["--data-dir", str(data), "documents", "--json"]) == 0  # no --embedder: the collection's own
    assert '"filename": "a.txt"' in capsys.readouterr().out


def test_a_model_no_embedder_produces_opens_for_what_needs_no_embedding_and_refuses_text_by_name(tmp_path):
    settings = Settings(data_dir=tmp_path / "data")
    docqa = Docqa.open(settings, embedder=HashEmbedder())
    with docqa.db.connection() as conn, conn.transaction():
        conn.execute("INSERT INTO collections(name, model, dim) VALUES (?, ?, ?)", ("odd", "someone-elses-model", 384))
    docqa.close()
    odd = Docqa.open(settings.replace(collection="odd"))
    assert odd.sync().status in ("in_sync", "rebuilt") and odd.stats().total_documents == 0
    assert odd.search(np.full(384, 0.05, dtype=np.float32), mode="vector", k=1) == []  # by vector: no embedding
    with pytest.raises(EmbedderMismatch, match="someone-elses-model.*cannot embed text"):
        odd.search("anything")
    with pytest.raises(EmbedderMismatch, match="someone-elses-model"):  # an explicit other choice: refused
        Docqa.open(settings.replace(collection="odd", embedder="hash"))
    odd.close()


def test_model_ids_map_back_to_their_embedders():
    assert [name_for_model(m) for m in ("minilm", "minilm-int8", "hash-384", "openai:text-embedding-3-small")] == [
        "minilm",
        "minilm-int8",
        "hash",
        "openai",
    ]
    assert name_for_model("minilm-int8-v2") is None and name_for_model("") is None
