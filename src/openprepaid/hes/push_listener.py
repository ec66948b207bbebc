"""The push listener: meters' unsolicited APDUs over TCP (IEC 62056-47 wrapper) into ``hes.push_handler``.

A meter's modem opens a connection to the head-end, sends one or more wrapper frames and closes it
(IS 15959 push setup, class 40, ``send_destination``). Each frame carries:

- a ``DataNotification`` (IEC 62056-5-3 9.3.10) with the IS 15959 alert push object list of push
  setup 0.4.25.9.0.255: ``structure { device id (0.0.96.1.2.255), push setup logical name,
  clock (0.0.1.0.0.255), event status word bit-string (0.0.94.91.18.255) }`` -> ``AlertPush`` with
  the set ESW bits (bit n is the n-th bit of the string, the top bit of the first octet being bit 0;
  domain.md §4: 80 magnet, 81 neutral disturbance, 82 cover open, 84 relay change, 85 last gasp,
  86 first breath);
- or an ``EventNotificationRequest`` (9.3.11) reporting an event code object 0.0.96.11.<log>.255
  -> ``EventPush`` (the meter is known from the ciphering system title or an earlier alert push on
  the same connection).

Either may be general-glo-ciphered (security suite 0, Green Book 9.2.7.2.4): the system title in
the envelope names the meter, whose client-48 keys open it; its invocation counter must grow (a
replayed push is refused). Anything undecodable, unknown or refused is logged and counted
(``pushes_total{outcome="invalid"}``) and never stops the listener; connections are bounded in
number, in idle time and in frames.
"""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from openprepaid.cosem.axdr import decode_data
from openprepaid.cosem.axdr_types import BitString
from openprepaid.cosem.date_time import CosemDateTime
from openprepaid.cosem.errors import CosemError
from openprepaid.cosem.security import SecurityKeys
from openprepaid.cosem.security_apdu import GeneralCipheredApdu, decode_protected, is_protected, unprotect
from openprepaid.cosem.security_counter import ReplayGuard
from openprepaid.cosem.wrapper import WrapperDecoder
from openprepaid.cosem.xdlms import decode_xdlms_apdu
from openprepaid.cosem.xdlms_notification import (
    EVENT_NOTIFICATION_REQUEST,
    DataNotification,
    EventNotificationRequest,
)
from openprepaid.hes.clock import Clock
from openprepaid.hes.credentials import CredentialStore
from openprepaid.hes.database import Database
from openprepaid.hes.metrics import HesMetrics
from openprepaid.hes.push_handler import AlertPush, EventPush, MeterIdentity, PushOutcome
from openprepaid.hes.retry import HesError, NonRetryableError
from openprepaid.hes.session import Association
from openprepaid.store.repository import hes as repo
from openprepaid.transport.tcp import Listener

log = logging.getLogger(__name__)

MAX_PUSH_APDU = 4_096
READ_CHUNK = 16_384
EVENT_CODE_CLASS = 1
EVENT_CODE_GROUP = (0, 0, 96, 11)  # 0.0.96.11.<log>.255: the event code object of each event log
MAX_REPLAY_GUARDS = 100_000
SYSTEM_TITLE_LENGTH = 8


class InvalidPushError(NonRetryableError):
    """A push that does not decode, does not open, or does not say what IS 15959 pushes say."""


class PushSink(Protocol):
    """Where decoded pushes go (``hes.push_handler.PushHandler``)."""

    async def handle_alert(self, push: AlertPush) -> PushOutcome: ...

    async def handle_event(self, push: EventPush) -> PushOutcome: ...


class PushKeyring(Protocol):
    """The keys that open a ciphered push from the meter with this system title (None: unknown meter)."""

    async def keys_for(self, system_title: bytes) -> SecurityKeys | None: ...


class RegistryPushKeys:
    """``PushKeyring`` over the registry: system title -> meter -> its utility-settings (client 48) keys."""

    def __init__(self, db: Database, credentials: CredentialStore) -> None:
        self._db = db
        self._credentials = credentials

    async def keys_for(self, system_title: bytes) -> SecurityKeys | None:
        meter_id = await self._db.run(lambda session: repo.meter_id_by_identity(session, system_title, None))
        if meter_id is None:
            return None
        try:
            secrets = await self._credentials.secrets_for(meter_id, Association.UTILITY_SETTINGS)
        except HesError:
            return None
        if secrets.encryption_key is None or secrets.authentication_key is None:
            return None
        return SecurityKeys(global_unicast=secrets.encryption_key, authentication=secrets.authentication_key)


def status_bits(word: BitString) -> frozenset[int]:
    """The numbers of the set bits of an event status word (bit 0 = top bit of the first octet)."""
    return frozenset(index for index, bit in enumerate(word) if bit == "1")


def _meter_time(value: Any, zone: ZoneInfo) -> datetime | None:
    stamp = value
    if isinstance(value, bytes):
        try:
            stamp = CosemDateTime.from_bytes(value)
        except CosemError:
            return None
    if not isinstance(stamp, CosemDateTime) or stamp.year is None or stamp.hour is None:
        return None
    try:
        return stamp.to_datetime(assume_tz=zone).astimezone(UTC)
    except (CosemError, ValueError, OverflowError):
        return None


