"""The edge of the wallet: one unit of work per job or request, committed there, retried when the
database says a retry can succeed (style.md rules 7 and 9).

Retryable: PostgreSQL serialization failures (40001), deadlocks (40P01) and lock timeouts (55P03),
SQLite's "database is locked", and wallet errors marked ``retryable``. Every wallet operation is
idempotent (keys and natural keys), so re-running a whole unit of work after a rollback is safe.
Bounded: ``attempts`` tries with a growing pause (the sleep function is injected).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from openprepaid.wallet.errors import WalletError

T = TypeVar("T")
RETRYABLE_SQLSTATES = frozenset({"40001", "40P01", "55P03"})


def is_retryable(exc: BaseException) -> bool:
    if isinstance(exc, WalletError):
        return exc.retryable
    original = exc.orig if isinstance(exc, DBAPIError) else exc
    if getattr(original, "sqlstate", None) in RETRYABLE_SQLSTATES:
        return True
    return "database is locked" in str(original)


def run_unit_of_work(
    session_factory: Callable[[], Session],
    work: Callable[[Session], T],
    *,
    attempts: int = 5,
    pause_s: float = 0.05,
    sleep: Callable[[float], None] = time.sleep,
) -> T:
    """Run ``work`` in a fresh session and commit; on a retryable failure roll back and run it again."""
    for attempt in range(1, attempts + 1):
        with session_factory() as session:
            try:
                result = work(session)
                session.commit()
            except Exception as exc:
                session.rollback()
                if attempt == attempts or not is_retryable(exc):
                    raise
            else:
                return result
        sleep(pause_s * attempt)
    raise AssertionError("unreachable")  # pragma: no cover
