"""The relay of each meter as last read back from it: ``meter.relay_connected``, ``relay_control_state``,
``relay_read_at`` (migration 0010).

What is recorded is only ever what the meter said (disconnect control 0.0.96.3.10.255, class 70:
attribute 2 output_state, attribute 3 control_state), never what a command asked for. Invariant:
the recorded state never moves backwards in time. A read is recorded only if it was taken after the
one on record (``relay_read_at``); an older or equally old read (a second head-end, a retried unit
of work, a late command outcome) changes nothing. The guard is in the ``UPDATE``'s ``WHERE``, so it
holds between concurrent writers too; the row is locked (PostgreSQL) while the previous state is
compared, so "changed" is told exactly once.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import CursorResult, or_, select, update
from sqlalchemy.orm import Session

from openprepaid.store.model import Meter


@dataclass(frozen=True, slots=True)
class RecordedRelay:
    """The relay as recorded on the meter row; all None until it was read once."""

    connected: bool | None
    control_state: int | None
    read_at: datetime | None


@dataclass(frozen=True, slots=True)
class RelayUpdate:
    """What ``record_relay_state`` did.

    ``applied``: the read was newer than the recorded one and is now on record; ``changed``: applied,
    and output_state or control_state differ from what was on record before (``previous``).
    """

    applied: bool
    changed: bool
    previous: RecordedRelay | None  # None: no such meter


def recorded_relay(session: Session, meter_id: int) -> RecordedRelay | None:
    """The recorded relay of a meter; ``None`` for an unknown meter."""
    statement = select(Meter.relay_connected, Meter.relay_control_state, Meter.relay_read_at).where(
        Meter.id == meter_id
    )
    row = session.execute(statement).one_or_none()
    return None if row is None else RecordedRelay(row[0], row[1], row[2])


def recorded_relays(session: Session, meter_ids: Sequence[int]) -> dict[int, RecordedRelay]:
    """The recorded relay of each of these meters that was read at least once (chunked IN lists)."""
    result: dict[int, RecordedRelay] = {}
    ids = sorted(set(meter_ids))
    for start in range(0, len(ids), _CHUNK):
        statement = select(Meter.id, Meter.relay_connected, Meter.relay_control_state, Meter.relay_read_at).where(
            Meter.id.in_(ids[start : start + _CHUNK]), Meter.relay_read_at.is_not(None)
        )
        for meter_id, connected, control_state, read_at in session.execute(statement):
            result[meter_id] = RecordedRelay(connected, control_state, read_at)
    return result


_CHUNK = 1_000


def record_relay_state(
    session: Session, meter_id: int, *, connected: bool, control_state: int, read_at: datetime
) -> RelayUpdate:
    """Record a read of the meter's relay unless a read taken at or after ``read_at`` is on record."""
    locked = (
        select(Meter.relay_connected, Meter.relay_control_state, Meter.relay_read_at)
        .where(Meter.id == meter_id)
        .with_for_update(key_share=True)
    )
    row = session.execute(locked).one_or_none()
    if row is None:
        return RelayUpdate(applied=False, changed=False, previous=None)
    previous = RecordedRelay(row[0], row[1], row[2])
    if previous.read_at is not None and previous.read_at >= read_at:
        return RelayUpdate(applied=False, changed=False, previous=previous)
    statement = (
        update(Meter)
        .where(Meter.id == meter_id, or_(Meter.relay_read_at.is_(None), Meter.relay_read_at < read_at))
        .values(relay_connected=connected, relay_control_state=control_state, relay_read_at=read_at)
        .execution_options(synchronize_session=False)
    )
    result: CursorResult[Any] = session.execute(statement)  # type: ignore[assignment]
    applied = int(result.rowcount) == 1
    changed = applied and (previous.connected, previous.control_state) != (connected, control_state)
    return RelayUpdate(applied=applied, changed=changed, previous=previous)
