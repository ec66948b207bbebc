"""Recharge and its reversal (domain.md C4, §2 "Arrears recovery").

Invariants:
- A recharge is identified by (utility, payment reference): crediting it twice is impossible. A
  retry with the same account and amount returns the first receipt (``replayed=True``); the same
  reference with another account or amount is refused (``PaymentRefConflictError``).
- The money moves in one balanced ledger transaction, key ``recharge:<utility>:<ref>``:
  payment clearing is debited the amount; the wallet is credited the amount less the arrears
  recovered; arrears are credited what was recovered (never more than is owed).
- Arrears recovered = round_paise(amount × percent / 100), capped at the arrears outstanding.
- A reversal (payment bounced) posts the exact negation, key ``recharge-reversal:<utility>:<ref>``:
  the wallet is debited back (it may go negative) and the recovered arrears are owed again.
- The payment row (the receipt) is written in the same database transaction as the ledger
  transaction; nothing here commits.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy.orm import Session

from openprepaid.store.model import AccountStatus, PaymentStatus
from openprepaid.store.repository import ledger as ledger_repo
from openprepaid.store.repository import payment as payment_repo
from openprepaid.store.repository.payment import PaymentRow
from openprepaid.store.repository.wallet_account import wallet_account
from openprepaid.wallet import ledger
from openprepaid.wallet.chart_of_accounts import (
    ConsumerLedger,
    UtilityLedger,
    consumer_balance_paise,
    consumer_ledgers,
    utility_ledgers,
)
from openprepaid.wallet.errors import AccountClosedError, UnknownAccountError, WalletError
from openprepaid.wallet.ledger import LedgerEntry, LedgerTransactionKind, Leg
from openprepaid.wallet.money import round_paise


class RechargeError(WalletError):
    code = "recharge_refused"


class InvalidRechargeError(RechargeError):
    code = "invalid_recharge"


class PaymentRefConflictError(RechargeError):
    code = "payment_ref_conflict"
    http_status = 409


class PaymentNotFoundError(RechargeError):
    code = "payment_not_found"
    http_status = 404


@dataclass(frozen=True, slots=True)
class RechargePolicy:
    """Per utility (and category) settings; every default is a setting, not a constant (domain.md §2)."""

    minimum_paise: int = 100  # ₹1
    maximum_paise: int = 100_000_000  # ₹10 lakh: a typing slip must not become a credit
    multiple_of_paise: int = 1  # e.g. 100 for whole rupees, 1000 for multiples of ₹10
    arrears_recovery_percent: Decimal = Decimal(0)  # references: 10-25 %

    def __post_init__(self) -> None:
        if not 0 < self.minimum_paise <= self.maximum_paise or self.multiple_of_paise < 1:
            raise ValueError(f"inconsistent recharge policy {self!r}")
        if not Decimal(0) <= self.arrears_recovery_percent <= Decimal(100):
            raise ValueError(f"arrears recovery percent must be within 0..100: {self.arrears_recovery_percent}")


@dataclass(frozen=True, slots=True)
class RechargeRequest:
    account_id: int
    payment_ref: str
    amount_paise: int
    channel: str  # api, console, portal, gateway:<name>
    received_at: datetime
    actor: str
    details: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Receipt:
    payment_id: int
    payment_ref: str
    account_id: int
    amount_paise: int
    wallet_credit_paise: int
    arrears_recovered_paise: int
    wallet_balance_after_paise: int  # consumer's view right after the credit: positive = in credit
    received_at: datetime
    ledger_transaction_id: int | None
    status: PaymentStatus
    reversed_at: datetime | None = None
    reversal_ledger_transaction_id: int | None = None
    replayed: bool = False


def recharge_key(utility_id: int, payment_ref: str) -> str:
    return f"recharge:{utility_id}:{payment_ref}"


def reversal_key(utility_id: int, payment_ref: str) -> str:
    return f"recharge-reversal:{utility_id}:{payment_ref}"


def _receipt(row: PaymentRow, *, replayed: bool) -> Receipt:
    return Receipt(
        payment_id=row.id,
        payment_ref=row.payment_ref,
        account_id=row.account_id,
        amount_paise=row.amount_paise,
        wallet_credit_paise=row.wallet_credit_paise,
        arrears_recovered_paise=row.arrears_recovered_paise,
        wallet_balance_after_paise=row.wallet_balance_after_paise,
        received_at=row.received_at,
        ledger_transaction_id=row.ledger_transaction_id,
        status=row.status,
        reversed_at=row.reversed_at,
        reversal_ledger_transaction_id=row.reversal_ledger_transaction_id,
        replayed=replayed,
    )


def _validate(request: RechargeRequest, policy: RechargePolicy) -> None:
    amount = request.amount_paise
    if type(amount) is not int:
        raise InvalidRechargeError(f"amount must be integer paise, not {amount!r}")
    if amount < policy.minimum_paise:
        raise InvalidRechargeError(f"amount {amount} paise is below the minimum {policy.minimum_paise}")
    if amount > policy.maximum_paise:
        raise InvalidRechargeError(f"amount {amount} paise is above the maximum {policy.maximum_paise}")
    if amount % policy.multiple_of_paise:
        raise InvalidRechargeError(f"amount {amount} paise is not a multiple of {policy.multiple_of_paise}")
    if not request.payment_ref or len(request.payment_ref) > 100 or not request.payment_ref.isprintable():
        raise InvalidRechargeError(f"payment reference must be 1..100 printable characters: {request.payment_ref!r}")
    if request.received_at.tzinfo is None or request.received_at.utcoffset() is None:
        raise InvalidRechargeError("received_at must be an aware datetime")


def _replay(row: PaymentRow, request: RechargeRequest) -> Receipt:
    if row.account_id != request.account_id or row.amount_paise != request.amount_paise:
        raise PaymentRefConflictError(
            f"payment reference {request.payment_ref!r} was used for account {row.account_id}, "
            f"amount {row.amount_paise} paise"
        )
    return _receipt(row, replayed=True)


def arrears_recovery_paise(amount_paise: int, percent: Decimal, arrears_outstanding_paise: int) -> int:
    """The part of a recharge that goes to old arrears: half-up per line, never more than is owed."""
    wanted = round_paise(Decimal(amount_paise) * percent / Decimal(100))
    return max(0, min(wanted, arrears_outstanding_paise))


def recharge(session: Session, request: RechargeRequest, *, policy: RechargePolicy, now: datetime) -> Receipt:
    """Credit a payment to the account's wallet (less arrears recovery), exactly once per reference."""
    _validate(request, policy)
    account = wallet_account(session, request.account_id)
    if account is None:
        raise UnknownAccountError(f"no account {request.account_id}")
    existing = payment_repo.payment_by_ref(session, account.utility_id, request.payment_ref)
    if existing is not None:
        return _replay(existing, request)
    if account.status is not AccountStatus.ACTIVE:
        raise AccountClosedError(f"account {account.id} is {account.status.value}")

    books = utility_ledgers(session, account.utility_id)
    own = consumer_ledgers(session, [account.id]).get(account.id, {})
    if UtilityLedger.PAYMENT_CLEARING not in books or len(own) < len(ConsumerLedger):
        raise UnknownAccountError(f"account {account.id} has no ledger accounts opened")
    wallet, arrears = own[ConsumerLedger.PREPAID_WALLET], own[ConsumerLedger.ARREARS]
    # Same-account recharges queue here; re-check the reference once we hold the lock.
    locked = ledger_repo.lock_ledger_accounts(session, [wallet, arrears])
    existing = payment_repo.payment_by_ref(session, account.utility_id, request.payment_ref)
    if existing is not None:
        return _replay(existing, request)

    recovered = arrears_recovery_paise(request.amount_paise, policy.arrears_recovery_percent, locked[arrears])
    credit = request.amount_paise - recovered
    legs = [Leg(books[UtilityLedger.PAYMENT_CLEARING], request.amount_paise, "payment")]
    if credit:
        legs.append(Leg(wallet, -credit, "wallet_credit"))
    if recovered:
        legs.append(Leg(arrears, -recovered, "arrears_recovery"))
    entry = LedgerEntry(
        idempotency_key=recharge_key(account.utility_id, request.payment_ref),
        kind=LedgerTransactionKind.RECHARGE,
        legs=tuple(legs),
        effective_at=request.received_at,
        account_id=account.id,
        actor=request.actor,
        memo=f"recharge {request.payment_ref} via {request.channel}",
    )
    try:
        posted = ledger.post(session, entry, now=now)
    except ledger.IdempotencyConflictError as exc:
        raise PaymentRefConflictError(f"payment reference {request.payment_ref!r} is taken") from exc
    balance_after = consumer_balance_paise(ledger.balance_paise(session, wallet))
    try:
        payment_id = payment_repo.insert_payment(
            session,
            {
                "utility_id": account.utility_id,
                "account_id": account.id,
                "payment_ref": request.payment_ref,
                "amount_paise": request.amount_paise,
                "channel": request.channel[:40],
                "status": PaymentStatus.CREDITED,
                "received_at": request.received_at,
                "wallet_credit_paise": credit,
                "arrears_recovered_paise": recovered,
                "wallet_balance_after_paise": balance_after,
                "actor": request.actor[:100],
                "ledger_transaction_id": posted.ledger_transaction_id,
            },
        )
    except payment_repo.DuplicatePaymentRefError as exc:
        # Only reachable if the ledger key was free but the payment row was not: a foreign writer.
        raise PaymentRefConflictError(f"payment reference {request.payment_ref!r} is taken") from exc
    row = payment_repo.payment_by_ref(session, account.utility_id, request.payment_ref)
    assert row is not None and row.id == payment_id
    return _receipt(row, replayed=False)


