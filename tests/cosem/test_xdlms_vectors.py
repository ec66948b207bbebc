"""xDLMS APDUs (IEC 62056-5-3) against published captures: decode, then re-encode to the same octets.

Sources:
- [DC] pwitab/dlms-cosem tests/test_xdlms/{test_get,test_set,test_action,test_data_notification,
  test_selective_access}.py: APDUs captured from meters (facts only).
- [GX-ASSOC] https://www.gurux.fi/index.php/node/20546: GET-Request of the current association's
  logical name (class 15, 0.0.40.0.0.255, attribute 1) inside an HDLC frame.
- [GX-SET] https://www.gurux.fi/comment/10430: SET-Request of a single action schedule's execution time
  (class 22, 0.0.15.0.0.255, attribute 4) inside an HDLC frame.
"""

from __future__ import annotations

import pytest

from openprepaid.cosem.axdr import decode_data
from openprepaid.cosem.date_time import ClockStatus, CosemDateTime
from openprepaid.cosem.obis import OBIS
from openprepaid.cosem.xdlms import (
    ActionRequestNormal,
    ActionResponseNormal,
    ActionResult,
    CosemAttributeDescriptor,
    CosemMethodDescriptor,
    DataAccessResult,
    DataNotification,
    EntryDescriptor,
    GetRequestNext,
    GetRequestNormal,
    GetResponseNormal,
    GetResponseWithDatablock,
    RangeDescriptor,
    SetRequestNormal,
    SetResponseNormal,
    decode_xdlms_apdu,
    invoke_id_of,
    is_confirmed,
    is_high_priority,
    long_invoke_id_of,
    profile_access,
)
from tests.cosem.xdlms_vectors import FIRST_BLOCK_HEX, LAST_BLOCK_HEX


def h(text: str) -> bytes:
    return bytes.fromhex(text.replace(" ", ""))


CASES = [
    (
        "c0 01 c1 0001 00002b0100ff 02 00",  # [DC] GET invocation counter (class 1, 0.0.43.1.0.255, attr 2)
        GetRequestNormal(attribute=CosemAttributeDescriptor(1, OBIS(0, 0, 43, 1, 0), 2)),
    ),
    (
        "c0 01 c1 000f 0000280000ff 01 00",  # [GX-ASSOC]
        GetRequestNormal(attribute=CosemAttributeDescriptor(15, OBIS(0, 0, 40, 0, 0), 1)),
    ),
    ("c0 02 c1 00000001", GetRequestNext(block_number=1)),  # [DC]
    ("c4 01 c1 00 06 00001391", GetResponseNormal(result=h("0600001391"))),  # [DC]
    ("c4 01 c1 01 01", GetResponseNormal(result=DataAccessResult.HARDWARE_FAULT)),  # [DC]
    (
        "c1 01 c1 0008 0000010000ff 02 00 09 0c 07e50118ff0e303950ffc400",  # [DC] SET the clock
        SetRequestNormal(
            attribute=CosemAttributeDescriptor(8, OBIS(0, 0, 1, 0, 0), 2), value=h("090c07e50118ff0e303950ffc400")
        ),
    ),
    (
        "c1 01 c1 0016 00000f0000ff 04 00 0101 0202 0904100a27ff 090507e10406ff",  # [GX-SET]
        SetRequestNormal(
            attribute=CosemAttributeDescriptor(22, OBIS(0, 0, 15, 0, 0), 4),
            value=h("01010202 0904100a27ff 090507e10406ff"),
        ),
    ),
    ("c5 01 c1 00", SetResponseNormal(result=DataAccessResult.SUCCESS)),  # [DC]
    (
        # [DC] reply_to_HLS_authentication
        "c3 01 c0 000f 0000280000ff 01 01 09 11 10 0000 1a90 e6d2221fa2fd85eed61acc22",
        ActionRequestNormal(
            method=CosemMethodDescriptor(15, OBIS(0, 0, 40, 0, 0), 1),
            parameters=h("0911100000 1a90e6d2221fa2fd85eed61acc22"),
            invoke_id_and_priority=0xC0,
        ),
    ),
    (
        "c3 01 c0 000f 0000280000ff 01 00",  # [DC] without parameters
        ActionRequestNormal(method=CosemMethodDescriptor(15, OBIS(0, 0, 40, 0, 0), 1), invoke_id_and_priority=0xC0),
    ),
    ("c7 01 c0 00 00", ActionResponseNormal(result=ActionResult.SUCCESS, invoke_id_and_priority=0xC0)),  # [DC]
    (
        "c7 01 c0 00 01 00 09 11 10 00001afde8857b728a3499106aa665d1",  # [DC] server's HLS answer
        ActionResponseNormal(
            result=ActionResult.SUCCESS,
            return_parameters=h("09111000001afde8857b728a3499106aa665d1"),
            invoke_id_and_priority=0xC0,
        ),
    ),
    (
        "c7 01 c0 00 01 01 fa",  # [DC] return parameters carry data-access-result other-reason
        ActionResponseNormal(
            result=ActionResult.SUCCESS, return_parameters=DataAccessResult.OTHER_REASON, invoke_id_and_priority=0xC0
        ),
    ),
    (
        "0f 000001db 00 09 22 125a8591360000000049000000110000000a5a8513d014800000000d0000000a0100",  # [DC] push
        DataNotification(
            long_invoke_id_and_priority=0x1DB,
            body=h("0922125a8591360000000049000000110000000a5a8513d014800000000d0000000a0100"),
        ),
    ),
]


