"""Client invocation counters for authenticated-and-encrypted associations (IEC 62056-5-3, suite 0).

A meter rejects an APDU whose invocation counter is not above the last one it accepted, and a
reused counter with the same key would break AES-GCM's nonce uniqueness. So counters are reserved
in blocks from the database (``store.repository.hes.reserve_invocation_counters``: one atomic
``UPDATE ... RETURNING``, committed before use) and handed out from memory. A crash loses at most
the unused rest of a block (skipped, never reused); a restart reserves above it.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from openprepaid.cosem.errors import SecurityError
from openprepaid.cosem.security_counter import InvocationCounter
from openprepaid.hes.clock import Clock
from openprepaid.hes.database import Database
from openprepaid.hes.retry import NonRetryableError
from openprepaid.store.repository import hes as repo

DEFAULT_BLOCK_SIZE = 32


class InvocationCounterExhaustedError(NonRetryableError):
    """The 32-bit counter is used up for this meter and association: new keys are needed."""


@dataclass
class _Block:
    next_value: int
    end: int  # exclusive


class InvocationCounterStore:
    def __init__(self, db: Database, clock: Clock, *, block_size: int = DEFAULT_BLOCK_SIZE) -> None:
        if block_size < 1:
            raise ValueError("block_size must be at least 1")
        self._db = db
        self._clock = clock
        self._block_size = block_size
        self._blocks: dict[tuple[int, int], _Block] = {}
        self._locks: dict[tuple[int, int], asyncio.Lock] = {}

    async def reserve(self, meter_id: int, client_sap: int, count: int) -> range:
        """Reserve ``count`` counters directly (committed when this returns)."""
        now = self._clock.now()
        try:
            first = await self._db.run(
                lambda session: repo.reserve_invocation_counters(session, meter_id, client_sap, count, now)
            )
        except repo.InvocationCounterExhaustedError as exc:
            raise InvocationCounterExhaustedError(str(exc)) from exc
        return range(first, first + count)

    async def next_value(self, meter_id: int, client_sap: int) -> int:
        """The next unused counter for this meter and association."""
        key = (meter_id, client_sap)
        lock = self._locks.setdefault(key, asyncio.Lock())
        async with lock:
            block = self._blocks.get(key)
            if block is None or block.next_value >= block.end:
                reserved = await self.reserve(meter_id, client_sap, self._block_size)
                block = _Block(reserved.start, reserved.stop)
                self._blocks[key] = block
            value = block.next_value
            block.next_value += 1
            return value

    async def raise_floor(self, meter_id: int, client_sap: int, at_least: int) -> None:
        """The meter reported it expects at least ``at_least``: skip to there and drop the cached block."""
        now = self._clock.now()
        async with self._locks.setdefault((meter_id, client_sap), asyncio.Lock()):
            block = self._blocks.get((meter_id, client_sap))
            if block is not None and at_least <= block.next_value < block.end:
                return  # the cached block is above it already
            await self._db.run(
                lambda session: repo.raise_invocation_counter_floor(session, meter_id, client_sap, at_least, now)
            )
            self._blocks.pop((meter_id, client_sap), None)

    def forget(self, meter_id: int) -> None:
        """Drop cached blocks of a meter (keys changed, meter removed); bounded memory."""
        for key in [key for key in self._blocks if key[0] == meter_id]:
            self._blocks.pop(key, None)
            self._locks.pop(key, None)


class BoundedInvocationCounter(InvocationCounter):
    """A counter that may only use the block reserved in the database for this session."""

    __slots__ = ("_end",)

    def __init__(self, reserved: range) -> None:
        super().__init__(reserved.start)
        self._end = reserved.stop

    def take(self) -> int:
        if self.next_value >= self._end:
            raise SecurityError("the invocation counters reserved for this session are used up")
        return super().take()
