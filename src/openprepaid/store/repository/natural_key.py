"""Insert-or-ignore by natural key, portable across SQLite and PostgreSQL (``ON CONFLICT DO NOTHING``)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

_ROWS_PER_BATCH = 5_000


def insert_ignoring_duplicates(session: Session, table: Table, rows: Sequence[Mapping[str, Any]]) -> int:
    """Insert ``rows``; a row whose primary/unique key already exists is skipped. Returns rows inserted."""
    if not rows:
        return 0
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        insert: Any = postgresql.insert
    elif dialect == "sqlite":
        insert = sqlite.insert
    else:
        raise NotImplementedError(f"insert-or-ignore is not implemented for {dialect}")
    key_column = next(iter(table.primary_key.columns))
    # One cached single-row statement run as "insertmanyvalues" batches: compiling a multi-row VALUES
    # clause for every call costs more than the insert itself. RETURNING yields only the rows actually
    # inserted, on both backends (rowcount is not reliable for INSERT ... ON CONFLICT with every driver).
    statement = insert(table).on_conflict_do_nothing().returning(key_column)
    inserted = 0
    for start in range(0, len(rows), _ROWS_PER_BATCH):
        inserted += len(session.execute(statement, list(rows[start : start + _ROWS_PER_BATCH])).all())
    return inserted
