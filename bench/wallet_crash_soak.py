"""Crash soak for the wallet: many crash-harness trials (``tests/wallet/crash_harness.py``).

    python bench/wallet_crash_soak.py --runs 200 [--backend sqlite|postgres] [--kills 1-3] [--seed 1000]

Each run: fresh databases, a seeded workload (interval batches with re-deliveries and undelivered
intervals, the midnight registers and the daily true-up — after the whole day or after its first half, the
rest arriving late and covered — recharges with retries, reversals, daily fixed charges), the worker
SIGKILLed 1-3 times at random moments, the database checked after every kill (ledger balanced, balances
equal their postings, no interval or day billed twice, month-to-date units = intervals + true-ups), then
run to completion and compared with an uninterrupted reference run. Last line: JSON with the counts.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.conftest import PG_ADMIN_URL, create_postgres_database, drop_postgres_database  # noqa: E402
from tests.wallet.crash_harness import crash_trial  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--backend", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--kills", default="1-3", help="kills per run, e.g. 2 or 1-3")
    parser.add_argument("--seed", type=int, default=1000)
    parser.add_argument("--accounts", type=int, default=5)
    parser.add_argument("--days", type=int, default=2)
    args = parser.parse_args()
    low, _, high = args.kills.partition("-")
    rng = random.Random(args.seed)
    totals = {"runs": 0, "ok": 0, "failed": 0, "kills": 0, "killed_while_working": 0, "checks_after_kill": 0}
    failures: list[dict[str, object]] = []
    started = time.monotonic()
    for run in range(args.runs):
        seed = args.seed + run
        kills = rng.randint(int(low), int(high or low))
        with tempfile.TemporaryDirectory() as tmp:
            work = Path(tmp)
            if args.backend == "sqlite":
                result = crash_trial(
                    f"sqlite:///{work}/crashed.sqlite3",
                    f"sqlite:///{work}/reference.sqlite3",
                    work,
                    seed=seed,
                    kills=kills,
                    accounts=args.accounts,
                    days=args.days,
                )
            else:
                crashed, admin = create_postgres_database(PG_ADMIN_URL)
                reference, admin_reference = create_postgres_database(PG_ADMIN_URL)
                try:
                    result = crash_trial(
                        crashed, reference, work, seed=seed, kills=kills, accounts=args.accounts, days=args.days
                    )
                finally:
                    drop_postgres_database(admin, crashed)
                    drop_postgres_database(admin_reference, reference)
        totals["runs"] += 1
        totals["kills"] += result.kills
        totals["killed_while_working"] += result.killed_while_working
        totals["checks_after_kill"] += result.checks_after_kill
        if result.ok:
            totals["ok"] += 1
        else:
            totals["failed"] += 1
            failures.append({"seed": seed, "problems": result.problems})
            print(f"run {run} seed {seed}: FAILED {result.problems}", flush=True)
        if (run + 1) % 10 == 0:
            print(
                f"{run + 1}/{args.runs} runs, {totals['failed']} failed, {time.monotonic() - started:.0f} s", flush=True
            )
    summary = {**totals, "backend": args.backend, "seconds": round(time.monotonic() - started), "failures": failures}
    print(json.dumps(summary))
    if failures:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
