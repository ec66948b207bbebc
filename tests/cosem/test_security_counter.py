"""Invocation counters (IEC 62056-5-3, Green Book 9.2.3.3.7.4): never reused, never wrapped, replay refused."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from openprepaid.cosem.errors import ReplayError, SecurityError
from openprepaid.cosem.security import MAX_INVOCATION_COUNTER
from openprepaid.cosem.security_counter import InvocationCounter, ReplayGuard


def test_counter_is_strictly_increasing_from_its_start() -> None:
    counter = InvocationCounter(41)
    assert [counter.take() for _ in range(4)] == [41, 42, 43, 44]
    assert counter.next_value == 45


def test_every_take_asks_for_persistence_with_block_one() -> None:
    counter = InvocationCounter(0)
    assert counter.persist_due() is None
    assert counter.take() == 0
    assert counter.persist_due() == 1  # restart from 1: value 0 is spent
    counter.persisted(1)
    assert counter.persist_due() is None
    counter.take()
    assert counter.persist_due() == 2


def test_persist_block_covers_several_takes_with_one_write() -> None:
    counter = InvocationCounter(100, persist_block=10)
    assert counter.take() == 100
    assert counter.persist_due() == 110
    counter.persisted(110)
    for expected in range(101, 110):
        assert counter.take() == expected
        assert counter.persist_due() is None
    assert counter.take() == 110
    assert counter.persist_due() == 120


def test_unacknowledged_persistence_stays_due() -> None:
    counter = InvocationCounter(0, persist_block=2)
    counter.take()
    counter.take()
    counter.take()
    assert counter.persist_due() == 4
    counter.persisted(2)  # an older write completing late does not clear the newer requirement
    assert counter.persist_due() == 4


def test_counter_refuses_to_wrap() -> None:
    counter = InvocationCounter(MAX_INVOCATION_COUNTER - 1)
    assert counter.take() == MAX_INVOCATION_COUNTER - 1
    assert counter.take() == MAX_INVOCATION_COUNTER
    assert counter.exhausted
    with pytest.raises(SecurityError, match="exhausted"):
        counter.take()
    assert counter.persist_due() == MAX_INVOCATION_COUNTER + 1
    restarted = InvocationCounter(MAX_INVOCATION_COUNTER + 1)
    with pytest.raises(SecurityError, match="exhausted"):
        restarted.take()


def test_counter_arguments_are_checked() -> None:
    with pytest.raises(SecurityError):
        InvocationCounter(-1)
    with pytest.raises(SecurityError):
        InvocationCounter(MAX_INVOCATION_COUNTER + 2)
    with pytest.raises(SecurityError):
        InvocationCounter(0, persist_block=0)


@settings(max_examples=200, deadline=None)
@given(
    start=st.integers(0, 1000),
    block=st.integers(1, 20),
    runs=st.lists(st.tuples(st.integers(0, 40), st.booleans()), min_size=1, max_size=8),
)
def test_no_value_is_used_twice_across_crashes(start: int, block: int, runs: list[tuple[int, bool]]) -> None:
    """Persist what persist_due() asks before each send; crash anywhere; restart from storage."""
    stored = start
    sent: list[int] = []
    for sends, crash_before_persisting_last in runs:
        counter = InvocationCounter(stored, persist_block=block)
        for index in range(sends):
            value = counter.take()
            due = counter.persist_due()
            last = index == sends - 1
            if last and crash_before_persisting_last:
                break  # crashed after take(), before persisting and before sending
            if due is not None:
                stored = due
                counter.persisted(due)
            sent.append(value)
    assert len(sent) == len(set(sent))
    assert sent == sorted(sent)


def test_replay_guard_refuses_equal_and_lower_counters() -> None:
    guard = ReplayGuard()
    guard.check(0)
    guard.accept(0)
    with pytest.raises(ReplayError):
        guard.check(0)
    guard.accept(5)
    for stale in (5, 4, 1):
        with pytest.raises(ReplayError):
            guard.accept(stale)
    assert guard.last_accepted == 5
    guard.accept(MAX_INVOCATION_COUNTER)
    with pytest.raises(ReplayError):
        guard.check(MAX_INVOCATION_COUNTER)


def test_replay_guard_restores_from_persisted_value() -> None:
    guard = ReplayGuard(last_accepted=1000)
    with pytest.raises(ReplayError):
        guard.check(1000)
    guard.accept(1001)
    assert "1001" in repr(guard)
    with pytest.raises(SecurityError):
        ReplayGuard(last_accepted=-1)
