"""Long ACTION results by block transfer (IEC 62056-5-3 9.3.9): ACTION-Response-With-Pblock, one
block per ACTION-Request-Next-Pblock, and the errors of a transfer out of order. Also the server's
answers to next-block requests with no transfer in progress, for GET, SET and ACTION."""

from __future__ import annotations

from dataclasses import replace

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from openprepaid.cosem.association_events import (
    ActionOutcome,
    ActionRequested,
    RequestRefused,
    ServerSettings,
)
from openprepaid.cosem.axdr import encode_data
from openprepaid.cosem.client_association import ClientAssociation, ClientState
from openprepaid.cosem.errors import EncodeError, ProtocolError
from openprepaid.cosem.security import AUTHENTICATED_ENCRYPTED
from openprepaid.cosem.security_apdu import Protection, envelope_overhead
from openprepaid.cosem.server_association import ServerAssociation, ServerState
from openprepaid.cosem.server_transfers import ServerTransfers
from openprepaid.cosem.xdlms import decode_xdlms_apdu
from openprepaid.cosem.xdlms_action import (
    ActionRequestNextPblock,
    ActionRequestNormal,
    ActionResponseNormal,
    ActionResponseWithPblock,
)
from openprepaid.cosem.xdlms_block import ActionBlockSender, split_action_response
from openprepaid.cosem.xdlms_common import ActionResult, DataAccessResult
from openprepaid.cosem.xdlms_get import GetRequestNext, GetRequestNormal, GetResponseWithDatablock
from openprepaid.cosem.xdlms_set import (
    SetRequestWithDatablock,
    SetRequestWithFirstDatablock,
    SetResponseDatablock,
    SetResponseLastDatablock,
)
from tests.cosem.test_association import CLIENTS, CLOCK, DISCONNECT, ENERGY, METER_TITLE, POLICIES, Link, associate


