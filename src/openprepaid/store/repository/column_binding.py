"""A column's SQLAlchemy bind processor, for the insert paths that hand rows straight to the driver."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import Column, Date, DateTime
from sqlalchemy.engine import Dialect

_MEMO_LIMIT = 16_384


def identity(value: Any) -> Any:
    return value


def column_binder(column: Column[Any], dialect: Dialect) -> Callable[[Any], Any]:
    """The column's bind processor (``identity`` when it has none); memoised (bounded) for date and
    time columns, whose values repeat across a fleet (every meter has the same interval ends)."""
    processor = column.type.dialect_impl(dialect).bind_processor(dialect)
    if processor is None:
        return identity
    kind = column.type
    if not isinstance(getattr(kind, "impl", kind), Date | DateTime):  # TypeDecorators say python_type object
        return processor
    bind = processor
    memo: dict[Any, Any] = {}

    def memoised(value: Any) -> Any:
        try:
            return memo[value]
        except KeyError:
            if len(memo) >= _MEMO_LIMIT:
                memo.clear()
            result = memo[value] = bind(value)
            return result

    return memoised
