"""The charging hot path in memory: sort a batch's intervals into meter-day takes, holds and rating
groups, then rate the groups into one ledger transaction per (account, local day).

Rules (docs/ledger.md "Batch charging"):
- Every interval taken sets its bit in its meter-day's take (``DayTake``): billed, ``held``
  (negative, above ``max_load_factor`` × sanctioned load × interval, no tariff version in force, or
  nobody to charge) or ``covered`` (its local day was already trued up by the register). Intervals
  whose bit the store (or this batch) has already are duplicates: skipped.
- A meter's sorted run of ends is resolved once per batch and (zone, tariff) into a ``RunPlan``: when
  nothing in the run is exceptional (no duplicate, trued-up day, implausible energy or missing
  version) the meter costs a few slice sums per rating group, meter-day and local day; otherwise
  each interval is sorted on its own (the same rules, one at a time).
- Rating groups are (account, local day, tariff version, ToD zone); each group is rated with one
  ``rate_interval`` call on its summed energy, in day order, month-to-date units carried from one
  group to the next. Slab, catch-up and free-unit lines are differences of rounded month-to-date
  amounts, so summing intervals first changes nothing there; ToD lines and percentages on them are
  rounded once per group instead of once per interval (nearer the month bill, which the monthly
  settlement reconciles exactly).
- Each group's energy is added to ``usage_month`` (account, month, version, zone) and
  ``usage_day_zone`` (account, local day, version, zone): month-to-date units, the month bill's
  per-version zone energies and the true-up's zone split.
- The lines of an (account, local day) are summed per component into one ledger transaction, key
  ``interval:<batch>:<account>:<local day>``; its ``effective_at`` is the day's last interval end.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from openprepaid.store.model import HoldSource, HoldState
from openprepaid.store.repository.charge_day import DayMasks, DayTake, day_and_bit
from openprepaid.wallet.charge_context import IMPLAUSIBLE, NEGATIVE, NO_VERSION, ChargeableAccount, RunPlan
from openprepaid.wallet.charge_lines import charge_entry
from openprepaid.wallet.ledger import LedgerEntry, LedgerTransactionKind
from openprepaid.wallet.tariff import rate_interval

Interval = tuple[datetime, int]  # (interval end, aware; import Wh)
_NO_MASKS = DayMasks(0, 0, 0)


@dataclass(slots=True)
class Collected:
    """What a batch's intervals turned into, before any money is computed."""

    batch_id: int
    now: datetime
    stored: Mapping[tuple[int, date], DayMasks] = field(default_factory=dict)  # meter-days as read from the store
    trued_up: Mapping[int, Mapping[date, bool]] = field(default_factory=dict)  # meter -> local day -> trued up
    days: dict[tuple[int, date], DayTake] = field(default_factory=dict)  # (meter, UTC day) -> this batch's take
    holds: list[dict[str, Any]] = field(default_factory=list)
    # account id -> rating group number (``Slot.group``) -> summed Wh
    groups: dict[int, dict[int, int]] = field(default_factory=dict)
    accounts: dict[int, ChargeableAccount] = field(default_factory=dict)
    # (meter, local day, account) -> [intervals taken, billed Wh, last interval end]
    usage: dict[tuple[int, date, int], list[Any]] = field(default_factory=dict)
    charged: int = 0
    duplicates: int = 0
    held: int = 0
    covered: int = 0
    unmapped: int = 0

    def hold(
        self,
        meter_id: int,
        end_at: datetime,
        *,
        account_id: int | None,
        wh: int,
        reason: str,
        limit_wh: int | None = None,
    ) -> None:
        self.holds.append(
            {
                "meter_id": meter_id,
                "source": HoldSource.BLOCK,
                "period_end_at": end_at,
                "account_id": account_id,
                "energy_wh": wh,
                "limit_wh": limit_wh,
                "reason": reason,
                "state": HoldState.OPEN,
                "created_at": self.now,
                "resolved_at": None,
                "resolved_by": "",
                "resolution_note": "",
            }
        )

    def _day(self, meter_id: int, utc_date: date) -> tuple[DayTake, int]:
        """This batch's take of the meter-day and every bit taken there before it (store and batch)."""
        key = (meter_id, utc_date)
        take = self.days.get(key)
        if take is None:
            take = self.days[key] = DayTake()
        return take, self.stored.get(key, _NO_MASKS).taken | take.taken

    def take(
        self,
        meter_id: int,
        ends: tuple[datetime, ...],
        whs: Sequence[int],
        *,
        target: ChargeableAccount,
        limit_wh: int,
    ) -> None:
        """Intervals of one meter (sorted, distinct ends) while it served one chargeable account: the hot path."""
        account_id = target.account.id
        self.accounts[account_id] = target
        plan = target.slots.plan(ends)
        trued_up = self.trued_up.get(meter_id)
        if self._plain(meter_id, plan, whs, limit_wh, trued_up):
            self._take_run(meter_id, account_id, plan, whs)
        else:
            self._take_each(meter_id, ends, whs, target=target, plan=plan, limit_wh=limit_wh, trued_up=trued_up)

    def _plain(
        self, meter_id: int, plan: RunPlan, whs: Sequence[int], limit_wh: int, trued_up: Mapping[date, bool] | None
    ) -> bool:
        """Nothing in the run is exceptional: every interval is new, plausible, rated and of an open day."""
        if not plan.clean or min(whs) < 0 or max(whs) > limit_wh:
            return False
        if trued_up:
            for local_date, _, _, _ in plan.local_parts:
                if trued_up.get(local_date):
                    return False
        stored, days = self.stored, self.days
        for utc_date, _, _, mask in plan.utc_parts:
            key = (meter_id, utc_date)
            masks = stored.get(key)
            take = days.get(key)
            if (masks is not None and masks.taken & mask) or (take is not None and take.taken & mask):
                return False
        return True

    def _take_run(self, meter_id: int, account_id: int, plan: RunPlan, whs: Sequence[int]) -> None:
        """Every interval of the run is billed: sums per rating group, meter-day and local day."""
        groups = self.groups.setdefault(account_id, {})
        for group, start, stop in plan.segments:
            groups[group] = groups.get(group, 0) + sum(whs[start:stop])
        days = self.days
        for utc_date, start, stop, mask in plan.utc_parts:
            key = (meter_id, utc_date)
            take = days.get(key)
            if take is None:
                days[key] = DayTake(mask, 0, 0, 0, sum(whs[start:stop]))
            else:
                take.taken |= mask
                take.billed_wh += sum(whs[start:stop])
        for local_date, start, stop, last in plan.local_parts:
            self._add_usage((meter_id, local_date, account_id), stop - start, sum(whs[start:stop]), last)
        self.charged += len(whs)

    def _take_each(
        self,
        meter_id: int,
        ends: tuple[datetime, ...],
        whs: Sequence[int],
        *,
        target: ChargeableAccount,
        plan: RunPlan,
        limit_wh: int,
        trued_up: Mapping[date, bool] | None,
    ) -> None:
        account_id = target.account.id
        groups = self.groups.setdefault(account_id, {})
        for slot, end_at, wh in zip(plan.slots, ends, whs, strict=True):
            take, before = self._day(meter_id, slot.utc_date)
            bit = slot.bit
            if before & bit:
                self.duplicates += 1
                continue
            take.taken |= bit
            usage_key = (meter_id, slot.local_date, account_id)
            if trued_up and trued_up.get(slot.local_date):
                take.covered |= bit
                self.covered += 1
                self._add_usage(usage_key, 1, 0, end_at)
            elif wh < 0 or wh > limit_wh or not slot.version_id:
                take.held |= bit
                reason = NEGATIVE if wh < 0 else IMPLAUSIBLE if wh > limit_wh else NO_VERSION
                limit = limit_wh if wh > limit_wh else None
                self.hold(meter_id, end_at, account_id=account_id, wh=wh, reason=reason, limit_wh=limit)
                self.held += 1
                self._add_usage(usage_key, 1, 0, end_at)
            else:
                groups[slot.group] = groups.get(slot.group, 0) + wh
                take.billed_wh += wh
                self.charged += 1
                self._add_usage(usage_key, 1, wh, end_at)

    def hold_all(
        self,
        meter_id: int,
        intervals: Sequence[Interval],
        *,
        account_id: int | None,
        reason: str,
        local_dates: list[date],
    ) -> None:
        """Intervals that cannot be charged at all (unmapped, closed account, no tariff): taken as held."""
        for (end_at, wh), local_date in zip(intervals, local_dates, strict=True):
            utc_date, bit = day_and_bit(end_at)
            take, before = self._day(meter_id, utc_date)
            if before & bit:
                self.duplicates += 1
                continue
            take.taken |= bit
            take.held |= bit
            self.hold(meter_id, end_at, account_id=account_id, wh=wh, reason=reason)
            if account_id is None:
                self.unmapped += 1  # no account to count usage on: the hold records it
                continue
            self.held += 1
            self._add_usage((meter_id, local_date, account_id), 1, 0, end_at)

    def _add_usage(self, key: tuple[int, date, int], count: int, wh: int, last: datetime) -> None:
        usage = self.usage.get(key)
        if usage is None:
            self.usage[key] = [count, wh, last]
        else:
            usage[0] += count
            usage[1] += wh
            usage[2] = max(usage[2], last)

    def takes(self) -> dict[tuple[int, date], DayTake]:
        """The meter-days this batch changes (a day of duplicates only is left alone)."""
        return {key: take for key, take in self.days.items() if take.taken or take.released}

    def months(self) -> list[tuple[int, date]]:
        pairs: set[tuple[int, date]] = set()
        for account_id, groups in self.groups.items():
            first = self.accounts[account_id].slots.groups.first
            pairs.update((account_id, first[number].month_date) for number in groups)
        return sorted(pairs)


