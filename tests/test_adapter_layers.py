"""The integrations and the HTTP client are adapters: only the app layer and the base modules, never the engine,
the database or FAISS, and neither imports the other or the CLI/HTTP faces (import-linter, as `make lint` runs it)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.test_architecture import add_import, lint_imports, tree  # noqa: F401  (tree is a fixture)


@pytest.mark.parametrize(
    ("module", "line", "contract"),
    [
        (
            "docqa.integrations.langchain.convert",
            "from docqa.storage import repo  # noqa",
            "Adapters go through the app",
        ),
        ("docqa.integrations.llamaindex.filters", "import docqa.search.filters  # noqa", "Adapters go through the app"),
        ("docqa.client.transport", "from docqa.embedders import hash  # noqa", "Adapters go through the app"),
        ("docqa.client.convert", "import faiss  # noqa", "Adapters go through the app"),
        ("docqa.client.convert", "from docqa.api import schemas  # noqa", "Layers"),
        ("docqa.integrations.langchain.convert", "import docqa.client  # noqa", "Layers"),
        ("docqa.app.batch", "import docqa.integrations  # noqa", "Layers"),
    ],
)
def test_an_adapter_reaching_below_the_app_breaks_the_build(tree: Path, module: str, line: str, contract: str) -> None:  # noqa: F811
    add_import(tree, module, line)
    result = lint_imports(tree)
    assert result.returncode != 0
    assert contract in result.stdout.split("Broken contracts", 1)[-1], result.stdout
