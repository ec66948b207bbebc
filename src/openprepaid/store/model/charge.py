"""What the wallet has charged from meter data, keyed so that charging twice is impossible.

Invariants (architecture.md "Identity and money invariants", domain.md §2 "Charging"):
- ``charge_interval``: one row per (meter, interval end) ever. The primary key is the exactly-once
  guard: the row and the ledger transaction that bills it are written in one database transaction,
  so a re-delivered interval finds its row and is a no-op. Held, rejected and register-covered
  intervals get a row too (without money), so a re-delivery cannot bill them behind the review.
- ``charge_trueup``: one row per (meter, local day) whose daily cumulative register was compared
  with the intervals charged for that day; the difference is billed or credited once.
- ``usage_day`` / ``usage_month``: running totals written in the same transaction as the charges
  (what was billed per meter-day and per account-month); month-to-date units for slabs and the
  unbilled-exposure report read them instead of scanning ``charge_interval``.

``charge_interval`` is the hot table (96 rows per meter per day): it is narrow and carries no
foreign keys, because every row is written by the charging repository from an installation it has
just read, and per-row foreign-key checks would halve bulk-insert throughput (docs/ledger.md).
"""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import Enum, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from openprepaid.store.model.base import Base, BigId, id_column, str_enum


class IntervalChargeStatus(StrEnum):
    CHARGED = "charged"  # billed in ``ledger_transaction_id`` (may be zero money for zero energy)
    HELD = "held"  # implausible reading waiting for review (see ``charge_hold``); not billed
    REJECTED = "rejected"  # reviewed and refused; never billed
    COVERED = "covered"  # arrived after its day was trued up: the register already billed it


class ChargeBatch(Base):
    """One call of the batch charging: when it ran and what it did (the audit trail of the hot path)."""

    __tablename__ = "charge_batch"

    id: Mapped[int] = id_column()
    created_at: Mapped[datetime]
    actor: Mapped[str] = mapped_column(String(100))
    charged_count: Mapped[int] = mapped_column(default=0)
    held_count: Mapped[int] = mapped_column(default=0)
    covered_count: Mapped[int] = mapped_column(default=0)
    ledger_transaction_count: Mapped[int] = mapped_column(default=0)
    amount_paise: Mapped[int] = mapped_column(default=0)


class ChargeInterval(Base):
    """The interval was taken into batch ``batch_id``; its money is in that batch's ledger transaction
    for (account, local day), key ``interval:<batch>:<account>:<local date>``."""

    __tablename__ = "charge_interval"

    meter_id: Mapped[int] = mapped_column(BigId, primary_key=True)
    interval_end_at: Mapped[datetime] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(BigId)
    energy_wh: Mapped[int]
    # Validated in Python, no CHECK in the database: on the hot table a CHECK halves SQLite's insert rate.
    status: Mapped[IntervalChargeStatus] = mapped_column(
        Enum(
            IntervalChargeStatus,
            name="interval_charge_status",
            native_enum=False,
            create_constraint=False,
            length=16,
            values_callable=lambda members: [m.value for m in members],
            validate_strings=True,
        )
    )
    batch_id: Mapped[int] = mapped_column(BigId)


class HoldSource(StrEnum):
    BLOCK = "block"  # a block-load interval
    DAILY = "daily"  # a daily cumulative-register delta


class HoldState(StrEnum):
    OPEN = "open"
    RELEASED = "released"
    REJECTED = "rejected"


class ChargeHold(Base):
    """A reading held for review instead of being billed (negative or implausible energy)."""

    __tablename__ = "charge_hold"
    __table_args__ = (Index("ix_charge_hold_state_account", "state", "account_id"),)

    meter_id: Mapped[int] = mapped_column(BigId, ForeignKey("meter.id"), primary_key=True)
    source: Mapped[HoldSource] = mapped_column(str_enum(HoldSource, "hold_source"), primary_key=True)
    period_end_at: Mapped[datetime] = mapped_column(primary_key=True)
    account_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("account.id"))
    energy_wh: Mapped[int]
    limit_wh: Mapped[int | None]
    reason: Mapped[str] = mapped_column(String(200))
    state: Mapped[HoldState] = mapped_column(str_enum(HoldState, "hold_state"))
    created_at: Mapped[datetime]
    resolved_at: Mapped[datetime | None]
    resolved_by: Mapped[str] = mapped_column(String(100), default="")
    resolution_note: Mapped[str] = mapped_column(String(500), default="")


class TrueUpStatus(StrEnum):
    BILLED = "billed"  # difference billed/credited in ``ledger_transaction_id`` (none when zero)
    HELD = "held"  # register delta implausible: see ``charge_hold``


class ChargeTrueUp(Base):
    """Daily register delta vs the intervals charged for that (meter, local day)."""

    __tablename__ = "charge_trueup"

    meter_id: Mapped[int] = mapped_column(BigId, ForeignKey("meter.id"), primary_key=True)
    local_date: Mapped[date] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("account.id"), index=True)
    register_start_wh: Mapped[int]
    register_end_wh: Mapped[int]
    register_delta_wh: Mapped[int]
    intervals_wh: Mapped[int]
    difference_wh: Mapped[int]
    status: Mapped[TrueUpStatus] = mapped_column(str_enum(TrueUpStatus, "trueup_status"))
    ledger_transaction_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("ledger_transaction.id"))
    created_at: Mapped[datetime]


class UsageDay(Base):
    """Intervals taken per (meter, local day, account): row count for exposure and the dedupe pre-check,
    billed interval energy for the true-up; ``trued_up`` once the daily register settled the day."""

    __tablename__ = "usage_day"
    __table_args__ = (Index("ix_usage_day_account_local_date", "account_id", "local_date"),)

    meter_id: Mapped[int] = mapped_column(BigId, primary_key=True)
    local_date: Mapped[date] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(BigId, primary_key=True)
    interval_count: Mapped[int]
    interval_energy_wh: Mapped[int]
    last_interval_end_at: Mapped[datetime | None]
    trued_up: Mapped[bool] = mapped_column(default=False)


class UsageMonth(Base):
    """Energy billed per (account, local month, ToD zone; '' outside adjusting zones): month-to-date units
    for slabs (summed over zones) and the month's zone energies for the settlement's month bill."""

    __tablename__ = "usage_month"

    account_id: Mapped[int] = mapped_column(BigId, primary_key=True)
    month_date: Mapped[date] = mapped_column(primary_key=True)  # first day of the local month
    tod_zone: Mapped[str] = mapped_column(String(60), primary_key=True)
    billed_energy_wh: Mapped[int]
