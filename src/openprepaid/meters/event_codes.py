"""IS 15959 event codes, the seven event logs they are written to, and the event status word bits.

IS 15959-1/-2 (Annex on event conditions): each event log 0.0.99.98.x.255 (class 7) captures the
clock and the event-code object 0.0.96.11.x.255 (class 1) of its group. A pair of codes marks the
occurrence and the restoration of a condition (odd = occurrence for voltage and current groups).
The event status word 0.0.94.91.18.255 (128-bit) flags conditions for the alert push; the bit
numbers here are the ones this project's meters use (domain.md §4).

Codes 71–84 and 167–181 are assigned by amendments and utility specifications that vary between
makes; only codes with a settled meaning are listed. ``lookup`` raises for any other code.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import IntEnum
from types import MappingProxyType

from openprepaid.meters.errors import UnknownObjectError


class EventLog(IntEnum):
    """The seven IS 15959 event logs; the value is the E group of their OBIS code."""

    VOLTAGE = 0
    CURRENT = 1
    POWER = 2
    TRANSACTION = 3
    OTHER = 4
    NON_ROLLOVER = 5
    CONTROL = 6

    @property
    def obis(self) -> str:
        """The event log profile (class 7)."""
        return f"0.0.99.98.{self.value}.255"

    @property
    def event_code_obis(self) -> str:
        """The event-code data object (class 1) that holds the last code of this group."""
        return f"0.0.96.11.{self.value}.255"


class EswBit(IntEnum):
    """Bits of the event status word (bit 0 = first bit of the 128-bit string)."""

    MAGNET = 80
    NEUTRAL_DISTURBANCE = 81
    COVER_OPEN = 82
    RELAY_CHANGE = 84
    LAST_GASP = 85
    FIRST_BREATH = 86


ESW_LENGTH = 128


@dataclass(frozen=True, slots=True)
class EventCode:
    code: int
    name: str
    log: EventLog
    restores: int | None = None  # the occurrence code a restoration code closes
    esw_bit: EswBit | None = None


# Named codes the simulator raises itself.
POWER_FAIL = 101
POWER_RESTORE = 102
RTC_CHANGE = 151
DEMAND_INTEGRATION_PERIOD_CHANGE = 152
CAPTURE_PERIOD_CHANGE = 153
LOAD_LIMIT_SET = 158
LOAD_LIMIT_ENABLED = 159
LOAD_LIMIT_DISABLED = 160
ESW_FILTER_CHANGE = 165
MD_RESET = 166
MAGNET_OCCURRENCE = 201
MAGNET_RESTORATION = 202
NEUTRAL_DISTURBANCE_OCCURRENCE = 203
NEUTRAL_DISTURBANCE_RESTORATION = 204
NEUTRAL_MISSING_OCCURRENCE = 207
NEUTRAL_MISSING_RESTORATION = 208
POSTPAID_MODE = 211
PREPAID_MODE = 212
OVERLOAD_OCCURRENCE = 215
OVERLOAD_RESTORATION = 216
COVER_OPEN = 251
RELAY_DISCONNECTED = 301
RELAY_CONNECTED = 302


def _pairs(log: EventLog, first: int, names: list[str]) -> list[EventCode]:
    """Occurrence/restoration pairs: ``first`` is the occurrence of names[0], first+1 its restoration."""
    codes: list[EventCode] = []
    for i, name in enumerate(names):
        occurrence = first + 2 * i
        codes.append(EventCode(occurrence, f"{name} - occurrence", log))
        codes.append(EventCode(occurrence + 1, f"{name} - restoration", log, restores=occurrence))
    return codes


_VOLTAGE = _pairs(
    EventLog.VOLTAGE,
    1,
    [
        "R-phase voltage missing",
        "Y-phase voltage missing",
        "B-phase voltage missing",
        "Over voltage in any phase",
        "Low voltage in any phase",
        "Voltage unbalance",
    ],
)
_CURRENT = _pairs(
    EventLog.CURRENT,
    51,
    [
        "R-phase current reverse",
        "Y-phase current reverse",
        "B-phase current reverse",
        "R-phase CT open",
        "Y-phase CT open",
        "B-phase CT open",
        "Current unbalance",
        "Current bypass",
        "Over current in any phase",
        "Earth loading",
    ],
)
_POWER = _pairs(EventLog.POWER, POWER_FAIL, ["Power failure"])
_TRANSACTION = [
    EventCode(code, name, EventLog.TRANSACTION)
    for code, name in [
        (RTC_CHANGE, "Real time clock - date and time"),
        (DEMAND_INTEGRATION_PERIOD_CHANGE, "Demand integration period"),
        (CAPTURE_PERIOD_CHANGE, "Profile capture period"),
        (154, "Single-action schedule for billing dates"),
        (155, "Activity calendar for time zones"),
        (157, "New firmware activated"),
        (LOAD_LIMIT_SET, "Load limit (kW) set"),
        (LOAD_LIMIT_ENABLED, "Enabled - load limit function"),
        (LOAD_LIMIT_DISABLED, "Disabled - load limit function"),
        (161, "LLS secret (MR) change"),
        (162, "HLS key (US) change"),
        (163, "HLS key (FW) change"),
        (164, "Global key change (encryption and authentication)"),
        (ESW_FILTER_CHANGE, "ESWF change"),
        (MD_RESET, "MD reset"),
        (169, "Single-action schedule for image activation"),
        (182, "Passive relay time"),
    ]
]
_OTHER = [
    *_pairs(
        EventLog.OTHER,
        MAGNET_OCCURRENCE,
        [
            "Influence of permanent magnet or AC/DC electromagnet",
            "Neutral disturbance - HF and DC",
            "Very low PF",
            "Single wire operation (neutral missing)",
            "Plug-in communication module removal",
        ],
    ),
    EventCode(POSTPAID_MODE, "Configuration change to post-paid mode", EventLog.OTHER),
    EventCode(PREPAID_MODE, "Configuration change to pre-paid mode", EventLog.OTHER),
    EventCode(213, "Configuration change to forwarded-only mode", EventLog.OTHER),
    EventCode(214, "Configuration change to import-and-export mode", EventLog.OTHER),
    *_pairs(EventLog.OTHER, OVERLOAD_OCCURRENCE, ["Overload"]),
]
_NON_ROLLOVER = [
    EventCode(COVER_OPEN, "Meter cover opening - occurrence", EventLog.NON_ROLLOVER, esw_bit=EswBit.COVER_OPEN)
]
_CONTROL = [
    EventCode(RELAY_DISCONNECTED, "Load switch status - disconnected", EventLog.CONTROL, esw_bit=EswBit.RELAY_CHANGE),
    EventCode(RELAY_CONNECTED, "Load switch status - connected", EventLog.CONTROL, esw_bit=EswBit.RELAY_CHANGE),
]

_ESW_OF: dict[int, EswBit] = {
    MAGNET_OCCURRENCE: EswBit.MAGNET,
    MAGNET_RESTORATION: EswBit.MAGNET,
    NEUTRAL_DISTURBANCE_OCCURRENCE: EswBit.NEUTRAL_DISTURBANCE,
    NEUTRAL_DISTURBANCE_RESTORATION: EswBit.NEUTRAL_DISTURBANCE,
    POWER_FAIL: EswBit.LAST_GASP,
    POWER_RESTORE: EswBit.FIRST_BREATH,
}


def _with_esw(code: EventCode) -> EventCode:
    bit = _ESW_OF.get(code.code, code.esw_bit)
    return EventCode(code.code, code.name, code.log, code.restores, bit)


EVENT_CODES: Mapping[int, EventCode] = MappingProxyType(
    {c.code: _with_esw(c) for c in [*_VOLTAGE, *_CURRENT, *_POWER, *_TRANSACTION, *_OTHER, *_NON_ROLLOVER, *_CONTROL]}
)


def lookup(code: int) -> EventCode:
    """The table entry for ``code``; ``UnknownObjectError`` for a code the table does not define."""
    try:
        return EVENT_CODES[code]
    except KeyError:
        raise UnknownObjectError(f"unknown IS 15959 event code {code}") from None


def log_of(code: int) -> EventLog:
    return lookup(code).log
