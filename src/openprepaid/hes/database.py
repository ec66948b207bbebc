"""One unit of work per HES step: a session opened, the work done, committed at this edge (style.md rule 7).

Repositories never commit; the HES services hand a function of a ``Session`` to ``Database.run``,
which commits when it returns and rolls back when it raises. With ``offload=True`` the blocking
database call runs in a worker thread so that thousands of meter tasks keep the event loop free.

A unit of work is a function of the session and nothing else: it reads and writes through the
session and returns plain values (no ORM objects, no open results). It publishes nothing, changes no
state outside the session and leaves it to the caller to act on the result once ``run`` has returned
(after the commit). Then it is safe to run again from scratch after a rollback, and to share a
transaction with others, which ``group_commit.GroupCommitDatabase`` does (docs/hes.md, "Group
commit: units of work").
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import TypeVar

from sqlalchemy.orm import Session, sessionmaker

T = TypeVar("T")


class Database:
    def __init__(self, sessions: sessionmaker[Session], *, offload: bool = False) -> None:
        self._sessions = sessions
        self._offload = offload

    async def run(self, work: Callable[[Session], T]) -> T:
        """Run ``work`` in one transaction; its result is returned after the commit."""
        if self._offload:
            return await asyncio.to_thread(self.run_sync, work)
        return self.run_sync(work)

    def run_sync(self, work: Callable[[Session], T]) -> T:
        with self._sessions.begin() as session:
            return work(session)
