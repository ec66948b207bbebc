"""Monthly reconciliation statement (domain.md C5, §2 "Monthly reconciliation").

The month's daily deductions (interval charges, daily fixed charges, true-ups, with value dates in
the local month) are compared, component by component, with the tariff engine's exact month bill
(``month_bill`` on the month's billed units, their ToD split, the account's load and its fixed
days). The difference is posted once: excess credited back to the wallet, shortfall debited.

Invariants:
- Once per (account, month, kind): the statement row is claimed first (unique key), in the same
  database transaction as the ledger transaction ``settlement:<account>:<YYYY-MM>`` (``final-bill``
  for a closing month); settling again returns the first statement.
- After settlement, the month's charged lines per component equal the month bill's lines.
- A month whose tariff changed is billed as the sum of per-version parts (``month_bill_by_version``):
  each version's energy (``usage_month`` per version and zone) on month-to-date units continuing
  across the change, its fixed charge for the days it was in force at the day's start; the statement
  records each part's lines (``versions``) and ``multi_version``, and the difference is posted once.
- The over-drawl penalty is in the month bill: a monthly settlement first posts the month's penalty
  (``overdrawl.charge_overdrawl_penalty``, its own transaction, once per account-month) and bills the
  month with the same maximum demand, on the part of the version in force when it occurred; the
  statement records that demand (``max_demand``). A final bill has no month-end billing snapshot: no penalty.
- Only a month that is over is settled (a closing account's month ends at its closure).
"""

from __future__ import annotations

from calendar import monthrange
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from openprepaid.store.model import AccountStatus, SettlementKind
from openprepaid.store.repository import charge as charge_repo
from openprepaid.store.repository import settlement as settlement_repo
from openprepaid.store.repository.settlement import StatementRow
from openprepaid.store.repository.wallet_account import WalletAccount, wallet_account
from openprepaid.wallet import ledger
from openprepaid.wallet.charge_lines import WALLET_COMPONENT, charge_entry
from openprepaid.wallet.chart_of_accounts import ConsumerLedger, consumer_ledgers, utility_ledgers
from openprepaid.wallet.errors import UnknownAccountError, WalletError
from openprepaid.wallet.ledger import LedgerTransactionKind
from openprepaid.wallet.overdrawl import (
    MonthDemand,
    PenaltyOutcome,
    charge_overdrawl_penalty,
    month_bounds,
    month_demand,
    version_of_demand,
)
from openprepaid.wallet.tariff import VersionPart, month_bill, month_bill_by_version
from openprepaid.wallet.tariff_store import TariffCatalog, timelines

CHARGE_KINDS = (
    LedgerTransactionKind.INTERVAL_CHARGE.value,
    LedgerTransactionKind.FIXED_CHARGE.value,
    LedgerTransactionKind.TRUE_UP.value,
    LedgerTransactionKind.OVERDRAWL_PENALTY.value,
)


class SettlementError(WalletError):
    code = "settlement_refused"


@dataclass(frozen=True, slots=True)
class Statement:
    account_id: int
    month_date: date
    kind: SettlementKind
    energy_wh: int
    charged: dict[str, int]  # component -> paise charged by the daily deductions
    billed: dict[str, int]  # component -> paise of the exact month bill
    difference_paise: int  # billed - charged: > 0 debited, < 0 credited back
    multi_version: bool
    ledger_transaction_id: int | None
    replayed: bool = False
    versions: tuple[dict[str, Any], ...] = ()  # per tariff version of a multi-version month: its part
    max_demand: dict[str, Any] | None = None  # the month's maximum demand the bill's penalty rests on

    @property
    def charged_paise(self) -> int:
        return sum(self.charged.values())

    @property
    def billed_paise(self) -> int:
        return sum(self.billed.values())


def _from_row(row: StatementRow) -> Statement:
    lines = row.lines
    return Statement(
        account_id=row.account_id,
        month_date=row.month_date,
        kind=row.kind,
        energy_wh=row.energy_wh,
        charged=dict(lines.get("charged", {})),
        billed=dict(lines.get("billed", {})),
        difference_paise=row.difference_paise,
        multi_version=bool(lines.get("multi_version", False)),
        ledger_transaction_id=row.ledger_transaction_id,
        replayed=True,
        versions=tuple(lines.get("versions", ())),
        max_demand=lines.get("max_demand"),
    )


