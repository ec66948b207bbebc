"""xDLMS failure paths: malformed APDUs raise DecodeError (with the offset), unencodable fields raise
EncodeError; nothing else escapes."""

from __future__ import annotations

import pytest

from openprepaid.cosem.errors import DecodeError, EncodeError
from openprepaid.cosem.obis import OBIS
from openprepaid.cosem.xdlms import (
    ActionRequestNormal,
    ActionResponseWithOptionalData,
    ConfirmedService,
    ConfirmedServiceError,
    CosemAttributeDescriptor,
    CosemMethodDescriptor,
    DataAccessResult,
    DataNotification,
    ExceptionResponse,
    ExceptionServiceError,
    GetRequestNext,
    GetRequestNormal,
    GetResponseNormal,
    GetResponseWithDatablock,
    SelectiveAccess,
    ServiceErrorKind,
    SetRequestNormal,
    SetRequestWithDatablock,
    SetResponseNormal,
    StateError,
    decode_xdlms_apdu,
    invoke_id_and_priority,
    long_invoke_id_and_priority,
)

CLOCK = CosemAttributeDescriptor(8, OBIS(0, 0, 1, 0, 0), 2)


def h(text: str) -> bytes:
    return bytes.fromhex(text.replace(" ", ""))


@pytest.mark.parametrize(
    ("octets", "why"),
    [
        ("", "empty"),
        ("c0", "choice missing"),
        ("c009 c1", "GET-Request choice 9"),
        ("c400 c1", "GET-Response choice 0"),
        ("c108 c1", "SET-Request choice 8"),
        ("c506 c1", "SET-Response choice 6"),
        ("c307 c1", "ACTION-Request choice 7"),
        ("c705 c1", "ACTION-Response choice 5"),
        ("c8 01", "glo-get-request belongs to the security layer"),
        ("60 00", "AARQ belongs to the ACSE"),
        ("01 02", "Data is not an APDU"),
        ("c0 01 c1 0008 0000010000", "descriptor truncated"),
        ("c0 01 c1 0008 0000010000ff 02", "access-selection flag missing"),
        ("c0 01 c1 0008 0000010000ff 02 02", "OPTIONAL flag 2"),
        ("c0 01 c1 0008 0000010000ff 02 01 01", "access-parameters missing"),
        ("c0 01 c1 0008 0000010000ff 02 00 00", "trailing octet"),
        ("c0 02 c1 000000", "block-number truncated"),
        ("c0 03 c1 05 0008 0000010000ff 02 00", "list count beyond the octets"),
        ("c4 01 c1", "result missing"),
        ("c4 01 c1 02 00", "Get-Data-Result choice 2"),
        ("c4 01 c1 00", "data missing"),
        ("c4 01 c1 00 12 00", "data truncated"),
        ("c4 01 c1 00 12 0000 00", "trailing octet after data"),
        ("c4 01 c1 01", "data-access-result missing"),
        ("c4 01 c1 01 01 00", "trailing octet after result"),
        ("c4 02 c1 00 00000001 02 00", "DataBlock-G choice 2"),
        ("c4 02 c1 00 00000001 00 05 0102", "raw-data shorter than its length"),
        ("c4 03 c1 02 00 1100", "second result missing"),
        ("c1 01 c1 0008 0000010000ff 02 00", "SET value missing"),
        ("c1 03 c1 01 00000001", "DataBlock-SA raw-data missing"),
        ("c1 04 c1 01 0008 0000010000ff 02 00 02 1100", "value list count beyond the octets"),
        ("c3 01 c1 0046 0000600300ff 01 03", "parameters flag 3"),
        ("c7 01 c1 00 01 00", "return data missing"),
        ("c7 03 c1 01 00 01 00 1100 00", "trailing octet after the list"),
        ("0f 00000001", "date-time missing"),
        ("0f 00000001 05 0102030405 1100", "date-time of 5 octets"),
        ("0f 00000001 0c 07e40d01ff00030000ff8800 1100", "date-time month 13"),
        ("0f 00000001 00", "notification body missing"),
        ("c2 01 00 0008 0000010000ff 02 1100", "time present but empty"),
        ("d8 03 01", "state-error 3"),
        ("d8 01 07", "service-error 7"),
        ("d8 01 06 0001", "invocation counter truncated"),
        ("d8 01 01 00", "trailing octet"),
        ("0e 14 06 01", "confirmed service 20"),
        ("0e 01 0b 01", "service-error choice 11"),
        ("0e 01 06", "value missing"),
    ],
)
def test_malformed_apdus(octets: str, why: str) -> None:
    with pytest.raises(DecodeError) as caught:
        decode_xdlms_apdu(h(octets))
    assert caught.value.offset is not None, why


