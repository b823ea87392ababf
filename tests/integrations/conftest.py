"""The integrations' tests (LangChain, LlamaIndex): the frameworks' own standard suites and ours.

Nothing here may reach the network: every test in this folder runs under pytest-socket's `allow_hosts`
(loopback only: the PostgreSQL server and `docqa serve` subprocesses), so a framework that tries to download
(a tokenizer, a model) fails the test instead of passing on a machine that happens to be online.
Without the extras installed (`pip install -e '.[langchain,llamaindex]'`) the folder is skipped,
except under CI=true, where it fails.
"""

from __future__ import annotations

import inspect
from pathlib import Path

import pytest

from tests.conftest import IN_CI

HERE = Path(__file__).parent
LOOPBACK = ["127.0.0.1", "::1"]


def need(module: str):
    """Import a framework; skip without it (fail under CI, where `make test` installed the extras)."""
    if IN_CI:
        return __import__(module)
    return pytest.importorskip(module, reason=f"{module} is not installed: pip install -e '.[langchain,llamaindex]'")


def mark_async_tests(suite: type) -> None:
    """A framework's standard suite has bare `async def` tests (LangChain runs them with pytest-asyncio in auto
    mode); marked here, they run in our suite's strict mode as they are, none of them overridden."""
    for name in dir(suite):
        test = getattr(suite, name)
        if name.startswith("test_") and inspect.iscoroutinefunction(test):
            pytest.mark.asyncio(test)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if not config.pluginmanager.hasplugin("socket"):
        if IN_CI:
            raise pytest.UsageError("pytest-socket is required for tests/integrations (it comes with langchain-tests)")
        return
    for item in items:
        if HERE in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.allow_hosts(LOOPBACK))
