"""The demo's terminal status: a few readable lines, redrawn in place on a terminal."""

from __future__ import annotations

from datetime import timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from openprepaid.demo.loop import DemoLoop
from openprepaid.store.model import BlockReading, Command, CommandKind, CommandState, Meter, MeterEvent
from openprepaid.store.model.charge import ChargeBatch
from openprepaid.wallet.money import format_inr

CLEAR = "\x1b[H\x1b[2J"


def _disconnected_meters(session: Session) -> int:
    latest = (
        select(Command.meter_id, func.max(Command.id).label("last_id"))
        .where(
            Command.state == CommandState.CONFIRMED,
            Command.kind.in_([CommandKind.RELAY_DISCONNECT, CommandKind.RELAY_RECONNECT]),
        )
        .group_by(Command.meter_id)
        .subquery()
    )
    statement = (
        select(func.count())
        .select_from(Command)
        .join(latest, latest.c.last_id == Command.id)
        .where(Command.kind == CommandKind.RELAY_DISCONNECT)
    )
    return int(session.execute(statement).scalar_one())


def status_lines(loop: DemoLoop, session: Session, zone: ZoneInfo) -> list[str]:
    now = loop.demo_time.now()
    local = now.astimezone(zone)
    day_start = local.replace(hour=0, minute=0, second=0, microsecond=0)
    online = session.execute(
        select(func.count()).select_from(Meter).where(Meter.last_seen_at >= now - timedelta(hours=6))
    ).scalar_one()
    meters = session.execute(select(func.count()).select_from(Meter)).scalar_one()
    intervals = session.execute(select(func.count()).select_from(BlockReading)).scalar_one()
    charged_today = session.execute(
        select(func.coalesce(func.sum(ChargeBatch.amount_paise), 0)).where(ChargeBatch.created_at >= day_start)
    ).scalar_one()
    pending = session.execute(
        select(func.count()).select_from(Command).where(Command.state.in_([CommandState.QUEUED, CommandState.SENT]))
    ).scalar_one()
    events = session.execute(select(MeterEvent).order_by(MeterEvent.received_at.desc()).limit(3)).scalars().all()
    wall = loop.progress
    lines = [
        f"openprepaid demo — {local:%A %d %B %Y, %H:%M} ({zone.key})",
        f"  meters online (heard in 6 h): {online}/{meters}    intervals collected: {intervals:,}",
        f"  charged today: {format_inr(int(charged_today))}    recharges: {wall.recharges}",
        f"  relays open (disconnected): {_disconnected_meters(session)}    pending commands: {pending}",
        "  recent:",
    ]
    lines += [f"    {line}" for line in wall.recent[-5:]]
    lines += [
        f"    event {e.code} (log {e.log}) on meter {e.meter_id} at {e.occurred_at:%d %b %H:%M} UTC" for e in events
    ]
    return lines


def render(lines: list[str], *, tty: bool) -> str:
    text = "\n".join(lines)
    return CLEAR + text if tty else text + "\n"