def settle_month(
    session: Session,
    *,
    account_id: int,
    month_date: date,
    catalog: TariffCatalog,
    now: datetime,
    actor: str = "settlement",
    kind: SettlementKind = SettlementKind.MONTHLY,
    last_day: date | None = None,
) -> Statement:
    """Reconcile one account-month. ``last_day`` ends the month early (the final bill of a closure)."""
    account = wallet_account(session, account_id)
    if account is None:
        raise UnknownAccountError(f"no account {account_id}")
    first = month_date.replace(day=1)
    days_in_month = monthrange(first.year, first.month)[1]
    last = last_day or first.replace(day=days_in_month)
    zone = ZoneInfo(account.timezone)
    start, month_end = month_bounds(first, zone)
    period_end = datetime.combine(last + timedelta(days=1), time(0), tzinfo=zone).astimezone(UTC)
    existing = settlement_repo.statement(session, account_id, first, kind)
    if existing is None and kind is SettlementKind.MONTHLY:
        existing = settlement_repo.statement(session, account_id, first, SettlementKind.FINAL)  # closed that month
    if existing is not None:
        return _from_row(existing)
    if kind is SettlementKind.MONTHLY and now < month_end:
        raise SettlementError(f"month {first:%Y-%m} of account {account_id} is not over")
    demand, demand_record = _month_penalty(session, account, catalog, first=first, kind=kind, now=now)
    charged = settlement_repo.charged_components(
        session, account_id=account_id, first=first, last=last, kinds=CHARGE_KINDS, wallet_component=WALLET_COMPONENT
    )
    zones = charge_repo.zone_energy_of_month(session, account_id, first)
    energy_wh = max(0, sum(zones.values()))
    billed, versions = _month_bill(
        session, account, catalog, first=first, last=last, bounds=(start, month_end), zones=zones, demand=demand
    )
    multi = bool(versions)
    difference = {c: billed.get(c, 0) - charged.get(c, 0) for c in sorted(billed.keys() | charged.keys())}
    difference = {c: amount for c, amount in difference.items() if amount}
    try:
        statement_id = settlement_repo.insert_statement(
            session,
            {
                "account_id": account_id,
                "month_date": first,
                "kind": kind,
                "energy_wh": energy_wh,
                "charged_paise": sum(charged.values()),
                "billed_paise": sum(billed.values()),
                "difference_paise": sum(difference.values()),
                "lines": {
                    "charged": charged,
                    "billed": billed,
                    "difference": difference,
                    "multi_version": multi,
                    "versions": list(versions),
                    "max_demand": demand_record,
                },
                "ledger_transaction_id": None,
                "created_at": now,
                "created_by": actor[:100],
            },
        )
    except settlement_repo.DuplicateStatementError:
        row = settlement_repo.statement(session, account_id, first, kind)
        assert row is not None
        return _from_row(row)
    ledger_id = _post_difference(
        session, account, difference, first=first, last=last, kind=kind, at=period_end, actor=actor, now=now
    )
    if ledger_id is not None:
        settlement_repo.set_statement_transaction(session, statement_id, ledger_id)
    return Statement(
        account_id, first, kind, energy_wh, charged, billed, sum(difference.values()), multi, ledger_id,
        versions=versions, max_demand=demand_record,
    )  # fmt: skip


def _month_penalty(
    session: Session,
    account: WalletAccount,
    catalog: TariffCatalog,
    *,
    first: date,
    kind: SettlementKind,
    now: datetime,
) -> tuple[MonthDemand | None, dict[str, Any] | None]:
    """Post the month's over-drawl penalty (once) and return the demand the month bill prices it on, with the
    statement's record of it. A final bill, or a closed account, has none."""
    if kind is not SettlementKind.MONTHLY or account.status is not AccountStatus.ACTIVE:
        return None, None
    result = charge_overdrawl_penalty(session, account_id=account.id, month_date=first, catalog=catalog, now=now)
    demand = month_demand(session, account, first)
    if demand is None:
        return None, {"status": PenaltyOutcome.NO_DEMAND.value}
    return demand, {
        **demand.to_dict(),
        "status": result.outcome.value,
        "penalty_ledger_transaction_id": result.ledger_transaction_id,
    }


