"""How far a block-load read got: the rule that moves ``meter.block_load_read_to`` forward.

Block load is read by range in spans (``collector.py``). Without a record of progress, a span the
meter answers empty leaves no trace: a never-read meter (new install, a cleared profile) would be
asked for all 45 days of spans at every collection, and a collection cut off part-way would start
again from 45 days back. So each span read records how far the meter has been read, also where it
held nothing, in the same unit of work as the span's rows (a crash never records progress for rows
that were not stored; ``store_block_span``).

The rule (all instants in interval-end terms, UTC, as stored):

- A span answered up to ``to`` (the end of its range, or of the last interval a start-stamping
  meter could put in it) is read up to ``min(to, settled_until)``, whether it held rows or not.
- ``settled_until = now - capture period - clock tolerance - measured lag``: an interval the meter
  has not closed yet, or one it will stamp late because its clock is behind, must still be asked
  for next time. ``now`` is when the job began (before any span was read), the tolerance defaults to
  5 min (the head-end syncs clocks that drift more than 30 s; this covers a meter between its daily
  checks), and when this session's clock check found the meter behind, that lag is added too.
- The mark only moves forward (``advance_block_read_to`` compares in SQL), and is written only when
  it says more than the stored intervals do: in a steady state the newest stored interval is already
  later than the settled instant, and no extra write is made.

The next collection resumes from the later of the newest stored interval and the mark (with the
usual overlap: the range starts at that interval's own clock stamp). Intervals the meter returns that
are newer than the newest stored one are always kept, even inside a range recorded as read (a
meter whose clock was set back, or whose profile was reset): nothing newer than what is stored is
dropped, and the head-end logs that the meter filled in a range it had answered empty.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from openprepaid.store.repository import hes as hes_repo
from openprepaid.store.repository import reading as reading_repo

log = logging.getLogger(__name__)

DEFAULT_CLOCK_TOLERANCE = timedelta(minutes=5)


def stamp_shift(capture_period_s: int, block_stamp: str) -> timedelta:
    """Interval end minus its clock stamp (selective access is by the clock column): a period for a
    meter type that stamps the interval's start (``object_profile.block_stamp = "start"``), else 0."""
    return timedelta(seconds=capture_period_s) if block_stamp == "start" else timedelta(0)


def settled_until(
    now: datetime, capture_period_s: int, clock_tolerance: timedelta, clock_drift_s: float | None = None
) -> datetime:
    """The newest interval end the meter can no longer fill in (see the module docstring).

    ``clock_drift_s`` is meter time minus true time as measured in this session (negative: behind)."""
    lag = timedelta(seconds=max(0.0, -clock_drift_s)) if clock_drift_s is not None else timedelta(0)
    return now - timedelta(seconds=capture_period_s) - clock_tolerance - lag


@dataclass(frozen=True, slots=True)
class SpanOutcome:
    """What to store for one span read: the new rows and the progress to record (None: nothing new)."""

    rows: list[dict[str, Any]]
    read_to: datetime | None
    refilled: int  # rows newer than the stored ones inside a range already recorded as read


def span_outcome(
    meter_id: int,
    rows: Sequence[dict[str, Any]],
    *,
    span_to: datetime,
    settled: datetime,
    last_stored: datetime | None,
    read_to: datetime | None,
) -> SpanOutcome:
    """The rows of a span newer than the newest stored interval, and how far the span moves the mark.

    ``span_to`` is the newest interval end the span's range could hold; ``settled`` from ``settled_until``."""
    new = [row for row in rows if last_stored is None or row["interval_end_at"] > last_stored]
    refilled = sum(1 for row in new if read_to is not None and row["interval_end_at"] <= read_to)
    if refilled:
        log.warning(
            "meter %d: %d block-load intervals in a range it had answered empty (clock set back? profile reset?)",
            meter_id,
            refilled,
        )
    newest_stored = max([row["interval_end_at"] for row in new], default=last_stored)
    progress = min(span_to, settled)
    known = [at for at in (newest_stored, read_to) if at is not None]
    moves = not known or progress > max(known)
    return SpanOutcome(new, progress if moves else None, refilled)


def store_block_span(
    session: Session, *, meter_id: int, rows: Sequence[Mapping[str, Any]], read_to: datetime | None
) -> int:
    """One span in one unit of work: its rows (by natural key) and the read progress; returns rows new.

    Safe to run again (group commit re-runs a failed batch one work at a time): storing is idempotent
    and the progress never moves backwards."""
    count = reading_repo.store_block_readings(session, rows) if rows else 0
    if read_to is not None:
        hes_repo.advance_block_read_to(session, meter_id, read_to)
    return count
