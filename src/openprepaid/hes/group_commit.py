"""Group commit: the small units of work of many concurrent meter tasks, committed in one transaction.

A collection session commits a dozen tiny units of work (mark seen, last stored interval, store a
span, each event log's newest entry ...). With thousands of sessions at once, one transaction each
is what limits throughput (a commit, a thread hop, a lock round per unit). ``GroupCommitDatabase``
is a drop-in ``Database``: ``run(work)`` queues the work; one flusher at a time takes what is queued
(at most ``max_batch``) and runs it in a single transaction, then resolves every caller after the
commit, so "committed when ``run`` returns" still holds (the invocation counters rely on it).

Each work stays atomic: if any work of a batch raises, the whole transaction is rolled back and the
batch is run again one work per transaction, so a failing work fails alone and the others commit
(works are functions of a session, re-run from scratch). Works of one batch see each other's writes,
as if they had run one after the other.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from sqlalchemy.orm import Session, sessionmaker

from openprepaid.hes.database import Database

T = TypeVar("T")


@dataclass(slots=True)
class _Outcome:
    value: Any = None
    error: BaseException | None = None


@dataclass(slots=True)
class GroupCommitStats:
    works: int = 0
    batches: int = 0
    split_batches: int = 0  # batches re-run one work at a time because one work raised


class GroupCommitDatabase(Database):
    def __init__(self, sessions: sessionmaker[Session], *, offload: bool = True, max_batch: int = 256) -> None:
        if max_batch < 1:
            raise ValueError("max_batch must be at least 1")
        super().__init__(sessions, offload=offload)
        self._max_batch = max_batch
        self._queue: list[tuple[Callable[[Session], Any], asyncio.Future[Any]]] = []
        self._flusher: asyncio.Task[None] | None = None
        self.stats = GroupCommitStats()

    async def run(self, work: Callable[[Session], T]) -> T:
        future: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        self._queue.append((work, future))
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.create_task(self._flush(), name="group-commit")
        return await future

    async def _flush(self) -> None:
        while self._queue:
            await asyncio.sleep(0)  # one turn of the loop: let the other ready tasks queue theirs
            batch, self._queue = self._queue[: self._max_batch], self._queue[self._max_batch :]
            works = [work for work, _ in batch]
            try:
                if self._offload:
                    outcomes = await asyncio.to_thread(self._run_batch, works)
                else:
                    outcomes = self._run_batch(works)
            except BaseException as exc:  # the database itself failed (or we were cancelled): tell everyone
                for _, future in batch:
                    if not future.done():
                        future.set_exception(exc if isinstance(exc, Exception) else RuntimeError("cancelled"))
                raise
            for (_, future), outcome in zip(batch, outcomes, strict=True):
                if future.done():  # the caller was cancelled meanwhile; the work is committed regardless
                    continue
                if outcome.error is not None:
                    future.set_exception(outcome.error)
                else:
                    future.set_result(outcome.value)

    def _run_batch(self, works: list[Callable[[Session], Any]]) -> list[_Outcome]:
        self.stats.works += len(works)
        self.stats.batches += 1
        if len(works) > 1:
            try:
                with self._sessions.begin() as session:
                    return [_Outcome(work(session)) for work in works]
            except Exception:  # one work raised: run each alone, so only that one fails
                self.stats.split_batches += 1
        outcomes = []
        for work in works:
            outcome = _Outcome()
            try:
                outcome.value = self.run_sync(work)
            except Exception as exc:  # the caller gets its own exception
                outcome.error = exc
            outcomes.append(outcome)
        return outcomes

    async def close(self) -> None:
        """Wait for queued work to be committed (at shutdown)."""
        if self._flusher is not None:
            with contextlib.suppress(Exception):
                await self._flusher
