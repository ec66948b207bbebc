"""Scale of the meter model: build a fleet with history, advance it a simulated day, read some meters.

Usage: python bench/simulator_model_scale.py [--meters N] [--history-days D] [--outages-per-day R]
Prints timings and memory and, as its last line, JSON:
{"benchmark": "simulator_model_scale", "meters": ..., "build_s": ..., "advance_day_s": ..., "rss_mb": ...}.
RSS is the peak resident set of this process (the model alone; no server, no sockets).
"""

from __future__ import annotations

import argparse
import gc
import json
import resource
import time
from datetime import datetime, timedelta, timezone

from openprepaid.simulator.clock import to_epoch_s
from openprepaid.simulator.fleet import Fleet, FleetConfig
from openprepaid.simulator.profile_buffer import EntrySelection

IST = timezone(timedelta(hours=5, minutes=30))


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--meters", type=int, default=10_000)
    parser.add_argument("--history-days", type=int, default=7)
    parser.add_argument("--outages-per-day", type=float, default=0.3)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    start = to_epoch_s(datetime(2025, 3, 12, 11, 30, tzinfo=IST))
    baseline = rss_mb()
    config = FleetConfig(
        size=args.meters, seed=args.seed, history_days=args.history_days, outages_per_day=args.outages_per_day
    )
    began, cpu = time.perf_counter(), time.process_time()
    fleet = Fleet(config, start)
    build_s, build_cpu_s = time.perf_counter() - began, time.process_time() - cpu
    gc.collect()
    built_rss = rss_mb()
    print(
        f"built {len(fleet)} meters with {args.history_days} days of history in {build_s:.1f} s "
        f"({build_cpu_s:.1f} s CPU); RSS {built_rss:.0f} MB (baseline {baseline:.0f} MB)"
    )

    began, cpu = time.perf_counter(), time.process_time()
    fleet.advance(start + 86_400)
    advance_s, advance_cpu_s = time.perf_counter() - began, time.process_time() - cpu
    pushes = len(fleet.drain_pushes())
    print(f"advanced one simulated day in {advance_s:.1f} s ({advance_cpu_s:.1f} s CPU); {pushes} pushes")

    sample = fleet.meters[:: max(1, len(fleet) // 100)]
    began = time.perf_counter()
    rows = 0
    for meter in sample:
        rows += len(meter.get(7, "1.0.99.1.0.255", 2, EntrySelection(1, 96)))  # type: ignore[arg-type]
        meter.get(7, "1.0.94.91.0.255", 2)
    read_ms = (time.perf_counter() - began) / len(sample) * 1000
    print(f"read a day of block load + instantaneous profile: {read_ms:.2f} ms per meter ({rows} rows)")
    final_rss = rss_mb()
    print(f"peak RSS {final_rss:.0f} MB, model about {(final_rss - baseline) * 1024 / max(1, len(fleet)):.1f} KB/meter")
    print(
        json.dumps(
            {
                "benchmark": "simulator_model_scale",
                "meters": len(fleet),
                "history_days": args.history_days,
                "build_s": round(build_s, 2),
                "build_cpu_s": round(build_cpu_s, 2),
                "advance_day_s": round(advance_s, 2),
                "advance_day_cpu_s": round(advance_cpu_s, 2),
                "read_day_block_ms": round(read_ms, 2),
                "rss_mb": round(final_rss, 1),
                "baseline_rss_mb": round(baseline, 1),
            }
        )
    )


if __name__ == "__main__":
    main()
