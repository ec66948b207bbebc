"""Interop of openprepaid's A-XDR and xDLMS codec with two independent implementations, out of process:
dlms-cosem 25.1.0 and gurux-dlms (peers in tests/interop/peers/, see LICENSE-NOTE.md).

For each case the peer encodes and ours decodes to the same value, and ours encodes and the peer
decodes to the same value (or, for gurux's APDU decoder, to the same translator XML). Known
non-conformances of the peers are asserted as such, so a fix on their side shows up here.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from openprepaid.cosem import axdr
from openprepaid.cosem.axdr import ArrayOf, DataTag, StructureOf
from openprepaid.cosem.date_time import CosemDateTime
from openprepaid.cosem.errors import DecodeError
from openprepaid.cosem.obis import OBIS
from openprepaid.cosem.xdlms import (
    ActionRequestNormal,
    ActionResponseNormal,
    ActionResult,
    ConfirmedService,
    ConfirmedServiceError,
    CosemAttributeDescriptor,
    CosemAttributeDescriptorWithSelection,
    CosemMethodDescriptor,
    DataAccessResult,
    DataNotification,
    EntryDescriptor,
    EventNotificationRequest,
    ExceptionResponse,
    ExceptionServiceError,
    GetRequestNext,
    GetRequestNormal,
    GetRequestWithList,
    GetResponseNormal,
    GetResponseWithDatablock,
    InitiateError,
    RangeDescriptor,
    ServiceErrorKind,
    SetRequestNormal,
    SetRequestWithDatablock,
    SetRequestWithFirstDatablock,
    SetResponseDatablock,
    SetResponseLastDatablock,
    SetResponseNormal,
    StateError,
    decode_xdlms_apdu,
    long_invoke_id_and_priority,
    split_get_response,
)
from tests.interop.peer_env import run_peer

pytestmark = pytest.mark.usefixtures("peers")

IST = timezone(timedelta(hours=5, minutes=30))
START = datetime(2024, 1, 15, tzinfo=IST)
PROFILE_SPEC = ArrayOf(
    StructureOf(
        (
            DataTag.OCTET_STRING,  # clock
            DataTag.LONG_UNSIGNED,  # voltage, V x 100
            DataTag.LONG_UNSIGNED,  # current, A x 100
            DataTag.DOUBLE_LONG_UNSIGNED,  # active energy import, Wh
            DataTag.DOUBLE_LONG_UNSIGNED,  # active energy export, Wh
            DataTag.DOUBLE_LONG_UNSIGNED,  # apparent energy import, VAh
        )
    )
)
ROWS = [
    (
        CosemDateTime.from_datetime(START + timedelta(minutes=15 * n), with_weekday=False).to_bytes(),
        23_000 + n,
        500 + 3 * n,
        1_000_000 + 125 * n,
        7 * n,
        1_100_000 + 130 * n,
    )
    for n in range(96)
]
PROFILE = axdr.encode_as(PROFILE_SPEC, ROWS)
TYPED_ROWS = [
    (
        clock,
        axdr.LongUnsigned(voltage),
        axdr.LongUnsigned(current),
        axdr.DoubleLongUnsigned(imported),
        axdr.DoubleLongUnsigned(exported),
        axdr.DoubleLongUnsigned(apparent),
    )
    for clock, voltage, current, imported, exported, apparent in ROWS
]
BUFFER = CosemAttributeDescriptor(7, OBIS(1, 0, 99, 1, 0), 2)
CLOCK = CosemAttributeDescriptor(8, OBIS(0, 0, 1, 0, 0), 2)
ENERGY = CosemAttributeDescriptor(3, OBIS(1, 0, 1, 8, 0), 2)
DISCONNECT = CosemMethodDescriptor(70, OBIS(0, 0, 96, 3, 10), 1)

_NAMES = {tag: tag.name.lower() for tag in DataTag}


def typed_json(value: Any) -> dict[str, Any]:
    """Our typed decoding -> the peers' typed JSON."""
    if value is None:
        return {"t": "null_data", "v": None}
    if isinstance(value, list):
        return {"t": "array", "v": [typed_json(item) for item in value]}
    if isinstance(value, tuple):
        return {"t": "structure", "v": [typed_json(item) for item in value]}
    if isinstance(value, bool):
        return {"t": "boolean", "v": value}
    if isinstance(value, axdr.TypedInt | axdr.Float32 | axdr.Float64):
        return {"t": _NAMES[value.TAG], "v": value}
    if isinstance(value, bytes):
        return {"t": "octet_string", "v": value.hex()}
    if isinstance(value, axdr.BitString):
        return {"t": "bit_string", "v": str(value)}
    if isinstance(value, str):
        return {"t": "visible_string", "v": value}
    if isinstance(value, CosemDateTime):
        return {"t": "date_time", "v": value.to_bytes().hex()}
    raise TypeError(value)


