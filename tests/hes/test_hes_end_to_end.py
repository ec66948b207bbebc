"""The whole head-end (``hes.service``) against a simulated fleet on loopback TCP.

Collection stores the block load (backfilled from the meter's birth), the daily snapshots and the
event logs, checked against the virtual meters' own model; a relay command is confirmed only by the
read-back, and a welded relay never is; last gasp / first breath pushes open and close an outage and
bring the meter back for collection; dial-in meters are collected and commanded over the
connection they opened.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from openprepaid.hes.command_records import CommandRequest, CommandView
from openprepaid.hes.head_end import HeadEndConfig
from openprepaid.hes.retry import RetryPolicy
from openprepaid.hes.service import HesService, HesServiceConfig
from openprepaid.hes.throttle import ThrottleLimits
from openprepaid.keyvault import KeyVault
from openprepaid.meters.event_codes import EventLog
from openprepaid.simulator.control_api import send_control
from openprepaid.simulator.network import SimulatorNetworkError
from openprepaid.simulator.runner import Simulation, SimulationConfig, start_simulation
from openprepaid.store.model import (
    BlockReading,
    CommandKind,
    CommandState,
    CommMode,
    DailyReading,
    EventSource,
    Framing,
    MeterEvent,
    Outage,
)
from tests.hes.simulated_meters import HES_SYSTEM_TITLE, fleet_meters, register_fleet

ZONE = ZoneInfo("Asia/Kolkata")
VAULT = KeyVault(bytes(range(32)))
SEED = 3  # meter 0 is a CT meter (no relay), meter 3 a one-phase whole-current meter
RELAY_METER = 3
pytestmark = pytest.mark.slow
# The database paths of a collection run on both backends in test_collector.py and of commands in
# the relay test below; the network-heavy tests run on SQLite only, to keep the suite short.
SQLITE_ONLY = pytest.mark.parametrize("migrated_engine", ["sqlite"], indirect=True)


@dataclass
class Running:
    service: HesService
    simulation: Simulation
    ids: list[int]
    sessions: object

    def count(self, model, meter_id: int) -> int:  # type: ignore[no-untyped-def]
        with self.sessions() as session:  # type: ignore[operator]
            return int(session.scalar(select(func.count()).select_from(model).where(model.meter_id == meter_id)))

    def rows(self, model, meter_id: int) -> list:  # type: ignore[no-untyped-def,type-arg]
        with self.sessions() as session:  # type: ignore[operator]
            return list(session.scalars(select(model).where(model.meter_id == meter_id)))

    async def control(self, request: dict[str, object]) -> dict[str, object]:
        assert self.simulation.control_port is not None
        return await send_control("127.0.0.1", self.simulation.control_port, request)

    def meter(self, index: int):  # type: ignore[no-untyped-def]
        meter = self.simulation.fleet.meter(index)
        meter.advance(self.simulation.server.now_s())
        return meter

    async def command(self, index: int, kind: CommandKind) -> CommandView:
        result = await self.service.head_end.queue.enqueue(
            CommandRequest(meter_id=self.ids[index], kind=kind, actor="test", reason="end to end")
        )
        self.service.head_end.worker.wake()
        return result.command


def head_end_config(**throttle: float) -> HeadEndConfig:
    return HeadEndConfig(
        throttle=ThrottleLimits(max_sessions=16, connections_per_s=200, burst=50, min_gap_s=0.1, **throttle),
        retry=RetryPolicy(max_attempts=3, base_delay_s=0.2, max_delay_s=1.0),
        tick_s=0.5,
        command_poll_s=0.2,
        seed=1,
    )


@asynccontextmanager
async def running(
    hes_sessions, bus, *, meters: int = 4, dial_in: bool = False, **simulation: object
) -> AsyncIterator[Running]:
    service = await HesService.start(
        sessions=hes_sessions,
        bus=bus,
        vault=VAULT,
        zone=ZONE,
        config=HesServiceConfig(
            system_title=HES_SYSTEM_TITLE,
            push_port=0,
            dial_in_port=0,
            metrics_port=None,
            head_end=head_end_config(),
            response_timeout_s=5,
            connect_timeout_s=5,
        ),
    )
    ports = service.ports()
    sim = None
    for _ in range(30):
        options = dict(simulation)
        if dial_in:
            options["dial_in"] = ("127.0.0.1", ports["dial_in"])
        try:
            sim = await start_simulation(
                SimulationConfig(
                    meters=meters,
                    start=datetime.now(UTC),
                    port=random.randrange(20_000, 31_000),
                    history_days=1,
                    seed=SEED,
                    push_to=f"127.0.0.1:{ports['push']}",
                    control_port=0,
                    **options,  # type: ignore[arg-type]
                )
            )
            break
        except SimulatorNetworkError:
            continue
    assert sim is not None
    ids = register_fleet(
        hes_sessions,
        VAULT,
        fleet_meters(sim.fleet),
        first_port=None if dial_in else sim.config.port,
        comm_mode=CommMode.DIAL_IN if dial_in else CommMode.DIAL,
        framing=Framing(sim.config.framing),
    )
    stop = asyncio.Event()
    task = asyncio.create_task(service.run(stop))
    try:
        yield Running(service, sim, ids, hes_sessions)
    finally:
        stop.set()
        await asyncio.wait_for(task, 30)
        await service.close()
        await sim.close()


async def until(condition: Callable[[], object], timeout_s: float = 30.0) -> None:
    async with asyncio.timeout(timeout_s):
        while not condition():
            await asyncio.sleep(0.1)


async def until_state(run: Running, command_id: int, states: set[CommandState], timeout_s: float = 30.0) -> CommandView:
    async with asyncio.timeout(timeout_s):
        while True:
            view = await run.service.head_end.queue.get(command_id)
            assert view is not None
            if view.state in states:
                return view
            await asyncio.sleep(0.1)


def expected_intervals(meter) -> int:  # type: ignore[no-untyped-def]
    return (meter.lived_lt - meter.born_lt) // meter.meter_type.capture_period_s


@SQLITE_ONLY
async def test_collection_stores_block_load_daily_and_events_as_the_meters_hold_them(hes_sessions, bus):
    async with running(hes_sessions, bus, meters=6, outages_per_day=12.0) as run:
        # A meter in one of its random outages right now cannot be read: the others are checked.
        supplied = [i for i in range(len(run.ids)) if run.simulation.server.reachable(i)]
        assert len(supplied) >= 3
        await until(lambda: all(run.count(DailyReading, run.ids[i]) for i in supplied))
        await until(lambda: all(run.count(MeterEvent, run.ids[i]) for i in supplied))
        for index in supplied:
            meter_id, meter = run.ids[index], run.meter(index)
            assert abs(run.count(BlockReading, meter_id) - expected_intervals(meter)) <= 1
            power_codes = meter.event_codes(EventLog.POWER)
            stored = sorted(e.code for e in run.rows(MeterEvent, meter_id) if e.log == EventLog.POWER)
            assert stored == sorted(power_codes) and stored
            outages = run.rows(Outage, meter_id)
            fails = sorted(e.occurred_at for e in run.rows(MeterEvent, meter_id) if e.code == 101)
            assert len(outages) == len(set(fails))  # each power failure in the log is one outage, once
            assert all(o.ended_at is not None for o in outages if o.started_at < datetime.now(UTC) - timedelta(hours=2))


async def test_a_relay_command_is_confirmed_only_by_read_back(hes_sessions, bus):
    async with running(hes_sessions, bus) as run:
        command = await run.command(RELAY_METER, CommandKind.RELAY_DISCONNECT)
        view = await until_state(run, command.id, {CommandState.CONFIRMED, CommandState.FAILED})
        assert view.state is CommandState.CONFIRMED
        assert view.readback is not None and view.readback["values"]["output_state"] is False
        assert int(run.meter(RELAY_METER).control_state) == 0
        # A welded relay: the meter accepts the command but the read-back shows it still closed.
        run.meter(RELAY_METER).set_relay_stuck(True)
        command = await run.command(RELAY_METER, CommandKind.RELAY_RECONNECT)
        view = await until_state(run, command.id, {CommandState.CONFIRMED, CommandState.FAILED})
        assert view.state is CommandState.CONFIRMED  # welded closed: reconnecting shows what it should
        command = await run.command(RELAY_METER, CommandKind.RELAY_DISCONNECT)
        view = await until_state(run, command.id, {CommandState.CONFIRMED, CommandState.FAILED})
        assert view.state is CommandState.FAILED and view.attempts == 3
        assert "ReadbackMismatchError" in view.last_error
        assert view.readback is not None and view.readback["values"]["output_state"] is True


@SQLITE_ONLY
async def test_pushes_open_and_close_an_outage_and_bring_the_meter_back(hes_sessions, bus):
    async with running(hes_sessions, bus) as run:
        meter_id = run.ids[RELAY_METER]
        await until(lambda: run.count(DailyReading, meter_id))
        assert (await run.control({"op": "outage", "meters": RELAY_METER, "duration_s": 2}))["ok"]
        await until(lambda: run.rows(Outage, meter_id))
        await until(lambda: all(o.ended_at is not None for o in run.rows(Outage, meter_id)))
        [outage] = run.rows(Outage, meter_id)
        assert timedelta(seconds=1) <= outage.ended_at - outage.started_at <= timedelta(seconds=5)
        assert outage.source.endswith("push")
        # First breath: the meter is collected at once; its power log read later adds no second outage.
        facts = run.service.head_end.scheduler.facts[meter_id]
        assert facts.reconnected_at is not None
        await until(lambda: run.service.head_end.scheduler.facts[meter_id].last_events_at is not None)
        await until(lambda: run.service.head_end.scheduler.facts[meter_id].last_events_at > facts.reconnected_at)
        assert len(run.rows(Outage, meter_id)) == 1
        assert (await run.control({"op": "magnet", "meters": RELAY_METER, "duration_s": 2}))["ok"]
        await until(lambda: any(e.code == 201 for e in run.rows(MeterEvent, meter_id)))


@SQLITE_ONLY
@pytest.mark.parametrize("framing", ["wrapper", "hdlc"])
async def test_dial_in_meters_are_collected_and_commanded_over_their_connection(hes_sessions, bus, framing):
    async with running(hes_sessions, bus, dial_in=True, framing=framing) as run:
        dial_in = run.service.dial_in
        assert dial_in is not None
        await until(lambda: dial_in.connected == len(run.ids))
        await until(lambda: all(run.count(DailyReading, meter_id) for meter_id in run.ids))
        facts = run.service.head_end.scheduler.facts
        await until(lambda: all(facts[meter_id].last_events_at is not None for meter_id in run.ids))
        for index, meter_id in enumerate(run.ids):
            assert abs(run.count(BlockReading, meter_id) - expected_intervals(run.meter(index))) <= 1
            stored = sorted(e.code for e in run.rows(MeterEvent, meter_id) if e.log == EventLog.POWER)
            assert stored == sorted(run.meter(index).event_codes(EventLog.POWER))  # the event logs were read
        command = await run.command(RELAY_METER, CommandKind.RELAY_DISCONNECT)
        view = await until_state(run, command.id, {CommandState.CONFIRMED, CommandState.FAILED})
        assert view.state is CommandState.CONFIRMED and int(run.meter(RELAY_METER).control_state) == 0
        # The disconnection's control event (301, never pushed) is read from the meter's event log.
        relay_meter = run.ids[RELAY_METER]
        await until(
            lambda: any(e.code == 301 and e.source is EventSource.LOG for e in run.rows(MeterEvent, relay_meter))
        )
        assert dial_in.stats.connections == len(run.ids)  # one connection each, lent session after session


class StubbornCore:
    """A head-end core whose task swallows the first cancellation (as a channel close used to)."""

    def __init__(self) -> None:
        self.cancellations = 0

    async def run(self, stop: asyncio.Event) -> None:
        while True:
            try:
                await asyncio.sleep(3600)
            except asyncio.CancelledError:
                self.cancellations += 1
                if self.cancellations > 1:
                    raise


@pytest.mark.parametrize("how", ["stop", "cancel"])
async def test_the_service_stops_even_when_the_core_ignores_stop_and_a_cancellation(how):
    core = StubbornCore()
    service = HesService(HesServiceConfig(shutdown_grace_s=0.1), head_end=core, registry=None)  # type: ignore[arg-type]
    stop = asyncio.Event()
    task = asyncio.create_task(service.run(stop))
    await asyncio.sleep(0.05)
    if how == "stop":
        stop.set()
        await asyncio.wait_for(task, 5)
    else:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await asyncio.wait_for(task, 5)
        assert stop.is_set()
    assert core.cancellations == 2
