"""Data for the enforcement-gap report (domain.md §2, §3): active accounts whose wallet is below zero.

Only the balances: the rules (``openprepaid.wallet.rules``) classify why such an account is still
connected (meter offline, command failed, blocked window, protected). Balances are the consumer's
view (negative = owing), read from the cached ledger balance (audited against the postings).
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session

from openprepaid.store.repository.wallet_account import accounts_with_wallet_above
from openprepaid.wallet.chart_of_accounts import ConsumerLedger, consumer_balance_paise


@dataclass(frozen=True, slots=True)
class NegativeBalance:
    account_id: int
    utility_id: int
    balance_paise: int  # consumer's view: < threshold (e.g. < 0)
    protected: bool
    category: str


def accounts_below(
    session: Session, *, utility_id: int, threshold_paise: int = 0, after_account_id: int = 0, page_size: int = 1000
) -> list[NegativeBalance]:
    """Active accounts with a wallet balance below ``threshold_paise``, by account id (keyset paging:
    pass the last id of a page as ``after_account_id`` for the next)."""
    rows = accounts_with_wallet_above(
        session,
        utility_id=utility_id,
        wallet_code=ConsumerLedger.PREPAID_WALLET.value,
        ledger_balance_above_paise=-threshold_paise,
        limit=page_size,
        after_id=after_account_id,
    )
    return [
        NegativeBalance(
            row.account_id,
            row.utility_id,
            consumer_balance_paise(row.ledger_balance_paise),
            row.protected,
            row.category,
        )
        for row in rows
    ]