def long_return(size: int) -> bytes:
    """Encoded Data of ``size`` octets or a little more: an octet-string."""
    return encode_data(bytes(range(256)) * (size // 256) + bytes(size % 256))


def test_a_short_result_is_one_normal_response_and_a_long_one_is_numbered_pblocks() -> None:
    short = split_action_response(ActionResult.SUCCESS, b"\x11\x05", max_pdu_size=64, invoke_id_and_priority=0xC1)
    assert [apdu.encode().hex() for apdu in short] == ["c701c1000100" + "1105"]
    data = bytes(range(11))  # 6 + 11 octets do not fit 16
    blocks = split_action_response(ActionResult.SUCCESS, data, max_pdu_size=16, invoke_id_and_priority=0xC2)
    # C7 02 iid | last-block | block-number (4) | raw-data length | raw-data: 7 octets fill 16, 4 are left
    assert [apdu.encode().hex() for apdu in blocks] == [
        "c702c2" + "00" + "00000001" + "07" + "00010203040506",
        "c702c2" + "01" + "00000002" + "04" + "0708090a",
    ]
    assert all(len(apdu.encode()) <= 16 for apdu in blocks)
    assert decode_xdlms_apdu(blocks[0].encode()) == blocks[0]


def test_a_refused_action_cannot_send_long_data() -> None:
    errors = split_action_response(ActionResult.TEMPORARY_FAILURE, None, max_pdu_size=64)
    assert errors == [ActionResponseNormal(result=ActionResult.TEMPORARY_FAILURE)]
    with pytest.raises(EncodeError, match="refused ACTION"):
        split_action_response(ActionResult.OTHER_REASON, long_return(200), max_pdu_size=64)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    size=st.integers(0, 3000),
    client_max_pdu=st.integers(64, 600),
    sap=st.sampled_from([16, 48]),
)
def test_long_action_results_round_trip_within_the_client_pdu_size(size: int, client_max_pdu: int, sap: int) -> None:
    client = ClientAssociation(replace(CLIENTS[sap], max_receive_pdu_size=client_max_pdu))
    link = Link(client, ServerAssociation(ServerSettings(system_title=METER_TITLE, policies=POLICIES)), sap)
    link.exchange(client.associate())
    assert link.meter.client_max_receive_pdu_size == client_max_pdu
    returned = long_return(size)
    start = len(link.wire)
    event = link.exchange(
        client.action(DISCONNECT), lambda e: link.meter.respond_action(ActionResult.SUCCESS, returned)
    )
    assert event == ActionOutcome(event.invoke_id, ActionResult.SUCCESS, returned)  # type: ignore[union-attr]
    replies = link.wire[start + 1 :: 2]  # request, reply, next-pblock, reply ...
    assert all(len(reply) <= client_max_pdu for reply in replies)
    assert len(replies) == len(link.wire[start:]) // 2
    # the meter budgets for the widest envelope it accepts on a ciphered association (general-glo)
    overhead = envelope_overhead(Protection.GENERAL_GLOBAL, AUTHENTICATED_ENCRYPTED) if sap == 48 else 0
    assert (len(replies) == 1) is (6 + len(returned) + overhead <= client_max_pdu)
    assert all(len(reply) > client_max_pdu - overhead - 8 for reply in replies[:-1])  # full blocks, no waste
    assert client.state is ClientState.ASSOCIATED and link.meter.state is ServerState.ASSOCIATED


def _long_action(sap: int = 16, size: int = 1000) -> tuple[Link, bytes]:
    """An association whose meter has sent the first of several pblocks of an ACTION's result."""
    link = associate(sap)
    link.meter.client_max_receive_pdu_size = 128
    link.client.action(DISCONNECT)  # the client side waits; the test plays the wire by hand
    request = ActionRequestNormal(method=DISCONNECT, invoke_id_and_priority=0xC5)
    event = link.meter.receive_apdu(request.encode(), client_sap=sap)
    assert isinstance(event, ActionRequested)
    returned = long_return(size)
    link.meter.respond_action(ActionResult.SUCCESS, returned)
    [first] = link.meter.data_to_send()
    block = decode_xdlms_apdu(first)
    assert isinstance(block, ActionResponseWithPblock) and block.block_number == 1 and not block.last_block
    return link, returned


def test_a_next_pblock_request_out_of_order_aborts_the_long_action() -> None:
    link, _ = _long_action()
    event = link.meter.receive_apdu(
        ActionRequestNextPblock(block_number=5, invoke_id_and_priority=0xC5).encode(), client_sap=16
    )
    assert isinstance(event, RequestRefused) and "out of order" in event.reason
    [reply] = link.meter.data_to_send()
    assert decode_xdlms_apdu(reply) == ActionResponseNormal(
        result=ActionResult.LONG_ACTION_ABORTED, invoke_id_and_priority=0xC5
    )
    # the transfer is over: asking again finds no long ACTION
    event = link.meter.receive_apdu(
        ActionRequestNextPblock(block_number=1, invoke_id_and_priority=0xC5).encode(), client_sap=16
    )
    assert isinstance(event, RequestRefused) and "without a long ACTION" in event.reason
    [reply] = link.meter.data_to_send()
    assert decode_xdlms_apdu(reply) == ActionResponseNormal(
        result=ActionResult.NO_LONG_ACTION_IN_PROGRESS, invoke_id_and_priority=0xC5
    )
    assert link.meter.state is ServerState.ASSOCIATED


def test_the_client_reports_an_aborted_long_action() -> None:
    link = associate(16)
    # the meter aborts after the first block (a peer that lost the transfer): the client's outcome says so
    link.client.action(DISCONNECT)
    iid = link.client._pending.iid  # type: ignore[union-attr]
    first = ActionResponseWithPblock(last_block=False, block_number=1, raw_data=b"\x09\x82", invoke_id_and_priority=iid)
    assert link.client.receive_apdu(first.encode()) is None
    [next_request] = link.client.data_to_send()
    assert decode_xdlms_apdu(next_request) == ActionRequestNextPblock(block_number=1, invoke_id_and_priority=iid)
    aborted = ActionResponseNormal(result=ActionResult.LONG_ACTION_ABORTED, invoke_id_and_priority=iid)
    event = link.client.receive_apdu(aborted.encode())
    assert isinstance(event, ActionOutcome) and event.result is ActionResult.LONG_ACTION_ABORTED
    assert link.client.state is ClientState.ASSOCIATED


@pytest.mark.parametrize("first_number", [0, 2])
def test_a_pblock_with_the_wrong_number_is_a_client_protocol_error(first_number: int) -> None:
    link = associate(16)
    link.client.action(DISCONNECT)
    iid = link.client._pending.iid  # type: ignore[union-attr]
    stray = ActionResponseWithPblock(
        last_block=False, block_number=first_number, raw_data=b"\x00", invoke_id_and_priority=iid
    )
    with pytest.raises(ProtocolError, match=f"action block {first_number}, expected 1"):
        link.client.receive_apdu(stray.encode())
    assert link.client.state is ClientState.ERROR


def test_a_new_request_abandons_the_long_action() -> None:
    link, _ = _long_action()
    get = GetRequestNormal(attribute=ENERGY, invoke_id_and_priority=0xC6)
    assert link.meter.receive_apdu(get.encode(), client_sap=16) is not None
    link.meter.respond_get(DataAccessResult.OBJECT_UNDEFINED)
    link.meter.data_to_send()
    link.meter.receive_apdu(
        ActionRequestNextPblock(block_number=1, invoke_id_and_priority=0xC5).encode(), client_sap=16
    )
    [reply] = link.meter.data_to_send()
    assert decode_xdlms_apdu(reply).result is ActionResult.NO_LONG_ACTION_IN_PROGRESS  # type: ignore[attr-defined]


def test_a_refused_action_with_long_data_stays_pending_for_a_short_answer() -> None:
    link = associate(16)
    link.meter.client_max_receive_pdu_size = 64
    assert isinstance(
        link.meter.receive_apdu(ActionRequestNormal(method=DISCONNECT).encode(), client_sap=16), ActionRequested
    )
    with pytest.raises(EncodeError):
        link.meter.respond_action(ActionResult.OTHER_REASON, long_return(500))
    assert link.meter.state is ServerState.SERVING and link.meter.data_to_send() == []
    link.meter.respond_action(ActionResult.OTHER_REASON)
    [reply] = link.meter.data_to_send()
    assert decode_xdlms_apdu(reply).result is ActionResult.OTHER_REASON  # type: ignore[attr-defined]
    with pytest.raises(ProtocolError, match="no pending"):
        link.meter.respond_action(ActionResult.SUCCESS)


def test_the_block_sender_hands_out_each_block_once_in_order() -> None:
    blocks = split_action_response(ActionResult.SUCCESS, long_return(300), max_pdu_size=64)
    sender = ActionBlockSender([b for b in blocks if isinstance(b, ActionResponseWithPblock)])
    assert sender.first().block_number == 1
    with pytest.raises(ProtocolError, match="already sent"):
        sender.first()
    for number in range(1, sender.count):
        block = sender.next(ActionRequestNextPblock(block_number=number))
        assert isinstance(block, ActionResponseWithPblock) and block.block_number == number + 1
    assert sender.finished
    assert isinstance(sender.next(ActionRequestNextPblock(block_number=sender.count)), ActionResponseNormal)


def test_next_block_requests_without_a_transfer_get_the_standard_answers() -> None:
    link = associate(16)
    refused = link.meter.receive_apdu(
        GetRequestNext(block_number=3, invoke_id_and_priority=0xC7).encode(), client_sap=16
    )
    assert isinstance(refused, RequestRefused)
    [reply] = link.meter.data_to_send()
    assert decode_xdlms_apdu(reply) == GetResponseWithDatablock(
        last_block=True, block_number=4, raw_data=DataAccessResult.NO_LONG_GET_IN_PROGRESS, invoke_id_and_priority=0xC7
    )
    block = SetRequestWithDatablock(last_block=True, block_number=2, raw_data=b"\x00", invoke_id_and_priority=0xC8)
    assert isinstance(link.meter.receive_apdu(block.encode(), client_sap=16), RequestRefused)
    [reply] = link.meter.data_to_send()
    assert decode_xdlms_apdu(reply) == SetResponseLastDatablock(
        result=DataAccessResult.NO_LONG_SET_IN_PROGRESS, block_number=2, invoke_id_and_priority=0xC8
    )
    assert link.meter.state is ServerState.ASSOCIATED


def test_a_long_get_block_out_of_order_ends_the_transfer() -> None:
    link = associate(16)
    link.meter.client_max_receive_pdu_size = 64
    assert link.meter.receive_apdu(GetRequestNormal(attribute=CLOCK).encode(), client_sap=16) is not None
    link.meter.respond_get(long_return(300))
    link.meter.data_to_send()
    event = link.meter.receive_apdu(GetRequestNext(block_number=7).encode(), client_sap=16)
    assert isinstance(event, RequestRefused) and "out of order" in event.reason
    [reply] = link.meter.data_to_send()
    assert decode_xdlms_apdu(reply).raw_data is DataAccessResult.DATA_BLOCK_NUMBER_INVALID  # type: ignore[attr-defined]
    assert isinstance(link.meter.receive_apdu(GetRequestNext(block_number=1).encode(), client_sap=16), RequestRefused)


def test_a_long_set_beyond_the_bound_ends_its_transfer() -> None:
    transfers = ServerTransfers(max_set_value_size=10)
    first = SetRequestWithFirstDatablock(attribute=CLOCK, last_block=False, block_number=1, raw_data=b"x" * 8)
    step = transfers.set_block(first)
    assert step.reply == SetResponseDatablock(block_number=1) and step.refusal is None
    with pytest.raises(ProtocolError, match="exceeds 10"):
        transfers.set_block(SetRequestWithDatablock(last_block=True, block_number=2, raw_data=b"y" * 3))
    late = transfers.set_block(SetRequestWithDatablock(last_block=True, block_number=2, raw_data=b"y"))
    assert late.refusal is not None and "without a long SET" in late.refusal
    assert transfers.set_block(first).reply == SetResponseDatablock(block_number=1)  # a first block starts anew
    step = transfers.set_block(SetRequestWithDatablock(last_block=True, block_number=3, raw_data=b"y"))
    assert step.reply == SetResponseLastDatablock(result=DataAccessResult.DATA_BLOCK_NUMBER_INVALID, block_number=3)
    assert step.refusal is not None and "out of order" in step.refusal
