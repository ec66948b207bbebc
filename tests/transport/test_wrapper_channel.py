"""The wrapper channel over real loopback TCP: whole APDUs both ways, timeouts, errors at the boundary."""

from __future__ import annotations

import asyncio

import pytest

from openprepaid.transport.errors import (
    TransportClosed,
    TransportNetworkError,
    TransportProtocolError,
    TransportTimeout,
)
from openprepaid.transport.tcp import Listener, dial
from openprepaid.transport.wrapper_channel import WrapperChannel

CLIENT_WPORT, SERVER_WPORT = 48, 1


async def _echo_server(reader, writer):
    channel = WrapperChannel(reader, writer, local_wport=SERVER_WPORT, remote_wport=None)
    while True:
        apdu = await channel.receive(timeout_s=5)
        await channel.send(apdu[::-1])


@pytest.fixture
async def echo_listener():
    listener = Listener(_echo_server)
    await listener.start("127.0.0.1", 0)
    yield listener
    await listener.close()


async def _client(port: int) -> WrapperChannel:
    reader, writer = await dial("127.0.0.1", port, timeout_s=2)
    return WrapperChannel(reader, writer, local_wport=CLIENT_WPORT, remote_wport=SERVER_WPORT)


async def test_apdus_round_trip_including_large_ones(echo_listener):
    channel = await _client(echo_listener.port)
    for apdu in (b"\xc0\x01\xc1", bytes(range(256)) * 200, b"\x7e" * 1000):
        await channel.send(apdu)
        assert await channel.receive(timeout_s=2) == apdu[::-1]
    assert channel.stats.apdus_sent == channel.stats.apdus_received == 3
    await channel.close()
    await channel.close()  # idempotent


async def test_receive_times_out_with_a_transport_timeout():
    async def silent(reader, writer):
        await asyncio.sleep(10)

    listener = Listener(silent)
    await listener.start("127.0.0.1", 0)
    channel = await _client(listener.port)
    with pytest.raises(TransportTimeout, match=r"within 0\.1 s"):
        await channel.receive(timeout_s=0.1)
    await channel.close()
    await listener.close()


async def test_peer_closing_is_reported_and_the_channel_is_closed():
    async def hang_up(reader, writer):
        writer.close()

    listener = Listener(hang_up)
    await listener.start("127.0.0.1", 0)
    channel = await _client(listener.port)
    with pytest.raises(TransportClosed):
        await channel.receive(timeout_s=2)
    assert channel.closed
    with pytest.raises(TransportClosed):
        await channel.send(b"\x01")
    await listener.close()


@pytest.mark.parametrize(
    ("reply", "message"),
    [
        (bytes.fromhex("0002 0001 0030 0001 00"), "version"),
        (bytes.fromhex("0001 0001 0010 0001 00"), "for wPort 16"),
        (bytes.fromhex("0001 0002 0030 0001 00"), "from wPort 2"),
    ],
)
async def test_malformed_or_misaddressed_frames_are_protocol_errors(reply, message):
    async def bad(reader, writer):
        writer.write(reply)
        await writer.drain()
        await asyncio.sleep(1)

    listener = Listener(bad)
    await listener.start("127.0.0.1", 0)
    channel = await _client(listener.port)
    with pytest.raises(TransportProtocolError, match=message) as info:
        await channel.receive(timeout_s=2)
    assert info.value.retryable is False
    await channel.close()
    await listener.close()


async def test_dial_errors_are_translated():
    listener = Listener(_echo_server)
    await listener.start("127.0.0.1", 0)
    port = listener.port
    await listener.close()
    with pytest.raises(TransportNetworkError, match=r"connect to 127\.0\.0\.1"):
        await dial("127.0.0.1", port, timeout_s=2)


async def test_listener_bounds_connections_and_close_cancels_them():
    started = asyncio.Event()

    async def holder(reader, writer):
        started.set()
        await asyncio.sleep(60)

    listener = Listener(holder, max_connections=1)
    await listener.start("127.0.0.1", 0)
    _first = await dial("127.0.0.1", listener.port, timeout_s=2)
    await started.wait()
    second_reader, _ = await dial("127.0.0.1", listener.port, timeout_s=2)
    assert await asyncio.wait_for(second_reader.read(), timeout=2) == b""  # closed at once
    assert listener.rejected == 1
    async with asyncio.timeout(5):
        await listener.close()
    assert listener.active_connections == 0


async def test_a_cancelled_close_is_cancelled_not_swallowed(echo_listener):
    channel = await _client(echo_listener.port)
    never = asyncio.Event()

    async def stuck_wait_closed():
        await never.wait()  # a peer that never acknowledges the close

    channel._writer.wait_closed = stuck_wait_closed
    closing = asyncio.create_task(channel.close())
    await asyncio.sleep(0.01)
    closing.cancel()
    with pytest.raises(asyncio.CancelledError):
        await closing
    assert closing.cancelled()  # one cancellation is enough to stop a task that is closing a channel
    await channel.close()  # and the channel counts as closed: nothing is awaited again
