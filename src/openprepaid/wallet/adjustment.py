"""Operator adjustments: a correction credited to or debited from a consumer's wallet (domain.md C5).

Invariants:
- An adjustment is identified by (utility, the operator's reference): ledger key
  ``adjustment:<utility>:<reference>``. The reference alone decides whether it was made before: a retry
  with the same reference, account and amount posts nothing and returns the first adjustment
  (``replayed=True``) — whatever its effective time, reason or actor now (a retried command has a new
  "now"); the same reference with another account or amount is refused (``AdjustmentConflictError``).
- The money moves in one balanced ledger transaction: ``amount_paise`` > 0 credits the wallet (wallet
  −amount, adjustments +amount), < 0 debits it; never an edit of history. A debit may take the wallet
  below zero (the prepaid rules then act as for any charge).
- It carries a reason (the transaction's memo, 1..200 characters) and an actor; it is bounded in either
  direction by ``maximum_paise`` (the caller's policy: the CLI uses the recharge maximum); a closed
  account takes none (its final bill zeroed the wallet).
Nothing here commits: the caller's unit of work does.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from openprepaid.store.model import AccountStatus
from openprepaid.store.repository import ledger as ledger_repo
from openprepaid.store.repository.ledger import StoredLedgerTransaction
from openprepaid.store.repository.wallet_account import wallet_account
from openprepaid.wallet import ledger
from openprepaid.wallet.chart_of_accounts import ConsumerLedger, UtilityLedger, consumer_ledgers, utility_ledgers
from openprepaid.wallet.errors import AccountClosedError, UnknownAccountError, WalletError
from openprepaid.wallet.ledger import LedgerEntry, LedgerTransactionKind, Leg

REASON_MAX = 200
REFERENCE_MAX = 100
COMPONENT = "adjustment"


class AdjustmentError(WalletError):
    code = "adjustment_refused"


class InvalidAdjustmentError(AdjustmentError):
    code = "invalid_adjustment"


class AdjustmentConflictError(AdjustmentError):
    """The reference was used for another account or amount: a new correction needs a new reference."""

    code = "adjustment_conflict"
    http_status = 409

    def __init__(self, message: str, existing: Adjustment) -> None:
        super().__init__(message)
        self.existing = existing


@dataclass(frozen=True, slots=True)
class Adjustment:
    ledger_transaction_id: int
    reference: str
    account_id: int
    amount_paise: int  # > 0 credited to the wallet, < 0 debited
    reason: str
    actor: str
    effective_at: datetime
    posted_at: datetime
    replayed: bool = False


def adjustment_key(utility_id: int, reference: str) -> str:
    return f"adjustment:{utility_id}:{reference}"


def adjust(
    session: Session,
    *,
    account_id: int,
    amount_paise: int,
    reason: str,
    actor: str,
    reference: str,
    effective_at: datetime,
    now: datetime,
    maximum_paise: int | None = None,
) -> Adjustment:
    """Credit (``amount_paise`` > 0) or debit (< 0) the account's wallet once per reference."""
    if type(amount_paise) is not int or amount_paise == 0:
        raise InvalidAdjustmentError(f"an adjustment needs a non-zero whole number of paise, not {amount_paise!r}")
    if maximum_paise is not None and abs(amount_paise) > maximum_paise:
        raise InvalidAdjustmentError(f"{abs(amount_paise)} paise is above the adjustment limit of {maximum_paise}")
    if not 0 < len(reason.strip()) <= REASON_MAX or not actor.strip():
        raise InvalidAdjustmentError(f"an adjustment needs a reason (1..{REASON_MAX} characters) and an actor")
    if not 0 < len(reference) <= REFERENCE_MAX:
        raise InvalidAdjustmentError(f"an adjustment needs a reference of 1..{REFERENCE_MAX} characters")
    account = wallet_account(session, account_id)
    if account is None:
        raise UnknownAccountError(f"no account {account_id}")
    key = adjustment_key(account.utility_id, reference)
    books = utility_ledgers(session, account.utility_id)
    if UtilityLedger.ADJUSTMENTS not in books:
        raise AdjustmentError(f"utility {account.utility_id} has no ledger accounts opened")
    stored = ledger_repo.transactions_by_key(session, [key]).get(key)
    if stored is not None:
        return _replay(stored, reference, account_id, amount_paise, books[UtilityLedger.ADJUSTMENTS])
    if account.status is not AccountStatus.ACTIVE:
        raise AccountClosedError(f"account {account_id} is {account.status.value}: it takes no adjustment")
    wallet = consumer_ledgers(session, [account_id]).get(account_id, {}).get(ConsumerLedger.PREPAID_WALLET)
    if wallet is None:
        raise AdjustmentError(f"account {account_id} has no ledger accounts opened")
    entry = LedgerEntry(
        idempotency_key=key,
        kind=LedgerTransactionKind.ADJUSTMENT,
        legs=(Leg(wallet, -amount_paise, COMPONENT), Leg(books[UtilityLedger.ADJUSTMENTS], amount_paise, COMPONENT)),
        effective_at=effective_at,
        account_id=account_id,
        actor=actor.strip(),
        memo=reason.strip(),
    )
    try:
        posted = ledger.post(session, entry, now=now)
    except ledger.IdempotencyConflictError:
        # A concurrent unit of work posted this reference since we looked (with its own "now"): judge it by
        # the reference, like any retry.
        raced = ledger_repo.transactions_by_key(session, [key]).get(key)
        assert raced is not None
        return _replay(raced, reference, account_id, amount_paise, books[UtilityLedger.ADJUSTMENTS])
    if posted.outcome is ledger.Outcome.EXISTS:
        raced = ledger_repo.transactions_by_key(session, [key])[key]
        return _replay(raced, reference, account_id, amount_paise, books[UtilityLedger.ADJUSTMENTS])
    return Adjustment(
        posted.ledger_transaction_id, reference, account_id, amount_paise, entry.memo, entry.actor, effective_at, now
    )


def _replay(
    stored: StoredLedgerTransaction, reference: str, account_id: int, amount_paise: int, adjustments_ledger: int
) -> Adjustment:
    """The adjustment made before under this reference, if it is the same one (account and amount)."""
    amount = sum(leg.amount_paise for leg in stored.legs if leg.ledger_account_id == adjustments_ledger)
    first = Adjustment(
        stored.id,
        reference,
        stored.account_id if stored.account_id is not None else 0,
        amount,
        stored.memo,
        stored.actor,
        stored.effective_at,
        stored.created_at,
        replayed=True,
    )
    if stored.kind != LedgerTransactionKind.ADJUSTMENT.value or (first.account_id, first.amount_paise) != (
        account_id,
        amount_paise,
    ):
        raise AdjustmentConflictError(
            f"adjustment reference {reference!r} was already used for account {first.account_id}, "
            f"{first.amount_paise} paise, posted {first.posted_at:%Y-%m-%d %H:%M} UTC: "
            "a new correction needs a new reference",
            first,
        )
    return first
