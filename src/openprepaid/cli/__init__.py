"""The ``openprepaid`` command line (Typer). Each command group lives in its own module."""

from __future__ import annotations

from pathlib import Path

import typer

from openprepaid import __version__
from openprepaid.cli import accounts, db, demo, dlms, hes, meters, simulate, tariff
from openprepaid.cli.context import build_context

app = typer.Typer(
    name="openprepaid",
    help="openprepaid: online prepaid smart metering (DLMS/COSEM head-end, server-side wallet, simulator).",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
app.add_typer(db.app, name="db")
app.add_typer(meters.app, name="meters")
app.add_typer(accounts.app, name="accounts")
app.add_typer(tariff.app, name="tariff")
app.add_typer(dlms.app, name="dlms")
app.add_typer(simulate.app, name="simulate")
app.add_typer(hes.app, name="hes")
app.command()(demo.demo)


@app.callback()
def root(
    ctx: typer.Context,
    config: Path | None = typer.Option(
        None, "--config", envvar="OPENPREPAID_CONFIG", help="TOML config file", dir_okay=False
    ),
    data_dir: Path | None = typer.Option(None, "--data-dir", help="data directory (overrides config)"),
    database_url: str | None = typer.Option(None, "--database-url", help="SQLAlchemy database URL"),
) -> None:
    ctx.obj = build_context(config, data_dir, database_url)


@app.command()
def version() -> None:
    """Print openprepaid's version."""
    typer.echo(f"openprepaid {__version__}")


def main() -> None:
    app()
