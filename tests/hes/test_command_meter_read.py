"""The ``meter_read`` command: an on-demand read run by the command worker like any other command.

Against in-memory meters on both backends: confirmed when the read succeeded, with the result in
``command.readback`` and the instantaneous values stored (once, however often recorded); a meter
without a relay; a meter the worker cannot reach retried until the deadline, then expired; a
queued read surviving a restart, and one left in flight read again (never assumed done); what
``command_verification`` says about a command that sets nothing.
"""

from __future__ import annotations

import random
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from openprepaid.hes import command_executor
from openprepaid.hes.command_queue import CommandQueue, IdempotencyConflictError
from openprepaid.hes.command_records import CommandRequest
from openprepaid.hes.command_verification import (
    METER_READ_OBJECT,
    READ_KINDS,
    InvalidCommandError,
    ReadBack,
    default_priority,
    expected_values,
    verify_readback,
)
from openprepaid.hes.command_worker import CommandWorker
from openprepaid.hes.database import Database
from openprepaid.hes.meter_read import ReadBackRecorder, read_meter
from openprepaid.hes.priority import Priority
from openprepaid.hes.retry import RetryPolicy
from openprepaid.hes.session import CLOCK, Association, RelayControlState
from openprepaid.hes.targets import TargetDirectory
from openprepaid.hes.throttle import Throttle, ThrottleLimits
from openprepaid.store.engine import make_engine, make_session_factory
from openprepaid.store.model import CommandKind, CommandState, InstantReading, Meter
from tests.hes.conftest import add_meter
from tests.hes.fakes import T0, FakeSession, FakeSessionFactory

LIMITS = ThrottleLimits(max_sessions=8, connections_per_s=1000, burst=100, min_gap_s=0)
POLICY = RetryPolicy(max_attempts=20, base_delay_s=60, max_delay_s=600, jitter=0.0)


def build(db, bus, clock, factory):
    queue = CommandQueue(db, bus, clock, rng=random.Random(3), retry_policy=POLICY)
    worker = CommandWorker(
        queue, factory, TargetDirectory(db), Throttle(LIMITS, clock), clock, recorder=ReadBackRecorder(db, bus)
    )
    return queue, worker


def meter_read(meter_id, **kwargs):
    return CommandRequest(meter_id, CommandKind.METER_READ, actor="operator:cli", reason="on-demand read", **kwargs)


def instant_count(sessions, meter_id):
    with sessions() as session:
        statement = select(func.count()).select_from(InstantReading).where(InstantReading.meter_id == meter_id)
        return session.execute(statement).scalar_one()


def meter_row(sessions, meter_id):
    with sessions() as session:
        return session.get(Meter, meter_id)


async def test_a_meter_read_is_confirmed_with_its_result_and_stores_the_values(db, bus, clock, hes_sessions):
    factory = FakeSessionFactory(clock)
    meter_id = add_meter(hes_sessions, serial="SIM00000007")
    meter = factory.add(meter_id, clock_offset_s=-42.0)
    meter.output_state, meter.control_state = False, RelayControlState.READY_FOR_RECONNECTION
    queue, worker = build(db, bus, clock, factory)
    command = (await queue.enqueue(meter_read(meter_id))).command
    assert command.priority == int(Priority.ON_DEMAND)
    [view] = await worker.run_once()
    assert view.id == command.id and view.state is CommandState.CONFIRMED, view.last_error
    assert factory.opened == [(meter_id, Association.METER_READER)]  # a read needs no client 48
    assert meter.calls == ["read_clock", "read_scalers:instant", "read_instant", "read_relay_state"]
    assert view.decision["history"][-1]["verified"].startswith("read done")
    values = view.readback["values"]
    assert (values["meter_id"], values["serial"], values["clock_drift_s"]) == (meter_id, "SIM00000007", -42.0)
    assert values["meter_time_at"] == (T0 - timedelta(seconds=42)).isoformat()
    assert values["relay"] == {
        "output_state": False,
        "control_state": "ready_for_reconnection",
        "control_mode": 2,
        "read_at": T0.isoformat(),
    }
    [row] = values["instant"]
    assert row["captured_at"] == T0.isoformat() and row["voltage_v"] == 230.5 and row["import_wh_total"] == 1234560
    assert "meter_id" not in row and "received_at" not in row
    assert instant_count(hes_sessions, meter_id) == 1
    stored = meter_row(hes_sessions, meter_id)
    assert (stored.relay_connected, stored.relay_control_state, stored.relay_read_at) == (False, 2, T0)
    assert stored.last_seen_at == T0


