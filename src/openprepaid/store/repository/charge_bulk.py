"""The charging hot path's running usage totals (docs/ledger.md); the interval masks are ``charge_day``'s.

Invariant kept: usage totals only grow, by set-based upserts in key order.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

from sqlalchemy import Table
from sqlalchemy.orm import Session

from openprepaid.store.model import UsageDay, UsageMonth
from openprepaid.store.repository.bulk_write import driver_of, memo_binder

# --- running totals -----------------------------------------------------------------------------------


def _execute_by_columns(driver: Any, sql: str, rows: Sequence[Sequence[Any]]) -> None:
    """One PostgreSQL statement over ``unnest`` of one array parameter per column of ``rows``."""
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
            "SELECT m, d, a, c, e, t, false FROM unnest(%s::bigint[], %s::date[], %s::bigint[], %s::bigint[], "
            "%s::bigint[], %s::timestamptz[]) AS u(m, d, a, c, e, t) "
            "ON CONFLICT (meter_id, local_date, account_id) DO UPDATE SET "
            "interval_count = usage_day.interval_count + excluded.interval_count, "
            "interval_energy_wh = usage_day.interval_energy_wh + excluded.interval_energy_wh, "
            "last_interval_end_at = greatest(usage_day.last_interval_end_at, excluded.last_interval_end_at)",
            rows,
        )
        return
    table: Table = UsageDay.__table__  # type: ignore[assignment]
    bind_date = memo_binder(table.c.local_date, dialect)
    bind_end = memo_binder(table.c.last_interval_end_at, dialect)
    driver.executemany(
        "INSERT INTO usage_day (meter_id, local_date, account_id, interval_count, interval_energy_wh, "
        "last_interval_end_at, trued_up) VALUES (?, ?, ?, ?, ?, ?, 0) "
        "ON CONFLICT (meter_id, local_date, account_id) DO UPDATE SET "
        "interval_count = interval_count + excluded.interval_count, "
        "interval_energy_wh = interval_energy_wh + excluded.interval_energy_wh, "
        "last_interval_end_at = max(coalesce(last_interval_end_at, ''), coalesce(excluded.last_interval_end_at, ''))",
        [(m, bind_date(d), a, c, e, bind_end(t)) for m, d, a, c, e, t in rows],
    )


def add_usage_months(session: Session, rows: Sequence[tuple[int, date, str, int]]) -> None:
    """Add ``(account, month, ToD zone, billed Wh)`` to ``usage_month``."""
    if not rows:
        return
    driver, dialect = driver_of(session)
    if dialect.name == "postgresql":
        _execute_by_columns(
            driver,
            "INSERT INTO usage_month (account_id, month_date, tod_zone, billed_energy_wh) "
            "SELECT a, m, z, e FROM unnest(%s::bigint[], %s::date[], %s::text[], %s::bigint[]) AS u(a, m, z, e) "
            "ON CONFLICT (account_id, month_date, tod_zone) DO UPDATE SET "
            "billed_energy_wh = usage_month.billed_energy_wh + excluded.billed_energy_wh",
            rows,
        )
        return
    table: Table = UsageMonth.__table__  # type: ignore[assignment]
    bind_date = memo_binder(table.c.month_date, dialect)
    driver.executemany(
        "INSERT INTO usage_month (account_id, month_date, tod_zone, billed_energy_wh) VALUES (?, ?, ?, ?) "
        "ON CONFLICT (account_id, month_date, tod_zone) DO UPDATE SET "
        "billed_energy_wh = billed_energy_wh + excluded.billed_energy_wh",
        [(a, bind_date(m), z, e) for a, m, z, e in rows],
    )
