"""The charging hot path in memory: sort a batch's intervals into charge rows, holds and rating groups,
then rate the groups into one ledger transaction per (account, local day).

Rules (docs/ledger.md "Batch charging"):
- Every interval taken gets exactly one charge row: ``charged``, ``held`` (negative, above
  ``max_load_factor`` × sanctioned load × interval, or no tariff version in force) or ``covered``
  (its day was already trued up by the register). Intervals already taken are skipped.
- Rating groups are (account, local day, tariff version, ToD zone); each group is rated with one
  ``rate_interval`` call on its summed energy, in day order, month-to-date units carried from one
  group to the next. Slab, catch-up and free-unit lines are differences of rounded month-to-date
  amounts, so summing intervals first changes nothing there; ToD lines and percentages on them are
  rounded once per group instead of once per interval (nearer the month bill, which the monthly
  settlement reconciles exactly).
- The lines of an (account, local day) are summed per component into one ledger transaction, key
  ``interval:<batch>:<account>:<local day>``; its ``effective_at`` is the day's last interval end.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from openprepaid.store.model import HoldSource, HoldState, IntervalChargeStatus
from openprepaid.wallet.charge_context import IMPLAUSIBLE, NEGATIVE, NO_VERSION, ChargeableAccount, Slot
from openprepaid.wallet.charge_lines import add_lines, charge_entry
from openprepaid.wallet.ledger import LedgerEntry, LedgerTransactionKind
from openprepaid.wallet.tariff import rate_interval

CHARGED = IntervalChargeStatus.CHARGED.value
HELD = IntervalChargeStatus.HELD.value
COVERED = IntervalChargeStatus.COVERED.value

Interval = tuple[datetime, int]  # (interval end, aware; import Wh)


@dataclass(slots=True)
class Collected:
    """What a batch's intervals turned into, before any money is computed."""

    batch_id: int
    now: datetime
    # charge rows as ``charge_bulk.insert_charge_intervals`` takes them (interval ends encoded)
    rows: list[tuple[int, Any, int, int, str, int]] = field(default_factory=list)
    holds: list[dict[str, Any]] = field(default_factory=list)
    # account id -> rating group number (``Slot.group``) -> summed Wh
    groups: dict[int, dict[int, int]] = field(default_factory=dict)
    accounts: dict[int, ChargeableAccount] = field(default_factory=dict)
    # (meter, local day, account) -> [rows taken, billed Wh, last interval end]
    usage: dict[tuple[int, date, int], list[Any]] = field(default_factory=dict)
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

    def take(
        self,
        meter_id: int,
        intervals: Sequence[Interval],
        *,
        target: ChargeableAccount,
        limit_wh: int,
        seen: dict[date, bool] | None,
        existing: set[tuple[int, datetime]],
    ) -> None:
        """Intervals of one meter (sorted by end) while it served one chargeable account: the hot loop."""
        account_id = target.account.id
        self.accounts[account_id] = target
        slots = target.slots.slots
        compute = target.slots.slot
        rows = self.rows
        batch_id = self.batch_id
        taken: dict[int, list[Any]] = {}  # group -> [Wh, intervals, last end]
        other: dict[date, list[Any]] = {}  # local day -> [held or covered rows, 0, last end]
        for end_at, wh in intervals:
            slot = slots.get(end_at) or compute(end_at)
            if seen is not None and slot.local_date in seen:
                if (meter_id, end_at) in existing:
                    self.duplicates += 1
                    continue
                if seen[slot.local_date]:
                    rows.append((meter_id, slot.stored_end, account_id, wh, COVERED, batch_id))
                    self.covered += 1
                    other.setdefault(slot.local_date, [0, 0, end_at])[0] += 1
                    continue
            if wh < 0 or wh > limit_wh or not slot.version_id:
                self._hold_taken(meter_id, end_at, account_id=account_id, wh=wh, slot=slot, limit_wh=limit_wh)
                other.setdefault(slot.local_date, [0, 0, end_at])[0] += 1
                continue
            group = taken.get(slot.group)
            if group is None:
                taken[slot.group] = [wh, 1, end_at]
            else:
                group[0] += wh
                group[1] += 1
                group[2] = end_at
            rows.append((meter_id, slot.stored_end, account_id, wh, CHARGED, batch_id))
        self._merge(meter_id, account_id, target, taken, other)

    def _hold_taken(
        self, meter_id: int, end_at: datetime, *, account_id: int, wh: int, slot: Slot, limit_wh: int
    ) -> None:
        reason = NEGATIVE if wh < 0 else IMPLAUSIBLE if wh > limit_wh else NO_VERSION
        self.hold(
            meter_id, end_at, account_id=account_id, wh=wh, reason=reason, limit_wh=limit_wh if wh > limit_wh else None
        )
        self.rows.append((meter_id, slot.stored_end, account_id, wh, HELD, self.batch_id))
        self.held += 1

    def _merge(
        self,
        meter_id: int,
        account_id: int,
        target: ChargeableAccount,
        taken: dict[int, list[Any]],
        other: dict[date, list[Any]],
    ) -> None:
        groups = self.groups.setdefault(account_id, {})
        first = target.slots.groups.first
        for number, (wh, count, last) in taken.items():
            groups[number] = groups.get(number, 0) + wh
            self._add_usage((meter_id, first[number].local_date, account_id), count, wh, last)
        for local_date, (count, _, last) in other.items():
            self._add_usage((meter_id, local_date, account_id), count, 0, last)

    def hold_all(
        self,
        meter_id: int,
        intervals: Sequence[Interval],
        *,
        account_id: int | None,
        reason: str,
        local_dates: list[date],
        existing: set[tuple[int, datetime]],
        encode_end: Callable[[datetime], Any],
    ) -> None:
        """Intervals that cannot be charged at all (unmapped, closed account, no tariff): held for review."""
        for (end_at, wh), local_date in zip(intervals, local_dates, strict=True):
            if (meter_id, end_at) in existing:
                self.duplicates += 1
                continue
            self.hold(meter_id, end_at, account_id=account_id, wh=wh, reason=reason)
            if account_id is None:
                self.unmapped += 1  # no account to key a charge row on: the hold alone records it
                continue
            self.rows.append((meter_id, encode_end(end_at), account_id, wh, HELD, self.batch_id))
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

    def months(self) -> list[tuple[int, date]]:
        pairs: set[tuple[int, date]] = set()
        for account_id, groups in self.groups.items():
            first = self.accounts[account_id].slots.groups.first
            pairs.update((account_id, first[number].month_date) for number in groups)
        return sorted(pairs)


