"""Bulk writes for the wallet's hot paths: few round trips for many rows (docs/ledger.md "Batch charging").

PostgreSQL gets ``COPY ... FROM STDIN`` (psycopg) for plain inserts and one set-based statement
over ``unnest`` arrays for increments and upserts; SQLite gets ``executemany`` on the raw driver.
Both run inside the caller's transaction (and savepoint); nothing here commits. Values are bound
through the columns' own SQLAlchemy types, so rows read back through the ORM exactly as if the ORM
had written them.

Invariants kept: rows are only ever inserted (a duplicate key raises ``DuplicateKeyError`` and the
caller rolls its savepoint back); balances move only by ``balance = balance + delta`` with rows
locked in ascending id order.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Mapping, Sequence
from itertools import chain
from typing import Any

import psycopg
from sqlalchemy import Table
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import Session

from openprepaid.store.model import LedgerTransaction, Posting
from openprepaid.store.repository.column_binding import column_binder


class DuplicateKeyError(Exception):
    """A row of a bulk insert hit an existing key (charge interval or ledger idempotency key)."""


def driver_of(session: Session) -> tuple[Any, Dialect]:
    connection = session.connection()
    return connection.connection.driver_connection, connection.dialect


# SQLite: rows per multi-row INSERT (x columns stays far below its 32766 bound parameters); about 1.6x the
# rate of executemany of one-row statements on the charging table.
SQLITE_ROWS_PER_STATEMENT = 100


def insert_rows(
    session: Session,
    table: Table,
    columns: Sequence[str],
    rows: Sequence[Sequence[Any]],
    *,
    pg_types: Sequence[str] | None = None,
) -> None:
    """Plain INSERT of many rows: values bound already for SQLite, Python values for PostgreSQL's COPY
    (binary COPY when ``pg_types`` names the columns' types, text COPY otherwise)."""
    if not rows:
        return
    driver, dialect = driver_of(session)
    names = ", ".join(columns)
    try:
        if dialect.name == "postgresql":
            fmt = " (FORMAT BINARY)" if pg_types else ""
            with driver.cursor() as cursor, cursor.copy(f"COPY {table.name} ({names}) FROM STDIN{fmt}") as copy:
                if pg_types:
                    copy.set_types(list(pg_types))
                for row in rows:
                    copy.write_row(row)
        else:
            _sqlite_insert(driver, table.name, names, len(columns), rows)
    except (sqlite3.IntegrityError, psycopg.errors.UniqueViolation) as exc:
        raise DuplicateKeyError(str(exc)) from exc


def _sqlite_insert(
    driver: sqlite3.Connection, table: str, names: str, width: int, rows: Sequence[Sequence[Any]]
) -> None:
    per = SQLITE_ROWS_PER_STATEMENT
    full = len(rows) - len(rows) % per
    if full:
        marks = ", ".join(["(" + ", ".join("?" * width) + ")"] * per)
        flat = list(chain.from_iterable(rows[:full]))
        step = per * width
        driver.executemany(
            f"INSERT INTO {table} ({names}) VALUES {marks}",  # noqa: S608 - names are ours, values bound
            (flat[i : i + step] for i in range(0, len(flat), step)),
        )
    if full < len(rows):
        marks = "(" + ", ".join("?" * width) + ")"
        driver.executemany(f"INSERT INTO {table} ({names}) VALUES {marks}", rows[full:])  # noqa: S608


def sqlite_bound(
    session: Session, table: Table, columns: Sequence[str], rows: Sequence[Sequence[Any]]
) -> Sequence[Sequence[Any]]:
    """Rows with each column bound by its SQLAlchemy type (SQLite stores times and dates as text)."""
    _, dialect = driver_of(session)
    if dialect.name == "postgresql":
        return rows
    binders = [column_binder(table.c[name], dialect) for name in columns]
    return [[bind(value) for bind, value in zip(binders, row, strict=True)] for row in rows]


# --- ledger -------------------------------------------------------------------------------------------

LEDGER_COLUMNS = (
    "id",
    "idempotency_key",
    "kind",
    "account_id",
    "effective_at",
    "value_date",
    "created_at",
    "actor",
    "memo",
)
LEDGER_PG_TYPES = ("int8", "varchar", "varchar", "int8", "timestamptz", "date", "timestamptz", "varchar", "varchar")
POSTING_COLUMNS = ("ledger_transaction_id", "line_no", "ledger_account_id", "amount_paise", "component")
POSTING_PG_TYPES = ("int8", "int8", "int8", "int8", "varchar")


def allocate_ledger_transaction_ids(session: Session, count: int) -> list[int]:
    """``count`` fresh ids for ledger transactions inserted with explicit ids.

    PostgreSQL draws them from the column's sequence (unique under concurrency, gaps allowed);
    SQLite continues after the current maximum, which is safe because SQLite transactions here
    begin IMMEDIATE: this unit of work is the only writer until it commits.
    """
    if count <= 0:
        return []
    driver, dialect = driver_of(session)
    if dialect.name == "postgresql":
        with driver.cursor() as cursor:
            cursor.execute(
                "SELECT nextval(pg_get_serial_sequence('ledger_transaction', 'id')) FROM generate_series(1, %s)",
                (count,),
            )
            return [int(row[0]) for row in cursor.fetchall()]
    (top,) = driver.execute("SELECT coalesce(max(id), 0) FROM ledger_transaction").fetchone()
    return list(range(int(top) + 1, int(top) + 1 + count))


def insert_ledger_bulk(session: Session, headers: Sequence[Sequence[Any]], postings: Sequence[Sequence[Any]]) -> None:
    """Insert ledger transactions (``LEDGER_COLUMNS``, explicit ids, reverses_id NULL) and their postings."""
    if not headers:
        return
    ledger_table: Table = LedgerTransaction.__table__  # type: ignore[assignment]
    bound = sqlite_bound(session, ledger_table, LEDGER_COLUMNS, headers)
    insert_rows(session, ledger_table, LEDGER_COLUMNS, bound, pg_types=LEDGER_PG_TYPES)
    insert_postings(session, postings)


def insert_postings(session: Session, postings: Sequence[Sequence[Any]]) -> None:
    """Insert postings (``POSTING_COLUMNS``) of transactions inserted in this unit of work."""
    posting_table: Table = Posting.__table__  # type: ignore[assignment]
    insert_rows(session, posting_table, POSTING_COLUMNS, postings, pg_types=POSTING_PG_TYPES)


def add_to_balances(session: Session, deltas: Mapping[int, int]) -> None:
    """``balance_paise += delta`` for many ledger accounts, locking them in ascending id order first."""
    items = sorted((key, value) for key, value in deltas.items() if value)
    if not items:
        return
    driver, dialect = driver_of(session)
    ids = [key for key, _ in items]
    amounts = [value for _, value in items]
    if dialect.name == "postgresql":
        with driver.cursor() as cursor:
            # NO KEY UPDATE, the lock the UPDATE itself takes: FOR UPDATE would also wait for the KEY SHARE
            # locks that other units of work's posting inserts (foreign keys) hold, and deadlock with them.
            cursor.execute(
                "SELECT id FROM ledger_account WHERE id = ANY(%b::bigint[]) ORDER BY id FOR NO KEY UPDATE", (ids,)
            )
            cursor.execute(
                "UPDATE ledger_account AS a SET balance_paise = a.balance_paise + d.delta, version = a.version + 1 "
                "FROM (SELECT unnest(%b::bigint[]) AS id, unnest(%b::bigint[]) AS delta) AS d WHERE a.id = d.id",
                (ids, amounts),
            )
        return
    driver.executemany(
        "UPDATE ledger_account SET balance_paise = balance_paise + ?, version = version + 1 WHERE id = ?",
        [(value, key) for key, value in items],
    )


def insert_keyed_transactions(
    session: Session,
    account_ids: Sequence[int],
    *,
    key_prefix: str,
    key_suffix: str,
    header: Mapping[str, Any],
) -> list[tuple[int, int]]:
    """One ledger transaction per account, keyed ``prefix + account id + suffix``, the other columns
    (``kind, effective_at, value_date, created_at, actor, memo``) the same for all; accounts whose key
    is stored already are skipped (``ON CONFLICT DO NOTHING``: a concurrent unit of work inserting the
    same key is waited for, then skipped). The keys are made by the database: one statement, one array
    (PostgreSQL) or JSON array (SQLite) of account ids. Returns ``(new id, account id)`` per inserted row."""
    if not account_ids:
        return []
    driver, dialect = driver_of(session)
    table: Table = LedgerTransaction.__table__  # type: ignore[assignment]
    names = ("kind", "effective_at", "value_date", "created_at", "actor", "memo")
    values = [table.c[name].type.dialect_impl(dialect).bind_processor(dialect) for name in names]
    bound = [header[name] if bind is None else bind(header[name]) for name, bind in zip(names, values, strict=True)]
    columns = "idempotency_key, account_id, " + ", ".join(names)
    if dialect.name == "postgresql":
        with driver.cursor() as cursor:
            cursor.execute(
                f"INSERT INTO ledger_transaction ({columns}) "  # noqa: S608 - names are ours, values bound
                "SELECT %s::text || u.a || %s::text, u.a, %s, %s, %s, %s, %s, %s "
                "FROM unnest(%b::bigint[]) WITH ORDINALITY AS u(a, n) ORDER BY u.n "
                "ON CONFLICT (idempotency_key) DO NOTHING RETURNING id, account_id",
                [key_prefix, key_suffix, *bound, list(account_ids)],
            )
            return [(int(a), int(b)) for a, b in cursor.fetchall()]
    rows = driver.execute(
        f"INSERT INTO ledger_transaction ({columns}) "  # noqa: S608 - names are ours, values bound
        "SELECT ? || value || ?, value, ?, ?, ?, ?, ?, ? FROM json_each(?) WHERE true ORDER BY key "
        "ON CONFLICT (idempotency_key) DO NOTHING RETURNING id, account_id",
        [key_prefix, key_suffix, *bound, json.dumps(list(account_ids))],
    ).fetchall()
    return [(int(a), int(b)) for a, b in rows]
