"""Invocation counters are never reused: across blocks, across a crash, under concurrent reservation."""

from __future__ import annotations

import asyncio
import random
import threading

import pytest

from openprepaid.hes.database import Database
from openprepaid.hes.invocation_counters import InvocationCounterExhaustedError, InvocationCounterStore
from openprepaid.store.engine import make_engine, make_session_factory
from openprepaid.store.repository.hes import (
    MAX_INVOCATION_COUNTER,
    next_invocation_counter,
    reserve_invocation_counters,
)
from tests.hes.conftest import add_meter
from tests.hes.fakes import T0


async def test_values_increase_across_blocks_and_associations(db, clock, hes_sessions):
    meter_id = add_meter(hes_sessions)
    store = InvocationCounterStore(db, clock, block_size=4)
    values = [await store.next_value(meter_id, 48) for _ in range(10)]
    assert values == list(range(1, 11))
    assert [await store.next_value(meter_id, 32) for _ in range(2)] == [1, 2]
    stored = db.run_sync(lambda session: next_invocation_counter(session, meter_id, 48))
    assert stored == 13  # three blocks of four reserved


async def test_concurrent_tasks_never_share_a_value(db, clock, hes_sessions):
    meter_id = add_meter(hes_sessions)
    store = InvocationCounterStore(db, clock, block_size=3)
    values = await asyncio.gather(*(store.next_value(meter_id, 48) for _ in range(50)))
    assert sorted(values) == list(range(1, 51))


async def test_a_restart_continues_above_anything_used(migrated_engine, hes_sessions, clock):
    url = migrated_engine.url.render_as_string(hide_password=False)
    meter_id = add_meter(hes_sessions)
    engine = make_engine(url)
    before = InvocationCounterStore(Database(make_session_factory(engine)), clock, block_size=16)
    used = [await before.next_value(meter_id, 48) for _ in range(5)]
    engine.dispose()  # crash: 11 reserved values were never used and must never be used
    engine = make_engine(url)
    try:
        after = InvocationCounterStore(Database(make_session_factory(engine)), clock, block_size=16)
        assert await after.next_value(meter_id, 48) == 17 > max(used)
    finally:
        engine.dispose()


async def test_floor_only_moves_forward_and_exhaustion_is_refused(db, clock, hes_sessions):
    meter_id = add_meter(hes_sessions)
    store = InvocationCounterStore(db, clock, block_size=8)
    assert await store.next_value(meter_id, 48) == 1
    await store.raise_floor(meter_id, 48, 1000)
    assert await store.next_value(meter_id, 48) == 1000
    await store.raise_floor(meter_id, 48, 5)  # lower: ignored
    assert await store.next_value(meter_id, 48) == 1001
    await store.raise_floor(meter_id, 48, MAX_INVOCATION_COUNTER - 2)
    assert list(await store.reserve(meter_id, 48, 3)) == [
        MAX_INVOCATION_COUNTER - 2,
        MAX_INVOCATION_COUNTER - 1,
        MAX_INVOCATION_COUNTER,
    ]
    with pytest.raises(InvocationCounterExhaustedError, match="change the keys"):
        await store.reserve(meter_id, 48, 1)
    assert db.run_sync(lambda session: next_invocation_counter(session, meter_id, 48)) == MAX_INVOCATION_COUNTER + 1
    with pytest.raises(ValueError, match="at least one"):
        await store.reserve(meter_id, 48, 0)


def _reserve_concurrently(url: str, meter_id: int, threads: int, rounds: int) -> list[range]:
    engine = make_engine(url, pool_size=threads, max_overflow=0)
    sessions = make_session_factory(engine)
    ranges: list[range] = []
    lock = threading.Lock()
    barrier = threading.Barrier(threads)
    errors: list[BaseException] = []

    def worker(seed: int) -> None:
        rng = random.Random(seed)
        barrier.wait()
        try:
            for _ in range(rounds):
                count = rng.randint(1, 20)
                with sessions.begin() as session:
                    first = reserve_invocation_counters(session, meter_id, 48, count, T0)
                with lock:
                    ranges.append(range(first, first + count))
        except BaseException as exc:  # report in the main thread
            errors.append(exc)

    pool = [threading.Thread(target=worker, args=(seed,)) for seed in range(threads)]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join()
    engine.dispose()
    assert not errors, errors
    return ranges


def _assert_disjoint_and_dense(ranges: list[range]) -> None:
    values = sorted(value for block in ranges for value in block)
    assert len(values) == len(set(values)), "a counter was handed out twice"
    assert values == list(range(1, len(values) + 1))


def test_concurrent_reservation(migrated_engine, hes_sessions):
    """Threads with their own connections race, including for creating the meter's counter row."""
    url = migrated_engine.url.render_as_string(hide_password=False)
    meter_id = add_meter(hes_sessions)
    threads, rounds = (8, 30) if migrated_engine.dialect.name == "postgresql" else (4, 10)
    _assert_disjoint_and_dense(_reserve_concurrently(url, meter_id, threads=threads, rounds=rounds))
