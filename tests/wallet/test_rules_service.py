"""The prepaid rules service against the real ledger, payments and relay command history.

Runs on SQLite and the real PostgreSQL (``db_session``). Balances are set with the real recharge
and adjustment APIs; relay commands are rows as the HES queue leaves them (rules_service_world).
Calendar days used: Tuesday 3 March 2026 (22:00 IST is in the 18:00-08:00 window); Saturday
7 March 2026 (the 1st Saturday: allowed by day, blocked by the evening window), Sunday 8 March
(blocked all day), Monday 9 March 08:00 IST the next allowed minute.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from openprepaid.store.model import AccountStatus, CommandState, MeterInstallation, PaymentMode, PrepaidRulesState
from openprepaid.store.repository.prepaid_state import notices_of
from openprepaid.wallet.rules import (
    EmergencyCreditConfig,
    InvalidFactsError,
    NoticeConfig,
    ReconnectConfig,
    RelayAction,
    RulesConfig,
)
from openprepaid.wallet.rules_service import RULES_ACTOR, run_rules
from tests.wallet.rules_service_world import (
    IST,
    NO_EMERGENCY_CREDIT,
    SETUP_AT,
    TUESDAY_NIGHT,
    WEDNESDAY_MORNING,
    command_for,
    count_statements,
    enqueue,
    metered_consumer,
    pay,
    spend,
    unmetered_owing,
    without_relay,
)
from tests.wallet.test_ledger_world import (
    assert_ledger_invariants,
    install_meter,
    make_books,
    wallet_balance,
)


def stored_state(session, account_id):
    """The state row as stored now (the service writes through Core: refresh the identity map)."""
    session.expire_all()
    return session.get(PrepaidRulesState, account_id)


def run(session, books, now, config=NO_EMERGENCY_CREDIT, **kwargs):
    return run_rules(session, utility_id=books.utility.id, config=config, now=now, **kwargs)


def in_debt(session, books, *, category="domestic", owed=5_000, at=SETUP_AT):
    """A metered consumer who recharged ₹1,000 and then spent ₹1,000 + ``owed`` paise."""
    consumer, meter = metered_consumer(session, books, category=category)
    pay(session, consumer, 100_000, at)
    spend(session, consumer, 100_000 + owed, at + timedelta(hours=1))
    return consumer, meter


def test_running_out_at_night_gives_a_disconnection_not_before_8_am(db_session):
    books = make_books(db_session)
    consumer, meter = in_debt(db_session, books)
    result = run(db_session, books, TUESDAY_NIGHT)
    assert result.evaluated == 1 and result.cancel_meter_ids == []
    [command] = result.commands
    assert (command.account_id, command.meter_id, command.action) == (
        consumer.account.id,
        meter.id,
        RelayAction.DISCONNECT,
    )
    assert command.not_before_at == datetime(2026, 3, 4, 8, 0, tzinfo=IST)
    assert command.actor == RULES_ACTOR
    record = command.decision
    assert record["outcome"] == "disconnect_deferred"
    assert record["rule"] == "balance_exhausted_no_emergency_credit"
    assert record["balance_paise"] == -5_000
    assert record["calendar"]["allowed"] is False
    assert "balance -₹50.00" in command.reason and "18:00-08:00" in command.reason
    assert "not before 2026-03-04 08:00" in command.reason
    assert command.idempotency_key.startswith(f"rules:{consumer.account.id}:disconnect:")
    assert command.idempotency_key.endswith(":0")
    assert_ledger_invariants(db_session)


def test_disconnection_in_allowed_hours_is_immediate(db_session):
    books = make_books(db_session)
    in_debt(db_session, books)
    [command] = run(db_session, books, WEDNESDAY_MORNING).commands
    assert command.not_before_at is None
    assert command.decision["outcome"] == "disconnect_now"
    assert "calendar: allowed now" in command.reason


def test_saturday_evening_waits_for_monday_8_am(db_session):
    books = make_books(db_session)
    in_debt(db_session, books)
    saturday_evening = datetime(2026, 3, 7, 19, 30, tzinfo=IST)
    [command] = run(db_session, books, saturday_evening).commands
    assert command.not_before_at == datetime(2026, 3, 9, 8, 0, tzinfo=IST)


def test_emergency_credit_runs_three_days_before_a_disconnection(db_session):
    books = make_books(db_session)
    consumer, _ = in_debt(db_session, books)
    config = RulesConfig()  # default: 3 days of emergency credit
    first = run(db_session, books, WEDNESDAY_MORNING, config)
    assert first.commands == [] and first.notices >= 1
    kinds = [notice.kind for notice in notices_of(db_session, consumer.account.id)]
    assert "emergency_credit_started" in kinds
    assert run(db_session, books, WEDNESDAY_MORNING + timedelta(days=2), config).commands == []
    later = run(db_session, books, WEDNESDAY_MORNING + timedelta(days=3), config)
    [command] = later.commands
    assert command.decision["rule"] == "emergency_credit_expired"
    assert "emergency_credit_exhausted" in [n.kind for n in notices_of(db_session, consumer.account.id)]
    # the episode is the emergency credit's start: stable for every later evaluation of it
    started = int(WEDNESDAY_MORNING.timestamp())
    assert command.idempotency_key == f"rules:{consumer.account.id}:disconnect:{started}:0"


def test_a_protected_account_is_never_disconnected(db_session):
    books = make_books(db_session)
    flagged, _ = in_debt(db_session, books)
    flagged.account.protected = True
    flagged.account.protection_reason = "life support"
    in_debt(db_session, books, category="hospital")
    db_session.flush()
    for hours in range(0, 24 * 8, 5):
        result = run(db_session, books, WEDNESDAY_MORNING + timedelta(hours=hours))
        assert result.commands == []
    assert result.evaluated == 2


def test_kill_switch_stops_every_automatic_disconnection(db_session):
    books = make_books(db_session)
    in_debt(db_session, books)
    config = RulesConfig(emergency_credit=NO_EMERGENCY_CREDIT.emergency_credit, kill_switch_engaged=True)
    assert run(db_session, books, WEDNESDAY_MORNING, config).commands == []


def test_recharge_after_a_rules_disconnection_reconnects(db_session):
    books = make_books(db_session)
    consumer, meter = in_debt(db_session, books)
    disconnect = command_for(db_session, consumer, meter, CommandState.CONFIRMED, at=WEDNESDAY_MORNING)
    assert run(db_session, books, WEDNESDAY_MORNING + timedelta(hours=1)).commands == []  # still owing
    pay(db_session, consumer, 20_000, WEDNESDAY_MORNING + timedelta(hours=2))
    result = run(db_session, books, WEDNESDAY_MORNING + timedelta(hours=2, minutes=15))
    [command] = result.commands
    assert command.action is RelayAction.RECONNECT and command.not_before_at is None
    assert command.idempotency_key == f"rules:{consumer.account.id}:reconnect:{disconnect.id}:0"
    assert command.decision["reconnect"]["met"] is True
    assert "recharged ₹200.00 since the disconnection" in command.reason
    assert wallet_balance(db_session, consumer) == 15_000


def test_reconnection_after_half_the_dues_when_the_utility_says_so(db_session):
    books = make_books(db_session)
    consumer, meter = in_debt(db_session, books, owed=10_000)
    disconnect = command_for(db_session, consumer, meter, CommandState.CONFIRMED, at=WEDNESDAY_MORNING)
    # a fixed charge after the disconnection: the dues are those at the disconnection (₹100)
    spend(db_session, consumer, 1_000, WEDNESDAY_MORNING + timedelta(minutes=30))
    config = RulesConfig(
        emergency_credit=EmergencyCreditConfig(days=3), reconnect=ReconnectConfig(dues_paid_percent=Decimal(50))
    )
    pay(db_session, consumer, 4_900, WEDNESDAY_MORNING + timedelta(hours=1))
    assert run(db_session, books, WEDNESDAY_MORNING + timedelta(hours=1, minutes=1), config).commands == []
    state = stored_state(db_session, consumer.account.id)  # the balance then is computed once, and kept
    assert state is not None and state.disconnection == {"command_id": disconnect.id, "balance_paise": -10_000}
    pay(db_session, consumer, 100, WEDNESDAY_MORNING + timedelta(hours=2))
    [command] = run(db_session, books, WEDNESDAY_MORNING + timedelta(hours=2, minutes=1), config).commands
    assert command.action is RelayAction.RECONNECT
    assert command.decision["reconnect"]["dues_at_disconnection_paise"] == 10_000
    assert command.decision["reconnect"]["paid_since_disconnection_paise"] == 5_000
    enqueue(db_session, command, WEDNESDAY_MORNING + timedelta(hours=2, minutes=5), state=CommandState.CONFIRMED)
    run(db_session, books, WEDNESDAY_MORNING + timedelta(hours=2, minutes=15), config)
    state = stored_state(db_session, consumer.account.id)
    assert state is not None and state.disconnection is None  # the relay is closed again


def test_an_operator_disconnection_is_not_reconnected_by_a_recharge(db_session):
    books = make_books(db_session)
    consumer, meter = in_debt(db_session, books)
    command_for(db_session, consumer, meter, CommandState.CONFIRMED, at=WEDNESDAY_MORNING, actor="operator:asha")
    pay(db_session, consumer, 50_000, WEDNESDAY_MORNING + timedelta(hours=1))
    result = run(db_session, books, WEDNESDAY_MORNING + timedelta(hours=2))
    assert result.commands == []
    state = stored_state(db_session, consumer.account.id)
    assert state is not None and state.last_balance_paise == 45_000


def test_notices_once_per_crossing_and_never_twice_for_the_same_step(db_session):
    books = make_books(db_session)
    consumer, _ = metered_consumer(db_session, books)
    pay(db_session, consumer, 100_000, SETUP_AT)
    first = run(db_session, books, SETUP_AT + timedelta(minutes=15))
    assert first.notices == 0  # nothing crossed yet
    spend(db_session, consumer, 75_000, SETUP_AT + timedelta(minutes=20))  # ₹250 left: below 30 %
    now = SETUP_AT + timedelta(minutes=30)
    assert run(db_session, books, now).notices == 1
    assert run(db_session, books, now).notices == 0  # the same step again
    assert run(db_session, books, now + timedelta(minutes=15)).notices == 0
    spend(db_session, consumer, 20_000, now + timedelta(minutes=20))  # ₹50 left: below 10 %
    assert run(db_session, books, now + timedelta(minutes=30)).notices == 1
    rows = notices_of(db_session, consumer.account.id)
    assert [(row.notice_key, row.threshold_paise, row.balance_paise) for row in rows] == [
        ("percent_of_last_recharge:30", 30_000, 25_000),
        ("percent_of_last_recharge:10", 10_000, 5_000),
    ]
    # a new recharge re-arms the thresholds for its own amount
    pay(db_session, consumer, 100_000, now + timedelta(hours=1))
    spend(db_session, consumer, 100_000, now + timedelta(hours=1, minutes=5))  # ₹50 left of ₹1,050
    assert run(db_session, books, now + timedelta(hours=1, minutes=15)).notices == 2  # 30 % and 10 % again


def test_a_recharge_then_fast_spending_between_two_steps_still_notices(db_session):
    books = make_books(db_session)
    consumer, _ = metered_consumer(db_session, books)
    run(db_session, books, SETUP_AT)
    pay(db_session, consumer, 100_000, SETUP_AT + timedelta(minutes=1))
    spend(db_session, consumer, 80_000, SETUP_AT + timedelta(minutes=5))
    assert run(db_session, books, SETUP_AT + timedelta(minutes=15)).notices == 1


def test_idempotency_keys_are_stable_across_reruns_and_move_on_after_a_failure(db_session):
    books = make_books(db_session)
    in_debt(db_session, books)
    [first] = run(db_session, books, WEDNESDAY_MORNING).commands
    [again] = run(db_session, books, WEDNESDAY_MORNING).commands  # crash before the enqueue: rerun
    [later] = run(db_session, books, WEDNESDAY_MORNING + timedelta(minutes=15)).commands
    assert first.idempotency_key == again.idempotency_key == later.idempotency_key
    command = enqueue(db_session, first, WEDNESDAY_MORNING + timedelta(minutes=16))
    assert run(db_session, books, WEDNESDAY_MORNING + timedelta(minutes=30)).commands == []  # pending
    command.state = CommandState.SENT
    db_session.flush()
    assert run(db_session, books, WEDNESDAY_MORNING + timedelta(minutes=45)).commands == []
    command.state = CommandState.FAILED
    command.completed_at = WEDNESDAY_MORNING + timedelta(minutes=50)
    db_session.flush()
    [retry] = run(db_session, books, WEDNESDAY_MORNING + timedelta(hours=1)).commands
    assert retry.idempotency_key == first.idempotency_key.removesuffix(":0") + ":1"


def test_an_operator_pending_command_is_neither_doubled_nor_cancelled(db_session):
    books = make_books(db_session)
    consumer, meter = in_debt(db_session, books)
    command_for(db_session, consumer, meter, CommandState.QUEUED, at=WEDNESDAY_MORNING, actor="operator:asha")
    result = run(db_session, books, WEDNESDAY_MORNING)
    assert result.commands == [] and result.cancel_meter_ids == []


def test_a_recharge_cancels_the_rules_deferred_disconnection(db_session):
    books = make_books(db_session)
    consumer, meter = in_debt(db_session, books)
    [command] = run(db_session, books, TUESDAY_NIGHT).commands
    enqueue(db_session, command, TUESDAY_NIGHT)
    pay(db_session, consumer, 50_000, TUESDAY_NIGHT + timedelta(hours=1))
    result = run(db_session, books, TUESDAY_NIGHT + timedelta(hours=1, minutes=15))
    assert result.commands == [] and result.cancel_meter_ids == [meter.id]


def test_accounts_without_a_relay_or_a_meter_get_notices_but_no_command(db_session):
    books = make_books(db_session)
    ct_consumer, ct_meter = in_debt(db_session, books)
    without_relay(db_session, ct_meter)
    bare = unmetered_owing(db_session, books)
    result = run(db_session, books, WEDNESDAY_MORNING)
    assert result.evaluated == 2 and result.commands == [] and result.cancel_meter_ids == []
    # first evaluation: the crossings since the last recharge (30 %, 10 %, 0 %) and credit exhausted
    expected = [
        "percent_of_last_recharge:30",
        "percent_of_last_recharge:10",
        "percent_of_last_recharge:0",
        "emergency_credit_exhausted",
    ]
    for consumer in (ct_consumer, bare):
        assert [row.notice_key for row in notices_of(db_session, consumer.account.id)] == expected
    assert result.notices == 8


def test_only_the_given_accounts_are_evaluated(db_session):
    books = make_books(db_session)
    first, _ = in_debt(db_session, books)
    in_debt(db_session, books)
    result = run(db_session, books, WEDNESDAY_MORNING, account_ids=[first.account.id])
    assert result.evaluated == 1 and [c.account_id for c in result.commands] == [first.account.id]
    count = db_session.execute(select(func.count()).select_from(PrepaidRulesState)).scalar_one()
    assert count == 1
    assert run(db_session, books, WEDNESDAY_MORNING, account_ids=[]).evaluated == 0


def test_postpaid_closed_and_other_utilities_accounts_are_not_evaluated(db_session):
    books = make_books(db_session)
    postpaid, _ = in_debt(db_session, books)
    postpaid.account.payment_mode = PaymentMode.POSTPAID
    closed, _ = in_debt(db_session, books)
    closed.account.status = AccountStatus.CLOSED
    other_books = make_books(db_session)
    elsewhere, _ = in_debt(db_session, other_books)
    prepaid, _ = in_debt(db_session, books)
    db_session.flush()
    ids = [postpaid.account.id, closed.account.id, elsewhere.account.id, prepaid.account.id]
    for account_ids in (None, ids):
        result = run(db_session, books, WEDNESDAY_MORNING, account_ids=account_ids)
        assert result.evaluated == 1 and [c.account_id for c in result.commands] == [prepaid.account.id]


def test_a_naive_now_is_refused(db_session):
    books = make_books(db_session)
    with pytest.raises(InvalidFactsError):
        run(db_session, books, datetime(2026, 3, 4, 11, 0))


def test_an_unreadable_stored_state_blocks_automatic_action(db_session):
    books = make_books(db_session)
    consumer, _ = in_debt(db_session, books)
    run(db_session, books, WEDNESDAY_MORNING - timedelta(days=1))
    state = stored_state(db_session, consumer.account.id)
    assert state is not None
    state.emergency_credit = {"phase": "exhausted"}  # no episode: not a valid state
    state.notice_state = ["not", "an", "object"]
    db_session.flush()
    result = run(db_session, books, WEDNESDAY_MORNING - timedelta(hours=23))  # same local day: no new mark
    assert result.evaluated == 1 and result.commands == []
    stored = stored_state(db_session, consumer.account.id)
    assert stored is not None and stored.emergency_credit["phase"] == "error"
    assert "stored state unreadable" in stored.emergency_credit["error"]
    assert stored.notice_state["armed_for_recharge"] is not None


def test_a_replaced_meter_is_disconnected_again_under_a_new_key(db_session):
    books = make_books(db_session)
    consumer, old_meter = in_debt(db_session, books)
    [first] = run(db_session, books, WEDNESDAY_MORNING).commands
    done = enqueue(db_session, first, WEDNESDAY_MORNING + timedelta(minutes=5), state=CommandState.CONFIRMED)
    assert run(db_session, books, WEDNESDAY_MORNING + timedelta(minutes=15)).commands == []  # relay open
    installation = db_session.execute(
        select(MeterInstallation).where(MeterInstallation.meter_id == old_meter.id)
    ).scalar_one()
    installation.removed_at = WEDNESDAY_MORNING + timedelta(minutes=20)
    new_meter = install_meter(db_session, books, consumer, at=WEDNESDAY_MORNING + timedelta(minutes=20))
    [again] = run(db_session, books, WEDNESDAY_MORNING + timedelta(minutes=30)).commands
    assert again.meter_id == new_meter.id
    assert again.idempotency_key == done.idempotency_key.removesuffix(":0") + ":1"


def test_a_failed_reconnection_is_retried_under_the_next_key(db_session):
    books = make_books(db_session)
    consumer, meter = in_debt(db_session, books)
    command_for(db_session, consumer, meter, CommandState.CONFIRMED, at=WEDNESDAY_MORNING)
    pay(db_session, consumer, 20_000, WEDNESDAY_MORNING + timedelta(hours=1))
    [reconnect] = run(db_session, books, WEDNESDAY_MORNING + timedelta(hours=1, minutes=1)).commands
    enqueue(db_session, reconnect, WEDNESDAY_MORNING + timedelta(hours=1, minutes=30), state=CommandState.EXPIRED)
    [retry] = run(db_session, books, WEDNESDAY_MORNING + timedelta(hours=2)).commands
    assert retry.action is RelayAction.RECONNECT
    assert retry.idempotency_key == reconnect.idempotency_key.removesuffix(":0") + ":1"


def test_low_balance_notices_are_not_repeated_when_the_stored_state_is_lost(db_session):
    books = make_books(db_session)
    consumer, _ = in_debt(db_session, books)
    assert run(db_session, books, WEDNESDAY_MORNING).notices == 4
    db_session.delete(stored_state(db_session, consumer.account.id))
    db_session.flush()
    # the thresholds are re-detected but their dedup keys exist; the emergency credit starts a new
    # episode (its start is the state that was lost), which is notified as such
    assert run(db_session, books, WEDNESDAY_MORNING + timedelta(minutes=15)).notices == 1
    keys = [row.notice_key for row in notices_of(db_session, consumer.account.id)]
    assert keys.count("percent_of_last_recharge:30") == 1 and keys.count("emergency_credit_exhausted") == 2


def test_days_of_credit_left_uses_the_average_daily_spend_of_the_last_days(db_session):
    books = make_books(db_session)
    consumer, _ = metered_consumer(db_session, books)
    config = RulesConfig(notices=NoticeConfig(percent_of_last_recharge=(), days_of_credit_left=(Decimal(2),)))
    pay(db_session, consumer, 100_000, SETUP_AT)
    day = timedelta(days=1)
    first_morning = datetime(2026, 3, 2, 0, 5, tzinfo=IST)
    for index in range(4):  # ₹150 a day for four days: ₹400 left
        run(db_session, books, first_morning + index * day, config)
        spend(db_session, consumer, 15_000, first_morning + index * day + timedelta(hours=12))
    state = stored_state(db_session, consumer.account.id)
    assert state is not None and state.average_daily_spend_paise == 15_000
    assert len(state.spend_marks) == 4
    # a recharge between two marks is not spend
    pay(db_session, consumer, 10_000, first_morning + 3 * day + timedelta(hours=13))
    spend(db_session, consumer, 25_000, first_morning + 3 * day + timedelta(hours=14))  # ₹250 left < 2 days
    result = run(db_session, books, first_morning + 4 * day, config)
    state = stored_state(db_session, consumer.account.id)
    # (₹1,000 - ₹250 balance drop + ₹100 recharged) / 4 days
    assert state is not None and state.average_daily_spend_paise == 21_250
    assert result.notices == 1
    [notice] = notices_of(db_session, consumer.account.id)
    assert notice.notice_key == "days_of_credit_left:2" and notice.threshold_paise == 42_500


def test_the_number_of_statements_does_not_grow_with_the_accounts(db_session):
    books = make_books(db_session)
    for _ in range(3):
        in_debt(db_session, books)
    run(db_session, books, WEDNESDAY_MORNING - timedelta(days=1))
    few = count_statements(db_session, lambda: run(db_session, books, WEDNESDAY_MORNING))
    for _ in range(12):
        in_debt(db_session, books)
    run(db_session, books, WEDNESDAY_MORNING - timedelta(days=1))
    many = count_statements(db_session, lambda: run(db_session, books, WEDNESDAY_MORNING + timedelta(minutes=15)))
    assert many == few <= 12


def test_an_account_with_invalid_facts_is_left_out_and_logged_not_the_others(db_session, caplog):
    books = make_books(db_session)
    broken, _ = in_debt(db_session, books)
    broken.account.category = ""  # the rules need a category
    healthy, _ = in_debt(db_session, books)
    db_session.flush()
    result = run(db_session, books, WEDNESDAY_MORNING)
    assert result.evaluated == 1 and [c.account_id for c in result.commands] == [healthy.account.id]
    assert f"account {broken.account.id} skipped" in caplog.text
    assert stored_state(db_session, broken.account.id) is None


def test_the_kill_switch_cancels_the_rules_pending_disconnections(db_session):
    books = make_books(db_session)
    _, meter = in_debt(db_session, books)
    [command] = run(db_session, books, TUESDAY_NIGHT).commands
    enqueue(db_session, command, TUESDAY_NIGHT)
    stop = RulesConfig(emergency_credit=NO_EMERGENCY_CREDIT.emergency_credit, kill_switch_engaged=True)
    result = run(db_session, books, TUESDAY_NIGHT + timedelta(minutes=15), stop)
    assert result.commands == [] and result.cancel_meter_ids == [meter.id]
