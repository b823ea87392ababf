"""Global CLI options and the objects commands share (settings, the runtime, output)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import click

from docqa.app import Docqa, Runtime
from docqa.config import Settings
from docqa.errors import InvalidInput


@dataclass
class CliContext:
    settings: Settings
    _runtime: Runtime | None = field(default=None, repr=False)

    @property
    def runtime(self) -> Runtime:
        if self._runtime is None:
            self._runtime = Runtime(self.settings)
        return self._runtime

    def library(self, sync: bool = True) -> Docqa:
        """The library, opened through the runtime (and synced, unless told not to); errors are raised as such."""
        return self.runtime.connect(sync=sync)

    def close(self) -> None:
        if self._runtime is not None:
            self._runtime.close()
            self._runtime = None


pass_ctx = click.make_pass_decorator(CliContext)


def emit_json(data: Any) -> None:
    click.echo(json.dumps(data, indent=2, ensure_ascii=False, default=str))


def key_values(option: str, items: tuple[str, ...]) -> dict[str, str]:
    """Parse repeated KEY=VALUE options into a dict, naming the option on bad input."""
    out: dict[str, str] = {}
    for item in items:
        if "=" not in item:
            raise InvalidInput(f"{option} expects KEY=VALUE, got {item!r}")
        key, value = item.split("=", 1)
        out[key.strip()] = value
    return out


def settings_from_options(
    db: str | None,
    data_dir: Path | None,
    collection: str | None,
    embedder: str | None,
    index_type: str | None,
    verbose: bool,
) -> Settings:
    """The environment (DOCQA_*, .env) with the command line's options over it."""
    return Settings.from_env(
        database_url=db,
        data_dir=data_dir,
        collection=collection,
        embedder=embedder,
        index_type=index_type,
        log_level="INFO" if verbose else None,
    )
