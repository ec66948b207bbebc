"""Byte layouts of the xDLMS APDUs for which no published capture was found, derived field by field
from the Green Book 9.5 / IEC 62056-5-3 ASN.1 with A-XDR rules (OPTIONAL = presence octet, CHOICE =
tag octet, SEQUENCE OF = length then items, Unsigned32 big-endian). The same APDUs are checked
against gurux-dlms out of process in tests/interop/test_codec_interop.py.
"""

from __future__ import annotations

import pytest

from openprepaid.cosem.date_time import CosemDateTime
from openprepaid.cosem.obis import OBIS
from openprepaid.cosem.xdlms import (
    ActionRequestNextPblock,
    ActionRequestWithFirstPblock,
    ActionRequestWithList,
    ActionRequestWithListAndFirstPblock,
    ActionRequestWithPblock,
    ActionResponseNextPblock,
    ActionResponseWithList,
    ActionResponseWithOptionalData,
    ActionResponseWithPblock,
    ActionResult,
    ConfirmedService,
    ConfirmedServiceError,
    CosemAttributeDescriptor,
    CosemAttributeDescriptorWithSelection,
    CosemMethodDescriptor,
    DataAccessResult,
    DataNotification,
    EventNotificationRequest,
    ExceptionResponse,
    ExceptionServiceError,
    GetRequestWithList,
    GetResponseWithDatablock,
    GetResponseWithList,
    InitiateError,
    SelectiveAccess,
    ServiceErrorKind,
    SetRequestWithDatablock,
    SetRequestWithFirstDatablock,
    SetRequestWithList,
    SetRequestWithListAndFirstDatablock,
    SetResponseDatablock,
    SetResponseLastDatablock,
    SetResponseLastDatablockWithList,
    SetResponseWithList,
    StateError,
    decode_xdlms_apdu,
    invoke_id_and_priority,
    long_invoke_id_and_priority,
)

CLOCK = CosemAttributeDescriptor(8, OBIS(0, 0, 1, 0, 0), 2)
ENERGY = CosemAttributeDescriptor(3, OBIS(1, 0, 1, 8, 0), 2)
DISCONNECT = CosemMethodDescriptor(70, OBIS(0, 0, 96, 3, 10), 1)
CLOCK_OCTETS = "0008 0000010000ff 02"
ENERGY_OCTETS = "0003 0100010800ff 02"
DISCONNECT_OCTETS = "0046 00006003 0aff 01"
NOON = CosemDateTime(2024, 1, 15, 12, 0, 0, 0, -330, None, 1)


def h(text: str) -> bytes:
    return bytes.fromhex(text.replace(" ", ""))


