"""Wiring of a running simulated fleet: meters, clock, listeners or diallers, pushes, control API.

``start_simulation(config)`` builds everything, puts the meters on the network and returns a
``Simulation`` whose ``ready_line()`` is what ``openprepaid simulate`` prints; ``close()`` stops it.

Start-up is kept short for large fleets: the meters are created born ``history_days`` before now
but not yet lived (``Fleet`` with no history, started that many days ago); each meter lives its
history the first time it is served, or when the background ``keep_time`` reaches it. Pushes that
history produces are not sent (``PushSender.started_true_s``).
"""

from __future__ import annotations

import asyncio
import contextlib
import resource
from dataclasses import dataclass, field
from datetime import datetime

from openprepaid.simulator.clock import FleetClock, to_epoch_s
from openprepaid.simulator.control_api import ControlApi
from openprepaid.simulator.dial_in import DialIn
from openprepaid.simulator.errors import ConfigurationError
from openprepaid.simulator.faults import NetworkFaults
from openprepaid.simulator.fleet import Fleet, FleetConfig
from openprepaid.simulator.load_model import DAY_S
from openprepaid.simulator.network import CredentialBook, FleetServer, Framing
from openprepaid.simulator.push_sender import PushSender

FILES_PER_METER = 1
SPARE_FILES = 256


@dataclass(frozen=True, slots=True)
class SimulationConfig:
    meters: int
    start: datetime  # simulated "now" when the fleet starts (the composition root reads the wall clock)
    host: str = "127.0.0.1"
    port: int = 4059
    framing: Framing = "wrapper"
    speed: float = 1.0
    seed: int = 1
    history_days: int = 7
    latency_ms: tuple[float, float] = (0.0, 0.0)
    drop_rate: float = 0.0
    outages_per_day: float = 0.0
    dial_in: tuple[str, int] | None = None
    push_to: str | None = None
    push_ciphering: bool = False
    control_port: int | None = None
    credentials: CredentialBook = field(default_factory=CredentialBook)

    def __post_init__(self) -> None:
        if self.meters < 1:
            raise ConfigurationError("a fleet needs at least one meter")
        if self.dial_in is None and not 0 < self.port <= 65536 - self.meters:
            raise ConfigurationError(f"ports {self.port}..{self.port + self.meters - 1} are not all valid TCP ports")
        if self.start.tzinfo is None:
            raise ConfigurationError("the start time must be aware")


@dataclass(slots=True)
class Simulation:
    config: SimulationConfig
    fleet: Fleet
    clock: FleetClock
    server: FleetServer
    pushes: PushSender
    control: ControlApi
    dial_in: DialIn | None = None
    control_port: int | None = None
    tasks: list[asyncio.Task[None]] = field(default_factory=list)

    def ready_line(self) -> str:
        config = self.config
        if config.dial_in is not None:
            host, port = config.dial_in
            return f"ready: {config.meters} meters dialling {host}:{port}"
        return f"ready: {config.meters} meters on {config.host}:{config.port}-{config.port + config.meters - 1}"

    async def close(self) -> None:
        for task in self.tasks:
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)
        await self.control.close()
        await self.server.close()


def ensure_file_limit(needed: int) -> None:
    """Raise the soft open-files limit towards ``needed`` (within the hard limit) or refuse early."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY or soft >= needed:
        return
    target = needed if hard == resource.RLIM_INFINITY else min(needed, hard)
    with contextlib.suppress(ValueError, OSError):
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < needed:
        raise ConfigurationError(f"{needed} open files are needed, the limit is {soft} (raise `ulimit -n`)")


def build_fleet(config: SimulationConfig) -> Fleet:
    start_s = to_epoch_s(config.start)
    low, high = config.latency_ms
    fleet_config = FleetConfig(
        size=config.meters,
        seed=config.seed,
        history_days=0,
        outages_per_day=config.outages_per_day,
        push_destination=config.push_to or "",
        network=NetworkFaults(latency_s=(low / 1000, high / 1000), drop_rate=config.drop_rate),
    )
    # Born history_days ago but not lived yet: each meter catches up when it is first served.
    return Fleet(fleet_config, start_s - config.history_days * DAY_S)


async def start_simulation(config: SimulationConfig) -> Simulation:
    """Build and start the fleet (listening or dialling); returns once every meter is on the network."""
    ensure_file_limit(config.meters * FILES_PER_METER + SPARE_FILES)
    fleet = build_fleet(config)
    clock = FleetClock(config.start, speed=config.speed)
    server = FleetServer(fleet, clock, framing=config.framing, credentials=config.credentials, seed=config.seed)
    pushes = PushSender(server, started_true_s=to_epoch_s(config.start), cipher=config.push_ciphering)
    dial_in = None
    if config.dial_in is not None:
        host, port = config.dial_in
        dial_in = DialIn(server, host, port, seed=config.seed, cipher=config.push_ciphering)
    control = ControlApi(server, pushes=pushes, dial_in=dial_in)
    simulation = Simulation(config, fleet, clock, server, pushes, control, dial_in)
    try:
        if dial_in is None:
            await server.listen(config.host, config.port)
        else:
            simulation.tasks.append(asyncio.create_task(dial_in.run()))
        simulation.tasks.append(asyncio.create_task(pushes.run()))
        simulation.tasks.append(asyncio.create_task(server.keep_time()))
        if config.control_port is not None:
            simulation.control_port = await control.start("127.0.0.1", config.control_port)
    except BaseException:
        await simulation.close()
        raise
    return simulation
