"""The same contract for both buses: the in-process one and NATS JetStream on the real server."""

from __future__ import annotations

import asyncio
import uuid

import pytest

from openprepaid.bus.base import BusError, BusMessage, subject_matches
from openprepaid.bus.in_process import InProcessBus
from openprepaid.bus.jetstream import JetStreamBus, durable_name


@pytest.fixture(params=["in-process", pytest.param("jetstream", marks=pytest.mark.nats)])
async def bus(request):
    if request.param == "in-process":
        instance = InProcessBus(queue_size=8)
        yield instance
        await instance.close()
        return
    url = request.getfixturevalue("nats_url")
    suffix = uuid.uuid4().hex[:8]
    instance = await JetStreamBus.connect(url, stream=f"OPTEST_{suffix}", root=f"optest{suffix}")
    instance.root = f"optest{suffix}"
    try:
        yield instance
    finally:
        await instance.delete_stream()
        await instance.close()


def _root(bus) -> str:
    return getattr(bus, "root", "op")


async def _collect(expected: int, received: list, timeout_s: float = 10.0) -> None:
    async with asyncio.timeout(timeout_s):
        while len(received) < expected:
            await asyncio.sleep(0.01)


async def test_wildcard_delivery_once_per_group(bus):
    root = _root(bus)
    first: list[BusMessage] = []
    second: list[BusMessage] = []

    async def to_first(message: BusMessage) -> None:
        first.append(message)

    async def to_second(message: BusMessage) -> None:
        second.append(message)

    await bus.subscribe(f"{root}.readings.>", to_first, group="wallet")
    await bus.subscribe(f"{root}.readings.*.7", to_second, group="alerts")
    await bus.publish_json(f"{root}.readings.block.7", {"wh": 120})
    await bus.publish_json(f"{root}.readings.daily.8", {"wh": 9000})
    await bus.publish_json(f"{root}.events.meter.7", {"code": 101})
    await _collect(2, first)
    await _collect(1, second)
    await asyncio.sleep(0.2)
    assert sorted(m.subject for m in first) == [f"{root}.readings.block.7", f"{root}.readings.daily.8"]
    assert [m.json() for m in second] == [{"wh": 120}]


async def test_publish_with_the_same_msg_id_is_delivered_once(bus):
    root = _root(bus)
    received: list[BusMessage] = []

    async def handler(message: BusMessage) -> None:
        received.append(message)

    await bus.subscribe(f"{root}.commands.>", handler, group="hes")
    for _ in range(3):
        await bus.publish(f"{root}.commands.request", b"disconnect 42", msg_id="cmd-42")
    await bus.publish(f"{root}.commands.request", b"reconnect 42", msg_id="cmd-43")
    await _collect(2, received)
    await asyncio.sleep(0.3)
    assert [m.data for m in received] == [b"disconnect 42", b"reconnect 42"]
    assert received[0].msg_id == "cmd-42"


async def test_a_failing_handler_gets_the_message_again(bus):
    root = _root(bus)
    attempts: list[int] = []

    async def flaky(message: BusMessage) -> None:
        attempts.append(message.delivery_attempt)
        if len(attempts) < 3:
            raise RuntimeError("database busy")

    await bus.subscribe(f"{root}.alerts", flaky, group="notifier", max_attempts=5)
    await bus.publish(f"{root}.alerts", b"tamper")
    await _collect(3, attempts, timeout_s=15)
    await asyncio.sleep(0.3)
    assert attempts == [1, 2, 3]


async def test_invalid_subjects_are_refused(bus):
    with pytest.raises(BusError):
        await bus.publish("op.readings.*", b"x")
    with pytest.raises(BusError):
        await bus.publish("op..x", b"x")

    async def handler(message: BusMessage) -> None:
        return None

    with pytest.raises(BusError):
        await bus.subscribe("op.>.x", handler, group="g")


async def test_in_process_back_pressure_keeps_queues_bounded():
    bus = InProcessBus(queue_size=2)
    release = asyncio.Event()
    handled: list[bytes] = []

    async def slow(message: BusMessage) -> None:
        await release.wait()
        handled.append(message.data)

    await bus.subscribe("op.x", slow, group="g")
    for index in range(3):  # one in the handler, two queued
        await bus.publish("op.x", bytes([index]))
    blocked = asyncio.create_task(bus.publish("op.x", b"\x03"))
    await asyncio.sleep(0.05)
    assert not blocked.done(), "publish must wait when the subscriber's queue is full"
    release.set()
    await blocked
    await bus.close()
    assert handled == [b"\x00", b"\x01", b"\x02", b"\x03"]


async def test_in_process_dead_letters_after_max_attempts(monkeypatch):
    monkeypatch.setattr("openprepaid.bus.in_process.RETRY_DELAY_S", 0.0)
    bus = InProcessBus()

    async def always_fails(message: BusMessage) -> None:
        raise ValueError("bad payload")

    await bus.subscribe("op.y", always_fails, group="g", max_attempts=2)
    await bus.publish("op.y", b"poison")
    await bus.drain()
    assert [m.data for m in bus.dead_letters] == [b"poison"]
    await bus.close()
    with pytest.raises(BusError, match="closed"):
        await bus.publish("op.y", b"late")


@pytest.mark.parametrize(
    ("pattern", "subject", "expected"),
    [
        ("op.>", "op.a.b", True),
        ("op.>", "op", False),
        ("op.*", "op.a", True),
        ("op.*", "op.a.b", False),
        ("op.a", "op.a", True),
        ("op.a.*.c", "op.a.b.c", True),
        ("op.a.*.c", "op.a.b.d", False),
    ],
)
def test_subject_matching(pattern, subject, expected):
    assert subject_matches(pattern, subject) is expected


def test_durable_names_are_valid_for_jetstream():
    assert durable_name("wallet", "op.readings.>") == "wallet__op_readings_all"
