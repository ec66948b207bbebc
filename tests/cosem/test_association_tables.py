"""Every (state, input) pair of both association state machines: listed pairs move, all others fail."""

from __future__ import annotations

import itertools

import pytest

from openprepaid.cosem.client_association import CLIENT_TRANSITIONS, ClientInput, ClientState, next_client_state
from openprepaid.cosem.errors import ProtocolError
from openprepaid.cosem.server_association import SERVER_TRANSITIONS, ServerInput, ServerState, next_server_state


@pytest.mark.parametrize(("state", "event"), list(itertools.product(ClientState, ClientInput)))
def test_client_table(state, event):
    if (state, event) in CLIENT_TRANSITIONS:
        assert next_client_state(state, event) is CLIENT_TRANSITIONS[(state, event)]
    else:
        with pytest.raises(ProtocolError, match="not allowed"):
            next_client_state(state, event)


@pytest.mark.parametrize(("state", "event"), list(itertools.product(ServerState, ServerInput)))
def test_server_table(state, event):
    if (state, event) in SERVER_TRANSITIONS:
        assert next_server_state(state, event) is SERVER_TRANSITIONS[(state, event)]
    else:
        with pytest.raises(ProtocolError, match="not allowed"):
            next_server_state(state, event)


def test_error_states_are_dead_ends():
    assert not [pair for pair in CLIENT_TRANSITIONS if pair[0] is ClientState.ERROR]
    assert not [pair for pair in SERVER_TRANSITIONS if pair[0] is ServerState.ERROR]


def test_no_request_without_an_association():
    for state in (ClientState.IDLE, ClientState.AWAITING_AARE, ClientState.AWAITING_HLS, ClientState.RELEASED):
        assert (state, ClientInput.REQUEST) not in CLIENT_TRANSITIONS
    for state in (ServerState.IDLE, ServerState.AWAITING_HLS):
        assert (state, ServerInput.REQUEST) not in SERVER_TRANSITIONS
