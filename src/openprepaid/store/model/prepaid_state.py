"""What the prepaid rules service keeps between evaluations (domain.md §2 notices, emergency credit).

- ``prepaid_rules_state``: one row per account — the two persisted rule states
  (``EmergencyCreditState`` / ``NoticeState`` as JSON), the balance at the last evaluation (for
  notice crossings) and one balance mark per local day from which the average daily spend over
  the last 7 days is derived without scanning the ledger.
- ``notice``: every low-balance / emergency-credit notice recorded, once: ``dedup_key`` is unique,
  so re-running the same evaluation step (a retry, a crash-rerun) records nothing twice.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from openprepaid.store.model.base import Base, BigId, id_column


class PrepaidRulesState(Base):
    __tablename__ = "prepaid_rules_state"

    account_id: Mapped[int] = mapped_column(BigId, ForeignKey("account.id"), primary_key=True)
    emergency_credit: Mapped[dict[str, Any]] = mapped_column(JSON)
    notice_state: Mapped[dict[str, Any]] = mapped_column(JSON)
    last_balance_paise: Mapped[int]
    evaluated_at: Mapped[datetime]
    # Daily marks [local date, balance, wallet credit of all payments so far] (at most 8, oldest first):
    # spend between two marks = balance drop + credits in between; their average is cached beside.
    spend_marks: Mapped[list[Any]] = mapped_column(JSON)
    average_daily_spend_paise: Mapped[int | None]
    # The open relay's disconnection, computed once: {"command_id", "balance_paise" (then)} (migration 0006).
    disconnection: Mapped[dict[str, Any] | None] = mapped_column(JSON)


class Notice(Base):
    """A notice to the consumer (low balance, emergency credit); the channels deliver it later."""

    __tablename__ = "notice"
    __table_args__ = (Index("ix_notice_account_created_at", "account_id", "created_at"),)

    id: Mapped[int] = id_column()
    account_id: Mapped[int] = mapped_column(ForeignKey("account.id"))
    kind: Mapped[str] = mapped_column(String(40))
    notice_key: Mapped[str] = mapped_column(String(80))  # e.g. percent_of_last_recharge:30
    threshold_paise: Mapped[int | None]
    balance_paise: Mapped[int]
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime]
    dedup_key: Mapped[str] = mapped_column(String(200), unique=True)
