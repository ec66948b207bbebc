"""``openprepaid db``: create, migrate and inspect the database."""

from __future__ import annotations

import typer
from sqlalchemy.exc import OperationalError

from openprepaid.cli.context import settings_of
from openprepaid.store import migrate
from openprepaid.store.engine import DatabaseURLError, make_engine

app = typer.Typer(help="Create, migrate and inspect the database.", no_args_is_help=True)


def _url(ctx: typer.Context) -> str:
    return settings_of(ctx).resolved_database_url


def _fail(exc: Exception) -> typer.Exit:
    typer.echo(f"error: {exc}", err=True)
    return typer.Exit(1)


@app.command()
def upgrade(ctx: typer.Context, revision: str = typer.Argument("head", help="target revision")) -> None:
    """Create the database or migrate it to REVISION (default: the newest)."""
    url = _url(ctx)
    try:
        migrate.upgrade(url, revision)
    except (DatabaseURLError, OperationalError) as exc:
        raise _fail(exc) from exc
    typer.echo(f"database at revision {revision if revision != 'head' else migrate.head_revision()}")


@app.command()
def downgrade(ctx: typer.Context, revision: str = typer.Argument(..., help="target revision, e.g. -1 or base")) -> None:
    """Migrate the database down to REVISION."""
    try:
        migrate.downgrade(_url(ctx), revision)
    except (DatabaseURLError, OperationalError) as exc:
        raise _fail(exc) from exc
    typer.echo(f"database downgraded to {revision}")


@app.command()
def current(ctx: typer.Context) -> None:
    """Print the database's revision and the newest one this version knows."""
    try:
        engine = make_engine(_url(ctx))
        revision = migrate.current_revision(engine)
        engine.dispose()
    except (DatabaseURLError, OperationalError) as exc:
        raise _fail(exc) from exc
    head = migrate.head_revision()
    state = "up to date" if revision == head else "needs `openprepaid db upgrade`"
    typer.echo(f"current: {revision or '(empty)'}  head: {head}  ({state})")
