"""Group commit: concurrent units of work share a transaction, each stays atomic, results after the commit."""

from __future__ import annotations

import asyncio
import threading
from datetime import UTC, datetime

import pytest
from sqlalchemy import event, func, select
from sqlalchemy.exc import IntegrityError, OperationalError

from openprepaid.hes.group_commit import GroupCommitDatabase, WorkNotRunError
from openprepaid.store.model import Meter, MeterEvent, Utility
from openprepaid.store.repository import hes as hes_repo
from openprepaid.store.repository import reading as reading_repo
from tests.hes.conftest import add_meter

T = datetime(2026, 1, 1, tzinfo=UTC)


def add_utility(code: str, *, fail: bool = False):  # type: ignore[no-untyped-def]
    def work(session):  # type: ignore[no-untyped-def]
        session.add(Utility(code=code, name=code, created_at=T))
        session.flush()
        if fail:
            raise LookupError(f"{code} refused")
        return code

    return work


def codes(sessions) -> set[str]:  # type: ignore[no-untyped-def]
    with sessions() as session:
        return set(session.scalars(select(Utility.code)))


@pytest.mark.parametrize("offload", [False, True])
async def test_concurrent_works_are_batched_and_committed_before_they_return(hes_sessions, offload):
    db = GroupCommitDatabase(hes_sessions, offload=offload, max_batch=8)
    seen_committed: list[bool] = []

    async def one(index: int) -> str:
        code = await db.run(add_utility(f"U{index:02d}"))
        seen_committed.append(code in codes(hes_sessions))  # another session sees it: committed
        return code

    results = await asyncio.gather(*(one(i) for i in range(20)))
    assert results == [f"U{i:02d}" for i in range(20)] and all(seen_committed)
    assert db.stats.works == 20 and db.stats.batches < 20  # several per transaction
    await db.close()


async def test_a_failing_work_fails_alone_and_the_others_commit(hes_sessions):
    db = GroupCommitDatabase(hes_sessions, offload=False)
    outcomes = await asyncio.gather(
        db.run(add_utility("A")),
        db.run(add_utility("B", fail=True)),
        db.run(add_utility("C")),
        db.run(add_utility("A")),  # a duplicate code: the database refuses this one only
        return_exceptions=True,
    )
    assert outcomes[0] == "A" and outcomes[2] == "C"
    assert isinstance(outcomes[1], LookupError)
    assert isinstance(outcomes[3], Exception) and not isinstance(outcomes[3], LookupError)
    assert codes(hes_sessions) == {"A", "C"}
    assert db.stats.split_batches == 1


async def test_a_cancelled_caller_does_not_stop_the_others(hes_sessions):
    db = GroupCommitDatabase(hes_sessions, offload=True)
    first = asyncio.create_task(db.run(add_utility("X")))
    second = asyncio.create_task(db.run(add_utility("Y")))
    await asyncio.sleep(0)
    first.cancel()
    assert await second == "Y"
    with pytest.raises(asyncio.CancelledError):
        await first
    with hes_sessions() as session:
        assert session.scalar(select(func.count()).select_from(Utility)) >= 1


def test_batches_are_bounded(hes_sessions):
    with pytest.raises(ValueError, match="max_batch"):
        GroupCommitDatabase(hes_sessions, max_batch=0)


# --- how a batch splits ----------------------------------------------------------------------------


def counted(work, runs: list[str], name: str):  # type: ignore[no-untyped-def]
    def counting(session):  # type: ignore[no-untyped-def]
        runs.append(name)
        return work(session)

    return counting


async def test_one_failing_work_is_set_aside_and_the_others_commit_together(hes_sessions):
    db = GroupCommitDatabase(hes_sessions, offload=False)
    commits: list[int] = []
    event.listen(hes_sessions, "after_commit", lambda session: commits.append(1))
    runs: list[str] = []
    names = ["A", "B", "C", "D"]
    works = [counted(add_utility(name, fail=name == "B"), runs, name) for name in names]
    outcomes = await asyncio.gather(*(db.run(work) for work in works), return_exceptions=True)
    assert outcomes[0] == "A" and outcomes[2:] == ["C", "D"] and isinstance(outcomes[1], LookupError)
    assert codes(hes_sessions) == {"A", "C", "D"}
    # A, B (raised: rolled back); A, C, D together (committed); B alone (raised again)
    assert runs == ["A", "B", "A", "C", "D", "B"] and len(commits) == 1
    assert (db.stats.batches, db.stats.split_batches, db.stats.works_alone) == (1, 1, 1)


