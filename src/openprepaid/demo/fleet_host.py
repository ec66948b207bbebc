"""The demo's simulated fleet, in this process, on the demo's clock (meter i on TCP port P + i)."""

from __future__ import annotations

import asyncio
import contextlib
import sys
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from openprepaid.demo.clock import DemoTime
from openprepaid.demo.township import PROTECTED_CATEGORY, MeterSpec
from openprepaid.simulator.clock import FleetClock
from openprepaid.simulator.errors import SimulatorError
from openprepaid.simulator.fleet import Fleet
from openprepaid.simulator.meter_security import MANUFACTURER_CODE, system_title_for
from openprepaid.simulator.network import FleetServer
from openprepaid.simulator.runner import SimulationConfig, build_fleet, ensure_file_limit

DISCONNECT_CONTROL = "0.0.96.3.10.255"
DEFAULT_LOAD_W = {"domestic": 3_000, "commercial": 10_000, "industrial": 50_000}


@dataclass
class DemoFleet:
    fleet: Fleet
    server: FleetServer
    first_port: int

    def specs(self) -> list[MeterSpec]:
        """How the township registers each meter; the last one serves the protected consumer."""
        specs = []
        for index, meter in enumerate(self.fleet.meters):
            category = str(meter.params.category)
            if index == len(self.fleet.meters) - 1:
                category = PROTECTED_CATEGORY
            limiter = meter.limiter.threshold_normal_w if meter.limiter is not None else 0
            specs.append(
                MeterSpec(
                    serial=meter.serial,
                    manufacturer_code=MANUFACTURER_CODE,
                    system_title=system_title_for(meter.serial),
                    category=category,
                    phases=meter.meter_type.phases,
                    has_relay=meter.meter_type.has_relay,
                    connection=str(meter.meter_type.connection),
                    capture_period_s=meter.meter_type.capture_period_s,
                    sanctioned_load_w=limiter or DEFAULT_LOAD_W.get(category, 3_000),
                    port=self.first_port + index,
                )
            )
        return specs

    async def close(self) -> None:
        await self.server.close()


def build_demo_fleet(*, meters: int, seed: int, start: datetime, first_port: int) -> DemoFleet:
    """The fleet without its network: what the parent needs to register meters and write the story."""
    config = SimulationConfig(meters=meters, start=start, port=first_port, seed=seed, history_days=2)
    fleet = build_fleet(config)
    return DemoFleet(fleet=fleet, server=FleetServer(fleet, FleetClock(start)), first_port=first_port)


async def start_fleet(*, meters: int, seed: int, start: datetime, first_port: int, demo_time: DemoTime) -> DemoFleet:
    ensure_file_limit(meters + 256)
    config = SimulationConfig(meters=meters, start=start, port=first_port, seed=seed, history_days=2)
    fleet = build_fleet(config)
    # Anchored at the demo's present: on a resumed run that is where the last run stopped.
    clock = FleetClock(demo_time.now(), speed=1.0, monotonic=demo_time.elapsed_s)
    server = FleetServer(fleet, clock, seed=seed)
    await server.listen("127.0.0.1", first_port)
    return DemoFleet(fleet=fleet, server=server, first_port=first_port)


def relay_action(method: int) -> Callable[[object, int], None]:
    """A relay operation to replay on a simulated meter (1 disconnect, 2 reconnect) when it lives past it."""

    def act(meter: object, _at: int) -> None:
        with contextlib.suppress(Exception):  # a replayed relay state that the meter refuses changes nothing
            meter.action(70, DISCONNECT_CONTROL, method, None)  # type: ignore[attr-defined]

    return act


class FleetProcess:
    """The fleet in a child process (``demo.fleet_process``), driven over its stdin/stdout."""

    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self._process = process

    @classmethod
    async def start(cls, *, meters: int, seed: int, start: datetime, now: datetime, first_port: int) -> FleetProcess:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "openprepaid.demo.fleet_process",
            "--meters",
            str(meters),
            "--seed",
            str(seed),
            "--start",
            start.isoformat(),
            "--now",
            now.isoformat(),
            "--port",
            str(first_port),
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        child = cls(process)
        first = await child._line(timeout_s=120)
        if first != "ready":
            error = (await process.stderr.read()).decode(errors="replace")[-2000:] if process.stderr else ""
            await child.close()
            raise SimulatorError(f"the simulated fleet did not start: {first or 'no answer'} {error}".strip())
        return child

    async def _line(self, timeout_s: float = 60) -> str:
        assert self._process.stdout is not None
        async with asyncio.timeout(timeout_s):
            return (await self._process.stdout.readline()).decode().strip()

    async def _send(self, message: str) -> None:
        assert self._process.stdin is not None
        self._process.stdin.write(message.encode() + b"\n")
        await self._process.stdin.drain()
        answer = await self._line()
        if answer != "ok":
            raise SimulatorError(f"the simulated fleet answered {answer!r} to {message!r}")

    async def advance(self, at: datetime) -> None:
        await self._send(f"time {at.isoformat()}")

    async def replay_relay(self, index: int, method: int, at: datetime) -> None:
        await self._send(f"relay {index} {method} {at.isoformat()}")

    async def close(self) -> None:
        if self._process.returncode is None:
            if self._process.stdin is not None:
                self._process.stdin.close()
            try:
                async with asyncio.timeout(10):
                    await self._process.wait()
            except TimeoutError:
                self._process.kill()
                await self._process.wait()
