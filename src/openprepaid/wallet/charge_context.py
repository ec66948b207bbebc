"""What a charging batch needs to know, loaded once per batch: which account each meter served when
(installation history), each account's tariff timeline, wallet ledger and load limit, and per
(time zone, tariff) the "slot" of every distinct interval end (local day, month, version, ToD zone).

Rules (docs/ledger.md "Charging"):
- An interval ``(end - period, end]`` belongs to the installation with
  ``installed_at < end <= removed_at`` (open-ended while installed): after a meter replacement,
  readings map to the account the meter served then.
- It belongs to the local day of its last instant (``tariff.interval_local_date``) in the
  utility's zone, and is rated by the tariff version in force at that instant
  (``effective_from_at < end``) and the ToD zone of its end on that day's day type: ``holiday`` when
  the local day is one of the utility's public holidays (the calendar of the prepaid rules,
  ``wallet.utility_holidays``), else weekday/weekend by the calendar — looked up once per distinct end.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from openprepaid.store.model import AccountStatus
from openprepaid.store.repository import charge as charge_repo
from openprepaid.store.repository.charge import InstallationRow
from openprepaid.store.repository.wallet_account import WalletAccount, wallet_accounts
from openprepaid.wallet.chart_of_accounts import UtilityLedger, utility_ledgers, wallet_ledgers
from openprepaid.wallet.tariff import DayType, TariffSpec, day_type_on, interval_local_date, tod_zone_of
from openprepaid.wallet.tariff_store import TariffCatalog, TariffTimeline, timelines

_EPSILON = timedelta(microseconds=1)


@dataclass(frozen=True, slots=True)
class Slot:
    """Where an interval end falls for one (zone, tariff): rating group ``key = (local day, version id, zone)``,
    numbered ``group`` (an int is a cheaper dict key in the hot loop than the tuple)."""

    local_date: date
    month_date: date
    local_end: datetime
    version_id: int  # 0: no version in force
    tod_zone: str  # '' outside adjusting zones
    key: tuple[date, int, str]
    utc_date: date  # the ``charge_day`` row of the end
    bit: int  # its bit in that row's masks (minute of the UTC day)
    group: int
    day_type: DayType | None  # HOLIDAY on a public holiday; None: weekday/weekend by the calendar


@dataclass(frozen=True, slots=True)
class RunPlan:
    """A sorted run of interval ends resolved once per (zone, tariff), so that a meter delivering the same
    ends as others costs a few slice sums instead of a loop over its intervals (``interval_rating``)."""

    slots: tuple[Slot, ...]
    segments: tuple[tuple[int, int, int], ...]  # (rating group, start, stop): a run of one group
    utc_parts: tuple[tuple[date, int, int, int], ...]  # (UTC date, start, stop, mask of those ends)
    local_parts: tuple[tuple[date, int, int, datetime], ...]  # (local date, start, stop, last end)
    clean: bool  # every end has a tariff version in force and a minute of its own


def _runs(keys: list[Any]) -> list[tuple[Any, int, int]]:
    """(key, start, stop) of each run of equal consecutive keys."""
    runs: list[tuple[Any, int, int]] = []
    start = 0
    for i in range(1, len(keys) + 1):
        if i == len(keys) or keys[i] != keys[start]:
            runs.append((keys[start], start, i))
            start = i
    return runs


def plan_of(slots: tuple[Slot, ...], ends: tuple[datetime, ...]) -> RunPlan:
    utc_parts = []
    collision = False
    for utc_date, start, stop in _runs([slot.utc_date for slot in slots]):
        mask = 0
        for slot in slots[start:stop]:
            collision = collision or bool(mask & slot.bit)
            mask |= slot.bit
        utc_parts.append((utc_date, start, stop, mask))
    return RunPlan(
        slots,
        tuple((group, start, stop) for group, start, stop in _runs([slot.group for slot in slots])),
        tuple(utc_parts),
        tuple((day, start, stop, ends[stop - 1]) for day, start, stop in _runs([slot.local_date for slot in slots])),
        not collision and all(slot.version_id for slot in slots),
    )


class GroupNumbers:
    """Numbers for rating-group keys, shared by a batch's slot tables; ``first[n]`` is the first slot seen."""

    def __init__(self) -> None:
        self.numbers: dict[tuple[date, int, str], int] = {}
        self.first: list[Slot] = []
        self.order: list[tuple[date, datetime]] = []  # per number: (local day, local end) of ``first``, to sort by


