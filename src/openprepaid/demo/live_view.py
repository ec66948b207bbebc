"""The demo's terminal status: a few readable lines, redrawn in place on a terminal."""

from __future__ import annotations

from datetime import timedelta
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from openprepaid.demo.loop import DemoLoop
from openprepaid.store.repository import loop_audit
from openprepaid.wallet.money import format_inr

CLEAR = "\x1b[H\x1b[2J"


def status_lines(loop: DemoLoop, session: Session, zone: ZoneInfo) -> list[str]:
    now = loop.demo_time.now()
    local = now.astimezone(zone)
    day_start = local.replace(hour=0, minute=0, second=0, microsecond=0)
    online = loop_audit.meters_heard_since(session, now - timedelta(hours=6))
    intervals = loop_audit.block_readings_stored(session)
    charged_today = loop_audit.charged_since(session, day_start)
    wall = loop.progress
    lines = [
        f"openprepaid demo — {local:%A %d %B %Y, %H:%M} ({zone.key})",
        f"  meters online (heard in 6 h): {online}/{loop_audit.meter_count(session)}    "
        f"intervals collected: {intervals:,}",
        f"  charged today: {format_inr(charged_today)}    recharges: {wall.recharges}",
        f"  relays open (disconnected): {loop_audit.open_relay_count(session)}    "
        f"pending commands: {loop_audit.pending_command_count(session)}",
        "  recent:",
    ]
    lines += [f"    {line}" for line in wall.recent[-5:]]
    lines += [
        f"    event {e.code} (log {e.log}) on meter {e.meter_id} at {e.occurred_at:%d %b %H:%M} UTC"
        for e in loop_audit.recent_events(session, 3)
    ]
    return lines


def render(lines: list[str], *, tty: bool) -> str:
    text = "\n".join(lines)
    return CLEAR + text if tty else text + "\n"
