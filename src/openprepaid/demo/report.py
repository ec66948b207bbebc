"""The demo's report: every figure computed from the database after the run, not from counters kept
on the side (so it checks the system's invariants rather than the demo's own bookkeeping)."""

from __future__ import annotations

import math
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from openprepaid.store.model import (
    Account,
    BlockReading,
    Command,
    CommandKind,
    CommandState,
    LedgerAccount,
    LedgerTransaction,
    Meter,
    MeterType,
    Payment,
    PaymentStatus,
    Posting,
)
from openprepaid.store.model.charge import ChargeInterval
from openprepaid.wallet.rules import RulesConfig, check_calendar
from openprepaid.wallet.rules_service import enforcement_gap

RULES_ACTOR = "prepaid-rules"
RELAY_KINDS = (CommandKind.RELAY_DISCONNECT, CommandKind.RELAY_RECONNECT)


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
    window = (BlockReading.interval_end_at > start, BlockReading.interval_end_at <= end)
    meters = session.execute(select(func.count()).select_from(Meter).where(Meter.utility_id == utility_id)).scalar_one()
    periods = (
        session.execute(
            select(MeterType.capture_period_s)
            .join(Meter, Meter.meter_type_id == MeterType.id)
            .where(Meter.utility_id == utility_id)
        )
        .scalars()
        .all()
    )
    span_s = (end - start).total_seconds()
    stored = session.execute(select(func.count()).select_from(BlockReading).where(*window)).scalar_one()
    charge_window = (ChargeInterval.interval_end_at > start, ChargeInterval.interval_end_at <= end)
    charged = session.execute(select(func.count()).select_from(ChargeInterval).where(*charge_window)).scalar_one()
    twice = session.execute(
        select(func.count()).select_from(
            select(ChargeInterval.meter_id)
            .where(*charge_window)
            .group_by(ChargeInterval.meter_id, ChargeInterval.interval_end_at)
            .having(func.count() > 1)
            .subquery()
        )
    ).scalar_one()
    disconnects = _relay_commands(session, CommandKind.RELAY_DISCONNECT)
    auto = [c for c in disconnects if c.actor == RULES_ACTOR and c.state is CommandState.CONFIRMED]
    protected_accounts = set(
        session.execute(
            select(Account.id).where(Account.utility_id == utility_id, Account.protected.is_(True))
        ).scalars()
    )
    reconnects = _relay_commands(session, CommandKind.RELAY_RECONNECT)
    verified = [c for c in reconnects if c.state is CommandState.CONFIRMED and c.readback]
    return {
        "meters": meters,
        "simulated_days": round(span_s / 86_400, 3),
        "intervals_expected": int(sum(span_s // period for period in periods)),
        "intervals_stored": stored,
        "intervals_charged": charged,
        "intervals_charged_twice": twice,
        "ledger_imbalance_paise": int(
            session.execute(select(func.coalesce(func.sum(Posting.amount_paise), 0))).scalar_one()
        ),
        "balance_mismatch_accounts": _balance_mismatches(session),
        "recharges": session.execute(
            select(func.count()).select_from(Payment).where(Payment.utility_id == utility_id)
        ).scalar_one(),
        "recharges_credited_twice": _recharges_credited_twice(session, utility_id),
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


def _relay_commands(session: Session, kind: CommandKind) -> list[Command]:
    return list(session.execute(select(Command).where(Command.kind == kind).order_by(Command.id)).scalars())


def _balance_mismatches(session: Session) -> int:
    derived = (
        select(Posting.ledger_account_id, func.sum(Posting.amount_paise).label("total"))
        .group_by(Posting.ledger_account_id)
        .subquery()
    )
    statement = (
        select(func.count())
        .select_from(LedgerAccount)
        .outerjoin(derived, derived.c.ledger_account_id == LedgerAccount.id)
        .where(LedgerAccount.balance_paise != func.coalesce(derived.c.total, 0))
    )
    return int(session.execute(statement).scalar_one())


def _recharges_credited_twice(session: Session, utility_id: int) -> int:
    """Payments whose credit appears in more than one ledger transaction (each recharge has one key)."""
    refs = (
        session.execute(
            select(Payment.payment_ref).where(
                Payment.utility_id == utility_id, Payment.status != PaymentStatus.REJECTED
            )
        )
        .scalars()
        .all()
    )
    twice = 0
    for ref in refs:
        count = session.execute(
            select(func.count())
            .select_from(LedgerTransaction)
            .where(LedgerTransaction.idempotency_key == f"recharge:{utility_id}:{ref}")
        ).scalar_one()
        twice += count > 1
    return twice


def _reconnect_p99_s(session: Session, verified: list[Command]) -> float | None:
    """Simulated seconds from the recharge that allowed a reconnection to its verified relay close."""
    delays = []
    for command in verified:
        if command.account_id is None or command.completed_at is None:
            continue
        paid_at = session.execute(
            select(func.max(Payment.received_at)).where(
                Payment.account_id == command.account_id, Payment.received_at <= command.created_at
            )
        ).scalar_one_or_none()
        if paid_at is not None:
            delays.append((command.completed_at - paid_at).total_seconds())
    if not delays:
        return None
    delays.sort()
    return round(delays[min(len(delays) - 1, math.ceil(0.99 * len(delays)) - 1)], 1)
