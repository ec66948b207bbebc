"""Block transfer (IEC 62056-5-3 9.3.7/9.3.8): the server splits, the client reassembles, both sans-IO."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from openprepaid.cosem.axdr import ArrayOf, DataTag, StructureOf, decode_data, encode_as, encode_data
from openprepaid.cosem.errors import EncodeError, ProtocolError
from openprepaid.cosem.obis import OBIS
from openprepaid.cosem.xdlms import (
    CosemAttributeDescriptor,
    DataAccessResult,
    GetBlockAssembler,
    GetBlockSender,
    GetRequestNext,
    GetResponseNormal,
    GetResponseWithDatablock,
    GetResponseWithList,
    SetRequestNormal,
    SetRequestWithDatablock,
    SetRequestWithFirstDatablock,
    decode_xdlms_apdu,
    split_get_response,
    split_set_request,
)

PROFILE = ArrayOf(StructureOf((DataTag.OCTET_STRING, DataTag.DOUBLE_LONG_UNSIGNED, DataTag.LONG_UNSIGNED)))
ROWS = [(bytes(12), n, 230) for n in range(96)]
RESULT = encode_as(PROFILE, ROWS)
BUFFER = CosemAttributeDescriptor(7, OBIS(1, 0, 99, 1, 0), 2)


def _transfer(result: bytes, max_pdu_size: int) -> bytes:
    blocks = split_get_response(result, max_pdu_size=max_pdu_size)
    client = GetBlockAssembler()
    if isinstance(blocks[0], GetResponseNormal):
        assert client.receive(decode_xdlms_apdu(blocks[0].encode())) is None  # type: ignore[arg-type]
    else:
        sender = GetBlockSender(blocks)  # type: ignore[arg-type]
        response = sender.first()
        while True:
            wire = response.encode()
            assert len(wire) <= max_pdu_size
            request = client.receive(decode_xdlms_apdu(wire))  # type: ignore[arg-type]
            if request is None:
                break
            response = sender.next(decode_xdlms_apdu(request.encode()))  # type: ignore[arg-type]
        assert sender.finished
    assert client.done
    assert isinstance(client.result, bytes)
    return client.result


@pytest.mark.parametrize("max_pdu_size", [64, 127, 128, 129, 130, 200, 256, 512, 1024, 65535])
def test_profile_survives_block_transfer(max_pdu_size: int) -> None:
    assert _transfer(RESULT, max_pdu_size) == RESULT
    assert decode_data(_transfer(RESULT, max_pdu_size)) == ROWS


def test_small_result_is_one_normal_response() -> None:
    blocks = split_get_response(b"\x12\x00\xe6", max_pdu_size=7)
    assert blocks == [GetResponseNormal(result=b"\x12\x00\xe6")]
    result = encode_data(bytes(28))  # 30 octets: 3 blocks of 10 at a max PDU of 20 (9 octets of header)
    blocks = split_get_response(result, max_pdu_size=20)
    assert [type(block) for block in blocks] == [GetResponseWithDatablock] * 3
    assert [len(block.encode()) for block in blocks] == [20, 20, 20]
    assert b"".join(block.raw_data for block in blocks) == result  # type: ignore[misc]


@given(st.binary(max_size=3000).map(encode_data), st.integers(11, 700))
@settings(max_examples=60, deadline=None)
def test_any_result_any_size(result: bytes, max_pdu_size: int) -> None:
    blocks = split_get_response(result, max_pdu_size=max_pdu_size)
    assert all(len(block.encode()) <= max_pdu_size for block in blocks)
    assert [block.block_number for block in blocks if isinstance(block, GetResponseWithDatablock)] in (
        [],
        list(range(1, len(blocks) + 1)),
    )
    assert _transfer(result, max_pdu_size) == result


def test_pdu_too_small_for_any_block() -> None:
    with pytest.raises(EncodeError):
        split_get_response(bytes(100), max_pdu_size=9)


def _block(number: int, data: bytes = b"\x01", *, last: bool = False, iid: int = 0xC1) -> GetResponseWithDatablock:
    return GetResponseWithDatablock(last_block=last, block_number=number, raw_data=data, invoke_id_and_priority=iid)


def test_assembler_asks_for_the_next_block_with_its_invoke_id() -> None:
    client = GetBlockAssembler(invoke_id_and_priority=0xC5)
    assert client.receive(_block(1, iid=0xC5)) == GetRequestNext(block_number=1, invoke_id_and_priority=0xC5)
    assert client.receive(_block(2, b"\x02", iid=0xC5, last=True)) is None
    assert client.result == b"\x01\x02"


def test_assembler_faults() -> None:
    client = GetBlockAssembler()
    with pytest.raises(ProtocolError, match="block 2"):
        client.receive(_block(2))
    with pytest.raises(ProtocolError, match="invoke-id"):
        GetBlockAssembler().receive(_block(1, iid=0xC2))
    client = GetBlockAssembler()
    client.receive(_block(1))
    with pytest.raises(ProtocolError, match="middle"):
        client.receive(GetResponseNormal(result=b"\x00"))
    client = GetBlockAssembler(max_result_size=3)
    client.receive(_block(1, b"\x01\x02"))
    with pytest.raises(ProtocolError, match="exceeds"):
        client.receive(_block(2, b"\x03\x04"))
    done = GetBlockAssembler()
    done.receive(GetResponseNormal(result=b"\x00"))
    with pytest.raises(ProtocolError, match="complete"):
        done.receive(GetResponseNormal(result=b"\x00"))


def test_assembler_reports_errors_and_lists() -> None:
    client = GetBlockAssembler()
    client.receive(_block(1))
    assert (
        client.receive(
            _block(2, last=True).__class__(last_block=True, block_number=2, raw_data=DataAccessResult.LONG_GET_ABORTED)
        )
        is None
    )
    assert client.done
    assert client.result == DataAccessResult.LONG_GET_ABORTED
    listed = GetBlockAssembler()
    listed.receive(GetResponseWithList(results=(b"\x00", DataAccessResult.OBJECT_UNDEFINED)))
    assert listed.result == (b"\x00", DataAccessResult.OBJECT_UNDEFINED)


def test_sender_answers_out_of_order_requests_with_an_error_block() -> None:
    blocks = split_get_response(RESULT, max_pdu_size=256)
    sender = GetBlockSender(blocks)  # type: ignore[arg-type]
    sender.first()
    with pytest.raises(ProtocolError):
        sender.first()
    answer = sender.next(GetRequestNext(block_number=5))
    assert answer.raw_data == DataAccessResult.DATA_BLOCK_NUMBER_INVALID
    assert answer.last_block
    assert sender.finished
    with pytest.raises(ProtocolError):
        GetBlockSender([])


@pytest.mark.parametrize("max_pdu_size", [40, 100, 500])
def test_long_set_is_split_and_joins_back(max_pdu_size: int) -> None:
    blocks = split_set_request(BUFFER, RESULT, max_pdu_size=max_pdu_size)
    assert isinstance(blocks[0], SetRequestWithFirstDatablock)
    assert all(isinstance(block, SetRequestWithDatablock) for block in blocks[1:])
    assert all(len(block.encode()) <= max_pdu_size for block in blocks)
    assert [block.block_number for block in blocks] == list(range(1, len(blocks) + 1))  # type: ignore[union-attr]
    assert [block.last_block for block in blocks] == [False] * (len(blocks) - 1) + [True]  # type: ignore[union-attr]
    assert b"".join(block.raw_data for block in blocks) == RESULT  # type: ignore[union-attr]
    assert all(decode_xdlms_apdu(block.encode()) == block for block in blocks)


def test_short_set_is_one_normal_request() -> None:
    assert split_set_request(BUFFER, b"\x11\x01", max_pdu_size=100) == [
        SetRequestNormal(attribute=BUFFER, value=b"\x11\x01")
    ]
