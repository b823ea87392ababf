"""Global CLI options and the objects commands share (settings, store, output)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import click

from docqa.config import Settings
from docqa.errors import DocqaError, InvalidInput


@dataclass
class CliContext:
    settings: Settings
    _store: Any = field(default=None, repr=False)

    def store(self, sync: bool = True):
        """Open the store (and sync it, quietly, unless told not to)."""
        if self._store is None:
            from docqa.app import Store

            self._store = Store.open(self.settings)
            if sync:
                report = self._store.sync()
                if report.status == "degraded":
                    raise DocqaError(f"index is degraded: {report.reason}")
        return self._store

    def close(self) -> None:
        if self._store is not None:
            self._store.close()
            self._store = None


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
    return Settings.from_env(
        database_url=db,
        data_dir=data_dir,
        collection=collection,
        embedder=embedder,
        index_type=index_type,
        log_level="INFO" if verbose else None,
    )
