"""``openprepaid meters``: register meters in bulk from CSV, list and show them, report data availability.

``list`` and ``show`` give the relay as last read back from the meter (never what a command asked
for): ``open`` (supply disconnected) or ``closed``, and when it was read, in the utility's zone;
``--json`` gives the raw fields instead (``relay_connected``, ``relay_control_state``, ``relay_read_at``).

``reread`` asks for a range of block load to be read again at the next collection (docs/hes.md):
rows already stored stay (storing ignores them), so a re-read fills gaps only.
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import typer
from sqlalchemy import Engine
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

from openprepaid.app import build_store
from openprepaid.cli.context import settings_of
from openprepaid.hes import availability, block_progress
from openprepaid.hes.meter_import import import_meters, parse_csv
from openprepaid.hes.session import RelayControlState
from openprepaid.keyvault import KeyVault, KeyVaultError, load_master_key
from openprepaid.settings import Mode, Settings
from openprepaid.store.engine import DatabaseURLError
from openprepaid.store.model import Meter, MeterStatus
from openprepaid.store.repository import block_marks, meter_registry
from openprepaid.store.repository import hes as hes_repo
from openprepaid.store.repository.meter_registry import MeterListRow

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


def _zone_of(row: MeterListRow) -> ZoneInfo:
    try:
        return ZoneInfo(row.timezone)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def local_time(at: datetime | None, row: MeterListRow, *, never: str = "never") -> str:
    """``2026-11-24 10:42 IST`` in the meter's utility's zone."""
    return never if at is None else at.astimezone(_zone_of(row)).strftime("%Y-%m-%d %H:%M %Z")


def relay_text(row: MeterListRow) -> str:
    """The relay as last read, e.g. ``open, read 2026-11-24 10:42 IST``; ``no relay``; ``not read``."""
    if not row.has_relay:
        return "no relay"
    if row.relay_read_at is None or row.relay_connected is None:
        return "not read"
    state = "closed" if row.relay_connected else "open"
    usual = RelayControlState.CONNECTED if row.relay_connected else RelayControlState.DISCONNECTED
    if row.relay_control_state == RelayControlState.READY_FOR_RECONNECTION:
        state += ", ready for reconnection"
    elif row.relay_control_state != usual:
        state += f", control state {row.relay_control_state}"
    return f"{state}, read {local_time(row.relay_read_at, row)}"


def _iso(at: datetime | None) -> str | None:
    return None if at is None else at.isoformat()


def row_json(row: MeterListRow) -> dict[str, Any]:
    return {
        "meter_id": row.meter_id,
        "serial": row.serial,
        "manufacturer_code": row.manufacturer_code,
        "meter_type": row.meter_type,
        "comm_mode": row.comm_mode,
        "host": row.host,
        "port": row.port,
        "status": row.status,
        "account_no": row.account_no,
        "last_seen_at": _iso(row.last_seen_at),
        "has_relay": row.has_relay,
        "relay_connected": row.relay_connected,
        "relay_control_state": row.relay_control_state,
        "relay_read_at": _iso(row.relay_read_at),
    }


@app.command("list")
def list_meters(
    ctx: typer.Context,
    utility: str | None = typer.Option(None, "--utility", help="only this utility's meters"),
    status: MeterStatus | None = typer.Option(None, "--status", help="only meters in this status"),
    limit: int = typer.Option(1000, "--limit", min=1, max=100_000, help="at most this many rows"),
    as_json: bool = typer.Option(False, "--json", help="a JSON array with the raw fields"),
) -> None:
    """List registered meters (never their secrets), with the relay as last read."""
    engine, sessions = _store(settings_of(ctx))
    try:
        with sessions() as session:
            rows = meter_registry.list_meters(
                session, utility_id=_utility_id(session, utility), status=status, limit=limit
            )
    finally:
        engine.dispose()
    if as_json:
        typer.echo(json.dumps([row_json(row) for row in rows]))
        return
    header = ("serial", "mfr", "type", "comm", "address", "status", "account", "last seen", "relay")
    table = [
        (
            row.serial,
            row.manufacturer_code,
            row.meter_type,
            row.comm_mode,
            f"{row.host}:{row.port}" if row.host else "-",
            row.status,
            row.account_no or "-",
            local_time(row.last_seen_at, row),
            relay_text(row),
        )
        for row in rows
    ]
    widths = [max(len(cells[k]) for cells in (header, *table)) for k in range(len(header) - 1)]
    for cells in (header, *table):
        typer.echo("  ".join([*(cell.ljust(width) for cell, width in zip(cells[:-1], widths, strict=True)), cells[-1]]))
    typer.echo(f"{len(rows)} meters")


def _meter_id(session: Session, meter: str) -> int | None:
    """A meter by serial, MFRSERIAL or #ID; None unless exactly one matches."""
    if meter.startswith("#") and meter[1:].isdigit():
        return int(meter[1:])
    return hes_repo.meter_id_by_identity(session, None, meter)


