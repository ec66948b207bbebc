"""Invocation counters under group commit: a counter is handed out only from a committed reservation.

A reservation rolled back with its batch (a neighbour failed), lost with a failed commit or cut off
by a cancelled flusher is never handed out; the next reservation, and a restarted head-end's, are
above every counter handed out before.
"""

from __future__ import annotations

import asyncio
import threading

import pytest
from sqlalchemy import event
from sqlalchemy.exc import OperationalError

from openprepaid.hes.database import Database
from openprepaid.hes.group_commit import GroupCommitDatabase, WorkNotRunError
from openprepaid.hes.invocation_counters import InvocationCounterStore
from openprepaid.store.repository.hes import next_invocation_counter
from tests.hes.conftest import add_meter
from tests.hes.group_commit_support import FAILURES, SplittingDatabase


def assert_above_all(value: int, handed: list[int]) -> None:
    assert value > max(handed), f"{value} was handed out before (max {max(handed)})"


@pytest.mark.parametrize("failure", FAILURES)
async def test_reservations_in_rolled_back_batches_never_hand_a_counter_out_twice(hes_sessions, clock, failure):
    meter_id = add_meter(hes_sessions)
    db = SplittingDatabase(hes_sessions, failure)  # every reservation: run, rolled back, run again
    first, second = InvocationCounterStore(db, clock, block_size=4), InvocationCounterStore(db, clock, block_size=4)
    handed = [await first.next_value(meter_id, 48) for _ in range(9)]
    assert handed == sorted(set(handed))  # strictly increasing
    # two head-end stores (two nodes) reserving for the same meter at once: their reservations share batches
    both = await asyncio.gather(*(store.next_value(meter_id, 48) for store in (first, second) for _ in range(7)))
    handed += both
    assert len(set(handed)) == len(handed)
    assert db.stats.split_batches == db.stats.batches > 0
    restarted = InvocationCounterStore(Database(hes_sessions), clock)
    assert_above_all(await restarted.next_value(meter_id, 48), handed)


async def test_a_reservation_whose_commit_failed_is_not_handed_out(hes_sessions, clock):
    meter_id = add_meter(hes_sessions)
    other = add_meter(hes_sessions, serial="SIM00000002")
    db = GroupCommitDatabase(hes_sessions, offload=False)
    store = InvocationCounterStore(db, clock, block_size=4)
    handed = [await store.next_value(meter_id, 48)]
    failures = ["connection lost at commit"]

    def fail_once(session):  # type: ignore[no-untyped-def]
        if failures:
            raise OperationalError("COMMIT", {}, RuntimeError(failures.pop()))

    event.listen(hes_sessions, "before_commit", fail_once)
    outcomes = await asyncio.gather(
        store.reserve(meter_id, 48, 4), store.reserve(other, 48, 4), return_exceptions=True
    )  # one batch, one commit: both callers get the error, neither reservation is run again
    assert all(isinstance(o, OperationalError) for o in outcomes)
    handed += [await store.next_value(meter_id, 48) for _ in range(6)]
    assert handed == sorted(set(handed))
    assert_above_all(await InvocationCounterStore(Database(hes_sessions), clock).next_value(meter_id, 48), handed)


async def test_a_cancelled_flusher_hands_out_the_committed_block_and_not_the_queued_one(hes_sessions, clock):
    meter_id = add_meter(hes_sessions)
    db = GroupCommitDatabase(hes_sessions, offload=True)
    store = InvocationCounterStore(db, clock, block_size=4)
    started, release = threading.Event(), threading.Event()

    def hold(session):  # type: ignore[no-untyped-def]
        started.set()
        assert release.wait(10)

    held = asyncio.ensure_future(db.run(hold))
    in_batch = asyncio.ensure_future(store.reserve(meter_id, 48, 4))  # taken with the held work
    assert await asyncio.to_thread(started.wait, 10)
    queued = asyncio.ensure_future(store.reserve(meter_id, 48, 4))  # behind the running batch
    await asyncio.sleep(0)
    assert db._flusher is not None
    db._flusher.cancel()  # shutdown while the batch is in its thread
    release.set()
    await held
    committed = await in_batch
    with pytest.raises(WorkNotRunError):
        await queued
    stored = db.run_sync(lambda session: next_invocation_counter(session, meter_id, 48))
    assert stored == committed.stop  # the queued reservation did not run
    await db.close()
    restarted = InvocationCounterStore(Database(hes_sessions), clock)
    assert_above_all(await restarted.next_value(meter_id, 48), list(committed))