async def test_after_three_failed_attempts_the_rest_run_one_per_transaction(hes_sessions):
    db = GroupCommitDatabase(hes_sessions, offload=False)
    failing = {"B", "C", "D", "F"}
    works = [add_utility(name, fail=name in failing) for name in "ABCDEF"]
    outcomes = await asyncio.gather(*(db.run(work) for work in works), return_exceptions=True)
    assert [o if isinstance(o, str) else type(o) for o in outcomes] == [
        "A", LookupError, LookupError, LookupError, "E", LookupError,
    ]  # fmt: skip
    assert codes(hes_sessions) == {"A", "E"}
    assert db.stats.split_batches == 1 and db.stats.works_alone == 6  # three set aside, then all six alone


async def test_each_work_sees_the_earlier_works_rows_but_not_their_objects(hes_sessions):
    db = GroupCommitDatabase(hes_sessions, offload=False)

    def add_pending(session):  # type: ignore[no-untyped-def]
        session.add(Utility(code="P", name="pending", created_at=T))  # not flushed by the work itself
        return "P"

    def look(session):  # type: ignore[no-untyped-def]
        fresh = len(session.identity_map) == 0 and not session.new
        return fresh, sorted(session.scalars(select(Utility.code)))

    assert await asyncio.gather(db.run(add_pending), db.run(look)) == ["P", (True, ["P"])]
    assert db.stats.batches == 1


async def test_a_work_whose_pending_rows_break_a_constraint_fails_alone(hes_sessions):
    """Flushed after each work: the duplicate fails its own work, not the next one's statement or the commit."""
    db = GroupCommitDatabase(hes_sessions, offload=False)
    await db.run(add_utility("X"))

    def duplicate_unflushed(session):  # type: ignore[no-untyped-def]
        session.add(Utility(code="X", name="again", created_at=T))
        return "unreachable"

    outcomes = await asyncio.gather(
        db.run(add_utility("Y")), db.run(duplicate_unflushed), db.run(add_utility("Z")), return_exceptions=True
    )
    assert outcomes[0] == "Y" and outcomes[2] == "Z" and isinstance(outcomes[1], IntegrityError)
    assert codes(hes_sessions) == {"X", "Y", "Z"}


async def test_a_failed_commit_fails_every_work_of_it_and_runs_none_again(hes_sessions):
    """Whether a failed commit took effect is unknown: re-running the works could apply them twice."""
    db = GroupCommitDatabase(hes_sessions, offload=False)
    failures = ["commit lost"]

    def fail_once(session):  # type: ignore[no-untyped-def]
        if failures:
            raise OperationalError("COMMIT", {}, RuntimeError(failures.pop()))

    event.listen(hes_sessions, "before_commit", fail_once)
    runs: list[str] = []
    works = [counted(add_utility(name), runs, name) for name in "ABC"]
    outcomes = await asyncio.gather(*(db.run(work) for work in works), return_exceptions=True)
    assert all(isinstance(o, OperationalError) for o in outcomes) and runs == ["A", "B", "C"]
    assert codes(hes_sessions) == set() and db.stats.failed_commits == 1
    assert await db.run(add_utility("A")) == "A"  # the next batch commits


# --- cancellation ----------------------------------------------------------------------------------


def blocking(code: str, started: threading.Event, release: threading.Event):  # type: ignore[no-untyped-def]
    def work(session):  # type: ignore[no-untyped-def]
        started.set()
        assert release.wait(10), "the test never released the batch"
        return add_utility(code)(session)

    return work


