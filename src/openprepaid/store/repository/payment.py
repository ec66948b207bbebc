"""Payments (recharges) by payment reference; the wallet decides, this only reads and writes rows."""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from openprepaid.store.model import Payment, PaymentStatus


class DuplicatePaymentRefError(Exception):
    """The (utility, payment reference) is taken."""


@dataclass(frozen=True, slots=True)
class PaymentRow:
    id: int
    utility_id: int
    account_id: int
    payment_ref: str
    amount_paise: int
    channel: str
    status: PaymentStatus
    received_at: datetime
    wallet_credit_paise: int
    arrears_recovered_paise: int
    wallet_balance_after_paise: int
    actor: str
    ledger_transaction_id: int | None
    reversed_at: datetime | None
    reversal_ledger_transaction_id: int | None
    reversal_reason: str
    reversed_by: str


_COLUMNS = [getattr(Payment, field.name) for field in fields(PaymentRow)]


def payment_by_ref(session: Session, utility_id: int, payment_ref: str) -> PaymentRow | None:
    statement = select(*_COLUMNS).where(Payment.utility_id == utility_id, Payment.payment_ref == payment_ref)
    row = session.execute(statement).one_or_none()
    return None if row is None else PaymentRow(*row)


def payments_of(session: Session, account_id: int) -> list[PaymentRow]:
    statement = select(*_COLUMNS).where(Payment.account_id == account_id).order_by(Payment.received_at, Payment.id)
    return [PaymentRow(*row) for row in session.execute(statement)]


def insert_payment(session: Session, values: dict[str, Any]) -> int:
    """Insert a payment row; ``DuplicatePaymentRefError`` if its reference is taken (nothing written)."""
    try:
        with session.begin_nested():
            statement = insert(Payment).values(details={}, rejection_reason="", **values).returning(Payment.id)
            return int(session.execute(statement).scalar_one())
    except IntegrityError as exc:
        raise DuplicatePaymentRefError(str(exc.orig)) from exc


def mark_reversed(
    session: Session, payment_id: int, *, reversed_at: datetime, ledger_transaction_id: int, reason: str, actor: str
) -> bool:
    """Credited -> reversed; False when the payment was not in the credited state."""
    statement = (
        update(Payment)
        .where(Payment.id == payment_id, Payment.status == PaymentStatus.CREDITED)
        .values(
            status=PaymentStatus.REVERSED,
            reversed_at=reversed_at,
            reversal_ledger_transaction_id=ledger_transaction_id,
            reversal_reason=reason[:200],
            reversed_by=actor[:100],
        )
        .execution_options(synchronize_session=False)
    )
    return bool(session.execute(statement).rowcount)  # type: ignore[attr-defined]
