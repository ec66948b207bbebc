"""wallet: usage_month keyed by tariff version too; usage_day_zone (a day's interval energy per version and zone)

usage_month (account, month, ToD zone) becomes (account, month, tariff version, ToD zone): the month
bill of a month whose tariff changed is the sum of per-version parts, which needs the month's energy
per (version, zone). Existing rows are given the version in force at the start of their local month
(the utility's zone) for the account's tariff — what the settlement priced them at before (a month
with a change was flagged ``multi_version`` and not re-priced). usage_day_zone is new: the interval
energy billed per (account, local day, version, zone), by which the daily true-up splits the register
difference across the day's ToD zones; days charged before this revision have no rows (their
true-up uses the neutral zone). The downgrade sums usage_month over versions and drops usage_day_zone.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-26 08:00:00
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Sequence
from datetime import UTC, date, datetime, time
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _day(value: Any) -> date:
    return date.fromisoformat(value) if isinstance(value, str) else value


def _aware(value: Any) -> datetime:
    moment: datetime = datetime.fromisoformat(value) if isinstance(value, str) else value
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _usage_month(with_version: bool) -> sa.Table:
    columns: list[sa.schema.SchemaItem] = [
        sa.Column("account_id", BigId, nullable=False),
        sa.Column("month_date", sa.Date(), nullable=False),
        *([sa.Column("tariff_version_id", BigId, nullable=False)] if with_version else []),
        sa.Column("tod_zone", sa.String(length=60), nullable=False),
        sa.Column("billed_energy_wh", sa.BigInteger(), nullable=False),
    ]
    key = ["account_id", "month_date", *(["tariff_version_id"] if with_version else []), "tod_zone"]
    return op.create_table("usage_month", *columns, sa.PrimaryKeyConstraint(*key, name=op.f("pk_usage_month")))


def _versions_in_force(bind: sa.Connection, account_ids: set[int]) -> dict[int, tuple[ZoneInfo, list[Any]]]:
    """account -> (its utility's zone, its tariff's versions as (effective_from_at, id) in effective order)."""
    result: dict[int, tuple[ZoneInfo, list[Any]]] = {}
    accounts = bind.execute(
        sa.text("SELECT a.id, a.tariff_id, u.timezone FROM account a JOIN utility u ON u.id = a.utility_id")
    ).all()
    versions: dict[int, list[tuple[datetime, int]]] = {}
    for tariff_id, version_id, effective in bind.execute(
        sa.text("SELECT tariff_id, id, effective_from_at FROM tariff_version")
    ):
        versions.setdefault(int(tariff_id), []).append((_aware(effective), int(version_id)))
    for account_id, tariff_id, zone in accounts:
        if int(account_id) in account_ids:
            timeline = sorted(versions.get(int(tariff_id), [])) if tariff_id is not None else []
            result[int(account_id)] = (ZoneInfo(zone or "UTC"), timeline)
    return result


def upgrade() -> None:
    bind = op.get_bind()
    old = bind.execute(sa.text("SELECT account_id, month_date, tod_zone, billed_energy_wh FROM usage_month")).all()
    op.drop_table("usage_month")
    table = _usage_month(with_version=True)
    timelines = _versions_in_force(bind, {int(row[0]) for row in old})
    rows = []
    for account_id, month_date, tod_zone, wh in old:
        zone, timeline = timelines.get(int(account_id), (ZoneInfo("UTC"), []))
        start = datetime.combine(_day(month_date), time(0), tzinfo=zone).astimezone(UTC)
        index = bisect_right([effective for effective, _ in timeline], start)
        version_id = timeline[index - 1][1] if index else (timeline[0][1] if timeline else 0)
        rows.append(
            {
                "account_id": int(account_id),
                "month_date": _day(month_date),
                "tariff_version_id": version_id,
                "tod_zone": tod_zone,
                "billed_energy_wh": int(wh),
            }
        )
    if rows:
        op.bulk_insert(table, rows)
    op.create_table(
        "usage_day_zone",
        sa.Column("account_id", BigId, nullable=False),
        sa.Column("local_date", sa.Date(), nullable=False),
        sa.Column("tariff_version_id", BigId, nullable=False),
        sa.Column("tod_zone", sa.String(length=60), nullable=False),
        sa.Column("interval_energy_wh", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint(
            "account_id", "local_date", "tariff_version_id", "tod_zone", name=op.f("pk_usage_day_zone")
        ),
    )


def downgrade() -> None:
    bind = op.get_bind()
    old = bind.execute(
        sa.text(
            "SELECT account_id, month_date, tod_zone, sum(billed_energy_wh) FROM usage_month "
            "GROUP BY account_id, month_date, tod_zone"
        )
    ).all()
    op.drop_table("usage_day_zone")
    op.drop_table("usage_month")
    table = _usage_month(with_version=False)
    rows = [
        {"account_id": int(a), "month_date": _day(m), "tod_zone": z, "billed_energy_wh": int(wh)} for a, m, z, wh in old
    ]
    if rows:
        op.bulk_insert(table, rows)