def typed(value_json: dict[str, Any]) -> Any:
    """The peers' typed JSON -> our typed values."""
    kind, value = value_json["t"], value_json["v"]
    if kind == "array":
        return [typed(item) for item in value]
    if kind == "structure":
        return tuple(typed(item) for item in value)
    if kind == "octet_string":
        return bytes.fromhex(value)
    if kind == "date_time":
        return CosemDateTime.from_bytes(bytes.fromhex(value))
    if kind == "bit_string":
        return axdr.BitString(value)
    if kind in ("null_data", "boolean", "visible_string"):
        return value
    return _wrap(kind, value)


def _wrap(kind: str, value: Any) -> Any:
    wrappers = {
        "integer": axdr.Integer,
        "long": axdr.Long,
        "double_long": axdr.DoubleLong,
        "long64": axdr.Long64,
        "unsigned": axdr.Unsigned,
        "long_unsigned": axdr.LongUnsigned,
        "double_long_unsigned": axdr.DoubleLongUnsigned,
        "long64_unsigned": axdr.Long64Unsigned,
        "enum": axdr.Enum,
        "float32": axdr.Float32,
        "float64": axdr.Float64,
    }
    return wrappers[kind](value)


def peer(script: str, requests: list[dict[str, Any]]) -> list[dict[str, Any]]:
    replies = run_peer(script, requests)
    for request, reply in zip(requests, replies, strict=True):
        assert reply["ok"], f"{script} {request['op']}: {reply.get('error')}\n{reply.get('trace', '')}"
    return replies


def xml(text: str) -> str:
    """Gurux translator XML without layout differences."""
    text = re.sub(r'"\s+>', '">', text.strip())
    text = re.sub(r"\s+/>", "/>", text)
    return re.sub(r">\s+<", "><", text)


def el(name: str, value: str | None = None, *children: str, qty: int | None = None) -> str:
    if value is not None:
        return f'<{name} Value="{value}"/>'
    attributes = f' Qty="{qty:02X}"' if qty is not None else ""
    return f"<{name}{attributes}>{''.join(children)}</{name}>"


# --- A-XDR Data -------------------------------------------------------------------------------------

DATA_VALUES: list[Any] = [
    TYPED_ROWS,  # the 96-row block-load profile buffer
    (axdr.LongUnsigned(230), axdr.Integer(-2), axdr.Unsigned(255), axdr.Long(-300), axdr.DoubleLong(-70_000)),
    [axdr.Long64(-(2**40)), axdr.Long64Unsigned(2**63), axdr.Enum(3)],
    (b"", "meter-1", [(axdr.Unsigned(1), b"\x00\x01")]),
]
GURUX_ONLY: list[Any] = [  # dlms-cosem 25.1.0 cannot encode these (no value_to_bytes for them)
    (None, [None, (axdr.Unsigned(1), None)]),
    (axdr.Float32(1.5), axdr.Float64(-2.25), True, False, axdr.BitString("10110011")),
    CosemDateTime.from_datetime(START, with_weekday=False),  # date-time tag 25
]


def _data_round_trips(script: str, values: list[Any]) -> None:
    ours = [axdr.encode_data(value) for value in values]
    requests = [{"op": "data_decode", "hex": octets.hex()} for octets in ours]
    requests += [{"op": "data_encode", "value": typed_json(value)} for value in values]
    replies = peer(script, requests)
    for value, octets, decoded, encoded in zip(
        values, ours, replies[: len(values)], replies[len(values) :], strict=True
    ):
        assert decoded["value"] == typed_json(value)  # the peer reads ours
        assert encoded["hex"] == octets.hex()  # the peer writes what we write
        assert axdr.decode_data(bytes.fromhex(encoded["hex"]), typed=True) == value  # we read the peer's
        assert typed(decoded["value"]) == value


