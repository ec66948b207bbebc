"""wallet: the prepaid rules state remembers the balance at the open relay's disconnection

prepaid_rules_state.disconnection (JSON, nullable): {"command_id", "balance_paise"} of the confirmed
disconnect command that opened the relay, computed once from the ledger instead of replaying the
wallet's postings at every evaluation.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-24 05:50:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("prepaid_rules_state", schema=None) as batch_op:
        batch_op.add_column(sa.Column("disconnection", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("prepaid_rules_state", schema=None) as batch_op:
        batch_op.drop_column("disconnection")
