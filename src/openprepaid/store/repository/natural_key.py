"""Insert-or-ignore by natural key, portable across SQLite and PostgreSQL (``ON CONFLICT DO NOTHING``)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

# Keep each statement's bound parameters well under both backends' limits (SQLite: 32766).
_MAX_PARAMS_PER_STATEMENT = 30_000


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
    columns = len(rows[0])
    chunk = max(1, _MAX_PARAMS_PER_STATEMENT // max(columns, 1))
    inserted = 0
    for start in range(0, len(rows), chunk):
        # RETURNING yields only the rows actually inserted, on both backends (rowcount is not
        # reliable for multi-row INSERT ... ON CONFLICT with every driver).
        statement = (
            insert(table).values(list(rows[start : start + chunk])).on_conflict_do_nothing().returning(key_column)
        )
        inserted += len(session.execute(statement).all())
    return inserted
