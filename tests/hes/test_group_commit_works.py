"""Every kind of head-end unit of work, batched with a neighbour that fails, does exactly what it does alone.

Each scenario drives the real services (collector, push handler, command queue, registry reads,
credentials, invocation counters) once over a plain ``Database`` and once over ``SplittingDatabase``
(group commit where each unit shares its transaction with a neighbour that commits and one that
fails after it, so the unit runs, is rolled back and runs again), from the same starting rows. The
tables, what was published (with message ids) and what the services returned must be the same,
on SQLite and on the real PostgreSQL, where the ``foreign_key`` neighbour aborts the transaction.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from openprepaid.hes.collection_policy import CollectionJob, ScheduleConfig
from openprepaid.hes.collector import Collector
from openprepaid.hes.command_queue import CommandQueue
from openprepaid.hes.command_records import CommandRequest
from openprepaid.hes.command_verification import ReadBack
from openprepaid.hes.credentials import CredentialStore
from openprepaid.hes.database import Database
from openprepaid.hes.invocation_counters import InvocationCounterStore
from openprepaid.hes.push_handler import AlertPush, DialIn, EventPush, MeterIdentity, PushHandler
from openprepaid.hes.push_listener import RegistryPushKeys
from openprepaid.hes.retry import AccessRefusedError, NetworkError, RetryPolicy
from openprepaid.hes.scheduler import CollectionScheduler
from openprepaid.hes.session import DISCONNECT_CONTROL, Association
from openprepaid.hes.targets import TargetDirectory
from openprepaid.hes.throttle import Throttle, ThrottleLimits
from openprepaid.keyvault import KeyVault, credential_context
from openprepaid.store.model import CommandKind, CredentialKind
from openprepaid.store.repository.hes import MAX_INVOCATION_COUNTER
from openprepaid.store.repository.meter import put_credential
from tests.hes.conftest import add_meter
from tests.hes.fakes import T0, FakeClock, FakeSession, FakeSessionFactory
from tests.hes.group_commit_support import (
    FAILURES,
    NO_SUCH_METER,
    RecordingBus,
    Snapshot,
    SplittingDatabase,
    reset_database,
)

VAULT = KeyVault(bytes(range(32)))
IST = ZoneInfo("Asia/Kolkata")
TITLE = b"OPP" + (42).to_bytes(5, "big")  # add_meter's system title of serial SIM00000042
H = timedelta(hours=1)
M = timedelta(minutes=1)


@dataclass
class Env:
    sessions: sessionmaker[Session]
    clock: FakeClock
    bus: RecordingBus
    factory: FakeSessionFactory
    relay_meter: int
    ct_meter: int


def setup(sessions: sessionmaker[Session]) -> Env:
    clock = FakeClock(T0)
    relay_meter = add_meter(sessions, serial="SIM00000042")
    ct_meter = add_meter(sessions, serial="SIM00000043", has_relay=False)
    secrets = [
        (32, CredentialKind.LLS_PASSWORD, b"12345678"),
        (48, CredentialKind.GLOBAL_ENCRYPTION_KEY, bytes(range(16))),
        (48, CredentialKind.AUTHENTICATION_KEY, bytes(range(16, 32))),
    ]
    with sessions.begin() as session:
        for sap, kind, secret in secrets:
            sealed = VAULT.seal(secret, credential_context(relay_meter, sap, kind.value))
            put_credential(session, relay_meter, sap, kind, sealed=sealed, now=T0)
    return Env(sessions, clock, RecordingBus(), FakeSessionFactory(clock), relay_meter, ct_meter)


async def outcome(call: Awaitable[Any]) -> Any:
    """What a call returned, or the exception it raised (compared by type and message)."""
    try:
        return await call
    except Exception as exc:
        return exc


def request(meter_id: int, kind: CommandKind, **kwargs: Any) -> CommandRequest:
    return CommandRequest(
        meter_id=meter_id, kind=kind, actor=kwargs.pop("actor", "rule:balance"), reason="test", **kwargs
    )


# --- scenarios: the real services over the database under test --------------------------------------


async def collection(db: Database, env: Env) -> Any:
    """Two sessions: everything at first contact (drift -> clock sync queued, outages), then a backfill."""
    queue = CommandQueue(db, env.bus, env.clock, rng=random.Random(1))

    async def clock_sync(meter_id: int, drift_s: float) -> None:
        key = f"clock-sync:{meter_id}:{env.clock.now().date().isoformat()}"
        await queue.enqueue(
            request(
                meter_id, CommandKind.CLOCK_SYNC, actor="hes:clock-check", idempotency_key=key, decision={"s": drift_s}
            )
        )

    collector = Collector(db, env.bus, env.clock, max_backfill=timedelta(days=2), request_clock_sync=clock_sync)
    meter = env.factory.add(env.relay_meter, serial="SIM00000042")
    meter.fill_blocks(T0 - 24 * H, 97)
    meter.daily = {T0 - 30 * H: 1000, T0 - 6 * H: 1200}
    meter.billing = {T0 - 20 * 24 * H: 30_000}
    meter.events = {2: [(T0 - 3 * H, 101), (T0 - 2 * H, 102)], 4: [(T0 - H, 201)]}
    meter.clock_offset_s = -90
    target = await TargetDirectory(db).get(env.relay_meter)
    first = await collector.collect(FakeSession(meter), target, list(CollectionJob))
    env.clock.set(T0 + H)
    meter.fill_blocks(T0 + 15 * M, 4)
    meter.events[2].append((T0 + 30 * M, 101))
    meter.output_state = False
    jobs = [CollectionJob.CLOCK_CHECK, CollectionJob.BLOCK_LOAD, CollectionJob.EVENTS, CollectionJob.RELAY_STATE]
    second = await collector.collect(FakeSession(meter), target, jobs)
    return [first, second]


async def pushes(db: Database, env: Env) -> Any:
    calls: list[tuple[str, int, Any]] = []

    async def relay(meter_id: int, at: Any) -> None:
        calls.append(("relay", meter_id, at))

    async def back(meter_id: int, at: Any) -> None:
        calls.append(("back", meter_id, at))

    handler = PushHandler(db, env.bus, env.clock, on_relay_change=relay, on_meter_back=back)
    known = MeterIdentity(system_title=TITLE)
    by_name = MeterIdentity(device_id="OPPSIM00000042")
    results = [
        await handler.handle_alert(AlertPush(known, frozenset({85}), T0, T0)),  # last gasp: an outage opens
        await handler.handle_alert(AlertPush(known, frozenset({86, 82, 84, 90}), T0 + 47 * M, T0 + 47 * M)),
        await handler.handle_event(EventPush(known, 6, 302, T0 + 50 * M, T0 + 50 * M)),
        await handler.handle_event(EventPush(by_name, 2, 101, T0 + 2 * H, T0 + 2 * H)),
        await handler.handle_event(EventPush(by_name, 2, 101, T0 + 2 * H + M, T0 + 2 * H + M)),  # the same outage
        await handler.handle_event(EventPush(known, 2, 102, T0 + 3 * H, T0 + 3 * H)),
        await handler.handle_event(EventPush(known, 9, 1, T0 + 3 * H, T0 + 3 * H)),  # no such log: refused
        await handler.handle_alert(AlertPush(MeterIdentity(system_title=b"XXX00000"), frozenset({85}), T0, T0)),
        await handler.handle_dial_in(DialIn(known, "10.0.0.7:40000", T0 + 4 * H)),
    ]
    return [results, calls]


async def commands(db: Database, env: Env) -> Any:
    """Enqueue (idempotent, superseding, refused), claim, confirm, fail, cancel, expire, in doubt, depth."""
    queue = CommandQueue(db, env.bus, env.clock, rng=random.Random(5))
    relay, ct = env.relay_meter, env.ct_meter
    limit = CommandKind.LOAD_LIMIT_SET
    disconnect, reconnect_kind = CommandKind.RELAY_DISCONNECT, CommandKind.RELAY_RECONNECT
    steps: dict[str, Any] = {}
    steps["disconnect"] = await outcome(queue.enqueue(request(relay, disconnect, idempotency_key="d:1")))
    steps["again"] = await outcome(queue.enqueue(request(relay, disconnect, idempotency_key="d:1")))
    steps["conflict"] = await outcome(queue.enqueue(request(relay, reconnect_kind, idempotency_key="d:1")))
    steps["reconnect"] = reconnect = await queue.enqueue(request(relay, reconnect_kind))
    steps["no relay"] = await outcome(queue.enqueue(request(ct, disconnect)))
    steps["unknown meter"] = await outcome(queue.enqueue(request(NO_SUCH_METER, limit, params={"threshold_w": 1})))
    steps["limit"] = limit_cmd = await queue.enqueue(request(ct, limit, params={"threshold_w": 5000}))
    steps["claim"] = await queue.claim(limit=10)
    steps["claim nothing"] = await queue.claim(limit=10)
    steps["unproven"] = await outcome(queue.confirm(reconnect.command.id, None))
    env.clock.set(T0 + 5 * M)
    values = {"output_state": True, "control_state": 1, "control_mode": 2}
    steps["confirm"] = await queue.confirm(reconnect.command.id, ReadBack(DISCONNECT_CONTROL, 70, values, T0 + 5 * M))
    steps["fail"] = await queue.attempt_failed(limit_cmd.command.id, AccessRefusedError("keys refused"))
    steps["no such command"] = await outcome(queue.cancel(NO_SUCH_METER, actor="operator", reason="x"))
    steps["sync"] = await queue.enqueue(request(relay, CommandKind.CLOCK_SYNC, deadline_at=T0 + H))
    steps["queued"] = await queue.enqueue(request(ct, limit, params={"threshold_w": 2000}, actor="rule:night"))
    steps["kill switch"] = await queue.cancel_matching([limit], actor="operator", reason="stop", actor_prefix="rule:")
    env.clock.set(T0 + 2 * H)
    steps["expired"] = await queue.expire_due()
    steps["later"] = later = await queue.enqueue(request(relay, disconnect, idempotency_key="d:2"))
    steps["cancel"] = await queue.cancel(later.command.id, actor="operator", reason="mistake")
    steps["cancel again"] = await outcome(queue.cancel(later.command.id, actor="operator", reason="mistake"))
    steps["in flight"] = await queue.enqueue(request(relay, disconnect))
    steps["claim again"] = await queue.claim(limit=10)
    steps["in doubt"] = await queue.in_doubt()
    steps["get"] = await queue.get(reconnect.command.id)
    steps["depth"] = await queue.depth()
    return steps


async def registry(db: Database, env: Env) -> Any:
    """Targets, credentials, push keys, identification and the scheduler's facts: read-only units."""
    targets = TargetDirectory(db)
    credentials = CredentialStore(db, VAULT)
    throttle = Throttle(ThrottleLimits(max_sessions=2, connections_per_s=50, burst=50, min_gap_s=0), env.clock)
    scheduler = CollectionScheduler(
        db, targets, env.factory, Collector(db, env.bus, env.clock), env.clock,
        throttle=throttle, config=ScheduleConfig(), zone=IST,
    )  # fmt: skip
    loaded = await scheduler.load_facts()
    return [
        await targets.get_many([env.relay_meter, env.ct_meter, NO_SUCH_METER]),
        await outcome(TargetDirectory(db).get(NO_SUCH_METER)),
        await credentials.secrets_for(env.relay_meter, Association.METER_READER),
        await credentials.secrets_for(env.relay_meter, Association.UTILITY_SETTINGS),
        await outcome(credentials.secrets_for(env.ct_meter, Association.METER_READER)),
        await RegistryPushKeys(db, credentials).keys_for(TITLE),
        await RegistryPushKeys(db, credentials).keys_for(b"XXX00000"),
        [loaded, scheduler.facts, scheduler.groups],
    ]