def test_data_with_dlms_cosem() -> None:
    _data_round_trips("codec_dlms_cosem.py", DATA_VALUES)


def test_data_with_gurux() -> None:
    _data_round_trips("codec_gurux.py", DATA_VALUES + GURUX_ONLY)


def test_gurux_reads_a_bit_string_that_is_not_whole_octets() -> None:
    # (gurux 1.0.203 writes such a string with its octet count times 8 as the bit count, so only the
    # reading direction is compared here)
    (decoded,) = peer(
        "codec_gurux.py", [{"op": "data_decode", "hex": axdr.encode_data(axdr.BitString("1011001")).hex()}]
    )
    assert decoded["value"] == {"t": "bit_string", "v": "1011001"}


def test_profile_natives_match_the_peers_values() -> None:
    (decoded,) = peer("codec_gurux.py", [{"op": "data_decode", "hex": PROFILE.hex()}])
    rows = axdr.decode_data(PROFILE)  # the fast path
    assert [tuple(typed(cell) for cell in row["v"]) for row in decoded["value"]["v"]] == rows


def test_compact_array_read_by_gurux() -> None:
    value = axdr.CompactArray(
        StructureOf((DataTag.DOUBLE_LONG_UNSIGNED, DataTag.LONG_UNSIGNED)), [(1_000_000 + n, 230 + n) for n in range(5)]
    )
    (decoded,) = peer("codec_gurux.py", [{"op": "data_values", "hex": axdr.encode_data(value).hex()}])
    assert [[cell["v"] for cell in row["v"]] for row in decoded["value"]["v"]] == [list(row) for row in value.elements]


@pytest.mark.parametrize("zone", [IST, timezone(timedelta(hours=2)), timezone(timedelta(hours=-5))])
def test_date_times(zone: timezone) -> None:
    moment = datetime(2024, 3, 31, 23, 45, 10, tzinfo=zone)
    ours = CosemDateTime.from_datetime(moment, with_weekday=False).to_bytes()
    request = {"op": "datetime_encode", "iso": moment.isoformat()}
    (from_cosem, read_back) = peer("codec_dlms_cosem.py", [request, {"op": "datetime_decode", "hex": ours.hex()}])
    (from_gurux,) = peer("codec_gurux.py", [request])
    assert from_cosem["hex"] == ours.hex()
    assert from_gurux["hex"] == ours.hex()
    assert datetime.fromisoformat(read_back["iso"]) == moment
    assert CosemDateTime.from_bytes(bytes.fromhex(from_gurux["hex"])).to_datetime() == moment


# --- GET ------------------------------------------------------------------------------------------


def test_get_requests_built_by_gurux() -> None:
    range_access = RangeDescriptor(
        CosemDateTime.from_datetime(START, with_weekday=False),
        CosemDateTime.from_datetime(START + timedelta(days=1), with_weekday=False),
    ).to_access()
    expected = [
        GetRequestNormal(attribute=ENERGY),
        GetRequestNormal(attribute=BUFFER, access=range_access),
        GetRequestNormal(attribute=BUFFER, access=EntryDescriptor(1, 96).to_access()),
        GetRequestWithList(
            attributes=(CosemAttributeDescriptorWithSelection(CLOCK), CosemAttributeDescriptorWithSelection(ENERGY))
        ),
    ]
    replies = peer(
        "codec_gurux.py",
        [
            {"op": "client_read", "class_id": 3, "obis": "1.0.1.8.0.255", "attribute": 2},
            {
                "op": "client_read_range",
                "obis": "1.0.99.1.0.255",
                "from": START.isoformat(),
                "to": (START + timedelta(days=1)).isoformat(),
            },
            {"op": "client_read_entry", "obis": "1.0.99.1.0.255", "from": 1, "to": 96},
            {
                "op": "client_read_list",
                "items": [
                    {"class_id": 8, "obis": "0.0.1.0.0.255", "attribute": 2},
                    {"class_id": 3, "obis": "1.0.1.8.0.255", "attribute": 2},
                ],
            },
        ],
    )
    for apdu, reply in zip(expected, replies, strict=True):
        assert decode_xdlms_apdu(bytes.fromhex(reply["hex"])) == apdu
        assert apdu.encode().hex() == reply["hex"]


