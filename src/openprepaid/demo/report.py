"""The demo's report: every figure computed from the database after the run, not from counters kept
on the side (so it checks the system's invariants rather than the demo's own bookkeeping)."""

from __future__ import annotations

import math
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from openprepaid.store.model import Command, CommandKind, CommandState
from openprepaid.store.repository import loop_audit
from openprepaid.wallet.rules import RulesConfig, check_calendar
from openprepaid.wallet.rules_service import enforcement_gap

RULES_ACTOR = "prepaid-rules"


def build_report(
    session: Session,
    *,
    utility_id: int,
    start: datetime,
    end: datetime,
    zone: ZoneInfo,
    rules: RulesConfig,
    wall_seconds: float,
) -> dict[str, Any]:
    span_s = (end - start).total_seconds()
    charged, twice = loop_audit.intervals_charged(session, start, end)
    disconnects = loop_audit.relay_commands(session, CommandKind.RELAY_DISCONNECT)
    auto = [c for c in disconnects if c.actor == RULES_ACTOR and c.state is CommandState.CONFIRMED]
    protected_accounts = loop_audit.protected_account_ids(session, utility_id)
    reconnects = loop_audit.relay_commands(session, CommandKind.RELAY_RECONNECT)
    verified = [c for c in reconnects if c.state is CommandState.CONFIRMED and c.readback]
    return {
        "meters": loop_audit.meter_count(session, utility_id),
        "simulated_days": round(span_s / 86_400, 3),
        "intervals_expected": int(
            sum(span_s // period for period in loop_audit.capture_periods_s(session, utility_id))
        ),
        "intervals_stored": loop_audit.block_readings_stored(session, start, end),
        "intervals_charged": charged,
        "intervals_charged_twice": twice,
        "ledger_imbalance_paise": loop_audit.postings_total_paise(session),
        "balance_mismatch_accounts": loop_audit.balance_mismatches(session),
        "recharges": loop_audit.payment_count(session, utility_id),
        "recharges_credited_twice": loop_audit.payments_credited_twice(session, utility_id),
        "disconnects_auto": len(auto),
        "disconnects_in_blocked_window": sum(
            1
            for c in auto
            if not check_calendar(c.completed_at or c.sent_at or c.created_at, rules.calendar, zone).allowed
        ),
        "disconnects_of_protected": sum(
            1
            for c in disconnects
            if c.actor == RULES_ACTOR
            and c.account_id in protected_accounts
            and c.state in (CommandState.SENT, CommandState.CONFIRMED)
        ),
        "reconnects_verified": len(verified),
        "reconnect_after_recharge_p99_s": _reconnect_p99_s(session, verified),
        "commands_confirmed_without_readback": sum(
            1 for c in disconnects + reconnects if c.state is CommandState.CONFIRMED and not c.readback
        ),
        "enforcement_gap_accounts": len(enforcement_gap(session, utility_id=utility_id, config=rules, now=end)),
        "wall_seconds": round(wall_seconds, 1),
    }


def _reconnect_p99_s(session: Session, verified: list[Command]) -> float | None:
    """Simulated seconds from the recharge that allowed a reconnection to its verified relay close."""
    delays = []
    for command in verified:
        if command.account_id is None or command.completed_at is None:
            continue
        paid_at = loop_audit.last_payment_at(session, command.account_id, command.created_at)
        if paid_at is not None:
            delays.append((command.completed_at - paid_at).total_seconds())
    if not delays:
        return None
    delays.sort()
    return round(delays[min(len(delays) - 1, math.ceil(0.99 * len(delays)) - 1)], 3)
