"""Record the relay state whenever the head-end reads it from a meter, and say so on the bus when it changed.

Every path that reads disconnect control 0.0.96.3.10.255 (IEC 62056-6-2 class 70) ends here: a relay
command's verification read-back (confirmed or not: what was read is a fact), the relay-state
collection job after a relay-change push, a ``meter_read`` command and ``openprepaid hes read``.
The store keeps the newest read only (``store.repository.meter_relay``: a read older than the one on
record changes nothing), so two head-ends or a retried step cannot move the recorded state back.

When the recorded output_state or control_state changes (including the first read of a meter), a
message goes to ``op.events.relay.<meter_id>`` after the commit, with the message id
``relay-state:<meter_id>:<read_at>`` so that publishing it again is harmless.
"""

from __future__ import annotations

import logging
from typing import Any

from openprepaid.bus import subjects
from openprepaid.bus.base import Bus
from openprepaid.hes.database import Database
from openprepaid.hes.session import RelayControlState, RelayState
from openprepaid.store.repository import meter_relay
from openprepaid.store.repository.meter_relay import RecordedRelay, RelayUpdate

log = logging.getLogger(__name__)


def control_state_name(control_state: int | None) -> str | None:
    """``disconnected``, ``connected``, ``ready_for_reconnection`` (class 70 attribute 3), or None."""
    if control_state is None:
        return None
    try:
        return RelayControlState(control_state).name.lower()
    except ValueError:
        return f"unknown_{control_state}"


def _recorded_json(recorded: RecordedRelay | None) -> dict[str, Any] | None:
    if recorded is None or recorded.read_at is None:
        return None
    return {
        "output_state": recorded.connected,
        "control_state": recorded.control_state,
        "read_at": recorded.read_at.isoformat(),
    }


async def record_relay_state(db: Database, bus: Bus, meter_id: int, state: RelayState, *, source: str) -> RelayUpdate:
    """Record ``state`` on the meter row (if it is the newest read); publish when the state changed.

    ``source`` says which path read it (``command:<id>``, ``collection``, ``cli``), for the message.
    """
    control_state = int(state.control_state)
    update = await db.run(
        lambda session: meter_relay.record_relay_state(
            session, meter_id, connected=state.output_state, control_state=control_state, read_at=state.read_at
        )
    )
    if not update.applied:
        log.debug("meter %d: relay read at %s not recorded (a newer read is on record)", meter_id, state.read_at)
        return update
    if update.changed:
        payload = {
            "meter_id": meter_id,
            "output_state": state.output_state,
            "control_state": control_state,
            "control_state_name": control_state_name(control_state),
            "read_at": state.read_at.isoformat(),
            "source": source,
            "previous": _recorded_json(update.previous),
        }
        await bus.publish_json(
            subjects.for_meter(subjects.RELAY_STATES, meter_id),
            payload,
            msg_id=f"relay-state:{meter_id}:{state.read_at.isoformat()}",
        )
        log.info(
            "meter %d: relay now %s (%s), read %s by %s",
            meter_id,
            "connected" if state.output_state else "disconnected",
            control_state_name(control_state),
            state.read_at.isoformat(),
            source,
        )
    return update
