"""The command worker against in-memory meters: verified execution, retries, and restart recovery."""

from __future__ import annotations

from datetime import timedelta

import pytest
from prometheus_client import CollectorRegistry

from openprepaid.hes.command_queue import CommandQueue
from openprepaid.hes.command_records import CommandRequest
from openprepaid.hes.command_worker import CommandWorker
from openprepaid.hes.database import Database
from openprepaid.hes.meter_read import ReadBackRecorder
from openprepaid.hes.metrics import HesMetrics
from openprepaid.hes.retry import AccessRefusedError, RetryPolicy
from openprepaid.hes.session import Association, RelayControlState
from openprepaid.hes.targets import TargetDirectory
from openprepaid.hes.throttle import Throttle, ThrottleLimits
from openprepaid.store.engine import make_engine, make_session_factory
from openprepaid.store.model import CommandKind, CommandState
from tests.hes.conftest import add_meter
from tests.hes.fakes import FakeSessionFactory

POLICY = RetryPolicy(max_attempts=3, base_delay_s=10, max_delay_s=60, jitter=0.0)
LIMITS = ThrottleLimits(max_sessions=8, connections_per_s=1000, burst=100, min_gap_s=0)


def build(db, bus, clock, rng, factory, metrics=None):
    queue = CommandQueue(db, bus, clock, rng=rng, retry_policy=POLICY, metrics=metrics)
    worker = CommandWorker(
        queue,
        factory,
        TargetDirectory(db),
        Throttle(LIMITS, clock),
        clock,
        recorder=ReadBackRecorder(db, bus),
        max_in_flight=4,
        metrics=metrics,
    )
    return queue, worker


def disconnect(meter_id, **kwargs):
    return CommandRequest(meter_id, CommandKind.RELAY_DISCONNECT, actor="rule:balance", reason="negative", **kwargs)


async def test_disconnect_is_executed_and_confirmed_by_readback(db, bus, clock, rng, hes_sessions):
    factory = FakeSessionFactory(clock)
    meter_id = add_meter(hes_sessions)
    meter = factory.add(meter_id)
    metrics = HesMetrics(CollectorRegistry())
    queue, worker = build(db, bus, clock, rng, factory, metrics)
    command = (await queue.enqueue(disconnect(meter_id))).command
    [view] = await worker.run_once()
    assert view.id == command.id and view.state is CommandState.CONFIRMED
    assert meter.calls == ["disconnect", "read_relay_state"]
    assert factory.opened == [(meter_id, Association.UTILITY_SETTINGS)]
    assert view.readback["obis"] == "0.0.96.3.10.255"
    value = metrics.registry.get_sample_value(
        "openprepaid_hes_command_outcomes_total", {"kind": "relay_disconnect", "state": "confirmed"}
    )
    assert value == 1.0


async def test_meter_that_does_not_obey_is_never_confirmed(db, bus, clock, rng, hes_sessions):
    factory = FakeSessionFactory(clock)
    meter_id = add_meter(hes_sessions)
    meter = factory.add(meter_id, obeys_relay=False)
    queue, worker = build(db, bus, clock, rng, factory)
    command = (await queue.enqueue(disconnect(meter_id))).command
    states = []
    for _ in range(POLICY.max_attempts):
        [view] = await worker.run_once()
        states.append(view.state)
        clock.set(clock.now() + timedelta(minutes=5))
    assert states == [CommandState.QUEUED, CommandState.QUEUED, CommandState.FAILED]
    assert meter.calls.count("disconnect") == POLICY.max_attempts
    final = await queue.get(command.id)
    assert final.state is CommandState.FAILED and final.readback["values"]["output_state"] is True
    assert await worker.run_once() == []


async def test_unreachable_meter_retries_then_a_refusal_fails(db, bus, clock, rng, hes_sessions):
    factory = FakeSessionFactory(clock)
    meter_id = add_meter(hes_sessions)
    meter = factory.add(meter_id)
    factory.offline.add(meter_id)
    queue, worker = build(db, bus, clock, rng, factory)
    command = (await queue.enqueue(disconnect(meter_id))).command
    [view] = await worker.run_once()
    assert view.state is CommandState.QUEUED and "NetworkError" in view.last_error
    assert view.not_before_at == clock.now() + timedelta(seconds=10)
    factory.offline.clear()
    meter.fail_next.append(AccessRefusedError("HLS authentication failed"))
    clock.set(view.not_before_at)
    [view] = await worker.run_once()
    assert view.id == command.id and view.state is CommandState.FAILED


