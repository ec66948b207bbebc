"""The collection loop: every tick, find what is due per meter and feed it to a bounded worker pool.

``collection_policy.due_jobs`` decides (pure); this module keeps each meter's facts in memory
(newest stored rows, the block load's read progress, outage end, firmware: loaded from the store at
start and refreshed periodically, then updated from each job's report), queues due work in a
bounded priority queue (on-demand reads before scheduled ones; when the queue is full a tick stops
adding and the rest waits for the next tick: back-pressure, never unbounded memory), and runs it
on ``workers`` tasks through the throttle in a meter-reader association (client 32). A meter that
comes back (first breath, power restore, dial-in) is collected at once. Time comes from the
injected clock, so simulated time can run the loop fast.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from openprepaid.hes.clock import Clock, sleep_until_set
from openprepaid.hes.collection_policy import (
    JOB_ORDER,
    CollectionFacts,
    CollectionJob,
    ScheduleConfig,
    due_jobs,
)
from openprepaid.hes.collector import CollectionReport, Collector
from openprepaid.hes.database import Database
from openprepaid.hes.metrics import HesMetrics
from openprepaid.hes.priority import Priority
from openprepaid.hes.retry import describe
from openprepaid.hes.session import Association, MeterSessionFactory
from openprepaid.hes.targets import TargetDirectory
from openprepaid.hes.throttle import Throttle
from openprepaid.store.repository import hes as repo

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class CollectionRequest:
    meter_id: int
    jobs: tuple[CollectionJob, ...]
    priority: int
    reason: str


def facts_from_row(row: repo.CollectionFactsRow) -> CollectionFacts:
    return CollectionFacts(
        meter_id=row.meter_id,
        has_name_plate=bool(row.firmware),
        last_block_end_at=row.last_block_end_at,
        block_read_to=row.block_read_to,
        last_daily_at=row.last_daily_at,
        last_billing_at=row.last_billing_at,
        reconnected_at=row.last_outage_end_at,
    )


def _later(a: datetime | None, b: datetime | None) -> datetime | None:
    return max((t for t in (a, b) if t is not None), default=None)


def merge_stored(facts: CollectionFacts, stored: CollectionFacts) -> CollectionFacts:
    """Facts from a store refresh: what other nodes or pushes recorded meanwhile wins if newer."""
    return replace(
        facts,
        has_name_plate=facts.has_name_plate or stored.has_name_plate,
        last_block_end_at=_later(facts.last_block_end_at, stored.last_block_end_at),
        block_read_to=_later(facts.block_read_to, stored.block_read_to),
        last_daily_at=_later(facts.last_daily_at, stored.last_daily_at),
        last_billing_at=_later(facts.last_billing_at, stored.last_billing_at),
        reconnected_at=_later(facts.reconnected_at, stored.reconnected_at),
    )


def apply_report(
    facts: CollectionFacts, jobs: Sequence[CollectionJob], started_at: datetime, report: CollectionReport | None
) -> CollectionFacts:
    """New facts after an attempt: every job counts as attempted; completed ones move their marks."""
    attempts = {**facts.last_attempt_at, **dict.fromkeys(jobs, started_at)}
    facts = replace(facts, last_attempt_at=attempts)
    if report is None:
        return facts
    done = set(report.completed)
    return replace(
        facts,
        has_name_plate=facts.has_name_plate or CollectionJob.NAME_PLATE in done,
        last_block_end_at=_later(facts.last_block_end_at, report.last_block_end_at),
        block_read_to=_later(facts.block_read_to, report.block_read_to),
        last_block_collected_at=started_at if CollectionJob.BLOCK_LOAD in done else facts.last_block_collected_at,
        last_events_at=started_at if CollectionJob.EVENTS in done else facts.last_events_at,
        last_instant_at=started_at if CollectionJob.INSTANT in done else facts.last_instant_at,
        last_clock_check_at=started_at if CollectionJob.CLOCK_CHECK in done else facts.last_clock_check_at,
        last_daily_at=_later(facts.last_daily_at, report.last_daily_at),
        last_billing_at=_later(facts.last_billing_at, report.last_billing_at),
    )


class CollectionScheduler:
    def __init__(
        self,
        db: Database,
        targets: TargetDirectory,
        sessions: MeterSessionFactory,
        collector: Collector,
        clock: Clock,
        *,
        throttle: Throttle,
        config: ScheduleConfig,
        zone: ZoneInfo,
        workers: int = 16,
        queue_size: int = 1_000,
        tick_s: float = 60.0,
        refresh_every: timedelta = timedelta(hours=6),
        metrics: HesMetrics | None = None,
    ) -> None:
        if workers < 1 or queue_size < 1:
            raise ValueError("workers and queue_size must be at least 1")
        self._db = db
        self._targets = targets
        self._sessions = sessions
        self._collector = collector
        self._throttle = throttle
        self._clock = clock
        self._config = config
        self._zone = zone
        self._workers = workers
        self._tick_s = tick_s
        self._refresh_every = refresh_every
        self._metrics = metrics
        self._queue: asyncio.PriorityQueue[tuple[int, int, CollectionRequest]] = asyncio.PriorityQueue(queue_size)
        self._sequence = itertools.count()
        self._pending: set[int] = set()
        self._refreshed_at: datetime | None = None
        self.facts: dict[int, CollectionFacts] = {}
        self.groups: dict[int, tuple[str, ...]] = {}
        self.reports: int = 0

    # --- facts -------------------------------------------------------------------------------------

    async def load_facts(self, meter_ids: Sequence[int] | None = None) -> int:
        """Load (or refresh) facts of installed meters from the store; returns how many meters."""

        def work(session: Session) -> list[repo.CollectionFactsRow]:
            ids = list(meter_ids) if meter_ids is not None else repo.installed_meter_ids(session)
            return repo.collection_facts(session, ids)

        rows = await self._db.run(work)
        for row in rows:
            stored = facts_from_row(row)
            current = self.facts.get(row.meter_id)
            self.facts[row.meter_id] = stored if current is None else merge_stored(current, stored)
            self.groups[row.meter_id] = (f"utility:{row.utility_id}", f"type:{row.meter_type_code}")
        self._refreshed_at = self._clock.now()
        return len(rows)

    def due(self, now: datetime) -> list[CollectionRequest]:
        requests = []
        for meter_id, facts in self.facts.items():
            policy = self._config.policy_for(meter_id, self.groups.get(meter_id, ()))
            jobs = due_jobs(facts, policy, now, self._zone)
            if jobs:
                requests.append(CollectionRequest(meter_id, jobs, int(Priority.SCHEDULED), "scheduled"))
        return requests

    # --- submitting --------------------------------------------------------------------------------

    def _submit(self, request: CollectionRequest) -> bool:
        if request.meter_id in self._pending:
            return False
        try:
            self._queue.put_nowait((-request.priority, next(self._sequence), request))
        except asyncio.QueueFull:
            return False
        self._pending.add(request.meter_id)
        if self._metrics is not None:
            self._metrics.scheduler_backlog.set(self._queue.qsize())
        return True

    async def tick(self) -> int:
        """Queue what is due now; returns how many requests were added."""
        now = self._clock.now()
        if self._refreshed_at is None or now - self._refreshed_at >= self._refresh_every:
            await self.load_facts()
        added = 0
        for request in self.due(now):
            if self._queue.full():
                log.info("collection queue full: %d meters wait for the next tick", len(self.facts) - added)
                break
            added += self._submit(request)
        return added

    def request(
        self, meter_id: int, jobs: Sequence[CollectionJob], *, priority: int = Priority.ON_DEMAND, reason: str = ""
    ) -> bool:
        """An on-demand read; False when the meter already has work queued or the queue is full."""
        ordered = tuple(job for job in JOB_ORDER if job in set(jobs))
        return self._submit(CollectionRequest(meter_id, ordered, int(priority), reason or "on demand"))

    async def notify_meter_back(self, meter_id: int, at: datetime) -> None:
        """The meter is back (first breath, restore, dial-in): note it and collect what is due now."""
        facts = self.facts.get(meter_id) or CollectionFacts(meter_id)
        self.facts[meter_id] = replace(facts, reconnected_at=_later(facts.reconnected_at, at))
        if meter_id not in self.groups:
            await self.load_facts([meter_id])
        policy = self._config.policy_for(meter_id, self.groups.get(meter_id, ()))
        jobs = due_jobs(self.facts[meter_id], policy, self._clock.now(), self._zone)
        if jobs:
            self._submit(CollectionRequest(meter_id, jobs, int(Priority.ON_DEMAND), "meter back"))

    # --- running -----------------------------------------------------------------------------------

    async def run_job(self, request: CollectionRequest) -> CollectionReport | None:
        """One session with one meter; failures are logged and become facts (the next attempt waits)."""
        started_at = self._clock.now()
        report: CollectionReport | None = None
        traffic = (0, 0)
        try:
            target = await self._targets.get(request.meter_id)
            policy = self._config.policy_for(request.meter_id, self.groups.get(request.meter_id, ()))
            async with (
                self._throttle.slot(request.meter_id, request.priority),
                self._sessions.open(target, Association.METER_READER) as session,
            ):
                try:
                    report = await self._collector.collect(
                        session, target, request.jobs, clock_drift_max_s=policy.clock_drift_max_s
                    )
                finally:
                    traffic = (session.bytes_sent, session.bytes_received)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # task boundary: one meter's failure must not stop collection
            log.warning(
                "collection failed: meter=%d jobs=%s reason=%s error=%s decision=retry-after-gap",
                request.meter_id,
                ",".join(job.value for job in request.jobs),
                request.reason,
                describe(exc),
            )
        if self._metrics is not None:
            elapsed = (self._clock.now() - started_at).total_seconds()
            self._metrics.session_ended(
                "meter_reader", ok=report is not None, seconds=elapsed, sent=traffic[0], received=traffic[1]
            )
        facts = self.facts.get(request.meter_id) or CollectionFacts(request.meter_id)
        self.facts[request.meter_id] = apply_report(facts, request.jobs, started_at, report)
        self.reports += 1
        return report

    async def _worker(self) -> None:
        while True:
            _, _, request = await self._queue.get()
            try:
                await self.run_job(request)
            finally:
                self._pending.discard(request.meter_id)
                self._queue.task_done()
                if self._metrics is not None:
                    self._metrics.scheduler_backlog.set(self._queue.qsize())

    async def drain(self) -> None:
        """Wait until everything queued so far has run (needs the workers running)."""
        await self._queue.join()

    async def run(self, stop: asyncio.Event) -> None:
        """Tick every ``tick_s`` of clock time until ``stop`` is set, with ``workers`` worker tasks."""
        workers = [asyncio.create_task(self._worker(), name=f"collector-{n}") for n in range(self._workers)]
        try:
            while not stop.is_set():
                await self.tick()
                await sleep_until_set(self._clock, self._tick_s, stop)
        finally:
            for worker in workers:
                worker.cancel()
            await asyncio.gather(*workers, return_exceptions=True)
