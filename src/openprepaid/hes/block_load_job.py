"""The block-load job of a collection: spans read by range, rows stored by natural key with the read
progress, rows stamped ahead of the head-end clock set aside, and a pending re-read range served first.

The rules (what is kept, how far the read progress moves, what is set aside) are ``block_progress``'s;
this module runs them against a ``MeterSession`` and the database, span by span: each span is one unit
of work (its rows, its progress, the rows it set aside, and for the last span of a re-read the re-read
cleared), committed and published as it arrives, so a dropped connection loses nothing already read.

When rows stamped ahead were found (now, or stored by an earlier version), a ``block_load_clock_ahead``
message goes to the meter's events subject and, unless this session has checked the clock already,
the clock is checked at once (a drift beyond the policy's limit queues a clock sync).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial
from typing import TYPE_CHECKING, Any

from openprepaid.bus import subjects
from openprepaid.bus.base import Bus
from openprepaid.hes import block_progress, profile_mapping
from openprepaid.hes.clock import Clock
from openprepaid.hes.collection_policy import CollectionJob
from openprepaid.hes.database import Database
from openprepaid.hes.retry import HesError, describe
from openprepaid.hes.session import MeterSession, MeterTarget
from openprepaid.hes.session_reads import SessionReads
from openprepaid.store.repository import block_marks
from openprepaid.store.repository import hes as hes_repo

if TYPE_CHECKING:
    from openprepaid.hes.collector import CollectionReport

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Resume:
    """Where this session's jobs resume (stored marks) and their first reads, made together; stored rows
    found stamped ahead (``block_progress.sane_resume``); the session's clock check if it is not a job."""

    marks: hes_repo.CollectionMarks
    reads: SessionReads
    stored_ahead: block_marks.AheadSummary | None = None
    check_clock: Callable[[], Awaitable[None]] | None = None


@dataclass(frozen=True, slots=True)
class _Reread:
    """A pending re-read range, and the end of its last span (whose unit of work clears it)."""

    asked: block_marks.RereadRange
    to_at: datetime


def spans(start: datetime, end: datetime, step: timedelta) -> Iterator[tuple[datetime, datetime]]:
    """[start, end] cut into consecutive closed ranges of at most ``step`` (at least one range)."""
    cursor = start
    while True:
        upper = min(end, cursor + step)
        yield cursor, upper
        if upper >= end:
            return
        cursor = upper


def block_start(target: MeterTarget, resume_at: datetime | None, now: datetime, max_backfill: timedelta) -> datetime:
    """Where the block-load read starts: the clock stamp of the interval ending at the resume point (that
    interval is read again), or the backfill limit for a meter never read."""
    shift = block_progress.stamp_shift(target.capture_period_s, target.block_stamp)
    return now - max_backfill if resume_at is None else resume_at - shift