CASES = [
    (
        GetRequestWithList(
            attributes=(
                CosemAttributeDescriptorWithSelection(CLOCK),
                CosemAttributeDescriptorWithSelection(ENERGY, SelectiveAccess(2, h("0200"))),
            )
        ),
        f"c0 03 c1 02 {CLOCK_OCTETS} 00 {ENERGY_OCTETS} 01 02 0200",
    ),
    (
        GetResponseWithDatablock(last_block=False, block_number=7, raw_data=h("aabbcc")),
        "c4 02 c1 00 00000007 00 03 aabbcc",
    ),
    (
        GetResponseWithDatablock(last_block=True, block_number=2, raw_data=DataAccessResult.LONG_GET_ABORTED),
        "c4 02 c1 01 00000002 01 0f",
    ),
    (
        GetResponseWithList(results=(h("1200e6"), DataAccessResult.OBJECT_UNDEFINED, h("0100"))),
        "c4 03 c1 03 00 1200e6 01 04 00 0100",
    ),
    (
        SetRequestWithFirstDatablock(attribute=CLOCK, last_block=False, block_number=1, raw_data=h("0102")),
        f"c1 02 c1 {CLOCK_OCTETS} 00 00 00000001 02 0102",
    ),
    (
        SetRequestWithDatablock(last_block=True, block_number=2, raw_data=h("03")),
        "c1 03 c1 01 00000002 01 03",
    ),
    (
        SetRequestWithList(
            attributes=(CosemAttributeDescriptorWithSelection(CLOCK), CosemAttributeDescriptorWithSelection(ENERGY)),
            values=(h("0900"), h("0600000001")),
        ),
        f"c1 04 c1 02 {CLOCK_OCTETS} 00 {ENERGY_OCTETS} 00 02 0900 0600000001",
    ),
    (
        SetRequestWithListAndFirstDatablock(
            attributes=(CosemAttributeDescriptorWithSelection(CLOCK),),
            last_block=False,
            block_number=1,
            raw_data=h("01"),
        ),
        f"c1 05 c1 01 {CLOCK_OCTETS} 00 00 00000001 01 01",
    ),
    (SetResponseDatablock(block_number=1), "c5 02 c1 00000001"),
    (SetResponseLastDatablock(result=DataAccessResult.SUCCESS, block_number=2), "c5 03 c1 00 00000002"),
    (
        SetResponseLastDatablockWithList(
            results=(DataAccessResult.SUCCESS, DataAccessResult.TYPE_UNMATCHED), block_number=3
        ),
        "c5 04 c1 02 00 0c 00000003",
    ),
    (SetResponseWithList(results=(DataAccessResult.READ_WRITE_DENIED,)), "c5 05 c1 01 03"),
    (ActionRequestNextPblock(block_number=4), "c3 02 c1 00000004"),
    (
        ActionRequestWithList(methods=(DISCONNECT, DISCONNECT), parameters=(h("0f00"), h("0f00"))),
        f"c3 03 c1 02 {DISCONNECT_OCTETS} {DISCONNECT_OCTETS} 02 0f00 0f00",
    ),
    (
        ActionRequestWithFirstPblock(method=DISCONNECT, last_block=False, block_number=1, raw_data=h("09")),
        f"c3 04 c1 {DISCONNECT_OCTETS} 00 00000001 01 09",
    ),
    (
        ActionRequestWithListAndFirstPblock(methods=(DISCONNECT,), last_block=True, block_number=1, raw_data=h("")),
        f"c3 05 c1 01 {DISCONNECT_OCTETS} 01 00000001 00",
    ),
    (ActionRequestWithPblock(last_block=True, block_number=2, raw_data=h("00")), "c3 06 c1 01 00000002 01 00"),
    (ActionResponseWithPblock(last_block=False, block_number=1, raw_data=h("0102")), "c7 02 c1 00 00000001 02 0102"),
    (
        ActionResponseWithList(
            results=(
                ActionResponseWithOptionalData(ActionResult.SUCCESS),
                ActionResponseWithOptionalData(ActionResult.OTHER_REASON, h("1100")),
            )
        ),
        "c7 03 c1 02 00 00 fa 01 00 1100",
    ),
    (ActionResponseNextPblock(block_number=9), "c7 04 c1 00000009"),
    (
        DataNotification(
            long_invoke_id_and_priority=long_invoke_id_and_priority(5, high_priority=True),
            date_time=NOON,
            body=h("0100"),
        ),
        f"0f 80000005 0c {NOON.to_bytes().hex()} 0100",
    ),
    (
        EventNotificationRequest(attribute=CLOCK, value=h("090c" + NOON.to_bytes().hex())),
        f"c2 00 {CLOCK_OCTETS} 090c{NOON.to_bytes().hex()}",
    ),
    (
        EventNotificationRequest(time=NOON, attribute=CLOCK, value=h("1100")),
        f"c2 01 0c {NOON.to_bytes().hex()} {CLOCK_OCTETS} 1100",
    ),
    (
        ExceptionResponse(state_error=StateError.SERVICE_NOT_ALLOWED, service_error=ExceptionServiceError.OTHER_REASON),
        "d8 01 03",
    ),
    (
        ExceptionResponse(
            state_error=StateError.SERVICE_UNKNOWN,
            service_error=ExceptionServiceError.INVOCATION_COUNTER_ERROR,
            invocation_counter=0x01020304,
        ),
        "d8 02 06 01020304",
    ),
    (
        ConfirmedServiceError(
            service=ConfirmedService.INITIATE_ERROR,
            error_kind=ServiceErrorKind.INITIATE,
            error_value=InitiateError.DLMS_VERSION_TOO_LOW,
        ),
        "0e 01 06 01",
    ),
]


@pytest.mark.parametrize(("apdu", "octets"), CASES, ids=[type(apdu).__name__ for apdu, _ in CASES])
def test_layouts(apdu: object, octets: str) -> None:
    assert apdu.encode() == h(octets)  # type: ignore[attr-defined]
    assert decode_xdlms_apdu(h(octets)) == apdu
    assert type(apdu).decode(h(octets)) == apdu  # type: ignore[attr-defined]


def test_noon_in_india_octets() -> None:
    assert NOON.to_bytes() == h("07e8 01 0f 01 0c 00 00 00 feb6 ff")


def test_invoke_id_helpers() -> None:
    assert invoke_id_and_priority(1) == 0xC1
    assert invoke_id_and_priority(5, confirmed=False, high_priority=False) == 0x05
    assert long_invoke_id_and_priority(0xABCDEF, confirmed=True, break_on_error=True, self_descriptive=True) == (
        0x70ABCDEF
    )
