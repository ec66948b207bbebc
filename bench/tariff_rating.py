"""Interval rating speed: ``rate_interval`` over a month of 15-minute intervals per meter.

Usage: python bench/tariff_rating.py [--tariff FILE] [--meters N] [--days D]
Prints a summary and, as its last line, JSON: {"benchmark": "tariff_rating", "intervals_per_s": ...}.
"""

from __future__ import annotations

import argparse
import json
import random
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

from openprepaid.wallet.tariff import rate_interval
from openprepaid.wallet.tariff_document import load_tariff

ROOT = Path(__file__).resolve().parents[1]
IST = timezone(timedelta(hours=5, minutes=30))
DEFAULT_TARIFF = ROOT / "examples" / "tariffs" / "demo-slab-tod-duty-rebate.yaml"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--tariff", type=Path, default=DEFAULT_TARIFF)
    parser.add_argument("--meters", type=int, default=100)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--repeat", type=int, default=3, help="runs; the fastest counts (the machine is shared)")
    args = parser.parse_args()
    spec = load_tariff(args.tariff)
    rng = random.Random(42)
    start = datetime(2024, 5, 1, tzinfo=IST)  # local wall-clock times in the utility zone
    ends = [start + timedelta(minutes=15 * (i + 1)) for i in range(96 * args.days)]
    # 0-400 Wh per 15 minutes (up to 1.6 kW average): about 300 kWh a month per meter
    meters = [[rng.randint(0, 400) for _ in ends] for _ in range(args.meters)]
    elapsed = float("inf")
    for _ in range(args.repeat):
        lines = 0
        began = time.perf_counter()
        for energies in meters:
            mtd = 0
            for end, wh in zip(ends, energies, strict=True):
                lines += len(rate_interval(spec, energy_wh=wh, interval_end_local=end, month_to_date_wh_before=mtd))
                mtd += wh
        elapsed = min(elapsed, time.perf_counter() - began)
    intervals = len(ends) * args.meters
    rate = intervals / elapsed
    print(
        f"tariff {spec.code}: {intervals} intervals ({args.meters} meters × {args.days} days × 96) "
        f"in {elapsed:.3f} s (fastest of {args.repeat}), {lines / intervals:.2f} lines/interval"
    )
    print(f"{rate:,.0f} intervals/s, {elapsed / intervals * 1e6:.2f} µs/interval")
    print(
        json.dumps(
            {
                "benchmark": "tariff_rating",
                "tariff": spec.code,
                "intervals": intervals,
                "seconds": round(elapsed, 4),
                "intervals_per_s": round(rate),
                "us_per_interval": round(elapsed / intervals * 1e6, 3),
                "lines_per_interval": round(lines / intervals, 3),
            }
        )
    )


if __name__ == "__main__":
    main()