async def test_a_meter_without_relay_is_read_without_it(db, bus, clock, hes_sessions):
    factory = FakeSessionFactory(clock)
    meter_id = add_meter(hes_sessions, serial="SIM00000008", has_relay=False)
    meter = factory.add(meter_id)
    queue, worker = build(db, bus, clock, factory)
    await queue.enqueue(meter_read(meter_id))
    [view] = await worker.run_once()
    assert view.state is CommandState.CONFIRMED and view.readback["values"]["relay"] is None
    assert "read_relay_state" not in meter.calls
    stored = meter_row(hes_sessions, meter_id)
    assert (stored.relay_connected, stored.relay_control_state, stored.relay_read_at) == (None, None, None)
    assert instant_count(hes_sessions, meter_id) == 1


async def test_an_unreachable_meter_is_retried_until_the_deadline_then_expired(db, bus, clock, hes_sessions):
    factory = FakeSessionFactory(clock)
    meter_id = add_meter(hes_sessions)
    factory.add(meter_id)
    factory.offline.add(meter_id)
    queue, worker = build(db, bus, clock, factory)
    deadline = clock.now() + timedelta(minutes=5)
    command = (await queue.enqueue(meter_read(meter_id, deadline_at=deadline))).command
    seen = []
    for _ in range(10):
        views = await worker.run_once()
        seen.extend((view.state, view.attempts) for view in views)
        if views and views[-1].state is CommandState.EXPIRED:
            break
        clock.set(clock.now() + timedelta(seconds=60))
    final = await queue.get(command.id)
    assert final.state is CommandState.EXPIRED and "NetworkError" in final.last_error
    assert final.readback is None and clock.now() < deadline
    assert [state for state, _ in seen[:-1]] == [CommandState.QUEUED] * (len(seen) - 1)
    assert final.attempts == len(seen) >= 2  # retried (60 s, then 120 s back-off) until the next try is too late
    assert instant_count(hes_sessions, meter_id) == 0


async def test_a_queued_read_past_its_deadline_expires_without_a_session(db, bus, clock, hes_sessions):
    factory = FakeSessionFactory(clock)
    meter_id = add_meter(hes_sessions)
    factory.add(meter_id)
    queue, worker = build(db, bus, clock, factory)
    command = (await queue.enqueue(meter_read(meter_id, deadline_at=clock.now() + timedelta(seconds=30)))).command
    clock.set(clock.now() + timedelta(seconds=31))
    assert await worker.run_once() == []
    assert (await queue.get(command.id)).state is CommandState.EXPIRED and factory.opened == []


