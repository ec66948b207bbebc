"""What a command must say (its parameters) and what proves it took effect (its read-back).

A command is confirmed only by reading the object it changed back from the meter (architecture.md,
"Identity and money invariants"): a relay command by the disconnect control object 0.0.96.3.10.255
(IEC 62056-6-2 class 70, attribute 2 output_state and attribute 3 control_state), a limiter
command by the limiter 0.0.17.0.0.255, a clock sync by the clock 0.0.1.0.0.255. These functions are
pure: the queue refuses ``confirmed`` unless ``verify_readback`` says the read-back matches.

A read command (``meter_read``) sets nothing, so there is no effect to verify: it is confirmed when
the read succeeded, and its read-back is the result (``READ_KINDS``, ``_verify_read``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from openprepaid.hes.priority import Priority
from openprepaid.hes.retry import NonRetryableError
from openprepaid.hes.session import (
    CLOCK,
    CURRENT_BALANCE,
    DISCONNECT_CONTROL,
    LIMITER,
    PAYMENT_MODE,
    PROFILE_OBJECTS,
    CosemValue,
    ProfileKind,
    RelayControlState,
)
from openprepaid.store.model import CommandKind

RELAY_KINDS = frozenset({CommandKind.RELAY_DISCONNECT, CommandKind.RELAY_RECONNECT})
# Commands that only read: nothing is sent before the read, and the read-back is the result.
READ_KINDS = frozenset({CommandKind.METER_READ})
# The object a meter read's read-back names: the instantaneous profile (its clock and relay come along).
METER_READ_OBJECT = PROFILE_OBJECTS[ProfileKind.INSTANT][0]
METER_READ_CLASS_ID = 7  # profile generic
DEFAULT_CLOCK_TOLERANCE_S = 5
MAX_THRESHOLD_W = 10_000_000
MAX_BALANCE_PAISE = 10**12

DEFAULT_PRIORITY: Mapping[CommandKind, Priority] = {
    CommandKind.RELAY_DISCONNECT: Priority.RELAY,
    CommandKind.RELAY_RECONNECT: Priority.RELAY,
    CommandKind.CLOCK_SYNC: Priority.SCHEDULED,
    CommandKind.METER_READ: Priority.ON_DEMAND,
}


def default_priority(kind: CommandKind) -> Priority:
    return DEFAULT_PRIORITY.get(kind, Priority.CONFIGURATION)


class InvalidCommandError(NonRetryableError):
    """A command whose parameters are missing or malformed, or that this meter cannot execute."""


@dataclass(frozen=True, slots=True)
class ReadBack:
    """What was read from the meter to verify a command: the object and the values that matter."""

    obis: str
    class_id: int
    values: Mapping[str, Any]
    read_at: datetime

    def to_json(self) -> dict[str, Any]:
        return {
            "obis": self.obis,
            "class_id": self.class_id,
            "values": {key: jsonable(value) for key, value in self.values.items()},
            "read_at": self.read_at.isoformat(),
        }


@dataclass(frozen=True, slots=True)
class Verdict:
    ok: bool
    detail: str = ""
    expected: Mapping[str, Any] = field(default_factory=dict)


def jsonable(value: CosemValue | Any) -> Any:
    """JSON-ready: octets as hex, date-times in ISO 8601, inside lists and mappings too."""
    if isinstance(value, bytes):
        return value.hex()
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, Mapping):
        return {str(key): jsonable(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(item) for item in value]
    return value


def _require(params: Mapping[str, Any], name: str, kind: type | tuple[type, ...]) -> Any:
    value = params.get(name)
    if not isinstance(value, kind) or (isinstance(value, bool) and kind is int):
        raise InvalidCommandError(f"parameter {name!r} is missing or not {getattr(kind, '__name__', kind)}")
    return value


def _require_reference(params: Mapping[str, Any], member: str) -> None:
    class_id = _require(params, "class_id", int)
    index = _require(params, member, int)
    obis = _require(params, "obis", str)
    if not 0 < class_id < 65536 or not 0 < index < 256 or len(obis.split(".")) != 6:
        raise InvalidCommandError(f"bad object reference {class_id}/{obis}/{index}")


def _refuse_for_meter(kind: CommandKind, params: Mapping[str, Any], *, has_relay: bool) -> None:
    if kind in RELAY_KINDS and not has_relay:
        raise InvalidCommandError(f"{kind.value}: this meter type has no relay (CT/PT meter)")
    if kind in READ_KINDS and params:
        raise InvalidCommandError(f"{kind.value} takes no parameters")


def validate_params(kind: CommandKind, params: Mapping[str, Any], *, has_relay: bool) -> None:
    """Refuse a command before it is queued; raises ``InvalidCommandError``."""
    _refuse_for_meter(kind, params, has_relay=has_relay)
    if kind is CommandKind.LOAD_LIMIT_SET:
        threshold = _require(params, "threshold_w", int)
        if not 0 < threshold <= MAX_THRESHOLD_W:
            raise InvalidCommandError(f"threshold_w {threshold} out of range")
    elif kind is CommandKind.PAYMENT_MODE:
        _require(params, "prepaid", bool)
    elif kind is CommandKind.BALANCE_DISPLAY:
        amount = _require(params, "amount_paise", int)
        if abs(amount) > MAX_BALANCE_PAISE:
            raise InvalidCommandError("amount_paise out of range")
    elif kind is CommandKind.CLOCK_SYNC:
        tolerance = params.get("tolerance_s", DEFAULT_CLOCK_TOLERANCE_S)
        if not isinstance(tolerance, int) or isinstance(tolerance, bool) or not 0 < tolerance <= 300:
            raise InvalidCommandError("tolerance_s must be an integer of 1..300 seconds")
    elif kind is CommandKind.GENERIC_SET:
        _require_reference(params, "attribute")
        if "value" not in params:
            raise InvalidCommandError("parameter 'value' is missing")
    elif kind is CommandKind.GENERIC_ACTION:
        _require_reference(params, "method")
        verify = params.get("verify")
        if not isinstance(verify, Mapping) or "expected" not in verify:
            raise InvalidCommandError("a generic action needs 'verify': {class_id, obis, attribute, expected}")
        _require_reference(verify, "attribute")


_EXPECTED: Mapping[CommandKind, Callable[[Mapping[str, Any]], tuple[str, dict[str, Any]]]] = {
    CommandKind.RELAY_DISCONNECT: lambda _p: (
        DISCONNECT_CONTROL,
        {"output_state": False, "control_state": int(RelayControlState.DISCONNECTED)},
    ),
    CommandKind.RELAY_RECONNECT: lambda _p: (
        DISCONNECT_CONTROL,
        {"output_state": True, "control_state": int(RelayControlState.CONNECTED)},
    ),
    CommandKind.LOAD_LIMIT_SET: lambda p: (LIMITER, {"threshold_w": p["threshold_w"]}),
    CommandKind.LOAD_LIMIT_ENABLE: lambda _p: (LIMITER, {"enabled": True}),
    CommandKind.LOAD_LIMIT_DISABLE: lambda _p: (LIMITER, {"enabled": False}),
    CommandKind.PAYMENT_MODE: lambda p: (PAYMENT_MODE, {"prepaid": p["prepaid"]}),
    CommandKind.BALANCE_DISPLAY: lambda p: (CURRENT_BALANCE, {"amount_paise": p["amount_paise"]}),
    CommandKind.CLOCK_SYNC: lambda _p: (CLOCK, {}),
    CommandKind.GENERIC_SET: lambda p: (str(p["obis"]), {"value": p["value"]}),
    CommandKind.GENERIC_ACTION: lambda p: (str(p["verify"]["obis"]), {"value": p["verify"]["expected"]}),
}


def expected_values(kind: CommandKind, params: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
    """(object the read-back must come from, values it must show); not for ``READ_KINDS`` (nothing set)."""
    if kind in READ_KINDS:
        raise ValueError(f"{kind.value} sets nothing: there is no effect to expect")
    return _EXPECTED[kind](params)


def verify_readback(kind: CommandKind, params: Mapping[str, Any], readback: ReadBack | None) -> Verdict:
    """Does ``readback`` prove that the command took effect?"""
    if readback is None:
        return Verdict(False, "no read-back")
    if kind in READ_KINDS:
        return _verify_read(readback)
    obis, expected = expected_values(kind, params)
    if readback.obis != obis:
        return Verdict(False, f"read-back of {readback.obis}, need {obis}", expected)
    if kind is CommandKind.CLOCK_SYNC:
        return _verify_clock(params, readback)
    return _verify_values(readback, expected)


def _verify_values(readback: ReadBack, expected: Mapping[str, Any]) -> Verdict:
    for name, value in expected.items():
        if name not in readback.values:
            return Verdict(False, f"read-back lacks {name}", expected)
        if jsonable(readback.values[name]) != jsonable(value):
            return Verdict(False, f"{name} is {readback.values[name]!r}, expected {value!r}", expected)
    return Verdict(True, "read-back matches", expected)


def _verify_clock(params: Mapping[str, Any], readback: ReadBack) -> Verdict:
    meter_time = readback.values.get("meter_time_at")
    if not isinstance(meter_time, datetime):
        return Verdict(False, "read-back lacks meter_time_at")
    tolerance = int(params.get("tolerance_s", DEFAULT_CLOCK_TOLERANCE_S))
    drift_s = (meter_time - readback.read_at).total_seconds()
    if abs(drift_s) > tolerance:
        return Verdict(False, f"clock still {drift_s:+.0f} s off (tolerance {tolerance} s)")
    return Verdict(True, f"clock within {drift_s:+.0f} s")


def _verify_read(readback: ReadBack) -> Verdict:
    """A read sets nothing: it is done when the meter answered it. Only the read-back's shape is checked."""
    if readback.obis != METER_READ_OBJECT:
        return Verdict(False, f"read-back of {readback.obis}, need {METER_READ_OBJECT}")
    return Verdict(True, "read done (nothing was set, nothing to verify)")
