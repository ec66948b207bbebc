"""Insert-or-ignore by natural key, portable across SQLite and PostgreSQL (``ON CONFLICT DO NOTHING``).

On SQLite (the head-end's usual store) rows go straight to the driver: one multi-row ``INSERT ...
ON CONFLICT DO NOTHING`` per 100 rows, values bound by the columns' own SQLAlchemy types (date-times
memoised: a fleet's readings repeat the same interval ends), and the driver's change count is the
number of rows inserted. That costs a fraction of SQLAlchemy's per-statement and per-row work; the
stored text is exactly what SQLAlchemy would have written. On PostgreSQL the rows go as one array per
column in one fixed statement (``natural_key_postgresql``). Rows whose keys differ from row to row, or
that leave out a column with a computed default, or carry a JSON column, take the SQLAlchemy path.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from itertools import chain
from operator import itemgetter
from typing import Any

from sqlalchemy import Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import Session

from openprepaid.store.repository.column_binding import column_binder, identity
from openprepaid.store.repository.natural_key_postgresql import postgresql_plan

_ROWS_PER_BATCH = 5_000
_SQLITE_ROWS_PER_STATEMENT = 100


def insert_ignoring_duplicates(session: Session, table: Table, rows: Sequence[Mapping[str, Any]]) -> int:
    """Insert ``rows``; a row whose primary/unique key already exists is skipped. Returns rows inserted."""
    if not rows:
        return 0
    dialect = session.get_bind().dialect
    if dialect.name == "sqlite":
        plan = _sqlite_plan(table, tuple(rows[0].keys()), dialect)
        if plan is not None and all(row.keys() == plan.keys for row in rows):
            session.flush()  # the driver does not see the ORM's pending objects
            return plan.run(session.connection().connection.driver_connection, rows)
        insert: Any = sqlite.insert
    elif dialect.name == "postgresql":
        pg_plan = postgresql_plan(table, tuple(rows[0].keys()), dialect)
        if pg_plan is not None and all(row.keys() == pg_plan.keys for row in rows):
            session.flush()
            return pg_plan.run(session.connection().connection.driver_connection, rows)
        insert = postgresql.insert
    else:
        raise NotImplementedError(f"insert-or-ignore is not implemented for {dialect.name}")
    key_column = next(iter(table.primary_key.columns))
    # One cached single-row statement run as "insertmanyvalues" batches: compiling a multi-row VALUES
    # clause for every call costs more than the insert itself. RETURNING yields only the rows actually
    # inserted, on both backends (rowcount is not reliable for INSERT ... ON CONFLICT with every driver).
    statement = insert(table).on_conflict_do_nothing().returning(key_column)
    inserted = 0
    for start in range(0, len(rows), _ROWS_PER_BATCH):
        inserted += len(session.execute(statement, list(rows[start : start + _ROWS_PER_BATCH])).all())
    return inserted


class _SqlitePlan:
    """How rows with one set of keys go into one table: column order, binders, constant defaults, SQL."""

    __slots__ = ("binders", "constants", "keys", "many", "one", "order", "width")

    def __init__(
        self, table: Table, keys: tuple[str, ...], constants: dict[str, Any], binders: list[Callable[[Any], Any]]
    ) -> None:
        self.keys = set(keys)
        self.constants = tuple(constants.values())
        self.binders = binders
        names = ", ".join(f'"{name}"' for name in (*keys, *constants))
        self.width = len(keys) + len(constants)
        values = "(" + ", ".join("?" * self.width) + ")"
        self.one = f'INSERT INTO "{table.name}" ({names}) VALUES {values} ON CONFLICT DO NOTHING'  # noqa: S608
        many = ", ".join([values] * _SQLITE_ROWS_PER_STATEMENT)
        self.many = f'INSERT INTO "{table.name}" ({names}) VALUES {many} ON CONFLICT DO NOTHING'  # noqa: S608
        self.order = keys

    def run(self, driver: Any, rows: Sequence[Mapping[str, Any]]) -> int:
        values_of = itemgetter(*self.order)
        converted = [(position, bind) for position, bind in enumerate(self.binders) if bind is not identity]
        constants = self.constants
        bound = []
        for row in rows:
            values = list(values_of(row)) if len(self.order) > 1 else [values_of(row)]
            for position, bind in converted:
                values[position] = bind(values[position])
            values.extend(constants)
            bound.append(values)
        per = _SQLITE_ROWS_PER_STATEMENT
        full = len(bound) - len(bound) % per
        inserted = 0
        if full:
            flat = list(chain.from_iterable(bound[:full]))
            step = per * self.width
            inserted += driver.executemany(self.many, (flat[i : i + step] for i in range(0, len(flat), step))).rowcount
        if full < len(bound):
            inserted += driver.executemany(self.one, bound[full:]).rowcount
        return int(inserted)


_PLANS: dict[tuple[str, tuple[str, ...]], _SqlitePlan | None] = {}


def _sqlite_plan(table: Table, keys: tuple[str, ...], dialect: Dialect) -> _SqlitePlan | None:
    plan_key = (table.name, keys)
    if plan_key not in _PLANS:
        _PLANS[plan_key] = _build_plan(table, keys, dialect)
    return _PLANS[plan_key]


def _build_plan(table: Table, keys: tuple[str, ...], dialect: Dialect) -> _SqlitePlan | None:
    if any(key not in table.c for key in keys):
        return None
    constants: dict[str, Any] = {}
    for column in table.c:
        if column.name in keys or column.default is None:
            continue
        default: Any = column.default
        if not default.is_scalar:
            return None  # a computed default (callable, sequence): SQLAlchemy knows how to fill it
        constants[column.name] = column_binder(column, dialect)(default.arg)
    return _SqlitePlan(table, keys, constants, [column_binder(table.c[key], dialect) for key in keys])
