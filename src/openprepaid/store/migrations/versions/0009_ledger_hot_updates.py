"""ledger (PostgreSQL): balance updates in place (fillfactor), idempotency keys compared bytewise

``ledger_account`` gets ``fillfactor = 50``: a balance update that finds room on its row's page is a
HOT update (no new entry in any of the table's four indexes). Pages filled to 100 % made every
update of a freshly inserted wallet write four index entries: at 100,000 accounts the balance
update of a charging batch cost 2-4x the HOT one (docs/ledger.md "Measured"). The setting applies to
pages filled from now on; an existing table gets it for its old pages by a rewrite
(``VACUUM FULL ledger_account``) at a quiet time, which this migration does not do.

``ledger_transaction.idempotency_key`` is compared with the ``C`` collation: keys are ASCII names
(``fixed:42:2026-11-03``) for equality only, so uniqueness is unchanged, and the unique index no
longer calls the locale's comparison for every step of every insert. The index is rebuilt.

SQLite: nothing to do (no fillfactor; its text comparison is bytewise already).

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-26 08:10:00
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("ALTER TABLE ledger_account SET (fillfactor = 50)")
    op.execute('ALTER TABLE ledger_transaction ALTER COLUMN idempotency_key TYPE varchar(200) COLLATE "C"')


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute('ALTER TABLE ledger_transaction ALTER COLUMN idempotency_key TYPE varchar(200) COLLATE "default"')
    op.execute("ALTER TABLE ledger_account RESET (fillfactor)")