def _month_bill(
    session: Session,
    account: WalletAccount,
    catalog: TariffCatalog,
    *,
    first: date,
    last: date,
    bounds: tuple[datetime, datetime],
    zones: dict[tuple[int, str], int],
    demand: MonthDemand | None,
) -> tuple[dict[str, int], tuple[dict[str, Any], ...]]:
    """The exact bill per component, and (for a month with several tariff versions) each version's part."""
    if account.tariff_id is None:
        raise SettlementError(f"account {account.id} has no tariff")
    start, month_end = bounds
    timeline = timelines(session, [account.tariff_id])[account.tariff_id]
    zone = ZoneInfo(account.timezone)
    opened = account.opened_at.astimezone(zone).date()
    first_fixed_day = opened.day if (opened.year, opened.month) == (first.year, first.month) else 1
    days_in_month = monthrange(first.year, first.month)[1]
    # The version of each charged day's fixed charge: the one in force at the day's start.
    day_versions: dict[int, list[int]] = {}
    for day in range(first_fixed_day, last.day + 1):
        midnight = datetime.combine(first.replace(day=day), time(0), tzinfo=zone).astimezone(UTC)
        in_force = timeline.in_force_at(midnight)
        if in_force is not None:
            day_versions.setdefault(in_force.id, []).append(day)
    demand_version = None if demand is None else version_of_demand(timeline, demand, month_end)
    max_demand_w = None if demand is None else demand.max_demand_w
    energy_versions = {version for (version, _), wh in zones.items() if wh}
    if demand_version is not None:
        energy_versions.add(demand_version.id)
    involved = [v for v in timeline.versions if v.id in energy_versions or v.id in day_versions]
    if len(involved) <= 1:
        version = involved[0] if involved else timeline.in_force_at(start)
        if version is None:
            raise SettlementError(f"no tariff version in force for account {account.id} at {start.isoformat()}")
        bill = month_bill(
            catalog.spec(version),
            month_wh=max(0, sum(zones.values())),
            sanctioned_load_w=account.sanctioned_load_w,
            days_in_month=days_in_month,
            zone_wh={name: wh for (_, name), wh in zones.items() if name and wh > 0},
            max_demand_w=max_demand_w if demand_version is not None and demand_version.id == version.id else None,
            first_fixed_day=first_fixed_day,
            last_fixed_day=last.day,
        )
        return {line.component: line.amount_paise for line in bill.lines}, ()
    parts = []
    for version in involved:  # effective order: the order the energy was consumed in
        days = day_versions.get(version.id, [])
        zone_wh = {name: wh for (v, name), wh in zones.items() if v == version.id and name and wh > 0}
        parts.append(
            VersionPart(
                catalog.spec(version),
                max(0, sum(wh for (v, _), wh in zones.items() if v == version.id)),
                zone_wh,
                days[0] if days else days_in_month + 1,
                days[-1] if days else days_in_month,
                max_demand_w if demand_version is not None and demand_version.id == version.id else None,
            )
        )
    total, bills = month_bill_by_version(
        parts, sanctioned_load_w=account.sanctioned_load_w, days_in_month=days_in_month
    )
    described = tuple(
        {
            "tariff_version_id": version.id,
            "version": version.version,
            "energy_wh": part.energy_wh,
            "zone_wh": dict(part.zone_wh),
            "fixed_days": [part.first_fixed_day, part.last_fixed_day] if part.first_fixed_day <= part.last_fixed_day
            else [],
            "max_demand_w": part.max_demand_w,
            "lines": {line.component: line.amount_paise for line in bill.lines},
        }
        for version, part, bill in zip(involved, parts, bills, strict=True)
    )  # fmt: skip
    return {line.component: line.amount_paise for line in total.lines}, described


def _post_difference(
    session: Session,
    account: WalletAccount,
    difference: dict[str, int],
    *,
    first: date,
    last: date,
    kind: SettlementKind,
    at: datetime,
    actor: str,
    now: datetime,
) -> int | None:
    wallet = consumer_ledgers(session, [account.id]).get(account.id, {}).get(ConsumerLedger.PREPAID_WALLET)
    if wallet is None:
        raise SettlementError(f"account {account.id} has no ledger accounts opened")
    prefix = "settlement" if kind is SettlementKind.MONTHLY else "final-bill"
    entry = charge_entry(
        idempotency_key=f"{prefix}:{account.id}:{first:%Y-%m}",
        kind=LedgerTransactionKind.SETTLEMENT,
        account_id=account.id,
        wallet_ledger_id=wallet,
        utility_ledgers=utility_ledgers(session, account.utility_id),
        components=difference,
        effective_at=at,
        value_date=last,
        actor=actor,
        memo=f"{kind.value} reconciliation {first:%Y-%m}",
    )
    if entry is None:
        return None
    return ledger.post(session, entry, now=now).ledger_transaction_id


def settle_utility_month(
    session: Session,
    *,
    utility_id: int,
    month_date: date,
    catalog: TariffCatalog,
    now: datetime,
    account_ids: list[int],
) -> list[Statement]:
    """Settle the month for the given accounts of a utility (the monthly job pages through its accounts)."""
    statements = []
    for account_id in account_ids:
        account = wallet_account(session, account_id)
        if account is None or account.utility_id != utility_id:
            raise UnknownAccountError(f"no account {account_id} in utility {utility_id}")
        statements.append(settle_month(session, account_id=account_id, month_date=month_date, catalog=catalog, now=now))
    return statements
