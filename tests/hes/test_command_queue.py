"""The persistent command queue: idempotent enqueue, priorities, read-back confirmation, retries, expiry."""

from __future__ import annotations

from datetime import timedelta

import pytest

from openprepaid.hes.command_queue import (
    CommandQueue,
    CommandRequest,
    ConfirmationRefusedError,
    IdempotencyConflictError,
)
from openprepaid.hes.command_state import IllegalTransitionError
from openprepaid.hes.command_verification import InvalidCommandError, ReadBack
from openprepaid.hes.priority import Priority
from openprepaid.hes.retry import AccessRefusedError, NetworkError, RetryPolicy
from openprepaid.hes.session import DISCONNECT_CONTROL, LIMITER
from openprepaid.store.model import CommandKind, CommandState
from tests.hes.conftest import add_meter

DISCONNECT = CommandKind.RELAY_DISCONNECT
RECONNECT = CommandKind.RELAY_RECONNECT


def request(meter_id, kind=DISCONNECT, **kwargs):
    return CommandRequest(
        meter_id=meter_id, kind=kind, actor=kwargs.pop("actor", "rule:balance"), reason="balance below zero", **kwargs
    )


def relay_readback(clock, connected: bool):
    values = {"output_state": connected, "control_state": 1 if connected else 0, "control_mode": 2}
    return ReadBack(DISCONNECT_CONTROL, 70, values, clock.now())


@pytest.fixture
def queue(db, bus, clock, rng):
    return CommandQueue(
        db, bus, clock, rng=rng, retry_policy=RetryPolicy(max_attempts=3, base_delay_s=10, max_delay_s=100, jitter=0.5)
    )


async def test_enqueue_is_idempotent_by_key(queue, hes_sessions):
    meter = add_meter(hes_sessions)
    first = await queue.enqueue(request(meter, idempotency_key="disc:1", decision={"balance_paise": -500}))
    again = await queue.enqueue(request(meter, idempotency_key="disc:1"))
    assert first.created and not again.created
    assert again.command.id == first.command.id
    assert first.command.state is CommandState.QUEUED
    assert first.command.decision == {"balance_paise": -500}
    assert first.command.priority == Priority.RELAY
    with pytest.raises(IdempotencyConflictError):
        await queue.enqueue(request(meter, kind=RECONNECT, idempotency_key="disc:1"))
    assert (await queue.depth())[CommandState.QUEUED] == 1


async def test_enqueue_refuses_bad_commands(queue, hes_sessions, clock):
    relay_meter = add_meter(hes_sessions, serial="SIM00000001")
    ct_meter = add_meter(hes_sessions, serial="SIM00000002", has_relay=False)
    with pytest.raises(InvalidCommandError, match="no relay"):
        await queue.enqueue(request(ct_meter))
    with pytest.raises(InvalidCommandError, match="unknown meter"):
        await queue.enqueue(request(999_999))
    with pytest.raises(InvalidCommandError, match="threshold_w"):
        await queue.enqueue(request(relay_meter, kind=CommandKind.LOAD_LIMIT_SET, params={"threshold_w": "5kW"}))
    with pytest.raises(InvalidCommandError, match="threshold_w"):
        await queue.enqueue(request(relay_meter, kind=CommandKind.LOAD_LIMIT_SET, params={"threshold_w": True}))
    with pytest.raises(InvalidCommandError, match="verify"):
        await queue.enqueue(
            request(
                relay_meter,
                kind=CommandKind.GENERIC_ACTION,
                params={"class_id": 70, "obis": "0.0.96.3.10.255", "method": 1},
            )
        )
    with pytest.raises(InvalidCommandError, match="past"):
        await queue.enqueue(request(relay_meter, deadline_at=clock.now()))
    with pytest.raises(InvalidCommandError, match="actor"):
        await queue.enqueue(CommandRequest(relay_meter, DISCONNECT, actor="", reason="x"))
    # A CT meter still takes a limiter command.
    result = await queue.enqueue(request(ct_meter, kind=CommandKind.LOAD_LIMIT_SET, params={"threshold_w": 5000}))
    assert result.created


