"""The demo township's story: opening balances, recharges over the days, and the faults it meets.

Most consumers start with a month of credit. A few start with one to three days' worth, so they
run out at different hours (some at night, some before a weekend), go through emergency credit and
are disconnected only when the calendar allows; half of them recharge later and must be reconnected
and verified. The protected consumer runs out too and is never disconnected. One meter goes
offline for a day (its data is charged late, once), one sees a magnet (tamper), one an outage.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from openprepaid.demo.wallet_step import PlannedRecharge
from openprepaid.simulator import faults
from openprepaid.simulator.clock import to_epoch_s
from openprepaid.simulator.fleet import Fleet

DAY = timedelta(days=1)
RUPEES_PER_KWH = 7  # a round figure to size opening balances, not a tariff
FIXED_RUPEES_PER_DAY = 8
LOW_BALANCE_DAYS = (0.6, 0.9, 1.2, 1.5, 1.8, 2.1, 2.4, 2.7)


@dataclass(frozen=True)
class Story:
    opening: list[PlannedRecharge]
    recharges: list[PlannedRecharge]
    low_balance_accounts: list[int]
    offline_meter_index: int | None
    tamper_meter_index: int | None
    outage_meter_index: int | None


def daily_spend_paise(fleet: Fleet, index: int) -> int:
    kwh = fleet.meter(index).params.daily_wh / 1000
    return int((kwh * RUPEES_PER_KWH + FIXED_RUPEES_PER_DAY) * 100)


def write_story(fleet: Fleet, account_ids: list[int], start: datetime) -> Story:
    """Balances and recharges for the accounts (in fleet order), and faults scheduled on the meters."""
    count = len(account_ids)
    protected = count - 1
    low = list(range(0, count - 1, max(1, count // 12)))[: max(1, count // 8)]
    opening, later = [], []
    for index, account_id in enumerate(account_ids):
        spend = daily_spend_paise(fleet, index)
        if index == protected:
            days = 0.5
        elif index in low:
            days = LOW_BALANCE_DAYS[low.index(index) % len(LOW_BALANCE_DAYS)]
        else:
            days = 30.0
        opening.append(
            PlannedRecharge(start, account_id, max(100, int(spend * days)), f"opening-{account_id}", "counter")
        )
        if index in low and low.index(index) % 2 == 0:
            # Recharges a day or so after the expected disconnection (run-out + 3 days of emergency credit).
            at = start + DAY * (days + 3 + 1.3)
            later.append(PlannedRecharge(at, account_id, spend * 20, f"topup-{account_id}", "upi"))
    free = [i for i in range(count - 1) if i not in low]
    offline, tamper, outage = [*free, None, None, None][:3]
    day_s = 86_400
    base = to_epoch_s(start)
    if offline is not None:
        fleet.faults.add_offline(offline, base + day_s + 6 * 3600, day_s)
    if tamper is not None:
        faults.magnet(fleet.meter(tamper), base + day_s // 2 + 3600 * 4, 1800)
    if outage is not None:
        faults.outage(fleet.meter(outage), base + 2 * day_s + 14 * 3600, 2 * 3600)
    return Story(opening, sorted(later, key=lambda r: r.at), [account_ids[i] for i in low], offline, tamper, outage)
