"""Head-end SQL: meters as session targets, invocation counters, scaler caches, collection facts, outages.

Block-load read progress: ``meter.block_load_read_to`` (migration 0010) says the meter's block load
was read up to that instant, also where the meter held no intervals. A collection resumes from the
later of it and the newest stored interval (``CollectionMarks.block_resume_at``);
``block_marks.advance_block_read_to`` only ever moves it forward (the collector decides how far is
safe); ``block_marks`` also keeps a pending re-read range (``meters reread``, migration 0011).

Invocation counters (IEC 62056-5-3 §5.7 / security suite 0): the client's counter per meter and
association must never repeat. ``reserve_invocation_counters`` hands out a block with one atomic
``UPDATE ... SET next_value = next_value + n RETURNING next_value`` committed before any counter
of the block is used, so concurrent reservers get disjoint blocks and a restarted head-end always
continues above anything it may have used (unused values of a block are simply skipped).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import Table, bindparam, case, func, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from openprepaid.store.model import (
    BillingReading,
    BlockReading,
    DailyReading,
    InvocationCounter,
    Meter,
    MeterEvent,
    MeterStatus,
    MeterType,
    Outage,
)
from openprepaid.store.repository.ledger import chunked
from openprepaid.store.repository.natural_key import insert_ignoring_duplicates

MAX_INVOCATION_COUNTER = 2**32 - 1  # a 4-byte counter (IEC 62056-5-3 security header)
FIRST_INVOCATION_COUNTER = 1


class InvocationCounterExhaustedError(Exception):
    """The counter would pass 2**32 - 1: the association's keys must be changed first."""


# --- meters as targets -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TargetRow:
    """What the head-end needs of a meter and its type to reach it (plain columns, no ORM objects)."""

    meter_id: int
    utility_id: int
    serial: str
    manufacturer_code: str
    system_title: bytes
    comm_mode: str
    host: str | None
    port: int | None
    framing: str
    server_address: int
    meter_type_id: int
    meter_type_code: str
    has_relay: bool
    capture_period_s: int
    object_profile: Mapping[str, Any] | None


def target_rows(session: Session, meter_ids: Sequence[int]) -> list[TargetRow]:
    """Meters with their types' columns, by id; a Core query (thousands of meters load without ORM state)."""
    statement = select(
        Meter.id,
        Meter.utility_id,
        Meter.serial,
        Meter.manufacturer_code,
        Meter.system_title,
        Meter.comm_mode,
        Meter.host,
        Meter.port,
        Meter.framing,
        Meter.server_address,
        MeterType.id,
        MeterType.code,
        MeterType.has_relay,
        MeterType.capture_period_s,
        MeterType.object_profile,
    ).join(MeterType, MeterType.id == Meter.meter_type_id)
    result: list[TargetRow] = []
    for chunk in chunked(meter_ids):
        rows = session.execute(statement.where(Meter.id.in_(chunk)))
        result.extend(TargetRow(*cast(tuple[Any, ...], row)) for row in rows)
    return result


def installed_meter_ids(session: Session, utility_id: int | None = None) -> list[int]:
    statement = select(Meter.id).where(Meter.status == MeterStatus.INSTALLED).order_by(Meter.id)
    if utility_id is not None:
        statement = statement.where(Meter.utility_id == utility_id)
    return [int(value) for value in session.execute(statement).scalars()]


def mark_seen(session: Session, meter_id: int, at: datetime, *, firmware: str | None = None) -> None:
    """The meter communicated at ``at``: first_seen_at once, last_seen_at only forward.

    A Core statement built once (a meter object already loaded in the session is not refreshed)."""
    params: dict[str, Any] = {"meter_id": meter_id, "at": at}
    if firmware:
        params["firmware"] = firmware[:64]
        session.execute(_MARK_SEEN_WITH_FIRMWARE, params)
    else:
        session.execute(_MARK_SEEN, params)


def _mark_seen_statement(*, firmware: bool) -> Any:
    table: Table = Meter.__table__  # type: ignore[assignment]
    meter = table.c
    at = bindparam("at", type_=meter.last_seen_at.type)
    values: dict[str, Any] = {
        "first_seen_at": func.coalesce(meter.first_seen_at, at),
        "last_seen_at": case(
            (meter.last_seen_at.is_(None), at), (meter.last_seen_at < at, at), else_=meter.last_seen_at
        ),
    }
    if firmware:
        values["firmware"] = bindparam("firmware", type_=meter.firmware.type)
    return update(table).where(meter.id == bindparam("meter_id", type_=meter.id.type)).values(**values)


