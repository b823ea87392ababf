"""The layers are enforced: import-linter contracts fail the build on a forbidden import; files stay small."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "src" / "docqa"
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")
MAX_LINES = 400


def lint_imports(tree: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(tree / "src")}
    return subprocess.run(
        [str(LINT_IMPORTS), "--config", str(tree / "pyproject.toml"), "--no-cache"],
        cwd=tree,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    """A copy of the package and its contracts, to break on purpose."""
    shutil.copytree(SRC, tmp_path / "src" / "docqa", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    return tmp_path


def add_import(tree: Path, module: str, line: str) -> None:
    path = tree / "src" / Path(*module.split(".")).with_suffix(".py")
    text = path.read_text()
    head, sep, rest = text.partition("from __future__ import annotations\n")
    path.write_text(head + sep + line + "\n" + rest)


def test_the_tree_keeps_every_contract(tree: Path) -> None:
    result = lint_imports(tree)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


@pytest.mark.parametrize(
    ("module", "line", "contract"),
    [
        ("docqa.api.routes_ops", "from docqa.storage import repo  # noqa", "Adapters go through the app"),
        ("docqa.cli.cmd_index", "import docqa.sync.engine  # noqa", "Adapters go through the app"),
        ("docqa.search.vector", "import faiss  # noqa", "FAISS lives in index/ only"),
        ("docqa.qa.answer", "from docqa.index import flat  # noqa", "Only sync/ writes the index"),
        ("docqa.storage.repo", "from docqa.index import snapshot  # noqa", "Storage knows no FAISS"),
        ("docqa.index.flat", "from docqa.storage import db  # noqa", "The index knows no SQL"),
        ("docqa.search.dispatch", "from docqa.app import Docqa  # noqa", "Layers"),
        ("docqa.sync.worker", "from docqa.search import dispatch  # noqa", "Layers"),
        ("docqa.jobs.worker", "from docqa.ingest import pipeline  # noqa", "Layers"),  # the app hands it a runner
        ("docqa.jobs.worker", "from docqa.app import Docqa  # noqa", "Layers"),
        ("docqa.api.routes_jobs", "from docqa.jobs import JobWorkers  # noqa", "Adapters go through the app"),
    ],
)
def test_a_forbidden_import_breaks_the_build(tree: Path, module: str, line: str, contract: str) -> None:
    add_import(tree, module, line)
    result = lint_imports(tree)
    assert result.returncode != 0
    broken = result.stdout.split("Broken contracts", 1)[-1]
    assert contract in broken, result.stdout


def test_type_checking_imports_count_too(tree: Path) -> None:
    """'Nothing below the app imports it, not even for type checking.'"""
    add_import(
        tree,
        "docqa.search.dispatch",
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from docqa.app import Docqa",
    )
    assert lint_imports(tree).returncode != 0


def test_no_source_file_is_over_400_lines() -> None:
    long = {str(p.relative_to(SRC)): n for p in SRC.rglob("*.py") if (n := len(p.read_text().splitlines())) > MAX_LINES}
    assert long == {}
