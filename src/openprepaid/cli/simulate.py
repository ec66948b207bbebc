"""``openprepaid simulate``: a fleet of virtual IS 15959 meters on the network (docs/simulator.md).

openprepaid simulate --meters 100 --port 41000 --speed 60 --control-port 41999
openprepaid simulate --meters 100 --dial-in hes.example:4060 --push-to hes.example:4061
openprepaid simulate fault outage --meters 0-9 --duration-s 600 --control-port 41999

The run prints exactly one line on stdout, ``ready: N meters on HOST:P-Q`` (or ``ready: N meters
dialling HOST:PORT``), once every meter is on the network, and runs until Ctrl-C or SIGTERM.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import typer

from openprepaid.cosem.security import SecurityKeys
from openprepaid.simulator.control_api import send_control
from openprepaid.simulator.errors import SimulatorError
from openprepaid.simulator.meter_security import TEST_CREDENTIALS, MeterCredentials
from openprepaid.simulator.network import CredentialBook
from openprepaid.simulator.runner import SimulationConfig, start_simulation

app = typer.Typer(help="Virtual meters on the network (TEST credentials by default; see docs/simulator.md).")

FAULT_KINDS = (
    "status",
    "outage",
    "restore",
    "magnet",
    "neutral",
    "cover",
    "relay_stuck",
    "clock",
    "offline",
    "network",
    "clear",
    "speed",
    "forget_counters",
)


def _host_port(text: str, option: str) -> tuple[str, int]:
    host, _, port = text.rpartition(":")
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise typer.BadParameter(f"{text!r}: write HOST:PORT", param_hint=option)
    return host, int(port)


def _range_ms(text: str | None) -> tuple[float, float]:
    if text is None:
        return 0.0, 0.0
    low, separator, high = text.partition("-")
    try:
        bounds = (float(low), float(high if separator else low))
    except ValueError:
        raise typer.BadParameter(f"{text!r}: write LOW-HIGH in milliseconds", param_hint="--latency-ms") from None
    if not 0 <= bounds[0] <= bounds[1]:
        raise typer.BadParameter("latency needs 0 <= LOW <= HIGH", param_hint="--latency-ms")
    return bounds


def _credentials(entry: dict[str, Any], base: MeterCredentials) -> MeterCredentials:
    password = entry.get("password")
    keys = base.keys
    if "ek" in entry or "ak" in entry:
        keys = SecurityKeys(
            global_unicast=bytes.fromhex(entry.get("ek", base.keys.global_unicast.hex())),
            authentication=bytes.fromhex(entry.get("ak", base.keys.authentication.hex())),
        )
    title = entry.get("system_title")
    return MeterCredentials(
        password=password.encode() if isinstance(password, str) else base.password,
        keys=keys,
        system_title=bytes.fromhex(title) if isinstance(title, str) else base.system_title,
    )


def load_credentials(path: Path | None) -> CredentialBook:
    """``--security FILE``: {"password", "ek", "ak", "meters": {SERIAL: {"password", "ek", "ak", "system_title"}}}."""
    if path is None:
        return CredentialBook()
    try:
        document = json.loads(path.read_text())
        if not isinstance(document, dict):
            raise TypeError("the document must be a JSON object")  # noqa: TRY301
        default = _credentials(document, TEST_CREDENTIALS)
        meters = document.get("meters", {})
        overrides = {str(serial): _credentials(entry, default) for serial, entry in meters.items()}
    except (OSError, ValueError, TypeError, AttributeError, SimulatorError) as exc:
        raise typer.BadParameter(f"{path}: {exc}", param_hint="--security") from exc
    return CredentialBook(default, overrides)


@app.callback(invoke_without_command=True)
def simulate(
    ctx: typer.Context,
    meters: int = typer.Option(10, "--meters", min=1, max=60_000, help="how many meters"),
    port: int = typer.Option(4059, "--port", help="meter i listens on PORT + i"),
    host: str = typer.Option("127.0.0.1", "--host", help="address to listen on"),
    hdlc: bool = typer.Option(False, "--hdlc", help="HDLC framing instead of the TCP wrapper"),
    security: Path | None = typer.Option(None, "--security", help="JSON credentials file (default: TEST values)"),
    speed: float = typer.Option(1.0, "--speed", min=0.001, help="simulated seconds per real second"),
    seed: int = typer.Option(1, "--seed", help="seed of the fleet (types, loads, faults)"),
    history_days: int = typer.Option(7, "--history-days", min=0, max=400, help="days of profiles before now"),
    latency_ms: str | None = typer.Option(None, "--latency-ms", help="reply latency range, e.g. 300-3000"),
    drop_rate: float = typer.Option(0.0, "--drop-rate", min=0.0, max=1.0, help="share of requests lost"),
    outages_per_day: float = typer.Option(0.0, "--outages-per-day", min=0.0, help="random outages per meter-day"),
    dial_in: str | None = typer.Option(
        None,
        "--dial-in",
        help="dial the head-end at HOST:PORT instead of listening (with --hdlc: HDLC over that connection)",
    ),
    push_to: str | None = typer.Option(None, "--push-to", help="alert push destination HOST:PORT"),
    push_ciphering: bool = typer.Option(
        False, "--push-ciphering", help="general-glo-cipher pushes and the dial-in announcement"
    ),
    control_port: int | None = typer.Option(None, "--control-port", help="JSON control API on 127.0.0.1:PORT"),
) -> None:
    """Run a fleet of virtual meters until Ctrl-C (subcommand ``fault`` talks to a running one)."""
    if ctx.invoked_subcommand is not None:
        return
    if push_to is not None:
        _host_port(push_to, "--push-to")
    try:
        config = SimulationConfig(
            meters=meters,
            start=datetime.now(UTC),
            host=host,
            port=port,
            framing="hdlc" if hdlc else "wrapper",
            speed=speed,
            seed=seed,
            history_days=history_days,
            latency_ms=_range_ms(latency_ms),
            drop_rate=drop_rate,
            outages_per_day=outages_per_day,
            dial_in=_host_port(dial_in, "--dial-in") if dial_in is not None else None,
            push_to=push_to,
            push_ciphering=push_ciphering,
            control_port=control_port,
            credentials=load_credentials(security),
        )
        asyncio.run(_run(config))
    except SimulatorError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from exc


async def _run(config: SimulationConfig) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
            loop.add_signal_handler(signum, stop.set)
    simulation = await start_simulation(config)
    try:
        typer.echo(simulation.ready_line())
        sys.stdout.flush()
        await stop.wait()
    finally:
        await simulation.close()
        for signum in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
                loop.remove_signal_handler(signum)


@app.command()
def fault(
    kind: str = typer.Argument(..., help=f"one of {', '.join(FAULT_KINDS)}"),
    meters: str = typer.Option("all", "--meters", help="indices: all, 3, 0-9, 1,4,7"),
    duration_s: float | None = typer.Option(None, "--duration-s", help="simulated seconds (outage, tamper, offline)"),
    latency_ms: str | None = typer.Option(None, "--latency-ms", help="network: LOW-HIGH milliseconds"),
    drop_rate: float | None = typer.Option(None, "--drop-rate", help="network: share of requests lost"),
    reset_rate: float | None = typer.Option(None, "--reset-rate", help="network: share answered by a reset"),
    garble_rate: float | None = typer.Option(None, "--garble-rate", help="network: share of garbled replies"),
    state: str | None = typer.Option(None, "--state", help="relay_stuck: closed, open or healthy"),
    drift_ppm: float | None = typer.Option(None, "--drift-ppm", help="clock: drift in ppm"),
    offset_s: float | None = typer.Option(None, "--offset-s", help="clock: silent jump in seconds"),
    speed: float | None = typer.Option(None, "--speed", help="speed: simulated seconds per real second"),
    control_port: int = typer.Option(..., "--control-port", help="the running fleet's control port"),
    control_host: str = typer.Option("127.0.0.1", "--control-host", help="the running fleet's control host"),
) -> None:
    """Send one request to a running fleet's control API and print its JSON reply."""
    if kind not in FAULT_KINDS:
        raise typer.BadParameter(f"{kind!r}: one of {', '.join(FAULT_KINDS)}", param_hint="kind")
    request: dict[str, Any] = {"op": kind}
    if kind != "status" or meters != "all":
        request["meters"] = meters
    optional = {
        "duration_s": duration_s,
        "drop_rate": drop_rate,
        "reset_rate": reset_rate,
        "garble_rate": garble_rate,
        "state": state,
        "drift_ppm": drift_ppm,
        "offset_s": offset_s,
        "speed": speed,
    }
    request.update({name: value for name, value in optional.items() if value is not None})
    if latency_ms is not None:
        request["latency_ms"] = list(_range_ms(latency_ms))
    try:
        reply = asyncio.run(send_control(control_host, control_port, request))
    except (OSError, TimeoutError, ValueError, SimulatorError) as exc:
        typer.echo(f"error: no answer from {control_host}:{control_port}: {exc}", err=True)
        raise typer.Exit(1) from exc
    typer.echo(json.dumps(reply))
    if not reply.get("ok"):
        raise typer.Exit(1)
