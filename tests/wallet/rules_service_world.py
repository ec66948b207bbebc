"""Builders for the rules-service tests (no tests here): consumers with a meter, balances set through
the real recharge and adjustment APIs, and relay commands as the HES queue leaves them."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import event
from sqlalchemy.orm import Session

from openprepaid.store.model import Command, CommandKind, CommandState, Meter, MeterType
from openprepaid.wallet.adjustment import adjust
from openprepaid.wallet.recharge import RechargePolicy, RechargeRequest, recharge
from openprepaid.wallet.rules import EmergencyCreditConfig, RelayAction, RulesConfig
from openprepaid.wallet.rules_service import RULES_ACTOR, RelayCommandRequest
from tests.wallet.test_ledger_world import Books, Consumer, install_meter, make_consumer

IST = ZoneInfo("Asia/Kolkata")
# Tuesday 3 March 2026, 22:00 IST: inside the 18:00-08:00 blocked window.
TUESDAY_NIGHT = datetime(2026, 3, 3, 22, 0, tzinfo=IST).astimezone(UTC)
# Wednesday 4 March 2026, 11:00 IST: disconnection allowed.
WEDNESDAY_MORNING = datetime(2026, 3, 4, 11, 0, tzinfo=IST).astimezone(UTC)
SETUP_AT = datetime(2026, 3, 1, 6, 0, tzinfo=UTC)
NO_EMERGENCY_CREDIT = RulesConfig(emergency_credit=EmergencyCreditConfig(days=None, amount_paise=None))
_refs = itertools.count(1)


def pay(session: Session, consumer: Consumer, amount_paise: int, at: datetime, ref: str | None = None) -> str:
    ref = ref or f"PAY-{next(_refs)}"
    recharge(
        session,
        RechargeRequest(consumer.account.id, ref, amount_paise, "gateway:test", at, "gateway"),
        policy=RechargePolicy(),
        now=at,
    )
    return ref


def spend(session: Session, consumer: Consumer, amount_paise: int, at: datetime) -> None:
    """Debit the wallet by an operator adjustment (the real ledger API, balanced)."""
    adjust(
        session,
        account_id=consumer.account.id,
        amount_paise=-amount_paise,
        reason="test consumption",
        actor="test",
        reference=f"ADJ-{next(_refs)}",
        effective_at=at,
        now=at,
    )


def metered_consumer(
    session: Session, books: Books, *, category: str = "domestic", seen_at: datetime | None = SETUP_AT
) -> tuple[Consumer, Meter]:
    consumer = make_consumer(session, books, category=category)
    meter = install_meter(session, books, consumer, at=SETUP_AT)
    meter.last_seen_at = seen_at
    session.flush()
    return consumer, meter


def unmetered_owing(session: Session, books: Books) -> Consumer:
    """An account with no meter installed that recharged ₹100 and owes ₹20."""
    consumer = make_consumer(session, books)
    pay(session, consumer, 10_000, SETUP_AT)
    spend(session, consumer, 12_000, SETUP_AT + timedelta(hours=1))
    return consumer


def without_relay(session: Session, meter: Meter) -> None:
    meter_type = session.get(MeterType, meter.meter_type_id)
    assert meter_type is not None
    meter_type.has_relay = False
    session.flush()


def relay_command(
    session: Session,
    meter_id: int,
    account_id: int,
    *,
    kind: CommandKind,
    state: CommandState,
    at: datetime,
    actor: str = RULES_ACTOR,
    key: str | None = None,
) -> Command:
    """A relay command as the HES queue leaves it; a confirmed one carries the relay's read-back."""
    closed = kind is CommandKind.RELAY_RECONNECT
    done = state in (CommandState.CONFIRMED, CommandState.FAILED, CommandState.EXPIRED, CommandState.CANCELLED)
    readback = {
        "obis": "0.0.96.3.10.255",
        "class_id": 70,
        "values": {"output_state": closed, "control_state": 1 if closed else 0},
        "read_at": at.isoformat(),
    }
    command = Command(
        meter_id=meter_id,
        account_id=account_id,
        kind=kind,
        params={},
        state=state,
        priority=100,
        actor=actor,
        reason="test",
        decision={},
        correlation_id=f"c{next(_refs)}",
        idempotency_key=key,
        attempts=1,
        last_error="",
        readback=readback if state is CommandState.CONFIRMED else None,
        created_at=at - timedelta(minutes=2),
        not_before_at=None,
        deadline_at=None,
        sent_at=None if state is CommandState.QUEUED else at - timedelta(minutes=1),
        completed_at=at if done else None,
    )
    session.add(command)
    session.flush()
    return command


def command_for(
    session: Session,
    consumer: Consumer,
    meter: Meter,
    state: CommandState,
    *,
    at: datetime,
    kind: CommandKind = CommandKind.RELAY_DISCONNECT,
    actor: str = RULES_ACTOR,
) -> Command:
    """A relay command of the consumer's meter (a disconnection unless ``kind`` says otherwise)."""
    return relay_command(session, meter.id, consumer.account.id, kind=kind, state=state, at=at, actor=actor)


def enqueue(
    session: Session, request: RelayCommandRequest, at: datetime, *, state: CommandState = CommandState.QUEUED
) -> Command:
    """What the composition root does with a returned request (the HES queue's insert, simplified)."""
    kind = CommandKind.RELAY_DISCONNECT if request.action is RelayAction.DISCONNECT else CommandKind.RELAY_RECONNECT
    return relay_command(
        session,
        request.meter_id,
        request.account_id,
        kind=kind,
        state=state,
        at=at,
        actor=request.actor,
        key=request.idempotency_key,
    )


def count_statements(session: Session, work: Callable[[], object]) -> int:
    """How many SQL statements ``work`` sends (an executemany counts once)."""
    sent: list[str] = []
    connection = session.connection()

    def record(*args: object) -> None:
        sent.append(str(args[2]))

    event.listen(connection, "before_cursor_execute", record)
    try:
        work()
    finally:
        event.remove(connection, "before_cursor_execute", record)
    return len(sent)
