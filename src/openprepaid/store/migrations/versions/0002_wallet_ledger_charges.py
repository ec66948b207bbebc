"""wallet: charges, true-ups, holds, usage totals, settlements; ledger value date; payment receipts

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-24 04:14:48.585866
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _enum(name: str, length: int, *values: str) -> sa.Enum:
    return sa.Enum(*values, name=name, native_enum=False, create_constraint=True, length=length)


def upgrade() -> None:
    op.create_table(
        "charge_interval",
        sa.Column("meter_id", BigId, nullable=False),
        sa.Column("interval_end_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("account_id", BigId, nullable=False),
        sa.Column("energy_wh", sa.BigInteger(), nullable=False),
        sa.Column(
            "status", _enum("interval_charge_status", 16, "charged", "held", "rejected", "covered"), nullable=False
        ),
        sa.Column("ledger_transaction_id", BigId, nullable=True),
        sa.PrimaryKeyConstraint("meter_id", "interval_end_at", name=op.f("pk_charge_interval")),
    )
    op.create_table(
        "usage_day",
        sa.Column("account_id", BigId, nullable=False),
        sa.Column("local_date", sa.Date(), nullable=False),
        sa.Column("meter_id", BigId, nullable=False),
        sa.Column("interval_count", sa.BigInteger(), nullable=False),
        sa.Column("interval_energy_wh", sa.BigInteger(), nullable=False),
        sa.Column("last_interval_end_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("account_id", "local_date", "meter_id", name=op.f("pk_usage_day")),
    )
    op.create_table(
        "usage_month",
        sa.Column("account_id", BigId, nullable=False),
        sa.Column("month_date", sa.Date(), nullable=False),
        sa.Column("billed_energy_wh", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("account_id", "month_date", name=op.f("pk_usage_month")),
    )
    op.create_table(
        "charge_hold",
        sa.Column("meter_id", BigId, nullable=False),
        sa.Column("source", _enum("hold_source", 13, "block", "daily"), nullable=False),
        sa.Column("period_end_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("account_id", BigId, nullable=True),
        sa.Column("energy_wh", sa.BigInteger(), nullable=False),
        sa.Column("limit_wh", sa.BigInteger(), nullable=True),
        sa.Column("reason", sa.String(length=200), nullable=False),
        sa.Column("state", _enum("hold_state", 16, "open", "released", "rejected"), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("resolved_by", sa.String(length=100), nullable=False),
        sa.Column("resolution_note", sa.String(length=500), nullable=False),
        sa.ForeignKeyConstraint(["account_id"], ["account.id"], name=op.f("fk_charge_hold_account_id_account")),
        sa.ForeignKeyConstraint(["meter_id"], ["meter.id"], name=op.f("fk_charge_hold_meter_id_meter")),
        sa.PrimaryKeyConstraint("meter_id", "source", "period_end_at", name=op.f("pk_charge_hold")),
    )
    with op.batch_alter_table("charge_hold", schema=None) as batch_op:
        batch_op.create_index("ix_charge_hold_state_account", ["state", "account_id"], unique=False)

    op.create_table(
        "charge_trueup",
        sa.Column("meter_id", BigId, nullable=False),
        sa.Column("local_date", sa.Date(), nullable=False),
        sa.Column("account_id", BigId, nullable=False),
        sa.Column("register_start_wh", sa.BigInteger(), nullable=False),
        sa.Column("register_end_wh", sa.BigInteger(), nullable=False),
        sa.Column("register_delta_wh", sa.BigInteger(), nullable=False),
        sa.Column("intervals_wh", sa.BigInteger(), nullable=False),
        sa.Column("difference_wh", sa.BigInteger(), nullable=False),
        sa.Column("status", _enum("trueup_status", 14, "billed", "held"), nullable=False),
        sa.Column("ledger_transaction_id", BigId, nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["account_id"], ["account.id"], name=op.f("fk_charge_trueup_account_id_account")),
        sa.ForeignKeyConstraint(
            ["ledger_transaction_id"],
            ["ledger_transaction.id"],
            name=op.f("fk_charge_trueup_ledger_transaction_id_ledger_transaction"),
        ),
        sa.ForeignKeyConstraint(["meter_id"], ["meter.id"], name=op.f("fk_charge_trueup_meter_id_meter")),
        sa.PrimaryKeyConstraint("meter_id", "local_date", name=op.f("pk_charge_trueup")),
    )
    with op.batch_alter_table("charge_trueup", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_charge_trueup_account_id"), ["account_id"], unique=False)

    op.create_table(
        "settlement_statement",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("account_id", BigId, nullable=False),
        sa.Column("month_date", sa.Date(), nullable=False),
        sa.Column("kind", _enum("settlement_kind", 15, "monthly", "final"), nullable=False),
        sa.Column("energy_wh", sa.BigInteger(), nullable=False),
        sa.Column("charged_paise", sa.BigInteger(), nullable=False),
        sa.Column("billed_paise", sa.BigInteger(), nullable=False),
        sa.Column("difference_paise", sa.BigInteger(), nullable=False),
        sa.Column("lines", sa.JSON(), nullable=False),
        sa.Column("ledger_transaction_id", BigId, nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(length=100), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"], ["account.id"], name=op.f("fk_settlement_statement_account_id_account")
        ),
        sa.ForeignKeyConstraint(
            ["ledger_transaction_id"],
            ["ledger_transaction.id"],
            name=op.f("fk_settlement_statement_ledger_transaction_id_ledger_transaction"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_settlement_statement")),
        sa.UniqueConstraint(
            "account_id", "month_date", "kind", name=op.f("uq_settlement_statement_account_id_month_date_kind")
        ),
    )
    with op.batch_alter_table("settlement_statement", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_settlement_statement_account_id"), ["account_id"], unique=False)

    with op.batch_alter_table("ledger_transaction", schema=None) as batch_op:
        batch_op.add_column(sa.Column("value_date", sa.Date(), nullable=True))
        batch_op.create_index("ix_ledger_transaction_account_value_date", ["account_id", "value_date"], unique=False)
        batch_op.create_unique_constraint(batch_op.f("uq_ledger_transaction_reverses_id"), ["reverses_id"])

    with op.batch_alter_table("posting", schema=None) as batch_op:
        batch_op.create_check_constraint(batch_op.f("ck_posting_amount_nonzero"), "amount_paise <> 0")

    # Existing payments (none are expected before this revision) keep their whole amount in the wallet.
    with op.batch_alter_table("payment", schema=None) as batch_op:
        batch_op.add_column(sa.Column("wallet_credit_paise", sa.BigInteger(), nullable=False, server_default="0"))
        batch_op.add_column(sa.Column("arrears_recovered_paise", sa.BigInteger(), nullable=False, server_default="0"))
        batch_op.add_column(
            sa.Column("wallet_balance_after_paise", sa.BigInteger(), nullable=False, server_default="0")
        )
        batch_op.add_column(sa.Column("actor", sa.String(length=100), nullable=False, server_default=""))
        batch_op.add_column(sa.Column("reversal_reason", sa.String(length=200), nullable=False, server_default=""))
        batch_op.add_column(sa.Column("reversed_by", sa.String(length=100), nullable=False, server_default=""))
    op.execute("UPDATE payment SET wallet_credit_paise = amount_paise")
    with op.batch_alter_table("payment", schema=None) as batch_op:
        batch_op.create_check_constraint(
            batch_op.f("ck_payment_split_adds_up"),
            "wallet_credit_paise >= 0 AND arrears_recovered_paise >= 0"
            " AND wallet_credit_paise + arrears_recovered_paise = amount_paise",
        )


def downgrade() -> None:
    with op.batch_alter_table("payment", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("ck_payment_split_adds_up"), type_="check")
        batch_op.drop_column("reversed_by")
        batch_op.drop_column("reversal_reason")
        batch_op.drop_column("actor")
        batch_op.drop_column("wallet_balance_after_paise")
        batch_op.drop_column("arrears_recovered_paise")
        batch_op.drop_column("wallet_credit_paise")

    with op.batch_alter_table("posting", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("ck_posting_amount_nonzero"), type_="check")

    with op.batch_alter_table("ledger_transaction", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("uq_ledger_transaction_reverses_id"), type_="unique")
        batch_op.drop_index("ix_ledger_transaction_account_value_date")
        batch_op.drop_column("value_date")

    with op.batch_alter_table("settlement_statement", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_settlement_statement_account_id"))
    op.drop_table("settlement_statement")
    with op.batch_alter_table("charge_trueup", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_charge_trueup_account_id"))
    op.drop_table("charge_trueup")
    with op.batch_alter_table("charge_hold", schema=None) as batch_op:
        batch_op.drop_index("ix_charge_hold_state_account")
    op.drop_table("charge_hold")
    op.drop_table("usage_month")
    op.drop_table("usage_day")
    op.drop_table("charge_interval")
