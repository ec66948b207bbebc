"""Delivery of the fleet's alert pushes to the head-end (IS 15959 push setup, send_destination).

The meters queue ``PushNotification`` s in the fleet's bounded outbox as they live (last gasp and
first breath around an outage, tamper, relay change with the event status word). ``PushSender``
drains it, encodes each as a DataNotification (``notifications.alert_push_frame``) and delivers it
to the push setup's destination ("host:port", the alert push setup's attribute 3, else the fleet
default ``--push-to``): like a meter's modem, one TCP connection per meter and burst, closed after
sending. Deliveries run concurrently up to ``max_concurrent``; a failed delivery is retried
``retries`` times after ``retry_delay_s`` (doubling), then counted as failed. Pushes the meters
produced while living their generated history (before the server started) are not sent.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
from collections import defaultdict
from dataclasses import dataclass

from openprepaid.simulator.network import FleetServer
from openprepaid.simulator.notifications import Ciphering, alert_push_frame
from openprepaid.simulator.push import PushNotification
from openprepaid.transport.errors import TransportError
from openprepaid.transport.tcp import dial

log = logging.getLogger(__name__)

Destination = tuple[str, int]


@dataclass(slots=True)
class PushStats:
    sent: int = 0
    failed: int = 0
    history: int = 0  # produced before the server started: not sent
    no_destination: int = 0


def parse_destination(text: str) -> Destination | None:
    """'host:port' -> (host, port); None if it is not one."""
    host, _, port = text.strip().rpartition(":")
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        return None
    return host.strip("[]"), int(port)


class PushSender:
    """Drains ``fleet.outbox`` and delivers each push; ``run()`` until cancelled, ``flush()`` once."""

    def __init__(
        self,
        server: FleetServer,
        *,
        started_true_s: int,
        cipher: bool = False,
        max_concurrent: int = 32,
        retries: int = 2,
        retry_delay_s: float = 1.0,
        connect_timeout_s: float = 5.0,
    ) -> None:
        self.server = server
        self.started_true_s = started_true_s
        self.cipher = cipher
        self.retries = retries
        self.retry_delay_s = retry_delay_s
        self.connect_timeout_s = connect_timeout_s
        self.stats = PushStats()
        self._slots = asyncio.Semaphore(max_concurrent)
        self._tasks: set[asyncio.Task[None]] = set()
        self._invoke_ids = itertools.count(1)

    async def run(self, *, interval_s: float = 0.2, batch: int = 1000) -> None:
        try:
            while True:
                self.flush(batch)
                await asyncio.sleep(interval_s)
        finally:
            for task in list(self._tasks):
                task.cancel()
            if self._tasks:
                await asyncio.gather(*self._tasks, return_exceptions=True)

    def flush(self, batch: int | None = None) -> int:
        """Start delivering what the outbox holds now (at most ``batch``); how many deliveries started."""
        bursts: dict[tuple[Destination, int], list[PushNotification]] = defaultdict(list)
        for notification in self.server.fleet.drain_pushes(batch):
            if notification.true_at_s < self.started_true_s:
                self.stats.history += 1
                continue
            destination = parse_destination(notification.destination)
            if destination is None:
                self.stats.no_destination += 1
                continue
            bursts[(destination, notification.meter_index)].append(notification)
        for (destination, index), notifications in bursts.items():
            task = asyncio.create_task(self._deliver(destination, index, notifications))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        return len(bursts)

    async def wait_idle(self) -> None:
        """Wait until every started delivery has finished (tests, shutdown)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    def _frames(self, index: int, notifications: list[PushNotification]) -> bytes:
        ciphering = None
        if self.cipher:
            meter = self.server.fleet.meter(index)
            credentials = self.server.credentials.for_serial(meter.serial)
            ciphering = Ciphering(
                self.server.system_title(index), credentials.keys, self.server.security_of(index).invocation_counter
            )
        return b"".join(alert_push_frame(n, next(self._invoke_ids), ciphering) for n in notifications)

    async def _deliver(self, destination: Destination, index: int, notifications: list[PushNotification]) -> None:
        data = self._frames(index, notifications)
        delay = self.retry_delay_s
        async with self._slots:
            for attempt in range(self.retries + 1):
                if await self._send(destination, data):
                    self.stats.sent += len(notifications)
                    return
                if attempt < self.retries:
                    await asyncio.sleep(delay)
                    delay *= 2
        self.stats.failed += len(notifications)
        log.info("push of meter %d to %s:%d failed after %d tries", index, *destination, self.retries + 1)

    async def _send(self, destination: Destination, data: bytes) -> bool:
        host, port = destination
        try:
            _reader, writer = await dial(host, port, timeout_s=self.connect_timeout_s)
        except TransportError:
            return False
        try:
            writer.write(data)
            await writer.drain()
        except (ConnectionError, OSError):
            return False
        finally:
            writer.close()
            with contextlib.suppress(ConnectionError, OSError):
                await writer.wait_closed()
        return True