@app.command("show")
def show_meter(
    ctx: typer.Context,
    meter: str = typer.Argument(..., help="serial (or MFRSERIAL, or #ID)"),
    as_json: bool = typer.Option(False, "--json", help="a JSON object with the raw fields"),
) -> None:
    """One meter: registry fields, when last seen, and the relay as last read back."""
    engine, sessions = _store(settings_of(ctx))
    try:
        with sessions() as session:
            meter_id = _meter_id(session, meter)
            row = None if meter_id is None else meter_registry.meter_row(session, meter_id)
    finally:
        engine.dispose()
    if row is None:
        typer.echo(f"error: no single meter {meter!r} (try MFRSERIAL or #ID)", err=True)
        raise typer.Exit(1)
    if as_json:
        typer.echo(json.dumps(row_json(row)))
        return
    fields = {
        "meter": f"#{row.meter_id} {row.manufacturer_code}{row.serial}",
        "type": row.meter_type,
        "comm": row.comm_mode + (f" {row.host}:{row.port}" if row.host else ""),
        "status": row.status,
        "account": row.account_no or "-",
        "last seen": local_time(row.last_seen_at, row),
        "relay": relay_text(row),
    }
    for name, value in fields.items():
        typer.echo(f"{name + ':':<11}{value}")


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


def _instant(text: str, option: str, zone: ZoneInfo) -> datetime:
    """An ISO 8601 date-time; without an offset it is the utility's local time."""
    try:
        value = datetime.fromisoformat(text)
    except ValueError as exc:
        typer.echo(
            f"error: {option} {text!r} is not a date-time (YYYY-MM-DDTHH:MM, optionally with an offset)", err=True
        )
        raise typer.Exit(2) from exc
    return (value if value.tzinfo is not None else value.replace(tzinfo=zone)).astimezone(UTC)


def reread_refusal(from_at: datetime, to_at: datetime | None, now: datetime) -> str | None:
    """Why a re-read range cannot be asked for (None: it can)."""
    if from_at >= now or (to_at is not None and to_at > now):
        return "the range is in the future (block load is only read up to now)"
    if to_at is not None and to_at <= from_at:
        return "--to must be later than --from"
    if from_at < now - block_progress.MAX_BACKFILL:
        return f"--from is older than the backfill limit ({block_progress.MAX_BACKFILL.days} days)"
    return None


@app.command("reread")
def reread(
    ctx: typer.Context,
    meter: str = typer.Argument(..., help="serial (or MFRSERIAL, or #ID)"),
    from_text: str = typer.Option(..., "--from", help="read from this date-time (ISO 8601; no offset: local)"),
    to_text: str | None = typer.Option(None, "--to", help="up to this date-time (default: up to the collection)"),
) -> None:
    """Have METER's block load read again from --from (to --to) at its next collection; fills gaps only."""
    settings = settings_of(ctx)
    engine, sessions = _store(settings)
    try:
        with sessions() as session, session.begin():
            meter_id = _meter_id(session, meter)
            found = None if meter_id is None else session.get(Meter, meter_id)
            if found is None:
                typer.echo(f"error: no single meter {meter!r} (try MFRSERIAL or #ID)", err=True)
                raise typer.Exit(1)
            zone = ZoneInfo(meter_registry.utility_timezone(session, found.utility_id) or settings.timezone)
            from_at = _instant(from_text, "--from", zone)
            to_at = None if to_text is None else _instant(to_text, "--to", zone)
            refusal = reread_refusal(from_at, to_at, datetime.now(UTC))
            if refusal is not None:
                typer.echo(f"error: {refusal}", err=True)
                raise typer.Exit(2)
            pending = block_marks.request_reread(session, found.id, from_at, to_at)
            label = f"#{found.id} {found.manufacturer_code}{found.serial}"
    finally:
        engine.dispose()
    upper = "the collection" if pending.to_at is None else pending.to_at.astimezone(zone).isoformat(timespec="minutes")
    typer.echo(
        f"meter {label}: block load from {pending.from_at.astimezone(zone).isoformat(timespec='minutes')} to {upper} "
        "is read again at the next collection (rows already stored stay: only gaps are filled)"
    )