def test_get_requests_with_dlms_cosem() -> None:
    specs = [
        {"type": "GetRequestNormal", "class_id": 3, "obis": "1.0.1.8.0.255", "attribute": 2, "iid": 0xC1},
        {
            "type": "GetRequestNormal",
            "class_id": 7,
            "obis": "1.0.99.1.0.255",
            "attribute": 2,
            "iid": 0xC1,
            "access": {"selector": 1, "from": START.isoformat(), "to": (START + timedelta(days=1)).isoformat()},
        },
        {"type": "GetRequestNext", "block_number": 3, "iid": 0xC1},
    ]
    ours = [
        GetRequestNormal(attribute=ENERGY),
        GetRequestNormal(
            attribute=BUFFER,
            access=RangeDescriptor(
                CosemDateTime.from_datetime(START, with_weekday=False),
                CosemDateTime.from_datetime(START + timedelta(days=1), with_weekday=False),
            ).to_access(),
        ),
        GetRequestNext(block_number=3),
    ]
    _apdus_both_ways(specs, ours)


def _apdus_both_ways(specs: list[dict[str, Any]], ours: list[Any]) -> None:
    requests = [{"op": "apdu_encode", "apdu": spec} for spec in specs]
    requests += [{"op": "apdu_decode", "hex": apdu.encode().hex()} for apdu in ours]
    replies = peer("codec_dlms_cosem.py", requests)
    for spec, apdu, encoded, decoded in zip(specs, ours, replies[: len(specs)], replies[len(specs) :], strict=True):
        assert decode_xdlms_apdu(bytes.fromhex(encoded["hex"])) == apdu
        assert encoded["hex"] == apdu.encode().hex()
        for key, value in spec.items():
            if key != "type":
                assert decoded["apdu"].get(key) == value, key


def test_get_responses_with_dlms_cosem() -> None:
    blocks = split_get_response(PROFILE, max_pdu_size=1024)
    assert len(blocks) == 4
    specs: list[dict[str, Any]] = [{"type": "GetResponseNormal", "error": 4, "iid": 0xC1}]
    ours: list[Any] = [GetResponseNormal(result=DataAccessResult.OBJECT_UNDEFINED)]
    for block in blocks:
        assert isinstance(block, GetResponseWithDatablock)
        assert isinstance(block.raw_data, bytes)
        specs.append(
            {
                "type": "GetResponseWithDatablock",
                "last_block": block.last_block,
                "block_number": block.block_number,
                "raw_data": block.raw_data.hex(),
                "iid": 0xC1,
            }
        )
        ours.append(block)
    requests = [{"op": "apdu_encode", "apdu": spec} for spec in specs]
    requests += [{"op": "apdu_decode", "hex": apdu.encode().hex()} for apdu in ours]
    replies = peer("codec_dlms_cosem.py", requests)
    for apdu, encoded in zip(ours, replies[: len(ours)], strict=True):
        assert decode_xdlms_apdu(bytes.fromhex(encoded["hex"])) == apdu
    for apdu, decoded in zip(ours, replies[len(ours) :], strict=True):
        if isinstance(apdu, GetResponseWithDatablock):
            assert decoded["apdu"]["data"] == apdu.raw_data.hex()  # type: ignore[union-attr]
            assert decoded["apdu"]["block_number"] == apdu.block_number
            assert decoded["apdu"]["last_block"] == apdu.last_block
        else:
            assert decoded["apdu"]["error"] == DataAccessResult.OBJECT_UNDEFINED
    reassembled = b"".join(bytes.fromhex(reply["apdu"]["data"]) for reply in replies[len(ours) + 1 :])
    assert axdr.decode_data(reassembled) == ROWS


