"""The enforcement-gap report over the database: accounts due for disconnection (per the rules'
persisted state) that are still connected, each with its reason (domain.md §2, §3).

Runs on SQLite and the real PostgreSQL. The rules run first (no emergency credit: due at ₹0), so
that the persisted state says EXHAUSTED; then the report is asked at an allowed time (Wednesday
11:00 IST) or inside the night window.
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from openprepaid.store.model import CommandKind, CommandState
from openprepaid.wallet.rules import EmergencyCreditConfig, EnforcementGapReason, InvalidFactsError, RulesConfig
from openprepaid.wallet.rules_service import enforcement_gap, run_rules
from tests.wallet.rules_service_world import (
    NO_EMERGENCY_CREDIT,
    SETUP_AT,
    TUESDAY_NIGHT,
    WEDNESDAY_MORNING,
    command_for,
    metered_consumer,
    pay,
    spend,
    unmetered_owing,
    without_relay,
)
from tests.wallet.test_ledger_world import make_books

Reason = EnforcementGapReason
EXHAUSTED_AT = WEDNESDAY_MORNING - timedelta(hours=2)


def owing(session, books, **kwargs):
    consumer, meter = metered_consumer(session, books, seen_at=WEDNESDAY_MORNING - timedelta(hours=1), **kwargs)
    pay(session, consumer, 10_000, SETUP_AT)
    spend(session, consumer, 12_000, SETUP_AT + timedelta(hours=1))
    return consumer, meter


def command(session, consumer, meter, state, *, at=EXHAUSTED_AT + timedelta(minutes=30), **kwargs):
    return command_for(session, consumer, meter, state, at=at, **kwargs)


def gap_of(session, books, now=WEDNESDAY_MORNING, config=NO_EMERGENCY_CREDIT):
    run_rules(session, utility_id=books.utility.id, config=NO_EMERGENCY_CREDIT, now=EXHAUSTED_AT)
    return {
        row.account_id: row for row in enforcement_gap(session, utility_id=books.utility.id, config=config, now=now)
    }


def test_every_reason_of_the_gap_is_named(db_session):
    books = make_books(db_session)
    protected, _ = owing(db_session, books)
    protected.account.protected = True
    protected.account.protection_reason = "court order"
    offline, offline_meter = owing(db_session, books)
    offline_meter.last_seen_at = WEDNESDAY_MORNING - timedelta(hours=25)
    failed, failed_meter = owing(db_session, books)
    command(db_session, failed, failed_meter, CommandState.FAILED)
    pending, pending_meter = owing(db_session, books)
    command(db_session, pending, pending_meter, CommandState.SENT)
    forgotten, _ = owing(db_session, books)
    mismatch, mismatch_meter = owing(db_session, books)
    command(db_session, mismatch, mismatch_meter, CommandState.CONFIRMED)  # then reconnected by someone
    command(
        db_session,
        mismatch,
        mismatch_meter,
        CommandState.CONFIRMED,
        kind=CommandKind.RELAY_RECONNECT,
        at=EXHAUSTED_AT + timedelta(minutes=40),
    )
    disconnected, disconnected_meter = owing(db_session, books)
    command(db_session, disconnected, disconnected_meter, CommandState.CONFIRMED)
    in_credit, _ = metered_consumer(db_session, books)
    pay(db_session, in_credit, 10_000, SETUP_AT)
    db_session.flush()

    rows = gap_of(db_session, books)
    reasons = {account_id: row.reason for account_id, row in rows.items()}
    assert reasons == {
        protected.account.id: Reason.PROTECTED,
        offline.account.id: Reason.METER_OFFLINE,
        failed.account.id: Reason.COMMAND_FAILED,
        pending.account.id: Reason.COMMAND_PENDING,
        forgotten.account.id: Reason.NOT_ATTEMPTED,
        mismatch.account.id: Reason.RELAY_STATE_MISMATCH,
    }
    row = rows[protected.account.id]
    assert row.balance_paise == -2_000 and row.exhausted_at == EXHAUSTED_AT
    assert row.detail["protection"]["by"] == ["account:court order"]
    assert rows[failed.account.id].detail["last_disconnect_command_id"] is not None


def test_at_night_the_blocked_window_explains_the_gap(db_session):
    books = make_books(db_session)
    consumer, _ = owing(db_session, books)
    rows = gap_of(db_session, books, now=TUESDAY_NIGHT + timedelta(days=1))
    row = rows[consumer.account.id]
    assert row.reason is Reason.BLOCKED_WINDOW
    assert row.detail["calendar"]["allowed"] is False


def test_the_kill_switch_explains_the_gap(db_session):
    books = make_books(db_session)
    consumer, meter = owing(db_session, books)
    command(db_session, consumer, meter, CommandState.FAILED)
    config = RulesConfig(emergency_credit=EmergencyCreditConfig(days=None, amount_paise=None), kill_switch_engaged=True)
    row = gap_of(db_session, books, config=config)[consumer.account.id]
    assert row.reason is Reason.KILL_SWITCH
    assert row.all_reasons == (Reason.KILL_SWITCH, Reason.COMMAND_FAILED)


def test_a_failed_command_of_an_earlier_episode_explains_nothing(db_session):
    books = make_books(db_session)
    consumer, meter = owing(db_session, books)
    command(db_session, consumer, meter, CommandState.FAILED, at=EXHAUSTED_AT - timedelta(days=3))
    assert gap_of(db_session, books)[consumer.account.id].reason is Reason.NOT_ATTEMPTED


def test_meters_without_a_relay_and_accounts_without_a_meter_are_in_the_gap(db_session):
    books = make_books(db_session)
    ct_consumer, ct_meter = owing(db_session, books)
    without_relay(db_session, ct_meter)
    bare = unmetered_owing(db_session, books)
    rows = gap_of(db_session, books)
    assert rows[ct_consumer.account.id].detail["meter_has_relay"] is False
    assert rows[ct_consumer.account.id].reason is Reason.NOT_ATTEMPTED
    assert rows[bare.account.id].meter_id is None
    assert rows[bare.account.id].reason is Reason.METER_OFFLINE  # no meter: nothing can be heard from it


def test_a_recharge_since_the_last_evaluation_takes_the_account_out_of_the_gap(db_session):
    books = make_books(db_session)
    consumer, _ = owing(db_session, books)
    run_rules(db_session, utility_id=books.utility.id, config=NO_EMERGENCY_CREDIT, now=EXHAUSTED_AT)
    pay(db_session, consumer, 5_000, EXHAUSTED_AT + timedelta(minutes=5))
    rows = enforcement_gap(db_session, utility_id=books.utility.id, config=NO_EMERGENCY_CREDIT, now=WEDNESDAY_MORNING)
    assert rows == []


def test_a_naive_time_is_refused(db_session):
    books = make_books(db_session)
    with pytest.raises(InvalidFactsError):
        enforcement_gap(
            db_session, utility_id=books.utility.id, config=NO_EMERGENCY_CREDIT, now=SETUP_AT.replace(tzinfo=None)
        )
