"""The relay as last read back, on the meter row: newest read wins, a change is published once.

On both backends (``hes_sessions``): the repository guard (an older or equally old read changes
nothing, also between concurrent writers), the bus message on ``op.events.relay.<meter_id>`` only
when output_state or control_state changed, and every path that reads the relay from the meter:
a relay command's read-back (confirmed or not), a command in doubt re-verified, and the
relay-state collection job.
"""

from __future__ import annotations

import random
import threading
from datetime import timedelta

from sqlalchemy import select

from openprepaid.hes.collection_policy import CollectionJob
from openprepaid.hes.collector import Collector
from openprepaid.hes.command_queue import CommandQueue
from openprepaid.hes.command_records import CommandRequest
from openprepaid.hes.command_worker import CommandWorker
from openprepaid.hes.meter_read import ReadBackRecorder
from openprepaid.hes.relay_record import control_state_name, record_relay_state
from openprepaid.hes.retry import RetryPolicy
from openprepaid.hes.session import RelayControlState, RelayState
from openprepaid.hes.targets import TargetDirectory
from openprepaid.hes.throttle import Throttle, ThrottleLimits
from openprepaid.store.model import CommandKind, CommandState, Meter
from openprepaid.store.repository import meter_relay
from tests.hes.conftest import add_meter
from tests.hes.fakes import T0, FakeSession, FakeSessionFactory

LIMITS = ThrottleLimits(max_sessions=8, connections_per_s=1000, burst=100, min_gap_s=0)
POLICY = RetryPolicy(max_attempts=2, base_delay_s=10, max_delay_s=60, jitter=0.0)


def recorded(sessions, meter_id):
    with sessions() as session:
        row = session.execute(
            select(Meter.relay_connected, Meter.relay_control_state, Meter.relay_read_at).where(Meter.id == meter_id)
        ).one()
        return tuple(row)


def relay_messages(outcomes):
    return [payload for subject, payload in outcomes.messages if subject.startswith("op.events.relay.")]


def state(connected: bool, at, control=None):
    control = control if control is not None else (RelayControlState.CONNECTED if connected else 0)
    return RelayState(connected, RelayControlState(control), 2, at)


# --- the repository ---------------------------------------------------------------------------------


def test_a_newer_read_is_recorded_an_older_or_equal_one_changes_nothing(hes_sessions):
    meter_id = add_meter(hes_sessions)
    with hes_sessions.begin() as session:
        assert meter_relay.recorded_relay(session, meter_id) == meter_relay.RecordedRelay(None, None, None)
        first = meter_relay.record_relay_state(session, meter_id, connected=False, control_state=0, read_at=T0)
    assert (first.applied, first.changed) == (True, True)
    assert recorded(hes_sessions, meter_id) == (False, 0, T0)

    with hes_sessions.begin() as session:
        older = meter_relay.record_relay_state(
            session, meter_id, connected=True, control_state=1, read_at=T0 - timedelta(seconds=1)
        )
        same_time = meter_relay.record_relay_state(session, meter_id, connected=True, control_state=1, read_at=T0)
    assert (older.applied, older.changed) == (False, False)
    assert (same_time.applied, same_time.changed) == (False, False)
    assert older.previous == meter_relay.RecordedRelay(False, 0, T0)
    assert recorded(hes_sessions, meter_id) == (False, 0, T0)

    later = T0 + timedelta(minutes=5)
    with hes_sessions.begin() as session:
        unchanged = meter_relay.record_relay_state(session, meter_id, connected=False, control_state=0, read_at=later)
    assert (unchanged.applied, unchanged.changed) == (True, False)  # newer read, same state: only the time moves
    assert recorded(hes_sessions, meter_id) == (False, 0, later)

    with hes_sessions.begin() as session:
        ready = meter_relay.record_relay_state(
            session, meter_id, connected=False, control_state=2, read_at=later + timedelta(seconds=1)
        )
    assert (ready.applied, ready.changed) == (True, True)  # control_state alone counts as a change


def test_an_unknown_meter_records_nothing(hes_sessions):
    with hes_sessions.begin() as session:
        update = meter_relay.record_relay_state(session, 999_999, connected=True, control_state=1, read_at=T0)
        assert meter_relay.recorded_relay(session, 999_999) is None
    assert update == meter_relay.RelayUpdate(applied=False, changed=False, previous=None)


def test_concurrent_writers_leave_the_newest_read(hes_sessions):
    """Two head-ends (threads, each its own connection and transaction) writing reads in any order."""
    meter_id = add_meter(hes_sessions)
    reads = [(T0 + timedelta(seconds=i), i % 2 == 0, 1 if i % 2 == 0 else 0) for i in range(24)]
    random.Random(5).shuffle(reads)
    applied: list[bool] = []
    errors: list[BaseException] = []

    def write(batch) -> None:
        try:
            for at, connected, control in batch:
                with hes_sessions.begin() as session:
                    update = meter_relay.record_relay_state(
                        session, meter_id, connected=connected, control_state=control, read_at=at
                    )
                    applied.append(update.applied)
        except BaseException as exc:  # reported by the test thread below
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(reads[i::2],)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors
    newest_at, newest_connected, newest_control = max(reads)
    assert recorded(hes_sessions, meter_id) == (newest_connected, newest_control, newest_at)
    assert len(applied) == len(reads) and 1 <= sum(applied) < len(reads)


# --- recording and publishing ----------------------------------------------------------------------