async def test_claim_by_priority_one_per_meter_skipping_busy_and_not_yet_due(queue, hes_sessions, clock):
    a, b, c, d = (add_meter(hes_sessions, serial=f"SIM0000001{i}") for i in range(4))
    scheduled = await queue.enqueue(request(a, kind=CommandKind.CLOCK_SYNC))
    limit = await queue.enqueue(
        request(b, kind=CommandKind.LOAD_LIMIT_SET, params={"threshold_w": 3000}, priority=Priority.ON_DEMAND)
    )
    relay = await queue.enqueue(request(c))
    later = await queue.enqueue(request(d, not_before_at=clock.now() + timedelta(minutes=5)))
    second_for_a = await queue.enqueue(request(a, kind=CommandKind.LOAD_LIMIT_SET, params={"threshold_w": 1000}))

    claimed = await queue.claim(limit=10, busy_meter_ids={b})
    assert [cmd.id for cmd in claimed] == [relay.command.id, second_for_a.command.id]
    assert all(cmd.state is CommandState.SENT and cmd.attempts == 1 for cmd in claimed)
    assert claimed[0].sent_at == clock.now()
    # Meters with a command in flight get nothing more; b was busy in memory only.
    claimed = await queue.claim(limit=10)
    assert [cmd.id for cmd in claimed] == [limit.command.id]
    clock.set(clock.now() + timedelta(minutes=5))
    claimed = await queue.claim(limit=10)
    assert [cmd.id for cmd in claimed] == [later.command.id]
    assert (await queue.get(scheduled.command.id)).state is CommandState.QUEUED
    assert await queue.claim(limit=0) == []


async def test_confirm_requires_a_matching_readback(queue, hes_sessions, clock):
    meter = add_meter(hes_sessions)
    command = (await queue.enqueue(request(meter))).command
    await queue.claim(limit=1)
    with pytest.raises(ConfirmationRefusedError, match="no read-back"):
        await queue.confirm(command.id, None)
    with pytest.raises(ConfirmationRefusedError, match="output_state"):
        await queue.confirm(command.id, relay_readback(clock, connected=True))
    wrong_object = ReadBack(LIMITER, 71, {"output_state": False, "control_state": 0}, clock.now())
    with pytest.raises(ConfirmationRefusedError, match=r"read-back of 0\.0\.17\.0\.0\.255"):
        await queue.confirm(command.id, wrong_object)
    assert (await queue.get(command.id)).state is CommandState.SENT
    confirmed = await queue.confirm(command.id, relay_readback(clock, connected=False))
    assert confirmed.state is CommandState.CONFIRMED
    assert confirmed.readback["values"] == {"output_state": False, "control_state": 0, "control_mode": 2}
    assert confirmed.completed_at == clock.now()
    with pytest.raises(IllegalTransitionError):
        await queue.confirm(command.id, relay_readback(clock, connected=False))


async def test_wrong_readback_retries_with_backoff_then_fails(queue, hes_sessions, clock, outcomes, bus):
    meter = add_meter(hes_sessions)
    command = (await queue.enqueue(request(meter))).command
    delays = []
    for attempt in (1, 2):
        [claimed] = await queue.claim(limit=1)
        assert claimed.attempts == attempt
        view = await queue.complete(command.id, relay_readback(clock, connected=True))
        assert view.state is CommandState.QUEUED
        assert "ReadbackMismatchError" in view.last_error
        assert view.readback["values"]["output_state"] is True
        delay = (view.not_before_at - clock.now()).total_seconds()
        delays.append(delay)
        assert await queue.claim(limit=1) == []  # not before the back-off
        clock.set(view.not_before_at)
    # base 10 s, factor 2, jitter 0.5: attempt 1 waits 5..10 s, attempt 2 waits 10..20 s.
    assert 5 <= delays[0] <= 10 and 10 <= delays[1] <= 20
    [claimed] = await queue.claim(limit=1)
    view = await queue.complete(command.id, relay_readback(clock, connected=True))
    assert view.state is CommandState.FAILED and view.attempts == 3
    assert view.decision["history"][-1]["failure"] == "gave up after 3 attempts"
    await bus.drain()
    states = [payload["state"] for subject, payload in outcomes.messages if subject == f"op.commands.outcome.{meter}"]
    assert states == ["queued", "queued", "failed"]


async def test_non_retryable_error_fails_at_once(queue, hes_sessions):
    meter = add_meter(hes_sessions)
    command = (await queue.enqueue(request(meter))).command
    await queue.claim(limit=1)
    view = await queue.attempt_failed(command.id, AccessRefusedError("authentication failure"))
    assert view.state is CommandState.FAILED
    assert view.last_error == "AccessRefusedError: authentication failure"


async def test_deadline_expiry(queue, hes_sessions, clock):
    meter = add_meter(hes_sessions, serial="SIM00000001")
    other = add_meter(hes_sessions, serial="SIM00000002")
    deadline = clock.now() + timedelta(seconds=30)
    queued = (await queue.enqueue(request(meter, deadline_at=deadline))).command
    in_flight = (await queue.enqueue(request(other, deadline_at=clock.now() + timedelta(seconds=4)))).command
    await queue.claim(limit=1, busy_meter_ids={meter})
    # A retry that could only happen after the deadline expires the command instead.
    view = await queue.attempt_failed(in_flight.id, NetworkError("modem offline"))
    assert view.state is CommandState.EXPIRED and "NetworkError" in view.last_error
    assert await queue.expire_due() == []
    clock.set(deadline)
    assert await queue.claim(limit=5) == []
    [expired] = await queue.expire_due()
    assert expired.id == queued.id and expired.state is CommandState.EXPIRED
    assert expired.last_error == "deadline passed while queued"


