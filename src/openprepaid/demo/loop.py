"""The prepaid loop, end to end, on one simulated clock: the composition root of ``openprepaid demo``.

Meters (a simulated fleet on TCP ports P..P+N-1) are collected by the head-end over DLMS; the
wallet charges what was collected, runs the prepaid rules and asks the head-end for relay
commands, which are confirmed only after the relay is read back. Time moves in steps: every
``step`` of simulated time, and at each planned recharge, so that a recharge is acted on at once.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from prometheus_client import CollectorRegistry

from openprepaid.app import Runtime, prepaid_rules, recharge_policy
from openprepaid.bus import subjects
from openprepaid.bus.base import BusMessage
from openprepaid.bus.in_process import InProcessBus
from openprepaid.demo.clock import DemoTime, HeadEndClock
from openprepaid.demo.fleet_host import DemoFleet, FleetProcess, build_demo_fleet
from openprepaid.demo.scenarios import Story, write_story
from openprepaid.demo.township import UTILITY_CODE, SeededMeter, seed_township
from openprepaid.demo.wallet_step import PlannedRecharge, WalletStep
from openprepaid.hes.collection_policy import CollectionJob, CollectionPolicy, ScheduleConfig
from openprepaid.hes.command_records import CommandRequest
from openprepaid.hes.dlms_session import DlmsSessionFactory, VaultCredentials
from openprepaid.hes.head_end import HeadEnd, HeadEndConfig, SessionDependencies, build_head_end
from openprepaid.hes.throttle import ThrottleLimits
from openprepaid.store.model import CommandKind
from openprepaid.store.repository import loop_audit
from openprepaid.wallet.rules.facts import RelayAction

log = logging.getLogger(__name__)

HES_SYSTEM_TITLE = bytes.fromhex("4F50484553303031")  # "OPHES001"
STATE_FILE = "demo-state.json"
DISCONNECT_CONTROL = "0.0.96.3.10.255"
NEVER_S = 10.0**9


@dataclass(frozen=True)
class DemoConfig:
    meters: int
    seed: int
    start: datetime
    first_port: int
    tariffs_dir: Path
    step: timedelta = timedelta(minutes=15)
    command_deadline: timedelta = timedelta(hours=6)


@dataclass
class Progress:
    """What the live view shows; everything else is read from the database."""

    now: datetime
    zone: ZoneInfo = field(default_factory=lambda: ZoneInfo("UTC"))
    steps: int = 0
    recharges: int = 0
    commands_sent: int = 0
    intervals_charged: int = 0
    wall_started: float = field(default_factory=time.monotonic)
    recent: list[str] = field(default_factory=list)

    def note(self, line: str) -> None:
        self.recent.append(f"{self.now.astimezone(self.zone):%a %d %b %H:%M}  {line}")
        del self.recent[:-8]


class DemoLoop:
    def __init__(self, runtime: Runtime, config: DemoConfig, zone: ZoneInfo) -> None:
        self.runtime = runtime
        self.config = config
        self.zone = zone
        self.state_path = runtime.settings.data_dir / STATE_FILE
        saved = self._load_state()
        self.demo_time = DemoTime(config.start)
        if saved is not None:
            self.demo_time.advance_to(saved)
        self.progress = Progress(now=self.demo_time.now(), zone=zone)
        self.fleet: DemoFleet | None = None
        self.child: FleetProcess | None = None
        self.head_end: HeadEnd | None = None
        self.wallet: WalletStep | None = None
        self.meters: list[SeededMeter] = []
        self.story: Story | None = None
        self._pending_recharges: list[PlannedRecharge] = []
        self._closed_days: set[date] = set()
        self._touched_meters: set[int] = set()
        self._charge_all_once = True
        self._stop = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []

    # --- state across runs ---------------------------------------------------------------------------

    def _load_state(self) -> datetime | None:
        if not self.state_path.exists():
            return None
        state = json.loads(self.state_path.read_text(encoding="utf-8"))
        if state.get("seed") != self.config.seed or state.get("meters") != self.config.meters:
            raise ValueError(
                f"{self.state_path} belongs to a demo with seed {state.get('seed')} and {state.get('meters')} meters; "
                "use the same options or another --data-dir"
            )
        return datetime.fromisoformat(state["now"])

    def _save_state(self) -> None:
        state = {
            "seed": self.config.seed,
            "meters": self.config.meters,
            "start": self.config.start.isoformat(),
            "now": self.demo_time.now().isoformat(),
        }
        self.state_path.parent.mkdir(parents=True, exist_ok=True)
        # Written after every step, atomically: a killed demo resumes at the last step it finished.
        partial = self.state_path.with_suffix(".tmp")
        partial.write_text(json.dumps(state), encoding="utf-8")
        partial.replace(self.state_path)

    # --- start and stop ------------------------------------------------------------------------------

    async def start(self) -> None:
        config, rt = self.config, self.runtime
        # The meters run in a child process (the other core); this one keeps an identical model of
        # the fleet to register the meters and write the township's story.
        self.fleet = build_demo_fleet(
            meters=config.meters, seed=config.seed, start=config.start, first_port=config.first_port
        )
        self.child = await FleetProcess.start(
            meters=config.meters,
            seed=config.seed,
            start=config.start,
            now=self.demo_time.now(),
            first_port=config.first_port,
        )
        with rt.sessions.begin() as session:
            self.meters = seed_township(
                session, rt.vault, meters=self.fleet.specs(), now=config.start, tariffs_dir=config.tariffs_dir
            )
        self.story = write_story(self.fleet.fleet, [m.account_id for m in self.meters], config.start)
        await self._replay_relay_states()
        self.wallet = WalletStep(
            rt.sessions,
            self._utility_id(),
            self.zone,
            prepaid_rules(rt.settings),
            recharge_policy=recharge_policy(rt.settings),
        )
        self.wallet.open_books([m.account_id for m in self.meters])
        for planned in self.story.opening:
            self.wallet.pay(planned)
        now = self.demo_time.now()
        self._pending_recharges = [r for r in self.story.recharges if r.at > now]
        self.head_end = self._build_head_end()
        # The wallet learns which meters delivered new intervals from the bus, as it would across nodes.
        await rt.bus.subscribe(f"{subjects.BLOCK_READINGS}.*", self._readings_arrived, group="demo-wallet")
        self._charge_all_once = True
        await self.head_end.worker.recover()
        self._tasks.append(asyncio.create_task(self.head_end.scheduler.run(self._stop)))
        self._save_state()

    def _utility_id(self) -> int:
        with self.runtime.sessions() as session:
            return loop_audit.utility_id_by_code(session, UTILITY_CODE)

    def _build_head_end(self) -> HeadEnd:
        clock = HeadEndClock(self.demo_time)

        def sessions(deps: SessionDependencies) -> DlmsSessionFactory:
            credentials = VaultCredentials(deps.credentials, client_system_title=HES_SYSTEM_TITLE)
            return DlmsSessionFactory(
                credentials, deps.counters, zone=self.zone, response_timeout_s=10, connect_timeout_s=5, now=clock.now
            )

        config = HeadEndConfig(
            throttle=ThrottleLimits(max_sessions=24, connections_per_s=5000, burst=5000, min_gap_s=0),
            # The demo reads block load every 8 h and the event logs once a day (production defaults: 4 h
            # and 4 h) to fit a week of 200 meters in minutes; the wallet charges whatever arrives.
            schedule=ScheduleConfig(
                default=CollectionPolicy(block_load_every=timedelta(hours=8), events_every=timedelta(hours=24))
            ),
            collection_workers=16,
            tick_s=NEVER_S,
            command_poll_s=NEVER_S,
            seed=self.config.seed,
        )
        return build_head_end(
            sessions=self.runtime.sessions,
            bus=self.runtime.bus,
            vault=self.runtime.vault,
            clock=clock,
            zone=self.zone,
            session_factory=sessions,
            registry=CollectorRegistry(),
            config=config,
            offload=False,
        )

    async def _replay_relay_states(self) -> None:
        """On a rerun, the simulated meters restart connected: re-apply the relay commands they obeyed."""
        assert self.child is not None
        by_meter = {m.meter_id: index for index, m in enumerate(self.meters)}
        with self.runtime.sessions() as session:
            rows = loop_audit.confirmed_relay_commands(session)
        for meter_id, kind, completed_at in rows:
            index = by_meter.get(meter_id)
            if index is None or completed_at is None:
                continue
            method = 1 if kind is CommandKind.RELAY_DISCONNECT else 2
            await self.child.replay_relay(index, method, completed_at)

    async def close(self) -> None:
        self._stop.set()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self.head_end is not None:
            await self.head_end.throttle.close()
        if self.child is not None:
            await self.child.close()
        self._save_state()

    # --- running ---------------------------------------------------------------------------------------

    async def run_until(
        self,
        end: datetime,
        *,
        pace: Callable[[datetime], float] | None = None,
        on_step: Callable[[DemoLoop], None] | None = None,
    ) -> None:
        """Step simulated time up to ``end``; ``pace(next_time)`` returns real seconds to wait first."""
        while self.demo_time.now() < end and not self._stop.is_set():
            target = self._next_step_time(end)
            if pace is not None:
                delay = pace(target)
                if delay > 0:
                    await asyncio.sleep(delay)
            await self.step(target)
            if on_step is not None:
                on_step(self)

    def _next_step_time(self, end: datetime) -> datetime:
        now = self.demo_time.now()
        step_s = self.config.step.total_seconds()
        elapsed = (now - self.config.start).total_seconds()
        grid = self.config.start + timedelta(seconds=(elapsed // step_s + 1) * step_s)
        candidates = [grid, end]
        candidates += [r.at for r in self._pending_recharges if r.at > now]
        return min(candidates)

    async def step(self, at: datetime) -> None:
        assert self.head_end is not None and self.wallet is not None and self.fleet is not None
        self.demo_time.advance_to(at)
        self.progress.now = at
        assert self.child is not None
        await self.child.advance(at)
        await self.head_end.scheduler.tick()
        await self.head_end.scheduler.drain()
        if isinstance(self.runtime.bus, InProcessBus):
            await self.runtime.bus.drain()
        touched, self._touched_meters = self._touched_meters, set()
        if self._charge_all_once:  # a resumed run: anything stored but not charged before the stop
            self._charge_all_once = False
            collected = self.wallet.charge_collected(at)
        else:
            collected = self.wallet.charge_collected(at, touched)
        self.progress.intervals_charged += collected
        self._close_days(at)
        # From the recharge to the relay's read-back, simulated time runs at wall-clock speed: the
        # commands' timestamps (and the report's reconnect delay) show what the server really took.
        with self.demo_time.flowing():
            due = [r for r in self._pending_recharges if r.at <= at]
            for planned in due:
                self.wallet.pay(planned)
                self.progress.recharges += 1
                self.progress.note(f"recharge ₹{planned.amount_paise / 100:,.2f} for account {planned.account_id}")
            self._pending_recharges = [r for r in self._pending_recharges if r.at > at]
            # The rules run hourly (emergency credit and calendar deadlines are hour-scale) and at once
            # after a recharge or a collection changed balances; due commands are executed every step.
            if due or collected or at.minute == 0:
                await self._enforce(at)
            await self._run_commands()
        self.progress.steps += 1
        self._save_state()

    async def _readings_arrived(self, message: BusMessage) -> None:
        self._touched_meters.add(int(message.subject.rsplit(".", 1)[1]))

    async def collect_everything(self) -> None:
        """An on-demand read of every meter's block load, daily profile and events, then charge it."""
        assert self.head_end is not None and self.wallet is not None
        scheduler = self.head_end.scheduler
        jobs = [CollectionJob.BLOCK_LOAD, CollectionJob.DAILY, CollectionJob.EVENTS]
        for meter in self.meters:
            scheduler.request(meter.meter_id, jobs, reason="end of the run")
        await scheduler.drain()
        if isinstance(self.runtime.bus, InProcessBus):
            await self.runtime.bus.drain()
        self._touched_meters.clear()
        self.progress.intervals_charged += self.wallet.charge_collected(self.demo_time.now())

    def _close_days(self, at: datetime) -> None:
        """After 01:00 local, the previous day's fixed charge and true-up (its midnight data is in by then)."""
        assert self.wallet is not None
        local = at.astimezone(self.zone)
        if local.hour < 1:
            return
        day = local.date() - timedelta(days=1)
        if day in self._closed_days or day < self.config.start.astimezone(self.zone).date():
            return
        self.wallet.close_day(day, at)
        self._closed_days.add(day)

    async def _enforce(self, at: datetime) -> None:
        assert self.head_end is not None and self.wallet is not None
        result = self.wallet.apply_rules(at)
        queue = self.head_end.queue
        if result.cancel_meter_ids:
            await queue.cancel_matching(
                [CommandKind.RELAY_DISCONNECT],
                actor="prepaid-rules",
                reason="no longer due (recharged)",
                actor_prefix="prepaid-rules",
                meter_ids=result.cancel_meter_ids,
            )
        for request in result.commands:
            kind = (
                CommandKind.RELAY_DISCONNECT
                if request.action is RelayAction.DISCONNECT
                else CommandKind.RELAY_RECONNECT
            )
            await queue.enqueue(
                CommandRequest(
                    meter_id=request.meter_id,
                    kind=kind,
                    actor=request.actor,
                    reason=request.reason,
                    decision=request.decision,
                    idempotency_key=request.idempotency_key,
                    account_id=request.account_id,
                    not_before_at=request.not_before_at,
                    deadline_at=(request.not_before_at or at) + self.config.command_deadline,
                )
            )
            self.progress.commands_sent += 1
            self.progress.note(f"{kind.value} queued for meter {request.meter_id}: {request.reason}")

    async def _run_commands(self) -> None:
        assert self.head_end is not None
        confirmed = await self.head_end.worker.run_once()
        for view in confirmed:
            self.progress.note(f"{view.kind.value} for meter {view.meter_id}: {view.state.value}")
