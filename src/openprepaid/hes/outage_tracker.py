"""Outages from power events, whichever way they arrive (domain.md C12).

A last gasp push (ESW bit 85) or a power-fail event 101 opens an outage; a first breath push (bit 86)
or a power-restore event 102 closes it. The same outage is reported twice (push now, event log
later) with timestamps that may differ by the meter's rounding, so a failure within
``MATCH_TOLERANCE`` of a recorded start, at a time that outage was not yet over, is the same one,
and a restore closes only an open outage that started before it: replaying a log never opens a
second outage or moves an end, while a second failure soon after a restore (a flickering supply)
is a new outage. Runs inside the caller's unit of work.

Each change first locks the meter's row (``store.repository.meter_lock``): on PostgreSQL a push and a
log read (or two nodes) reporting the same event at once would otherwise both find no open outage
and open two, or both close the open one and move its end; the second now waits for the first's
commit and then sees its outage. Safe to run again after a rollback (group commit): nothing here
lives outside the session.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from openprepaid.store.repository import hes as repo
from openprepaid.store.repository.meter_lock import lock_meter

MATCH_TOLERANCE = timedelta(minutes=2)
POWER_FAIL = 101
POWER_RESTORE = 102


@dataclass(frozen=True, slots=True)
class OutageChange:
    outage_id: int
    meter_id: int
    started_at: datetime
    ended_at: datetime | None

    def to_json(self) -> dict[str, object]:
        return {
            "outage_id": self.outage_id,
            "meter_id": self.meter_id,
            "started_at": self.started_at.isoformat(),
            "ended_at": None if self.ended_at is None else self.ended_at.isoformat(),
            "duration_s": None if self.ended_at is None else (self.ended_at - self.started_at).total_seconds(),
        }


def power_down(session: Session, meter_id: int, at: datetime, source: str) -> OutageChange | None:
    """Open an outage at ``at`` unless one is open or this failure was already recorded."""
    lock_meter(session, meter_id)
    if repo.open_outage(session, meter_id) is not None:
        return None
    if repo.outage_covering(session, meter_id, at, MATCH_TOLERANCE) is not None:
        return None
    outage = repo.insert_outage(session, meter_id, at, source)
    return OutageChange(outage.id, meter_id, outage.started_at, None)


def power_up(session: Session, meter_id: int, at: datetime) -> OutageChange | None:
    """Close the open outage at ``at``; a restore older than the open outage (a replay) changes nothing."""
    lock_meter(session, meter_id)
    outage = repo.open_outage(session, meter_id)
    if outage is None or outage.started_at > at:
        return None
    repo.close_outage(session, outage, at)
    return OutageChange(outage.id, meter_id, outage.started_at, at)
