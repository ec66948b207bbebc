"""Readings and events, stored idempotently by natural key: storing the same reading twice is a no-op."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from openprepaid.store.model import BillingReading, BlockReading, DailyReading, InstantReading, MeterEvent
from openprepaid.store.repository.charge_day import taken_condition
from openprepaid.store.repository.natural_key import insert_ignoring_duplicates


def store_block_readings(session: Session, rows: Sequence[Mapping[str, Any]]) -> int:
    """Rows of ``reading_block`` keyed (meter_id, interval_end_at); returns how many were new."""
    return insert_ignoring_duplicates(session, BlockReading.__table__, rows)  # type: ignore[arg-type]


def store_daily_readings(session: Session, rows: Sequence[Mapping[str, Any]]) -> int:
    return insert_ignoring_duplicates(session, DailyReading.__table__, rows)  # type: ignore[arg-type]


def store_billing_readings(session: Session, rows: Sequence[Mapping[str, Any]]) -> int:
    return insert_ignoring_duplicates(session, BillingReading.__table__, rows)  # type: ignore[arg-type]


def store_instant_readings(session: Session, rows: Sequence[Mapping[str, Any]]) -> int:
    return insert_ignoring_duplicates(session, InstantReading.__table__, rows)  # type: ignore[arg-type]


def store_events(session: Session, rows: Sequence[Mapping[str, Any]]) -> int:
    """Rows of ``meter_event`` keyed (meter_id, log, occurred_at, code)."""
    return insert_ignoring_duplicates(session, MeterEvent.__table__, rows)  # type: ignore[arg-type]


def last_block_interval_end(session: Session, meter_id: int) -> datetime | None:
    """The newest stored interval's end (a collection resumes from the later of it and the meter's read
    progress ``meter.block_load_read_to``: ``hes.CollectionMarks.block_resume_at``)."""
    statement = select(func.max(BlockReading.interval_end_at)).where(BlockReading.meter_id == meter_id)
    return session.execute(statement).scalar_one_or_none()


def count_block_intervals(session: Session, meter_id: int, start_at: datetime, end_at: datetime) -> int:
    """Intervals stored with start_at < interval_end_at <= end_at."""
    statement = select(func.count()).where(
        BlockReading.meter_id == meter_id,
        BlockReading.interval_end_at > start_at,
        BlockReading.interval_end_at <= end_at,
    )
    return int(session.execute(statement).scalar_one())


def uncharged_block_readings(
    session: Session, *, meter_ids: Sequence[int] | None = None, limit: int = 50_000
) -> list[BlockReading]:
    """Stored block-load intervals that the wallet has not taken yet (no bit in their ``charge_day``
    mask), of the given meters only when ``meter_ids`` is given (the primary key index then bounds the scan)."""
    statement = select(BlockReading).where(
        ~taken_condition(session, BlockReading.meter_id, BlockReading.interval_end_at)
    )
    if meter_ids is not None:
        statement = statement.where(BlockReading.meter_id.in_(sorted(set(meter_ids))))
    statement = statement.order_by(BlockReading.meter_id, BlockReading.interval_end_at).limit(limit)
    return list(session.execute(statement).scalars())
