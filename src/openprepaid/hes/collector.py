"""What one collection session does with a meter: read, scale, store by natural key, publish.

Jobs (``collection_policy.CollectionJob``) run in session order: name plate at first contact (the
serial must match the registry: a different meter at that address stops the session), clock check,
block load by range from the later of the last stored interval and the recorded read progress (a gap
after an outage or a silence is read in bounded spans and backfilled exactly once: rows are keyed by
(meter, interval end) and only newer ones are kept; each span records how far the meter was read,
also where it held nothing, by the rule of ``block_progress.py``), event logs since the newest
stored entry of each log (power events also open and close outages), daily and billing profiles from
their newest stored snapshot, instantaneous values, and (on demand) the relay state of disconnect
control 0.0.96.3.10.255, published for whoever asked.
Scalers are read once per meter type and cached in ``meter_type.scalers`` (domain.md §4).

Each span is committed (one unit of work: its rows with its read progress) and published on the bus
as it arrives, so a dropped connection loses nothing already read and the next session resumes after
the last span read. A job that fails with a session-level fault (timeout, network, protocol) ends
the session; a job-level fault (object missing, bad data) skips that job.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Collection, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import partial
from typing import Any

from sqlalchemy.orm import Session

from openprepaid.bus import subjects
from openprepaid.bus.base import Bus
from openprepaid.hes import block_progress, outage_tracker, profile_mapping
from openprepaid.hes.block_load_job import BlockLoadJob, Resume, block_start
from openprepaid.hes.bus_json import iso_rows, json_bytes
from openprepaid.hes.clock import Clock
from openprepaid.hes.collection_policy import JOB_ORDER, CollectionJob
from openprepaid.hes.database import Database
from openprepaid.hes.metrics import HesMetrics
from openprepaid.hes.relay_record import record_relay_state
from openprepaid.hes.retry import HesError, MeterIdentityError, describe
from openprepaid.hes.session import (
    EVENT_LOGS,
    PROFILE_OBJECTS,
    MeterSession,
    MeterTarget,
    NamePlate,
    ProfileCapture,
    ProfileKind,
    ProfileRead,
    RelayState,
    event_log_obis,
)
from openprepaid.hes.session_reads import SessionReads
from openprepaid.store.repository import hes as hes_repo
from openprepaid.store.repository import reading as reading_repo

log = logging.getLogger(__name__)

ClockSyncRequester = Callable[[int, float], Awaitable[None]]


@dataclass
class CollectionReport:
    meter_id: int
    started_at: datetime
    completed: list[CollectionJob] = field(default_factory=list)
    failed: dict[CollectionJob, str] = field(default_factory=dict)
    stored: dict[str, int] = field(default_factory=dict)
    name_plate: NamePlate | None = None
    last_block_end_at: datetime | None = None
    block_read_to: datetime | None = None  # the block load's read progress after this session
    last_daily_at: datetime | None = None
    last_billing_at: datetime | None = None
    clock_drift_s: float | None = None
    clock_sync_requested: bool = False
    relay_state: RelayState | None = None
    block_set_aside: int = 0  # intervals stamped ahead of the head-end clock (or superseded), not stored
    block_stored_ahead: int = 0  # intervals stored stamped ahead before this check existed (left in place)

    def add_stored(self, what: str, count: int) -> None:
        self.stored[what] = self.stored.get(what, 0) + count


@dataclass(frozen=True, slots=True)
class _SnapshotProfile:
    kind: ProfileKind
    key: str
    subject: str
    last_stored: Callable[[hes_repo.CollectionMarks], datetime | None]
    map_rows: Callable[..., list[dict[str, Any]]]
    store: Callable[..., int]


_DAILY = _SnapshotProfile(
    ProfileKind.DAILY,
    "captured_at",
    subjects.DAILY_READINGS,
    lambda marks: marks.last_daily_at,
    profile_mapping.daily_rows,
    reading_repo.store_daily_readings,
)
_BILLING = _SnapshotProfile(
    ProfileKind.BILLING,
    "billing_at",
    subjects.BILLING_READINGS,
    lambda marks: marks.last_billing_at,
    profile_mapping.billing_rows,
    reading_repo.store_billing_readings,
)


_RESUMING = frozenset({CollectionJob.BLOCK_LOAD, CollectionJob.EVENTS, CollectionJob.DAILY, CollectionJob.BILLING})
_Marks = hes_repo.CollectionMarks
_BLOCK_OBIS = PROFILE_OBJECTS[ProfileKind.BLOCK_LOAD][0]
_DAILY_OBIS = PROFILE_OBJECTS[ProfileKind.DAILY][0]


_NO_MARKS = hes_repo.CollectionMarks(None, None, None, {}, None)


def _begin(
    session: Session, *, meter_id: int, utility_id: int, at: datetime, limit: datetime, marks: bool
) -> block_progress.BlockResume:
    """The meter is seen now; and (for jobs that resume from stored rows) where each profile and log resumes,
    with no block-load mark later than ``limit`` (``block_progress.sane_resume``)."""
    hes_repo.mark_seen(session, meter_id, at)
    if not marks:
        return block_progress.BlockResume(_NO_MARKS)
    found = hes_repo.collection_marks(session, meter_id, EVENT_LOGS)
    return block_progress.sane_resume(session, found, meter_id=meter_id, utility_id=utility_id, now=at, limit=limit)


class Collector:
    def __init__(
        self,
        db: Database,
        bus: Bus,
        clock: Clock,
        *,
        max_backfill: timedelta = block_progress.MAX_BACKFILL,
        max_billing_backfill: timedelta = timedelta(days=400),
        max_read_span: timedelta = timedelta(days=1),
        clock_tolerance: timedelta = block_progress.DEFAULT_CLOCK_TOLERANCE,
        request_clock_sync: ClockSyncRequester | None = None,
        metrics: HesMetrics | None = None,
    ) -> None:
        if max_read_span <= timedelta(0) or max_backfill <= timedelta(0):
            raise ValueError("max_read_span and max_backfill must be positive")
        if clock_tolerance < timedelta(0):
            raise ValueError("clock_tolerance cannot be negative")
        self._db = db
        self._bus = bus
        self._clock = clock
        self._max_backfill = max_backfill
        self._max_billing_backfill = max_billing_backfill
        self._max_read_span = max_read_span
        self._clock_tolerance = clock_tolerance
        self._request_clock_sync = request_clock_sync
        self._metrics = metrics
        self._scalers: dict[tuple[int, ProfileKind], profile_mapping.Scalers] = {}
        self._block_job = BlockLoadJob(
            db,
            bus,
            clock,
            max_backfill=max_backfill,
            max_read_span=max_read_span,
            clock_tolerance=clock_tolerance,
            stored=self._stored,
            publish_rows=self._publish_rows,
            count=self._count,
        )

    async def collect(
        self,
        session: MeterSession,
        target: MeterTarget,
        jobs: Collection[CollectionJob],
        *,
        clock_drift_max_s: int = 30,
    ) -> CollectionReport:
        report = CollectionReport(target.meter_id, self._clock.now())
        wanted = set(jobs)
        # One unit of work before any job: the meter is seen, and where each profile and log resumes.
        begun = await self._db.run(
            partial(
                _begin,
                meter_id=target.meter_id,
                utility_id=target.utility_id,
                at=report.started_at,
                limit=report.started_at + self._clock_tolerance,
                marks=bool(wanted & _RESUMING),
            )
        )
        marks = begun.marks
        now = self._clock.now()
        # The first reads of block load, daily profile and event logs go together (session_reads.py).
        reads = SessionReads(session, self._first_reads(target, wanted, marks, now), now)
        check_clock = (
            None
            if CollectionJob.CLOCK_CHECK in wanted
            else partial(self._clock_check, session, target, report, clock_drift_max_s)
        )
        resume = Resume(marks, reads, begun.stored_ahead, check_clock)
        handlers: dict[CollectionJob, Callable[[], Awaitable[None]]] = {
            CollectionJob.NAME_PLATE: lambda: self._name_plate(session, target, report),
            CollectionJob.CLOCK_CHECK: lambda: self._clock_check(session, target, report, clock_drift_max_s),
            CollectionJob.BLOCK_LOAD: lambda: self._block_load(session, target, report, resume),
            CollectionJob.EVENTS: lambda: self._events(session, target, report, resume),
            CollectionJob.DAILY: lambda: self._daily(session, target, report, resume),
            CollectionJob.BILLING: lambda: self._billing(session, target, report, resume),
            CollectionJob.INSTANT: lambda: self._instant(session, target, report),
            CollectionJob.RELAY_STATE: lambda: self._relay_state(session, target, report),
        }
        ordered = [job for job in JOB_ORDER if job in wanted]
        for position, job in enumerate(ordered):
            try:
                await handlers[job]()
            except HesError as exc:
                report.failed[job] = describe(exc)
                self._count(job, "failed")
                if self._ends_session(exc):
                    for skipped in ordered[position + 1 :]:
                        report.failed[skipped] = "not attempted: the session ended"
                    log.warning("meter %d: %s ended the session: %s", target.meter_id, job.value, describe(exc))
                    break
                log.warning("meter %d: %s failed: %s", target.meter_id, job.value, describe(exc))
                continue
            report.completed.append(job)
            self._count(job, "ok")
        return report

    @staticmethod
    def _ends_session(error: HesError) -> bool:
        # A transport or identity fault: the association is gone or is with the wrong meter.
        return error.retryable or isinstance(error, MeterIdentityError)

    def _count(self, job: CollectionJob, outcome: str) -> None:
        if self._metrics is not None:
            self._metrics.collections.labels(job=job.value, outcome=outcome).inc()

    def _stored(self, profile: str, count: int, report: CollectionReport) -> None:
        report.add_stored(profile, count)
        if self._metrics is not None and count:
            self._metrics.readings_stored.labels(profile=profile).inc(count)

    # --- jobs --------------------------------------------------------------------------------------

    async def _name_plate(self, session: MeterSession, target: MeterTarget, report: CollectionReport) -> None:
        plate = await session.read_name_plate()
        if plate.serial.strip().lstrip("0") != target.serial.strip().lstrip("0"):
            raise MeterIdentityError(f"registry says serial {target.serial!r}, the meter says {plate.serial!r}")
        report.name_plate = plate
        await self._db.run(lambda s: hes_repo.mark_seen(s, target.meter_id, report.started_at, firmware=plate.firmware))

    async def _clock_check(
        self, session: MeterSession, target: MeterTarget, report: CollectionReport, drift_max_s: int
    ) -> None:
        reading = await session.read_clock()
        drift_s = (reading.meter_time_at - reading.read_at).total_seconds()
        report.clock_drift_s = drift_s
        if abs(drift_s) > drift_max_s and self._request_clock_sync is not None:
            await self._request_clock_sync(target.meter_id, drift_s)
            report.clock_sync_requested = True

    async def _scalers_for(
        self, session: MeterSession, target: MeterTarget, profile: ProfileKind
    ) -> profile_mapping.Scalers:
        key = (target.meter_type_id, profile)
        if key in self._scalers:
            return self._scalers[key]
        cached = await self._db.run(lambda s: hes_repo.meter_type_scalers(s, target.meter_type_id))
        if profile.value in cached:
            scalers = profile_mapping.scalers_from_json(cached[profile.value])
        else:
            scalers = dict(await session.read_scalers(profile))
            as_json = profile_mapping.scalers_to_json(scalers)
            await self._db.run(
                lambda s: hes_repo.cache_meter_type_scalers(s, target.meter_type_id, profile.value, as_json)
            )
        self._scalers[key] = scalers
        return scalers

    def _first_reads(
        self, target: MeterTarget, wanted: set[CollectionJob], marks: _Marks, now: datetime
    ) -> dict[str, ProfileRead]:
        """What the block-load (first span), daily and event-log jobs will read first."""
        reads = {}
        if CollectionJob.BLOCK_LOAD in wanted:
            start = block_start(target, marks.block_resume_at, now, self._max_backfill)
            reads["block"] = ProfileRead(_BLOCK_OBIS, start, min(now, start + self._max_read_span))
        if CollectionJob.DAILY in wanted:
            last = marks.last_daily_at
            reads["daily"] = ProfileRead(_DAILY_OBIS, now - self._max_backfill if last is None else last, now)
        if CollectionJob.EVENTS in wanted:
            for log in EVENT_LOGS:
                since = marks.last_event_at.get(log)
                reads[f"events:{log}"] = ProfileRead(event_log_obis(log), since, None if since is None else now)
        return reads

    async def _block_load(
        self, session: MeterSession, target: MeterTarget, report: CollectionReport, resume: Resume
    ) -> None:
        scalers = await self._scalers_for(session, target, ProfileKind.BLOCK_LOAD)
        await self._block_job.run(session, target, report, resume, scalers)

    async def _events(
        self, session: MeterSession, target: MeterTarget, report: CollectionReport, resume: Resume
    ) -> None:
        for event_log in EVENT_LOGS:
            since = resume.marks.last_event_at.get(event_log)
            capture = await resume.reads.take(f"events:{event_log}")
            if capture is None:
                capture = await session.read_events(event_log, since)
            rows = profile_mapping.event_rows(
                capture, meter_id=target.meter_id, log=event_log, source="log", received_at=self._clock.now()
            )
            rows = [row for row in rows if since is None or row["occurred_at"] >= since]
            if rows:
                count, changes = await self._db.run(partial(store_events_and_outages, rows=rows, source="log"))
                self._stored("events", count, report)
                await publish_events(self._bus, target.meter_id, rows, changes)

    async def _daily(
        self, session: MeterSession, target: MeterTarget, report: CollectionReport, resume: Resume
    ) -> None:
        report.last_daily_at = await self._snapshots(
            session, target, report, _DAILY, resume, backfill=self._max_backfill, read=session.read_daily
        )

    async def _billing(
        self, session: MeterSession, target: MeterTarget, report: CollectionReport, resume: Resume
    ) -> None:
        report.last_billing_at = await self._snapshots(
            session, target, report, _BILLING, resume, backfill=self._max_billing_backfill, read=session.read_billing
        )

    async def _snapshots(
        self,
        session: MeterSession,
        target: MeterTarget,
        report: CollectionReport,
        profile: _SnapshotProfile,
        resume: Resume,
        *,
        backfill: timedelta,
        read: Callable[[datetime, datetime], Awaitable[ProfileCapture]],
    ) -> datetime | None:
        """Daily or billing snapshots newer than the newest stored; returns the newest now known."""
        scalers = await self._scalers_for(session, target, profile.kind)
        last = profile.last_stored(resume.marks)
        capture = await resume.reads.take(profile.kind.value)  # planned for the daily profile
        if capture is None:
            now = self._clock.now()
            capture = await read(now - backfill if last is None else last, now)
        rows = profile.map_rows(capture, scalers, meter_id=target.meter_id, received_at=self._clock.now())
        rows = [row for row in rows if last is None or row[profile.key] > last]
        if rows:
            count = await self._db.run(partial(profile.store, rows=rows))
            self._stored(profile.kind.value, count, report)
            await self._publish_rows(profile.subject, target.meter_id, profile.key, rows)
        return max([row[profile.key] for row in rows], default=last)

    async def _instant(self, session: MeterSession, target: MeterTarget, report: CollectionReport) -> None:
        scalers = await self._scalers_for(session, target, ProfileKind.INSTANT)
        capture = await session.read_instant()
        rows = profile_mapping.instant_rows(capture, scalers, meter_id=target.meter_id, received_at=self._clock.now())
        if rows:
            count = await self._db.run(lambda s: reading_repo.store_instant_readings(s, rows))
            self._stored("instant", count, report)
            await self._publish_rows(subjects.INSTANT_READINGS, target.meter_id, "captured_at", rows)

    async def _relay_state(self, session: MeterSession, target: MeterTarget, report: CollectionReport) -> None:
        if not target.has_relay:
            return  # a CT/PT meter has no disconnect control object
        state = await session.read_relay_state()
        report.relay_state = state
        await record_relay_state(self._db, self._bus, target.meter_id, state, source="collection")
        payload = {
            "meter_id": target.meter_id,
            "kind": "relay_state",
            "output_state": state.output_state,
            "control_state": int(state.control_state),
            "control_mode": state.control_mode,
            "read_at": state.read_at.isoformat(),
        }
        await self._bus.publish_json(
            subjects.for_meter(subjects.METER_EVENTS, target.meter_id),
            payload,
            msg_id=f"relay-state:{target.meter_id}:{state.read_at.isoformat()}",
        )

    async def _publish_rows(self, subject: str, meter_id: int, key: str, rows: Sequence[dict[str, Any]]) -> None:
        first, last = rows[0][key].isoformat(), rows[-1][key].isoformat()
        payload = {"meter_id": meter_id, "rows": iso_rows(rows)}
        await self._bus.publish(
            subjects.for_meter(subject, meter_id),
            json_bytes(payload),
            msg_id=f"{subject}:{meter_id}:{first}:{last}:{len(rows)}",
        )


def store_events_and_outages(
    session: Session, rows: Sequence[dict[str, Any]], source: str
) -> tuple[int, list[outage_tracker.OutageChange]]:
    """Store events (duplicates ignored) and apply power events to outages, in time order."""
    count = reading_repo.store_events(session, rows)
    changes = []
    for row in sorted(rows, key=lambda r: r["occurred_at"]):
        if row["code"] == outage_tracker.POWER_FAIL:
            change = outage_tracker.power_down(session, row["meter_id"], row["occurred_at"], f"event-{source}")
        elif row["code"] == outage_tracker.POWER_RESTORE:
            change = outage_tracker.power_up(session, row["meter_id"], row["occurred_at"])
        else:
            continue
        if change is not None:
            changes.append(change)
    return count, changes


async def publish_events(
    bus: Bus, meter_id: int, rows: Sequence[dict[str, Any]], changes: Sequence[outage_tracker.OutageChange]
) -> None:
    """One message per event (id = its natural key, so a push and a log read publish it once)."""
    for row in rows:
        key = f"event:{meter_id}:{row['log']}:{row['occurred_at'].isoformat()}:{row['code']}"
        await bus.publish(subjects.for_meter(subjects.METER_EVENTS, meter_id), json_bytes(row), msg_id=key)
    for change in changes:
        state = "closed" if change.ended_at is not None else "opened"
        await bus.publish_json(
            subjects.for_meter(subjects.OUTAGES, meter_id),
            {**change.to_json(), "state": state},
            msg_id=f"outage:{change.outage_id}:{state}",
        )