def test_get_response_normal_with_dlms_cosem() -> None:
    normal = GetResponseNormal(result=PROFILE)
    spec = {"type": "GetResponseNormal", "data": PROFILE.hex(), "iid": 0xC1}
    decoded, encoded = run_peer(
        "codec_dlms_cosem.py",
        [{"op": "apdu_decode", "hex": normal.encode().hex()}, {"op": "apdu_encode", "apdu": spec}],
    )
    assert decoded["ok"]
    assert decoded["apdu"]["data"] == PROFILE.hex()
    (profile,) = peer("codec_dlms_cosem.py", [{"op": "data_decode", "hex": decoded["apdu"]["data"]}])
    assert [tuple(typed(cell) for cell in row["v"]) for row in profile["value"]["v"]] == ROWS
    # dlms-cosem 25.1.0 cannot encode a GetResponseNormal: its to_bytes appends the invoke-id octet as
    # bytes to a bytearray (TypeError). When that is fixed this assertion fails; compare bytes then.
    assert not encoded["ok"]
    assert "TypeError" in encoded["error"]


@pytest.mark.parametrize("max_pdu_size", [200, 512, 1024, 4096])
def test_gurux_client_reads_our_blocks(max_pdu_size: int) -> None:
    blocks = split_get_response(PROFILE, max_pdu_size=max_pdu_size)
    (reply,) = peer(
        "codec_gurux.py",
        [
            {
                "op": "read",
                "class_id": 7,
                "obis": "1.0.99.1.0.255",
                "attribute": 2,
                "responses": [block.encode().hex() for block in blocks],
            }
        ],
    )
    assert decode_xdlms_apdu(bytes.fromhex(reply["request"])) == GetRequestNormal(attribute=BUFFER)
    expected_next = [GetRequestNext(block_number=n).encode().hex() for n in range(1, len(blocks))]
    assert reply["next_requests"] == (expected_next if len(blocks) > 1 else [])
    assert [tuple(typed(cell) for cell in row["v"]) for row in reply["value"]["v"]] == ROWS


def test_get_responses_built_by_gurux() -> None:
    replies = peer(
        "codec_gurux.py",
        [
            {"op": "server_get_response", "iid": 0xC1, "hex": PROFILE.hex()},
            {"op": "server_get_response", "iid": 0xC1, "error": 4},
        ],
    )
    assert decode_xdlms_apdu(bytes.fromhex(replies[0]["hex"])) == GetResponseNormal(result=PROFILE)
    assert decode_xdlms_apdu(bytes.fromhex(replies[1]["hex"])) == GetResponseNormal(
        result=DataAccessResult.OBJECT_UNDEFINED
    )
    assert replies[0]["hex"] == GetResponseNormal(result=PROFILE).encode().hex()


# --- SET, ACTION ------------------------------------------------------------------------------------


def test_set_and_action_requests_built_by_gurux() -> None:
    value = (axdr.LongUnsigned(230), b"\x01\x02")
    replies = peer(
        "codec_gurux.py",
        [
            {"op": "client_write", "obis": "0.0.96.1.0.255", "value": typed_json(value)},
            {
                "op": "client_method",
                "class_id": 70,
                "obis": "0.0.96.3.10.255",
                "method": 1,
                "value": typed_json(axdr.Integer(0)),
            },
            {"op": "server_set_response", "iid": 0xC1, "result": 3},
        ],
    )
    expected = [
        SetRequestNormal(attribute=CosemAttributeDescriptor(1, OBIS(0, 0, 96, 1, 0), 2), value=axdr.encode_data(value)),
        ActionRequestNormal(method=DISCONNECT, parameters=axdr.encode_data(axdr.Integer(0))),
        SetResponseNormal(result=DataAccessResult.READ_WRITE_DENIED),
    ]
    for apdu, reply in zip(expected, replies, strict=True):
        assert decode_xdlms_apdu(bytes.fromhex(reply["hex"])) == apdu
        assert apdu.encode().hex() == reply["hex"]