_MARK_SEEN = _mark_seen_statement(firmware=False)
_MARK_SEEN_WITH_FIRMWARE = _mark_seen_statement(firmware=True)


# --- invocation counters ---------------------------------------------------------------------------


def reserve_invocation_counters(session: Session, meter_id: int, client_sap: int, count: int, now: datetime) -> int:
    """Reserve ``count`` consecutive counters; returns the first. Commit before using any of them.

    One statement: ``INSERT ... ON CONFLICT (meter_id, client_sap) DO UPDATE SET next_value =
    next_value + count RETURNING next_value`` (the first reservation creates the row)."""
    if count < 1:
        raise ValueError("reserve at least one counter")
    dialect = session.get_bind().dialect.name
    statement = _RESERVE_STATEMENTS.get(dialect)
    if statement is None:
        statement = _RESERVE_STATEMENTS[dialect] = _reserve_statement(dialect)
    params = {"meter_id": meter_id, "client_sap": client_sap, "first": FIRST_INVOCATION_COUNTER + count}
    after = int(session.execute(statement, {**params, "count": count, "now": now}).scalar_one())
    first = after - count
    if after - 1 > MAX_INVOCATION_COUNTER:
        raise InvocationCounterExhaustedError(
            f"meter {meter_id} client {client_sap}: invocation counter exhausted; change the keys"
        )
    return first


def _reserve_statement(dialect: str) -> Any:
    if dialect == "postgresql":
        insert: Any = postgresql.insert
    elif dialect == "sqlite":
        insert = sqlite.insert
    else:
        raise NotImplementedError(f"upsert is not implemented for {dialect}")
    table = InvocationCounter.__table__
    statement = insert(table).values(
        meter_id=bindparam("meter_id", type_=table.c.meter_id.type),
        client_sap=bindparam("client_sap", type_=table.c.client_sap.type),
        next_value=bindparam("first", type_=table.c.next_value.type),
        updated_at=bindparam("now", type_=table.c.updated_at.type),
    )
    return statement.on_conflict_do_update(
        index_elements=[table.c.meter_id, table.c.client_sap],
        set_={
            "next_value": table.c.next_value + bindparam("count", type_=table.c.next_value.type),
            "updated_at": statement.excluded.updated_at,
        },
    ).returning(table.c.next_value)


_RESERVE_STATEMENTS: dict[str, Any] = {}


def raise_invocation_counter_floor(
    session: Session, meter_id: int, client_sap: int, at_least: int, now: datetime
) -> int:
    """Make the next counter at least ``at_least`` (e.g. the meter reported a higher one); never lowers it."""
    insert_ignoring_duplicates(
        session,
        InvocationCounter.__table__,  # type: ignore[arg-type]
        [{"meter_id": meter_id, "client_sap": client_sap, "next_value": at_least, "updated_at": now}],
    )
    statement = (
        update(InvocationCounter)
        .where(InvocationCounter.meter_id == meter_id, InvocationCounter.client_sap == client_sap)
        .values(
            next_value=case((InvocationCounter.next_value < at_least, at_least), else_=InvocationCounter.next_value),
            updated_at=now,
        )
        .returning(InvocationCounter.next_value)
    )
    return int(session.execute(statement).scalar_one())


def next_invocation_counter(session: Session, meter_id: int, client_sap: int) -> int | None:
    statement = select(InvocationCounter.next_value).where(
        InvocationCounter.meter_id == meter_id, InvocationCounter.client_sap == client_sap
    )
    value = session.execute(statement).scalar_one_or_none()
    return None if value is None else int(value)


# --- scaler cache ----------------------------------------------------------------------------------


def meter_type_scalers(session: Session, meter_type_id: int) -> dict[str, Any]:
    value = session.execute(select(MeterType.scalers).where(MeterType.id == meter_type_id)).scalar_one_or_none()
    return dict(value or {})


def cache_meter_type_scalers(session: Session, meter_type_id: int, profile: str, scalers: Mapping[str, Any]) -> None:
    """Store one profile's scalers in the meter type's cache (other profiles are kept)."""
    statement = select(MeterType).where(MeterType.id == meter_type_id).with_for_update()
    meter_type = session.execute(statement).scalar_one()
    meter_type.scalers = {**(meter_type.scalers or {}), profile: dict(scalers)}
    session.flush()


# --- collection facts ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CollectionFactsRow:
    meter_id: int
    utility_id: int
    meter_type_code: str
    firmware: str
    first_seen_at: datetime | None
    last_seen_at: datetime | None
    last_block_end_at: datetime | None
    last_daily_at: datetime | None
    last_billing_at: datetime | None
    last_outage_end_at: datetime | None
    block_read_to: datetime | None = None


