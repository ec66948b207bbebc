"""A plausible past for a meter born into the fleet: billing entries and counters before its first day.

A new virtual meter starts with a register reading (years of use) but no profiles. IS 15959
billing profiles hold the last months' snapshots (00:00 on the 1st), which a head-end reads on
its first contact; ``synthesize_billing_history`` fills them in from the meter's average load:
the import register is walked back at its mean daily energy, maximum demand is a typical evening
peak on a day of that month, power-on time is the month less a few outage hours. These entries
are estimates and are not backed by interval data (there is none before birth); everything the
meter lives after birth is exact. Deterministic in the meter's load key.
"""

from __future__ import annotations

import math
import random
from datetime import UTC, date, datetime
from functools import cache

from openprepaid.simulator.clock import to_datetime, to_epoch_s
from openprepaid.simulator.load_model import DAY_S, MODELS, SLOT_S, mix64
from openprepaid.simulator.virtual_meter import VirtualMeter


@cache
def _month_starts_back(born_lt: int, count: int) -> tuple[tuple[int, int], ...]:
    """(00:00 on the 1st as local seconds, minutes in the month before it), at or before ``born_lt``, newest first."""
    local = to_datetime(born_lt).date()
    first = date(local.year, local.month, 1)
    starts: list[tuple[int, int]] = []
    while len(starts) < count:
        start = to_epoch_s(datetime(first.year, first.month, 1, tzinfo=UTC))  # local time as epoch seconds
        starts.append((start, to_datetime(start - DAY_S).day * 1440))
        first = date(first.year - (first.month == 1), first.month - 1 or 12, 1)
    return tuple(starts)


def synthesize_billing_history(meter: VirtualMeter) -> None:
    """Give a freshly made meter (not yet advanced) its past billing entries and counters."""
    if meter.lived_lt != meter.born_lt or meter.billing:
        raise ValueError("billing history can only be given to a meter that has not lived yet")
    params = meter.params
    rng = random.Random(mix64(params.key, 0xB111))
    daily_wh = params.daily_wh
    install_days = max(1.0, meter.imp_wh / daily_wh)
    uptime = 0.985  # share of time with supply
    meter.powered_s = int(install_days * DAY_S * uptime)
    peak_w = daily_wh * max(MODELS[params.category].weekday) * (3600 / SLOT_S)
    entries = []
    for start, month_min in _month_starts_back(meter.born_lt, meter.meter_type.billing_entries):
        days_back = (meter.born_lt - start) / DAY_S
        if days_back > install_days:
            break
        imp = max(0, meter.imp_wh - round(daily_wh * days_back))
        vah = imp * 1000 // params.pf_milli
        md_w = int(peak_w * rng.uniform(1.3, 2.0))
        md_at = start - rng.randint(1, 27) * DAY_S - rng.randint(2, 6) * 3600  # an evening of the month before
        md_at -= md_at % meter.dip_s
        entries.append(
            (
                start,
                params.pf_milli - rng.randint(5, 25),
                imp,
                vah,
                md_w,
                md_at,
                md_w * 1000 // params.pf_milli,
                md_at,
                int(month_min * uptime),
                0,
                0,
                math.isqrt(vah * vah - imp * imp),
                0,
            )
        )
    entries.reverse()
    for entry in entries:
        meter.billing.extend(entry)
    meter.billing_count = len(entries)
    if entries:
        last = entries[-1]
        meter.last_billing_lt = last[0]
        meter.bill_wh0, meter.bill_vah0 = last[2], last[3]
        meter.bill_powered0 = meter.powered_s - int((meter.born_lt - last[0]) * uptime)
