"""The on-demand read of one meter, and what is kept of every read-back the head-end makes.

``read_meter`` reads, in an open association, the clock 0.0.1.0.0.255 (drift against the head-end's
time), the instantaneous profile 1.0.94.91.0.255 with its scalers 1.0.94.91.3.255 (IS 15959-1), and
the disconnect control 0.0.96.3.10.255 if the meter type has a relay. The result is a ``ReadBack``
of the instantaneous profile whose values are exactly the JSON that ``openprepaid hes read`` prints:
the same whether the command line dialled the meter itself or a head-end ran a ``meter_read``
command (then it is kept in ``command.readback``).

``ReadBackRecorder.record`` keeps what a read found, for any command's read-back and for the direct
read: the relay state (``relay_record``: newest read wins) and, for a meter read, the instantaneous
values (stored by natural key like any on-demand read, so recording twice stores once) and the
meter as seen.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy.orm import Session

from openprepaid.bus.base import Bus
from openprepaid.hes import profile_mapping
from openprepaid.hes.clock import Clock
from openprepaid.hes.command_verification import (
    METER_READ_CLASS_ID,
    METER_READ_OBJECT,
    READ_KINDS,
    RELAY_KINDS,
    ReadBack,
)
from openprepaid.hes.database import Database
from openprepaid.hes.relay_record import control_state_name, record_relay_state
from openprepaid.hes.session import (
    DISCONNECT_CONTROL,
    MeterSession,
    MeterTarget,
    ProfileKind,
    RelayControlState,
    RelayState,
)
from openprepaid.store.model import CommandKind
from openprepaid.store.repository import hes as hes_repo
from openprepaid.store.repository import reading as reading_repo

# Columns of a stored instantaneous row that the result leaves out (they are the read's, not the row's).
_ROW_CONTEXT = ("meter_id", "received_at")


async def read_meter(session: MeterSession, target: MeterTarget, clock: Clock) -> ReadBack:
    """Read clock, instantaneous values and (if any) the relay; ``read_at`` is when the reads ended."""
    clock_reading = await session.read_clock()
    scalers = await session.read_scalers(ProfileKind.INSTANT)
    capture = await session.read_instant()
    relay = await session.read_relay_state() if target.has_relay else None
    received_at = clock.now()
    rows = profile_mapping.instant_rows(capture, scalers, meter_id=target.meter_id, received_at=received_at)
    drift_s = (clock_reading.meter_time_at - clock_reading.read_at).total_seconds()
    values: dict[str, Any] = {
        "meter_id": target.meter_id,
        "serial": target.serial,
        "meter_time_at": clock_reading.meter_time_at,
        "clock_drift_s": round(drift_s, 1),
        "instant": [{k: v for k, v in row.items() if k not in _ROW_CONTEXT} for row in rows],
        "relay": None
        if relay is None
        else {
            "output_state": relay.output_state,
            "control_state": control_state_name(int(relay.control_state)),
            "control_mode": relay.control_mode,
            "read_at": relay.read_at,
        },
    }
    return ReadBack(METER_READ_OBJECT, METER_READ_CLASS_ID, values, received_at)


def relay_of(kind: CommandKind, readback: ReadBack) -> RelayState | None:
    """The relay state a read-back shows, if it shows one (relay commands, meter reads)."""
    if kind in RELAY_KINDS and readback.obis == DISCONNECT_CONTROL:
        values: Mapping[str, Any] = readback.values
        return RelayState(
            bool(values["output_state"]),
            RelayControlState(int(values["control_state"])),
            values.get("control_mode"),
            readback.read_at,
        )
    if kind in READ_KINDS and readback.obis == METER_READ_OBJECT:
        relay = readback.values.get("relay")
        if relay is None:
            return None
        return RelayState(
            bool(relay["output_state"]),
            RelayControlState[str(relay["control_state"]).upper()],
            relay.get("control_mode"),
            relay["read_at"],
        )
    return None


class ReadBackRecorder:
    """Keeps what the head-end read from a meter: the relay state, and a meter read's values."""

    def __init__(self, db: Database, bus: Bus) -> None:
        self._db = db
        self._bus = bus

    async def record(self, kind: CommandKind, meter_id: int, readback: ReadBack, *, source: str) -> None:
        if kind in READ_KINDS and readback.obis == METER_READ_OBJECT:
            await self._store_meter_read(meter_id, readback)
        relay = relay_of(kind, readback)
        if relay is not None:
            await record_relay_state(self._db, self._bus, meter_id, relay, source=source)

    async def _store_meter_read(self, meter_id: int, readback: ReadBack) -> None:
        rows = [
            {"meter_id": meter_id, **row, "received_at": readback.read_at} for row in readback.values.get("instant", [])
        ]
        seen_at = readback.read_at

        def work(session: Session) -> None:
            if rows:
                reading_repo.store_instant_readings(session, rows)
            hes_repo.mark_seen(session, meter_id, seen_at)

        await self._db.run(work)
