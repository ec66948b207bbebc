"""One head-end, wired: the parts of this package built together and connected to each other.

The composition root (``openprepaid.app``) calls ``build_head_end`` with the process's store, bus,
key vault and clock, and with a builder for the session layer's ``MeterSessionFactory`` (which needs
the invocation counters and the credentials built here). Connections made here:
- a clock drift found by a collection queues a verified ``clock_sync`` command (once per meter and day);
- a relay-change push (ESW bit 84, control events) asks for an on-demand read of the relay state;
- a meter back (first breath, power restore, dial-in) is collected at once (backfill).
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from prometheus_client import CollectorRegistry
from sqlalchemy.orm import Session, sessionmaker

from openprepaid.bus.base import Bus
from openprepaid.hes.clock import Clock
from openprepaid.hes.collection_policy import CollectionJob, ScheduleConfig
from openprepaid.hes.collector import Collector
from openprepaid.hes.command_queue import CommandQueue
from openprepaid.hes.command_records import CommandRequest
from openprepaid.hes.command_worker import CommandWorker
from openprepaid.hes.credentials import CredentialStore
from openprepaid.hes.database import Database
from openprepaid.hes.group_commit import GroupCommitDatabase
from openprepaid.hes.invocation_counters import InvocationCounterStore
from openprepaid.hes.meter_read import ReadBackRecorder
from openprepaid.hes.metrics import HesMetrics
from openprepaid.hes.priority import Priority
from openprepaid.hes.push_handler import PushHandler
from openprepaid.hes.retry import HesError, RetryPolicy, describe
from openprepaid.hes.scheduler import CollectionScheduler
from openprepaid.hes.session import MeterSessionFactory
from openprepaid.hes.targets import TargetDirectory
from openprepaid.hes.throttle import Throttle, ThrottleLimits
from openprepaid.keyvault import KeyVault
from openprepaid.store.model import CommandKind

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class HeadEndConfig:
    throttle: ThrottleLimits = field(default_factory=ThrottleLimits)
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    schedule: ScheduleConfig = field(default_factory=ScheduleConfig)
    collection_workers: int = 16
    collection_queue: int = 1_000
    commands_in_flight: int = 32
    tick_s: float = 60.0
    command_poll_s: float = 5.0
    invocation_counter_block: int = 32
    # Units of work committed together (group_commit.py; every unit is audited safe to batch and to
    # re-run, docs/hes.md): many sessions' small units in one transaction take the commit and the round
    # trips off each one (bench/hes_fleet). 1 = each its own transaction.
    group_commit: int = 64
    clock_sync_deadline: timedelta = timedelta(hours=12)
    seed: int | None = None  # back-off jitter; None: from the OS


@dataclass(frozen=True, slots=True)
class SessionDependencies:
    """What the session layer's factory needs from the head-end."""

    counters: InvocationCounterStore
    credentials: CredentialStore
    clock: Clock
    metrics: HesMetrics


@dataclass
class HeadEnd:
    db: Database
    metrics: HesMetrics
    targets: TargetDirectory
    throttle: Throttle
    counters: InvocationCounterStore
    credentials: CredentialStore
    queue: CommandQueue
    worker: CommandWorker
    collector: Collector
    scheduler: CollectionScheduler
    push_handler: PushHandler

    async def run(self, stop: asyncio.Event) -> None:
        """Run the command worker and the collection loop until ``stop`` is set."""
        await asyncio.gather(self.worker.run(stop), self.scheduler.run(stop))
        await self.throttle.close()
        if isinstance(self.db, GroupCommitDatabase):
            await self.db.close()


def build_head_end(
    *,
    sessions: sessionmaker[Session],
    bus: Bus,
    vault: KeyVault,
    clock: Clock,
    zone: ZoneInfo,
    session_factory: Callable[[SessionDependencies], MeterSessionFactory],
    registry: CollectorRegistry,
    config: HeadEndConfig | None = None,
    offload: bool = True,
) -> HeadEnd:
    config = config or HeadEndConfig()
    if config.group_commit < 1:
        raise ValueError("group_commit must be at least 1")
    db = (
        GroupCommitDatabase(sessions, offload=offload, max_batch=config.group_commit)
        if config.group_commit > 1
        else Database(sessions, offload=offload)
    )
    metrics = HesMetrics(registry)
    targets = TargetDirectory(db)
    throttle = Throttle(config.throttle, clock, metrics=metrics)
    counters = InvocationCounterStore(db, clock, block_size=config.invocation_counter_block)
    credentials = CredentialStore(db, vault)
    meter_sessions = session_factory(SessionDependencies(counters, credentials, clock, metrics))
    queue = CommandQueue(db, bus, clock, rng=random.Random(config.seed), retry_policy=config.retry, metrics=metrics)
    worker = CommandWorker(
        queue,
        meter_sessions,
        targets,
        throttle,
        clock,
        recorder=ReadBackRecorder(db, bus),
        max_in_flight=config.commands_in_flight,
        poll_s=config.command_poll_s,
        metrics=metrics,
    )

    async def request_clock_sync(meter_id: int, drift_s: float) -> None:
        now = clock.now()
        request = CommandRequest(
            meter_id=meter_id,
            kind=CommandKind.CLOCK_SYNC,
            actor="hes:clock-check",
            reason=f"meter clock {drift_s:+.0f} s off",
            decision={"drift_s": drift_s},
            idempotency_key=f"clock-sync:{meter_id}:{now.astimezone(zone).date().isoformat()}",
            deadline_at=now + config.clock_sync_deadline,
        )
        try:
            await queue.enqueue(request)
        except HesError as exc:  # a full queue or a removed meter: the next daily check asks again
            log.warning("meter %d: clock sync not queued: %s", meter_id, describe(exc))
            return
        worker.wake()

    collector = Collector(db, bus, clock, request_clock_sync=request_clock_sync, metrics=metrics)
    scheduler = CollectionScheduler(
        db,
        targets,
        meter_sessions,
        collector,
        clock,
        throttle=throttle,
        config=config.schedule,
        zone=zone,
        workers=config.collection_workers,
        queue_size=config.collection_queue,
        tick_s=config.tick_s,
        metrics=metrics,
    )

    async def relay_changed(meter_id: int, _at: datetime) -> None:
        if not scheduler.request(
            meter_id, [CollectionJob.RELAY_STATE, CollectionJob.EVENTS], priority=Priority.RELAY, reason="relay change"
        ):
            log.info("meter %d: relay read not queued (already queued or queue full)", meter_id)

    push_handler = PushHandler(
        db, bus, clock, on_relay_change=relay_changed, on_meter_back=scheduler.notify_meter_back, metrics=metrics
    )
    return HeadEnd(
        db=db,
        metrics=metrics,
        targets=targets,
        throttle=throttle,
        counters=counters,
        credentials=credentials,
        queue=queue,
        worker=worker,
        collector=collector,
        scheduler=scheduler,
        push_handler=push_handler,
    )
