"""``openprepaid hes``: run the head-end, queue and inspect relay commands, read a meter on demand.

openprepaid hes run [--host H] [--push-port P] [--dial-in-port P] [--metrics-port P] [--max-sessions N]
openprepaid hes command disconnect|reconnect METER [--reason TEXT] [--deadline-min N] [--key K]
openprepaid hes command status METER [--limit N]
openprepaid hes read METER [--timeout-s S] [--via-head-end] [--key K] [--deadline-min N]

``run`` prints one line ``ready: ...`` once its listeners are open and runs until Ctrl-C or SIGTERM.
METER is a serial (optionally after the manufacturer code) or ``#ID``. Commands are queued in the
database; a running head-end (this or another node) sends them and confirms them only by read-back.
``read`` dials a dial meter itself; a dial-in meter (or any, with ``--via-head-end``) is read by a
running head-end through a ``meter_read`` command, which ``read`` queues and waits for.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import signal
import sys
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import typer
from sqlalchemy.orm import Session, sessionmaker

from openprepaid.app import runtime
from openprepaid.cli.context import settings_of
from openprepaid.hes.clock import SystemClock
from openprepaid.hes.command_queue import CommandQueue
from openprepaid.hes.command_records import CommandRequest, CommandView
from openprepaid.hes.command_state import TERMINAL_STATES
from openprepaid.hes.credentials import CredentialStore
from openprepaid.hes.database import Database
from openprepaid.hes.dlms_session import DlmsSessionFactory, VaultCredentials
from openprepaid.hes.head_end import HeadEndConfig
from openprepaid.hes.invocation_counters import InvocationCounterStore
from openprepaid.hes.meter_read import ReadBackRecorder, read_meter
from openprepaid.hes.retry import HesError, describe
from openprepaid.hes.service import DEFAULT_SYSTEM_TITLE, HesService, HesServiceConfig
from openprepaid.hes.session import Association
from openprepaid.hes.targets import TargetDirectory, UnknownMeterError
from openprepaid.hes.throttle import ThrottleLimits
from openprepaid.settings import Mode, Settings
from openprepaid.store.model import CommandKind, CommandState, CommMode
from openprepaid.store.repository import command as command_repo
from openprepaid.store.repository import hes as hes_repo

app = typer.Typer(help="The head-end: run it, queue relay commands, read a meter on demand.", no_args_is_help=True)
command_app = typer.Typer(help="Queue and inspect relay commands (confirmed only by read-back).", no_args_is_help=True)
app.add_typer(command_app, name="command")

STATUS_KINDS = (CommandKind.RELAY_DISCONNECT, CommandKind.RELAY_RECONNECT, CommandKind.METER_READ)
EXIT_STILL_QUEUED = 3  # ``hes read`` through a head-end: none ran the command in time; it stays queued
WAIT_POLL_S = 0.25


def _system_title(text: str) -> bytes:
    try:
        title = bytes.fromhex(text)
    except ValueError:
        raise typer.BadParameter(f"{text!r} is not hexadecimal", param_hint="--system-title") from None
    if len(title) != 8:
        raise typer.BadParameter("a system title is 8 octets (16 hex digits)", param_hint="--system-title")
    return title


def _fail(message: str, code: int = 1) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(code)


def _resolve_meter(session: Session, meter: str) -> int:
    """``#ID``, or a serial (optionally after the three-letter manufacturer code)."""
    if meter.startswith("#") and meter[1:].isdigit():
        return int(meter[1:])
    found = hes_repo.meter_id_by_identity(session, None, meter)
    if found is None:
        raise _fail(f"no single meter with serial {meter!r} (try MFRSERIAL or #ID)")
    return found


# --- run ------------------------------------------------------------------------------------------------


