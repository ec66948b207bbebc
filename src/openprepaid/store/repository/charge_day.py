"""The charging guard's SQL: per meter-day interval bitmasks (``charge_day``) and per batch takes
(``charge_take``); see ``store/model/charge.py`` and docs/ledger.md "Charging storage".

Invariants kept: a ``taken_mask`` bit is never cleared; a meter-day row is only changed by an UPDATE
guarded by the masks the batch read (``WHERE taken_mask = old AND held_mask = old``), so a unit of
work that raced another sees zero rows changed and raises ``DuplicateKeyError`` (the caller rolls its
savepoint back and looks again). On PostgreSQL the rows are also read ``FOR UPDATE`` in key order
(concurrent batches wait in one direction, never in a cycle); SQLite transactions begin IMMEDIATE.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import Date, Integer, Table, case, cast, exists, extract, func, literal, select
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from openprepaid.store.model import ChargeDay, ChargeHold, ChargeTake, HoldSource, HoldState, IntervalChargeStatus
from openprepaid.store.repository.bulk_write import DuplicateKeyError, driver_of, insert_rows
from openprepaid.store.repository.column_binding import column_binder
from openprepaid.store.repository.ledger import among, chunked

MINUTES_PER_DAY = 1440


def mask_bytes(mask: int) -> bytes:
    """An interval mask as stored: little-endian bytes, bit m = minute m of the UTC day (b'' for none)."""
    return mask.to_bytes((mask.bit_length() + 7) // 8, "little")


def mask_int(data: bytes | memoryview | None) -> int:
    return int.from_bytes(bytes(data), "little") if data else 0


def day_and_bit(end_at: datetime) -> tuple[date, int]:
    """The ``charge_day`` key date and the mask bit of the interval ending at ``end_at`` (aware)."""
    utc = end_at.astimezone(UTC)
    return utc.date(), 1 << (utc.hour * 60 + utc.minute)


def bits_to_ends(utc_date: date, mask: int) -> list[datetime]:
    """The interval ends (aware UTC) whose bits are set in a meter-day's mask, in time order."""
    midnight = datetime(utc_date.year, utc_date.month, utc_date.day, tzinfo=UTC)
    ends = []
    while mask:
        low = mask & -mask
        ends.append(midnight + timedelta(minutes=low.bit_length() - 1))
        mask ^= low
    return ends


@dataclass(frozen=True, slots=True)
class DayMasks:
    """A meter-day as stored: intervals taken, of those held (or rejected) and covered by the register."""

    taken: int
    held: int
    covered: int


@dataclass(slots=True)
class DayTake:
    """What one batch does to one meter-day: bits it takes (of them held / covered), held bits it
    releases (bills now), and the energy it bills there."""

    taken: int = 0
    held: int = 0
    covered: int = 0
    released: int = 0
    billed_wh: int = 0


def day_masks(
    session: Session, meter_ids: Sequence[int], first: date, last: date, *, lock: bool
) -> dict[tuple[int, date], DayMasks]:
    """Stored masks of the meters' days in [first, last]; ``lock``: ``FOR UPDATE`` in key order on PostgreSQL."""
    result: dict[tuple[int, date], DayMasks] = {}
    postgres = session.get_bind().dialect.name == "postgresql"
    for chunk in chunked(sorted(set(meter_ids))):
        statement = (
            select(ChargeDay.meter_id, ChargeDay.utc_date, ChargeDay.taken_mask, ChargeDay.held_mask,
                   ChargeDay.covered_mask)
            .where(among(session, ChargeDay.meter_id, chunk), ChargeDay.utc_date >= first, ChargeDay.utc_date <= last)
            .order_by(ChargeDay.meter_id, ChargeDay.utc_date)
        )  # fmt: skip
        if lock and postgres:
            statement = statement.with_for_update()
        for meter_id, utc_date, taken, held, covered in session.execute(statement):
            result[(int(meter_id), utc_date)] = DayMasks(mask_int(taken), mask_int(held), mask_int(covered))
    return result


_DAY_COLUMNS = ("meter_id", "utc_date", "taken_mask", "held_mask", "covered_mask", "interval_count", "batch_id")
_DAY_PG_TYPES = ("int8", "date", "bytea", "bytea", "bytea", "int8", "int8")
_TAKE_COLUMNS = (
    "batch_id", "meter_id", "utc_date", "taken_mask", "held_mask", "covered_mask", "released_mask",
    "interval_count", "billed_energy_wh",
)  # fmt: skip
_TAKE_PG_TYPES = ("int8", "int8", "date", "bytea", "bytea", "bytea", "bytea", "int8", "int8")