def _device_id(value: Any) -> str | None:
    if isinstance(value, bytes):
        value = value.decode("latin-1")
    if not isinstance(value, str):
        return None
    text = value.strip("\x00 ")
    return text if text and text.isprintable() else None


def alert_from_body(
    body: Any, *, system_title: bytes | None, zone: ZoneInfo, fallback_time: datetime | None, received_at: datetime
) -> AlertPush:
    """The IS 15959 alert push object list -> ``AlertPush``; ``InvalidPushError`` if it is not one."""
    if not isinstance(body, tuple) or len(body) < 4:
        size = len(body) if isinstance(body, tuple) else None
        raise InvalidPushError(f"not an alert push object list: {type(body).__name__} of {size} values")
    device, push_ln, clock, word = body[:4]
    if not isinstance(word, BitString):
        raise InvalidPushError(f"the event status word is a {type(word).__name__}, not a bit-string")
    if not (isinstance(push_ln, bytes) and len(push_ln) == 6):
        raise InvalidPushError("the push setup logical name is not 6 octets")
    device_id = _device_id(device)
    if device_id is None and system_title is None:
        raise InvalidPushError("the push names no meter (no device id, not ciphered)")
    return AlertPush(
        identity=MeterIdentity(system_title=system_title, device_id=device_id),
        status_bits=status_bits(word),
        meter_time_at=_meter_time(clock, zone) or fallback_time,
        received_at=received_at,
    )


def event_from_notification(
    apdu: EventNotificationRequest, *, identity: MeterIdentity | None, zone: ZoneInfo, received_at: datetime
) -> EventPush:
    """An event code object's new value -> ``EventPush``."""
    if identity is None:
        raise InvalidPushError("an event notification from a meter not known on this connection")
    obis = apdu.attribute.instance_id
    if (
        apdu.attribute.class_id != EVENT_CODE_CLASS
        or tuple(obis[:4]) != EVENT_CODE_GROUP
        or apdu.attribute.attribute_id != 2
    ):
        raise InvalidPushError(f"event notification for {obis}, not an event code object")
    try:
        code = decode_data(apdu.value)
    except CosemError as exc:
        raise InvalidPushError(f"undecodable event code: {exc}") from exc
    if not isinstance(code, int) or isinstance(code, bool):
        raise InvalidPushError(f"the event code is a {type(code).__name__}")
    occurred_at = _meter_time(apdu.time, zone) if apdu.time is not None else None
    return EventPush(
        identity=identity, log=obis[4], code=code, occurred_at=occurred_at or received_at, received_at=received_at
    )


class NotificationOpener:
    """Opens a pushed APDU: plain as it is, general-glo-ciphered with the sender's keys and replay guard."""

    def __init__(self, keys: PushKeyring | None, *, require_ciphering: bool = False) -> None:
        self._keys = keys
        self._require_ciphering = require_ciphering
        self._guards: OrderedDict[bytes, ReplayGuard] = OrderedDict()

    async def open(self, apdu: bytes) -> tuple[bytes, bytes | None]:
        """(plain APDU, the sender's system title if it was ciphered); CosemError / InvalidPushError if not."""
        if not is_protected(apdu):
            if self._require_ciphering:
                raise InvalidPushError("a plain push, and ciphering is required")
            return apdu, None
        envelope = decode_protected(apdu)
        if not isinstance(envelope, GeneralCipheredApdu) or len(envelope.system_title) != SYSTEM_TITLE_LENGTH:
            raise InvalidPushError("a ciphered push must be general-glo-ciphered with the meter's system title")
        title = envelope.system_title
        keys = await self._keys.keys_for(title) if self._keys is not None else None
        if keys is None:
            raise InvalidPushError(f"no keys for system title {title.hex()}: unknown meter")
        opened = unprotect(apdu, keys=keys, peer_system_title=title, replay_guard=self._guard(title))
        return opened.apdu, title

    def _guard(self, title: bytes) -> ReplayGuard:
        guard = self._guards.get(title)
        if guard is None:
            guard = self._guards[title] = ReplayGuard()
            while len(self._guards) > MAX_REPLAY_GUARDS:
                self._guards.popitem(last=False)
        else:
            self._guards.move_to_end(title)
        return guard


@dataclass
class PushListenerStats:
    connections: int = 0
    frames: int = 0
    alerts: int = 0
    events: int = 0
    invalid: int = 0


class PushConnection:
    """What one connection has told us so far: who is speaking (for event notifications)."""

    __slots__ = ("identity", "peer")

    def __init__(self, peer: str) -> None:
        self.peer = peer
        self.identity: MeterIdentity | None = None


