"""A small run-time control API for a running simulated fleet: inject faults, read status.

Transport: TCP on localhost (``--control-port``), one JSON object per line in each direction;
every request gets exactly one reply line, ``{"ok": true, ...}`` or ``{"ok": false, "error": "..."}``.
``meters`` selects meters by index (0-based; meter i listens on port P + i): ``"all"``, an index,
``"3-7"``, ``"1,4,9-12"`` or a JSON list; it defaults to ``"all"``.

========================================  ===============================================================
request                                   effect
========================================  ===============================================================
``{"op": "status"}``                      fleet figures (time, speed, connections, pushes, requests)
``{"op": "status", "meters": "0-2"}``     also each meter's supply, relay, registers, event status word
``{"op": "outage", "duration_s": 60}``    mains failure now (event 101, last-gasp push), restored after
                                          the duration (102, first-breath push); simulated seconds
``{"op": "restore"}``                     end an outage now
``{"op": "magnet", "duration_s": 60}``    magnetic tamper (201/202, tamper push); ``"neutral"`` likewise
``{"op": "cover"}``                       cover opened (251)
``{"op": "relay_stuck", "state": s}``     load switch welded ``"closed"``, stuck ``"open"`` or ``"healthy"``
``{"op": "clock", "drift_ppm": 50,``      clock drift from now, after a silent jump of ``offset_s``
``"offset_s": 0}``
``{"op": "offline", "duration_s": 30}``   modem unreachable: connections refused and dropped
``{"op": "network", "latency_ms":``       link disturbance; for ``"all"`` it becomes the fleet default
``[300, 3000], "drop_rate": 0.1,``
``"reset_rate": 0, "garble_rate": 0}``
``{"op": "clear"}``                       back to an undisturbed link
``{"op": "forget_counters"}``             the meter forgets the clients' invocation counters, as after
                                          a key change (for clients that cannot keep theirs)
``{"op": "speed", "speed": 60}``          simulated seconds per real second from now on
========================================  ===============================================================

Durations are simulated seconds (at ``--speed 60`` an outage of 600 s lasts 10 real seconds).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Callable
from dataclasses import asdict
from typing import Any

from openprepaid.simulator import faults
from openprepaid.simulator.dial_in import DialIn
from openprepaid.simulator.errors import SimulatorError
from openprepaid.simulator.faults import NetworkFaults
from openprepaid.simulator.network import FleetServer
from openprepaid.simulator.push_sender import PushSender
from openprepaid.simulator.virtual_meter import VirtualMeter

log = logging.getLogger(__name__)

MAX_LINE = 64 * 1024
MAX_STATUS_METERS = 100
STUCK = {"closed": True, "open": False, "healthy": None}


class ControlError(SimulatorError):
    """A control request that cannot be carried out (unknown op, bad parameters, unknown meters)."""


def select_meters(spec: object, count: int) -> list[int]:
    """Meter indices from a selection (see the module docstring)."""
    if spec is None or spec == "all":
        return list(range(count))
    parts: list[object] = [spec]
    if isinstance(spec, list):
        parts = list(spec)
    elif isinstance(spec, str):
        parts = list(spec.split(","))
    chosen: set[int] = set()
    for part in parts:
        if isinstance(part, int) and not isinstance(part, bool):
            low = high = part
        elif isinstance(part, str) and part.strip():
            low_text, _, high_text = part.strip().partition("-")
            if not low_text.isdigit() or (high_text and not high_text.isdigit()):
                raise ControlError(f"bad meter selection {part!r}")
            low, high = int(low_text), int(high_text or low_text)
        else:
            raise ControlError(f"bad meter selection {part!r}")
        if not 0 <= low <= high < count:
            raise ControlError(f"meters {low}-{high} outside 0-{count - 1}")
        chosen.update(range(low, high + 1))
    return sorted(chosen)


def _number(request: dict[str, Any], name: str, default: float, low: float, high: float) -> float:
    value = request.get(name, default)
    if isinstance(value, bool) or not isinstance(value, int | float) or not low <= value <= high:
        raise ControlError(f"{name} must be a number within {low:g}..{high:g}")
    return float(value)


class ControlApi:
    """Applies control requests to a ``FleetServer`` (``handle``) and serves them on a socket (``start``)."""

    def __init__(self, server: FleetServer, *, pushes: PushSender | None = None, dial_in: DialIn | None = None) -> None:
        self.server = server
        self.pushes = pushes
        self.dial_in = dial_in
        self._listener: asyncio.Server | None = None
        self._ops: dict[str, Callable[[dict[str, Any], list[int], int], dict[str, Any]]] = {
            "outage": self._timed(faults.outage),
            "restore": self._meter_op(lambda m, _r, _now: m.power_restore()),
            "magnet": self._timed(faults.magnet),
            "neutral": self._timed(faults.neutral_disturbance),
            "cover": self._meter_op(lambda m, _r, now: faults.cover_open(m, now)),
            "relay_stuck": self._meter_op(self._relay_stuck),
            "clock": self._meter_op(self._clock),
            "offline": self._offline,
            "network": self._network,
            "clear": self._clear,
            "speed": self._speed,
            "forget_counters": self._forget_counters,
            "status": self._status,
        }

    # --- requests ------------------------------------------------------------------------------------

    def handle(self, request: object) -> dict[str, Any]:
        """One request -> its reply (never raises for a bad request)."""
        try:
            if not isinstance(request, dict) or not isinstance(request.get("op"), str):
                raise ControlError('a request is a JSON object with "op"')
            op = self._ops.get(request["op"])
            if op is None:
                raise ControlError(f"unknown op {request['op']!r}; one of {', '.join(sorted(self._ops))}")
            meters = select_meters(request.get("meters"), len(self.server.fleet))
            return {"ok": True, **op(request, meters, self.server.now_s())}
        except (SimulatorError, ValueError) as exc:
            return {"ok": False, "error": str(exc)}

    def _apply(self, meters: list[int], now: int, action: Callable[[VirtualMeter], object]) -> dict[str, Any]:
        fleet = self.server.fleet
        for index in meters:
            meter = fleet.meter(index)
            meter.advance(now)
            action(meter)
            meter.advance(now)  # faults scheduled at ``now`` act at once
            if not fleet.is_reachable(index, now):
                self.server.disconnect(index)
        return {"meters": len(meters)}

    def _meter_op(
        self, action: Callable[[VirtualMeter, dict[str, Any], int], object]
    ) -> Callable[[dict[str, Any], list[int], int], dict[str, Any]]:
        def op(request: dict[str, Any], meters: list[int], now: int) -> dict[str, Any]:
            return self._apply(meters, now, lambda meter: action(meter, request, now))

        return op

    def _timed(
        self, fault: Callable[[VirtualMeter, int, int], None]
    ) -> Callable[[dict[str, Any], list[int], int], dict[str, Any]]:
        def op(request: dict[str, Any], meters: list[int], now: int) -> dict[str, Any]:
            duration = int(_number(request, "duration_s", 60, 1, 10**8))
            return self._apply(meters, now, lambda m: fault(m, now, duration))

        return op

    @staticmethod
    def _relay_stuck(meter: VirtualMeter, request: dict[str, Any], _now: int) -> None:
        state = request.get("state")
        if state not in STUCK:
            raise ControlError('state must be "closed", "open" or "healthy"')
        meter.set_relay_stuck(STUCK[state])

    @staticmethod
    def _clock(meter: VirtualMeter, request: dict[str, Any], now: int) -> None:
        drift = _number(request, "drift_ppm", 0, -(10**5), 10**5)
        offset = int(_number(request, "offset_s", 0, -(10**7), 10**7))
        faults.clock_drift(meter, now, drift, offset)

    def _offline(self, request: dict[str, Any], meters: list[int], now: int) -> dict[str, Any]:
        duration = int(_number(request, "duration_s", 60, 1, 10**8))
        dropped = 0
        for index in meters:
            self.server.fleet.faults.add_offline(index, now, duration)
            dropped += self.server.disconnect(index)
        return {"meters": len(meters), "dropped_connections": dropped}

    def _network(self, request: dict[str, Any], meters: list[int], _now: int) -> dict[str, Any]:
        latency = request.get("latency_ms", [0, 0])
        if not isinstance(latency, list) or len(latency) != 2 or not all(isinstance(v, int | float) for v in latency):
            raise ControlError("latency_ms is [low, high] in milliseconds")
        disturbance = NetworkFaults(
            latency_s=(latency[0] / 1000, latency[1] / 1000),
            drop_rate=_number(request, "drop_rate", 0, 0, 1),
            reset_rate=_number(request, "reset_rate", 0, 0, 1),
            garble_rate=_number(request, "garble_rate", 0, 0, 1),
        )
        return self._set_network(request, meters, disturbance)

    def _set_network(
        self, request: dict[str, Any], meters: list[int], disturbance: NetworkFaults | None
    ) -> dict[str, Any]:
        registry = self.server.fleet.faults
        if request.get("meters", "all") == "all":
            registry.default = disturbance or NetworkFaults()
            for index in meters:
                registry.set_network(index, None)
        else:
            for index in meters:
                registry.set_network(index, disturbance)
        return {"meters": len(meters)}

    def _clear(self, request: dict[str, Any], meters: list[int], _now: int) -> dict[str, Any]:
        return self._set_network(request, meters, None)

    def _forget_counters(self, _request: dict[str, Any], meters: list[int], _now: int) -> dict[str, Any]:
        for index in meters:
            self.server.security_of(index).replay_guards.clear()
        return {"meters": len(meters)}

    def _speed(self, request: dict[str, Any], _meters: list[int], _now: int) -> dict[str, Any]:
        self.server.clock.set_speed(_number(request, "speed", 1, 1e-3, 1e6))
        return {"speed": self.server.clock.speed}

    def _status(self, request: dict[str, Any], meters: list[int], now: int) -> dict[str, Any]:
        server = self.server
        reply: dict[str, Any] = {
            "now_s": now,
            "speed": server.clock.speed,
            "fleet": len(server.fleet),
            "first_port": server.first_port,
            "network": {k: v for k, v in asdict(server.stats).items() if k != "cosem"},
            "cosem": asdict(server.stats.cosem),
        }
        if self.pushes is not None:
            reply["pushes"] = asdict(self.pushes.stats)
        if self.dial_in is not None:
            reply["dial_in"] = asdict(self.dial_in.stats)
        if "meters" in request:
            reply["meters"] = [self._meter_status(index, now) for index in meters[:MAX_STATUS_METERS]]
        return reply

    def _meter_status(self, index: int, now: int) -> dict[str, Any]:
        meter = self.server.fleet.meter(index)
        meter.advance(now)
        import_wh, export_wh, *_ = meter.registers()
        return {
            "index": index,
            "serial": meter.serial,
            "type": meter.meter_type.code,
            "powered": meter.powered,
            "offline": self.server.fleet.faults.offline(index, now),
            "control_state": int(meter.control_state),
            "output_state": meter.output_state,
            "import_wh": import_wh,
            "export_wh": export_wh,
            "esw_bits": sorted(meter.esw_bits().bits()),
        }

    # --- the socket ----------------------------------------------------------------------------------

    async def start(self, host: str, port: int) -> int:
        """Listen on ``host:port`` (port 0: any); returns the port."""
        self._listener = await asyncio.start_server(self._connection, host, port, limit=MAX_LINE)
        return int(self._listener.sockets[0].getsockname()[1])

    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while line := await reader.readline():
                try:
                    reply = self.handle(json.loads(line))
                except json.JSONDecodeError as exc:
                    reply = {"ok": False, "error": f"not JSON: {exc}"}
                writer.write(json.dumps(reply).encode() + b"\n")
                await writer.drain()
        except (ConnectionError, asyncio.LimitOverrunError, ValueError):
            pass
        finally:
            writer.close()
            with contextlib.suppress(ConnectionError, OSError):
                await writer.wait_closed()

    async def close(self) -> None:
        if self._listener is not None:
            self._listener.close()
            await self._listener.wait_closed()
            self._listener = None


async def send_control(host: str, port: int, request: dict[str, Any], *, timeout_s: float = 10.0) -> dict[str, Any]:
    """Send one request to a running fleet's control API and return its reply (used by the CLI)."""
    async with asyncio.timeout(timeout_s):
        reader, writer = await asyncio.open_connection(host, port, limit=MAX_LINE)
        try:
            writer.write(json.dumps(request).encode() + b"\n")
            await writer.drain()
            line = await reader.readline()
        finally:
            writer.close()
            with contextlib.suppress(ConnectionError, OSError):
                await writer.wait_closed()
    reply = json.loads(line)
    if not isinstance(reply, dict):
        raise ControlError(f"unexpected reply {reply!r}")
    return reply
