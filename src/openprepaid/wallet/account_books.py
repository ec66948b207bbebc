"""Opening a consumer's books: ledger accounts, arrears carried over, the security deposit.

Invariants: each movement is one balanced ledger transaction with a deterministic key, so opening
an account twice, or recording the same deposit twice, changes nothing the second time.
- Opening arrears (dues from a previous postpaid system): arrears debited, ``opening_balances``
  credited; key ``opening-arrears:<account>``.
- Security deposit received: payment clearing debited, ``security_deposit`` credited; key
  ``deposit:<utility>:<payment ref>``.
"""

from __future__ import annotations

from dataclasses import dataclass
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


@dataclass(frozen=True, slots=True)
class _Movement:
    """A two-leg movement: ``debit`` is debited and ``credit`` credited ``amount_paise``."""

    key: str
    kind: LedgerTransactionKind
    debit: tuple[int, str]  # (ledger account, component)
    credit: tuple[int, str]
    memo: str


def _post(
    session: Session,
    movement: _Movement,
    *,
    account_id: int,
    amount_paise: int,
    at: datetime,
    actor: str,
    now: datetime,
) -> Posted:
    entry = LedgerEntry(
        idempotency_key=movement.key,
        kind=movement.kind,
        legs=(
            Leg(movement.debit[0], amount_paise, movement.debit[1]),
            Leg(movement.credit[0], -amount_paise, movement.credit[1]),
        ),
        effective_at=at,
        account_id=account_id,
        actor=actor,
        memo=movement.memo,
    )
    return ledger.post(session, entry, now=now)


def record_opening_arrears(
    session: Session, *, account_id: int, amount_paise: int, effective_at: datetime, actor: str, now: datetime
) -> Posted:
    """Carry dues over from a previous system; recovered later by a % of each recharge."""
    books, own = _ledgers(session, _account(session, account_id))
    movement = _Movement(
        f"opening-arrears:{account_id}",
        LedgerTransactionKind.OPENING_BALANCE,
        (own[ConsumerLedger.ARREARS], "arrears"),
        (books[UtilityLedger.OPENING_BALANCES], "arrears"),
        "arrears carried over",
    )
    return _post(
        session, movement, account_id=account_id, amount_paise=amount_paise, at=effective_at, actor=actor, now=now
    )


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
    movement = _Movement(
        f"deposit:{account.utility_id}:{payment_ref}",
        LedgerTransactionKind.SECURITY_DEPOSIT,
        (books[UtilityLedger.PAYMENT_CLEARING], "payment"),
        (own[ConsumerLedger.SECURITY_DEPOSIT], "security_deposit"),
        f"security deposit {payment_ref}",
    )
    return _post(
        session, movement, account_id=account_id, amount_paise=amount_paise, at=received_at, actor=actor, now=now
    )