@dataclass(slots=True)
class Rated:
    entries: list[LedgerEntry]
    usage_months: list[tuple[int, date, str, int]]
    amount_paise: int


def rate(collected: Collected, month_to_date: dict[tuple[int, date], int], *, actor: str) -> Rated:
    """Rate every group and build one ledger entry per (account, local day)."""
    last_end: dict[tuple[int, date], datetime] = {}
    for (_, local_date, account_id), (_, _, last) in collected.usage.items():
        key = (account_id, local_date)
        if key not in last_end or last > last_end[key]:
            last_end[key] = last
    entries: list[LedgerEntry] = []
    months: dict[tuple[int, date, str], int] = {}
    amount = 0
    for account_id, groups in collected.groups.items():
        target = collected.accounts[account_id]
        first = target.slots.groups.first
        mtd: dict[tuple[int, date], int] = {}
        days: dict[date, dict[str, int]] = {}
        for slot, wh in sorted(((first[n], wh) for n, wh in groups.items()), key=_day_order):
            if not wh:
                continue
            month_key = (account_id, slot.month_date)
            before = mtd.get(month_key)
            if before is None:
                before = month_to_date.get(month_key, 0)
            spec = target.slots.specs[slot.version_id]
            lines = rate_interval(spec, energy_wh=wh, interval_end_local=slot.local_end, month_to_date_wh_before=before)
            mtd[month_key] = before + wh
            add_lines(days.setdefault(slot.local_date, {}), lines)
            zone_key = (account_id, slot.month_date, slot.tod_zone)
            months[zone_key] = months.get(zone_key, 0) + wh
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
    usage_months = [(a, m, z, wh) for (a, m, z), wh in sorted(months.items())]
    return Rated(entries, usage_months, amount)


def _day_order(item: tuple[Slot, int]) -> tuple[date, datetime]:
    return (item[0].local_date, item[0].local_end)


def usage_rows(collected: Collected) -> list[tuple[int, date, int, int, int, datetime | None]]:
    """Usage increments in key order (upserts lock rows in that order: no deadlock between batches)."""
    return [(m, d, a, count, wh, last) for (m, d, a), (count, wh, last) in sorted(collected.usage.items())]
