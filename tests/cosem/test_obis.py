"""OBIS codes (IEC 62056-6-1): text forms, octets, errors.

Vectors: 1-0:1.8.0*255 (active energy import, total) is 01 00 01 08 00 FF in the GET-Request of the
DLMS UA Green Book Ed. 12 GET example (C0 01 .. 00 03 01 00 01 08 00 FF 02); 0.0.40.0.0.255 (current
association) is 00 00 28 00 00 FF in the GET-Request posted at https://www.gurux.fi/index.php/node/20546.
"""

from __future__ import annotations

import pickle

import pytest
from hypothesis import given
from hypothesis import strategies as st

from openprepaid.cosem.errors import DecodeError
from openprepaid.cosem.obis import OBIS


@pytest.mark.parametrize(
    ("text", "octets"),
    [
        ("1.0.1.8.0.255", "0100010800ff"),
        ("1-0:1.8.0*255", "0100010800ff"),
        ("1-0:1.8.0&255", "0100010800ff"),
        ("1-0:1.8.0.255", "0100010800ff"),
        ("1-0:1.8.0", "0100010800ff"),
        ("0-0:40.0.0", "0000280000ff"),
        (" 0.0.96.1.0.255 ", "0000600100ff"),
        ("1-0:99.1.0*101", "010063010065"),
    ],
)
def test_text_forms_give_the_published_octets(text: str, octets: str) -> None:
    assert OBIS.parse(text) == bytes.fromhex(octets)


def test_groups_str_and_reduced_form() -> None:
    code = OBIS.parse("1-0:32.7.0")
    assert (code.a, code.b, code.c, code.d, code.e, code.f) == (1, 0, 32, 7, 0, 255)
    assert str(code) == "1.0.32.7.0.255"
    assert f"{code}" == "1.0.32.7.0.255"
    assert code.reduced() == "1-0:32.7.0*255"
    assert repr(code) == "OBIS('1.0.32.7.0.255')"


def test_equal_codes_hash_alike_and_survive_pickle() -> None:
    first, second = OBIS(0, 0, 1, 0, 0), OBIS.parse("0.0.1.0.0.255")
    assert first == second
    assert {first: "clock"}[second] == "clock"
    assert pickle.loads(pickle.dumps(first)) == first
    assert type(pickle.loads(pickle.dumps(first))) is OBIS


def test_from_bytes_and_coerce() -> None:
    code = OBIS.from_bytes(bytearray(b"\x01\x00\x01\x08\x00\xff"))
    assert type(code) is OBIS
    assert code.to_bytes() == b"\x01\x00\x01\x08\x00\xff"
    assert OBIS.coerce("1.0.1.8.0.255") is not None
    assert OBIS.coerce(code) is code
    assert OBIS.coerce(b"\x01\x00\x01\x08\x00\xff") == code


@pytest.mark.parametrize(
    "text",
    [
        "",
        "1.0.1.8.0",
        "1.0.1.8.0.256",
        "1-0:1.8",
        "1-0:1.8.0*",
        "a.b.c.d.e.f",
        "1-0:1.8.0*255*1",
        "1.0.1.8.0.255.1",
        "1-0:1.8.0*1000",
        "-1.0.1.8.0.255",
    ],
)
def test_bad_text_raises_decode_error(text: str) -> None:
    with pytest.raises(DecodeError):
        OBIS.parse(text)


@pytest.mark.parametrize("octets", [b"", b"\x01\x00\x01\x08\x00", b"\x01\x00\x01\x08\x00\xff\x00"])
def test_wrong_length_octets_raise(octets: bytes) -> None:
    with pytest.raises(DecodeError):
        OBIS.from_bytes(octets)


@pytest.mark.parametrize("groups", [(256, 0, 0, 0, 0), (-1, 0, 0, 0, 0), (1.5, 0, 0, 0, 0)])
def test_groups_out_of_range_raise(groups: tuple[object, ...]) -> None:
    with pytest.raises(DecodeError):
        OBIS(*groups)  # type: ignore[arg-type]


def test_coerce_refuses_other_types() -> None:
    with pytest.raises(DecodeError):
        OBIS.coerce(12)  # type: ignore[arg-type]
    with pytest.raises(DecodeError):
        OBIS.parse(b"1.0.1.8.0.255")  # type: ignore[arg-type]


@given(st.binary(min_size=6, max_size=6))
def test_octets_text_round_trip(octets: bytes) -> None:
    code = OBIS.from_bytes(octets)
    assert OBIS.parse(str(code)) == code
    assert OBIS.parse(code.reduced()) == code
