"""The charging hot path's running usage totals (docs/ledger.md); the interval masks are ``charge_day``'s.

Invariant kept: usage totals only grow, by set-based upserts in key order.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

from sqlalchemy import Table
from sqlalchemy.orm import Session

from openprepaid.store.model import UsageDay, UsageDayZone, UsageMonth
from openprepaid.store.repository.bulk_write import driver_of
from openprepaid.store.repository.column_binding import column_binder

# --- running totals -----------------------------------------------------------------------------------


def _execute_by_columns(driver: Any, sql: str, rows: Sequence[Sequence[Any]]) -> None:
    """One PostgreSQL statement over ``unnest`` of one array parameter per column of ``rows``, sent binary
    (``%b``: psycopg's text form of a list costs ~1 µs per element in Python, the binary one a third)."""
    with driver.cursor() as cursor:
        cursor.execute(sql, [list(column) for column in zip(*rows, strict=True)])


def add_usage_days(session: Session, rows: Sequence[tuple[int, date, int, int, int, datetime | None]]) -> None:
    """Add ``(meter, local day, account, interval count, billed Wh, last interval end)`` to ``usage_day``."""
    if not rows:
        return
    driver, dialect = driver_of(session)
    if dialect.name == "postgresql":
        _execute_by_columns(
            driver,
            "INSERT INTO usage_day (meter_id, local_date, account_id, interval_count, interval_energy_wh, "
            "last_interval_end_at, trued_up) "
            "SELECT m, d, a, c, e, t, false FROM unnest(%b::bigint[], %b::date[], %b::bigint[], %b::bigint[], "
            "%b::bigint[], %b::timestamptz[]) AS u(m, d, a, c, e, t) "
            "ON CONFLICT (meter_id, local_date, account_id) DO UPDATE SET "
            "interval_count = usage_day.interval_count + excluded.interval_count, "
            "interval_energy_wh = usage_day.interval_energy_wh + excluded.interval_energy_wh, "
            "last_interval_end_at = greatest(usage_day.last_interval_end_at, excluded.last_interval_end_at)",
            rows,
        )
        return
    table: Table = UsageDay.__table__  # type: ignore[assignment]
    bind_date = column_binder(table.c.local_date, dialect)
    bind_end = column_binder(table.c.last_interval_end_at, dialect)
    driver.executemany(
        "INSERT INTO usage_day (meter_id, local_date, account_id, interval_count, interval_energy_wh, "
        "last_interval_end_at, trued_up) VALUES (?, ?, ?, ?, ?, ?, 0) "
        "ON CONFLICT (meter_id, local_date, account_id) DO UPDATE SET "
        "interval_count = interval_count + excluded.interval_count, "
        "interval_energy_wh = interval_energy_wh + excluded.interval_energy_wh, "
        "last_interval_end_at = max(coalesce(last_interval_end_at, ''), coalesce(excluded.last_interval_end_at, ''))",
        [(m, bind_date(d), a, c, e, bind_end(t)) for m, d, a, c, e, t in rows],
    )


def add_usage_months(session: Session, rows: Sequence[tuple[int, date, int, str, int]]) -> None:
    """Add ``(account, month, tariff version, ToD zone, billed Wh)`` to ``usage_month``."""
    _add_zone_usage(session, UsageMonth.__table__, "month_date", "billed_energy_wh", rows)  # type: ignore[arg-type]


def add_usage_day_zones(session: Session, rows: Sequence[tuple[int, date, int, str, int]]) -> None:
    """Add ``(account, local day, tariff version, ToD zone, interval Wh)`` to ``usage_day_zone``."""
    _add_zone_usage(session, UsageDayZone.__table__, "local_date", "interval_energy_wh", rows)  # type: ignore[arg-type]


def _add_zone_usage(
    session: Session,
    table: Table,
    date_column: str,
    energy_column: str,
    rows: Sequence[tuple[int, date, int, str, int]],
) -> None:
    """Additive upsert of ``(account, date, version, zone, Wh)`` rows into a usage table keyed by the first four."""
    if not rows:
        return
    driver, dialect = driver_of(session)
    name, d, e = table.name, date_column, energy_column
    key = f"account_id, {d}, tariff_version_id, tod_zone"
    if dialect.name == "postgresql":
        _execute_by_columns(
            driver,
            f"INSERT INTO {name} ({key}, {e}) "  # noqa: S608 - names are ours, values bound
            "SELECT a, d, v, z, w FROM unnest(%b::bigint[], %b::date[], %b::bigint[], %b::text[], %b::bigint[]) "
            f"AS u(a, d, v, z, w) ON CONFLICT ({key}) DO UPDATE SET {e} = {name}.{e} + excluded.{e}",
            rows,
        )
        return
    bind_date = column_binder(table.c[d], dialect)
    driver.executemany(
        f"INSERT INTO {name} ({key}, {e}) VALUES (?, ?, ?, ?, ?) "  # noqa: S608 - names are ours, values bound
        f"ON CONFLICT ({key}) DO UPDATE SET {e} = {e} + excluded.{e}",
        [(a, bind_date(day), v, z, wh) for a, day, v, z, wh in rows],
    )
