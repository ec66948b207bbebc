"""ledger: lean indexes for the bulk path; postings keyed (transaction, line) without foreign keys

ledger_transaction loses its kind and account_id indexes (the (account_id, value_date) index covers
account queries) and its unique constraint on reverses_id becomes a partial unique index (only
reversals are indexed). posting is rebuilt keyed (ledger_transaction_id, line_no) with one secondary
index (ledger_account_id) and no foreign keys; ledger.audit checks for orphans instead. On the
charging hot path each index and foreign key cost about as much as the row itself (docs/ledger.md).

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-24 07:20:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_COLUMNS = "ledger_transaction_id, line_no, ledger_account_id, amount_paise, component"
_REVERSALS_ONLY = sa.text("reverses_id IS NOT NULL")


def _hold_postings() -> None:
    """Move the postings aside and drop the table (its indexes go with it)."""
    op.execute(f"CREATE TABLE posting_hold AS SELECT {_COLUMNS} FROM posting")  # noqa: S608
    op.drop_table("posting")


def upgrade() -> None:
    with op.batch_alter_table("ledger_transaction", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_ledger_transaction_kind"))
        batch_op.drop_index(batch_op.f("ix_ledger_transaction_account_id"))
        batch_op.drop_constraint(batch_op.f("uq_ledger_transaction_reverses_id"), type_="unique")
        batch_op.create_index(
            "ux_ledger_transaction_reverses_id",
            ["reverses_id"],
            unique=True,
            sqlite_where=_REVERSALS_ONLY,
            postgresql_where=_REVERSALS_ONLY,
        )
    _hold_postings()
    op.create_table(
        "posting",
        sa.Column("ledger_transaction_id", BigId, nullable=False),
        sa.Column("line_no", sa.BigInteger(), nullable=False),
        sa.Column("ledger_account_id", BigId, nullable=False),
        sa.Column("amount_paise", sa.BigInteger(), nullable=False),
        sa.Column("component", sa.String(length=60), nullable=False),
        sa.CheckConstraint("amount_paise <> 0", name=op.f("ck_posting_amount_nonzero")),
        sa.PrimaryKeyConstraint("ledger_transaction_id", "line_no", name=op.f("pk_posting")),
    )
    op.execute(f"INSERT INTO posting ({_COLUMNS}) SELECT {_COLUMNS} FROM posting_hold")  # noqa: S608
    op.drop_table("posting_hold")
    with op.batch_alter_table("posting", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_posting_ledger_account_id"), ["ledger_account_id"], unique=False)


def downgrade() -> None:
    _hold_postings()
    op.create_table(
        "posting",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("ledger_transaction_id", BigId, nullable=False),
        sa.Column("line_no", sa.BigInteger(), nullable=False),
        sa.Column("ledger_account_id", BigId, nullable=False),
        sa.Column("amount_paise", sa.BigInteger(), nullable=False),
        sa.Column("component", sa.String(length=60), nullable=False),
        sa.CheckConstraint("amount_paise <> 0", name=op.f("ck_posting_amount_nonzero")),
        sa.ForeignKeyConstraint(
            ["ledger_account_id"], ["ledger_account.id"], name=op.f("fk_posting_ledger_account_id_ledger_account")
        ),
        sa.ForeignKeyConstraint(
            ["ledger_transaction_id"],
            ["ledger_transaction.id"],
            name=op.f("fk_posting_ledger_transaction_id_ledger_transaction"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_posting")),
        sa.UniqueConstraint("ledger_transaction_id", "line_no", name=op.f("uq_posting_ledger_transaction_id_line_no")),
    )
    op.execute(f"INSERT INTO posting ({_COLUMNS}) SELECT {_COLUMNS} FROM posting_hold ORDER BY {_COLUMNS}")  # noqa: S608
    op.drop_table("posting_hold")
    with op.batch_alter_table("posting", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_posting_ledger_account_id"), ["ledger_account_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_posting_ledger_transaction_id"), ["ledger_transaction_id"], unique=False)
    with op.batch_alter_table("ledger_transaction", schema=None) as batch_op:
        batch_op.drop_index("ux_ledger_transaction_reverses_id")
        batch_op.create_unique_constraint(batch_op.f("uq_ledger_transaction_reverses_id"), ["reverses_id"])
        batch_op.create_index(batch_op.f("ix_ledger_transaction_account_id"), ["account_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_ledger_transaction_kind"), ["kind"], unique=False)
