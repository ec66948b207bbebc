"""Pushes from meters: alert pushes, event notifications and dial-in announcements.

IS 15959 alert push (0.4.25.9.0.255) carries the device id, the push setup's logical name, the
meter clock and the event status word (ESW, 0.0.94.91.18.255). The session layer decodes the ESW
into the set of bit numbers that are set (as numbered in domain.md §4) and hands over plain
dataclasses. ESW bits become events under the same natural key a later event-log read produces
(meter, log, occurred_at to the second, code), so a push and the log read store one row and publish
one message: 85 last gasp -> power fail 101 (opens an outage), 86 first breath -> power restore 102
(closes it), 80 magnet -> 201, 81 neutral disturbance -> 203, 82 cover open -> 251. Bit 84 (relay
change) carries no state: the relay is read back (``on_relay_change``), as for control events
301/302. Unknown meters are refused and counted, never guessed.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from openprepaid.bus import subjects
from openprepaid.bus.base import Bus
from openprepaid.hes.clock import Clock
from openprepaid.hes.collector import publish_events, store_events_and_outages
from openprepaid.hes.database import Database
from openprepaid.hes.metrics import HesMetrics
from openprepaid.hes.outage_tracker import POWER_RESTORE, OutageChange
from openprepaid.store.repository import hes as repo

log = logging.getLogger(__name__)

ESW_MAGNET = 80
ESW_NEUTRAL_DISTURBANCE = 81
ESW_COVER_OPEN = 82
ESW_RELAY_CHANGE = 84
ESW_LAST_GASP = 85
ESW_FIRST_BREATH = 86
CONTROL_LOG = 6
RELAY_EVENTS = frozenset({301, 302})

# ESW bit -> (event log, event code) of the event the meter also writes to its log.
ESW_EVENTS: Mapping[int, tuple[int, int]] = {
    ESW_LAST_GASP: (2, 101),
    ESW_FIRST_BREATH: (2, 102),
    ESW_MAGNET: (4, 201),
    ESW_NEUTRAL_DISTURBANCE: (4, 203),
    ESW_COVER_OPEN: (5, 251),
}

MeterCallback = Callable[[int, datetime], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class MeterIdentity:
    system_title: bytes | None = None
    device_id: str | None = None


@dataclass(frozen=True, slots=True)
class AlertPush:
    identity: MeterIdentity
    status_bits: frozenset[int]
    meter_time_at: datetime | None
    received_at: datetime


@dataclass(frozen=True, slots=True)
class EventPush:
    identity: MeterIdentity
    log: int
    code: int
    occurred_at: datetime
    received_at: datetime
    values: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class DialIn:
    identity: MeterIdentity
    peer: str
    received_at: datetime


@dataclass(frozen=True, slots=True)
class PushOutcome:
    meter_id: int | None
    events_stored: int = 0
    outages: tuple[OutageChange, ...] = ()
    relay_check_requested: bool = False
    unmapped_bits: frozenset[int] = frozenset()


def _second(at: datetime) -> datetime:
    return at.astimezone(UTC).replace(microsecond=0)


class PushHandler:
    def __init__(
        self,
        db: Database,
        bus: Bus,
        clock: Clock,
        *,
        on_relay_change: MeterCallback | None = None,
        on_meter_back: MeterCallback | None = None,
        metrics: HesMetrics | None = None,
    ) -> None:
        self._db = db
        self._bus = bus
        self._clock = clock
        self._on_relay_change = on_relay_change
        self._on_meter_back = on_meter_back
        self._metrics = metrics

    async def _identify(self, identity: MeterIdentity, kind: str) -> int | None:
        meter_id = await self._db.run(
            lambda session: repo.meter_id_by_identity(session, identity.system_title, identity.device_id)
        )
        if meter_id is None:
            title = identity.system_title.hex() if identity.system_title else None
            log.warning(
                "%s from an unknown meter refused: system_title=%s device_id=%r", kind, title, identity.device_id
            )
        self._count(kind, "unknown_meter" if meter_id is None else "ok")
        return meter_id

    def _count(self, kind: str, outcome: str) -> None:
        if self._metrics is not None:
            self._metrics.pushes.labels(kind=kind, outcome=outcome).inc()

    async def _store(
        self, meter_id: int, rows: list[dict[str, Any]], seen_at: datetime
    ) -> tuple[int, list[OutageChange]]:
        def work(session: Any) -> tuple[int, list[OutageChange]]:
            repo.mark_seen(session, meter_id, seen_at)
            return store_events_and_outages(session, rows, "push") if rows else (0, [])

        count, changes = await self._db.run(work)
        await publish_events(self._bus, meter_id, rows, changes)
        return count, changes

    async def handle_alert(self, push: AlertPush) -> PushOutcome:
        meter_id = await self._identify(push.identity, "alert")
        if meter_id is None:
            return PushOutcome(None)
        occurred_at = _second(push.meter_time_at or push.received_at)
        rows = [
            {
                "meter_id": meter_id,
                "log": ESW_EVENTS[bit][0],
                "occurred_at": occurred_at,
                "code": ESW_EVENTS[bit][1],
                "source": "push",
                "payload": {"esw_bit": bit},
                "received_at": push.received_at,
            }
            for bit in sorted(push.status_bits)
            if bit in ESW_EVENTS
        ]
        count, changes = await self._store(meter_id, rows, push.received_at)
        unmapped = frozenset(bit for bit in push.status_bits if bit not in ESW_EVENTS)
        if unmapped:
            payload = {
                "meter_id": meter_id,
                "kind": "status_word",
                "status_bits": sorted(push.status_bits),
                "occurred_at": occurred_at.isoformat(),
            }
            await self._bus.publish_json(
                subjects.for_meter(subjects.METER_EVENTS, meter_id),
                payload,
                msg_id=f"esw:{meter_id}:{occurred_at.isoformat()}:{','.join(map(str, sorted(push.status_bits)))}",
            )
        relay_check = ESW_RELAY_CHANGE in push.status_bits
        if relay_check and self._on_relay_change is not None:
            await self._on_relay_change(meter_id, occurred_at)
        if ESW_FIRST_BREATH in push.status_bits and self._on_meter_back is not None:
            await self._on_meter_back(meter_id, occurred_at)
        return PushOutcome(meter_id, count, tuple(changes), relay_check, unmapped)

    async def handle_event(self, push: EventPush) -> PushOutcome:
        meter_id = await self._identify(push.identity, "event")
        if meter_id is None:
            return PushOutcome(None)
        if not 0 <= push.log <= CONTROL_LOG or not 0 <= push.code < 65536:
            self._count("event", "invalid")
            log.warning("meter %d: event push with log %d code %d refused", meter_id, push.log, push.code)
            return PushOutcome(meter_id)
        occurred_at = _second(push.occurred_at)
        row = {
            "meter_id": meter_id,
            "log": push.log,
            "occurred_at": occurred_at,
            "code": push.code,
            "source": "push",
            "payload": dict(push.values),
            "received_at": push.received_at,
        }
        count, changes = await self._store(meter_id, [row], push.received_at)
        relay_check = push.code in RELAY_EVENTS or push.log == CONTROL_LOG
        if relay_check and self._on_relay_change is not None:
            await self._on_relay_change(meter_id, occurred_at)
        if push.code == POWER_RESTORE and self._on_meter_back is not None:
            await self._on_meter_back(meter_id, occurred_at)
        return PushOutcome(meter_id, count, tuple(changes), relay_check)

    async def handle_dial_in(self, announcement: DialIn) -> int | None:
        """A meter opened a connection to the head-end: identify it, note it is back; None if unknown."""
        meter_id = await self._identify(announcement.identity, "dial_in")
        if meter_id is None:
            return None
        await self._db.run(lambda session: repo.mark_seen(session, meter_id, announcement.received_at))
        log.info("meter %d dialled in from %s", meter_id, announcement.peer)
        if self._on_meter_back is not None:
            await self._on_meter_back(meter_id, announcement.received_at)
        return meter_id