def write_takes(
    session: Session,
    batch_id: int,
    takes: Mapping[tuple[int, date], DayTake],
    existing: Mapping[tuple[int, date], DayMasks],
) -> None:
    """Apply a batch's takes: new meter-days inserted, stored ones updated under the guard, one
    ``charge_take`` row each, all in key order. ``DuplicateKeyError`` if another unit of work changed
    or created one of these meter-days since ``existing`` was read."""
    if not takes:
        return
    _, dialect = driver_of(session)
    day_table: Table = ChargeDay.__table__  # type: ignore[assignment]
    take_table: Table = ChargeTake.__table__  # type: ignore[assignment]
    bind_date: Callable[[Any], Any] = column_binder(day_table.c.utc_date, dialect)
    fresh: list[tuple[Any, ...]] = []
    changed: list[tuple[Any, ...]] = []
    take_rows: list[tuple[Any, ...]] = []
    for (meter_id, utc_date), take in sorted(takes.items()):
        stored = existing.get((meter_id, utc_date))
        day = bind_date(utc_date)
        taken_bytes = mask_bytes(take.taken)
        held_bytes = mask_bytes(take.held) if take.held else b""
        covered_bytes = mask_bytes(take.covered) if take.covered else b""
        released_bytes = mask_bytes(take.released) if take.released else b""
        count = take.taken.bit_count()
        if stored is None:
            held = take.held & ~take.released
            held_now = held_bytes if held == take.held else mask_bytes(held)
            fresh.append((meter_id, day, taken_bytes, held_now, covered_bytes, count, batch_id))
        else:
            taken = stored.taken | take.taken
            held = (stored.held | take.held) & ~take.released
            changed.append(
                (meter_id, day, mask_bytes(taken), mask_bytes(held), mask_bytes(stored.covered | take.covered),
                 taken.bit_count(), mask_bytes(stored.taken), mask_bytes(stored.held))
            )  # fmt: skip
        take_rows.append(
            (batch_id, meter_id, day, taken_bytes, held_bytes, covered_bytes, released_bytes, count, take.billed_wh)
        )
    insert_rows(session, day_table, _DAY_COLUMNS, fresh, pg_types=_DAY_PG_TYPES)
    _update_days(session, batch_id, changed)
    insert_rows(session, take_table, _TAKE_COLUMNS, take_rows, pg_types=_TAKE_PG_TYPES)


def lock_meter_days(session: Session, meter_id: int, first: date, last: date) -> None:
    """Hold the guard of one meter's days [first, last] for the rest of the database transaction (the daily
    true-up closing a local day): stored rows are read ``FOR UPDATE`` on PostgreSQL (a charging batch that
    read them first is waited for; one that comes later waits), missing ones are created with empty masks
    (a batch that read "no row" and inserts it meets a unique violation and looks again; if a batch created
    it meanwhile, ``DuplicateKeyError``: roll back and call again). SQLite transactions begin IMMEDIATE."""
    stored = day_masks(session, [meter_id], first, last, lock=True)
    _, dialect = driver_of(session)
    table: Table = ChargeDay.__table__  # type: ignore[assignment]
    bind_date = column_binder(table.c.utc_date, dialect)
    missing = []
    day = first
    while day <= last:
        if (meter_id, day) not in stored:
            missing.append((meter_id, bind_date(day), b"", b"", b"", 0, 0))
        day += timedelta(days=1)
    insert_rows(session, table, _DAY_COLUMNS, missing, pg_types=_DAY_PG_TYPES)


def _update_days(session: Session, batch_id: int, rows: Sequence[tuple[Any, ...]]) -> None:
    if not rows:
        return
    driver, dialect = driver_of(session)
    if dialect.name == "postgresql":
        with driver.cursor() as cursor:
            cursor.execute(
                "UPDATE charge_day AS d SET taken_mask = u.t, held_mask = u.h, covered_mask = u.c, "
                "interval_count = u.n, batch_id = %s "
                "FROM unnest(%s::bigint[], %s::date[], %s::bytea[], %s::bytea[], %s::bytea[], %s::bigint[], "
                "%s::bytea[], %s::bytea[]) AS u(m, d, t, h, c, n, ot, oh) "
                "WHERE d.meter_id = u.m AND d.utc_date = u.d AND d.taken_mask = u.ot AND d.held_mask = u.oh",
                [batch_id, *(list(column) for column in zip(*rows, strict=True))],
            )
            updated = cursor.rowcount
    else:
        cursor = driver.executemany(
            "UPDATE charge_day SET taken_mask = ?, held_mask = ?, covered_mask = ?, interval_count = ?, batch_id = ? "
            "WHERE meter_id = ? AND utc_date = ? AND taken_mask = ? AND held_mask = ?",
            [(t, h, c, n, batch_id, m, d, ot, oh) for m, d, t, h, c, n, ot, oh in rows],
        )
        updated = cursor.rowcount
    if updated != len(rows):
        raise DuplicateKeyError(f"{len(rows) - updated} meter-days were changed by another unit of work")


# --- reads for the catch-up sweep, audits and reviews ------------------------------------------------

_BYTE_VALUES = bytes(range(256))


