"""Payments received for recharges; the payment reference is the idempotency key (domain.md C4)."""

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
    )

    id: Mapped[int] = id_column()
    utility_id: Mapped[int] = mapped_column(ForeignKey("utility.id"), index=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("account.id"), index=True)
    payment_ref: Mapped[str] = mapped_column(String(100))
    amount_paise: Mapped[int]
    channel: Mapped[str] = mapped_column(String(40))
    status: Mapped[PaymentStatus] = mapped_column(str_enum(PaymentStatus, "payment_status"))
    received_at: Mapped[datetime]
    ledger_transaction_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("ledger_transaction.id"))
    reversed_at: Mapped[datetime | None]
    reversal_ledger_transaction_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("ledger_transaction.id")
    )
    rejection_reason: Mapped[str] = mapped_column(String(200), default="")
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
