"""The operations the head-end needs from one open DLMS association with one meter.

The session layer (built on ``openprepaid.cosem`` and ``openprepaid.transport``) implements
``MeterSessionFactory`` and ``MeterSession``; everything else in ``openprepaid.hes`` (queue,
scheduler, collector, push handling) is written against these Protocols and plain dataclasses, so
it does not depend on how bytes are framed or encrypted.

Objects (IS 15959-1 / IS 16444 as summarised in domain.md §4): profiles are read as raw captured
rows (``ProfileCapture``), scalers from the scaler profiles (``read_scalers``); the collector applies
scalers and maps columns, so a session never needs to know what a column means. Time values come
back as aware UTC datetimes (the session converts COSEM date-time with its deviation). Every
method may raise the errors of ``openprepaid.hes.retry`` (and nothing else leaks out).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from datetime import datetime
from enum import IntEnum, StrEnum
from typing import Protocol

from openprepaid.hes.retry import HesError
from openprepaid.store.model import CommMode, Framing

# A decoded attribute value: integers, floats, strings, octet strings, booleans, date-times.
CosemValue = int | float | str | bytes | bool | datetime | None

CLOCK = "0.0.1.0.0.255"
DISCONNECT_CONTROL = "0.0.96.3.10.255"
LIMITER = "0.0.17.0.0.255"
PAYMENT_MODE = "0.0.94.96.20.255"
CURRENT_BALANCE = "0.0.94.96.24.255"
NAME_PLATE = "0.0.94.91.10.255"


class Association(IntEnum):
    """Client SAPs of IS 15959 (domain.md §4)."""

    PUBLIC = 16  # no security, read-only
    METER_READER = 32  # low-level security (password)
    UTILITY_SETTINGS = 48  # HLS-GMAC, security suite 0


class ProfileKind(StrEnum):
    INSTANT = "instant"
    BLOCK_LOAD = "block_load"
    DAILY = "daily"
    BILLING = "billing"


# Profile -> (profile generic OBIS, its scaler profile OBIS).
PROFILE_OBJECTS: Mapping[ProfileKind, tuple[str, str]] = {
    ProfileKind.INSTANT: ("1.0.94.91.0.255", "1.0.94.91.3.255"),
    ProfileKind.BLOCK_LOAD: ("1.0.99.1.0.255", "1.0.94.91.4.255"),
    ProfileKind.DAILY: ("1.0.99.2.0.255", "1.0.94.91.5.255"),
    ProfileKind.BILLING: ("1.0.98.1.0.255", "1.0.94.91.6.255"),
}

EVENT_LOGS = range(7)  # 0.0.99.98.<log>.255: voltage, current, power, transaction, other, non-rollover, control


def event_log_obis(log: int) -> str:
    return f"0.0.99.98.{log}.255"


def event_code_obis(log: int) -> str:
    """The event code object captured in each event log (0.0.96.11.<log>.255)."""
    return f"0.0.96.11.{log}.255"


@dataclass(frozen=True, slots=True)
class MeterTarget:
    """Everything the session layer needs to reach one meter (secrets are fetched separately)."""

    meter_id: int
    utility_id: int
    serial: str
    manufacturer_code: str
    system_title: bytes
    comm_mode: CommMode
    host: str | None
    port: int | None
    framing: Framing
    server_address: int
    meter_type_id: int
    meter_type_code: str
    has_relay: bool
    capture_period_s: int
    block_stamp: str = "end"  # the block-load clock column stamps the interval's "end" (default) or "start"


@dataclass(frozen=True, slots=True)
class CaptureColumn:
    """One capture object of a profile: (class id, logical name, attribute index)."""

    class_id: int
    obis: str
    attribute: int = 2


@dataclass(frozen=True, slots=True)
class ProfileRead:
    """One profile generic buffer to read: by range of its first capture object, or whole (no range)."""

    obis: str
    from_at: datetime | None = None
    to_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class ProfileCapture:
    """Rows of a profile generic buffer exactly as captured, with their columns."""

    columns: tuple[CaptureColumn, ...]
    rows: tuple[tuple[CosemValue, ...], ...]


@dataclass(frozen=True, slots=True)
class ScalerUnit:
    """Attribute 3 of a register: value x 10**scaler in ``unit`` (IEC 62056-6-2 unit enumeration)."""

    scaler: int
    unit: int


@dataclass(frozen=True, slots=True)
class NamePlate:
    serial: str
    manufacturer: str
    firmware: str
    meter_type: str = ""
    category: str = ""
    year_of_manufacture: int | None = None


@dataclass(frozen=True, slots=True)
class ClockReading:
    """The meter's clock and the head-end's time when it was read."""

    meter_time_at: datetime
    read_at: datetime


class RelayControlState(IntEnum):
    """Disconnect control, attribute 3 (IEC 62056-6-2, class 70)."""

    DISCONNECTED = 0
    CONNECTED = 1
    READY_FOR_RECONNECTION = 2


@dataclass(frozen=True, slots=True)
class RelayState:
    """Disconnect control 0.0.96.3.10.255 read back: attributes 2, 3 and 4."""

    output_state: bool
    control_state: RelayControlState
    control_mode: int | None
    read_at: datetime


@dataclass(frozen=True, slots=True)
class LimiterState:
    """Limiter 0.0.17.0.0.255: threshold_normal (attribute 4) in W, and whether limiting is active."""

    threshold_w: int
    enabled: bool | None
    read_at: datetime


class MeterSession(Protocol):
    """One open association with one meter. Every call is one or a few xDLMS requests."""

    @property
    def bytes_sent(self) -> int: ...

    @property
    def bytes_received(self) -> int: ...

    # Identity and time.
    async def read_name_plate(self) -> NamePlate: ...
    async def read_clock(self) -> ClockReading: ...
    async def sync_clock(self, now: datetime) -> None: ...

    # Profiles: scalers once per meter type, buffers by range (selective access by range).
    async def read_scalers(self, profile: ProfileKind) -> Mapping[str, ScalerUnit]: ...
    async def read_block_load(self, from_at: datetime, to_at: datetime) -> ProfileCapture: ...
    async def read_daily(self, from_at: datetime, to_at: datetime) -> ProfileCapture: ...
    async def read_billing(self, from_at: datetime, to_at: datetime) -> ProfileCapture: ...
    async def read_instant(self) -> ProfileCapture: ...
    async def read_events(self, log: int, since: datetime | None) -> ProfileCapture: ...

    async def read_profiles(self, reads: Sequence[ProfileRead]) -> list[ProfileCapture | HesError]:
        """Several profiles at once, in one request where the meter takes a GET-with-list. A profile the
        meter refuses is its (job-level) error in the list; a fault of the session raises."""
        ...

    # Relay (disconnect control, class 70).
    async def read_relay_state(self) -> RelayState: ...
    async def disconnect(self) -> None: ...
    async def reconnect(self) -> None: ...

    # Limiter (class 71).
    async def read_limiter(self) -> LimiterState: ...
    async def set_limiter(self, threshold_w: int) -> None: ...
    async def set_limiter_enabled(self, enabled: bool) -> None: ...

    # Prepaid display objects.
    async def read_payment_mode(self) -> bool: ...
    async def write_payment_mode(self, prepaid: bool) -> None: ...
    async def read_balance(self) -> int: ...
    async def write_balance(self, amount_paise: int) -> None: ...

    # Anything else, by reference.
    async def get_attribute(self, class_id: int, obis: str, attribute: int) -> CosemValue: ...
    async def set_attribute(self, class_id: int, obis: str, attribute: int, value: CosemValue) -> None: ...
    async def invoke_method(self, class_id: int, obis: str, method: int, argument: CosemValue) -> CosemValue: ...


class MeterSessionFactory(Protocol):
    """Opens an association: ``async with factory.open(target, Association.METER_READER) as session``.

    Entering connects and associates (raising the ``retry`` errors on failure); leaving releases
    the association (RLRQ) and closes the connection, also when the body raised.
    """

    def open(self, target: MeterTarget, association: Association) -> AbstractAsyncContextManager[MeterSession]: ...