async def test_cancel_queued_but_not_in_flight(queue, hes_sessions):
    meter = add_meter(hes_sessions, serial="SIM00000001")
    other = add_meter(hes_sessions, serial="SIM00000002")
    queued = (await queue.enqueue(request(meter))).command
    sent = (await queue.enqueue(request(other))).command
    await queue.claim(limit=1, busy_meter_ids={meter})
    view = await queue.cancel(queued.id, actor="operator:asha", reason="wrong account")
    assert view.state is CommandState.CANCELLED
    assert view.decision["history"][-1]["cancelled_by"] == "operator:asha"
    with pytest.raises(IllegalTransitionError):
        await queue.cancel(sent.id, actor="operator:asha", reason="too late")


async def test_kill_switch_cancels_pending_automatic_disconnections(queue, hes_sessions):
    meters = [add_meter(hes_sessions, serial=f"SIM0000002{i}") for i in range(3)]
    for meter in meters:
        await queue.enqueue(request(meter, actor="rule:emergency-credit-over"))
    manual = await queue.enqueue(
        request(meters[0], kind=CommandKind.LOAD_LIMIT_SET, params={"threshold_w": 2000}, actor="operator:ravi")
    )
    cancelled = await queue.cancel_matching(
        [DISCONNECT], actor="operator:chief", reason="kill switch", actor_prefix="rule:"
    )
    assert len(cancelled) == 3
    assert (await queue.get(manual.command.id)).state is CommandState.QUEUED


async def test_a_newer_relay_command_supersedes_older_ones(queue, hes_sessions):
    meter = add_meter(hes_sessions)
    disconnect = (await queue.enqueue(request(meter))).command
    reconnect = await queue.enqueue(request(meter, kind=RECONNECT, actor="rule:recharge"))
    assert reconnect.superseded == (disconnect.id,)
    assert (await queue.get(disconnect.id)).state is CommandState.CANCELLED
    # In flight, a disconnect that must retry is cancelled when a reconnect arrived meanwhile.
    second = (await queue.enqueue(request(meter, kind=DISCONNECT))).command
    [claimed] = await queue.claim(limit=1)
    assert claimed.id == second.id
    newest = (await queue.enqueue(request(meter, kind=RECONNECT))).command
    assert (await queue.claim(limit=1)) == []  # meter busy: the reconnect waits its turn
    view = await queue.attempt_failed(second.id, NetworkError("dropped"))
    assert view.state is CommandState.CANCELLED
    [claimed] = await queue.claim(limit=1)
    assert claimed.id == newest.id


async def test_queue_bound_per_meter(db, bus, clock, rng, hes_sessions):
    queue = CommandQueue(db, bus, clock, rng=rng, max_open_per_meter=2)
    meter = add_meter(hes_sessions)
    for threshold in (1000, 2000):
        await queue.enqueue(request(meter, kind=CommandKind.LOAD_LIMIT_SET, params={"threshold_w": threshold}))
    with pytest.raises(Exception, match="2 open commands"):
        await queue.enqueue(request(meter, kind=CommandKind.LOAD_LIMIT_SET, params={"threshold_w": 3000}))


async def test_a_relay_command_claimed_while_a_newer_one_is_enqueued_stays_in_flight(queue, hes_sessions, monkeypatch):
    """The race: the older command is read as queued, then a worker claims it before it is superseded."""
    from openprepaid.hes import command_queue as queue_module  # noqa: PLC0415

    meter = add_meter(hes_sessions)
    disconnect = (await queue.enqueue(request(meter))).command
    read_queued = queue_module.repo.open_commands_of_kinds

    def read_then_claimed_elsewhere(session, *args, **kwargs):
        rows = read_queued(session, *args, **kwargs)
        for row in (r for r in rows if r.id == disconnect.id):  # a worker's claim between the read and the update
            queue_module.repo.change_state(
                session, row.id, CommandState.QUEUED, {"state": CommandState.SENT}, count_attempt=True
            )
        return rows

    monkeypatch.setattr(queue_module.repo, "open_commands_of_kinds", read_then_claimed_elsewhere)
    reconnect = await queue.enqueue(request(meter, kind=RECONNECT, actor="rule:recharge"))
    monkeypatch.undo()
    assert reconnect.created and reconnect.superseded == ()
    assert (await queue.get(disconnect.id)).state is CommandState.SENT  # in flight: verified, not cancelled
    assert (await queue.get(reconnect.command.id)).state is CommandState.QUEUED
    assert await queue.claim(limit=1) == []  # the reconnect waits for the disconnect's outcome
