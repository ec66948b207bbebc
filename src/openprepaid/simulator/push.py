"""Push notifications a virtual meter wants sent, and the bounded outbox the network layer drains.

IS 15959 alert push (push setup 0.4.25.9.0.255, class 40): on an event whose event status word
bit is enabled in the ESW filter, the meter sends a DataNotification carrying its push object
list: [device ID, push setup logical name, clock, event status word]. Last gasp (power failure)
and first breath (restoration) are pushed the same way. This module only records what would be
sent; encoding and delivery (and the network faults that disturb them) belong to the network
layer, which reads ``values`` in push-object-list order (see ``openprepaid.meters.values``).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from openprepaid.meters.values import BitString


class PushKind(StrEnum):
    LAST_GASP = "last_gasp"
    FIRST_BREATH = "first_breath"
    TAMPER = "tamper"
    RELAY_CHANGE = "relay_change"
    PERIODIC = "periodic"
    ON_DEMAND = "on_demand"  # method 1 (push) invoked on a push setup


@dataclass(frozen=True, slots=True)
class PushNotification:
    meter_index: int
    serial: str
    kind: PushKind
    push_setup_obis: str
    at: datetime  # the meter's clock when it pushed (its local offset)
    true_at_s: int  # simulated true time (epoch seconds) at which it is sent
    event_status_word: BitString | None
    values: tuple[object, ...]  # push object list values, in order
    destination: str  # send_destination of the push setup ("host:port")


@dataclass(slots=True)
class PushConfig:
    """Writable attributes of a push setup (class 40 attributes 3, 5, 6, 7) a meter overrides."""

    destination: str = ""
    randomisation_s: int = 0
    retries: int = 3
    repetition_delay_s: int = 60


class Outbox:
    """A bounded FIFO of push notifications; when full, the oldest is dropped and counted.

    ``default_destination`` is the send_destination of meters whose push setup was never written.
    """

    def __init__(self, capacity: int = 100_000, default_destination: str = "") -> None:
        if capacity < 1:
            raise ValueError("outbox capacity must be positive")
        self._items: deque[PushNotification] = deque(maxlen=capacity)
        self.dropped = 0
        self.default_destination = default_destination

    def put(self, notification: PushNotification) -> None:
        if len(self._items) == self._items.maxlen:
            self.dropped += 1
        self._items.append(notification)

    def drain(self, limit: int | None = None) -> list[PushNotification]:
        count = len(self._items) if limit is None else min(limit, len(self._items))
        return [self._items.popleft() for _ in range(count)]

    def __len__(self) -> int:
        return len(self._items)
