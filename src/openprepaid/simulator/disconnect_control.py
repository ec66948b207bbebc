"""The disconnect control state machine (IEC 62056-6-2 §4.5.8, interface class 70), as a table.

States (control_state): 0 disconnected, 1 connected, 2 ready_for_reconnection. The transitions
are the standard's letters:

====  =================  ===========================================
a     remote_reconnect   disconnected -> connected
b     remote_disconnect  connected -> disconnected
c     remote_disconnect  ready_for_reconnection -> disconnected
d     remote_reconnect   disconnected -> ready_for_reconnection
e     manual_reconnect   ready_for_reconnection -> connected
f     manual_disconnect  connected -> ready_for_reconnection
g     local_disconnect   connected -> ready_for_reconnection
h     local_reconnect    ready_for_reconnection -> connected
====  =================  ===========================================

control_mode (0–6) enables a subset of the letters; mode 0 means the object always stays
connected. A trigger whose transition is not enabled, or that does not start from the current
state, leaves the state unchanged (the standard defines no error state; ``next_state`` reports
"no transition" as ``None``). output_state is True exactly in the connected state, unless the
relay is stuck (a simulated hardware fault, see ``faults``).
"""

from __future__ import annotations

from enum import IntEnum, StrEnum


class ControlState(IntEnum):
    DISCONNECTED = 0
    CONNECTED = 1
    READY_FOR_RECONNECTION = 2


class Trigger(StrEnum):
    REMOTE_DISCONNECT = "remote_disconnect"
    REMOTE_RECONNECT = "remote_reconnect"
    MANUAL_DISCONNECT = "manual_disconnect"
    MANUAL_RECONNECT = "manual_reconnect"
    LOCAL_DISCONNECT = "local_disconnect"
    LOCAL_RECONNECT = "local_reconnect"


_D, _C, _R = ControlState.DISCONNECTED, ControlState.CONNECTED, ControlState.READY_FOR_RECONNECTION

#: letter -> (trigger, from state, to state)
TRANSITIONS: dict[str, tuple[Trigger, ControlState, ControlState]] = {
    "a": (Trigger.REMOTE_RECONNECT, _D, _C),
    "b": (Trigger.REMOTE_DISCONNECT, _C, _D),
    "c": (Trigger.REMOTE_DISCONNECT, _R, _D),
    "d": (Trigger.REMOTE_RECONNECT, _D, _R),
    "e": (Trigger.MANUAL_RECONNECT, _R, _C),
    "f": (Trigger.MANUAL_DISCONNECT, _C, _R),
    "g": (Trigger.LOCAL_DISCONNECT, _C, _R),
    "h": (Trigger.LOCAL_RECONNECT, _R, _C),
}

#: control_mode -> the transitions it enables
MODES: dict[int, frozenset[str]] = {
    0: frozenset(),
    1: frozenset("bcfgde"),
    2: frozenset("bcfgae"),
    3: frozenset("bcgde"),
    4: frozenset("bcgae"),
    5: frozenset("bcfgdeh"),
    6: frozenset("bcgdeh"),
}

#: (control_mode, state, trigger) -> (letter, new state); absent means no transition.
TABLE: dict[tuple[int, ControlState, Trigger], tuple[str, ControlState]] = {
    (mode, start, trigger): (letter, end)
    for mode, letters in MODES.items()
    for letter, (trigger, start, end) in TRANSITIONS.items()
    if letter in letters
}


def next_state(control_mode: int, state: ControlState, trigger: Trigger) -> tuple[str, ControlState] | None:
    """The transition ``trigger`` causes in ``state`` under ``control_mode``, or None if none.

    ``ValueError`` for a control mode outside 0..6 (callers validate writes before this).
    """
    if control_mode not in MODES:
        raise ValueError(f"control_mode {control_mode} outside 0..6")
    return TABLE.get((control_mode, state, trigger))
