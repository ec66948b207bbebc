"""Insert-or-ignore on PostgreSQL as one fixed statement: the rows go as one array per column.

``INSERT INTO t (a, b, ...) SELECT * FROM unnest($1::bigint[], $2::timestamptz[], ...) ON CONFLICT DO
NOTHING``. The text is the same for any number of rows, so the driver converts it once and, after a
few runs, PostgreSQL has it prepared; SQLAlchemy's multi-row ``VALUES`` differs with every row count
and is long, and psycopg re-parses such a text on every call (it caches only short ones), which cost
more than the insert itself (a day of block load: 95 rows). Values are bound by the columns' own
SQLAlchemy types (date-times memoised), as on SQLite; the command tag's row count is the number of
rows inserted. Tables with a column this path cannot carry as an array (JSON, arrays, a computed
default) are left to SQLAlchemy.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from math import isfinite
from typing import Any

from sqlalchemy import Boolean, Column, Date, DateTime, Float, Integer, LargeBinary, Numeric, String, Table
from sqlalchemy.dialects import postgresql
from sqlalchemy.engine import Dialect

from openprepaid.store.repository.column_binding import column_binder

# Column types whose values psycopg sends as an array of the cast type, element by element.
_ARRAY_SAFE = (Integer, Float, Numeric, String, DateTime, Date, Boolean, LargeBinary)


class PostgresqlPlan:
    """How rows with one set of keys go into one table: the statement, the binders, constant defaults."""

    __slots__ = ("binders", "constants", "keys", "literals", "order", "statement")

    def __init__(
        self,
        table: Table,
        keys: tuple[str, ...],
        constants: dict[str, tuple[str, Any]],
        binders: list[tuple[str, Callable[[Any], Any]]],
    ) -> None:
        self.keys = set(keys)
        self.order = keys
        self.binders = [bind for _, bind in binders]
        self.literals = [_array_literal(cast) for cast, _ in binders]
        self.constants = tuple(value for _, value in constants.values())
        names = ", ".join(f'"{name}"' for name in (*keys, *constants))
        arrays = ", ".join(f"%s::{cast}[]" for cast, _ in binders)
        constant_values = "".join(f", %s::{cast}" for cast, _ in constants.values())
        self.statement = (
            f'INSERT INTO "{table.name}" ({names}) SELECT *{constant_values} FROM unnest({arrays}) '  # noqa: S608
            "ON CONFLICT DO NOTHING"
        )

    def run(self, driver: Any, rows: Sequence[Mapping[str, Any]]) -> int:
        columns: list[Any] = []
        for name, bind, literal in zip(self.order, self.binders, self.literals, strict=True):
            values = [bind(row[name]) for row in rows]
            columns.append(literal(values) if literal is not None else values)
        with driver.cursor() as cursor:
            # Constants first in the text's order: they follow the arrays in the select list, but
            # their placeholders come before unnest's in the statement.
            cursor.execute(self.statement, [*self.constants, *columns])
            return int(cursor.rowcount)


_NONE = type(None)


def _integers(values: list[Any]) -> Any:
    """An integer column as the array's text (``{1,2,NULL}``), joined in C; other element types (which
    could carry a comma or a brace into the text) go to the driver as a list, to be refused there."""
    kinds = set(map(type, values))
    if kinds == {int}:
        return "{" + ",".join(map(str, values)) + "}"
    if kinds == {int, _NONE}:
        return "{" + ",".join("NULL" if value is None else str(value) for value in values) + "}"
    return values


def _floats(values: list[Any]) -> Any:
    """A float column as the array's text: ``repr`` is the shortest text that reads back as the same
    double. Infinities and NaN (spelt differently by PostgreSQL) go to the driver as a list."""
    kinds = set(map(type, values))
    if not kinds <= {float, _NONE}:
        return values
    present = [value for value in values if value is not None]
    if not all(map(isfinite, present)):
        return values
    if len(present) == len(values):
        return "{" + ",".join(map(repr, values)) + "}"
    return "{" + ",".join("NULL" if value is None else repr(value) for value in values) + "}"


_ISO_MEMO: dict[datetime, str] = {}


def _iso(value: datetime) -> str:
    try:
        return _ISO_MEMO[value]
    except KeyError:
        if len(_ISO_MEMO) >= 16_384:
            _ISO_MEMO.clear()
        text = _ISO_MEMO[value] = value.isoformat()  # no space, no comma: needs no quotes in an array
        return text


def _aware_datetimes(values: list[Any]) -> Any:
    kinds = set(map(type, values))
    if kinds == {datetime} and all(value.tzinfo is not None for value in values):
        return "{" + ",".join(map(_iso, values)) + "}"
    return values


def _array_literal(cast: str) -> Callable[[list[Any]], Any] | None:
    if cast in {"BIGINT", "INTEGER", "SMALLINT"}:
        return _integers
    if cast in {"DOUBLE PRECISION", "FLOAT"}:
        return _floats
    if cast == "TIMESTAMP WITH TIME ZONE":
        return _aware_datetimes
    return None


_PLANS: dict[tuple[str, tuple[str, ...]], PostgresqlPlan | None] = {}


def postgresql_plan(table: Table, keys: tuple[str, ...], dialect: Dialect) -> PostgresqlPlan | None:
    plan_key = (table.name, keys)
    if plan_key not in _PLANS:
        _PLANS[plan_key] = _build_plan(table, keys, dialect)
    return _PLANS[plan_key]


def _build_plan(table: Table, keys: tuple[str, ...], dialect: Dialect) -> PostgresqlPlan | None:
    if any(key not in table.c for key in keys):
        return None
    binders: list[tuple[str, Callable[[Any], Any]]] = []
    for key in keys:
        cast = _cast(table.c[key])
        if cast is None:
            return None
        binders.append((cast, column_binder(table.c[key], dialect)))
    constants: dict[str, tuple[str, Any]] = {}
    for column in table.c:
        if column.name in keys or column.default is None:
            continue
        default: Any = column.default
        cast = _cast(column)
        if not default.is_scalar or cast is None:
            return None  # a computed default (callable, sequence): SQLAlchemy knows how to fill it
        constants[column.name] = (cast, column_binder(column, dialect)(default.arg))
    return PostgresqlPlan(table, keys, constants, binders)


def _cast(column: Column[Any]) -> str | None:
    kind = column.type
    impl = getattr(kind, "impl", kind)
    if not isinstance(impl, _ARRAY_SAFE) or isinstance(impl, postgresql.ARRAY):
        return None
    return str(impl.compile(dialect=postgresql.dialect()))  # type: ignore[no-untyped-call]