async def test_a_queued_read_survives_a_restart_and_one_in_flight_is_read_again(
    migrated_engine, hes_sessions, bus, clock
):
    url = migrated_engine.url.render_as_string(hide_password=False)
    factory = FakeSessionFactory(clock)
    queued_id = add_meter(hes_sessions, serial="SIM00000001")
    in_flight_id = add_meter(hes_sessions, serial="SIM00000002")
    queued_meter = factory.add(queued_id)
    in_flight_meter = factory.add(in_flight_id)

    engine_1 = make_engine(url)
    queue_1 = CommandQueue(Database(make_session_factory(engine_1)), bus, clock, rng=random.Random(1))
    in_flight = (await queue_1.enqueue(meter_read(in_flight_id, idempotency_key="r2"))).command
    assert [c.id for c in await queue_1.claim(limit=5)] == [in_flight.id]  # process 1 sent it, then died
    queued = (await queue_1.enqueue(meter_read(queued_id, idempotency_key="r1"))).command
    engine_1.dispose()

    engine_2 = make_engine(url)
    try:
        db_2 = Database(make_session_factory(engine_2))
        queue_2, worker_2 = build(db_2, bus, clock, factory)
        assert not (await queue_2.enqueue(meter_read(queued_id, idempotency_key="r1"))).created
        [recovered] = await worker_2.recover()
        assert recovered.id == in_flight.id and recovered.state is CommandState.CONFIRMED
        assert in_flight_meter.calls.count("read_instant") == 1
        [ran] = await worker_2.run_once()
        assert ran.id == queued.id and ran.state is CommandState.CONFIRMED and ran.attempts == 1
        assert queued_meter.calls.count("read_instant") == 1
    finally:
        engine_2.dispose()
    assert instant_count(hes_sessions, queued_id) == instant_count(hes_sessions, in_flight_id) == 1


async def test_recording_a_read_twice_stores_it_once(db, bus, clock, hes_sessions):
    factory = FakeSessionFactory(clock)
    meter_id = add_meter(hes_sessions)
    meter = factory.add(meter_id)
    target = await TargetDirectory(db).get(meter_id)
    readback = await read_meter(FakeSession(meter), target, clock)
    recorder = ReadBackRecorder(db, bus)
    for _ in range(2):  # a retried unit of work
        await recorder.record(CommandKind.METER_READ, meter_id, readback, source="cli")
    assert instant_count(hes_sessions, meter_id) == 1
    assert meter_row(hes_sessions, meter_id).relay_read_at == T0


async def test_meter_read_enqueue_rules(db, bus, clock, hes_sessions):
    meter_id = add_meter(hes_sessions)
    ct_meter_id = add_meter(hes_sessions, serial="SIM00000009", has_relay=False)
    queue, _ = build(db, bus, clock, FakeSessionFactory(clock))
    with pytest.raises(InvalidCommandError, match="takes no parameters"):
        await queue.enqueue(meter_read(meter_id, params={"obis": CLOCK}))
    assert (await queue.enqueue(meter_read(ct_meter_id))).created  # any meter can be read
    first = await queue.enqueue(meter_read(meter_id, idempotency_key="read-1"))
    again = await queue.enqueue(meter_read(meter_id, idempotency_key="read-1"))
    assert first.created and not again.created and again.command.id == first.command.id
    with pytest.raises(IdempotencyConflictError):
        await queue.enqueue(meter_read(ct_meter_id, idempotency_key="read-1"))


def test_a_read_has_nothing_to_verify_but_its_result():
    assert READ_KINDS == frozenset(command_executor.READS) == {CommandKind.METER_READ}
    assert default_priority(CommandKind.METER_READ) is Priority.ON_DEMAND
    assert command_executor.association_for(CommandKind.METER_READ) is Association.METER_READER
    assert command_executor.association_for(CommandKind.RELAY_DISCONNECT) is Association.UTILITY_SETTINGS
    result = ReadBack(METER_READ_OBJECT, 7, {"instant": []}, T0)
    assert verify_readback(CommandKind.METER_READ, {}, result).ok
    assert not verify_readback(CommandKind.METER_READ, {}, None).ok
    wrong = verify_readback(CommandKind.METER_READ, {}, ReadBack(CLOCK, 8, {}, T0))
    assert not wrong.ok and METER_READ_OBJECT in wrong.detail
    with pytest.raises(ValueError, match="sets nothing"):
        expected_values(CommandKind.METER_READ, {})
    assert ReadBack(METER_READ_OBJECT, 7, {"rows": [{"at": T0, "raw": b"\x01"}]}, T0).to_json()["values"] == {
        "rows": [{"at": T0.isoformat(), "raw": "01"}]
    }
