"""Scale of the simulator on the network: N virtual meters listening in one process, then read.

Usage: python bench/simulator_scale.py [--meters 10000] [--port 11000] [--history-days 7] [--sample 20]

Starts the fleet exactly as ``openprepaid simulate`` does (meter i on port P + i, TCP wrapper),
reports how long it took until every meter listened and the process's resident memory, then reads
a sample of meters spread over the fleet with our DLMS client (meter reader, LLS): the clock, the
energy register and a day of block load profile by range; one more through utility settings
(HLS-GMAC). Target: 10,000 meters, ready within 30 s, RSS at most 1 GB. The last line is JSON:
{"benchmark": "simulator_scale", "meters": .., "start_s": .., "rss_mb": .., "catch_up_s": ..,
 "rss_lived_mb": .., "sample": .., "read_ms_p50": .., "read_ms_max": ..}. Meters live their history
lazily (when first served, or when the background clock reaches them): ``catch_up_s`` and
``rss_lived_mb`` are measured after making every meter live it at once.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from openprepaid.cosem.association_events import Authentication, ClientSettings
from openprepaid.cosem.date_time import CosemDateTime
from openprepaid.cosem.obis import OBIS
from openprepaid.cosem.security import AUTHENTICATED_ENCRYPTED
from openprepaid.cosem.xdlms_common import CosemAttributeDescriptor
from openprepaid.cosem.xdlms_selective import RangeDescriptor
from openprepaid.simulator.meter_security import TEST_KEYS
from openprepaid.simulator.runner import SimulationConfig, start_simulation
from openprepaid.transport.dlms_client import DlmsClient, Endpoint

CLOCK = CosemAttributeDescriptor(8, OBIS.parse("0.0.1.0.0.255"), 2)
ENERGY = CosemAttributeDescriptor(3, OBIS.parse("1.0.1.8.0.255"), 2)
BLOCK_LOAD = CosemAttributeDescriptor(7, OBIS.parse("1.0.99.1.0.255"), 2)
READER = ClientSettings(authentication=Authentication.LOW, password=b"12345678")
UTILITY = ClientSettings(
    authentication=Authentication.HLS_GMAC, system_title=b"OPBENCH1", keys=TEST_KEYS, protection=AUTHENTICATED_ENCRYPTED
)


def rss_mb() -> float:
    """Current resident set size of this process (Linux /proc), in MB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


async def read_meter(port: int, settings: ClientSettings, sap: int, now: datetime) -> tuple[float, int]:
    began = time.perf_counter()
    access = RangeDescriptor(
        CosemDateTime.from_datetime(now - timedelta(days=1)), CosemDateTime.from_datetime(now)
    ).to_access()
    async with await DlmsClient.connect(Endpoint("127.0.0.1", port, client_sap=sap), settings) as client:
        await client.get_value(CLOCK)
        energy = await client.get_value(ENERGY)
        rows = await client.get_value(BLOCK_LOAD, access)
    if not (isinstance(energy, int) and energy > 0 and len(rows) >= 95):
        raise RuntimeError(f"meter on port {port} answered badly: energy {energy!r}, {len(rows)} rows")
    return (time.perf_counter() - began) * 1000, len(rows)


async def main(args: argparse.Namespace) -> dict[str, object]:
    now = datetime.now(UTC)
    baseline = rss_mb()
    began = time.perf_counter()
    simulation = await start_simulation(
        SimulationConfig(meters=args.meters, start=now, port=args.port, history_days=args.history_days)
    )
    start_s = time.perf_counter() - began
    ready_rss = rss_mb()
    print(simulation.ready_line())
    print(f"listening after {start_s:.1f} s; RSS {ready_rss:.0f} MB (baseline {baseline:.0f} MB)")
    try:
        step = max(1, args.meters // args.sample)
        indices = list(range(0, args.meters, step))[: args.sample]
        timings = []
        for index in indices:
            elapsed_ms, _rows = await read_meter(args.port + index, READER, 32, now)
            timings.append(elapsed_ms)
        hls_ms, _ = await read_meter(args.port + args.meters - 1, UTILITY, 48, now)
        print(
            f"read {len(indices)} meters (clock, energy, 1 day of block load): "
            f"p50 {statistics.median(timings):.0f} ms, max {max(timings):.0f} ms; HLS-GMAC {hls_ms:.0f} ms"
        )
        # Meters live their history lazily (first request, or the background keep_time); live it all now
        # to show the memory of a fleet that has caught up.
        caught = time.perf_counter()
        simulation.fleet.advance(simulation.server.now_s())
        catch_up_s = time.perf_counter() - caught
        lived_rss = rss_mb()
        print(f"every meter lived its {args.history_days} days in {catch_up_s:.1f} s; RSS {lived_rss:.0f} MB")
    finally:
        await simulation.close()
    return {
        "benchmark": "simulator_scale",
        "meters": args.meters,
        "start_s": round(start_s, 2),
        "rss_mb": round(ready_rss, 1),
        "catch_up_s": round(catch_up_s, 1),
        "rss_lived_mb": round(lived_rss, 1),
        "sample": len(indices),
        "read_ms_p50": round(statistics.median(timings), 1),
        "read_ms_max": round(max(timings), 1),
    }


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--meters", type=int, default=10_000)
    parser.add_argument("--port", type=int, default=11_000, help="first port (P .. P + N - 1 must be free)")
    parser.add_argument("--history-days", type=int, default=7)
    parser.add_argument("--sample", type=int, default=20)
    print(json.dumps(asyncio.run(main(parser.parse_args()))))
