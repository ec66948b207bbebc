"""Group commit: concurrent units of work share a transaction, each stays atomic, results after the commit."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select

from openprepaid.hes.group_commit import GroupCommitDatabase
from openprepaid.store.model import Utility

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