async def test_cancelling_the_flusher_mid_batch_resolves_that_batch_and_fails_the_queued(hes_sessions):
    db = GroupCommitDatabase(hes_sessions, offload=True)
    started, release = threading.Event(), threading.Event()
    running = [
        asyncio.ensure_future(db.run(blocking("A", started, release))),
        asyncio.ensure_future(db.run(add_utility("B", fail=True))),
        asyncio.ensure_future(db.run(add_utility("C"))),
    ]
    assert await asyncio.to_thread(started.wait, 10)  # the batch is in its thread
    queued = [asyncio.ensure_future(db.run(add_utility(code))) for code in ("D", "E")]
    await asyncio.sleep(0)
    flusher = db._flusher
    assert flusher is not None
    flusher.cancel()
    await asyncio.sleep(0.05)
    assert not flusher.done()  # it waits for the batch: a thread cannot be stopped half way
    release.set()
    outcomes = await asyncio.gather(*running, *queued, return_exceptions=True)
    assert outcomes[0] == "A" and isinstance(outcomes[1], LookupError) and outcomes[2] == "C"
    assert all(isinstance(o, WorkNotRunError) for o in outcomes[3:])
    assert codes(hes_sessions) == {"A", "C"}  # the batch's good works, and nothing of the queued ones
    assert flusher.cancelled()
    await db.close()  # does not raise the flusher's cancellation
    assert await db.run(add_utility("D")) == "D"  # a new flusher takes over


async def test_cancelling_the_flusher_before_it_takes_a_batch_fails_the_queued(hes_sessions):
    db = GroupCommitDatabase(hes_sessions, offload=False)
    queued = [asyncio.ensure_future(db.run(add_utility(code))) for code in ("A", "B")]
    await asyncio.sleep(0)  # both queued; the flusher has not taken them yet
    assert db._flusher is not None
    db._flusher.cancel()
    outcomes = await asyncio.gather(*queued, return_exceptions=True)
    assert all(isinstance(o, WorkNotRunError) for o in outcomes)
    assert codes(hes_sessions) == set()
    await db.close()
    assert await db.run(add_utility("A")) == "A"


async def test_a_caller_cancelled_before_its_work_is_taken_drops_the_work(hes_sessions):
    db = GroupCommitDatabase(hes_sessions, offload=False)
    dropped = asyncio.ensure_future(db.run(add_utility("X")))
    kept = asyncio.ensure_future(db.run(add_utility("Y")))
    await asyncio.sleep(0)
    dropped.cancel()
    assert await kept == "Y"
    assert dropped.cancelled() and codes(hes_sessions) == {"Y"} and db.stats.works == 1


async def test_close_waits_for_the_queued_work(hes_sessions):
    db = GroupCommitDatabase(hes_sessions, offload=True)
    queued = [asyncio.ensure_future(db.run(add_utility(code))) for code in ("A", "B", "C")]
    await asyncio.sleep(0)
    await db.close()
    assert all(task.done() for task in queued) and codes(hes_sessions) == {"A", "B", "C"}


# --- PostgreSQL: a failed statement aborts the whole transaction -------------------------------------


async def test_a_foreign_key_violation_fails_its_work_and_the_others_commit(hes_sessions):
    meter_id = add_meter(hes_sessions)
    db = GroupCommitDatabase(hes_sessions, offload=True)
    at = datetime(2026, 1, 1, 6, tzinfo=UTC)
    row = {"log": 4, "occurred_at": at, "code": 201, "source": "push", "payload": {}, "received_at": at}

    def events_of(meter: int):  # type: ignore[no-untyped-def]
        return lambda session: reading_repo.store_events(session, [{**row, "meter_id": meter}])

    outcomes = await asyncio.gather(
        db.run(lambda session: hes_repo.mark_seen(session, meter_id, at)),
        db.run(events_of(2**40)),  # a removed meter: on PostgreSQL every later statement would fail too
        db.run(events_of(meter_id)),
        return_exceptions=True,
    )
    assert outcomes[0] is None and outcomes[2] == 1
    assert isinstance(outcomes[1], Exception) and "foreign key" in str(outcomes[1]).lower()
    with hes_sessions() as session:
        assert session.scalar(select(Meter.last_seen_at).where(Meter.id == meter_id)) == at
        assert session.scalar(select(func.count()).select_from(MeterEvent)) == 1
    assert db.stats.split_batches == 1
