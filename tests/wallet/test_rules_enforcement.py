"""Enforcement gap (domain.md §2, §3): due accounts still connected, and why."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any, cast

import pytest

from openprepaid.wallet.money import Paise
from openprepaid.wallet.rules import (
    CalendarCheck,
    DisconnectionCalendar,
    EmergencyCreditConfig,
    EmergencyCreditState,
    EnforcementGap,
    EnforcementGapReason,
    InvalidFactsError,
    RelayCommandStatus,
    RelayState,
    advance_emergency_credit,
    check_calendar,
    enforcement_gap_reason,
)

R = EnforcementGapReason
T0 = datetime(2026, 3, 2, 4, 30, tzinfo=UTC)  # Monday 10:00 IST: the calendar allows
EVENING = datetime(2026, 3, 2, 17, 30, tzinfo=UTC)  # Monday 23:00 IST: blocked window
CONFIG = EmergencyCreditConfig()


def state_at(at: datetime, balance: int = -500) -> EmergencyCreditState:
    start = advance_emergency_credit(
        EmergencyCreditState(), balance_paise=Paise(balance), now_utc=at - timedelta(days=3), config=CONFIG
    ).state
    return advance_emergency_credit(start, balance_paise=Paise(balance), now_utc=at, config=CONFIG).state


EXHAUSTED = state_at(T0)


def calendar(at: datetime = T0) -> CalendarCheck:
    return check_calendar(at, DisconnectionCalendar(), "Asia/Kolkata")


def gap(**changes: object) -> EnforcementGap | None:
    arguments: dict[str, object] = {
        "balance_paise": Paise(-500),
        "emergency_credit": EXHAUSTED,
        "relay": RelayState.CONNECTED,
        "protected": False,
        "kill_switch_engaged": False,
        "calendar": calendar(),
        "meter_online": True,
        "last_disconnect_command": None,
    }
    arguments.update(changes)
    return enforcement_gap_reason(**arguments)  # type: ignore[arg-type]


def test_not_in_the_gap() -> None:
    assert gap(relay=RelayState.DISCONNECTED) is None
    assert gap(emergency_credit=EmergencyCreditState(), balance_paise=Paise(100)) is None
    in_credit = advance_emergency_credit(EmergencyCreditState(), balance_paise=Paise(-5), now_utc=T0, config=CONFIG)
    assert gap(emergency_credit=in_credit.state) is None


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"protected": True}, R.PROTECTED),
        ({"kill_switch_engaged": True}, R.KILL_SWITCH),
        ({"calendar": calendar(EVENING)}, R.BLOCKED_WINDOW),
        ({"meter_online": False}, R.METER_OFFLINE),
        ({"last_disconnect_command": RelayCommandStatus.FAILED}, R.COMMAND_FAILED),
        ({"last_disconnect_command": RelayCommandStatus.EXPIRED}, R.COMMAND_FAILED),
        ({"last_disconnect_command": RelayCommandStatus.QUEUED}, R.COMMAND_PENDING),
        ({"last_disconnect_command": RelayCommandStatus.SENT}, R.COMMAND_PENDING),
        ({"last_disconnect_command": RelayCommandStatus.CONFIRMED}, R.RELAY_STATE_MISMATCH),
        ({}, R.NOT_ATTEMPTED),
        ({"calendar": None}, R.NOT_ATTEMPTED),
        ({"relay": RelayState.UNKNOWN, "meter_online": False}, R.METER_OFFLINE),
    ],
)
def test_each_reason(changes: dict[str, object], reason: EnforcementGapReason) -> None:
    result = gap(**changes)
    assert result is not None and result.reason is reason and result.all_reasons == (reason,)


def test_primary_reason_and_all_contributing() -> None:
    result = gap(
        protected=True, calendar=calendar(EVENING), meter_online=False, last_disconnect_command=RelayCommandStatus.SENT
    )
    assert result is not None and result.reason is R.PROTECTED
    assert result.all_reasons == (R.PROTECTED, R.BLOCKED_WINDOW, R.METER_OFFLINE, R.COMMAND_PENDING)
    record = result.to_dict()
    assert record["reason"] == "protected" and cast(Any, record)["detail"]["balance"] == "-₹5.00"


def test_rules_state_error_with_negative_balance_is_in_the_gap() -> None:
    error = advance_emergency_credit(
        EXHAUSTED, balance_paise=Paise(-500), now_utc=T0 - timedelta(days=10), config=CONFIG
    ).state
    result = gap(emergency_credit=error)
    assert result is not None and result.reason is R.RULES_STATE_ERROR
    assert gap(emergency_credit=error, balance_paise=Paise(1)) is None


def test_bad_arguments() -> None:
    with pytest.raises(InvalidFactsError):
        gap(relay="connected")
    with pytest.raises(InvalidFactsError):
        gap(last_disconnect_command="failed")
    with pytest.raises(InvalidFactsError):
        gap(balance_paise=-5.0)
