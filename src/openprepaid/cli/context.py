"""What every command gets from the top-level options: the settings, built once here."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import typer
from pydantic import ValidationError

from openprepaid.settings import ConfigFileError, Settings, load_settings


@dataclass(frozen=True)
class CliContext:
    settings: Settings


def build_context(config: Path | None, data_dir: Path | None, database_url: str | None) -> CliContext:
    try:
        settings = load_settings(config, data_dir=data_dir, database_url=database_url)
    except (ConfigFileError, ValidationError) as exc:
        typer.echo(f"error: invalid configuration: {exc}", err=True)
        raise typer.Exit(2) from exc
    logging.basicConfig(level=settings.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    # Alembic narrates every migration step at INFO; the db commands print their own outcome.
    logging.getLogger("alembic").setLevel(max(logging.WARNING, logging.getLevelName(settings.log_level)))
    return CliContext(settings=settings)


def settings_of(ctx: typer.Context) -> Settings:
    obj = ctx.find_root().obj
    if not isinstance(obj, CliContext):
        raise TypeError("CLI context missing: commands run under the openprepaid root command")
    return obj.settings
