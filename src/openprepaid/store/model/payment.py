"""Payments received for recharges; the payment reference is the idempotency key (domain.md C4).

A payment row carries its receipt: how much went to the wallet and how much to arrears, and the
wallet balance right after it was credited (consumer's view, paise). A reversal (bounced payment)
changes ``status`` and fills the ``reversal_*`` columns; the money moves only in the ledger.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, CheckConstraint, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from openprepaid.store.model.base import Base, BigId, id_column, str_enum


class PaymentStatus(StrEnum):
    CREDITED = "credited"
    REVERSED = "reversed"
    REJECTED = "rejected"


class Payment(Base):
    __tablename__ = "payment"
    __table_args__ = (
        UniqueConstraint("utility_id", "payment_ref"),
        CheckConstraint("amount_paise > 0", name="amount_positive"),
        CheckConstraint(
            "wallet_credit_paise >= 0 AND arrears_recovered_paise >= 0"
            " AND wallet_credit_paise + arrears_recovered_paise = amount_paise",
            name="split_adds_up",
        ),
    )

    id: Mapped[int] = id_column()
    utility_id: Mapped[int] = mapped_column(ForeignKey("utility.id"), index=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("account.id"), index=True)
    payment_ref: Mapped[str] = mapped_column(String(100))
    amount_paise: Mapped[int]
    channel: Mapped[str] = mapped_column(String(40))
    status: Mapped[PaymentStatus] = mapped_column(str_enum(PaymentStatus, "payment_status"))
    received_at: Mapped[datetime]
    wallet_credit_paise: Mapped[int]
    arrears_recovered_paise: Mapped[int] = mapped_column(default=0)
    wallet_balance_after_paise: Mapped[int]
    actor: Mapped[str] = mapped_column(String(100), default="")
    ledger_transaction_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("ledger_transaction.id"))
    reversed_at: Mapped[datetime | None]
    reversal_ledger_transaction_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("ledger_transaction.id"))
    reversal_reason: Mapped[str] = mapped_column(String(200), default="")
    reversed_by: Mapped[str] = mapped_column(String(100), default="")
    rejection_reason: Mapped[str] = mapped_column(String(200), default="")
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
