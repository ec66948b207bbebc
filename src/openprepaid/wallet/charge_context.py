"""What a charging batch needs to know, loaded once per batch: which account each meter served when
(installation history), each account's tariff timeline, wallet ledger and load limit, and per
(time zone, tariff) the "slot" of every distinct interval end (local day, month, version, ToD zone).

Rules (docs/ledger.md "Charging"):
- An interval ``(end - period, end]`` belongs to the installation with
  ``installed_at < end <= removed_at`` (open-ended while installed): after a meter replacement,
  readings map to the account the meter served then.
- It belongs to the local day of its last instant (``tariff.interval_local_date``) in the
  utility's zone, and is rated by the tariff version in force at that instant
  (``effective_from_at < end``) and the ToD zone of its end.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from openprepaid.store.model import AccountStatus
from openprepaid.store.repository import charge as charge_repo
from openprepaid.store.repository import charge_bulk
from openprepaid.store.repository.charge import InstallationRow
from openprepaid.store.repository.wallet_account import WalletAccount, wallet_accounts
from openprepaid.wallet.chart_of_accounts import UtilityLedger, utility_ledgers, wallet_ledgers
from openprepaid.wallet.tariff import TariffSpec, interval_local_date, tod_zone_of
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
    stored_end: Any  # the end as the store binds it (``charge_bulk.end_encoder``)
    group: int


class GroupNumbers:
    """Numbers for rating-group keys, shared by a batch's slot tables; ``first[n]`` is the first slot seen."""

    def __init__(self) -> None:
        self.numbers: dict[tuple[date, int, str], int] = {}
        self.first: list[Slot] = []


class SlotTable:
    """Slots of interval ends for one (time zone, tariff timeline), computed once per distinct end."""

    def __init__(
        self,
        zone: ZoneInfo,
        timeline: TariffTimeline,
        catalog: TariffCatalog,
        encode_end: Callable[[datetime], Any],
        groups: GroupNumbers,
    ) -> None:
        self._zone = zone
        self._encode_end = encode_end
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

    def _compute(self, end_at: datetime) -> Slot:
        local_end = end_at.astimezone(self._zone)
        local_date = interval_local_date(local_end)
        version = self._timeline.in_force_at(end_at - _EPSILON)
        version_id, zone_name = 0, ""
        if version is not None:
            version_id = version.id
            spec = self.specs.get(version_id)
            if spec is None:
                spec = self.specs[version_id] = self._catalog.spec(version)
            zone_name = tod_zone_of(spec, local_end) or ""
        month_date = local_date.replace(day=1)
        key = (local_date, version_id, zone_name)
        number = self.groups.numbers.get(key)
        fresh = number is None
        if number is None:
            number = self.groups.numbers[key] = len(self.groups.first)
        slot = Slot(local_date, month_date, local_end, version_id, zone_name, key, self._encode_end(end_at), number)
        if fresh:
            self.groups.first.append(slot)
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

    def __init__(self, session: Session, catalog: TariffCatalog, meter_ids: Iterable[int]) -> None:
        self.encode_end = charge_bulk.end_encoder(session)
        self.groups = GroupNumbers()
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
                        ZoneInfo(account.timezone), lines[account.tariff_id], catalog, self.encode_end, self.groups
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
