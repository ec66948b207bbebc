"""hes: the relay state and the block-load read progress on the meter row; on-demand read commands

``meter`` gets four nullable columns:

- ``relay_connected`` (the disconnect control's output_state, attribute 2), ``relay_control_state``
  (attribute 3: 0 disconnected, 1 connected, 2 ready for reconnection) and ``relay_read_at`` (UTC,
  when the head-end read them): the relay as last read back from the meter, by a command's
  verification, an on-demand read or the read after a relay-change push. Never what a command asked
  for, only what the meter said.
- ``block_load_read_to`` (UTC): the meter's block load was read up to here, also where it held no
  intervals, so a meter with nothing to give for a range is not asked for that range again.

``command.kind`` admits ``meter_read``: an on-demand read run by whichever head-end reaches the meter
(a dial-in meter is reachable only through the head-end holding its connection), its result kept in
``command.readback``.

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-24 10:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

KINDS_BEFORE = (
    "relay_disconnect",
    "relay_reconnect",
    "load_limit_set",
    "load_limit_enable",
    "load_limit_disable",
    "clock_sync",
    "payment_mode",
    "balance_display",
    "generic_set",
    "generic_action",
)
KINDS_AFTER = (*KINDS_BEFORE, "meter_read")


def _kind_type(kinds: tuple[str, ...]) -> sa.Enum:
    return sa.Enum(*kinds, name="command_kind", native_enum=False, create_constraint=True, length=26)


def _set_kinds(before: tuple[str, ...], after: tuple[str, ...]) -> None:
    """Replace the CHECK constraint on ``command.kind``."""
    if op.get_bind().dialect.name == "postgresql":
        # In place: a copied table would restart the id sequence under the existing ids.
        op.drop_constraint(op.f("ck_command_command_kind"), "command", type_="check")
        op.create_check_constraint(op.f("ck_command_command_kind"), "command", sa.column("kind").in_(after))
        return
    # SQLite cannot alter a constraint: batch mode copies the table (rowids are kept, and new ones
    # continue after the largest).
    with op.batch_alter_table("command", recreate="always") as batch_op:
        batch_op.alter_column(
            "kind", existing_type=_kind_type(before), type_=_kind_type(after), existing_nullable=False
        )


def upgrade() -> None:
    # Plain ALTER TABLE ... ADD COLUMN on both backends (no copy of the populated meter table).
    op.add_column("meter", sa.Column("relay_connected", sa.Boolean(), nullable=True))
    op.add_column("meter", sa.Column("relay_control_state", sa.SmallInteger(), nullable=True))
    op.add_column("meter", sa.Column("relay_read_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column("meter", sa.Column("block_load_read_to", sa.DateTime(timezone=True), nullable=True))
    _set_kinds(KINDS_BEFORE, KINDS_AFTER)


def downgrade() -> None:
    op.execute("DELETE FROM command WHERE kind = 'meter_read'")
    _set_kinds(KINDS_AFTER, KINDS_BEFORE)
    # Plain ALTER TABLE ... DROP COLUMN (SQLite >= 3.35 has it): batch mode would copy ``meter``, and a
    # populated meter table cannot be dropped while other tables' foreign keys point at it.
    for column in ("block_load_read_to", "relay_read_at", "relay_control_state", "relay_connected"):
        op.drop_column("meter", column)
