"""The demo's terminal status: a few readable lines, redrawn in place on a terminal."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from openprepaid.demo.loop import DemoLoop
from openprepaid.meters.event_codes import EVENT_CODES
from openprepaid.store.repository import loop_audit, prepaid_state
from openprepaid.wallet.money import format_inr

CLEAR = "\x1b[H\x1b[2J"


def status_lines(loop: DemoLoop, session: Session, zone: ZoneInfo, *, data_dir: str = "data") -> list[str]:
    now = loop.demo_time.now()
    local = now.astimezone(zone)
    day_start = local.replace(hour=0, minute=0, second=0, microsecond=0)
    online = loop_audit.meters_heard_since(session, now - timedelta(hours=6))
    intervals = loop_audit.block_readings_stored(session)
    charged_today = loop_audit.charged_since(session, day_start)
    phases = prepaid_state.emergency_phase_counts(session)
    wall = loop.progress
    lines = [
        f"openprepaid demo — {local:%A %d %B %Y, %H:%M} ({zone.key})",
        f"  meters online (heard in 6 h): {online}/{loop_audit.meter_count(session)}    "
        f"intervals collected: {intervals:,}",
        f"  charged today: {format_inr(charged_today)}    recharges: {wall.recharges}",
        f"  on emergency credit: {phases.get('emergency_credit', 0)}    credit exhausted: {phases.get('exhausted', 0)}",
        f"  relays open (disconnected): {loop_audit.open_relay_count(session)}    "
        f"pending commands: {loop_audit.pending_command_count(session)}",
        "  recent:",
    ]
    lines += [f"    {line}" for line in wall.recent[-5:]]
    for event in loop_audit.recent_events(session, 3):
        known = EVENT_CODES.get(event.code)
        name = known.name if known is not None else "unknown code"
        lines.append(
            f"    {event.occurred_at.astimezone(zone):%a %d %b %H:%M}  meter {event.meter_id}: "
            f"event {event.code} {name}"
        )
    lines += ["", *look_further(data_dir, now, zone), "  Ctrl-C stops; the same command resumes."]
    return lines


def look_further(data_dir: str, now: datetime, zone: ZoneInfo) -> list[str]:
    """The CLI queries that show more of the running (or stopped) demo."""
    cli = f"openprepaid --data-dir {data_dir}"
    return [
        "  look further, in another terminal:",
        f"    {cli} accounts list [--status disconnected|emergency|low]",
        f"    {cli} accounts show A000001          (balance, statement, notices, relay)",
        f"    {cli} accounts gap --at {now.isoformat(timespec='minutes')}",
        f"    {cli} meters availability --day {now.astimezone(zone):%Y-%m-%d}",
    ]


def render(lines: list[str], *, tty: bool) -> str:
    text = "\n".join(lines)
    return CLEAR + text if tty else text + "\n"