def collection_facts(session: Session, meter_ids: Sequence[int]) -> list[CollectionFactsRow]:
    """What has been collected per meter: the newest stored row of each profile (grouped queries) and the
    block-load read progress."""
    rows: list[CollectionFactsRow] = []
    for chunk in chunked(meter_ids):
        block = _max_by_meter(session, BlockReading.meter_id, BlockReading.interval_end_at, chunk)
        daily = _max_by_meter(session, DailyReading.meter_id, DailyReading.captured_at, chunk)
        billing = _max_by_meter(session, BillingReading.meter_id, BillingReading.billing_at, chunk)
        outage = _max_by_meter(session, Outage.meter_id, Outage.ended_at, chunk)
        meters = session.execute(
            select(
                Meter.id,
                Meter.utility_id,
                MeterType.code,
                Meter.firmware,
                Meter.first_seen_at,
                Meter.last_seen_at,
                Meter.block_load_read_to,
            )
            .join(MeterType, MeterType.id == Meter.meter_type_id)
            .where(Meter.id.in_(chunk))
            .order_by(Meter.id)
        )
        for meter_id, utility_id, type_code, firmware, first_seen, last_seen, read_to in meters:
            rows.append(
                CollectionFactsRow(
                    meter_id,
                    utility_id,
                    type_code,
                    firmware or "",
                    first_seen,
                    last_seen,
                    block.get(meter_id),
                    daily.get(meter_id),
                    billing.get(meter_id),
                    outage.get(meter_id),
                    read_to,
                )
            )
    return rows


def _max_by_meter(session: Session, meter_col: Any, value_col: Any, meter_ids: Sequence[int]) -> dict[int, datetime]:
    statement = select(meter_col, func.max(value_col)).where(meter_col.in_(meter_ids)).group_by(meter_col)
    return {int(meter): value for meter, value in session.execute(statement) if value is not None}


@dataclass(frozen=True, slots=True)
class CollectionMarks:
    """Where a collection of one meter resumes: the newest stored row of each profile and event log, and
    how far the block load was read (``meter.block_load_read_to``, also where the meter held nothing)."""

    last_block_end_at: datetime | None
    last_daily_at: datetime | None
    last_billing_at: datetime | None
    last_event_at: Mapping[int, datetime | None]
    block_read_to: datetime | None = None
    block_reread_from: datetime | None = None  # a range to read again (``meters reread``), None: none
    block_reread_to: datetime | None = None

    @property
    def block_resume_at(self) -> datetime | None:
        """The later of the newest stored interval and the read progress: block load resumes here."""
        known = [at for at in (self.last_block_end_at, self.block_read_to) if at is not None]
        return max(known, default=None)


def collection_marks(session: Session, meter_id: int, event_logs: Sequence[int]) -> CollectionMarks:
    """All of a meter's resume points in one statement (a scalar subquery per profile and log)."""
    logs = tuple(event_logs)
    statement = _MARKS_STATEMENTS.get(logs)
    if statement is None:  # built once per set of logs: constructing it costs more than running it
        statement = _MARKS_STATEMENTS[logs] = _marks_statement(logs)
    row = session.execute(statement, {"meter_id": meter_id}).one()
    events = dict(zip(logs, row[6:], strict=True))
    return CollectionMarks(row[0], row[1], row[2], events, row[3], block_reread_from=row[4], block_reread_to=row[5])


def _marks_statement(logs: tuple[int, ...]) -> Any:
    meter_id: Any = bindparam("meter_id")

    def newest(column: Any, *where: Any) -> Any:
        return select(func.max(column)).where(*where).scalar_subquery()

    return select(
        newest(BlockReading.interval_end_at, BlockReading.meter_id == meter_id),
        newest(DailyReading.captured_at, DailyReading.meter_id == meter_id),
        newest(BillingReading.billing_at, BillingReading.meter_id == meter_id),
        select(Meter.block_load_read_to).where(Meter.id == meter_id).scalar_subquery(),
        select(Meter.block_load_reread_from).where(Meter.id == meter_id).scalar_subquery(),
        select(Meter.block_load_reread_to).where(Meter.id == meter_id).scalar_subquery(),
        *(newest(MeterEvent.occurred_at, MeterEvent.meter_id == meter_id, MeterEvent.log == log) for log in logs),
    )


_MARKS_STATEMENTS: dict[tuple[int, ...], Any] = {}


