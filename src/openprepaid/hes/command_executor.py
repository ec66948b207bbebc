"""One executor per command kind (the OSGP/GXF pattern): send the command, then read its object back.

``execute`` performs the command in an open association and returns the read-back that the queue
verifies; ``read_back`` only reads (for a command left in doubt by a crash: if the meter already
obeyed, the read-back confirms it and nothing is sent twice). Objects per IEC 62056-6-2 and
IS 15959 (domain.md §4): disconnect control 0.0.96.3.10.255 (class 70, methods 1 remote_disconnect
and 2 remote_reconnect), limiter 0.0.17.0.0.255 (class 71), clock 0.0.1.0.0.255 (class 8).

A read command (``meter_read``) sends nothing: ``execute`` and ``read_back`` both just read
(``meter_read.read_meter``), in the meter-reader association (client 32) instead of client 48.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from openprepaid.hes.clock import Clock
from openprepaid.hes.command_records import CommandView
from openprepaid.hes.command_verification import READ_KINDS, ReadBack
from openprepaid.hes.meter_read import read_meter
from openprepaid.hes.retry import UnsupportedOperationError
from openprepaid.hes.session import (
    CLOCK,
    CURRENT_BALANCE,
    DISCONNECT_CONTROL,
    LIMITER,
    PAYMENT_MODE,
    Association,
    MeterSession,
    MeterTarget,
)
from openprepaid.store.model import CommandKind

Reader = Callable[[MeterSession, Mapping[str, Any], Clock], Awaitable[ReadBack]]
Sender = Callable[[MeterSession, Mapping[str, Any], Clock], Awaitable[None]]
TargetReader = Callable[[MeterSession, MeterTarget, Clock], Awaitable[ReadBack]]


async def _relay(session: MeterSession, _params: Mapping[str, Any], _clock: Clock) -> ReadBack:
    state = await session.read_relay_state()
    values = {
        "output_state": state.output_state,
        "control_state": int(state.control_state),
        "control_mode": state.control_mode,
    }
    return ReadBack(DISCONNECT_CONTROL, 70, values, state.read_at)


async def _limiter(session: MeterSession, _params: Mapping[str, Any], _clock: Clock) -> ReadBack:
    state = await session.read_limiter()
    return ReadBack(LIMITER, 71, {"threshold_w": state.threshold_w, "enabled": state.enabled}, state.read_at)


async def _clock_read(session: MeterSession, _params: Mapping[str, Any], _clock: Clock) -> ReadBack:
    reading = await session.read_clock()
    return ReadBack(CLOCK, 8, {"meter_time_at": reading.meter_time_at}, reading.read_at)


async def _payment_mode(session: MeterSession, _params: Mapping[str, Any], clock: Clock) -> ReadBack:
    return ReadBack(PAYMENT_MODE, 1, {"prepaid": await session.read_payment_mode()}, clock.now())


async def _balance(session: MeterSession, _params: Mapping[str, Any], clock: Clock) -> ReadBack:
    return ReadBack(CURRENT_BALANCE, 1, {"amount_paise": await session.read_balance()}, clock.now())


async def _generic_set_read(session: MeterSession, params: Mapping[str, Any], clock: Clock) -> ReadBack:
    value = await session.get_attribute(params["class_id"], params["obis"], params["attribute"])
    return ReadBack(params["obis"], params["class_id"], {"value": value}, clock.now())


async def _generic_action_read(session: MeterSession, params: Mapping[str, Any], clock: Clock) -> ReadBack:
    return await _generic_set_read(session, params["verify"], clock)


async def _send_disconnect(session: MeterSession, _params: Mapping[str, Any], _clock: Clock) -> None:
    await session.disconnect()


async def _send_reconnect(session: MeterSession, _params: Mapping[str, Any], _clock: Clock) -> None:
    await session.reconnect()


async def _send_limit(session: MeterSession, params: Mapping[str, Any], _clock: Clock) -> None:
    await session.set_limiter(int(params["threshold_w"]))


async def _send_limit_enable(session: MeterSession, _params: Mapping[str, Any], _clock: Clock) -> None:
    await session.set_limiter_enabled(True)


async def _send_limit_disable(session: MeterSession, _params: Mapping[str, Any], _clock: Clock) -> None:
    await session.set_limiter_enabled(False)


async def _send_clock(session: MeterSession, _params: Mapping[str, Any], clock: Clock) -> None:
    await session.sync_clock(clock.now())


async def _send_payment_mode(session: MeterSession, params: Mapping[str, Any], _clock: Clock) -> None:
    await session.write_payment_mode(bool(params["prepaid"]))


async def _send_balance(session: MeterSession, params: Mapping[str, Any], _clock: Clock) -> None:
    await session.write_balance(int(params["amount_paise"]))


async def _send_generic_set(session: MeterSession, params: Mapping[str, Any], _clock: Clock) -> None:
    await session.set_attribute(params["class_id"], params["obis"], params["attribute"], params["value"])


async def _send_generic_action(session: MeterSession, params: Mapping[str, Any], _clock: Clock) -> None:
    await session.invoke_method(params["class_id"], params["obis"], params["method"], params.get("argument"))


EXECUTORS: Mapping[CommandKind, tuple[Sender, Reader]] = {
    CommandKind.RELAY_DISCONNECT: (_send_disconnect, _relay),
    CommandKind.RELAY_RECONNECT: (_send_reconnect, _relay),
    CommandKind.LOAD_LIMIT_SET: (_send_limit, _limiter),
    CommandKind.LOAD_LIMIT_ENABLE: (_send_limit_enable, _limiter),
    CommandKind.LOAD_LIMIT_DISABLE: (_send_limit_disable, _limiter),
    CommandKind.CLOCK_SYNC: (_send_clock, _clock_read),
    CommandKind.PAYMENT_MODE: (_send_payment_mode, _payment_mode),
    CommandKind.BALANCE_DISPLAY: (_send_balance, _balance),
    CommandKind.GENERIC_SET: (_send_generic_set, _generic_set_read),
    CommandKind.GENERIC_ACTION: (_send_generic_action, _generic_action_read),
}


# Read commands: nothing to send; what is read depends on the meter (its type has a relay or not).
READS: Mapping[CommandKind, TargetReader] = {CommandKind.METER_READ: read_meter}


def association_for(kind: CommandKind) -> Association:
    """Reads need only the meter-reader association (client 32); everything that sets needs client 48."""
    return Association.METER_READER if kind in READ_KINDS else Association.UTILITY_SETTINGS


def _executor(kind: CommandKind) -> tuple[Sender, Reader]:
    try:
        return EXECUTORS[kind]
    except KeyError as exc:
        raise UnsupportedOperationError(f"no executor for {kind.value}") from exc


async def execute(session: MeterSession, command: CommandView, clock: Clock, target: MeterTarget) -> ReadBack:
    if command.kind in READS:
        return await READS[command.kind](session, target, clock)
    send, read = _executor(command.kind)
    await send(session, command.params, clock)
    return await read(session, command.params, clock)


async def read_back(session: MeterSession, command: CommandView, clock: Clock, target: MeterTarget) -> ReadBack:
    """Read only (a command in doubt after a crash): never sends anything; a read command reads again."""
    if command.kind in READS:
        return await READS[command.kind](session, target, clock)
    _send, read = _executor(command.kind)
    return await read(session, command.params, clock)
