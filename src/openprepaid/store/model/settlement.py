"""Settlement statements: the monthly reconciliation and the final bill of one account (domain.md C5).

A statement is written in the same database transaction as the ledger transaction that settles the
difference, and is unique per (account, month, kind): settling a month twice is impossible.
"""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from openprepaid.store.model.base import Base, BigId, id_column, str_enum


class SettlementKind(StrEnum):
    MONTHLY = "monthly"
    FINAL = "final"


class SettlementStatement(Base):
    """What was charged vs what the tariff bills for the period; ``lines`` per component."""

    __tablename__ = "settlement_statement"
    __table_args__ = (UniqueConstraint("account_id", "month_date", "kind"),)

    id: Mapped[int] = id_column()
    account_id: Mapped[int] = mapped_column(ForeignKey("account.id"), index=True)
    month_date: Mapped[date]  # first day of the local month settled
    kind: Mapped[SettlementKind] = mapped_column(str_enum(SettlementKind, "settlement_kind"))
    energy_wh: Mapped[int]
    charged_paise: Mapped[int]
    billed_paise: Mapped[int]
    difference_paise: Mapped[int]  # billed - charged: > 0 debited from the wallet, < 0 credited back
    lines: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    ledger_transaction_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("ledger_transaction.id"))
    created_at: Mapped[datetime]
    created_by: Mapped[str] = mapped_column(String(100))
