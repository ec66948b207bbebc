"""Double-entry ledger tables (TigerBeetle-style design: append-only postings, caller-chosen ids).

Invariants (tested by the wallet): the postings of a ledger_transaction sum to zero; a ledger
account's balance is the sum of its postings and ``balance_paise`` is a cache of exactly that;
the sum over all postings is zero. Rows are never updated or deleted, except the balance cache.
A transaction is reversed at most once (unique ``reverses_id``). Sign convention and the chart of
accounts: ``docs/ledger.md``.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, text
from sqlalchemy.orm import Mapped, mapped_column

from openprepaid.store.model.base import Base, BigId, id_column


class LedgerAccount(Base):
    """``key`` names it uniquely, e.g. ``acct:42:prepaid_wallet`` or ``utility:1:energy_revenue``."""

    __tablename__ = "ledger_account"
    # Room on each page for balance updates in place (HOT: no index entries); migration 0009.
    __table_args__ = ({"postgresql_with": {"fillfactor": 50}},)

    id: Mapped[int] = id_column()
    utility_id: Mapped[int] = mapped_column(ForeignKey("utility.id"), index=True)
    key: Mapped[str] = mapped_column(String(100), unique=True)
    account_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("account.id"), index=True)
    code: Mapped[str] = mapped_column(String(40))
    # Cached sum of postings; checked against the postings by the wallet's audit.
    balance_paise: Mapped[int] = mapped_column(default=0)
    version: Mapped[int] = mapped_column(default=0)


class LedgerTransaction(Base):
    """Indexes kept to what the hot path can afford: id, idempotency key, (account, value date) for
    statements, and a partial unique index on ``reverses_id`` (a transaction is reversed at most once)."""

    __tablename__ = "ledger_transaction"
    __table_args__ = (
        Index("ix_ledger_transaction_account_value_date", "account_id", "value_date"),
        Index(
            "ux_ledger_transaction_reverses_id",
            "reverses_id",
            unique=True,
            sqlite_where=text("reverses_id IS NOT NULL"),
            postgresql_where=text("reverses_id IS NOT NULL"),
        ),
    )

    id: Mapped[int] = id_column()
    # Compared bytewise (ASCII keys, equality only): cheaper unique-index inserts on PostgreSQL (0009).
    idempotency_key: Mapped[str] = mapped_column(
        String(200).with_variant(String(200, collation="C"), "postgresql"), unique=True
    )
    kind: Mapped[str] = mapped_column(String(40))
    account_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("account.id"))
    effective_at: Mapped[datetime]
    # The consumer's local day the movement belongs to (charges, true-ups, settlements); statements group by it.
    value_date: Mapped[date | None]
    created_at: Mapped[datetime]
    actor: Mapped[str] = mapped_column(String(100))
    memo: Mapped[str] = mapped_column(String(500), default="")
    reverses_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("ledger_transaction.id"))


class Posting(Base):
    """One leg: positive debits the ledger account, negative credits it (consumer wallet credit < 0).

    Keyed (ledger transaction, line). No foreign keys: per-row foreign-key checks cost more than the
    insert itself on the bulk path (docs/ledger.md); the ledger writes postings only for the
    transaction it has just inserted and for accounts it has resolved, and ``ledger.audit`` checks
    that every posting's transaction and ledger account exist.
    """

    __tablename__ = "posting"
    __table_args__ = (CheckConstraint("amount_paise <> 0", name="amount_nonzero"),)

    ledger_transaction_id: Mapped[int] = mapped_column(BigId, primary_key=True)
    line_no: Mapped[int] = mapped_column(primary_key=True)
    ledger_account_id: Mapped[int] = mapped_column(BigId, index=True)
    amount_paise: Mapped[int]
    component: Mapped[str] = mapped_column(String(60), default="")