async def test_restart_reverifies_commands_left_sent(migrated_engine, hes_sessions, bus, clock, rng):
    url = migrated_engine.url.render_as_string(hide_password=False)
    factory = FakeSessionFactory(clock)
    obeyed_id = add_meter(hes_sessions, serial="SIM00000001")
    pending_id = add_meter(hes_sessions, serial="SIM00000002")
    obeyed = factory.add(obeyed_id)
    pending = factory.add(pending_id)

    # Process 1 queues and sends both, the meter obeys one, then the process dies before recording it.
    engine_1 = make_engine(url)
    queue_1 = CommandQueue(Database(make_session_factory(engine_1)), bus, clock, rng=rng, retry_policy=POLICY)
    first = (await queue_1.enqueue(disconnect(obeyed_id, idempotency_key="k1"))).command
    second = (await queue_1.enqueue(disconnect(pending_id, idempotency_key="k2"))).command
    assert len(await queue_1.claim(limit=10)) == 2
    obeyed.output_state, obeyed.control_state = False, RelayControlState.DISCONNECTED
    engine_1.dispose()

    # Process 2 starts on the same database.
    engine_2 = make_engine(url)
    try:
        db_2 = Database(make_session_factory(engine_2))
        queue_2, worker_2 = build(db_2, bus, clock, rng, factory)
        # Re-enqueueing with the same key after the restart finds the command, not a twin.
        assert not (await queue_2.enqueue(disconnect(obeyed_id, idempotency_key="k1"))).created
        recovered = {view.id: view for view in await worker_2.recover()}
        assert recovered[first.id].state is CommandState.CONFIRMED
        assert obeyed.calls == ["read_relay_state"]  # verified, not sent again
        assert recovered[second.id].state is CommandState.QUEUED  # not in effect: back to the queue
        assert "ReadbackMismatchError" in recovered[second.id].last_error
        assert pending.calls == ["read_relay_state"]
        clock.set(recovered[second.id].not_before_at)
        [view] = await worker_2.run_once()
        assert view.id == second.id and view.state is CommandState.CONFIRMED
        assert pending.calls == ["read_relay_state", "disconnect", "read_relay_state"]
        assert view.attempts == 2
    finally:
        engine_2.dispose()


async def test_stale_in_flight_commands_are_verified_each_round(db, bus, clock, rng, hes_sessions):
    factory = FakeSessionFactory(clock)
    meter_id = add_meter(hes_sessions)
    meter = factory.add(meter_id)
    queue, worker = build(db, bus, clock, rng, factory)
    command = (await queue.enqueue(disconnect(meter_id))).command
    await queue.claim(limit=1)  # another worker took it and went silent
    assert await worker.run_once() == []  # not stale yet: left alone
    clock.set(clock.now() + timedelta(minutes=11))
    [view] = await worker.run_once()
    assert view.id == command.id and view.state is CommandState.QUEUED
    assert meter.calls == ["read_relay_state"]


@pytest.mark.parametrize(
    ("kind", "params", "meter_changes"),
    [
        (CommandKind.LOAD_LIMIT_SET, {"threshold_w": 2500}, {"limiter_w": 2500}),
        (CommandKind.LOAD_LIMIT_DISABLE, {}, {"limiter_enabled": False}),
        (CommandKind.PAYMENT_MODE, {"prepaid": False}, {"prepaid": False}),
        (CommandKind.BALANCE_DISPLAY, {"amount_paise": -12_345}, {"balance_paise": -12_345}),
        (CommandKind.CLOCK_SYNC, {}, {"clock_offset_s": 0.0}),
    ],
)
async def test_other_commands_are_verified_by_their_object(
    db, bus, clock, rng, hes_sessions, kind, params, meter_changes
):
    factory = FakeSessionFactory(clock)
    meter_id = add_meter(hes_sessions)
    meter = factory.add(meter_id, clock_offset_s=-95.0)
    queue, worker = build(db, bus, clock, rng, factory)
    await queue.enqueue(CommandRequest(meter_id, kind, actor="operator:x", reason="test", params=params))
    [view] = await worker.run_once()
    assert view.state is CommandState.CONFIRMED, view.last_error
    for name, value in meter_changes.items():
        assert getattr(meter, name) == value
