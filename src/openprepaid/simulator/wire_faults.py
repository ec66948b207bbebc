"""Network disturbance on one meter connection: latency, lost requests, resets and garbled frames.

The virtual meter's ``FaultRegistry`` holds the parameters (``NetworkFaults``: latency range,
drop, reset and garble rates, per meter or fleet-wide); ``WireFaults`` draws from them for each
request and reply, as a GPRS/RF modem link would behave:

* latency: every reply waits a uniform draw from the latency range (real seconds) before it leaves;
* drop: the request is lost — the meter never answers it and the client's timer must fire;
* reset: instead of answering, the connection is aborted with a TCP RST;
* garble: one octet of the reply's frame is corrupted on the wire (after the wrapper header, or
  inside an HDLC frame between its flags), so the client sees a bad frame or an undecodable APDU.

``GarblingWriter`` sits between the channel and the socket so that garbling happens on the framed
bytes, exactly as line noise would.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import socket
import struct
from typing import Any

from openprepaid.simulator.faults import NetworkFaults

WRAPPER_HEADER_LENGTH = 8
_LINGER_RESET = struct.pack("ii", 1, 0)  # SO_LINGER on, 0 s: close() sends RST


class GarblingWriter:
    """A ``StreamWriter`` stand-in that corrupts one octet of the next write when asked to."""

    __slots__ = ("_protect_prefix", "_rng", "_writer", "garble_next")

    def __init__(self, writer: asyncio.StreamWriter, rng: random.Random, *, protect_prefix: int) -> None:
        self._writer = writer
        self._rng = rng
        self._protect_prefix = protect_prefix
        self.garble_next = False

    def write(self, data: bytes) -> None:
        if self.garble_next:
            self.garble_next = False
            data = garble(data, self._rng, keep_prefix=self._protect_prefix)
        self._writer.write(data)

    async def drain(self) -> None:
        await self._writer.drain()

    def close(self) -> None:
        self._writer.close()

    async def wait_closed(self) -> None:
        await self._writer.wait_closed()

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return self._writer.get_extra_info(name, default)

    def is_closing(self) -> bool:
        return self._writer.is_closing()


def garble(data: bytes, rng: random.Random, *, keep_prefix: int) -> bytes:
    """``data`` with one octet flipped, never in the first ``keep_prefix`` octets nor the last one
    (the wrapper header keeps the stream in step; HDLC flags keep frame boundaries)."""
    first, last = keep_prefix, len(data) - 2
    if last < first:
        return data
    position = rng.randint(first, last)
    damaged = bytearray(data)
    damaged[position] ^= 1 << rng.randrange(8)
    return bytes(damaged)


def reset(writer: asyncio.StreamWriter) -> None:
    """Abort the connection with a TCP RST (what a modem losing its bearer looks like to the peer)."""
    sock = writer.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, _LINGER_RESET)
    writer.transport.abort()


class WireFaults:
    """Draws one connection's disturbances from its meter's current ``NetworkFaults``."""

    __slots__ = ("rng",)

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng

    def drops(self, faults: NetworkFaults) -> bool:
        return faults.drop_rate > 0 and self.rng.random() < faults.drop_rate

    def resets(self, faults: NetworkFaults) -> bool:
        return faults.reset_rate > 0 and self.rng.random() < faults.reset_rate

    def garbles(self, faults: NetworkFaults) -> bool:
        return faults.garble_rate > 0 and self.rng.random() < faults.garble_rate

    def latency_s(self, faults: NetworkFaults) -> float:
        low, high = faults.latency_s
        return self.rng.uniform(low, high) if high > 0 else 0.0
