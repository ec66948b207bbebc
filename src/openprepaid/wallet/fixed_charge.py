"""The daily fixed charge (domain.md §2 "Fixed charge"): monthly amount / days in that month, once per
account per local day, whether or not the meter sent data.

Invariants: key ``fixed:<account>:<local day>`` makes each day's charge happen once, however often
the job runs; only days from the account's opening day on are charged (as the month bill counts
them); the day is priced by the tariff version in force at the start of that local day and the
account's sanctioned load; lines per component (fixed charge, duty on it, ...) as the tariff engine
gives them (``daily_fixed_charge``: a month of daily lines adds up to the monthly amount).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from openprepaid.store.repository.wallet_account import active_accounts_of_utility
from openprepaid.wallet import ledger
from openprepaid.wallet.charge_lines import add_lines, charge_entry
from openprepaid.wallet.chart_of_accounts import utility_ledgers, wallet_ledgers
from openprepaid.wallet.ledger import LedgerEntry, LedgerTransactionKind
from openprepaid.wallet.tariff import daily_fixed_charge
from openprepaid.wallet.tariff_store import TariffCatalog, timelines


@dataclass(frozen=True, slots=True)
class FixedChargeResult:
    posted: int
    already_posted: int
    skipped: int  # accounts with no tariff version in force or no ledgers
    amount_paise: int


def fixed_charge_key(account_id: int, local_date: date) -> str:
    return f"fixed:{account_id}:{local_date.isoformat()}"


def charge_daily_fixed(
    session: Session,
    *,
    utility_id: int,
    local_date: date,
    catalog: TariffCatalog,
    now: datetime,
    actor: str = "fixed-charge",
) -> FixedChargeResult:
    """Post the day's fixed charge for every active account of the utility (idempotent per day)."""
    accounts = [a for a in active_accounts_of_utility(session, utility_id) if a.tariff_id is not None]
    books = utility_ledgers(session, utility_id)
    wallets = wallet_ledgers(session, [a.id for a in accounts])
    lines_of = timelines(session, sorted({a.tariff_id for a in accounts if a.tariff_id is not None}))
    cache: dict[tuple[int, int], dict[str, int]] = {}
    entries: list[LedgerEntry] = []
    skipped = 0
    for account in accounts:
        assert account.tariff_id is not None
        zone = ZoneInfo(account.timezone)
        day_start = datetime.combine(local_date, time(0), tzinfo=zone)
        if account.opened_at.astimezone(zone).date() > local_date:
            skipped += 1  # not a consumer yet on that day
            continue
        version = lines_of[account.tariff_id].in_force_at(day_start)
        wallet = wallets.get(account.id)
        if version is None or wallet is None:
            skipped += 1
            continue
        key = (version.id, account.sanctioned_load_w)
        components = cache.get(key)
        if components is None:
            components = cache[key] = {}
            spec = catalog.spec(version)
            add_lines(
                components, daily_fixed_charge(spec, sanctioned_load_w=account.sanctioned_load_w, local_date=local_date)
            )
        entry = charge_entry(
            idempotency_key=fixed_charge_key(account.id, local_date),
            kind=LedgerTransactionKind.FIXED_CHARGE,
            account_id=account.id,
            wallet_ledger_id=wallet,
            utility_ledgers=books,
            components=components,
            effective_at=day_start,
            value_date=local_date,
            actor=actor,
        )
        if entry is not None:
            entries.append(entry)
    result = ledger.post_bulk_once(session, entries, now=now)
    amount = sum(entry.legs[0].amount_paise for entry in entries if entry.idempotency_key in result.created)
    return FixedChargeResult(len(result.created), len(result.existing), skipped, amount)