def reverse_recharge(
    session: Session,
    *,
    utility_id: int,
    payment_ref: str,
    reason: str,
    reversed_at: datetime,
    actor: str,
    now: datetime,
) -> Receipt:
    """Undo a credited payment (bounced, charged back): the wallet is debited back, arrears restored."""
    row = payment_repo.payment_by_ref(session, utility_id, payment_ref)
    if row is None:
        raise PaymentNotFoundError(f"no payment {payment_ref!r} in utility {utility_id}")
    if row.status is PaymentStatus.REVERSED:
        return _receipt(row, replayed=True)
    if row.status is not PaymentStatus.CREDITED or row.ledger_transaction_id is None:
        raise RechargeError(f"payment {payment_ref!r} is {row.status.value}: nothing to reverse")
    own = consumer_ledgers(session, [row.account_id]).get(row.account_id, {})
    ledger_repo.lock_ledger_accounts(session, own.values())
    row = payment_repo.payment_by_ref(session, utility_id, payment_ref)
    assert row is not None and row.ledger_transaction_id is not None
    if row.status is PaymentStatus.REVERSED:
        return _receipt(row, replayed=True)
    posted = ledger.reverse(
        session,
        row.ledger_transaction_id,
        idempotency_key=reversal_key(utility_id, payment_ref),
        effective_at=reversed_at,
        now=now,
        actor=actor,
        memo=f"reversal of {payment_ref}: {reason}"[:500],
        kind=LedgerTransactionKind.RECHARGE_REVERSAL,
    )
    payment_repo.mark_reversed(
        session,
        row.id,
        reversed_at=reversed_at,
        ledger_transaction_id=posted.ledger_transaction_id,
        reason=reason,
        actor=actor,
    )
    updated = payment_repo.payment_by_ref(session, utility_id, payment_ref)
    assert updated is not None
    return _receipt(updated, replayed=False)


def receipt_of(session: Session, *, utility_id: int, payment_ref: str) -> Receipt | None:
    row = payment_repo.payment_by_ref(session, utility_id, payment_ref)
    return None if row is None else _receipt(row, replayed=True)
