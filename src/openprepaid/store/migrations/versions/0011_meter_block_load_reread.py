"""hes: a pending block-load re-read range on the meter row

``meter`` gets two nullable columns, set by ``openprepaid meters reread`` and cleared by the
collection that read the range:

- ``block_load_reread_from`` (UTC): read the meter's block load again from here at the next
  collection, keeping every interval that is not stored yet (rows already stored stay);
- ``block_load_reread_to`` (UTC): up to here (NULL: up to the time of that collection).

Why columns and not ``block_load_read_to`` alone: a collection resumes from the later of that mark
and the newest stored interval, and the newest stored interval can only move back by deleting
readings (which the wallet may have charged). A range to read again must be kept apart.

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-24 11:30:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Plain ALTER TABLE ... ADD COLUMN on both backends (no copy of the populated meter table).
    op.add_column("meter", sa.Column("block_load_reread_from", sa.DateTime(timezone=True), nullable=True))
    op.add_column("meter", sa.Column("block_load_reread_to", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    # Plain ALTER TABLE ... DROP COLUMN (SQLite >= 3.35), as in 0010: a populated meter table is not copied.
    for column in ("block_load_reread_to", "block_load_reread_from"):
        op.drop_column("meter", column)