class PushListener:
    def __init__(
        self,
        sink: PushSink,
        clock: Clock,
        *,
        zone: ZoneInfo,
        keys: PushKeyring | None = None,
        require_ciphering: bool = False,
        metrics: HesMetrics | None = None,
        max_connections: int = 1_000,
        idle_timeout_s: float = 30.0,
        max_frames_per_connection: int = 64,
        max_connection_s: float = 120.0,
    ) -> None:
        self._sink = sink
        self._clock = clock
        self._zone = zone
        self._opener = NotificationOpener(keys, require_ciphering=require_ciphering)
        self._metrics = metrics
        self._idle_timeout_s = idle_timeout_s
        self._max_frames = max_frames_per_connection
        self._max_connection_s = max_connection_s
        self._listener = Listener(self._serve, max_connections=max_connections)
        self.stats = PushListenerStats()

    @property
    def port(self) -> int:
        return self._listener.port

    @property
    def rejected_connections(self) -> int:
        return self._listener.rejected

    async def start(self, host: str, port: int) -> None:
        await self._listener.start(host, port, backlog=512)

    async def close(self) -> None:
        await self._listener.close()

    # --- one connection ------------------------------------------------------------------------------

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        peer_info = writer.get_extra_info("peername")
        connection = PushConnection(
            f"{peer_info[0]}:{peer_info[1]}" if isinstance(peer_info, tuple) else str(peer_info)
        )
        self.stats.connections += 1
        decoder = WrapperDecoder(MAX_PUSH_APDU)
        frames = 0
        ends_at = asyncio.get_running_loop().time() + self._max_connection_s
        while True:
            wait_s = min(self._idle_timeout_s, ends_at - asyncio.get_running_loop().time())
            try:
                async with asyncio.timeout(max(0.0, wait_s)):
                    data = await reader.read(READ_CHUNK)
            except (TimeoutError, ConnectionError, OSError):
                return
            if not data:
                return
            try:
                decoder.receive_data(data)
                while (frame := decoder.next_event()) is not None:
                    frames += 1
                    if frames > self._max_frames:
                        self._invalid("frame", connection, f"more than {self._max_frames} frames on one connection")
                        return
                    await self.receive_apdu(frame.apdu, connection)
            except CosemError as exc:  # the byte stream lost its framing: nothing after this can be trusted
                self._invalid("frame", connection, f"bad wrapper framing: {exc}")
                return

    async def receive_apdu(self, apdu: bytes, connection: PushConnection | None = None) -> PushOutcome | None:
        """Decode one pushed APDU and hand it over; None if it was refused (logged and counted)."""
        connection = connection or PushConnection("local")
        kind = "event" if apdu[:1] == bytes((EVENT_NOTIFICATION_REQUEST,)) else "alert"
        try:
            push = await self.decode(apdu, connection)
            kind = "alert" if isinstance(push, AlertPush) else "event"
            if isinstance(push, AlertPush):
                self.stats.alerts += 1
                return await self._sink.handle_alert(push)
            self.stats.events += 1
            return await self._sink.handle_event(push)
        except (CosemError, InvalidPushError) as exc:
            self._invalid(kind, connection, str(exc))
            return None
        except Exception:  # task boundary: one push's failure (database down) must not end the listener
            log.exception("push from %s could not be stored: decision=dropped", connection.peer)
            self._count(kind, "failed")
            return None

    async def decode(self, apdu: bytes, connection: PushConnection) -> AlertPush | EventPush:
        """Open (if ciphered) and decode one pushed APDU; remembers the speaking meter on the connection."""
        received_at = self._clock.now()
        plain, title = await self._opener.open(apdu)
        notification = decode_xdlms_apdu(plain)
        if isinstance(notification, DataNotification):
            push = self._alert(notification, title, received_at)
            connection.identity = push.identity
            return push
        if isinstance(notification, EventNotificationRequest):
            identity = MeterIdentity(system_title=title) if title else connection.identity
            return event_from_notification(notification, identity=identity, zone=self._zone, received_at=received_at)
        raise InvalidPushError(f"{type(notification).__name__} is not a push")

    def _alert(self, notification: DataNotification, title: bytes | None, received_at: datetime) -> AlertPush:
        try:
            body = decode_data(notification.body)
        except CosemError as exc:
            raise InvalidPushError(f"undecodable push body: {exc}") from exc
        sent_at = _meter_time(notification.date_time, self._zone) if notification.date_time is not None else None
        return alert_from_body(
            body, system_title=title, zone=self._zone, fallback_time=sent_at, received_at=received_at
        )

    def _invalid(self, kind: str, connection: PushConnection, reason: str) -> None:
        self.stats.invalid += 1
        self._count(kind, "invalid")
        log.warning("push from %s refused: %s", connection.peer, reason)

    def _count(self, kind: str, outcome: str) -> None:
        if self._metrics is not None:
            self._metrics.pushes.labels(kind=kind, outcome=outcome).inc()


__all__ = [
    "InvalidPushError",
    "NotificationOpener",
    "PushConnection",
    "PushKeyring",
    "PushListener",
    "PushSink",
    "RegistryPushKeys",
    "alert_from_body",
    "event_from_notification",
    "status_bits",
]
