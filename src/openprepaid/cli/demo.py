"""``openprepaid demo``: a simulated township, end to end, on SQLite in the data directory.

Live (default): simulated time runs ``--speed`` times faster than real time and a status is shown
until Ctrl-C; a rerun resumes where it stopped. Headless: ``--headless --days N --report FILE``
runs N simulated days as fast as the machine allows and writes a JSON report computed from the
database.
"""

from __future__ import annotations

import asyncio
import json
import logging
import signal
import sys
import time
from contextlib import suppress
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from openprepaid.app import prepaid_rules, runtime
from openprepaid.cli.context import settings_of
from openprepaid.settings import ConfigFileError, Settings
from openprepaid.simulator.errors import SimulatorError

if TYPE_CHECKING:
    from openprepaid.demo.loop import DemoConfig, DemoLoop

EXAMPLES_DIR = Path(__file__).resolve().parents[3] / "examples" / "tariffs"
DEFAULT_START = "2026-11-02T00:00:00+05:30"  # a Monday, so the week's calendar rules all show up


def demo(
    ctx: typer.Context,
    meters: int = typer.Option(50, "--meters", min=2, max=5_000, help="meters in the township"),
    speed: float = typer.Option(600.0, "--speed", min=1.0, help="simulated seconds per real second (live mode)"),
    seed: int = typer.Option(1, "--seed", help="seed of the township, its consumption and its story"),
    first_port: int = typer.Option(24000, "--port", help="TCP port of the first simulated meter"),
    start: datetime = typer.Option(DEFAULT_START, "--start", help="simulated start (ISO with offset)"),
    headless: bool = typer.Option(False, "--headless", help="run --days as fast as possible and write --report"),
    days: float = typer.Option(7.0, "--days", min=0.05, help="simulated days to run (headless)"),
    report: Path | None = typer.Option(None, "--report", help="JSON report file (headless)"),
    data_dir: Path | None = typer.Option(
        None, "--data-dir", help="where the demo keeps its database, keys, log and resume state [default: ./data]"
    ),
) -> None:
    """Run the prepaid loop on a simulated township: meters report, the server charges, relays follow the rules."""
    # The demo's parts load only when it runs: every other command starts faster without them.
    from openprepaid.demo.loop import DemoConfig  # noqa: PLC0415

    settings = settings_of(ctx)
    if data_dir is not None:
        settings = settings.model_copy(update={"data_dir": data_dir})
    if start.tzinfo is None:
        raise typer.BadParameter("--start needs a UTC offset, e.g. 2026-11-02T00:00:00+05:30")
    if not EXAMPLES_DIR.is_dir():
        typer.echo(f"error: the example tariffs are missing ({EXAMPLES_DIR})", err=True)
        raise typer.Exit(2)
    config = DemoConfig(meters=meters, seed=seed, start=start, first_port=first_port, tariffs_dir=EXAMPLES_DIR)
    log_file = _log_to_file(settings)
    try:
        if headless:
            result = asyncio.run(_headless(settings, config, days))
            text = json.dumps(result, indent=2)
            if report is not None:
                report.parent.mkdir(parents=True, exist_ok=True)
                report.write_text(text + "\n", encoding="utf-8")
            typer.echo(text)
        else:
            asyncio.run(_live(settings, config, speed))
        typer.echo(f"log: {log_file}", err=True)
    except ConfigFileError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from exc
    except (ValueError, SimulatorError) as exc:
        typer.echo(f"error: {exc} (is another demo running? try --port or another --data-dir)", err=True)
        raise typer.Exit(2) from exc


def _log_to_file(settings: Settings) -> Path:
    """The terminal shows the status (or the report); the head-end's and wallet's log goes to a file."""
    path = settings.data_dir / "demo.log"
    path.parent.mkdir(parents=True, exist_ok=True)
    root = logging.getLogger()
    for handler in list(root.handlers):
        root.removeHandler(handler)
    handler = logging.FileHandler(path, encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root.addHandler(handler)
    return path


async def _headless(settings: Settings, config: DemoConfig, days: float) -> dict[str, object]:
    from openprepaid.demo.loop import DemoLoop  # noqa: PLC0415
    from openprepaid.demo.report import build_report  # noqa: PLC0415

    async with runtime(settings) as rt:
        loop = DemoLoop(rt, config, settings.zone)
        wall_started = time.monotonic()
        await loop.start()
        try:
            end = config.start + timedelta(days=days)
            await loop.run_until(end)
            # One last collection pass after the end so that the report sees what the meters have.
            await loop.collect_everything()
        finally:
            await loop.close()
        with rt.sessions() as session:
            return build_report(
                session,
                utility_id=loop.wallet.utility_id if loop.wallet else 0,
                start=config.start,
                end=config.start + timedelta(days=days),
                zone=settings.zone,
                rules=prepaid_rules(settings),
                wall_seconds=time.monotonic() - wall_started,
            )


async def _live(settings: Settings, config: DemoConfig, speed: float) -> None:
    from openprepaid.demo.live_view import look_further, render, status_lines  # noqa: PLC0415
    from openprepaid.demo.loop import DemoLoop  # noqa: PLC0415

    tty = sys.stdout.isatty()
    async with runtime(settings) as rt:
        loop = DemoLoop(rt, config, settings.zone)
        stop = asyncio.Event()
        for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            with suppress(NotImplementedError, RuntimeError):
                asyncio.get_running_loop().add_signal_handler(signum, stop.set)
        typer.echo(
            f"starting: {config.meters} simulated meters on 127.0.0.1:{config.first_port}-"
            f"{config.first_port + config.meters - 1}, data in {settings.data_dir} (Ctrl-C stops; a rerun resumes)"
        )
        await loop.start()
        origin_sim, origin_wall = loop.demo_time.now(), time.monotonic()

        def pace(target: datetime) -> float:
            due = origin_wall + (target - origin_sim).total_seconds() / speed
            return due - time.monotonic()

        def show(current: DemoLoop) -> None:
            if current.progress.steps % 4 == 0:
                with rt.sessions() as session:
                    sys.stdout.write(
                        render(status_lines(current, session, settings.zone, data_dir=str(settings.data_dir)), tty=tty)
                    )
                    sys.stdout.flush()

        runner = asyncio.create_task(
            loop.run_until(datetime.max.replace(tzinfo=config.start.tzinfo), pace=pace, on_step=show)
        )
        waiter = asyncio.create_task(stop.wait())
        await asyncio.wait({runner, waiter}, return_when=asyncio.FIRST_COMPLETED)
        runner.cancel()
        waiter.cancel()
        with suppress(asyncio.CancelledError):
            await runner
        await loop.close()
        lines = look_further(str(settings.data_dir), loop.demo_time.now(), settings.zone)
        lines.append(f"  or open the SQLite file {settings.resolved_database_url.removeprefix('sqlite:///')}")
        typer.echo("\nstopped; run the same command again to resume.\n" + "\n".join(lines))
