"""The unit-of-work edge: commit once, retry only what the database says may succeed, bounded."""

from __future__ import annotations

import pytest
from sqlalchemy.exc import OperationalError

from openprepaid.store.engine import make_engine, make_session_factory
from openprepaid.wallet.charging import ChargingConflictError
from openprepaid.wallet.unit_of_work import is_retryable, run_unit_of_work


class _DeadlockError(Exception):
    sqlstate = "40P01"


@pytest.fixture
def factory(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path}/uow.sqlite3")
    yield make_session_factory(engine)
    engine.dispose()


def test_retryable_failures_are_retried_then_committed(factory):
    calls, pauses = [], []

    def work(session):
        calls.append(1)
        if len(calls) < 3:
            raise _DeadlockError("deadlock detected")
        return "done"

    assert run_unit_of_work(factory, work, sleep=pauses.append) == "done"
    assert len(calls) == 3 and pauses == [0.05, 0.1]


def test_other_failures_are_not_retried_and_retries_are_bounded(factory):
    calls = []

    def failing(session):
        calls.append(1)
        raise ValueError("not retryable")

    with pytest.raises(ValueError, match="not retryable"):
        run_unit_of_work(factory, failing, sleep=lambda _: None)
    assert calls == [1]

    def always_conflicting(session):
        calls.append(1)
        raise ChargingConflictError("busy")

    with pytest.raises(ChargingConflictError):
        run_unit_of_work(factory, always_conflicting, attempts=4, sleep=lambda _: None)
    assert len(calls) == 1 + 4


@pytest.mark.parametrize(
    ("error", "retryable"),
    [
        (_DeadlockError(), True),
        (OperationalError("UPDATE", {}, Exception("database is locked")), True),
        (OperationalError("UPDATE", {}, Exception("no such table")), False),
        (ChargingConflictError("busy"), True),
        (KeyError("x"), False),
    ],
)
def test_is_retryable(error, retryable):
    assert is_retryable(error) is retryable
