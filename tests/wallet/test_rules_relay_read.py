"""The prepaid rules take the relay as last read back from the meter: a read after the last confirmed
relay command (the meter row's record: a relay-change push and its read) overrides that command's
read-back. A relay closed at the meter after a rules disconnection is disconnected again; a relay
found open that nobody commanded is held, not reconnected. SQLite and PostgreSQL (``db_session``)."""

from __future__ import annotations

from datetime import timedelta

from openprepaid.store.model import CommandState
from openprepaid.store.repository.meter_relay import record_relay_state
from openprepaid.wallet.rules import EnforcementGapReason, RelayAction
from openprepaid.wallet.rules_service import enforcement_gap, run_rules
from tests.wallet.rules_service_world import NO_EMERGENCY_CREDIT, WEDNESDAY_MORNING, command_for, enqueue
from tests.wallet.test_ledger_world import make_books
from tests.wallet.test_rules_service import in_debt


def _read(session, meter, *, connected: bool, at) -> None:
    assert record_relay_state(session, meter.id, connected=connected, control_state=int(connected), read_at=at).applied


def _run(session, books, now):
    return run_rules(session, utility_id=books.utility.id, config=NO_EMERGENCY_CREDIT, now=now)


def test_a_relay_closed_at_the_meter_after_a_disconnection_is_disconnected_again(db_session):
    books = make_books(db_session)
    _consumer, meter = in_debt(db_session, books)
    [first] = _run(db_session, books, WEDNESDAY_MORNING).commands
    done = enqueue(db_session, first, WEDNESDAY_MORNING + timedelta(minutes=5), state=CommandState.CONFIRMED)
    _read(db_session, meter, connected=False, at=WEDNESDAY_MORNING + timedelta(minutes=5))  # its read-back
    assert _run(db_session, books, WEDNESDAY_MORNING + timedelta(minutes=15)).commands == []  # open, still owing
    # A relay-change push, then its read: the relay is closed again although nothing reconnected it.
    _read(db_session, meter, connected=True, at=WEDNESDAY_MORNING + timedelta(minutes=20))
    gap = enforcement_gap(
        db_session,
        utility_id=books.utility.id,
        config=NO_EMERGENCY_CREDIT,
        now=WEDNESDAY_MORNING + timedelta(minutes=25),
    )
    [row] = gap  # in the enforcement gap again: due, and the relay reads closed after a confirmed disconnect
    assert EnforcementGapReason.RELAY_STATE_MISMATCH in row.all_reasons
    [again] = _run(db_session, books, WEDNESDAY_MORNING + timedelta(minutes=30)).commands
    assert again.action is RelayAction.DISCONNECT and again.meter_id == meter.id
    assert again.idempotency_key != done.idempotency_key


def test_a_read_older_than_the_last_command_does_not_override_it(db_session):
    books = make_books(db_session)
    consumer, meter = in_debt(db_session, books)
    _read(db_session, meter, connected=True, at=WEDNESDAY_MORNING - timedelta(minutes=5))  # before the command
    command_for(db_session, consumer, meter, CommandState.CONFIRMED, at=WEDNESDAY_MORNING)
    assert _run(db_session, books, WEDNESDAY_MORNING + timedelta(minutes=15)).commands == []  # open by the command


def test_a_relay_read_open_that_nobody_commanded_is_left_open_and_not_in_the_gap(db_session):
    books = make_books(db_session)
    _consumer, meter = in_debt(db_session, books)  # exhausted: a disconnection would be due
    _read(db_session, meter, connected=False, at=WEDNESDAY_MORNING - timedelta(minutes=5))  # opened at the meter
    assert _run(db_session, books, WEDNESDAY_MORNING).commands == []  # already open: no command, no reconnect
    gap = enforcement_gap(db_session, utility_id=books.utility.id, config=NO_EMERGENCY_CREDIT, now=WEDNESDAY_MORNING)
    assert gap == []
