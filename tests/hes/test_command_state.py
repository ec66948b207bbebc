"""The command state machine over every (state, event) pair."""

from __future__ import annotations

import pytest

from openprepaid.hes.command_state import (
    ERROR,
    TERMINAL_STATES,
    TRANSITIONS,
    CommandEvent,
    IllegalTransitionError,
    next_state,
)
from openprepaid.store.model import CommandState as S

E = CommandEvent
LEGAL = {
    (S.QUEUED, E.SEND): S.SENT,
    (S.QUEUED, E.EXPIRE): S.EXPIRED,
    (S.QUEUED, E.CANCEL): S.CANCELLED,
    (S.SENT, E.CONFIRM): S.CONFIRMED,
    (S.SENT, E.FAIL): S.FAILED,
    (S.SENT, E.RETRY): S.QUEUED,
    (S.SENT, E.EXPIRE): S.EXPIRED,
}


def test_table_is_complete():
    assert set(TRANSITIONS) == {(state, event) for state in S for event in E}


@pytest.mark.parametrize(("state", "event"), [(state, event) for state in S for event in E])
def test_every_pair(state, event):
    if (state, event) in LEGAL:
        assert next_state(state, event) is LEGAL[(state, event)]
        assert TRANSITIONS[(state, event)] is LEGAL[(state, event)]
    else:
        assert TRANSITIONS[(state, event)] == ERROR
        with pytest.raises(IllegalTransitionError, match=f"{state.value!r} cannot take event {event.value!r}"):
            next_state(state, event)


def test_terminal_states_accept_nothing():
    assert frozenset({S.CONFIRMED, S.FAILED, S.EXPIRED, S.CANCELLED}) == TERMINAL_STATES
    for state in TERMINAL_STATES:
        assert all(TRANSITIONS[(state, event)] == ERROR for event in E)


def test_a_command_in_flight_cannot_be_cancelled():
    with pytest.raises(IllegalTransitionError):
        next_state(S.SENT, E.CANCEL)


def test_only_confirm_reaches_confirmed():
    reaching = {pair for pair, target in TRANSITIONS.items() if target is S.CONFIRMED}
    assert reaching == {(S.SENT, E.CONFIRM)}
