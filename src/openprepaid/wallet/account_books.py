"""Opening a consumer's books: ledger accounts, arrears carried over, the security deposit.

Invariants: each movement is one balanced ledger transaction with a deterministic key, so opening
an account twice, or recording the same deposit twice, changes nothing the second time.
- Opening arrears (dues from a previous postpaid system): arrears debited, ``opening_balances``
  credited; key ``opening-arrears:<account>``.
- Security deposit received: payment clearing debited, ``security_deposit`` credited; key
  ``deposit:<utility>:<payment ref>``.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from openprepaid.store.repository.wallet_account import WalletAccount, wallet_account
from openprepaid.wallet import ledger
from openprepaid.wallet.chart_of_accounts import (
    ConsumerLedger,
    UtilityLedger,
    consumer_ledgers,
    open_consumer_ledgers,
    open_utility_ledgers,
    utility_ledgers,
)
from openprepaid.wallet.errors import UnknownAccountError
from openprepaid.wallet.ledger import LedgerEntry, LedgerTransactionKind, Leg, Posted


def open_books(session: Session, account_ids: list[int]) -> dict[int, dict[ConsumerLedger, int]]:
    """Create (once) the ledger accounts of consumer accounts and of their utilities."""
    result: dict[int, dict[ConsumerLedger, int]] = {}
    by_utility: dict[int, list[int]] = {}
    for account_id in account_ids:
        account = _account(session, account_id)
        by_utility.setdefault(account.utility_id, []).append(account_id)
    for utility_id, ids in by_utility.items():
        open_utility_ledgers(session, utility_id)
        result.update(open_consumer_ledgers(session, utility_id=utility_id, account_ids=ids))
    return result


def _account(session: Session, account_id: int) -> WalletAccount:
    account = wallet_account(session, account_id)
    if account is None:
        raise UnknownAccountError(f"no account {account_id}")
    return account


def _ledgers(session: Session, account: WalletAccount) -> tuple[dict[UtilityLedger, int], dict[ConsumerLedger, int]]:
    books = utility_ledgers(session, account.utility_id)
    own = consumer_ledgers(session, [account.id]).get(account.id, {})
    if len(books) < len(UtilityLedger) or len(own) < len(ConsumerLedger):
        raise UnknownAccountError(f"account {account.id} has no ledger accounts opened (open_books first)")
    return books, own


def record_opening_arrears(
    session: Session, *, account_id: int, amount_paise: int, effective_at: datetime, actor: str, now: datetime
) -> Posted:
    """Carry dues over from a previous system; recovered later by a % of each recharge."""
    account = _account(session, account_id)
    books, own = _ledgers(session, account)
    entry = LedgerEntry(
        idempotency_key=f"opening-arrears:{account_id}",
        kind=LedgerTransactionKind.OPENING_BALANCE,
        legs=(
            Leg(own[ConsumerLedger.ARREARS], amount_paise, "arrears"),
            Leg(books[UtilityLedger.OPENING_BALANCES], -amount_paise, "arrears"),
        ),
        effective_at=effective_at,
        account_id=account_id,
        actor=actor,
        memo="arrears carried over",
    )
    return ledger.post(session, entry, now=now)


def record_security_deposit(
    session: Session,
    *,
    account_id: int,
    payment_ref: str,
    amount_paise: int,
    received_at: datetime,
    actor: str,
    now: datetime,
) -> Posted:
    """A refundable deposit received (held until the final bill)."""
    account = _account(session, account_id)
    books, own = _ledgers(session, account)
    entry = LedgerEntry(
        idempotency_key=f"deposit:{account.utility_id}:{payment_ref}",
        kind=LedgerTransactionKind.SECURITY_DEPOSIT,
        legs=(
            Leg(books[UtilityLedger.PAYMENT_CLEARING], amount_paise, "payment"),
            Leg(own[ConsumerLedger.SECURITY_DEPOSIT], -amount_paise, "security_deposit"),
        ),
        effective_at=received_at,
        account_id=account_id,
        actor=actor,
        memo=f"security deposit {payment_ref}",
    )
    return ledger.post(session, entry, now=now)
