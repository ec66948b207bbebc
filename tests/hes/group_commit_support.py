"""Running the head-end's units of work under group commit with a failing neighbour, and comparing the
outcome with running them alone (tests/hes/test_group_commit_works.py).

``SplittingDatabase`` queues every unit of work together with a neighbour that commits and one that
fails after it, so each unit runs once in a transaction that is rolled back and again in the one
that commits. ``Snapshot`` is what a run leaves: every table (but ``utility``, where the neighbours
write) and what was published, with surrogate ids renamed by their order of creation (PostgreSQL's
sequences move on in a rolled-back transaction; SQLite reuses the numbers) and random correlation
ids and sealed secrets blanked, so that two runs compare equal exactly when they did the same.
"""

from __future__ import annotations

import asyncio
import dataclasses
import enum
import itertools
import json
import re
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any, TypeVar

from sqlalchemy import Engine, select, text
from sqlalchemy.orm import Session, sessionmaker

from openprepaid.bus.base import Bus, Handler, Subscription
from openprepaid.hes.command_records import CommandView
from openprepaid.hes.group_commit import GroupCommitDatabase
from openprepaid.store.model import Base, Utility
from openprepaid.store.repository import reading as reading_repo
from tests.hes.conftest import empty_all_tables

T = TypeVar("T")
NO_SUCH_METER = 2**40
FAILURES = ("raises", "foreign_key")  # a work raising after it wrote; a statement violating a foreign key
NEIGHBOURS_TABLE = "utility"


class NeighbourFailedError(LookupError):
    """The neighbour unit of work that makes every batch split."""


def _commits(number: int) -> Callable[[Session], str]:
    def work(session: Session) -> str:
        session.add(Utility(code=f"ok-{number}", name="neighbour", created_at=datetime(2026, 1, 1, tzinfo=UTC)))
        return f"ok-{number}"

    return work


def _fails(failure: str, number: int) -> Callable[[Session], None]:
    def work(session: Session) -> None:
        session.add(Utility(code=f"bad-{number}", name="neighbour", created_at=datetime(2026, 1, 1, tzinfo=UTC)))
        session.flush()
        if failure == "raises":
            raise NeighbourFailedError(f"neighbour {number} refused")
        # PostgreSQL aborts the whole transaction here: the batch fails for everyone in it
        row = {"meter_id": NO_SUCH_METER, "log": 1, "occurred_at": datetime(2026, 1, 1, tzinfo=UTC), "code": 1}
        reading_repo.store_events(session, [{**row, "source": "log", "payload": {}, "received_at": row["occurred_at"]}])
        raise AssertionError("a row of an unknown meter was stored")

    return work


class SplittingDatabase(GroupCommitDatabase):
    """Group commit where every unit of work is batched with a neighbour that commits and one that fails."""

    def __init__(self, sessions: sessionmaker[Session], failure: str, *, offload: bool = False) -> None:
        super().__init__(sessions, offload=offload, max_batch=64)
        self._failure = failure
        self._numbers = itertools.count()
        self.neighbours_failed = 0

    async def run(self, work: Callable[[Session], T]) -> T:
        number = next(self._numbers)
        mine = asyncio.ensure_future(super().run(work))  # queued first: it runs before the failing one
        good = asyncio.ensure_future(super().run(_commits(number)))
        bad = asyncio.ensure_future(super().run(_fails(self._failure, number)))
        assert await good == f"ok-{number}"
        try:
            await bad
        except Exception:
            self.neighbours_failed += 1
        return await mine


class RecordingBus(Bus):
    """Keeps what is published (subject, payload, message id); delivers nothing."""

    def __init__(self) -> None:
        self.published: list[tuple[str, Any, str | None]] = []

    async def publish(self, subject: str, data: bytes, *, msg_id: str | None = None) -> None:
        self.published.append((subject, json.loads(data), msg_id))

    async def subscribe(self, pattern: str, handler: Handler, *, group: str, max_attempts: int = 5) -> Subscription:
        raise NotImplementedError("the recording bus delivers nothing")

    async def close(self) -> None:
        return None


def reset_database(engine: Engine) -> None:
    """Every table emptied, and on PostgreSQL the id sequences restarted, so two runs number alike."""
    if engine.dialect.name == "postgresql":
        names = ", ".join(f'"{table.name}"' for table in Base.metadata.sorted_tables)
        with engine.begin() as connection:
            connection.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
    else:
        empty_all_tables(engine)  # SQLite numbers rows from the largest id left: none


_ID_IN_TEXT = re.compile(r"(command-outcome:|command:|command |outage:)(\d+)")
_TABLE_OF_PREFIX = {"command-outcome:": "command", "command:": "command", "command ": "command", "outage:": "outage"}


@dataclasses.dataclass
class Snapshot:
    tables: dict[str, list[Any]]
    published: list[Any]
    result: Any

    @classmethod
    def take(cls, sessions: sessionmaker[Session], bus: RecordingBus, result: Any) -> Snapshot:
        with sessions() as session:
            raw = {
                table.name: [dict(row._mapping) for row in session.execute(select(table))]
                for table in Base.metadata.sorted_tables
                if table.name != NEIGHBOURS_TABLE
            }
        names = {
            table: {row["id"]: f"{table}#{rank}" for rank, row in enumerate(sorted(rows, key=lambda r: r["id"]))}
            for table, rows in raw.items()
            if rows and "id" in rows[0]
        }
        scrub = _Scrubber(names)
        tables = {table: sorted((scrub(row, table) for row in rows), key=repr) for table, rows in raw.items() if rows}
        published = [scrub(message) for message in bus.published]
        return cls(tables, published, scrub(result))


class _Scrubber:
    def __init__(self, names: Mapping[str, Mapping[int, str]]) -> None:
        self._names = names

    def _name(self, table: str, value: Any) -> Any:
        if isinstance(value, (list, tuple)):
            return [self._name(table, item) for item in value]
        return self._names.get(table, {}).get(value, value) if isinstance(value, int) else value

    def __call__(self, value: Any, table: str | None = None) -> Any:
        if isinstance(value, BaseException):
            return {"raised": type(value).__name__, "message": self(str(value))}
        if isinstance(value, CommandView):
            return {**self(dataclasses.asdict(value)), "id": self._name("command", value.id)}
        if dataclasses.is_dataclass(value) and not isinstance(value, type):
            fields = {field.name: getattr(value, field.name) for field in dataclasses.fields(value)}
            return {"type": type(value).__name__, **self(fields)}
        if isinstance(value, Mapping):
            return {key: self._entry(str(key), item, table) for key, item in value.items()}
        if isinstance(value, (set, frozenset)):
            return sorted((self(item) for item in value), key=repr)
        if isinstance(value, (list, tuple)):
            return [self(item) for item in value]
        if isinstance(value, enum.Enum):
            return value.value
        if isinstance(value, str):
            return _ID_IN_TEXT.sub(lambda m: f"{m[1]}{self._name(_TABLE_OF_PREFIX[m[1]], int(m[2]))}", value)
        return value

    def _entry(self, key: str, value: Any, table: str | None) -> Any:
        if key in ("correlation_id", "sealed"):  # a random uuid; a ciphertext under a random nonce
            return "<random>"
        if key == "id" and table is not None:
            return self._name(table, value)
        if key.endswith("_id") and key[:-3] in self._names:
            return self._name(key[:-3], value)
        if key in ("superseded", "superseded_by"):
            return self._name("command", value)
        return self(value)
