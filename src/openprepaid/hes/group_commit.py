"""Group commit: the small units of work of many concurrent meter tasks, committed in one transaction.

A collection session commits a dozen tiny units of work (mark seen, last stored interval, store a
span, each event log's newest entry ...). With thousands of sessions at once, one transaction each
is what limits throughput (a commit, a thread hop, a lock round per unit). ``GroupCommitDatabase``
is a drop-in ``Database``: ``run(work)`` queues the work; one flusher at a time takes what is queued
(at most ``max_batch``) and runs it in a single transaction, then resolves every caller after the
commit, so "committed when ``run`` returns" still holds (the invocation counters rely on it).

How a batch runs (each caller sees what ``Database.run`` would have given it):

- the works run one after the other in one transaction; after each, the session is flushed and
  emptied (``expunge_all``), so the next work starts as in a session of its own: it sees the earlier
  works' writes in the database (as if they had committed just before), never their ORM objects;
- if a work raises, the transaction is rolled back, that work is set aside and the others run again
  together (after ``MAX_TOGETHER_ATTEMPTS`` failed attempts, each alone); a set-aside work runs
  last, in a transaction of its own, so it fails alone. A work may therefore run more than once,
  each time from scratch in a fresh transaction, before the run that counts; only a committed run's
  result reaches its caller. Works must be safe to re-run: no effects outside the session (bus,
  events, caches, counters in memory) until ``run`` has returned (docs/hes.md, "Group commit: units
  of work");
- if the commit itself fails, nobody knows whether it took effect: every work of that transaction
  gets the error and none is run again (a re-run could apply it twice), as ``Database.run`` does;
- a caller cancelled before its work is taken drops the work (it never runs); a caller cancelled
  later does not stop it (it commits with its batch, as a worker thread of ``Database.run`` would);
- cancelling the flusher (shutdown) while a batch runs in the worker thread waits for that batch
  (a thread cannot be stopped half way) and gives its callers the real outcome; works still queued
  fail with ``WorkNotRunError``: nothing of them was committed.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from sqlalchemy.orm import Session, sessionmaker

from openprepaid.hes.database import Database

T = TypeVar("T")
Work = Callable[[Session], Any]

# Attempts at committing a batch's works together; each failed attempt sets one raising work aside.
# One failing work (the usual case) costs two transactions and its own; many cost at most this many
# more before the rest run one per transaction.
MAX_TOGETHER_ATTEMPTS = 3


class WorkNotRunError(RuntimeError):
    """The group commit stopped (its flusher was cancelled) before this unit of work ran: nothing of it
    was committed, so running it again is safe."""


@dataclass(slots=True)
class _Outcome:
    value: Any = None
    error: BaseException | None = None


class _WorkRaisedError(Exception):
    def __init__(self, position: int, error: Exception) -> None:
        super().__init__(str(error))
        self.position = position
        self.error = error


class _CommitFailedError(Exception):
    def __init__(self, error: Exception) -> None:
        super().__init__(str(error))
        self.error = error


@dataclass(slots=True)
class GroupCommitStats:
    works: int = 0
    batches: int = 0
    split_batches: int = 0  # batches in which a work raised: it was set aside and the others run again
    works_alone: int = 0  # works run in a transaction of their own after a split
    failed_commits: int = 0  # batches whose commit failed (every work of it got the error)


class GroupCommitDatabase(Database):
    def __init__(self, sessions: sessionmaker[Session], *, offload: bool = True, max_batch: int = 256) -> None:
        if max_batch < 1:
            raise ValueError("max_batch must be at least 1")
        super().__init__(sessions, offload=offload)
        self._max_batch = max_batch
        self._queue: deque[tuple[Work, asyncio.Future[Any]]] = deque()
        self._flusher: asyncio.Task[None] | None = None
        self.stats = GroupCommitStats()

    async def run(self, work: Callable[[Session], T]) -> T:
        future: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        self._queue.append((work, future))
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.create_task(self._flush(), name="group-commit")
            self._flusher.add_done_callback(self._flusher_ended)
        return await future

    async def close(self) -> None:
        """Wait until every queued work has been committed or has failed (at shutdown)."""
        while self._flusher is not None and not self._flusher.done():
            await asyncio.wait({self._flusher})

    # --- the flusher (event loop side) -------------------------------------------------------------

    async def _flush(self) -> None:
        while self._queue:
            await asyncio.sleep(0)  # one turn of the loop: let the other ready tasks queue theirs
            batch = self._take()
            if batch:
                await self._commit(batch)

    def _flusher_ended(self, flusher: asyncio.Task[None]) -> None:
        """Cancelled (shutdown), even before it started, or failed: no caller may wait for ever. Works
        queued since a newer flusher started are that one's."""
        if flusher is self._flusher:
            self._fail_queued()

    def _take(self) -> list[tuple[Work, asyncio.Future[Any]]]:
        """Up to ``max_batch`` queued works whose callers still wait (a cancelled caller's work is dropped)."""
        batch: list[tuple[Work, asyncio.Future[Any]]] = []
        while self._queue and len(batch) < self._max_batch:
            work, future = self._queue.popleft()
            if not future.done():
                batch.append((work, future))
        return batch

    def _fail_queued(self) -> None:
        while self._queue:
            _, future = self._queue.popleft()
            if not future.done():
                future.set_exception(WorkNotRunError("the group commit stopped before this unit of work ran"))

    async def _commit(self, batch: list[tuple[Work, asyncio.Future[Any]]]) -> None:
        works = [work for work, _ in batch]
        try:
            if self._offload:
                outcomes, cancelled = await self._run_in_thread(works)
            else:
                outcomes, cancelled = self._run_batch(works), False
        except BaseException as exc:  # the batch machinery itself failed: tell everyone of this batch
            error = exc if isinstance(exc, Exception) else RuntimeError(f"group commit stopped: {exc!r}")
            for _, future in batch:
                if not future.done():
                    future.set_exception(error)
            raise
        for (_, future), outcome in zip(batch, outcomes, strict=True):
            if future.done():  # the caller was cancelled meanwhile; its work is committed regardless
                continue
            if outcome.error is not None:
                future.set_exception(outcome.error)
            else:
                future.set_result(outcome.value)
        if cancelled:
            raise asyncio.CancelledError

    async def _run_in_thread(self, works: list[Work]) -> tuple[list[_Outcome], bool]:
        """The batch's outcomes, and whether the flusher was cancelled meanwhile (the batch ran to its end)."""
        running = asyncio.ensure_future(asyncio.to_thread(self._run_batch, works))
        cancelled = False
        while True:
            try:
                return await asyncio.shield(running), cancelled
            except asyncio.CancelledError:
                if running.cancelled():
                    raise
                cancelled = True  # the batch goes on in its thread: wait for it, then stop
                if running.done():
                    return running.result(), cancelled

    # --- one batch (worker thread side when offloaded) ---------------------------------------------

    def _run_batch(self, works: list[Work]) -> list[_Outcome]:
        self.stats.works += len(works)
        self.stats.batches += 1
        outcomes = [_Outcome() for _ in works]
        together = list(range(len(works)))
        alone: list[int] = []
        attempts = 0
        while len(together) > 1 and attempts < MAX_TOGETHER_ATTEMPTS:
            attempts += 1
            try:
                values = self._run_together([works[index] for index in together])
            except _WorkRaisedError as raised:
                if attempts == 1:
                    self.stats.split_batches += 1
                alone.append(together.pop(raised.position))
                continue
            except _CommitFailedError as failed:
                self.stats.failed_commits += 1
                for index in together:
                    outcomes[index].error = failed.error
                together = []
                break
            for index, value in zip(together, values, strict=True):
                outcomes[index].value = value
            together = []
        alone = sorted(alone + together)
        if len(works) > 1:
            self.stats.works_alone += len(alone)
        for index in alone:
            try:
                outcomes[index].value = self.run_sync(works[index])
            except Exception as exc:  # the caller gets its own exception
                outcomes[index].error = exc
        return outcomes

    def _run_together(self, works: list[Work]) -> list[Any]:
        """Run ``works`` in one transaction and commit; ``_WorkRaisedError`` names the work that raised."""
        with self._sessions() as session:  # closing rolls back whatever was not committed
            session.begin()
            values = []
            for position, work in enumerate(works):
                try:
                    values.append(work(session))
                    session.flush()  # a work's pending ORM changes fail as its own, not in the next work
                    session.expunge_all()
                except Exception as exc:
                    raise _WorkRaisedError(position, exc) from exc
            try:
                session.commit()
            except Exception as exc:
                raise _CommitFailedError(exc) from exc
            return values
