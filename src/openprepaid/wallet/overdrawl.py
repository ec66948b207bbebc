"""The over-drawl (excess demand) penalty of a month (domain.md §2 "Load above sanctioned load", C10).

Where the demand comes from: the meter's own maximum-demand register (1.0.1.6.0.255), captured with its
time in the billing profile (1.0.98.1.0.255) at the billing date and stored by the head-end as
``reading_billing.max_demand_w`` / ``max_demand_at``. Nothing else is used: the daily profile stores no
demand, and a block-load interval's energy is an average over the capture period, not over the meter's
demand integration period (a 15-minute maximum overstates a 30-minute demand).

The month's maximum demand (``month_demand``): of the snapshots taken at the local month's end (± 1 h,
the head-end's billing tolerance) by meters installed on the account during the month, those whose
demand is this month's — stamped within the month and while the meter served this account, or, without
a time, from a meter that served the account the whole month; the largest (ties: the earliest, then the
lower meter id). A meter removed during the month leaves no month-end snapshot: its demand is not known.

Invariants:
- Once per account-month: ledger key ``overdrawl:<account>:<YYYY-MM>``. A later call finds the key and
  posts nothing, whatever the snapshots say by then (the month settlement reconciles any difference with
  the month bill, docs/ledger.md).
- Priced at the tariff version in force when the maximum occurred (a demand stamps the end of its
  integration period: the version effective before that instant, as for an interval; without a time, the
  version in force at the month's end) on the account's sanctioned load; the lines are those of
  ``tariff.overdrawl_penalty`` (the penalty and the percentages on it), each its own posting, the wallet
  debited their sum; value date the month's last day.
- Nothing is posted under the ``trip`` policy, without an ``overdrawl`` rule, within the tolerance, or
  for an account that is not active.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from openprepaid.store.model import AccountStatus
from openprepaid.store.repository import ledger as ledger_repo
from openprepaid.store.repository import settlement as settlement_repo
from openprepaid.store.repository.tariff import TariffVersionRow
from openprepaid.store.repository.wallet_account import WalletAccount, wallet_account
from openprepaid.wallet import ledger
from openprepaid.wallet.charge_lines import WALLET_COMPONENT, charge_entry
from openprepaid.wallet.chart_of_accounts import ConsumerLedger, consumer_ledgers, utility_ledgers
from openprepaid.wallet.errors import UnknownAccountError, WalletError
from openprepaid.wallet.ledger import LedgerTransactionKind
from openprepaid.wallet.tariff import overdrawl_penalty
from openprepaid.wallet.tariff_store import TariffCatalog, TariffTimeline, timelines

BILLING_TOLERANCE = timedelta(hours=1)
_INSTANT = timedelta(microseconds=1)


class OverdrawlPenaltyError(WalletError):
    code = "overdrawl_penalty_refused"


class PenaltyOutcome(StrEnum):
    POSTED = "posted"
    POSTED_BEFORE = "posted_before"  # the month's penalty transaction exists: nothing done
    NO_PENALTY = "no_penalty"  # demand within sanctioned load + tolerance, or the tariff has no penalty
    NO_DEMAND = "no_demand"  # no month-end billing snapshot with a demand of this month (yet)
    NOT_ACTIVE = "not_active"  # the account is closed


@dataclass(frozen=True, slots=True)
class MonthDemand:
    meter_id: int
    max_demand_w: int
    max_demand_at: datetime | None
    billing_at: datetime

    def to_dict(self) -> dict[str, Any]:
        return {
            "meter_id": self.meter_id,
            "max_demand_w": self.max_demand_w,
            "max_demand_at": None if self.max_demand_at is None else self.max_demand_at.isoformat(),
            "billing_at": self.billing_at.isoformat(),
        }


@dataclass(frozen=True, slots=True)
class PenaltyResult:
    outcome: PenaltyOutcome
    demand: MonthDemand | None = None
    tariff_version_id: int | None = None
    amount_paise: int = 0  # debited from the wallet (the penalty and its percentages)
    ledger_transaction_id: int | None = None


def penalty_key(account_id: int, month_date: date) -> str:
    return f"overdrawl:{account_id}:{month_date:%Y-%m}"


def month_bounds(month_date: date, zone: ZoneInfo) -> tuple[datetime, datetime]:
    """The local month as aware UTC instants [start, end)."""
    first = month_date.replace(day=1)
    following = (first + timedelta(days=32)).replace(day=1)
    start = datetime.combine(first, time(0), tzinfo=zone).astimezone(UTC)
    end = datetime.combine(following, time(0), tzinfo=zone).astimezone(UTC)
    return start, end


def month_demand(session: Session, account: WalletAccount, month_date: date) -> MonthDemand | None:
    """The account's maximum demand of the local month from its meters' billing snapshots (None: not known)."""
    start, end = month_bounds(month_date, ZoneInfo(account.timezone))
    candidates = []
    for row in settlement_repo.billing_demands(
        session, account_id=account.id, month_start=start, month_end=end, tolerance=BILLING_TOLERANCE
    ):
        at = row.max_demand_at
        if at is None:
            whole_month = row.installed_at <= start and (row.removed_at is None or row.removed_at >= end)
            if not whole_month:
                continue
        elif not (start < at <= end and row.installed_at < at and (row.removed_at is None or at <= row.removed_at)):
            continue  # another month's demand, or the meter's time on another account
        candidates.append(MonthDemand(row.meter_id, row.max_demand_w, at, row.billing_at))
    if not candidates:
        return None
    return min(candidates, key=lambda d: (-d.max_demand_w, d.max_demand_at or end, d.meter_id))


def version_of_demand(timeline: TariffTimeline, demand: MonthDemand, month_end: datetime) -> TariffVersionRow | None:
    """The tariff version in force when the maximum occurred (just before its stamp; else at the month's end)."""
    return timeline.in_force_at((demand.max_demand_at or month_end) - _INSTANT)


def charge_overdrawl_penalty(
    session: Session,
    *,
    account_id: int,
    month_date: date,
    catalog: TariffCatalog,
    now: datetime,
    actor: str = "overdrawl",
) -> PenaltyResult:
    """Post the month's over-drawl penalty once, if the month's maximum demand calls for one.

    Run it for a month that is over: the monthly settlement does (before it reconciles the month), and a
    job may for months whose billing snapshot came after their settlement.
    """
    account = wallet_account(session, account_id)
    if account is None:
        raise UnknownAccountError(f"no account {account_id}")
    first = month_date.replace(day=1)
    key = penalty_key(account_id, first)
    stored = ledger_repo.transactions_by_key(session, [key]).get(key)
    if stored is not None:
        debit = sum(leg.amount_paise for leg in stored.legs if leg.component == WALLET_COMPONENT)
        return PenaltyResult(PenaltyOutcome.POSTED_BEFORE, amount_paise=debit, ledger_transaction_id=stored.id)
    if account.status is not AccountStatus.ACTIVE:
        return PenaltyResult(PenaltyOutcome.NOT_ACTIVE)
    demand = month_demand(session, account, first)
    if demand is None:
        return PenaltyResult(PenaltyOutcome.NO_DEMAND)
    if account.tariff_id is None:
        raise OverdrawlPenaltyError(f"account {account_id} has no tariff")
    zone = ZoneInfo(account.timezone)
    _, end = month_bounds(first, zone)
    version = version_of_demand(timelines(session, [account.tariff_id])[account.tariff_id], demand, end)
    if version is None:
        raise OverdrawlPenaltyError(f"no tariff version in force for account {account_id} at its maximum demand")
    lines = overdrawl_penalty(
        catalog.spec(version), max_demand_w=demand.max_demand_w, sanctioned_load_w=account.sanctioned_load_w
    )
    components: dict[str, int] = {}
    for line in lines:
        components[line.component] = components.get(line.component, 0) + line.amount_paise
    wallet = consumer_ledgers(session, [account_id]).get(account_id, {}).get(ConsumerLedger.PREPAID_WALLET)
    if wallet is None:
        raise OverdrawlPenaltyError(f"account {account_id} has no ledger accounts opened")
    entry = charge_entry(
        idempotency_key=key,
        kind=LedgerTransactionKind.OVERDRAWL_PENALTY,
        account_id=account_id,
        wallet_ledger_id=wallet,
        utility_ledgers=utility_ledgers(session, account.utility_id),
        components=components,
        effective_at=end,
        value_date=(end.astimezone(zone) - _INSTANT).date(),
        actor=actor,
        memo=_memo(first, demand, account.sanctioned_load_w, version, zone),
    )
    if entry is None:
        return PenaltyResult(PenaltyOutcome.NO_PENALTY, demand, version.id)
    posted = ledger.post(session, entry, now=now)
    return PenaltyResult(
        PenaltyOutcome.POSTED, demand, version.id, sum(components.values()), posted.ledger_transaction_id
    )


def _memo(first: date, demand: MonthDemand, sanctioned_load_w: int, version: TariffVersionRow, zone: ZoneInfo) -> str:
    when = "" if demand.max_demand_at is None else f" at {demand.max_demand_at.astimezone(zone):%Y-%m-%d %H:%M}"
    return (
        f"over-drawl penalty {first:%Y-%m}: maximum demand {demand.max_demand_w / 1000:.3f} kW{when} "
        f"above sanctioned {sanctioned_load_w / 1000:.3f} kW (tariff version {version.version})"
    )