# --- outages ---------------------------------------------------------------------------------------


def open_outage(session: Session, meter_id: int) -> Outage | None:
    statement = (
        select(Outage)
        .where(Outage.meter_id == meter_id, Outage.ended_at.is_(None))
        .order_by(Outage.started_at.desc(), Outage.id.desc())
        .limit(1)
    )
    return session.execute(statement).scalar_one_or_none()


def outage_covering(session: Session, meter_id: int, at: datetime, tolerance: timedelta) -> Outage | None:
    """An outage that started within ``tolerance`` of ``at`` and had not ended before ``at``: the same
    power failure reported again (push, then event log), not a new one after a restore."""
    statement = (
        select(Outage)
        .where(
            Outage.meter_id == meter_id,
            Outage.started_at >= at - tolerance,
            Outage.started_at <= at + tolerance,
            or_(Outage.ended_at.is_(None), Outage.ended_at >= at),
        )
        .limit(1)
    )
    return session.execute(statement).scalar_one_or_none()


def insert_outage(session: Session, meter_id: int, started_at: datetime, source: str) -> Outage:
    outage = Outage(meter_id=meter_id, started_at=started_at, ended_at=None, source=source[:40])
    session.add(outage)
    session.flush()
    return outage


def close_outage(session: Session, outage: Outage, ended_at: datetime) -> None:
    outage.ended_at = ended_at
    session.flush()


def outages_of(session: Session, meter_id: int) -> list[Outage]:
    statement = select(Outage).where(Outage.meter_id == meter_id).order_by(Outage.started_at, Outage.id)
    return list(session.execute(statement).scalars())


# --- identification --------------------------------------------------------------------------------


def meter_id_by_identity(session: Session, system_title: bytes | None, device_id: str | None) -> int | None:
    """A meter by its system title, else by a device id that is its serial (optionally after the
    three-letter manufacturer code, as in a logical device name); None unless exactly one matches."""
    if system_title:
        found = session.execute(select(Meter.id).where(Meter.system_title == system_title)).scalar_one_or_none()
        if found is not None:
            return int(found)
    if not device_id:
        return None
    device_id = device_id.strip()
    candidates = set(session.execute(select(Meter.id).where(Meter.serial == device_id)).scalars())
    if len(device_id) > 3:
        by_name = select(Meter.id).where(Meter.manufacturer_code == device_id[:3], Meter.serial == device_id[3:])
        candidates.update(session.execute(by_name).scalars())
    return int(candidates.pop()) if len(candidates) == 1 else None


# --- availability ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class InstalledMeterRow:
    meter_id: int
    serial: str
    utility_id: int
    capture_period_s: int
    first_seen_at: datetime | None
    last_seen_at: datetime | None


def installed_meters(session: Session, utility_id: int | None = None) -> list[InstalledMeterRow]:
    statement = (
        select(
            Meter.id,
            Meter.serial,
            Meter.utility_id,
            MeterType.capture_period_s,
            Meter.first_seen_at,
            Meter.last_seen_at,
        )
        .join(MeterType, MeterType.id == Meter.meter_type_id)
        .where(Meter.status == MeterStatus.INSTALLED)
        .order_by(Meter.serial, Meter.id)
    )
    if utility_id is not None:
        statement = statement.where(Meter.utility_id == utility_id)
    return [InstalledMeterRow(*row) for row in session.execute(statement)]


def block_counts(session: Session, start_at: datetime, end_at: datetime, meter_ids: Sequence[int]) -> dict[int, int]:
    """Stored intervals per meter with start_at < interval_end_at <= end_at."""
    result: dict[int, int] = {}
    for chunk in chunked(meter_ids):
        statement = (
            select(BlockReading.meter_id, func.count())
            .where(
                BlockReading.meter_id.in_(chunk),
                BlockReading.interval_end_at > start_at,
                BlockReading.interval_end_at <= end_at,
            )
            .group_by(BlockReading.meter_id)
        )
        result.update({int(meter): int(count) for meter, count in session.execute(statement)})
    return result


def meters_with_daily_between(
    session: Session, start_at: datetime, end_at: datetime, meter_ids: Sequence[int]
) -> set[int]:
    found: set[int] = set()
    for chunk in chunked(meter_ids):
        statement = (
            select(DailyReading.meter_id)
            .where(
                DailyReading.meter_id.in_(chunk),
                DailyReading.captured_at >= start_at,
                DailyReading.captured_at <= end_at,
            )
            .distinct()
        )
        found.update(int(meter) for meter in session.execute(statement).scalars())
    return found
