"""The embedded bus: asyncio, one process, bounded queues, the same semantics as the JetStream bus."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import OrderedDict

from openprepaid.bus.base import Bus, BusError, BusMessage, Handler, Subscription, subject_matches, validate_subject

log = logging.getLogger(__name__)

DEFAULT_QUEUE_SIZE = 10_000
DEDUP_WINDOW = 100_000
RETRY_DELAY_S = 0.05


class _GroupSubscription(Subscription):
    def __init__(self, bus: InProcessBus, pattern: str, handler: Handler, group: str, max_attempts: int) -> None:
        self.pattern = pattern
        self.group = group
        self._bus = bus
        self._handler = handler
        self._max_attempts = max_attempts
        self.queue: asyncio.Queue[BusMessage] = asyncio.Queue(maxsize=bus.queue_size)
        self._task = asyncio.create_task(self._run(), name=f"bus:{group}:{pattern}")

    async def _run(self) -> None:
        while True:
            message = await self.queue.get()
            try:
                await self._deliver(message)
            finally:
                self.queue.task_done()

    async def _deliver(self, message: BusMessage) -> None:
        for attempt in range(1, self._max_attempts + 1):
            try:
                await self._handler(BusMessage(message.subject, message.data, message.msg_id, message.headers, attempt))
            except asyncio.CancelledError:
                raise
            except Exception:  # a handler's failure must not kill the subscription (task boundary)
                log.exception(
                    "bus handler failed: group=%s subject=%s msg_id=%s attempt=%d/%d",
                    self.group,
                    message.subject,
                    message.msg_id,
                    attempt,
                    self._max_attempts,
                )
                await asyncio.sleep(RETRY_DELAY_S * attempt)
            else:
                return
        self._bus.dead_letters.append(message)
        log.error(
            "bus message dead after %d attempts: group=%s subject=%s", self._max_attempts, self.group, message.subject
        )

    async def stop(self) -> None:
        self._bus._subscriptions.remove(self)
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task


class InProcessBus(Bus):
    def __init__(self, queue_size: int = DEFAULT_QUEUE_SIZE) -> None:
        self.queue_size = queue_size
        self._subscriptions: list[_GroupSubscription] = []
        self._recent_ids: OrderedDict[str, None] = OrderedDict()
        self.dead_letters: list[BusMessage] = []
        self._closed = False

    async def publish(self, subject: str, data: bytes, *, msg_id: str | None = None) -> None:
        if self._closed:
            raise BusError("bus is closed")
        validate_subject(subject, wildcards=False)
        if msg_id is not None:
            if msg_id in self._recent_ids:
                return
            self._recent_ids[msg_id] = None
            if len(self._recent_ids) > DEDUP_WINDOW:
                self._recent_ids.popitem(last=False)
        message = BusMessage(subject, data, msg_id)
        delivered_groups: set[str] = set()
        for subscription in list(self._subscriptions):
            # One delivery per group, like a JetStream durable consumer shared by a group's workers.
            if subscription.group in delivered_groups or not subject_matches(subscription.pattern, subject):
                continue
            delivered_groups.add(subscription.group)
            await subscription.queue.put(message)  # waits when full: back-pressure, never unbounded

    async def subscribe(self, pattern: str, handler: Handler, *, group: str, max_attempts: int = 5) -> Subscription:
        if self._closed:
            raise BusError("bus is closed")
        validate_subject(pattern, wildcards=True)
        if max_attempts < 1:
            raise BusError("max_attempts must be at least 1")
        subscription = _GroupSubscription(self, pattern, handler, group, max_attempts)
        self._subscriptions.append(subscription)
        return subscription

    async def drain(self) -> None:
        """Wait until every message published so far has been handled (tests, clean shutdown)."""
        for subscription in list(self._subscriptions):
            await subscription.queue.join()

    async def close(self) -> None:
        await self.drain()
        for subscription in list(self._subscriptions):
            await subscription.stop()
        self._closed = True