@app.command()
def run(
    ctx: typer.Context,
    host: str = typer.Option("127.0.0.1", "--host", help="address the push and dial-in listeners accept on"),
    push_port: int = typer.Option(4061, "--push-port", min=0, max=65535, help="alert pushes (0: any free port)"),
    dial_in_port: int = typer.Option(4060, "--dial-in-port", min=0, max=65535, help="dial-in meters"),
    metrics_port: int = typer.Option(9464, "--metrics-port", min=0, max=65535, help="GET /metrics"),
    metrics_host: str = typer.Option("127.0.0.1", "--metrics-host", help="address of the metrics endpoint"),
    no_push: bool = typer.Option(False, "--no-push", help="do not listen for pushes"),
    no_dial_in: bool = typer.Option(False, "--no-dial-in", help="do not listen for dial-in meters"),
    no_metrics: bool = typer.Option(False, "--no-metrics", help="no metrics endpoint"),
    max_sessions: int = typer.Option(64, "--max-sessions", min=1, help="meter sessions at once"),
    connections_per_s: float = typer.Option(20.0, "--connections-per-s", min=0.1, help="new sessions per second"),
    min_gap_s: float = typer.Option(5.0, "--min-gap-s", min=0.0, help="seconds between two sessions to one meter"),
    system_title: str = typer.Option(DEFAULT_SYSTEM_TITLE.hex(), "--system-title", help="our 8-octet title, hex"),
    tick_s: float = typer.Option(60.0, "--tick-s", min=0.1, help="seconds between collection scheduling rounds"),
    command_poll_s: float = typer.Option(5.0, "--command-poll-s", min=0.1, help="seconds between command polls"),
    response_timeout_s: float = typer.Option(30.0, "--response-timeout-s", min=0.1, help="per request"),
    group_commit: int = typer.Option(
        64, "--group-commit", min=1, help="units of work per transaction (1: each its own)"
    ),
) -> None:
    """Run the head-end against the meters registered in the database until Ctrl-C or SIGTERM."""
    throttle = ThrottleLimits(
        max_sessions=max_sessions,
        connections_per_s=connections_per_s,
        burst=max(1, int(connections_per_s)),
        min_gap_s=min_gap_s,
    )
    config = HesServiceConfig(
        system_title=_system_title(system_title),
        host=host,
        push_port=None if no_push else push_port,
        dial_in_port=None if no_dial_in else dial_in_port,
        metrics_host=metrics_host,
        metrics_port=None if no_metrics else metrics_port,
        head_end=HeadEndConfig(
            throttle=throttle, tick_s=tick_s, command_poll_s=command_poll_s, group_commit=group_commit
        ),
        response_timeout_s=response_timeout_s,
    )
    try:
        asyncio.run(_run(settings_of(ctx), config))
    except OSError as exc:
        raise _fail(f"cannot listen: {exc}") from exc


async def _run(settings: Settings, config: HesServiceConfig) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
            loop.add_signal_handler(signum, stop.set)
    async with runtime(settings, upgrade=settings.mode is Mode.EMBEDDED) as rt:
        service = await HesService.start(
            sessions=rt.sessions, bus=rt.bus, vault=rt.vault, zone=settings.zone, config=config
        )
        try:
            typer.echo(_ready_line(config, service.ports()))
            sys.stdout.flush()
            await service.run(stop)
        finally:
            await service.close()


def _ready_line(config: HesServiceConfig, ports: dict[str, int]) -> str:
    parts = []
    if "push" in ports:
        parts.append(f"push {config.host}:{ports['push']}")
    if "dial_in" in ports:
        parts.append(f"dial-in {config.host}:{ports['dial_in']}")
    if "metrics" in ports:
        parts.append(f"metrics http://{config.metrics_host}:{ports['metrics']}/metrics")
    return "ready: " + (", ".join(parts) or "no listeners")


# --- commands -------------------------------------------------------------------------------------------


def _queue(sessions: sessionmaker[Session], bus: Any) -> CommandQueue:
    return CommandQueue(Database(sessions), bus, SystemClock(), rng=random.Random())


def _describe(view: CommandView) -> str:
    when = view.completed_at or view.sent_at or view.created_at
    error = f" error={view.last_error}" if view.last_error else ""
    readback = f" readback={json.dumps(view.readback.get('values'))}" if view.readback else ""
    return (
        f"#{view.id} {view.kind.value} {view.state.value} attempts={view.attempts} "
        f"at={when.isoformat(timespec='seconds')} by={view.actor}{error}{readback}"
    )


