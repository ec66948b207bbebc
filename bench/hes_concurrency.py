"""Head-end concurrency: thousands of meter associations held open at once over slow (cellular) links.

Usage: python bench/hes_concurrency.py [--sessions 10000] [--rtt-ms 500] [--association 48] [--port 11000]

The meters run in separate simulator processes (``openprepaid simulate --latency-ms RTT``, each
reply after the emulated round trip; several processes of at most ``--per-process`` meters, since
each meter is a listening socket plus a connection and the open-files limit is per process). This
process is the head-end: through the real session layer it opens one association per meter
(HLS-GMAC client 48 by default: credentials from the key vault, invocation counters reserved in the
database), and keeps them all open until every one has associated and read the meter's clock once
over it; then releases them. Target: 10,000 held, resident memory of this process <= 150 MB. Last
line is JSON: {"sessions": .., "ok_pct": .., "rss_mb": .., "held_at_once": .., "seconds": ..}
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.sim_process import (  # noqa: E402
    current_rss_mb,
    peak_rss_mb,
    raise_file_limit,
    register_in_child,
    start_fleet,
    stop_fleets,
)

from openprepaid.hes.clock import SystemClock  # noqa: E402
from openprepaid.hes.credentials import CredentialStore  # noqa: E402
from openprepaid.hes.dlms_session import DlmsSessionFactory, VaultCredentials  # noqa: E402
from openprepaid.hes.group_commit import GroupCommitDatabase  # noqa: E402
from openprepaid.hes.invocation_counters import InvocationCounterStore  # noqa: E402
from openprepaid.hes.session import Association  # noqa: E402
from openprepaid.hes.targets import TargetDirectory  # noqa: E402
from openprepaid.keyvault import KeyVault  # noqa: E402
from openprepaid.store.engine import make_engine, make_session_factory  # noqa: E402

ZONE = ZoneInfo("Asia/Kolkata")
HES_SYSTEM_TITLE = b"OPHES001"


class Hold:
    """Counts of the run, and the event every held session waits for."""

    def __init__(self, total: int) -> None:
        self.total = total
        self.settled = 0  # associated and read, or failed
        self.held = 0
        self.peak_held = 0
        self.ok = 0
        self.rss_held_mb = 0.0
        self.failures: dict[str, int] = {}
        self.all_settled = asyncio.Event()

    def settle(self) -> None:
        self.settled += 1
        if self.settled >= self.total:
            self.all_settled.set()


async def hold_all(args: argparse.Namespace, sessions, vault: KeyVault, ids: list[int]) -> Hold:  # type: ignore[no-untyped-def]
    clock = SystemClock()
    db = GroupCommitDatabase(sessions, offload=False)
    factory = DlmsSessionFactory(
        VaultCredentials(CredentialStore(db, vault), client_system_title=HES_SYSTEM_TITLE),
        InvocationCounterStore(db, clock),
        zone=ZONE,
        connect_timeout_s=args.timeout_s,
        response_timeout_s=args.timeout_s,
    )
    targets = await TargetDirectory(db, max_cached=len(ids)).get_many(ids)
    association = Association(args.association)
    state = Hold(len(ids))
    gate = asyncio.Semaphore(args.connect_burst)  # associations being opened at once; held ones do not count

    async def one(meter_id: int) -> None:
        try:
            async with gate:
                opened = factory.open(targets[meter_id], association)
                session = await opened.__aenter__()
            try:
                state.held += 1
                state.peak_held = max(state.peak_held, state.held)
                await session.read_clock()
                state.ok += 1
                state.settle()
                await state.all_settled.wait()  # held until every other session is open (or failed)
            finally:
                state.held -= 1
                async with gate:  # releases bounded like the opening (no 10,000 RLRQs in one instant)
                    await opened.__aexit__(None, None, None)
        except Exception as exc:  # one meter's failure is counted, the benchmark goes on
            state.failures[type(exc).__name__] = state.failures.get(type(exc).__name__, 0) + 1
            if not state.all_settled.is_set():
                state.settle()

    async def watch() -> None:
        while not state.all_settled.is_set():
            await asyncio.sleep(2)
            if args.gc:
                gc.collect()
            state.rss_held_mb = max(state.rss_held_mb, current_rss_mb())
            print(f"# held {state.held}, ok {state.ok}, rss {current_rss_mb():.0f} MB", file=sys.stderr)
        state.rss_held_mb = max(state.rss_held_mb, current_rss_mb())

    watcher = asyncio.create_task(watch())
    await asyncio.gather(*(one(meter_id) for meter_id in ids))
    await watcher
    if state.failures:
        print(f"# failures: {state.failures}", file=sys.stderr)
    return state


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=10_000)
    parser.add_argument("--rtt-ms", type=int, default=500, help="emulated round trip of every request")
    parser.add_argument("--association", type=int, choices=[32, 48], default=48)
    parser.add_argument("--port", type=int, default=11_000, help="meter i listens on PORT + i")
    parser.add_argument("--per-process", type=int, default=5_000, help="meters per simulator process")
    parser.add_argument("--connect-burst", type=int, default=500, help="associations being opened at once")
    parser.add_argument("--timeout-s", type=float, default=120.0, help="connect and response timeout")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--gc", action="store_true", help="collect garbage cycles every 2 s while holding")
    args = parser.parse_args()
    limit = raise_file_limit(args.sessions + 1_024)
    with tempfile.TemporaryDirectory(prefix="hes-concurrency-") as tmp:
        data_dir = Path(tmp)
        url = f"sqlite:///{data_dir / 'hes.sqlite3'}"
        key = os.urandom(32)
        fleets = []
        ids: list[int] = []
        engine = None
        try:
            for first in range(0, args.sessions, args.per_process):
                count = min(args.per_process, args.sessions - first)
                port, seed = args.port + first, args.seed + first
                # Each process numbers its meters from 1: the registry tells them apart by another
                # manufacturer code (the sessions here never check the meter's serial).
                ids += register_in_child(url, key, count, port, seed, code="OP" + chr(ord("S") + len(fleets)))
                latency = ["--latency-ms", f"{args.rtt_ms}-{args.rtt_ms}"]
                fleets.append(start_fleet(count, port, seed, data_dir / f"sim{first}", latency))
            engine = make_engine(url)
            began = time.perf_counter()
            state = asyncio.run(hold_all(args, make_session_factory(engine), KeyVault(key), ids))
            seconds = time.perf_counter() - began
        finally:
            stop_fleets(fleets)
            if engine is not None:
                engine.dispose()
    figures = {
        "sessions": args.sessions,
        "ok_pct": round(100 * state.ok / args.sessions, 2),
        "rss_mb": round(max(peak_rss_mb(), state.rss_held_mb), 1),
        "held_at_once": state.peak_held,
        "seconds": round(seconds, 1),
    }
    print(f"# rtt {args.rtt_ms} ms, association {args.association}, open files {limit}", file=sys.stderr)
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