@pytest.mark.parametrize(("octets", "apdu"), CASES, ids=[octets[:5] + type(apdu).__name__ for octets, apdu in CASES])
def test_published_apdus(octets: str, apdu: object) -> None:
    decoded = decode_xdlms_apdu(h(octets))
    assert decoded == apdu
    assert type(decoded).decode(h(octets)) == apdu
    assert decoded.encode() == h(octets)


def test_invoke_id_and_priority_octets_of_the_captures() -> None:
    assert (invoke_id_of(0xC1), is_confirmed(0xC1), is_high_priority(0xC1)) == (1, True, True)
    assert (invoke_id_of(0xC0), is_confirmed(0xC0), is_high_priority(0xC0)) == (0, True, True)
    assert long_invoke_id_of(0x000001DB) == 0x1DB


def test_clock_set_value_decodes_to_its_date_time() -> None:
    apdu = decode_xdlms_apdu(h("c1 01 c1 0008 0000010000ff 02 00 09 0c 07e50118ff0e303950ffc400"))
    assert isinstance(apdu, SetRequestNormal)
    clock = CosemDateTime.from_bytes(decode_data(apdu.value))
    assert (clock.year, clock.month, clock.day, clock.hour, clock.minute, clock.second) == (2021, 1, 24, 14, 48, 57)
    assert clock.deviation == -60
    assert clock.hundredths == 80


def test_long_profile_blocks() -> None:
    first = decode_xdlms_apdu(h(FIRST_BLOCK_HEX))
    assert isinstance(first, GetResponseWithDatablock)
    assert (first.last_block, first.block_number, first.invoke_id_and_priority) == (False, 1, 0xC1)
    assert isinstance(first.raw_data, bytes)
    assert len(first.raw_data) == 0x049E
    assert first.raw_data[:4] == h("018205a0")  # array of 1440 rows begins
    assert first.encode() == h(FIRST_BLOCK_HEX)
    last = decode_xdlms_apdu(h(LAST_BLOCK_HEX))
    assert isinstance(last, GetResponseWithDatablock)
    assert (last.last_block, last.block_number, len(last.raw_data)) == (True, 19, 380)
    assert last.encode() == h(LAST_BLOCK_HEX)


RANGE_READS = [
    # [DC] test_selective_access.py test_range_descriptor1: 2018-06-01 00:03 (-120, DST) .. 2021-01-06 00:03 (-60)
    (
        "c0 01 c1 0007 0100630100ff 02 01 01 0204 0204 120008 09060000010000ff 0f02 120000"
        " 090c07e20601ff000300ffff8880 090c07e50106ff000300ffffc400 0100",
        CosemDateTime(2018, 6, 1, 0, 3, 0, None, -120, ClockStatus.DAYLIGHT_SAVING_ACTIVE),
        CosemDateTime(2021, 1, 6, 0, 3, 0, None, -60, ClockStatus.OK),
    ),
    # [DC] second example: 2018-02-12 .. 2019-02-12, deviation not specified
    (
        "c0 01 c1 0007 0100630100ff 02 01 01 0204 0204 120008 09060000010000ff 0f02 120000"
        " 090c07e2020cff00000000800000 090c07e3020cff00000000800000 0100",
        CosemDateTime(2018, 2, 12, 0, 0, 0, 0, None, ClockStatus.OK),
        CosemDateTime(2019, 2, 12, 0, 0, 0, 0, None, ClockStatus.OK),
    ),
]


@pytest.mark.parametrize(("octets", "start", "stop"), RANGE_READS)
def test_profile_range_reads(octets: str, start: CosemDateTime, stop: CosemDateTime) -> None:
    apdu = decode_xdlms_apdu(h(octets))
    assert isinstance(apdu, GetRequestNormal)
    assert apdu.attribute == CosemAttributeDescriptor(7, OBIS(1, 0, 99, 1, 0), 2)
    assert apdu.access is not None
    descriptor = profile_access(apdu.access)
    assert descriptor == RangeDescriptor(from_value=start, to_value=stop)
    rebuilt = GetRequestNormal(attribute=apdu.attribute, access=descriptor.to_access())
    assert rebuilt.encode() == h(octets)


def test_entry_descriptor_layout() -> None:
    # Blue Book IC 7: entry_descriptor = structure {double-long-unsigned x2, long-unsigned x2}
    access = EntryDescriptor(from_entry=1, to_entry=96).to_access()
    assert access.selector == 2
    assert access.parameters == h("0204 0600000001 0600000060 120001 120000")
    assert profile_access(access) == EntryDescriptor(1, 96, 1, 0)
