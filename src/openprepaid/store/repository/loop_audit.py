"""Queries that audit the prepaid loop end to end: the demo's report and live status read these.

Each one reads the system's own records (readings, charges, postings, payments, commands), so the
figures check invariants rather than anyone's bookkeeping.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

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
    MeterEvent,
    MeterType,
    Payment,
    PaymentStatus,
    Posting,
    Utility,
)
from openprepaid.store.model.charge import ChargeBatch
from openprepaid.store.repository.charge_day import taken_once_and_twice

RELAY_KINDS = (CommandKind.RELAY_DISCONNECT, CommandKind.RELAY_RECONNECT)


def utility_id_by_code(session: Session, code: str) -> int:
    return int(session.execute(select(Utility.id).where(Utility.code == code)).scalar_one())


def meter_count(session: Session, utility_id: int | None = None) -> int:
    statement = select(func.count()).select_from(Meter)
    if utility_id is not None:
        statement = statement.where(Meter.utility_id == utility_id)
    return int(session.execute(statement).scalar_one())


def meters_heard_since(session: Session, since: datetime) -> int:
    return int(session.execute(select(func.count()).select_from(Meter).where(Meter.last_seen_at >= since)).scalar_one())


def capture_periods_s(session: Session, utility_id: int) -> list[int]:
    """Each meter's block-load capture period (by its type)."""
    statement = (
        select(MeterType.capture_period_s)
        .join(Meter, Meter.meter_type_id == MeterType.id)
        .where(Meter.utility_id == utility_id)
    )
    return list(session.execute(statement).scalars())


def block_readings_stored(session: Session, start: datetime | None = None, end: datetime | None = None) -> int:
    """Intervals stored with start < interval end <= end (all of them without bounds)."""
    statement = select(func.count()).select_from(BlockReading)
    if start is not None and end is not None:
        statement = statement.where(BlockReading.interval_end_at > start, BlockReading.interval_end_at <= end)
    return int(session.execute(statement).scalar_one())


def intervals_charged(session: Session, start: datetime, end: datetime) -> tuple[int, int]:
    """(intervals taken by the wallet, intervals taken or billed by more than one batch) with
    start < interval end <= end, from the batches' take masks (``charge_take``)."""
    return taken_once_and_twice(session, start, end)


def charged_since(session: Session, since: datetime) -> int:
    """Paise charged by charging batches created since ``since``."""
    statement = select(func.coalesce(func.sum(ChargeBatch.amount_paise), 0)).where(ChargeBatch.created_at >= since)
    return int(session.execute(statement).scalar_one())


def postings_total_paise(session: Session) -> int:
    """The sum of every posting: zero in a balanced ledger."""
    return int(session.execute(select(func.coalesce(func.sum(Posting.amount_paise), 0))).scalar_one())


def balance_mismatches(session: Session) -> int:
    """Ledger accounts whose cached balance differs from the sum of their postings."""
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


def payment_count(session: Session, utility_id: int) -> int:
    statement = select(func.count()).select_from(Payment).where(Payment.utility_id == utility_id)
    return int(session.execute(statement).scalar_one())


def payments_credited_twice(session: Session, utility_id: int) -> int:
    """Payments whose recharge key appears on more than one ledger transaction."""
    refs = session.execute(
        select(Payment.payment_ref).where(Payment.utility_id == utility_id, Payment.status != PaymentStatus.REJECTED)
    ).scalars()
    twice = 0
    for ref in refs.all():
        count = session.execute(
            select(func.count())
            .select_from(LedgerTransaction)
            .where(LedgerTransaction.idempotency_key == f"recharge:{utility_id}:{ref}")
        ).scalar_one()
        twice += count > 1
    return twice


def relay_commands(session: Session, kind: CommandKind) -> list[Command]:
    return list(session.execute(select(Command).where(Command.kind == kind).order_by(Command.id)).scalars())


def confirmed_relay_commands(session: Session) -> list[tuple[int, CommandKind, datetime | None]]:
    """(meter, kind, completed at) of every confirmed relay command, oldest first."""
    statement = (
        select(Command.meter_id, Command.kind, Command.completed_at)
        .where(Command.state == CommandState.CONFIRMED, Command.kind.in_(RELAY_KINDS))
        .order_by(Command.completed_at)
    )
    return [(int(m), k, at) for m, k, at in session.execute(statement).all()]


def pending_command_count(session: Session) -> int:
    statement = (
        select(func.count()).select_from(Command).where(Command.state.in_([CommandState.QUEUED, CommandState.SENT]))
    )
    return int(session.execute(statement).scalar_one())


def open_relay_count(session: Session) -> int:
    """Meters whose last confirmed relay command opened the relay."""
    latest = (
        select(Command.meter_id, func.max(Command.id).label("last_id"))
        .where(Command.state == CommandState.CONFIRMED, Command.kind.in_(RELAY_KINDS))
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


def protected_account_ids(session: Session, utility_id: int) -> set[int]:
    statement = select(Account.id).where(Account.utility_id == utility_id, Account.protected.is_(True))
    return set(session.execute(statement).scalars())


def last_payment_at(session: Session, account_id: int, not_after: datetime) -> datetime | None:
    statement = select(func.max(Payment.received_at)).where(
        Payment.account_id == account_id, Payment.received_at <= not_after
    )
    return session.execute(statement).scalar_one_or_none()


def recent_events(session: Session, limit: int) -> Sequence[MeterEvent]:
    statement = select(MeterEvent).order_by(MeterEvent.received_at.desc()).limit(limit)
    return session.execute(statement).scalars().all()