def test_set_and_action_with_dlms_cosem() -> None:
    clock_value = axdr.encode_data(CosemDateTime.from_datetime(START, with_weekday=False).to_bytes())
    specs = [
        {
            "type": "SetRequestNormal",
            "class_id": 8,
            "obis": "0.0.1.0.0.255",
            "attribute": 2,
            "data": clock_value.hex(),
            "iid": 0xC1,
        },
        {"type": "SetResponseNormal", "result": 0, "iid": 0xC1},
        {
            "type": "ActionRequestNormal",
            "class_id": 70,
            "obis": "0.0.96.3.10.255",
            "method": 1,
            "data": "0f00",
            "iid": 0xC1,
        },
        {
            "type": "ActionRequestNormal",
            "class_id": 70,
            "obis": "0.0.96.3.10.255",
            "method": 2,
            "data": None,
            "iid": 0xC1,
        },
        {"type": "ActionResponseNormal", "result": 0, "iid": 0xC1},
        {"type": "ActionResponseNormal", "result": 0, "data": "0902abcd", "iid": 0xC1},
        {"type": "ActionResponseNormal", "result": 0, "error": 250, "iid": 0xC1},
    ]
    ours = [
        SetRequestNormal(attribute=CLOCK, value=clock_value),
        SetResponseNormal(result=DataAccessResult.SUCCESS),
        ActionRequestNormal(method=DISCONNECT, parameters=b"\x0f\x00"),
        ActionRequestNormal(method=CosemMethodDescriptor(70, OBIS(0, 0, 96, 3, 10), 2)),
        ActionResponseNormal(result=ActionResult.SUCCESS),
        ActionResponseNormal(result=ActionResult.SUCCESS, return_parameters=b"\x09\x02\xab\xcd"),
        ActionResponseNormal(result=ActionResult.SUCCESS, return_parameters=DataAccessResult.OTHER_REASON),
    ]
    requests = [{"op": "apdu_encode", "apdu": spec} for spec in specs]
    requests += [{"op": "apdu_decode", "hex": apdu.encode().hex()} for apdu in ours]
    replies = peer("codec_dlms_cosem.py", requests)
    for apdu, encoded in zip(ours, replies[: len(ours)], strict=True):
        assert decode_xdlms_apdu(bytes.fromhex(encoded["hex"])) == apdu
        assert encoded["hex"] == apdu.encode().hex()
    for spec, decoded in zip(specs, replies[len(ours) :], strict=True):
        seen = decoded["apdu"]
        assert seen["iid"] == spec["iid"]
        assert seen.get("data") == spec.get("data")
        assert seen.get("error") == spec.get("error")
        assert seen.get("result", seen.get("status")) == spec.get("result", seen.get("result", seen.get("status")))


# --- notifications and everything else gurux's APDU decoder knows -----------------------------------


def test_data_notifications() -> None:
    stamp = CosemDateTime.from_datetime(START, with_weekday=False)
    body = axdr.encode_data((axdr.LongUnsigned(1), b"\x01\x02"))
    gurux = peer(
        "codec_gurux.py",
        [
            {"op": "notify", "iso": START.isoformat(), "body": body.hex()},
            {"op": "notify", "body": body.hex()},
        ],
    )
    gurux_iid = long_invoke_id_and_priority(1, high_priority=True, confirmed=True)
    with_stamp = DataNotification(long_invoke_id_and_priority=gurux_iid, date_time=stamp, body=body)
    without = DataNotification(long_invoke_id_and_priority=gurux_iid, body=body)
    assert decode_xdlms_apdu(bytes.fromhex(gurux[0]["hex"])) == with_stamp
    assert decode_xdlms_apdu(bytes.fromhex(gurux[1]["hex"])) == without
    assert [with_stamp.encode().hex(), without.encode().hex()] == [reply["hex"] for reply in gurux]

    plain = DataNotification(long_invoke_id_and_priority=5, body=body)
    cosem = peer(
        "codec_dlms_cosem.py",
        [
            {"op": "apdu_encode", "apdu": {"type": "DataNotification", "long_invoke_id": 5, "body": body.hex()}},
            {"op": "apdu_decode", "hex": plain.encode().hex()},
            {
                "op": "apdu_decode",
                "hex": DataNotification(long_invoke_id_and_priority=5, date_time=stamp, body=body).encode().hex(),
            },
            {
                "op": "apdu_encode",
                "apdu": {"type": "DataNotification", "long_invoke_id": 5, "body": body.hex(), "iso": START.isoformat()},
            },
        ],
    )
    assert decode_xdlms_apdu(bytes.fromhex(cosem[0]["hex"])) == plain
    assert cosem[1]["apdu"]["body"] == body.hex()
    assert cosem[2]["apdu"]["body"] == body.hex()
    assert datetime.fromisoformat(cosem[2]["apdu"]["iso"]) == START
    # dlms-cosem 25.1.0 writes the optional date-time as a 01 presence octet and 12 octets, not as the
    # OCTET STRING (length 0C) the Green Book and gurux use, so a conforming decoder must refuse it.
    assert bytes.fromhex(cosem[3]["hex"])[5] == 0x01
    with pytest.raises(DecodeError):
        decode_xdlms_apdu(bytes.fromhex(cosem[3]["hex"]))


