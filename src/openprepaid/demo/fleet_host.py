"""The demo's simulated fleet, in this process, on the demo's clock (meter i on TCP port P + i)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from openprepaid.demo.clock import DemoTime
from openprepaid.demo.township import PROTECTED_CATEGORY, MeterSpec
from openprepaid.simulator.clock import FleetClock
from openprepaid.simulator.fleet import Fleet
from openprepaid.simulator.meter_security import MANUFACTURER_CODE, system_title_for
from openprepaid.simulator.network import FleetServer
from openprepaid.simulator.runner import SimulationConfig, build_fleet, ensure_file_limit

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


async def start_fleet(*, meters: int, seed: int, start: datetime, first_port: int, demo_time: DemoTime) -> DemoFleet:
    ensure_file_limit(meters + 256)
    config = SimulationConfig(meters=meters, start=start, port=first_port, seed=seed, history_days=2)
    fleet = build_fleet(config)
    clock = FleetClock(start, speed=1.0, monotonic=demo_time.elapsed_s)
    server = FleetServer(fleet, clock, seed=seed)
    await server.listen("127.0.0.1", first_port)
    return DemoFleet(fleet=fleet, server=server, first_port=first_port)