def _enqueue(
    ctx: typer.Context, meter: str, kind: CommandKind, reason: str, deadline_min: int, key: str | None
) -> None:
    settings = settings_of(ctx)

    async def work() -> CommandView:
        async with runtime(settings, upgrade=settings.mode is Mode.EMBEDDED) as rt:
            with rt.sessions() as session:
                meter_id = _resolve_meter(session, meter)
            request = CommandRequest(
                meter_id=meter_id,
                kind=kind,
                actor="operator:cli",
                reason=reason,
                decision={"source": "openprepaid hes command"},
                idempotency_key=key,
                deadline_at=datetime.now(UTC) + timedelta(minutes=deadline_min),
            )
            result = await _queue(rt.sessions, rt.bus).enqueue(request)
            if result.superseded:
                typer.echo(f"superseded: {', '.join(f'#{i}' for i in result.superseded)}")
            return result.command

    try:
        view = asyncio.run(work())
    except HesError as exc:
        raise _fail(describe(exc)) from exc
    typer.echo(_describe(view))


def _relay_command(kind: CommandKind, summary: str) -> Callable[..., None]:
    def command(
        ctx: typer.Context,
        meter: str = typer.Argument(..., help="serial (or MFRSERIAL, or #ID)"),
        reason: str = typer.Option("operator request", "--reason", help="why (kept with the command)"),
        deadline_min: int = typer.Option(120, "--deadline-min", min=1, help="expire if not confirmed by then"),
        key: str | None = typer.Option(None, "--key", help="idempotency key: the same key never queues twice"),
    ) -> None:
        _enqueue(ctx, meter, kind, reason, deadline_min, key)

    command.__doc__ = summary
    return command


command_app.command("disconnect")(
    _relay_command(
        CommandKind.RELAY_DISCONNECT,
        "Queue a relay disconnect; a running head-end sends it and confirms it by reading the relay back.",
    )
)
command_app.command("reconnect")(
    _relay_command(
        CommandKind.RELAY_RECONNECT,
        "Queue a relay reconnect (the newest relay command of a meter supersedes older queued ones).",
    )
)


@command_app.command("status")
def status(
    ctx: typer.Context,
    meter: str = typer.Argument(..., help="serial (or MFRSERIAL, or #ID)"),
    limit: int = typer.Option(10, "--limit", min=1, max=1000, help="the newest this many commands"),
) -> None:
    """The meter's relay and read commands, newest last, with their state and read-back."""
    settings = settings_of(ctx)

    async def work() -> list[CommandView]:
        async with runtime(settings, upgrade=settings.mode is Mode.EMBEDDED) as rt:
            with rt.sessions() as session:
                meter_id = _resolve_meter(session, meter)
                rows = command_repo.open_commands_of_kinds(session, meter_id, STATUS_KINDS, list(CommandState))
                return [CommandView.of(row) for row in rows[-limit:]]

    views = asyncio.run(work())
    if not views:
        typer.echo(f"{meter}: no relay or read commands")
    for view in views:
        typer.echo(_describe(view))


# --- on-demand read --------------------------------------------------------------------------------------