def _descriptor_xml(descriptor: CosemAttributeDescriptor) -> str:
    return el(
        "AttributeDescriptor",
        None,
        el("ClassId", f"{descriptor.class_id:04X}"),
        el("InstanceId", bytes(descriptor.instance_id).hex().upper()),
        el("AttributeId", f"{descriptor.attribute_id:02X}"),
    )


XML_CASES: list[tuple[Any, str]] = [
    (
        GetRequestNext(block_number=5),
        el(
            "GetRequest",
            None,
            el("GetRequestForNextDataBlock", None, el("InvokeIdAndPriority", "C1"), el("BlockNumber", "00000005")),
        ),
    ),
    (
        GetResponseWithDatablock(last_block=False, block_number=7, raw_data=b"\xaa\xbb\xcc"),
        el(
            "GetResponse",
            None,
            el(
                "GetResponsewithDataBlock",
                None,
                el("InvokeIdAndPriority", "C1"),
                el(
                    "Result",
                    None,
                    el("LastBlock", "00"),
                    el("BlockNumber", "00000007"),
                    el("Result", None, el("RawData", "AABBCC")),
                ),
            ),
        ),
    ),
    (
        SetRequestWithFirstDatablock(attribute=CLOCK, last_block=False, block_number=1, raw_data=b"\x01\x02"),
        el(
            "SetRequest",
            None,
            el(
                "SetRequestFirstDataBlock",
                None,
                el("InvokeIdAndPriority", "C1"),
                _descriptor_xml(CLOCK),
                el("DataBlock", None, el("LastBlock", "00"), el("BlockNumber", "00000001"), el("RawData", "0102")),
            ),
        ),
    ),
    (
        SetRequestWithDatablock(last_block=True, block_number=2, raw_data=b"\x03"),
        el(
            "SetRequest",
            None,
            el(
                "SetRequestWithDataBlock",
                None,
                el("InvokeIdAndPriority", "C1"),
                el("DataBlock", None, el("LastBlock", "01"), el("BlockNumber", "00000002"), el("RawData", "03")),
            ),
        ),
    ),
    (
        SetResponseDatablock(block_number=1),
        el(
            "SetResponse",
            None,
            el("SetResponseDataBlock", None, el("InvokeIdAndPriority", "C1"), el("BlockNumber", "00000001")),
        ),
    ),
    (
        SetResponseLastDatablock(result=DataAccessResult.SUCCESS, block_number=2),
        el(
            "SetResponse",
            None,
            el(
                "SetResponseWithLastDataBlock",
                None,
                el("InvokeIdAndPriority", "C1"),
                el("Result", "Success"),
                el("BlockNumber", "00000002"),
            ),
        ),
    ),
    (
        EventNotificationRequest(attribute=CLOCK, value=b"\x11\x05"),
        el("EventNotificationRequest", None, _descriptor_xml(CLOCK), el("AttributeValue", None, el("UInt8", "05"))),
    ),
    (
        ExceptionResponse(state_error=StateError.SERVICE_NOT_ALLOWED, service_error=ExceptionServiceError.OTHER_REASON),
        el("ExceptionResponse", None, el("StateError", "ServiceNotAllowed"), el("ServiceError", "OtherReason")),
    ),
    (
        ConfirmedServiceError(
            service=ConfirmedService.INITIATE_ERROR,
            error_kind=ServiceErrorKind.INITIATE,
            error_value=InitiateError.DLMS_VERSION_TOO_LOW,
        ),
        el(
            "ConfirmedServiceError",
            None,
            el("Service", "01"),
            el("ServiceError", None, el("Initiate", "DlmsVersionTooLow")),
        ),
    ),
]


def test_gurux_decodes_our_other_apdus() -> None:
    replies = peer("codec_gurux.py", [{"op": "pdu_to_xml", "hex": apdu.encode().hex()} for apdu, _ in XML_CASES])
    for (apdu, expected), reply in zip(XML_CASES, replies, strict=True):
        assert xml(reply["xml"]) == xml(expected), type(apdu).__name__