class BlockLoadJob:
    def __init__(
        self,
        db: Database,
        bus: Bus,
        clock: Clock,
        *,
        max_backfill: timedelta,
        max_read_span: timedelta,
        clock_tolerance: timedelta,
        stored: Callable[[str, int, CollectionReport], None],
        publish_rows: Callable[[str, int, str, Sequence[dict[str, Any]]], Awaitable[None]],
        count: Callable[[CollectionJob, str], None],
    ) -> None:
        self._db = db
        self._bus = bus
        self._clock = clock
        self._max_backfill = max_backfill
        self._max_read_span = max_read_span
        self._clock_tolerance = clock_tolerance
        self._stored = stored
        self._publish_rows = publish_rows
        self._count = count

    async def run(
        self,
        session: MeterSession,
        target: MeterTarget,
        report: CollectionReport,
        resume: Resume,
        scalers: profile_mapping.Scalers,
    ) -> None:
        """Read, set aside, store and publish the meter's block load (see the module docstring)."""
        last, read_to = resume.marks.last_block_end_at, resume.marks.block_read_to
        planned = resume.reads.planned("block")
        now = resume.reads.now if planned is not None else self._clock.now()
        settled = block_progress.settled_until(
            now, target.capture_period_s, self._clock_tolerance, report.clock_drift_s
        )
        ahead_after = now + self._clock_tolerance  # later stamps: the meter's clock runs ahead
        aside_record = block_progress.AsideRecord(target.utility_id, now)
        shift = block_progress.stamp_shift(target.capture_period_s, target.block_stamp)
        report.last_block_end_at, report.block_read_to = last, read_to
        start = block_start(target, resume.marks.block_resume_at, now, self._max_backfill)
        plan = [
            *self._reread_spans(target, resume.marks, now),
            *((a, b, None) for a, b in spans(start, now, self._max_read_span)),
        ]
        aside_stamps: set[datetime] = set()
        for from_at, to_at, reread in plan:
            capture = None
            if reread is None and planned is not None and (planned.from_at, planned.to_at) == (from_at, to_at):
                capture, planned = await resume.reads.take("block"), None
            if capture is None:
                capture = await session.read_block_load(from_at, to_at)
            rows = profile_mapping.block_rows(
                capture,
                scalers,
                meter_id=target.meter_id,
                capture_period_s=target.capture_period_s,
                stamp=target.block_stamp,
                received_at=self._clock.now(),
            )
            span = block_progress.span_outcome(
                target.meter_id,
                rows,
                span_to=to_at + shift,
                settled=settled,
                last_stored=last,
                read_to=read_to,
                ahead_after=ahead_after,
                rereading=reread is not None,
            )
            done = reread if reread is not None and to_at == reread.to_at else None
            if not span.rows and span.read_to is None and not span.aside and done is None:
                continue
            work = partial(
                block_progress.store_block_span,
                meter_id=target.meter_id,
                rows=span.rows,
                read_to=span.read_to,
                aside=span.aside,
                aside_record=aside_record,
                reread_done=None if done is None else done.asked,
            )
            count = await self._db.run(work)
            aside_stamps.update(row["interval_end_at"] for row in span.aside)
            report.block_set_aside = len(aside_stamps)
            if span.read_to is not None:
                report.block_read_to = read_to = span.read_to
            if not span.rows:
                continue
            self._stored("block_load", count, report)
            newest = max(row["interval_end_at"] for row in span.rows)
            report.last_block_end_at = last = newest if last is None else max(last, newest)
            await self._publish_rows(subjects.BLOCK_READINGS, target.meter_id, "interval_end_at", span.rows)
        if report.block_set_aside or resume.stored_ahead is not None:
            await self._stamped_ahead(target, report, resume, now)

    def _reread_spans(
        self, target: MeterTarget, marks: hes_repo.CollectionMarks, now: datetime
    ) -> list[tuple[datetime, datetime, _Reread]]:
        """The spans of a pending re-read (``meters reread``), bounded by the backfill limit and now."""
        if marks.block_reread_from is None:
            return []
        asked = block_marks.RereadRange(marks.block_reread_from, marks.block_reread_to)
        shift = block_progress.stamp_shift(target.capture_period_s, target.block_stamp)
        lower = max(asked.from_at, now - self._max_backfill) - shift
        upper = max(lower, min(now, asked.to_at or now))
        pieces = list(spans(lower, upper, self._max_read_span))
        reread = _Reread(asked, pieces[-1][1])
        return [(a, b, reread) for a, b in pieces]

    async def _stamped_ahead(
        self, target: MeterTarget, report: CollectionReport, resume: Resume, now: datetime
    ) -> None:
        """Intervals stamped ahead were found: say so on the bus and make sure the meter's clock is checked."""
        stored = resume.stored_ahead
        report.block_stored_ahead = 0 if stored is None else stored.count
        payload = {
            "meter_id": target.meter_id,
            "kind": block_marks.ALERT_KIND,
            "set_aside": report.block_set_aside,
            "stored_ahead": None if stored is None else stored.to_json(),
            "head_end_time": now.isoformat(),
        }
        await self._bus.publish_json(
            subjects.for_meter(subjects.METER_EVENTS, target.meter_id),
            payload,
            msg_id=f"{block_marks.ALERT_KIND}:{target.meter_id}:{now.isoformat()}",
        )
        if resume.check_clock is None or report.clock_drift_s is not None:
            return  # this session's clock check ran (and queued a sync if the clock is off)
        try:
            await resume.check_clock()
        except HesError as exc:
            if exc.retryable:
                raise
            log.warning(
                "meter %d: clock check after block load stamped ahead failed: %s", target.meter_id, describe(exc)
            )
            return
        report.completed.append(CollectionJob.CLOCK_CHECK)
        self._count(CollectionJob.CLOCK_CHECK, "ok")
