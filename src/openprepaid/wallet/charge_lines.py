"""Tariff charge lines -> one balanced ledger transaction (domain.md C3: each component its own line).

Invariant: for a consumer charged components ``c_i`` (paise, positive = charge, negative = rebate
or subsidy), the transaction debits the wallet ``sum(c_i)`` and posts ``-c_i`` to the utility ledger
of each component: revenue and payables are credited, rebate and subsidy expenses debited. The
legs sum to zero by construction; zero components are left out.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date, datetime
from functools import cache

from openprepaid.wallet.chart_of_accounts import UtilityLedger
from openprepaid.wallet.ledger import LedgerEntry, LedgerTransactionKind, Leg
from openprepaid.wallet.tariff import ChargeLine

_LEDGER_OF_GROUP = {
    "energy": UtilityLedger.ENERGY_REVENUE,
    "fixed": UtilityLedger.FIXED_CHARGE_REVENUE,
    "minimum": UtilityLedger.FIXED_CHARGE_REVENUE,
    "penalty": UtilityLedger.PENALTY_REVENUE,
    "surcharge": UtilityLedger.SURCHARGE_PAYABLE,
    "duty": UtilityLedger.DUTY_PAYABLE,
    "rebate": UtilityLedger.REBATE_EXPENSE,
    "subsidy": UtilityLedger.SUBSIDY_EXPENSE,
}

WALLET_COMPONENT = "total"


@cache
def ledger_of_component(component: str) -> UtilityLedger:
    """``energy.slab2`` -> energy revenue, ``duty.electricity`` -> duty payable, ... (by the group prefix)."""
    group = component.partition(".")[0]
    try:
        return _LEDGER_OF_GROUP[group]
    except KeyError:
        raise ValueError(f"no ledger for charge component {component!r}") from None


def add_lines(totals: dict[str, int], lines: Iterable[ChargeLine]) -> None:
    for line in lines:
        totals[line.component] = totals.get(line.component, 0) + line.amount_paise


def charge_entry(
    *,
    idempotency_key: str,
    kind: LedgerTransactionKind,
    account_id: int,
    wallet_ledger_id: int,
    utility_ledgers: Mapping[UtilityLedger, int],
    components: Mapping[str, int],
    effective_at: datetime,
    value_date: date | None,
    actor: str,
    memo: str = "",
) -> LedgerEntry | None:
    """The wallet charged (or credited) the components; ``None`` when every component is zero."""
    legs = [
        Leg(utility_ledgers[ledger_of_component(component)], -amount, component)
        for component, amount in sorted(components.items())
        if amount
    ]
    if not legs:
        return None
    total = sum(components.values())
    if total:
        legs.insert(0, Leg(wallet_ledger_id, total, WALLET_COMPONENT))
    return LedgerEntry(
        idempotency_key=idempotency_key,
        kind=kind,
        legs=tuple(legs),
        effective_at=effective_at,
        account_id=account_id,
        value_date=value_date,
        actor=actor,
        memo=memo,
    )
