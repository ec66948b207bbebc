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
- The mark only moves forward (``block_marks.advance_block_read_to`` compares in SQL), and is written only when
  it says more than the stored intervals do: in a steady state the newest stored interval is already
  later than the settled instant, and no extra write is made.

The next collection resumes from the later of the newest stored interval and the mark (with the
usual overlap: the range starts at that interval's own clock stamp). Intervals the meter returns that
are newer than the newest stored one are always kept, even inside a range recorded as read (a
meter whose clock was set back, or whose profile was reset): nothing newer than what is stored is
dropped, and the head-end logs that the meter filled in a range it had answered empty.

A meter whose clock runs ahead stamps intervals in the future. Such rows (stamped after the job's
``now`` plus the clock tolerance) are never stored as intervals nor allowed to move the resume point
or the mark: they are set aside in an alert (``block_marks.record_block_ahead``) with their values,
and the collector makes sure the clock is checked (a sync is queued when it is off). After the sync
the meter records those stamps again, with the right time: where its buffer holds a stamp twice, the
later entry wins (``unique_stamps``), the earlier one goes to the alert. Rows stored stamped ahead
by an earlier version are left in place and listed in an alert; the collection resumes from the
newest stored interval not later than now plus the tolerance (``sane_resume``).

A range asked for again (``openprepaid meters reread``) is read first, keeping every row of it that
is not stored yet (only gaps are filled: storing ignores rows already stored), then cleared.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from openprepaid.store.repository import block_marks
from openprepaid.store.repository import hes as hes_repo
from openprepaid.store.repository import reading as reading_repo

log = logging.getLogger(__name__)

DEFAULT_CLOCK_TOLERANCE = timedelta(minutes=5)
MAX_BACKFILL = timedelta(days=45)  # block load is read back at most this far (domain.md §6)


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
    aside: list[dict[str, Any]] = field(default_factory=list)  # stamped ahead, or superseded: not stored


def unique_stamps(rows: Sequence[dict[str, Any]]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Rows with one entry per interval end, the meter's later entry winning, and the earlier ones.

    A meter whose clock was set back (a clock sync of a meter that ran ahead) records again stamps
    it had already used: its buffer holds the stamp twice, the later entry written with the right time."""
    by_stamp: dict[datetime, dict[str, Any]] = {}
    superseded = []
    for row in rows:  # buffer order: oldest entry first
        earlier = by_stamp.pop(row["interval_end_at"], None)
        if earlier is not None:
            superseded.append(earlier)
        by_stamp[row["interval_end_at"]] = row
    return sorted(by_stamp.values(), key=lambda row: row["interval_end_at"]), superseded


def span_outcome(
    meter_id: int,
    rows: Sequence[dict[str, Any]],
    *,
    span_to: datetime,
    settled: datetime,
    last_stored: datetime | None,
    read_to: datetime | None,
    ahead_after: datetime | None = None,
    rereading: bool = False,
) -> SpanOutcome:
    """The rows of a span newer than the newest stored interval, and how far the span moves the mark.

    ``span_to`` is the newest interval end the span's range could hold; ``settled`` from ``settled_until``.
    Rows stamped later than ``ahead_after`` (the head-end's now plus the clock tolerance) and earlier
    entries of a stamp the meter used twice are set aside (``aside``), never stored as intervals.
    ``rereading`` (a range asked for by ``meters reread``): every row is kept, also older than the
    newest stored one (storing ignores those already stored, so only gaps are filled)."""
    unique, aside = unique_stamps(rows)
    if aside:
        log.warning(
            "meter %d: %d block-load stamps recorded twice; the meter's later entries kept", meter_id, len(aside)
        )
    ahead = [row for row in unique if ahead_after is not None and row["interval_end_at"] > ahead_after]
    if ahead:
        log.warning(
            "meter %d: %d block-load intervals stamped after the head-end clock (up to %s): set aside",
            meter_id,
            len(ahead),
            ahead[-1]["interval_end_at"].isoformat(),
        )
        aside.extend(ahead)
        unique = unique[: len(unique) - len(ahead)]
    new = [row for row in unique if rereading or last_stored is None or row["interval_end_at"] > last_stored]
    refilled = sum(1 for row in new if read_to is not None and row["interval_end_at"] <= read_to)
    if refilled and not rereading:
        log.warning(
            "meter %d: %d block-load intervals in a range it had answered empty (clock set back? profile reset?)",
            meter_id,
            refilled,
        )
    newest_stored = max([row["interval_end_at"] for row in new], default=last_stored)
    if last_stored is not None and newest_stored is not None:
        newest_stored = max(newest_stored, last_stored)
    progress = min(span_to, settled)
    known = [at for at in (newest_stored, read_to) if at is not None]
    moves = not known or progress > max(known)
    return SpanOutcome(new, progress if moves else None, refilled, aside)


@dataclass(frozen=True, slots=True)
class AsideRecord:
    """Where rows set aside go: the alert of the meter's utility, stamped ``now``."""

    utility_id: int
    now: datetime


def store_block_span(
    session: Session,
    *,
    meter_id: int,
    rows: Sequence[Mapping[str, Any]],
    read_to: datetime | None,
    aside: Sequence[Mapping[str, Any]] = (),
    aside_record: AsideRecord | None = None,
    reread_done: block_marks.RereadRange | None = None,
) -> int:
    """One span in one unit of work: its rows (by natural key), the read progress, the rows set aside
    (``block_marks.record_block_ahead``) and, after the last span of a re-read, the re-read cleared;
    returns rows new.

    Safe to run again (group commit re-runs a failed batch one work at a time): storing is idempotent,
    the progress never moves backwards, the alert merges by stamp, clearing is conditional."""
    count = reading_repo.store_block_readings(session, rows) if rows else 0
    if read_to is not None:
        block_marks.advance_block_read_to(session, meter_id, read_to)
    if aside and aside_record is not None:
        block_marks.record_block_ahead(
            session,
            utility_id=aside_record.utility_id,
            meter_id=meter_id,
            rows=aside,
            now=aside_record.now,
            source="read",
        )
    if reread_done is not None:
        block_marks.clear_reread(session, meter_id, reread_done)
    return count


@dataclass(frozen=True, slots=True)
class BlockResume:
    """Where block load resumes, once stored rows stamped ahead are left out, and what those were."""

    marks: hes_repo.CollectionMarks
    stored_ahead: block_marks.AheadSummary | None = None


def sane_resume(
    session: Session, marks: hes_repo.CollectionMarks, *, meter_id: int, utility_id: int, now: datetime, limit: datetime
) -> BlockResume:
    """``marks`` with no block-load mark later than ``limit`` (now plus the clock tolerance).

    Rows stored stamped ahead (before the collector set such rows aside) stay where they are (the
    wallet may have charged them); they are listed in an alert, and the collection resumes from the
    newest stored interval not later than ``limit``. A read mark later than ``limit`` is dropped."""
    last, read_to = marks.last_block_end_at, marks.block_read_to
    if (last is None or last <= limit) and (read_to is None or read_to <= limit):
        return BlockResume(marks)
    summary = None
    if last is not None and last > limit:
        rows = block_marks.stored_ahead_rows(session, meter_id, limit)
        summary = block_marks.record_block_ahead(
            session, utility_id=utility_id, meter_id=meter_id, rows=rows, now=now, source="stored"
        )
        last = block_marks.newest_block_end_until(session, meter_id, limit)
        log.warning(
            "meter %d: %d stored block-load intervals stamped after the head-end clock; resuming from %s",
            meter_id,
            summary.count,
            last.isoformat() if last is not None else "the backfill limit",
        )
    if read_to is not None and read_to > limit:
        read_to = None
    return BlockResume(replace(marks, last_block_end_at=last, block_read_to=read_to), summary)
