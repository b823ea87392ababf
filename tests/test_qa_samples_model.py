"""The README's example with the default model over the shipped samples (issue 13): answered from the
medication policy, in one readable passage, each span quoted once; off-topic questions refused."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from docqa.app import Docqa
from docqa.config import Settings
from docqa.qa.compose import MAX_CHARS

SAMPLES = Path(__file__).resolve().parent.parent / "samples"


@pytest.fixture(scope="module")
def library(tmp_path_factory):
    data = tmp_path_factory.mktemp("samples")
    settings = Settings(data_dir=data, embedder=Settings().default_embedder, snapshot_interval_s=0)
    docqa = Docqa.open(settings)
    paths = [p for p in sorted(SAMPLES.iterdir()) if p.is_file() and p.name != "README.md"]
    assert docqa.ingest_paths(paths).count("failed") == 0
    yield docqa
    docqa.close()


@pytest.mark.model
def test_the_readme_example_is_answered_from_the_medication_policy(library) -> None:
    answer = library.ask("what do I do if the fridge is too warm?")
    assert answer.found and answer.sources[0].filename == "medication-storage-policy.pdf"
    assert len(answer.answer) <= MAX_CHARS and "[1]" in answer.answer
    spans = sorted((s.document_id, s.char_start, s.char_end) for s in answer.sources)
    assert all(a[0] != b[0] or a[2] <= b[1] for a, b in zip(spans, spans[1:]))  # no span quoted twice
    quoted = [re.sub(r"\s+", " ", s.text) for s in answer.sources]
    assert len(quoted) == len(set(quoted))


@pytest.mark.model
@pytest.mark.parametrize("question", ["What is the capital of France?", "How do I configure Kubernetes ingress?"])
def test_questions_the_samples_cannot_answer_are_refused(library, question: str) -> None:
    assert not library.ask(question).found