@dataclass(slots=True)
class Rated:
    entries: list[LedgerEntry]
    usage_months: list[tuple[int, date, int, str, int]]  # (account, month, version, zone, Wh), key order
    usage_day_zones: list[tuple[int, date, int, str, int]]  # (account, local day, version, zone, Wh), key order
    amount_paise: int


def rate(collected: Collected, month_to_date: dict[tuple[int, date], int], *, actor: str) -> Rated:
    """Rate every group and build one ledger entry per (account, local day)."""
    last_end: dict[tuple[int, date], datetime] = {}
    for (_, local_date, account_id), (_, _, last) in collected.usage.items():
        key = (account_id, local_date)
        if key not in last_end or last > last_end[key]:
            last_end[key] = last
    entries: list[LedgerEntry] = []
    months: dict[tuple[int, date, int, str], int] = {}
    day_zones: list[tuple[int, date, int, str, int]] = []
    amount = 0
    for account_id, groups in collected.groups.items():
        target = collected.accounts[account_id]
        numbers = target.slots.groups
        first = numbers.first
        specs = target.slots.specs
        mtd: dict[date, int] = {}  # month -> Wh rated so far
        days: dict[date, dict[str, int]] = {}
        for number in sorted(groups, key=numbers.order.__getitem__) if len(groups) > 1 else groups:
            wh = groups[number]
            if not wh:
                continue
            slot = first[number]
            month_date = slot.month_date
            before = mtd.get(month_date)
            if before is None:
                before = month_to_date.get((account_id, month_date), 0)
            lines = rate_interval(
                specs[slot.version_id],
                energy_wh=wh,
                interval_end_local=slot.local_end,
                month_to_date_wh_before=before,
                day_type=slot.day_type,
            )
            mtd[month_date] = before + wh
            components = days.get(slot.local_date)
            if components is None:
                components = days[slot.local_date] = {}
            for line in lines:
                components[line.component] = components.get(line.component, 0) + line.amount_paise
            zone_key = (account_id, month_date, slot.version_id, slot.tod_zone)
            months[zone_key] = months.get(zone_key, 0) + wh
            day_zones.append((account_id, slot.local_date, slot.version_id, slot.tod_zone, wh))
        for local_date, components in days.items():
            entry = charge_entry(
                idempotency_key=f"interval:{collected.batch_id}:{account_id}:{local_date.isoformat()}",
                kind=LedgerTransactionKind.INTERVAL_CHARGE,
                account_id=account_id,
                wallet_ledger_id=target.wallet_ledger_id,
                utility_ledgers=target.utility_ledgers,
                components=components,
                effective_at=last_end[(account_id, local_date)],
                value_date=local_date,
                actor=actor,
            )
            if entry is not None:
                entries.append(entry)
                amount += sum(components.values())
    usage_months = [(a, m, v, z, wh) for (a, m, v, z), wh in sorted(months.items())]
    day_zones.sort()
    return Rated(entries, usage_months, day_zones, amount)


def usage_rows(collected: Collected) -> list[tuple[int, date, int, int, int, datetime | None]]:
    """Usage increments in key order (upserts lock rows in that order: no deadlock between batches)."""
    return [(m, d, a, count, wh, last) for (m, d, a), (count, wh, last) in sorted(collected.usage.items())]
