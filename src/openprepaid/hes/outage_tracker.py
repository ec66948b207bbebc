"""Outages from power events, whichever way they arrive (domain.md C12).

A last gasp push (ESW bit 85) or a power-fail event 101 opens an outage; a first breath push (bit 86)
or a power-restore event 102 closes it. The same outage is reported twice (push now, event log
later) with timestamps that may differ by the meter's rounding, so a start or end within
``MATCH_TOLERANCE`` of one already recorded is the same one: replaying a log never opens a
second outage or moves an end. Runs inside the caller's unit of work.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from openprepaid.store.repository import hes as repo

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
    """Open an outage at ``at`` unless one is open or one started at about that time."""
    if repo.open_outage(session, meter_id) is not None:
        return None
    if repo.outage_started_between(session, meter_id, at - MATCH_TOLERANCE, at + MATCH_TOLERANCE) is not None:
        return None
    outage = repo.insert_outage(session, meter_id, at, source)
    return OutageChange(outage.id, meter_id, outage.started_at, None)


def power_up(session: Session, meter_id: int, at: datetime) -> OutageChange | None:
    """Close the open outage at ``at`` unless this restore was already recorded."""
    if repo.outage_ended_between(session, meter_id, at - MATCH_TOLERANCE, at + MATCH_TOLERANCE) is not None:
        return None
    outage = repo.open_outage(session, meter_id)
    if outage is None or outage.started_at > at:
        return None
    repo.close_outage(session, outage, at)
    return OutageChange(outage.id, meter_id, outage.started_at, at)
