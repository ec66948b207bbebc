"""What the wallet has charged from meter data, keyed so that charging twice is impossible.

Invariants (architecture.md "Identity and money invariants", domain.md §2 "Charging"):
- ``charge_day``: one row per (meter, UTC day of the interval end) carrying bitmasks; bit ``m`` (of
  the little-endian mask bytes) is the interval ending at minute ``m`` of that UTC day (any capture
  period fits, no time-zone or DST cases). ``taken_mask`` is the exactly-once guard: a batch reads
  (PostgreSQL: locks) the meter-days it touches, takes only bits not set yet and writes the new mask
  in the same database transaction as the money; a bit is never cleared. ``held_mask`` (taken, not
  billed: held for review, or rejected) and ``covered_mask`` (taken, not billed: its local day was
  trued up by the register) are subsets of it. Releasing a hold clears its ``held_mask`` bit.
- ``charge_take``: what each batch took per meter-day (the masks it set, the held bits it released,
  count and billed energy), so an audit proves from the database that no interval was taken or
  billed twice: two take rows of one meter-day sharing a bit is a double charge.
- ``charge_trueup``: one row per (meter, local day) whose daily cumulative register was compared
  with the intervals charged for that day; the difference is billed or credited once.
- ``usage_day`` / ``usage_day_zone`` / ``usage_month``: running totals written in the same transaction
  as the charges (what was billed per meter-day, per account-day by tariff version and ToD zone, and
  per account-month by version and zone); month-to-date units for slabs, the true-up's zone split,
  the month bill and the unbilled-exposure report read them.

Rows are O(meter-days), not O(intervals): a day of 15-minute intervals of a meter in a zone off UTC
is two ``charge_day`` rows and two ``charge_take`` rows (docs/ledger.md "Charging storage").
These tables carry no foreign keys: every row is written by the charging code from an installation
it has just read, and per-row checks would cost as much as the rows on the bulk path.
"""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import ForeignKey, Index, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from openprepaid.store.model.base import Base, BigId, id_column, str_enum


class IntervalChargeStatus(StrEnum):
    """What became of a taken interval (derived from the ``charge_day`` masks and the hold rows)."""

    CHARGED = "charged"  # billed in a ledger transaction of the batch that took or released it
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


class ChargeDay(Base):
    """The intervals of one meter ending on one UTC day that the wallet has taken (bit = minute of the day)."""

    __tablename__ = "charge_day"

    meter_id: Mapped[int] = mapped_column(BigId, primary_key=True)
    utc_date: Mapped[date] = mapped_column(primary_key=True)
    taken_mask: Mapped[bytes] = mapped_column(LargeBinary)
    held_mask: Mapped[bytes] = mapped_column(LargeBinary)
    covered_mask: Mapped[bytes] = mapped_column(LargeBinary)
    interval_count: Mapped[int]  # bits set in ``taken_mask``
    batch_id: Mapped[int] = mapped_column(BigId)  # the batch that changed the row last


class ChargeTake(Base):
    """What batch ``batch_id`` took of one meter-day: its money is in that batch's ledger transactions
    (key ``interval:<batch>:<account>:<local date>``)."""

    __tablename__ = "charge_take"

    batch_id: Mapped[int] = mapped_column(BigId, primary_key=True)
    meter_id: Mapped[int] = mapped_column(BigId, primary_key=True)
    utc_date: Mapped[date] = mapped_column(primary_key=True)
    taken_mask: Mapped[bytes] = mapped_column(LargeBinary)  # bits this batch set in ``charge_day.taken_mask``
    held_mask: Mapped[bytes] = mapped_column(LargeBinary)  # of those, held
    covered_mask: Mapped[bytes] = mapped_column(LargeBinary)  # of those, covered by the register
    released_mask: Mapped[bytes] = mapped_column(LargeBinary)  # held bits of earlier batches billed now
    interval_count: Mapped[int]  # bits in ``taken_mask``
    billed_energy_wh: Mapped[int]  # energy billed by this batch for the meter-day


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
    """Energy billed per (account, local month, tariff version, ToD zone; '' outside adjusting zones):
    month-to-date units for slabs (summed over versions and zones) and, per version, the zone energies of
    the settlement's month bill (a month with a tariff change is billed as per-version parts)."""

    __tablename__ = "usage_month"

    account_id: Mapped[int] = mapped_column(BigId, primary_key=True)
    month_date: Mapped[date] = mapped_column(primary_key=True)  # first day of the local month
    tariff_version_id: Mapped[int] = mapped_column(BigId, primary_key=True)  # the version that rated it
    tod_zone: Mapped[str] = mapped_column(String(60), primary_key=True)
    billed_energy_wh: Mapped[int]


class UsageDayZone(Base):
    """Interval energy billed per (account, local day, tariff version, ToD zone): the day's split the daily
    true-up divides the register difference by (true-up energy itself is not added here)."""

    __tablename__ = "usage_day_zone"

    account_id: Mapped[int] = mapped_column(BigId, primary_key=True)
    local_date: Mapped[date] = mapped_column(primary_key=True)
    tariff_version_id: Mapped[int] = mapped_column(BigId, primary_key=True)
    tod_zone: Mapped[str] = mapped_column(String(60), primary_key=True)
    interval_energy_wh: Mapped[int]
