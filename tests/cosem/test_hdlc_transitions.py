"""The HDLC link transition tables, checked over every (state, input) pair of each role.

For each pair the link is driven into the state through its public API, the input is applied, and:
a pair in the table ends in one of the table's next states; a local call without an entry raises
ProtocolError and leaves the link in ERROR; a timeout without an entry changes nothing; a received
frame without an entry changes nothing and is reported as FrameIgnored.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from openprepaid.cosem.errors import ProtocolError
from openprepaid.cosem.hdlc_client import CLIENT_STATES, CLIENT_TRANSITIONS, HdlcClientLink
from openprepaid.cosem.hdlc_frame import LLC_COMMAND, LLC_RESPONSE, FrameKind, HdlcAddress, HdlcFrame
from openprepaid.cosem.hdlc_link import LOCAL_INPUTS, FrameIgnored, HdlcLink, LinkInput, LinkState, TransitionTable
from openprepaid.cosem.hdlc_server import SERVER_STATES, SERVER_TRANSITIONS, HdlcServerLink

CLIENT_ADDRESS = HdlcAddress.client(0x10)
METER = HdlcAddress.server(1)
FAR_FUTURE = 1e9


def from_server(kind: FrameKind, **fields: object) -> bytes:
    return HdlcFrame(kind, CLIENT_ADDRESS, METER, **fields).encode()  # type: ignore[arg-type]


def from_client(kind: FrameKind, **fields: object) -> bytes:
    return HdlcFrame(kind, METER, CLIENT_ADDRESS, **fields).encode()  # type: ignore[arg-type]


def client_in(state: LinkState) -> HdlcClientLink:
    client = HdlcClientLink(0x10, METER)
    if state is not LinkState.DISCONNECTED:
        client.connect(0.0)
    if state in (LinkState.IDLE, LinkState.AWAITING_RESPONSE, LinkState.DISCONNECTING, LinkState.ERROR):
        client.receive_data(from_server(FrameKind.UA), 0.0)
    if state is LinkState.AWAITING_RESPONSE:
        client.send_apdu(b"request", 0.0)
    if state is LinkState.DISCONNECTING:
        client.disconnect(0.0)
    if state is LinkState.ERROR:
        client.receive_data(from_server(FrameKind.FRMR, info=b"\x00\x00\x08"), 0.0)
    assert client.state is state
    client.data_to_send()
    while client.next_event() is not None:
        pass
    return client


def server_in(state: LinkState) -> HdlcServerLink:
    server = HdlcServerLink(METER)
    if state is LinkState.ERROR:
        with pytest.raises(ProtocolError):
            server.connect(0.0)
    if state in (LinkState.IDLE, LinkState.POLLED, LinkState.SENDING, LinkState.FRAME_REJECT):
        server.receive_data(from_client(FrameKind.SNRM), 0.0)
    if state is LinkState.POLLED:
        server.receive_data(from_client(FrameKind.I, info=LLC_COMMAND + b"request"), 0.0)
    if state is LinkState.SENDING:
        server.send_apdu(b"queued answer", 0.0)
    if state is LinkState.FRAME_REJECT:
        server.receive_data(from_client(FrameKind.RR, receive_seq=5), 0.0)
    assert server.state is state
    server.data_to_send()
    while server.next_event() is not None:
        pass
    return server


def apply(link: HdlcLink, link_input: LinkInput, frame_for: Callable[..., bytes], llc: bytes) -> None:
    # Received frames carry sequence numbers that fit the link's counters (private, read only here)
    # so that each pair tests the state's own handling rather than a sequence error.
    vs, vr = link._vs, link._vr
    frames = {
        LinkInput.RECEIVE_SNRM: lambda: frame_for(FrameKind.SNRM),
        LinkInput.RECEIVE_UA: lambda: frame_for(FrameKind.UA),
        LinkInput.RECEIVE_DISC: lambda: frame_for(FrameKind.DISC),
        LinkInput.RECEIVE_DM: lambda: frame_for(FrameKind.DM),
        LinkInput.RECEIVE_FRMR: lambda: frame_for(FrameKind.FRMR, info=b"\x00\x00\x01"),
        LinkInput.RECEIVE_I: lambda: frame_for(FrameKind.I, send_seq=vr, receive_seq=vs, info=llc + b"data"),
        LinkInput.RECEIVE_RR: lambda: frame_for(FrameKind.RR, receive_seq=vs),
        LinkInput.RECEIVE_RNR: lambda: frame_for(FrameKind.RNR, receive_seq=vs),
        LinkInput.RECEIVE_UI: lambda: frame_for(FrameKind.UI, info=llc + b"push"),
    }
    if link_input in frames:
        link.receive_data(frames[link_input](), 1.0)
    elif link_input is LinkInput.CONNECT:
        link.connect(1.0)
    elif link_input is LinkInput.SEND_APDU:
        link.send_apdu(b"apdu", 1.0)
    elif link_input is LinkInput.DISCONNECT:
        link.disconnect(1.0)
    else:
        link.handle_timeout(FAR_FUTURE)


def check_pair(
    link: HdlcLink, state: LinkState, link_input: LinkInput, table: TransitionTable, apply_input: Callable[[], None]
) -> None:
    entry = table.get((state, link_input))
    if entry is None and link_input in LOCAL_INPUTS:
        with pytest.raises(ProtocolError):
            apply_input()
        assert link.state is LinkState.ERROR
        return
    apply_input()
    emitted = []
    while (event := link.next_event()) is not None:
        emitted.append(event)
    if entry is not None:
        assert link.state in entry.next_states, (state, link_input, link.state)
    elif link_input is LinkInput.TIMEOUT:
        assert link.state is state
    else:
        assert link.state is state
        assert any(isinstance(event, FrameIgnored) for event in emitted), emitted


@pytest.mark.parametrize("link_input", list(LinkInput), ids=lambda value: value.name)
@pytest.mark.parametrize("state", CLIENT_STATES, ids=lambda value: value.name)
def test_client_pair(state: LinkState, link_input: LinkInput) -> None:
    client = client_in(state)
    check_pair(
        client, state, link_input, CLIENT_TRANSITIONS, lambda: apply(client, link_input, from_server, LLC_RESPONSE)
    )


@pytest.mark.parametrize("link_input", list(LinkInput), ids=lambda value: value.name)
@pytest.mark.parametrize("state", SERVER_STATES, ids=lambda value: value.name)
def test_server_pair(state: LinkState, link_input: LinkInput) -> None:
    server = server_in(state)
    check_pair(
        server, state, link_input, SERVER_TRANSITIONS, lambda: apply(server, link_input, from_client, LLC_COMMAND)
    )


def test_tables_only_name_states_their_role_reaches_and_error_has_no_way_out() -> None:
    for table, states in ((CLIENT_TRANSITIONS, CLIENT_STATES), (SERVER_TRANSITIONS, SERVER_STATES)):
        for (state, _), entry in table.items():
            assert state in states
            assert entry.next_states <= set(states)
        assert not [pair for pair in table if pair[0] is LinkState.ERROR]


def test_error_is_reachable_in_both_roles_by_misuse() -> None:
    client = HdlcClientLink(0x10, METER)
    with pytest.raises(ProtocolError, match="send_apdu"):
        client.send_apdu(b"too early", 0.0)
    assert client.state is LinkState.ERROR
    with pytest.raises(ProtocolError):
        client.connect(0.0)