async def counters(db: Database, env: Env) -> Any:
    store = InvocationCounterStore(db, env.clock, block_size=4)
    relay, ct = env.relay_meter, env.ct_meter
    values: list[Any] = [await store.next_value(relay, 48) for _ in range(10)]
    values += [await store.next_value(relay, 32) for _ in range(3)]
    await store.raise_floor(relay, 48, 100)
    values += [await store.next_value(relay, 48) for _ in range(3)]
    values.append(sorted(await asyncio.gather(*(store.next_value(ct, 32) for _ in range(9)))))
    values.append(list(await store.reserve(ct, 48, 5)))
    await store.raise_floor(ct, 48, MAX_INVOCATION_COUNTER - 1)
    values.append(await outcome(store.reserve(ct, 48, 5)))  # exhausted: nothing reserved
    values.append(await outcome(store.next_value(NO_SUCH_METER, 48)))  # a removed meter: a foreign key
    return values


async def retry_after_a_network_fault(db: Database, env: Env) -> Any:
    queue = CommandQueue(
        db, env.bus, env.clock, rng=random.Random(5), retry_policy=RetryPolicy(base_delay_s=10, jitter=0.5)
    )
    queued = await queue.enqueue(request(env.relay_meter, CommandKind.RELAY_DISCONNECT))
    await queue.claim(limit=1)
    return await queue.attempt_failed(queued.command.id, NetworkError("modem offline"))


