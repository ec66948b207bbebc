"""Emergency credit state machine (domain.md §2): by days, by amount, sticky exhaustion, re-arm, ERROR."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

import pytest

from openprepaid.wallet.money import Paise
from openprepaid.wallet.rules import (
    EmergencyCreditConfig,
    EmergencyCreditState,
    EmergencyPhase,
    ExhaustedBy,
    InvalidConfigError,
    InvalidFactsError,
    advance_emergency_credit,
)
from openprepaid.wallet.rules.credit import TRANSITIONS, EmergencyEffect, EmergencyInput

T0 = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
THREE_DAYS = EmergencyCreditConfig()
BY_AMOUNT = EmergencyCreditConfig(days=None, amount_paise=Paise(10_000))
NONE = EmergencyCreditConfig(days=None, amount_paise=None)

P, In, E = EmergencyPhase, EmergencyInput, EmergencyEffect


def step(
    state: EmergencyCreditState,
    balance: int,
    at: datetime,
    config: EmergencyCreditConfig = THREE_DAYS,
    *,
    rearm: bool = False,
) -> EmergencyCreditState:
    return advance_emergency_credit(state, balance_paise=Paise(balance), now_utc=at, config=config, rearm=rearm).state


def in_credit(started: datetime = T0, config: EmergencyCreditConfig = THREE_DAYS) -> EmergencyCreditState:
    return step(EmergencyCreditState(), -10, started, config)


# The expected table, written out from the module's docstring (not read from the code).
EXPECTED = {
    P.NORMAL: {
        In.ABOVE_START: E.RESET,
        In.REARM: E.START,
        In.WITHIN_CREDIT: E.START,
        In.CREDIT_USED: E.START,
        In.CLOCK_BEHIND: E.FAIL,
    },
    P.EMERGENCY_CREDIT: {
        In.ABOVE_START: E.RESET,
        In.REARM: E.KEEP,
        In.WITHIN_CREDIT: E.KEEP,
        In.CREDIT_USED: E.EXHAUST,
        In.CLOCK_BEHIND: E.FAIL,
    },
    P.EXHAUSTED: {
        In.ABOVE_START: E.RESET,
        In.REARM: E.START,
        In.WITHIN_CREDIT: E.KEEP,
        In.CREDIT_USED: E.KEEP,
        In.CLOCK_BEHIND: E.FAIL,
    },
    P.ERROR: {
        In.ABOVE_START: E.RESET,
        In.REARM: E.START,
        In.WITHIN_CREDIT: E.KEEP,
        In.CREDIT_USED: E.KEEP,
        In.CLOCK_BEHIND: E.KEEP,
    },
}


def test_table_covers_every_phase_and_input() -> None:
    assert set(TRANSITIONS) == set(itertools.product(EmergencyPhase, EmergencyInput))
    assert {pair: TRANSITIONS[pair] for pair in TRANSITIONS} == {
        (phase, symbol): effect for phase, row in EXPECTED.items() for symbol, effect in row.items()
    }


def _state(phase: EmergencyPhase) -> EmergencyCreditState:
    if phase is P.NORMAL:
        return EmergencyCreditState()
    if phase is P.EMERGENCY_CREDIT:
        return in_credit()
    if phase is P.EXHAUSTED:
        return step(in_credit(), -10, T0 + timedelta(days=3))
    return step(in_credit(), -10, T0 - timedelta(hours=1))


# (balance, at, config, rearm) giving each input; CLOCK_BEHIND needs an episode start to be behind,
# so (NORMAL | ERROR, CLOCK_BEHIND) cannot be reached: the table test above covers them.
INPUTS = {
    In.ABOVE_START: (100, T0 + timedelta(hours=1), THREE_DAYS, False),
    In.REARM: (-10, T0 + timedelta(hours=1), THREE_DAYS, True),
    In.WITHIN_CREDIT: (-10, T0 + timedelta(hours=1), THREE_DAYS, False),
    In.CREDIT_USED: (-10, T0 + timedelta(days=4), THREE_DAYS, False),
    In.CLOCK_BEHIND: (-10, T0 - timedelta(days=1), THREE_DAYS, False),
}
NEXT_PHASE = {
    (P.NORMAL, In.ABOVE_START): P.NORMAL,
    (P.NORMAL, In.REARM): P.EMERGENCY_CREDIT,
    (P.NORMAL, In.WITHIN_CREDIT): P.EMERGENCY_CREDIT,
    (P.NORMAL, In.CREDIT_USED): P.EXHAUSTED,
    (P.EMERGENCY_CREDIT, In.ABOVE_START): P.NORMAL,
    (P.EMERGENCY_CREDIT, In.REARM): P.EMERGENCY_CREDIT,
    (P.EMERGENCY_CREDIT, In.WITHIN_CREDIT): P.EMERGENCY_CREDIT,
    (P.EMERGENCY_CREDIT, In.CREDIT_USED): P.EXHAUSTED,
    (P.EMERGENCY_CREDIT, In.CLOCK_BEHIND): P.ERROR,
    (P.EXHAUSTED, In.ABOVE_START): P.NORMAL,
    (P.EXHAUSTED, In.REARM): P.EMERGENCY_CREDIT,
    (P.EXHAUSTED, In.WITHIN_CREDIT): P.EXHAUSTED,
    (P.EXHAUSTED, In.CREDIT_USED): P.EXHAUSTED,
    (P.EXHAUSTED, In.CLOCK_BEHIND): P.ERROR,
    (P.ERROR, In.ABOVE_START): P.NORMAL,
    (P.ERROR, In.REARM): P.EMERGENCY_CREDIT,
    (P.ERROR, In.WITHIN_CREDIT): P.ERROR,
    (P.ERROR, In.CREDIT_USED): P.ERROR,
}


@pytest.mark.parametrize(("phase", "symbol"), sorted(NEXT_PHASE, key=str))
def test_every_reachable_pair(phase: EmergencyPhase, symbol: EmergencyInput) -> None:
    balance, at, config, rearm = INPUTS[symbol]
    state = _state(phase)
    if phase is P.EXHAUSTED and symbol is In.WITHIN_CREDIT:
        state = step(in_credit(config=BY_AMOUNT), -20_000, T0, BY_AMOUNT)  # exhausted by amount ...
        balance, config = -5_000, BY_AMOUNT  # ... then a top-up that leaves the balance below zero
    if phase in (P.NORMAL, P.ERROR) and symbol is In.CREDIT_USED:
        config = NONE  # no episode to expire: only a configuration without credit uses it up at once
    result = advance_emergency_credit(state, balance_paise=Paise(balance), now_utc=at, config=config, rearm=rearm)
    assert result.input is symbol
    assert result.state.phase is NEXT_PHASE[(phase, symbol)]


def test_normal_with_no_credit_at_all_goes_straight_to_exhausted() -> None:
    result = advance_emergency_credit(EmergencyCreditState(), balance_paise=Paise(0), now_utc=T0, config=NONE)
    assert result.input is In.CREDIT_USED and result.effect is E.START
    assert result.state.phase is P.EXHAUSTED and result.state.exhausted_by is ExhaustedBy.NO_EMERGENCY_CREDIT
    assert result.started and result.became_exhausted


def test_by_days_starts_at_zero_and_lasts_exactly_three_days() -> None:
    assert step(EmergencyCreditState(), 1, T0).phase is P.NORMAL
    state = step(EmergencyCreditState(), 0, T0)  # "when the balance goes ≤ 0"
    assert state.phase is P.EMERGENCY_CREDIT
    assert state.expires_at == T0 + timedelta(days=3) and state.floor_paise is None
    assert step(state, -90_000, T0 + timedelta(days=3) - timedelta(seconds=1)) == state
    exhausted = step(state, -90_000, T0 + timedelta(days=3))
    assert exhausted.phase is P.EXHAUSTED and exhausted.exhausted_by is ExhaustedBy.DAYS
    assert exhausted.exhausted_at == T0 + timedelta(days=3) and exhausted.started_at == T0


def test_by_amount_counts_from_the_balance_at_the_start() -> None:
    state = step(EmergencyCreditState(), -50, T0, BY_AMOUNT)
    assert state.floor_paise == -10_050 and state.expires_at is None
    assert step(state, -10_049, T0 + timedelta(days=30), BY_AMOUNT).phase is P.EMERGENCY_CREDIT
    exhausted = step(state, -10_050, T0 + timedelta(days=30), BY_AMOUNT)
    assert exhausted.phase is P.EXHAUSTED and exhausted.exhausted_by is ExhaustedBy.AMOUNT


def test_days_and_amount_whichever_comes_first() -> None:
    both = EmergencyCreditConfig(days=3, amount_paise=Paise(10_000))
    state = step(EmergencyCreditState(), -1, T0, both)
    assert step(state, -20_000, T0 + timedelta(hours=5), both).exhausted_by is ExhaustedBy.AMOUNT
    assert step(state, -2_000, T0 + timedelta(days=3), both).exhausted_by is ExhaustedBy.DAYS


def test_configurable_start_threshold() -> None:
    config = EmergencyCreditConfig(starts_at_or_below_paise=Paise(5_000))
    assert step(EmergencyCreditState(), 5_001, T0, config).phase is P.NORMAL
    assert step(EmergencyCreditState(), 5_000, T0, config).phase is P.EMERGENCY_CREDIT


def test_exhaustion_is_sticky_until_the_balance_is_positive() -> None:
    exhausted = step(in_credit(), -5_000, T0 + timedelta(days=3))
    assert step(exhausted, -100, T0 + timedelta(days=3, hours=1)) == exhausted  # partial top-up
    assert step(exhausted, 1, T0 + timedelta(days=3, hours=2)) == EmergencyCreditState()


def test_recharge_above_zero_re_arms_a_fresh_episode() -> None:
    state = step(in_credit(), 500, T0 + timedelta(days=2))
    assert state.phase is P.NORMAL
    again = step(state, -1, T0 + timedelta(days=10))
    assert again.started_at == T0 + timedelta(days=10) and again.expires_at == T0 + timedelta(days=13)


def test_rearm_from_exhausted_starts_a_new_episode_but_not_from_credit() -> None:
    exhausted = step(in_credit(), -5_000, T0 + timedelta(days=3))
    rearmed = step(exhausted, -2_500, T0 + timedelta(days=4), rearm=True)
    assert rearmed.phase is P.EMERGENCY_CREDIT and rearmed.started_at == T0 + timedelta(days=4)
    assert step(rearmed, -2_500, T0 + timedelta(days=5), rearm=True) == rearmed  # expiry does not move


def test_configuration_change_applies_from_the_next_episode() -> None:
    state = in_credit()
    longer = EmergencyCreditConfig(days=7)
    assert step(state, -10, T0 + timedelta(days=3), longer).phase is P.EXHAUSTED


def test_clock_behind_episode_is_an_error_left_by_a_positive_balance() -> None:
    result = advance_emergency_credit(
        in_credit(), balance_paise=Paise(-10), now_utc=T0 - timedelta(minutes=1), config=THREE_DAYS
    )
    assert (
        result.state.phase is P.ERROR and result.state.error is not None and "before the episode" in result.state.error
    )
    assert step(result.state, -10, T0 + timedelta(days=5)).phase is P.ERROR
    assert step(result.state, 10, T0 + timedelta(days=5)).phase is P.NORMAL


def test_state_round_trip() -> None:
    for phase in EmergencyPhase:
        state = _state(phase)
        assert EmergencyCreditState.from_dict(state.to_dict()) == state


@pytest.mark.parametrize(
    "data",
    [
        {},
        {"phase": "sleeping"},
        {"phase": "emergency_credit"},
        {"phase": "emergency_credit", "started_at": "yesterday", "started_balance_paise": 0},
        {"phase": "emergency_credit", "started_at": "2026-03-02T10:00:00", "started_balance_paise": 0},
        {"phase": "emergency_credit", "started_at": "2026-03-02T10:00:00+00:00", "started_balance_paise": 1.5},
        {"phase": "normal", "expires_at": "2026-03-02T10:00:00+00:00"},
        {"phase": "exhausted", "started_at": "2026-03-02T10:00:00+00:00", "started_balance_paise": 0},
        {"phase": "error"},
        {"phase": "normal", "error": "x"},
        {"phase": 3},
    ],
)
def test_bad_stored_state(data: dict[str, object]) -> None:
    with pytest.raises(InvalidFactsError):
        EmergencyCreditState.from_dict(data)  # type: ignore[arg-type]


def test_bad_arguments() -> None:
    with pytest.raises(InvalidFactsError, match="naive"):
        step(EmergencyCreditState(), 0, datetime(2026, 3, 2))
    with pytest.raises(InvalidFactsError, match="balance_paise"):
        step(EmergencyCreditState(), 0.0, T0)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("settings", "match"),
    [
        ({"days": -1}, "days"),
        ({"days": 400}, "days"),
        ({"days": 1.5}, "days"),
        ({"amount_paise": -1}, "amount_paise"),
        ({"starts_at_or_below_paise": 0.0}, "starts_at_or_below_paise"),
        ({"starts_at_or_below_paise": True}, "starts_at_or_below_paise"),
    ],
)
def test_invalid_emergency_credit_configuration(settings: dict[str, object], match: str) -> None:
    with pytest.raises(InvalidConfigError, match=match):
        EmergencyCreditConfig(**settings)  # type: ignore[arg-type]
