"""TcpStream, the lean dialled connection: reads, end of stream, errors and back-pressure like asyncio's streams."""

from __future__ import annotations

import asyncio

import pytest

from openprepaid.transport.errors import TransportNetworkError
from openprepaid.transport.tcp import Listener
from openprepaid.transport.tcp_stream import dial_stream


async def _echo_then_close(reader, writer):
    data = await reader.read(100)
    writer.write(data * 2)
    await writer.drain()


async def test_reads_what_arrives_in_pieces_and_then_the_end():
    listener = Listener(_echo_then_close)
    await listener.start("127.0.0.1", 0)
    stream = await dial_stream("127.0.0.1", listener.port, timeout_s=2)
    assert stream.get_extra_info("peername")[1] == listener.port
    stream.write(b"abc")
    await stream.drain()
    assert await asyncio.wait_for(stream.read(4), 2) == b"abca"
    assert await asyncio.wait_for(stream.read(100), 2) == b"bc"
    assert await asyncio.wait_for(stream.read(100), 2) == b""  # the server closed: end of stream
    assert stream.at_eof()
    stream.close()
    await stream.wait_closed()
    await stream.wait_closed()  # again: nothing to wait for
    await listener.close()


async def test_writing_after_the_peer_is_gone_fails():
    listener = Listener(_echo_then_close)
    await listener.start("127.0.0.1", 0)
    stream = await dial_stream("127.0.0.1", listener.port, timeout_s=2)
    stream.write(b"x")
    await stream.drain()
    assert await asyncio.wait_for(stream.read(10), 2) == b"xx"
    assert await asyncio.wait_for(stream.read(10), 2) == b""
    stream.close()
    with pytest.raises(ConnectionError):
        for _ in range(3):
            stream.write(b"more")
            await stream.drain()
    await listener.close()


async def test_back_pressure_pauses_reading_until_the_buffer_is_read():
    sent = asyncio.Event()

    async def flood(reader, writer):
        writer.write(b"z" * 300_000)
        await writer.drain()
        sent.set()
        await asyncio.sleep(5)

    listener = Listener(flood)
    await listener.start("127.0.0.1", 0)
    stream = await dial_stream("127.0.0.1", listener.port, timeout_s=2, limit=1_000)
    received = 0
    while received < 300_000:
        received += len(await asyncio.wait_for(stream.read(64_000), 2))
    assert received == 300_000
    stream.close()
    await stream.wait_closed()
    await listener.close()


async def test_dial_errors_are_translated():
    listener = Listener(_echo_then_close)
    await listener.start("127.0.0.1", 0)
    port = listener.port
    await listener.close()
    with pytest.raises(TransportNetworkError, match=r"connect to 127\.0\.0\.1"):
        await dial_stream("127.0.0.1", port, timeout_s=2)
