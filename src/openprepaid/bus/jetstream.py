"""The multi-node bus: NATS JetStream, one stream for ``op.>``, a durable pull consumer per group.

Publishing waits for the stream's acknowledgement (the message is stored before publish returns);
``msg_id`` becomes the ``Nats-Msg-Id`` header, which JetStream deduplicates within its window.
A handler's success acks; a failure naks with a delay; after ``max_attempts`` deliveries the
server stops redelivering and the message is logged as dead.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re

import nats
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.errors import Error as NatsError
from nats.errors import TimeoutError as NatsTimeoutError
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy, StreamConfig
from nats.js.errors import NotFoundError

from openprepaid.bus import subjects
from openprepaid.bus.base import Bus, BusError, BusMessage, Handler, Subscription, validate_subject

log = logging.getLogger(__name__)

FETCH_BATCH = 64
FETCH_TIMEOUT_S = 1.0
ACK_WAIT_S = 30.0
DUPLICATE_WINDOW_S = 120.0
NAK_DELAY_S = 0.5


def durable_name(group: str, pattern: str) -> str:
    """JetStream consumer names may not contain '.', '*', '>' or whitespace."""
    return re.sub(r"[^A-Za-z0-9_-]", "_", f"{group}__{pattern}".replace(">", "all").replace("*", "any"))


class _PullSubscription(Subscription):
    def __init__(self, subscription: JetStreamContext.PullSubscription, handler: Handler, group: str) -> None:
        self._subscription = subscription
        self._handler = handler
        self._group = group
        self._task = asyncio.create_task(self._run(), name=f"jetstream:{group}")

    async def _run(self) -> None:
        while True:
            try:
                messages = await self._subscription.fetch(FETCH_BATCH, timeout=FETCH_TIMEOUT_S)
            except NatsTimeoutError:
                continue
            except NatsError:
                log.exception("jetstream fetch failed for group %s; retrying", self._group)
                await asyncio.sleep(1.0)
                continue
            for message in messages:
                await self._handle(message)

    async def _handle(self, message: Msg) -> None:
        headers = dict(message.headers or {})
        attempt = message.metadata.num_delivered
        bus_message = BusMessage(message.subject, message.data, headers.get("Nats-Msg-Id"), headers, attempt)
        try:
            await self._handler(bus_message)
        except asyncio.CancelledError:
            raise
        except Exception:  # task boundary: one message's failure must not stop the consumer
            log.exception("bus handler failed: group=%s subject=%s attempt=%d", self._group, message.subject, attempt)
            await message.nak(delay=NAK_DELAY_S * attempt)
            return
        await message.ack()

    async def stop(self) -> None:
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
        with contextlib.suppress(NatsError):
            await self._subscription.unsubscribe()


class JetStreamBus(Bus):
    def __init__(self, client: Client, stream: str = subjects.STREAM, root: str = subjects.ROOT) -> None:
        self._client = client
        self._js = client.jetstream()
        self._stream = stream
        self._root = root
        self._subscriptions: list[_PullSubscription] = []

    @classmethod
    async def connect(cls, url: str, *, stream: str = subjects.STREAM, root: str = subjects.ROOT) -> JetStreamBus:
        try:
            client = await nats.connect(url, connect_timeout=5, max_reconnect_attempts=60)
        except (OSError, NatsError) as exc:
            raise BusError(f"cannot connect to NATS at {url}: {exc}") from exc
        bus = cls(client, stream, root)
        await bus._ensure_stream()
        return bus

    async def _ensure_stream(self) -> None:
        config = StreamConfig(name=self._stream, subjects=[f"{self._root}.>"], duplicate_window=DUPLICATE_WINDOW_S)
        try:
            await self._js.stream_info(self._stream)
        except NotFoundError:
            await self._js.add_stream(config)

    async def publish(self, subject: str, data: bytes, *, msg_id: str | None = None) -> None:
        validate_subject(subject, wildcards=False)
        headers = {"Nats-Msg-Id": msg_id} if msg_id else None
        try:
            await self._js.publish(subject, data, stream=self._stream, headers=headers)
        except NatsError as exc:
            raise BusError(f"publish to {subject} failed: {exc}") from exc

    async def subscribe(self, pattern: str, handler: Handler, *, group: str, max_attempts: int = 5) -> Subscription:
        validate_subject(pattern, wildcards=True)
        config = ConsumerConfig(
            durable_name=durable_name(group, pattern),
            filter_subject=pattern,
            ack_policy=AckPolicy.EXPLICIT,
            deliver_policy=DeliverPolicy.ALL,
            ack_wait=ACK_WAIT_S,
            max_deliver=max_attempts,
            max_ack_pending=FETCH_BATCH * 16,
        )
        try:
            pull = await self._js.pull_subscribe(
                pattern, durable=config.durable_name, stream=self._stream, config=config
            )
        except NatsError as exc:
            raise BusError(f"subscribe to {pattern} failed: {exc}") from exc
        subscription = _PullSubscription(pull, handler, group)
        self._subscriptions.append(subscription)
        return subscription

    async def delete_stream(self) -> None:
        """Remove the stream and everything in it (tests, and resetting a demo)."""
        with contextlib.suppress(NotFoundError):
            await self._js.delete_stream(self._stream)

    async def close(self) -> None:
        for subscription in self._subscriptions:
            await subscription.stop()
        self._subscriptions.clear()
        with contextlib.suppress(NatsError):
            await self._client.drain()
