"""Head-end throughput: one daily collection per meter of a simulated fleet in another process.

Usage: python bench/hes_fleet.py [--meters 10000] [--concurrency 256] [--port 11000] [--database URL]

The fleet runs as ``openprepaid simulate --meters N --port P --history-days 1`` in a separate
process (meter i on port P + i, TCP wrapper). This process is the head-end: the registry (SQLite
file by default) holds the N meters with sealed TEST credentials; each meter gets one session
through the real session layer and collector: HLS-GMAC association 48 (AES-GCM on every APDU),
block load by range for one day, daily profile, the seven event logs, release; rows stored by
natural key (group commit: many sessions' units of work per transaction) and published on the
in-process bus. Targets: >= 333 meters/s, 100 % complete. Last line is JSON:
{"meters": .., "seconds": .., "meters_per_s": .., "complete_pct": .., "p99_session_ms": .., "rss_mb": ..,
 "hes_cpu_ms_per_meter": .., "sim_cpu_ms_per_meter": .., "load_avg_1m": ..}
``rss_mb`` is the peak resident memory of this (head-end) process; the CPU figures are each process's
user + system time during the collection divided by the meters (on a shared machine they say more
than the wall-clock rate, which depends on the other jobs: see the load average).
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import json
import os
import pstats
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.sim_process import (  # noqa: E402
    peak_rss_mb,
    process_cpu_s,
    raise_file_limit,
    register_in_child,
    start_fleet,
    stop_fleets,
)

from openprepaid.bus.in_process import InProcessBus  # noqa: E402
from openprepaid.hes.clock import SystemClock  # noqa: E402
from openprepaid.hes.collection_policy import CollectionJob  # noqa: E402
from openprepaid.hes.collector import Collector  # noqa: E402
from openprepaid.hes.credentials import CredentialStore  # noqa: E402
from openprepaid.hes.database import Database  # noqa: E402
from openprepaid.hes.dlms_session import DlmsSessionFactory, VaultCredentials  # noqa: E402
from openprepaid.hes.group_commit import GroupCommitDatabase  # noqa: E402
from openprepaid.hes.invocation_counters import InvocationCounterStore  # noqa: E402
from openprepaid.hes.session import Association, MeterTarget  # noqa: E402
from openprepaid.hes.targets import TargetDirectory  # noqa: E402
from openprepaid.keyvault import KeyVault  # noqa: E402
from openprepaid.store.engine import make_engine, make_session_factory  # noqa: E402

ZONE = ZoneInfo("Asia/Kolkata")
HES_SYSTEM_TITLE = b"OPHES001"
JOBS = (CollectionJob.BLOCK_LOAD, CollectionJob.DAILY, CollectionJob.EVENTS)


def expected_blocks(target: MeterTarget) -> int:
    return 86_400 // target.capture_period_s - 1  # a day's intervals, allowing the one still open


async def collect_all(args: argparse.Namespace, sessions, vault: KeyVault, ids: list[int]) -> dict[str, float]:  # type: ignore[no-untyped-def]
    clock = SystemClock()
    db: Database = (
        GroupCommitDatabase(sessions, offload=args.offload, max_batch=args.batch)
        if args.batch > 1
        else Database(sessions, offload=args.offload)
    )
    bus = InProcessBus()
    factory = DlmsSessionFactory(
        VaultCredentials(CredentialStore(db, vault), client_system_title=HES_SYSTEM_TITLE),
        InvocationCounterStore(db, clock),
        zone=ZONE,
        connect_timeout_s=30,
        response_timeout_s=30,
    )
    collector = Collector(db, bus, clock, max_backfill=timedelta(days=1))
    targets = await TargetDirectory(db).get_many(ids)
    durations: list[float] = []
    complete = 0
    failures: dict[str, int] = {}
    pending = iter(ids)

    async def worker() -> None:
        nonlocal complete
        for meter_id in pending:
            target = targets[meter_id]
            began = time.perf_counter()
            try:
                async with factory.open(target, Association.UTILITY_SETTINGS) as session:
                    report = await collector.collect(session, target, JOBS)
            except Exception as exc:  # one meter's failure is counted, the benchmark goes on
                failures[type(exc).__name__] = failures.get(type(exc).__name__, 0) + 1
                continue
            finally:
                durations.append(time.perf_counter() - began)
            if set(report.completed) == set(JOBS) and report.stored.get("block_load", 0) >= expected_blocks(target):
                complete += 1
            else:
                key = ",".join(sorted(report.failed)) or "short_block_load"
                failures[key] = failures.get(key, 0) + 1

    began = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(args.concurrency)))
    seconds = time.perf_counter() - began
    await bus.close()
    durations.sort()
    if failures:
        print(f"# incomplete: {failures}", file=sys.stderr)
    if isinstance(db, GroupCommitDatabase):
        print(f"# group commit: {db.stats}", file=sys.stderr)
    return {
        "seconds": round(seconds, 2),
        "complete": complete,
        "p99_session_ms": round(1000 * durations[min(len(durations) - 1, int(0.99 * len(durations)))], 1),
        "p50_session_ms": round(1000 * durations[len(durations) // 2], 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--meters", type=int, default=10_000)
    parser.add_argument("--concurrency", type=int, default=256, help="sessions in flight at once")
    parser.add_argument("--port", type=int, default=11_000, help="meter i listens on PORT + i")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--database", default=None, help="SQLAlchemy URL (default: a fresh SQLite file)")
    parser.add_argument(
        "--batch", type=int, default=64, help="group commit batch (the head-end default; 1: a transaction per unit)"
    )
    parser.add_argument("--offload", action="store_true", help="run database work in a thread")
    parser.add_argument("--profile", type=Path, default=None, help="write cProfile stats of the head-end here")
    args = parser.parse_args()
    limit = raise_file_limit(args.concurrency * 2 + 512)
    with tempfile.TemporaryDirectory(prefix="hes-fleet-") as tmp:
        data_dir = Path(tmp)
        url = args.database or f"sqlite:///{data_dir / 'hes.sqlite3'}"
        key = os.urandom(32)
        ids = register_in_child(url, key, args.meters, args.port, args.seed)
        engine = make_engine(url)
        sessions = make_session_factory(engine)
        vault = KeyVault(key)
        fleet = start_fleet(args.meters, args.port, args.seed, data_dir, [])
        try:
            profiler = cProfile.Profile() if args.profile else None
            if profiler:
                profiler.enable()
            hes_cpu, sim_cpu = process_cpu_s(), process_cpu_s(fleet.pid)
            result = asyncio.run(collect_all(args, sessions, vault, ids))
            hes_cpu, sim_cpu = process_cpu_s() - hes_cpu, process_cpu_s(fleet.pid) - sim_cpu
            if profiler:
                profiler.disable()
                pstats.Stats(profiler).dump_stats(args.profile)
        finally:
            stop_fleets([fleet])
            engine.dispose()
    figures = {
        "meters": args.meters,
        "seconds": result["seconds"],
        "meters_per_s": round(args.meters / result["seconds"], 1),
        "complete_pct": round(100 * result["complete"] / args.meters, 2),
        "p99_session_ms": result["p99_session_ms"],
        "rss_mb": round(peak_rss_mb(), 1),
        "hes_cpu_ms_per_meter": round(1000 * hes_cpu / args.meters, 2),
        "sim_cpu_ms_per_meter": round(1000 * sim_cpu / args.meters, 2),
        "load_avg_1m": round(os.getloadavg()[0], 2),
    }
    print(
        f"# concurrency {args.concurrency}, batch {args.batch}, offload {args.offload}, open files {limit}, "
        f"p50 session {result['p50_session_ms']} ms",
        file=sys.stderr,
    )
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