def taken_condition(session: Session, meter_id: Any, interval_end_at: Any) -> ColumnElement[bool]:
    """SQL: the interval ``(meter_id, interval_end_at)`` (columns of the outer query) has its bit taken."""
    day = ChargeDay.__table__.c
    bit: ColumnElement[Any]
    minute: ColumnElement[Any]
    if session.get_bind().dialect.name == "postgresql":
        utc = func.timezone("UTC", interval_end_at)
        on_date: ColumnElement[Any] = cast(utc, Date)
        minute = cast(extract("hour", utc) * 60 + extract("minute", utc), Integer)
        bit = case((func.length(day.taken_mask) * 8 > minute, func.get_bit(day.taken_mask, minute)), else_=0)
    else:  # times are stored as 'YYYY-MM-DD HH:MM:SS.ffffff' (UTC); a byte's value is its place in 00..FF
        on_date = func.substr(interval_end_at, 1, 10)
        hour = cast(func.substr(interval_end_at, 12, 2), Integer)
        minute = (hour * 60 + cast(func.substr(interval_end_at, 15, 2), Integer)).self_group()
        byte = func.instr(literal(_BYTE_VALUES), func.substr(day.taken_mask, minute.op("/")(8) + 1, 1)) - 1
        bit = byte.self_group().op(">>")(minute.op("%")(8).self_group()).op("&")(1)
    return exists().where(day.meter_id == meter_id, day.utc_date == on_date, bit == 1)


def _window_mask(utc_date: date, start: datetime, end: datetime) -> int:
    """Bits of the day's interval ends in (start, end]."""
    midnight = datetime(utc_date.year, utc_date.month, utc_date.day, tzinfo=UTC)
    first = max(0, int((start - midnight).total_seconds() // 60) + 1)
    last = min(MINUTES_PER_DAY - 1, int((end - midnight).total_seconds() // 60))
    return 0 if last < first else ((1 << (last + 1)) - 1) & ~((1 << first) - 1)


def taken_once_and_twice(session: Session, start: datetime, end: datetime) -> tuple[int, int]:
    """From the take rows: (intervals taken with start < end <= end, intervals among them taken or billed
    by more than one batch). A bit in two batches' ``taken_mask`` was taken twice; a bit billed twice is in
    two takes' billed part (``taken & ~held & ~covered | released``)."""
    statement = (
        select(ChargeTake.meter_id, ChargeTake.utc_date, ChargeTake.taken_mask, ChargeTake.held_mask,
               ChargeTake.covered_mask, ChargeTake.released_mask)
        .where(ChargeTake.utc_date >= start.astimezone(UTC).date(), ChargeTake.utc_date <= end.astimezone(UTC).date())
    )  # fmt: skip
    seen: dict[tuple[int, date], list[int]] = {}  # taken, taken twice, billed, billed twice
    for meter_id, utc_date, taken_b, held_b, covered_b, released_b in session.execute(statement):
        taken = mask_int(taken_b)
        billed = (taken & ~mask_int(held_b) & ~mask_int(covered_b)) | mask_int(released_b)
        state = seen.setdefault((int(meter_id), utc_date), [0, 0, 0, 0])
        state[1] |= state[0] & taken
        state[0] |= taken
        state[3] |= state[2] & billed
        state[2] |= billed
    windows: dict[date, int] = {}
    once = twice = 0
    for (_, utc_date), (taken, taken_twice, _, billed_twice) in seen.items():
        window = windows.get(utc_date)
        if window is None:
            window = windows[utc_date] = _window_mask(utc_date, start, end)
        once += (taken & window).bit_count()
        twice += ((taken_twice | billed_twice) & window).bit_count()
    return once, twice


def interval_statuses(session: Session, meter_id: int) -> dict[datetime, IntervalChargeStatus]:
    """Every interval of the meter taken so far and what became of it (reviews, tests, tools)."""
    rejected = set(
        session.execute(
            select(ChargeHold.period_end_at).where(
                ChargeHold.meter_id == meter_id,
                ChargeHold.source == HoldSource.BLOCK,
                ChargeHold.state == HoldState.REJECTED,
            )
        ).scalars()
    )
    result: dict[datetime, IntervalChargeStatus] = {}
    statement = select(ChargeDay.utc_date, ChargeDay.taken_mask, ChargeDay.held_mask, ChargeDay.covered_mask).where(
        ChargeDay.meter_id == meter_id
    )
    for utc_date, taken_b, held_b, covered_b in session.execute(statement):
        held, covered = mask_int(held_b), mask_int(covered_b)
        for end_at in bits_to_ends(utc_date, mask_int(taken_b)):
            _, bit = day_and_bit(end_at)
            if covered & bit:
                status = IntervalChargeStatus.COVERED
            elif held & bit:
                status = IntervalChargeStatus.REJECTED if end_at in rejected else IntervalChargeStatus.HELD
            else:
                status = IntervalChargeStatus.CHARGED
            result[end_at] = status
    return result
