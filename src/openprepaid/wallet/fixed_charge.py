"""The daily fixed charge (domain.md §2 "Fixed charge"): monthly amount / days in that month, once per
account per local day, whether or not the meter sent data.

Invariants: key ``fixed:<account>:<local day>`` makes each day's charge happen once, however often
the job runs (an account whose key is stored is skipped); only days from the account's opening day
on are charged (as the month bill counts them); the day is priced by the tariff version in force at
the start of that local day and the account's sanctioned load; lines per component (fixed charge,
duty on it, ...) as the tariff engine gives them (``daily_fixed_charge``: a month of daily lines adds
up to the monthly amount).

Cost: the lines depend only on (tariff version, sanctioned load), so they are priced once per
distinct pair (a "template"), and the whole utility is posted by a few statements
(``ledger.post_per_account_once``): one query of the accounts, one insert of the transactions whose
keys the database makes, postings in bulk, one ordered balance update.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from openprepaid.store.repository.wallet_account import accounts_for_fixed_charge, utility_zone
from openprepaid.wallet import ledger
from openprepaid.wallet.charge_lines import add_lines, charge_entry
from openprepaid.wallet.chart_of_accounts import ConsumerLedger, UtilityLedger, utility_ledgers
from openprepaid.wallet.ledger import OWN_LEDGER, LedgerTransactionKind, Leg, PerAccountPosting
from openprepaid.wallet.tariff import TariffSpec, daily_fixed_charge
from openprepaid.wallet.tariff_store import TariffCatalog, timelines

KEY_PREFIX = "fixed:"


@dataclass(frozen=True, slots=True)
class FixedChargeResult:
    posted: int
    already_posted: int
    skipped: int  # accounts with no tariff version in force or no ledgers
    amount_paise: int


def fixed_charge_key(account_id: int, local_date: date) -> str:
    return f"{KEY_PREFIX}{account_id}:{local_date.isoformat()}"


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
    zone = ZoneInfo(utility_zone(session, utility_id))
    day_start = datetime.combine(local_date, time(0), tzinfo=zone)
    next_day = datetime.combine(local_date + timedelta(days=1), time(0), tzinfo=zone)
    accounts = accounts_for_fixed_charge(
        session, utility_id=utility_id, wallet_code=ConsumerLedger.PREPAID_WALLET.value, opened_before=next_day
    )
    books = utility_ledgers(session, utility_id)
    in_force = {
        tariff_id: line.in_force_at(day_start)
        for tariff_id, line in timelines(session, sorted({a.tariff_id for a in accounts})).items()
    }
    templates: list[tuple[Leg, ...]] = []
    template_of: dict[tuple[int, int], int] = {}  # (version, load) -> template index, -1: nothing to charge
    to_post: list[tuple[int, int, int]] = []
    skipped = 0
    for account in accounts:
        version = in_force.get(account.tariff_id)
        if not account.opened or version is None or account.wallet_ledger_id is None:
            skipped += 1  # not a consumer yet on that day, no version in force, or no wallet
            continue
        key = (version.id, account.sanctioned_load_w)
        template = template_of.get(key)
        if template is None:
            legs = _template_legs(catalog.spec(version), account.sanctioned_load_w, local_date, books, day_start)
            template = template_of[key] = len(templates) if legs else -1
            if legs:
                templates.append(legs)
        if template >= 0:
            to_post.append((account.account_id, account.wallet_ledger_id, template))
    posting = PerAccountPosting(
        kind=LedgerTransactionKind.FIXED_CHARGE,
        key_prefix=KEY_PREFIX,
        key_suffix=f":{local_date.isoformat()}",
        effective_at=day_start,
        value_date=local_date,
        actor=actor,
        templates=templates,
    )
    created = ledger.post_per_account_once(session, posting, to_post, now=now)
    amount = sum(_wallet_amount(templates[template]) for account_id, _, template in to_post if account_id in created)
    return FixedChargeResult(len(created), len(to_post) - len(created), skipped, amount)


def _template_legs(
    spec: TariffSpec, load_w: int, local_date: date, books: Mapping[UtilityLedger, int], day_start: datetime
) -> tuple[Leg, ...]:
    """The day's legs for one (version, load), ``OWN_LEDGER`` standing for the wallet; () if nothing to charge."""
    components: dict[str, int] = {}
    add_lines(components, daily_fixed_charge(spec, sanctioned_load_w=load_w, local_date=local_date))
    kind = LedgerTransactionKind.FIXED_CHARGE
    entry = charge_entry(
        idempotency_key=KEY_PREFIX, kind=kind, account_id=0, wallet_ledger_id=OWN_LEDGER, utility_ledgers=books,
        components=components, effective_at=day_start, value_date=local_date, actor="",
    )  # fmt: skip
    return () if entry is None else entry.legs


def _wallet_amount(legs: tuple[Leg, ...]) -> int:
    return sum(leg.amount_paise for leg in legs if leg.ledger_account_id == OWN_LEDGER)
