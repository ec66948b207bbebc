"""``openprepaid meters``: register meters in bulk from CSV, list them, report data availability."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import typer
from sqlalchemy import Engine
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

from openprepaid.app import build_store
from openprepaid.cli.context import settings_of
from openprepaid.hes import availability
from openprepaid.hes.meter_import import import_meters, parse_csv
from openprepaid.keyvault import KeyVault, KeyVaultError, load_master_key
from openprepaid.settings import Mode, Settings
from openprepaid.store.engine import DatabaseURLError
from openprepaid.store.model import MeterStatus
from openprepaid.store.repository import meter_registry

app = typer.Typer(help="Register meters in bulk, list them, report data availability.", no_args_is_help=True)


def _store(settings: Settings) -> tuple[Engine, sessionmaker[Session]]:
    try:
        return build_store(settings, upgrade=settings.mode is Mode.EMBEDDED)
    except (DatabaseURLError, OperationalError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from exc


def _utility_id(session: Session, code: str | None) -> int | None:
    if code is None:
        return None
    utility_id = meter_registry.utility_ids_by_code(session).get(code)
    if utility_id is None:
        typer.echo(f"error: unknown utility {code!r}", err=True)
        raise typer.Exit(1)
    return utility_id


@app.command("import")
def import_csv(
    ctx: typer.Context,
    file: Path = typer.Argument(..., exists=True, dir_okay=False, readable=True, help="CSV file (docs/hes.md)"),
    utility: str | None = typer.Option(None, "--utility", help="utility code for rows without a utility column"),
    partial: bool = typer.Option(False, "--partial", help="import the valid rows even if some are invalid"),
    dry_run: bool = typer.Option(False, "--dry-run", help="validate only, write nothing"),
) -> None:
    """Register or update meters from FILE; all-or-nothing unless --partial. Re-importing changes nothing."""
    settings = settings_of(ctx)
    try:
        text = file.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        typer.echo(f"error: {file} is not UTF-8 text", err=True)
        raise typer.Exit(1) from exc
    rows, parse_errors = parse_csv(text)
    try:
        vault = KeyVault(load_master_key(settings))
    except KeyVaultError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from exc
    engine, sessions = _store(settings)
    try:
        with sessions() as session:
            session.begin()
            report = import_meters(
                session,
                vault,
                rows,
                parse_errors,
                default_utility=utility,
                now=datetime.now(UTC),
                partial=partial,
                dry_run=dry_run,
            )
            if report.applied:
                session.commit()
            else:
                session.rollback()
    finally:
        engine.dispose()
    for error in report.errors:
        typer.echo(f"error: {error}", err=True)
    if report.applied:
        typer.echo(
            f"meters: {len(report.created)} created, {len(report.updated)} updated, "
            f"{len(report.unchanged)} unchanged, {len(report.errors)} rows with errors"
        )
    elif dry_run and not report.errors:
        typer.echo(f"dry run: {len(rows)} rows valid, nothing written")
    else:
        typer.echo(f"nothing imported: {len(report.errors)} errors (fix them, or use --partial)", err=True)
    if report.errors:
        raise typer.Exit(1)


@app.command("list")
def list_meters(
    ctx: typer.Context,
    utility: str | None = typer.Option(None, "--utility", help="only this utility's meters"),
    status: MeterStatus | None = typer.Option(None, "--status", help="only meters in this status"),
    limit: int = typer.Option(1000, "--limit", min=1, max=100_000, help="at most this many rows"),
) -> None:
    """List registered meters (never their secrets)."""
    engine, sessions = _store(settings_of(ctx))
    try:
        with sessions() as session:
            rows = meter_registry.list_meters(
                session, utility_id=_utility_id(session, utility), status=status, limit=limit
            )
    finally:
        engine.dispose()
    typer.echo(
        f"{'serial':<16} {'mfr':<4} {'type':<14} {'comm':<8} {'address':<22} {'status':<10} {'account':<12} last seen"
    )
    for row in rows:
        address = f"{row.host}:{row.port}" if row.host else "-"
        seen = row.last_seen_at.isoformat(timespec="seconds") if row.last_seen_at else "never"
        typer.echo(
            f"{row.serial:<16} {row.manufacturer_code:<4} {row.meter_type:<14} {row.comm_mode:<8} {address:<22} "
            f"{row.status:<10} {row.account_no or '-':<12} {seen}"
        )
    typer.echo(f"{len(rows)} meters")


@app.command("availability")
def availability_report(
    ctx: typer.Context,
    day: str = typer.Option(..., "--day", help="local date YYYY-MM-DD"),
    utility: str | None = typer.Option(None, "--utility", help="only this utility (its time zone)"),
    silent_hours: int = typer.Option(24, "--silent-hours", min=1, help="non-communicating after this many hours"),
    incomplete_only: bool = typer.Option(False, "--incomplete-only", help="list only meters missing data"),
) -> None:
    """Data availability per meter for DAY, plus non-communicating and never-communicated meters."""
    settings = settings_of(ctx)
    try:
        wanted = date.fromisoformat(day)
    except ValueError as exc:
        typer.echo(f"error: --day {day!r} is not a date (YYYY-MM-DD)", err=True)
        raise typer.Exit(2) from exc
    engine, sessions = _store(settings)
    try:
        with sessions() as session:
            utility_id = _utility_id(session, utility)
            zone_name = meter_registry.utility_timezone(session, utility_id) if utility_id is not None else None
            zone = ZoneInfo(zone_name or settings.timezone)
            rows = availability.daily_availability(session, wanted, zone, utility_id=utility_id)
            silent = availability.non_communicating(
                session, datetime.now(UTC), silent_after=timedelta(hours=silent_hours), utility_id=utility_id
            )
            never = availability.never_communicated(session, utility_id=utility_id)
    finally:
        engine.dispose()
    typer.echo(f"data availability on {wanted.isoformat()} ({zone.key})")
    typer.echo(f"{'serial':<16} {'intervals':>11} {'ratio':>7}  daily")
    for row in rows:
        if incomplete_only and row.complete:
            continue
        intervals = f"{row.stored_intervals}/{row.expected_intervals}"
        typer.echo(f"{row.serial:<16} {intervals:>11} {row.ratio:>7.1%}  {'yes' if row.daily_snapshot else 'MISSING'}")
    summary = availability.summarize(wanted, rows)
    typer.echo(
        f"summary: {summary.meters} meters, intervals {summary.ratio:.1%}, "
        f"{summary.complete_meters} complete, {summary.daily_snapshots} daily snapshots"
    )
    typer.echo(f"non-communicating (> {silent_hours} h): {len(silent)}")
    for meter in silent:
        seen = meter.last_seen_at.isoformat(timespec="seconds") if meter.last_seen_at else "never"
        typer.echo(f"  {meter.serial:<16} last seen {seen}")
    typer.echo(f"never communicated: {len(never)}")
    for meter in never:
        typer.echo(f"  {meter.serial}")
