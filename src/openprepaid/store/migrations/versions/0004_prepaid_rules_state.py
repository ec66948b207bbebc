"""wallet: the prepaid rules service's persisted state per account, and the notices it recorded

prepaid_rules_state (account_id PK): emergency-credit and notice states as JSON, the balance at the
last evaluation, daily balance marks and the average daily spend derived from them. notice: one row
per notice, unique dedup_key so a re-run evaluation step records nothing twice.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-24 09:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "prepaid_rules_state",
        sa.Column("account_id", BigId, nullable=False),
        sa.Column("emergency_credit", sa.JSON(), nullable=False),
        sa.Column("notice_state", sa.JSON(), nullable=False),
        sa.Column("last_balance_paise", sa.BigInteger(), nullable=False),
        sa.Column("evaluated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("spend_marks", sa.JSON(), nullable=False),
        sa.Column("average_daily_spend_paise", sa.BigInteger(), nullable=True),
        sa.ForeignKeyConstraint(["account_id"], ["account.id"], name=op.f("fk_prepaid_rules_state_account_id_account")),
        sa.PrimaryKeyConstraint("account_id", name=op.f("pk_prepaid_rules_state")),
    )
    op.create_table(
        "notice",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("account_id", sa.BigInteger(), nullable=False),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("notice_key", sa.String(length=80), nullable=False),
        sa.Column("threshold_paise", sa.BigInteger(), nullable=True),
        sa.Column("balance_paise", sa.BigInteger(), nullable=False),
        sa.Column("detail", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("dedup_key", sa.String(length=200), nullable=False),
        sa.ForeignKeyConstraint(["account_id"], ["account.id"], name=op.f("fk_notice_account_id_account")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notice")),
        sa.UniqueConstraint("dedup_key", name=op.f("uq_notice_dedup_key")),
    )
    with op.batch_alter_table("notice", schema=None) as batch_op:
        batch_op.create_index("ix_notice_account_created_at", ["account_id", "created_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("notice", schema=None) as batch_op:
        batch_op.drop_index("ix_notice_account_created_at")
    op.drop_table("notice")
    op.drop_table("prepaid_rules_state")