async def test_a_change_is_published_once_and_a_stale_read_never(db, bus, hes_sessions, outcomes):
    meter_id = add_meter(hes_sessions)
    await record_relay_state(db, bus, meter_id, state(True, T0), source="collection")
    await record_relay_state(db, bus, meter_id, state(True, T0 + timedelta(minutes=1)), source="collection")
    await record_relay_state(db, bus, meter_id, state(False, T0 + timedelta(minutes=2)), source="command:7")
    stale = await record_relay_state(db, bus, meter_id, state(True, T0 + timedelta(seconds=30)), source="cli")
    assert not stale.applied
    assert recorded(hes_sessions, meter_id) == (False, 0, T0 + timedelta(minutes=2))
    await bus.drain()
    messages = relay_messages(outcomes)
    assert [(m["output_state"], m["control_state"], m["source"]) for m in messages] == [
        (True, 1, "collection"),
        (False, 0, "command:7"),
    ]
    assert messages[0]["previous"] is None
    assert messages[1]["previous"] == {
        "output_state": True,
        "control_state": 1,
        "read_at": (T0 + timedelta(minutes=1)).isoformat(),
    }
    assert messages[1]["control_state_name"] == "disconnected" and messages[1]["meter_id"] == meter_id
    assert [subject for subject, _ in outcomes.messages if subject.startswith("op.events.relay.")] == [
        f"op.events.relay.{meter_id}"
    ] * 2


def test_control_state_names():
    assert [control_state_name(n) for n in (0, 1, 2, None, 9)] == [
        "disconnected",
        "connected",
        "ready_for_reconnection",
        None,
        "unknown_9",
    ]


# --- the paths that read the relay -------------------------------------------------------------------


def build(db, bus, clock, factory):
    queue = CommandQueue(db, bus, clock, rng=random.Random(1), retry_policy=POLICY)
    worker = CommandWorker(
        queue, factory, TargetDirectory(db), Throttle(LIMITS, clock), clock, recorder=ReadBackRecorder(db, bus)
    )
    return queue, worker


async def test_a_confirmed_relay_command_records_what_it_read(db, bus, clock, hes_sessions, outcomes):
    factory = FakeSessionFactory(clock)
    meter_id = add_meter(hes_sessions)
    factory.add(meter_id)
    queue, worker = build(db, bus, clock, factory)
    command = (
        await queue.enqueue(CommandRequest(meter_id, CommandKind.RELAY_DISCONNECT, actor="rule:x", reason="negative"))
    ).command
    [view] = await worker.run_once()
    assert view.state is CommandState.CONFIRMED
    assert recorded(hes_sessions, meter_id) == (False, 0, clock.now())
    await bus.drain()
    [message] = relay_messages(outcomes)
    assert message["source"] == f"command:{command.id}" and message["output_state"] is False


async def test_a_relay_command_that_did_not_take_effect_still_records_the_fact(db, bus, clock, hes_sessions):
    factory = FakeSessionFactory(clock)
    meter_id = add_meter(hes_sessions)
    factory.add(meter_id, obeys_relay=False)  # a welded relay: stays connected
    queue, worker = build(db, bus, clock, factory)
    await queue.enqueue(CommandRequest(meter_id, CommandKind.RELAY_DISCONNECT, actor="rule:x", reason="negative"))
    [view] = await worker.run_once()
    assert view.state is CommandState.QUEUED and "ReadbackMismatchError" in view.last_error
    assert recorded(hes_sessions, meter_id) == (True, 1, clock.now())  # what the meter said, not what was asked


async def test_an_in_doubt_command_reverified_records_the_relay(db, bus, clock, hes_sessions):
    factory = FakeSessionFactory(clock)
    meter_id = add_meter(hes_sessions)
    meter = factory.add(meter_id)
    queue, worker = build(db, bus, clock, factory)
    await queue.enqueue(CommandRequest(meter_id, CommandKind.RELAY_RECONNECT, actor="operator:x", reason="paid"))
    await queue.claim(limit=1)  # a crashed process had sent it
    clock.set(clock.now() + timedelta(minutes=1))
    [view] = await worker.recover()
    assert view.state is CommandState.CONFIRMED and meter.calls == ["read_relay_state"]
    assert recorded(hes_sessions, meter_id) == (True, 1, clock.now())


async def test_a_non_relay_command_records_no_relay(db, bus, clock, hes_sessions):
    factory = FakeSessionFactory(clock)
    meter_id = add_meter(hes_sessions)
    factory.add(meter_id)
    queue, worker = build(db, bus, clock, factory)
    await queue.enqueue(
        CommandRequest(meter_id, CommandKind.LOAD_LIMIT_SET, actor="op", reason="t", params={"threshold_w": 900})
    )
    [view] = await worker.run_once()
    assert view.state is CommandState.CONFIRMED
    assert recorded(hes_sessions, meter_id) == (None, None, None)


async def test_the_relay_state_collection_job_records_what_it_read(db, bus, clock, hes_sessions, outcomes):
    meter_id = add_meter(hes_sessions)
    ct_meter_id = add_meter(hes_sessions, serial="SIM00000002", has_relay=False)
    factory = FakeSessionFactory(clock)
    meter = factory.add(meter_id)
    meter.output_state, meter.control_state = False, RelayControlState.DISCONNECTED
    ct_meter = factory.add(ct_meter_id)
    collector = Collector(db, bus, clock)
    targets = TargetDirectory(db)
    report = await collector.collect(FakeSession(meter), await targets.get(meter_id), [CollectionJob.RELAY_STATE])
    assert report.completed == [CollectionJob.RELAY_STATE]
    assert recorded(hes_sessions, meter_id) == (False, 0, clock.now())
    await collector.collect(FakeSession(ct_meter), await targets.get(ct_meter_id), [CollectionJob.RELAY_STATE])
    assert recorded(hes_sessions, ct_meter_id) == (None, None, None) and "read_relay_state" not in ct_meter.calls
    await bus.drain()
    [message] = relay_messages(outcomes)
    assert message["source"] == "collection" and message["meter_id"] == meter_id