@app.command()
def read(
    ctx: typer.Context,
    meter: str = typer.Argument(..., help="serial (or MFRSERIAL, or #ID)"),
    system_title: str = typer.Option(DEFAULT_SYSTEM_TITLE.hex(), "--system-title", help="our 8-octet title, hex"),
    timeout_s: float = typer.Option(
        30.0, "--timeout-s", min=0.1, help="dialling: per request; through a head-end: how long to wait for it"
    ),
    via_head_end: bool = typer.Option(
        False, "--via-head-end", help="let a running head-end read it (always so for dial-in meters)"
    ),
    key: str | None = typer.Option(None, "--key", help="through a head-end: the same key never queues twice"),
    deadline_min: int = typer.Option(
        60, "--deadline-min", min=1, help="through a head-end: expire if not read by then"
    ),
) -> None:
    """Read the meter now (clock, instantaneous values, relay state), store the values, print JSON.

    A dial meter is dialled from this process (meter-reader association). A dial-in meter can only be
    reached by the head-end holding its connection: then (and with --via-head-end) a meter_read
    command is queued and this waits up to --timeout-s for a running head-end to run it. Exit codes:
    0 read and printed, 1 error (unknown meter, read failed or expired), 2 bad usage, 3 no head-end
    ran it in time (the command stays queued until its deadline; its id is printed).
    """
    settings = settings_of(ctx)
    title = _system_title(system_title)
    try:
        result = asyncio.run(
            _read(settings, meter, title, timeout_s, via_head_end=via_head_end, key=key, deadline_min=deadline_min)
        )
    except (HesError, UnknownMeterError) as exc:
        raise _fail(describe(exc)) from exc
    if isinstance(result, CommandView):
        result = _read_result(result, meter, timeout_s)
    typer.echo(json.dumps(result))


def _read_result(view: CommandView, meter: str, timeout_s: float) -> dict[str, Any]:
    """The printed result of a meter_read command; raises the exit for every other outcome."""
    if view.state is CommandState.CONFIRMED and view.readback is not None:
        values: dict[str, Any] = dict(view.readback["values"])
        return values
    if view.state in TERMINAL_STATES:
        raise _fail(f"meter_read #{view.id} {view.state.value}: {view.last_error or 'no result'}")
    deadline = view.deadline_at.isoformat(timespec="seconds") if view.deadline_at else "no deadline"
    typer.echo(
        f"no head-end ran meter_read #{view.id} within {timeout_s:g} s: it stays {view.state.value} "
        f"until {deadline} (see: openprepaid hes command status {meter})",
        err=True,
    )
    raise typer.Exit(EXIT_STILL_QUEUED)


async def _read(
    settings: Settings,
    meter: str,
    title: bytes,
    timeout_s: float,
    *,
    via_head_end: bool,
    key: str | None,
    deadline_min: int,
) -> dict[str, Any] | CommandView:
    """The values read (dialled from here), or the meter_read command as it stands (through a head-end)."""
    async with runtime(settings, upgrade=settings.mode is Mode.EMBEDDED) as rt:
        with rt.sessions() as session:
            meter_id = _resolve_meter(session, meter)
        db = Database(rt.sessions, offload=False)
        clock = SystemClock()
        target = await TargetDirectory(db).get(meter_id)
        if via_head_end or target.comm_mode is CommMode.DIAL_IN:
            request = CommandRequest(
                meter_id=meter_id,
                kind=CommandKind.METER_READ,
                actor="operator:cli",
                reason="on-demand read",
                decision={"source": "openprepaid hes read"},
                idempotency_key=key,
                deadline_at=clock.now() + timedelta(minutes=deadline_min),
            )
            return await _wait_for(_queue(rt.sessions, rt.bus), request, timeout_s)
        factory = DlmsSessionFactory(
            VaultCredentials(CredentialStore(db, rt.vault), client_system_title=title),
            InvocationCounterStore(db, clock),
            zone=settings.zone,
            response_timeout_s=timeout_s,
            connect_timeout_s=timeout_s,
        )
        async with factory.open(target, Association.METER_READER) as meter_session:
            readback = await read_meter(meter_session, target, clock)
        await ReadBackRecorder(db, rt.bus).record(CommandKind.METER_READ, meter_id, readback, source="cli")
    values: dict[str, Any] = readback.to_json()["values"]
    return values


async def _wait_for(queue: CommandQueue, request: CommandRequest, timeout_s: float) -> CommandView:
    """Queue the read (or find it by its key) and poll it until it is done or ``timeout_s`` passed."""
    view = (await queue.enqueue(request)).command
    loop = asyncio.get_running_loop()
    give_up_at = loop.time() + timeout_s
    while view.state not in TERMINAL_STATES:
        remaining = give_up_at - loop.time()
        if remaining <= 0:
            break
        await asyncio.sleep(min(WAIT_POLL_S, remaining))
        view = await queue.get(view.id) or view
    return view


__all__ = ["app"]