class SlotTable:
    """Slots of interval ends for one (time zone, tariff timeline), computed once per distinct end."""

    def __init__(
        self,
        zone: ZoneInfo,
        timeline: TariffTimeline,
        catalog: TariffCatalog,
        groups: GroupNumbers,
        holidays: frozenset[date] = frozenset(),
    ) -> None:
        self._zone = zone
        self._holidays = holidays
        self._plans: dict[tuple[datetime, ...], RunPlan] = {}
        self._timeline = timeline
        self._catalog = catalog
        self.groups = groups
        self.slots: dict[datetime, Slot] = {}
        self.specs: dict[int, TariffSpec] = {}

    def slot(self, end_at: datetime) -> Slot:
        found = self.slots.get(end_at)
        if found is None:
            found = self.slots[end_at] = self._compute(end_at)
        return found

    def spec_of(self, version_id: int) -> TariffSpec:
        """The spec of one of the timeline's versions (the true-up and settlement name versions by id)."""
        spec = self.specs.get(version_id)
        if spec is None:
            version = next((v for v in self._timeline.versions if v.id == version_id), None)
            if version is None:
                raise KeyError(f"tariff version {version_id} is not in the account's tariff")
            spec = self.specs[version_id] = self._catalog.spec(version)
        return spec

    def plan(self, ends: tuple[datetime, ...]) -> RunPlan:
        """The plan of a sorted run of distinct ends (computed once per distinct run in the batch)."""
        found = self._plans.get(ends)
        if found is None:
            slot = self.slot
            found = self._plans[ends] = plan_of(tuple(slot(end_at) for end_at in ends), ends)
        return found

    def _compute(self, end_at: datetime) -> Slot:
        local_end = end_at.astimezone(self._zone)
        local_date = interval_local_date(local_end)
        version = self._timeline.in_force_at(end_at - _EPSILON)
        version_id, zone_name = 0, ""
        day_type = day_type_on(local_date, self._holidays)
        if version is not None:
            version_id = version.id
            spec = self.specs.get(version_id)
            if spec is None:
                spec = self.specs[version_id] = self._catalog.spec(version)
            zone_name = tod_zone_of(spec, local_end, day_type) or ""
        month_date = local_date.replace(day=1)
        key = (local_date, version_id, zone_name)
        number = self.groups.numbers.get(key)
        fresh = number is None
        if number is None:
            number = self.groups.numbers[key] = len(self.groups.first)
        utc = end_at.astimezone(UTC)
        bit = 1 << (utc.hour * 60 + utc.minute)
        slot = Slot(local_date, month_date, local_end, version_id, zone_name, key, utc.date(), bit, number, day_type)
        if fresh:
            self.groups.first.append(slot)
            self.groups.order.append((local_date, local_end))
        return slot


@dataclass(slots=True)
class ChargeableAccount:
    account: WalletAccount
    wallet_ledger_id: int
    utility_ledgers: dict[UtilityLedger, int]
    slots: SlotTable

    def limit_wh(self, capture_period_s: int, max_load_factor_percent: int) -> int:
        """The most energy an interval can plausibly hold: factor × sanctioned load × interval."""
        return self.account.sanctioned_load_w * capture_period_s * max_load_factor_percent // (3600 * 100)


# A reason an interval cannot be charged (it is held for review instead).
NO_INSTALLATION = "no installation of the meter covers the interval"
ACCOUNT_CLOSED = "the account is closed"
NO_TARIFF = "the account has no tariff"
NO_LEDGER = "the account has no ledger accounts opened"
NO_VERSION = "no tariff version in force"
NEGATIVE = "negative energy"
IMPLAUSIBLE = "energy above the plausible maximum"


@dataclass(slots=True)
class Route:
    """One installation period of a meter and where its intervals go."""

    installed_at: datetime
    removed_at: datetime | None
    account_id: int
    target: ChargeableAccount | str  # the account, or the reason it cannot be charged

    def covers(self, end_at: datetime) -> bool:
        return self.installed_at < end_at and (self.removed_at is None or end_at <= self.removed_at)


class ChargeContext:
    """Routes per meter and chargeable accounts for one batch (one query per kind of row, chunked)."""

    def __init__(
        self,
        session: Session,
        catalog: TariffCatalog,
        meter_ids: Iterable[int],
        *,
        holidays: frozenset[date] = frozenset(),
    ) -> None:
        """``holidays``: the utility's public holidays (local dates; ``wallet.utility_holidays``)."""
        self.groups = GroupNumbers()
        self.holidays = holidays
        self.installations = charge_repo.installations_of_meters(session, meter_ids)
        account_ids = sorted({row.account_id for rows in self.installations.values() for row in rows})
        self.accounts = wallet_accounts(session, account_ids)
        wallets = wallet_ledgers(session, account_ids)
        tariff_ids = sorted({a.tariff_id for a in self.accounts.values() if a.tariff_id is not None})
        lines = timelines(session, tariff_ids)
        books = {u: utility_ledgers(session, u) for u in {a.utility_id for a in self.accounts.values()}}
        tables: dict[tuple[str, int], SlotTable] = {}
        self.chargeable: dict[int, ChargeableAccount | str] = {}
        for account_id, account in self.accounts.items():
            wallet = wallets.get(account_id)
            if account.status is not AccountStatus.ACTIVE:
                self.chargeable[account_id] = ACCOUNT_CLOSED
            elif account.tariff_id is None:
                self.chargeable[account_id] = NO_TARIFF
            elif wallet is None or len(books[account.utility_id]) < len(UtilityLedger):
                self.chargeable[account_id] = NO_LEDGER
            else:
                key = (account.timezone, account.tariff_id)
                table = tables.get(key)
                if table is None:
                    table = tables[key] = SlotTable(
                        ZoneInfo(account.timezone), lines[account.tariff_id], catalog, self.groups, holidays
                    )
                self.chargeable[account_id] = ChargeableAccount(account, wallet, books[account.utility_id], table)
        self.tables = list(tables.values())

    def routes(self, meter_id: int) -> list[Route]:
        return [self._route(row) for row in self.installations.get(meter_id, [])]

    def _route(self, row: InstallationRow) -> Route:
        target = self.chargeable.get(row.account_id, ACCOUNT_CLOSED)
        return Route(row.installed_at, row.removed_at, row.account_id, target)

    def spec(self, version_id: int) -> TariffSpec:
        for table in self.tables:
            if version_id in table.specs:
                return table.specs[version_id]
        raise KeyError(version_id)
