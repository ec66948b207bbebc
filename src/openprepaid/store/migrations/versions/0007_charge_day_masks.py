"""wallet: charged intervals as per meter-day bitmasks (charge_day, charge_take) instead of a row each

charge_interval (one row per meter and interval end) is replaced by charge_day (one row per meter
and UTC day of the interval end; bit m of each little-endian mask = the interval ending at minute m
of that day: taken, held-or-rejected, covered) and charge_take (what each batch took per meter-day:
its masks, the held bits it released, count and billed energy). Existing rows are migrated: each
meter-day's masks are the union of its rows, and each (batch, meter, day) gets a take row (a
released interval's take is its releasing batch's, as charge_interval recorded it). The downgrade
rebuilds charge_interval from the masks (account from the installation serving the meter then,
energy from reading_block when stored, else 0; per-interval energy is not kept by 0007).

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-25 07:00:00
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_STATUS = sa.Enum(
    "charged", "held", "rejected", "covered", name="interval_charge_status", native_enum=False,
    create_constraint=False, length=16,
)  # fmt: skip


def _mask_bytes(mask: int) -> bytes:
    return mask.to_bytes((mask.bit_length() + 7) // 8, "little")


def _aware(value: Any) -> datetime:
    moment: datetime = datetime.fromisoformat(value) if isinstance(value, str) else value
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _day(value: Any) -> date:
    return date.fromisoformat(value) if isinstance(value, str) else value


def _interval_table() -> sa.TableClause:
    return sa.table(
        "charge_interval",
        sa.column("meter_id", BigId),
        sa.column("interval_end_at", sa.DateTime(timezone=True)),
        sa.column("account_id", BigId),
        sa.column("energy_wh", sa.BigInteger()),
        sa.column("status", sa.String(16)),
        sa.column("batch_id", BigId),
    )


def _mask_columns() -> list[sa.Column[Any]]:
    return [
        sa.Column("taken_mask", sa.LargeBinary(), nullable=False),
        sa.Column("held_mask", sa.LargeBinary(), nullable=False),
        sa.Column("covered_mask", sa.LargeBinary(), nullable=False),
    ]


def upgrade() -> None:
    day = op.create_table(
        "charge_day",
        sa.Column("meter_id", BigId, nullable=False),
        sa.Column("utc_date", sa.Date(), nullable=False),
        *_mask_columns(),
        sa.Column("interval_count", sa.BigInteger(), nullable=False),
        sa.Column("batch_id", BigId, nullable=False),
        sa.PrimaryKeyConstraint("meter_id", "utc_date", name=op.f("pk_charge_day")),
    )
    take = op.create_table(
        "charge_take",
        sa.Column("batch_id", BigId, nullable=False),
        sa.Column("meter_id", BigId, nullable=False),
        sa.Column("utc_date", sa.Date(), nullable=False),
        *_mask_columns(),
        sa.Column("released_mask", sa.LargeBinary(), nullable=False),
        sa.Column("interval_count", sa.BigInteger(), nullable=False),
        sa.Column("billed_energy_wh", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("batch_id", "meter_id", "utc_date", name=op.f("pk_charge_take")),
    )
    _migrate_rows(day, take)
    op.drop_table("charge_interval")


def _migrate_rows(day: sa.Table, take: sa.Table) -> None:
    bind = op.get_bind()
    days: dict[tuple[int, date], list[int]] = {}  # taken, held, covered, last batch
    takes: dict[tuple[int, int, date], list[int]] = {}  # taken, held, covered, count, billed Wh
    rows = bind.execute(sa.select(_interval_table()))
    for meter_id, end_value, _, energy_wh, status, batch_id in rows:
        end_at = _aware(end_value)
        bit = 1 << (end_at.hour * 60 + end_at.minute)
        held = bit if status in ("held", "rejected") else 0
        covered = bit if status == "covered" else 0
        key = (int(meter_id), end_at.date())
        masks = days.setdefault(key, [0, 0, 0, 0])
        masks[0] |= bit
        masks[1] |= held
        masks[2] |= covered
        masks[3] = max(masks[3], int(batch_id))
        taken = takes.setdefault((int(batch_id), *key), [0, 0, 0, 0, 0])
        taken[0] |= bit
        taken[1] |= held
        taken[2] |= covered
        taken[3] += 1
        taken[4] += int(energy_wh) if status == "charged" else 0
    if days:
        op.bulk_insert(
            day,
            [
                {
                    "meter_id": m, "utc_date": d, "taken_mask": _mask_bytes(t), "held_mask": _mask_bytes(h),
                    "covered_mask": _mask_bytes(c), "interval_count": t.bit_count(), "batch_id": b,
                }
                for (m, d), (t, h, c, b) in sorted(days.items())
            ],
        )  # fmt: skip
    if takes:
        op.bulk_insert(
            take,
            [
                {
                    "batch_id": b, "meter_id": m, "utc_date": d, "taken_mask": _mask_bytes(t),
                    "held_mask": _mask_bytes(h), "covered_mask": _mask_bytes(c), "released_mask": b"",
                    "interval_count": n, "billed_energy_wh": wh,
                }
                for (b, m, d), (t, h, c, n, wh) in sorted(takes.items())
            ],
        )  # fmt: skip


def downgrade() -> None:
    interval = op.create_table(
        "charge_interval",
        sa.Column("meter_id", BigId, nullable=False),
        sa.Column("interval_end_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("account_id", BigId, nullable=False),
        sa.Column("energy_wh", sa.BigInteger(), nullable=False),
        sa.Column("status", _STATUS, nullable=False),
        sa.Column("batch_id", BigId, nullable=False),
        sa.PrimaryKeyConstraint("meter_id", "interval_end_at", name=op.f("pk_charge_interval")),
    )
    bind = op.get_bind()
    installations: dict[int, list[tuple[datetime, datetime | None, int]]] = {}
    for meter_id, installed, removed, account_id in bind.execute(
        sa.text("SELECT meter_id, installed_at, removed_at, account_id FROM meter_installation")
    ):
        installations.setdefault(int(meter_id), []).append(
            (_aware(installed), None if removed is None else _aware(removed), int(account_id))
        )
    batch_of: dict[tuple[int, date, int], int] = {}
    for batch_id, meter_id, utc_date, taken, released in bind.execute(
        sa.text("SELECT batch_id, meter_id, utc_date, taken_mask, released_mask FROM charge_take ORDER BY batch_id")
    ):
        for data in (taken, released):
            bits = int.from_bytes(data, "little")
            while bits:
                low = bits & -bits
                batch_of[(int(meter_id), _day(utc_date), low.bit_length() - 1)] = int(batch_id)
                bits ^= low
    rows: list[dict[str, Any]] = []
    for meter_id, utc_date, taken, held, covered in bind.execute(
        sa.text("SELECT meter_id, utc_date, taken_mask, held_mask, covered_mask FROM charge_day")
    ):
        rows.extend(_rows_of_day(int(meter_id), _day(utc_date), (taken, held, covered), installations, batch_of))
    if rows:
        op.bulk_insert(interval, rows)
    op.drop_table("charge_take")
    op.drop_table("charge_day")


def _rows_of_day(
    meter_id: int,
    utc_date: date,
    masks: tuple[bytes, bytes, bytes],
    installations: dict[int, list[tuple[datetime, datetime | None, int]]],
    batch_of: dict[tuple[int, date, int], int],
) -> list[dict[str, Any]]:
    taken, held, covered = (int.from_bytes(mask, "little") for mask in masks)
    midnight = datetime(utc_date.year, utc_date.month, utc_date.day, tzinfo=UTC)
    bind = op.get_bind()
    rows: list[dict[str, Any]] = []
    while taken:
        low = taken & -taken
        taken ^= low
        minute = low.bit_length() - 1
        end_at = midnight + timedelta(minutes=minute)
        account = next(
            (
                a
                for start, stop, a in installations.get(meter_id, [])
                if start < end_at and (stop is None or end_at <= stop)
            ),
            None,
        )
        if account is None:
            continue  # an unmapped interval: charge_interval had no row for it (its hold stays)
        stored_end = end_at.replace(tzinfo=None) if bind.dialect.name == "sqlite" else end_at
        energy = bind.execute(
            sa.text("SELECT import_wh FROM reading_block WHERE meter_id = :m AND interval_end_at = :e").bindparams(
                sa.bindparam("e", type_=sa.DateTime(timezone=True))
            ),
            {"m": meter_id, "e": stored_end},
        ).scalar_one_or_none()
        status = "covered" if covered & low else "held" if held & low else "charged"
        rows.append(
            {
                "meter_id": meter_id,
                "interval_end_at": end_at,
                "account_id": account,
                "energy_wh": int(energy or 0),
                "status": status,
                "batch_id": batch_of.get((meter_id, utc_date, minute), 0),
            }
        )
    return rows
