"""Property-based A-XDR round trips (hypothesis) for every Data type.

Encoder-against-decoder only checks consistency; the byte layouts themselves are pinned by the
published vectors in test_axdr.py and by the out-of-process peers in tests/interop.
"""

from __future__ import annotations

import contextlib
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from openprepaid.cosem import axdr
from openprepaid.cosem.axdr import decode_data, encode_as, encode_data
from openprepaid.cosem.errors import DecodeError
from tests.cosem.axdr_strategies import data_values, fixed_rows, native_of, specs, value_of


def _same_types(left: Any, right: Any) -> bool:
    if type(left) is not type(right):
        return False
    if isinstance(left, list | tuple):
        return len(left) == len(right) and all(_same_types(a, b) for a, b in zip(left, right, strict=True))
    if isinstance(left, axdr.CompactArray):
        return left.description == right.description and native_of(left.elements) == native_of(right.elements)
    return bool(left == right)


@given(data_values())
@settings(max_examples=120, deadline=None)
def test_typed_values_round_trip_exactly(value: Any) -> None:
    octets = encode_data(value)
    typed = decode_data(octets, typed=True)
    assert _same_types(typed, value)
    assert encode_data(typed) == octets
    assert decode_data(octets) == native_of(value)
    assert axdr.data_end(octets + b"\x00", 0) == len(octets)


@given(specs().flatmap(lambda spec: st.tuples(st.just(spec), value_of(spec, arrays_use_count=False))))
@settings(max_examples=100, deadline=None)
def test_encode_as_natives_equals_encoding_typed_values(spec_and_value: tuple[axdr.TypeSpec, Any]) -> None:
    spec, value = spec_and_value
    plain_spec = _without_counts(spec)
    assert encode_as(plain_spec, native_of(value)) == encode_data(value)


def _without_counts(spec: axdr.TypeSpec) -> axdr.TypeSpec:
    if isinstance(spec, axdr.ArrayOf):
        return axdr.ArrayOf(_without_counts(spec.element))
    if isinstance(spec, axdr.StructureOf):
        return axdr.StructureOf(tuple(_without_counts(field) for field in spec.fields))
    return spec


@given(fixed_rows())
@settings(max_examples=80, deadline=None)
def test_profile_shaped_arrays_take_the_fast_path_both_ways(spec_and_rows: tuple[axdr.TypeSpec, list[Any]]) -> None:
    spec, rows = spec_and_rows
    octets = encode_data(rows)
    natives = native_of(rows)
    assert encode_as(spec, natives) == octets
    assert decode_data(octets) == natives
    assert decode_data(octets, typed=True) == rows


@given(st.binary(max_size=200))
@settings(max_examples=300)
def test_random_octets_decode_or_raise_decode_error(octets: bytes) -> None:
    for typed in (False, True):
        with contextlib.suppress(DecodeError):
            decode_data(octets, typed=typed)


@given(data_values(), st.data())
@settings(max_examples=80, deadline=None)
def test_truncations_and_flips_never_escape_decode_error(value: Any, data: st.DataObject) -> None:
    octets = bytearray(encode_data(value))
    cut = data.draw(st.integers(0, len(octets)))
    with contextlib.suppress(DecodeError):
        decode_data(bytes(octets[:cut]))
    position = data.draw(st.integers(0, len(octets) - 1))
    octets[position] ^= data.draw(st.integers(1, 255))
    with contextlib.suppress(DecodeError):
        decode_data(bytes(octets))