SCENARIOS: dict[str, Callable[[Database, Env], Awaitable[Any]]] = {
    "collection": collection,
    "pushes": pushes,
    "commands": commands,
    "registry": registry,
    "counters": counters,
}


async def play(
    scenario: Callable[[Database, Env], Awaitable[Any]],
    engine: Engine,
    sessions: sessionmaker[Session],
    make_db: Callable[[sessionmaker[Session]], Database],
) -> Snapshot:
    reset_database(engine)
    env = setup(sessions)
    db = make_db(sessions)
    result = await scenario(db, env)
    return Snapshot.take(sessions, env.bus, result)


async def alone_and_split(
    scenario: Callable[[Database, Env], Awaitable[Any]], engine: Engine, sessions: sessionmaker[Session], failure: str
) -> tuple[Snapshot, Snapshot, SplittingDatabase]:
    alone = await play(scenario, engine, sessions, Database)
    split: list[SplittingDatabase] = []

    def splitting(s: sessionmaker[Session]) -> Database:
        split.append(SplittingDatabase(s, failure))
        return split[0]

    batched = await play(scenario, engine, sessions, splitting)
    return alone, batched, split[0]


@pytest.mark.parametrize("failure", FAILURES)
@pytest.mark.parametrize("scenario", list(SCENARIOS))
async def test_a_split_batch_leaves_what_running_alone_leaves(migrated_engine, hes_sessions, scenario, failure):
    alone, batched, db = await alone_and_split(SCENARIOS[scenario], migrated_engine, hes_sessions, failure)
    # every unit ran once in a transaction that was rolled back, then again in the one that committed
    assert db.stats.batches > 0 and db.stats.split_batches == db.stats.batches
    assert db.neighbours_failed == db.stats.batches
    assert batched.tables == alone.tables
    assert batched.published == alone.published
    assert batched.result == alone.result


@pytest.mark.parametrize("failure", FAILURES[:1])
async def test_a_retried_command_waits_the_same_back_off_in_a_split_batch(migrated_engine, hes_sessions, failure):
    alone, batched, _ = await alone_and_split(retry_after_a_network_fault, migrated_engine, hes_sessions, failure)
    assert batched.result == alone.result
