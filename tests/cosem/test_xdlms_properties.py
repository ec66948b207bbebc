"""Property-based round trips (hypothesis) for every xDLMS APDU class, and robustness of the decoders
against truncated, mutated and random octets. Layouts are pinned by test_xdlms_vectors.py (published
captures), test_xdlms_layouts.py (the ASN.1) and the interop tests (gurux-dlms, dlms-cosem)."""

from __future__ import annotations

import contextlib
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from openprepaid.cosem import xdlms
from openprepaid.cosem.errors import DecodeError
from openprepaid.cosem.xdlms import decode_xdlms_apdu
from tests.cosem.xdlms_strategies import APDU_CLASSES, APDUS, apdus


def test_every_apdu_class_has_a_strategy() -> None:
    exported = {
        getattr(xdlms, name)
        for name in xdlms.__all__
        if isinstance(getattr(xdlms, name), type) and issubclass(getattr(xdlms, name), xdlms.XdlmsApdu)
    } - {xdlms.XdlmsApdu}
    assert set(APDU_CLASSES) == exported
    assert len(APDUS) == len(APDU_CLASSES)


@given(st.data())
@settings(max_examples=len(APDU_CLASSES) * 3, deadline=None)
def test_each_strategy_builds_its_class(data: st.DataObject) -> None:
    index = data.draw(st.integers(0, len(APDUS) - 1))
    assert type(data.draw(APDUS[index])) is APDU_CLASSES[index]


@given(apdus())
@settings(max_examples=250, deadline=None)
def test_round_trip(apdu: Any) -> None:
    octets = apdu.encode()
    assert decode_xdlms_apdu(octets) == apdu
    assert type(apdu).decode(octets) == apdu


@given(apdus(), st.data())
@settings(max_examples=150, deadline=None)
def test_every_truncation_is_a_decode_error(apdu: Any, data: st.DataObject) -> None:
    octets = apdu.encode()
    cut = data.draw(st.integers(0, len(octets) - 1))
    with pytest.raises(DecodeError):
        decode_xdlms_apdu(octets[:cut])


@given(apdus(), st.data())
@settings(max_examples=150, deadline=None)
def test_mutations_decode_or_raise_decode_error(apdu: Any, data: st.DataObject) -> None:
    octets = bytearray(apdu.encode())
    for _ in range(data.draw(st.integers(1, 3))):
        octets[data.draw(st.integers(0, len(octets) - 1))] = data.draw(st.integers(0, 255))
    with contextlib.suppress(DecodeError):
        decode_xdlms_apdu(bytes(octets))
    with contextlib.suppress(DecodeError):
        decode_xdlms_apdu(bytes(octets) + b"\x00")


@given(st.binary(max_size=80))
@settings(max_examples=300)
def test_random_octets(octets: bytes) -> None:
    with contextlib.suppress(DecodeError):
        decode_xdlms_apdu(octets)
