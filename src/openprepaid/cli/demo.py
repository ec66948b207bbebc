"""``openprepaid demo``: the simulated township on SQLite."""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import typer

from openprepaid.app import runtime
from openprepaid.cli.context import settings_of
from openprepaid.demo.township import seed_township

EXAMPLES_DIR = Path(__file__).resolve().parents[3] / "examples" / "tariffs"


def demo(
    ctx: typer.Context,
    meters: int = typer.Option(20, "--meters", min=1, max=10_000, help="meters in the township"),
    seed: int = typer.Option(1, "--seed", help="seed for the township and the load models"),
    first_port: int = typer.Option(41000, "--port", help="first simulated meter's TCP port"),
) -> None:
    """Seed (or resume) the demo township in the data directory and show it."""
    settings = settings_of(ctx)
    asyncio.run(_run(settings, meters=meters, seed=seed, first_port=first_port))


async def _run(settings, *, meters: int, seed: int, first_port: int) -> None:  # type: ignore[no-untyped-def]
    async with runtime(settings) as rt:
        now = datetime.now(UTC)
        with rt.sessions() as session, session.begin():
            seeded = seed_township(
                session, rt.vault, meters=meters, seed=seed, now=now, tariffs_dir=EXAMPLES_DIR, first_port=first_port
            )
        by_category = Counter(meter.category for meter in seeded)
        typer.echo(f"township: {len(seeded)} meters in {settings.resolved_database_url}")
        for category, count in sorted(by_category.items()):
            typer.echo(f"  {category:<12} {count:>5}")