def test_class_decoders_check_tag_and_choice() -> None:
    with pytest.raises(DecodeError):
        GetRequestNext.decode(h("c0 01 c1 00000001"))
    with pytest.raises(DecodeError):
        GetResponseNormal.decode(h("c5 01 c1 00"))
    with pytest.raises(DecodeError):
        DataNotification.decode(h("c4 01 c1 01 01"))


def test_unknown_result_codes_are_kept() -> None:
    apdu = decode_xdlms_apdu(h("c5 01 c1 7f"))
    assert isinstance(apdu, SetResponseNormal)
    assert apdu.result == 127
    assert apdu.result.name == "CODE_127"
    assert apdu.encode() == h("c5 01 c1 7f")


@pytest.mark.parametrize(
    "build",
    [
        lambda: GetRequestNext(block_number=-1).encode(),
        lambda: GetRequestNext(block_number=2**32).encode(),
        lambda: GetRequestNormal(attribute=CLOCK, invoke_id_and_priority=256).encode(),
        lambda: GetRequestNormal(attribute=CosemAttributeDescriptor(70000, OBIS(0, 0, 1, 0, 0), 2)).encode(),
        lambda: GetRequestNormal(attribute=CosemAttributeDescriptor(8, OBIS(0, 0, 1, 0, 0), 200)).encode(),
        lambda: GetRequestNormal(attribute=CLOCK, access=SelectiveAccess(256, b"\x00")).encode(),
        lambda: GetRequestNormal(attribute=CLOCK, access=SelectiveAccess(1, b"")).encode(),
        lambda: GetResponseNormal(result=b"").encode(),
        lambda: GetResponseNormal(result="text").encode(),  # type: ignore[arg-type]
        lambda: GetResponseWithDatablock(last_block=True, block_number=1, raw_data="x").encode(),  # type: ignore[arg-type]
        lambda: SetRequestNormal(attribute=CLOCK, value=bytearray(b"\x00")).encode(),  # type: ignore[arg-type]
        lambda: SetRequestWithDatablock(last_block=True, block_number=1, raw_data=[1]).encode(),  # type: ignore[arg-type]
        lambda: SetResponseNormal(result=300).encode(),  # type: ignore[arg-type]
        lambda: ActionRequestNormal(method=CosemMethodDescriptor(-1, OBIS(0, 0, 1, 0, 0), 1)).encode(),
        lambda: ActionResponseWithOptionalData(-1).encode(),  # type: ignore[arg-type]
        lambda: DataNotification(long_invoke_id_and_priority=2**32, body=b"\x00").encode(),
        lambda: DataNotification(long_invoke_id_and_priority=1, body=b"\x00", date_time=b"\x00" * 12).encode(),  # type: ignore[arg-type]
        lambda: ExceptionResponse(
            state_error=StateError.SERVICE_UNKNOWN, service_error=ExceptionServiceError.INVOCATION_COUNTER_ERROR
        ).encode(),
        lambda: ExceptionResponse(
            state_error=StateError.SERVICE_UNKNOWN,
            service_error=ExceptionServiceError.OTHER_REASON,
            invocation_counter=1,
        ).encode(),
        lambda: ConfirmedServiceError(
            service=ConfirmedService.READ, error_kind=ServiceErrorKind.ACCESS, error_value=256
        ).encode(),
        lambda: invoke_id_and_priority(16),
        lambda: long_invoke_id_and_priority(2**24),
    ],
)
def test_unencodable_fields_raise_encode_error(build: object) -> None:
    with pytest.raises(EncodeError):
        build()  # type: ignore[operator]


def test_get_response_with_error_block() -> None:
    apdu = decode_xdlms_apdu(h("c4 02 c1 01 00000003 01 13"))
    assert apdu == GetResponseWithDatablock(
        last_block=True, block_number=3, raw_data=DataAccessResult.DATA_BLOCK_NUMBER_INVALID
    )
