"""Block-load marks on the meter row, and intervals kept aside because the meter stamped them ahead.

- ``meter.block_load_read_to`` (migration 0010): read up to here, also where the meter held nothing;
  ``advance_block_read_to`` only ever moves it forward.
- ``meter.block_load_reread_from`` / ``block_load_reread_to`` (migration 0011): a range an engineer
  asked to have read again (``openprepaid meters reread``); ``request_reread`` sets it (merging with
  one already pending), ``clear_reread`` clears it once a collection has read exactly that range.
- Intervals stamped beyond the head-end's clock (a meter whose clock runs ahead) are not stored in
  ``reading_block``: ``record_block_ahead`` keeps them in an ``alert`` row (kind
  ``block_load_clock_ahead``) with their values, for an engineer to decide on. The row is keyed by
  meter and first stamp, so recording the same intervals again merges into it (idempotent).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, bindparam, func, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from openprepaid.store.model import Alert, AlertState, BlockReading, Meter

ALERT_KIND = "block_load_clock_ahead"
MAX_INTERVALS_KEPT = 960  # ten days of 15-minute intervals in one alert; the totals count all of them
_VALUE_KEYS = ("import_wh", "export_wh", "apparent_vah")


# --- read progress ---------------------------------------------------------------------------------


def advance_block_read_to(session: Session, meter_id: int, read_to: datetime) -> bool:
    """Record that the meter's block load was read up to ``read_to``; never moves it backwards.

    One conditional UPDATE (``... WHERE block_load_read_to IS NULL OR block_load_read_to < :read_to``):
    running it again, late, or from another head-end cannot lower it. Returns whether it moved."""
    result = session.execute(_ADVANCE_READ_TO, {"meter_id": meter_id, "read_to": read_to})
    return bool(cast(Any, result).rowcount)


def _advance_read_to_statement() -> Any:
    table: Table = Meter.__table__  # type: ignore[assignment]
    meter = table.c
    read_to = bindparam("read_to", type_=meter.block_load_read_to.type)
    return (
        update(table)
        .where(
            meter.id == bindparam("meter_id", type_=meter.id.type),
            or_(meter.block_load_read_to.is_(None), meter.block_load_read_to < read_to),
        )
        .values(block_load_read_to=read_to)
    )


_ADVANCE_READ_TO = _advance_read_to_statement()


def newest_block_end_until(session: Session, meter_id: int, limit: datetime) -> datetime | None:
    """The newest stored interval end not later than ``limit`` (rows stamped beyond it left out)."""
    statement = select(func.max(BlockReading.interval_end_at)).where(
        BlockReading.meter_id == meter_id, BlockReading.interval_end_at <= limit
    )
    return session.execute(statement).scalar_one_or_none()


@dataclass(frozen=True, slots=True)
class AheadSummary:
    """Intervals stamped beyond a limit: how many, the first and last stamp, their import energy."""

    count: int
    first_end_at: datetime
    last_end_at: datetime
    import_wh: int

    def to_json(self) -> dict[str, Any]:
        return {
            "count": self.count,
            "first_end_at": self.first_end_at.isoformat(),
            "last_end_at": self.last_end_at.isoformat(),
            "import_wh": self.import_wh,
        }


def stored_ahead_rows(session: Session, meter_id: int, limit: datetime) -> list[dict[str, Any]]:
    """Stored intervals stamped later than ``limit`` (stored before the head-end set such rows aside),
    oldest first, at most ``MAX_INTERVALS_KEPT``."""
    columns = (BlockReading.interval_end_at, BlockReading.import_wh, BlockReading.export_wh, BlockReading.apparent_vah)
    statement = (
        select(*columns)
        .where(BlockReading.meter_id == meter_id, BlockReading.interval_end_at > limit)
        .order_by(BlockReading.interval_end_at)
        .limit(MAX_INTERVALS_KEPT)
    )
    return [dict(row._mapping) for row in session.execute(statement)]


# --- re-read ---------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RereadRange:
    from_at: datetime
    to_at: datetime | None  # None: up to the collection's time


def request_reread(session: Session, meter_id: int, from_at: datetime, to_at: datetime | None) -> RereadRange:
    """Ask for [from_at, to_at] to be read again at the next collection; returns the range now pending.

    A range already pending is widened to cover both (so asking twice asks once). The read progress
    ``block_load_read_to`` moves back to ``from_at`` too, in the same transaction (the caller's)."""
    meter = session.execute(select(Meter).where(Meter.id == meter_id).with_for_update()).scalar_one()
    pending_from, pending_to = meter.block_load_reread_from, meter.block_load_reread_to
    if pending_from is not None:
        from_at = min(from_at, pending_from)
        to_at = None if to_at is None or pending_to is None else max(to_at, pending_to)
    meter.block_load_reread_from, meter.block_load_reread_to = from_at, to_at
    if meter.block_load_read_to is not None and meter.block_load_read_to > from_at:
        meter.block_load_read_to = from_at
    session.flush()
    return RereadRange(from_at, to_at)


def clear_reread(session: Session, meter_id: int, reread: RereadRange) -> bool:
    """The range was read: clear it, unless another was asked for meanwhile (then it stays pending)."""
    table: Table = Meter.__table__  # type: ignore[assignment]
    meter = table.c
    same_to = (
        meter.block_load_reread_to.is_(None) if reread.to_at is None else meter.block_load_reread_to == reread.to_at
    )
    statement = (
        update(table)
        .where(meter.id == meter_id, meter.block_load_reread_from == reread.from_at, same_to)
        .values(block_load_reread_from=None, block_load_reread_to=None)
    )
    return bool(cast(Any, session.execute(statement)).rowcount)


# --- intervals stamped ahead -----------------------------------------------------------------------


def _interval_json(row: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "interval_end_at": row["interval_end_at"].isoformat(),
        **{key: int(row.get(key) or 0) for key in _VALUE_KEYS},
    }


def record_block_ahead(
    session: Session,
    *,
    utility_id: int,
    meter_id: int,
    rows: Sequence[Mapping[str, Any]],
    now: datetime,
    source: str,
) -> AheadSummary:
    """Keep ``rows`` (block-load rows stamped ahead of ``now``) in the meter's alert; returns what the alert holds.

    ``source`` is ``"read"`` (the collector set them aside) or ``"stored"`` (rows stored before this
    check existed, listed by their count and range only). Merging by stamp: safe to run again."""
    first = min(row["interval_end_at"] for row in rows)
    dedup_key = f"{ALERT_KIND}:{meter_id}:{source}:{first.isoformat()}"[:200]
    # The row exists before it is merged into (ON CONFLICT DO NOTHING: another head-end may have made it).
    new_alert = {
        "utility_id": utility_id,
        "dedup_key": dedup_key,
        "kind": ALERT_KIND,
        "severity": "warning",
        "meter_id": meter_id,
        "state": AlertState.OPEN,
        "message": "",
        "details": {},
        "raised_at": now,
    }
    insert: Any = postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
    session.execute(insert(Alert).values(**new_alert).on_conflict_do_nothing(index_elements=[Alert.dedup_key]))
    alert = session.execute(select(Alert).where(Alert.dedup_key == dedup_key).with_for_update()).scalar_one()
    kept = {item["interval_end_at"]: item for item in alert.details.get("intervals", [])}
    kept.update((item["interval_end_at"], item) for item in map(_interval_json, rows))
    intervals = [kept[key] for key in sorted(kept)]
    summary = AheadSummary(
        len(intervals),
        datetime.fromisoformat(intervals[0]["interval_end_at"]),
        datetime.fromisoformat(intervals[-1]["interval_end_at"]),
        sum(item["import_wh"] for item in intervals),
    )
    ahead_s = max(int((summary.last_end_at - now).total_seconds()), int(alert.details.get("ahead_by_s", 0)))
    details = {
        **summary.to_json(),
        "ahead_by_s": ahead_s,
        "source": source,
        "intervals": intervals[:MAX_INTERVALS_KEPT],
    }
    where = (
        "kept aside (not in reading_block)" if source == "read" else "stored before the check (still in reading_block)"
    )
    message = (
        f"block load stamped ahead of the head-end clock by up to {ahead_s} s: {summary.count} intervals "
        f"{summary.first_end_at.isoformat()} .. {summary.last_end_at.isoformat()}, {summary.import_wh} Wh, {where}"
    )
    alert.details, alert.message = details, message[:500]
    session.flush()
    return summary


def block_ahead_alerts(session: Session, meter_id: int) -> list[Alert]:
    """The meter's alerts about block load stamped ahead, oldest first."""
    statement = select(Alert).where(Alert.meter_id == meter_id, Alert.kind == ALERT_KIND).order_by(Alert.id)
    return list(session.execute(statement).scalars())
