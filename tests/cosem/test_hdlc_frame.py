"""HDLC frame fields (IEC 62056-46) and SNRM/UA parameters: encoding rules and every decode failure."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from openprepaid.cosem.errors import EncodeError, FramingError
from openprepaid.cosem.hdlc_frame import (
    FrameKind,
    HdlcAddress,
    HdlcFrame,
    decode_control,
    decode_frame,
    fcs16_bytes,
)
from openprepaid.cosem.hdlc_parameters import HdlcParameters
from tests.cosem.test_hdlc_vectors import GURUX_RR_2, KMETHY_AARQ, KMETHY_SNRM

CLIENT = HdlcAddress.client(0x10)
SERVER = HdlcAddress.server(1)


def body(wire: bytes) -> bytearray:
    return bytearray(wire[1:-1])


def refresh_checks(frame_body: bytearray, header_length: int | None) -> bytes:
    """Recompute HCS (when the header length is given) and FCS after editing a frame body."""
    if header_length is not None:
        frame_body[header_length : header_length + 2] = fcs16_bytes(frame_body[:header_length])
    frame_body[-2:] = fcs16_bytes(frame_body[:-2])
    return bytes(frame_body)


# --- control field (IEC 62056-46, table of command and response frames) -------------------------


@pytest.mark.parametrize(
    ("control", "kind", "poll", "ns", "nr"),
    [
        (0x10, FrameKind.I, True, 0, 0),
        (0x32, FrameKind.I, True, 1, 1),
        (0x54, FrameKind.I, True, 2, 2),
        (0xFE, FrameKind.I, True, 7, 7),
        (0x0E, FrameKind.I, False, 7, 0),
        (0x51, FrameKind.RR, True, 0, 2),
        (0xF1, FrameKind.RR, True, 0, 7),
        (0x05, FrameKind.RNR, False, 0, 0),
        (0x93, FrameKind.SNRM, True, 0, 0),
        (0x53, FrameKind.DISC, True, 0, 0),
        (0x73, FrameKind.UA, True, 0, 0),
        (0x1F, FrameKind.DM, True, 0, 0),
        (0x97, FrameKind.FRMR, True, 0, 0),
        (0x13, FrameKind.UI, True, 0, 0),
        (0x03, FrameKind.UI, False, 0, 0),
    ],
)
def test_control_bytes(control: int, kind: FrameKind, poll: bool, ns: int, nr: int) -> None:
    assert decode_control(control) == (kind, poll, ns, nr)
    rebuilt = HdlcFrame(kind, SERVER, CLIENT, poll, ns if kind is FrameKind.I else 0, nr)
    assert rebuilt.control == control


@pytest.mark.parametrize("control", [0x09, 0x0D, 0x19, 0x2F, 0xAF, 0xE3, 0x07])
def test_control_bytes_dlms_does_not_define_are_framing_errors(control: int) -> None:
    with pytest.raises(FramingError):
        decode_control(control)


# --- addresses ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("address", "encoded"),
    [
        (HdlcAddress.client(0x10), b"\x21"),
        (HdlcAddress.client(0x01), b"\x03"),
        (HdlcAddress.server(1), b"\x03"),
        (HdlcAddress.server(0x7F), b"\xff"),
        (HdlcAddress.server(1, 0x11), b"\x02\x23"),
        (HdlcAddress.server(0x3FFF, 0x3FFF), b"\xfe\xfe\xfe\xff"),
        (HdlcAddress.server(0x80, 0), b"\x02\x00\x00\x01"),
    ],
)
def test_address_encodings(address: HdlcAddress, encoded: bytes) -> None:
    assert address.encode() == encoded


@pytest.mark.parametrize(
    ("upper", "lower", "size"),
    [(0x80, None, 1), (1, 2, 1), (1, None, 2), (0x80, 1, 2), (1, 0x80, 2), (0x4000, 1, 4), (1, None, 4), (1, 1, 3)],
)
def test_addresses_that_do_not_fit_are_refused(upper: int, lower: int | None, size: int) -> None:
    with pytest.raises(EncodeError):
        HdlcAddress(upper, lower, size)


def test_address_matching_ignores_a_missing_lower_part() -> None:
    meter = HdlcAddress.server(1, 0x11)
    assert meter.matches(HdlcAddress.server(1))
    assert meter.matches(HdlcAddress.server(1, 0x11, size=4))
    assert not meter.matches(HdlcAddress.server(1, 0x12))
    assert not meter.matches(HdlcAddress.server(2, 0x11))


@given(upper=st.integers(0, 0x3FFF), lower=st.integers(0, 0x3FFF))
def test_four_byte_addresses_round_trip(upper: int, lower: int) -> None:
    address = HdlcAddress(upper, lower, 4)
    frame = HdlcFrame(FrameKind.UA, CLIENT, address).encode()
    assert decode_frame(frame[1:-1]).source == address


# --- frame encoding refusals ----------------------------------------------------------------------


def test_frames_that_cannot_be_encoded() -> None:
    with pytest.raises(EncodeError, match="modulo 8"):
        HdlcFrame(FrameKind.I, SERVER, CLIENT, send_seq=8)
    with pytest.raises(EncodeError, match="no information field"):
        HdlcFrame(FrameKind.RR, SERVER, CLIENT, info=b"x")
    with pytest.raises(EncodeError, match="cannot be segmented"):
        HdlcFrame(FrameKind.SNRM, SERVER, CLIENT, segmented=True)
    with pytest.raises(EncodeError, match="11-bit"):
        HdlcFrame(FrameKind.I, SERVER, CLIENT, info=bytes(2040)).encode()


def test_largest_frame_fits_the_length_field() -> None:
    wire = HdlcFrame(FrameKind.I, HdlcAddress(0x3FFF, 0x3FFF, 4), CLIENT, info=bytes(2030)).encode()
    assert len(wire) == 2 + 2 + 4 + 1 + 1 + 2 + 2030 + 2  # flags, format, addresses, control, HCS, info, FCS
    assert decode_frame(wire[1:-1]).info == bytes(2030)


# --- frame decoding failures ----------------------------------------------------------------------


def test_truncated_and_short_frames() -> None:
    with pytest.raises(FramingError, match="shorter than the minimum"):
        decode_frame(body(GURUX_RR_2)[:6])
    with pytest.raises(FramingError, match="length field"):
        decode_frame(body(KMETHY_AARQ)[:-1])


def test_wrong_format_type() -> None:
    frame_body = body(GURUX_RR_2)
    frame_body[0] = 0x90
    with pytest.raises(FramingError, match="not type 3"):
        decode_frame(frame_body)


def test_bad_hcs_and_bad_fcs() -> None:
    frame_body = body(KMETHY_AARQ)
    frame_body[8] ^= 0x01  # one bit of the HCS
    with pytest.raises(FramingError, match="bad HCS"):
        decode_frame(frame_body)
    frame_body = body(KMETHY_AARQ)
    frame_body[20] ^= 0x80  # one bit of the data
    with pytest.raises(FramingError, match="bad FCS"):
        decode_frame(frame_body)
    frame_body = body(KMETHY_SNRM)  # no information field: only the FCS protects the header
    frame_body[6] ^= 0x04
    with pytest.raises(FramingError, match="bad FCS"):
        decode_frame(frame_body)


def test_address_fields_without_a_proper_end() -> None:
    three_bytes = bytearray(b"\xa0\x0a\x00\x02\x23\x21\x93\x00\x00")  # destination 00 02 23
    three_bytes[1] = len(three_bytes)
    with pytest.raises(FramingError, match="3-byte"):
        decode_frame(refresh_checks(three_bytes, None))
    five_bytes = bytearray(b"\xa0\x0b\x00\x02\x00\x02\x00\x21\x93\x00\x00")
    with pytest.raises(FramingError, match="longer than 4"):
        decode_frame(refresh_checks(five_bytes, None))


def test_length_that_leaves_no_room_for_hcs_and_fcs() -> None:
    frame_body = bytearray(b"\xa0\x08\x03\x21\x10\x00\x00\x00")  # header 5 + 3 bytes: neither form
    with pytest.raises(FramingError, match="no room"):
        decode_frame(refresh_checks(frame_body, None))


def test_information_field_on_a_supervisory_frame_is_refused() -> None:
    frame_body = bytearray(b"\xa0\x0a\x03\x21\x51\x00\x00\xab\x00\x00")
    with pytest.raises(FramingError, match="RR frame with an information field"):
        decode_frame(refresh_checks(frame_body, 5))


def test_segmentation_bit_on_an_unnumbered_frame_is_refused() -> None:
    frame_body = body(KMETHY_SNRM)
    frame_body[0] |= 0x08
    with pytest.raises(FramingError, match="segmented SNRM"):
        decode_frame(refresh_checks(frame_body, None))


def test_undefined_control_field_after_good_checks() -> None:
    frame_body = body(GURUX_RR_2)
    frame_body[4] = 0x59  # REJ N(R)=2
    with pytest.raises(FramingError, match="REJ"):
        decode_frame(refresh_checks(frame_body, None))


# --- SNRM/UA parameters (IEC 62056-46, HDLC parameter negotiation) -------------------------------


def test_empty_field_means_defaults_and_defaults_encode_to_nothing() -> None:
    assert HdlcParameters.decode(b"") == HdlcParameters(128, 128, 1, 1)
    assert HdlcParameters().encode(omit_defaults=True) == b""
    assert HdlcParameters(max_info_rx=512).encode(omit_defaults=True) == bytes.fromhex("81800406020200")


def test_unknown_parameters_are_skipped() -> None:
    parameters = bytes.fromhex("0901ff" + "05020200" + "0a0101")
    assert HdlcParameters.decode(bytes([0x81, 0x80, len(parameters)]) + parameters).max_info_tx == 512


@pytest.mark.parametrize(
    ("field", "message"),
    [
        ("8180", "81 80"),
        ("8280020501", "81 80"),
        ("8181020501", "81 80"),
        ("8180050502", "group length"),
        ("81800105", "truncated"),
        ("818003050500", "value of 5 bytes"),
        ("818003050000", "value of 0 bytes"),
        ("8180030502ff", "value of 2 bytes"),
        ("81800405020010", "out of range"),
        ("8180040502ffff", "out of range"),
        ("818003070100", "out of range"),
        ("818003080108", "out of range"),
    ],
)
def test_malformed_parameter_fields(field: str, message: str) -> None:
    with pytest.raises(FramingError, match=message):
        HdlcParameters.decode(bytes.fromhex(field))


def test_negotiation_takes_the_smaller_of_both_sides() -> None:
    meter = HdlcParameters(max_info_tx=256, max_info_rx=62, window_tx=1, window_rx=7)
    proposal = HdlcParameters(max_info_tx=2030, max_info_rx=128, window_tx=3, window_rx=1)
    answer = meter.answer(proposal)
    assert answer == HdlcParameters(max_info_tx=128, max_info_rx=62, window_tx=1, window_rx=3)
    assert proposal.accept(answer) == HdlcParameters(max_info_tx=62, max_info_rx=128, window_tx=3, window_rx=1)
    assert proposal.accept(answer) == answer.mirrored()


def test_client_never_takes_more_than_it_proposed() -> None:
    greedy_answer = HdlcParameters(max_info_tx=2030, max_info_rx=2030, window_tx=7, window_rx=7)
    assert HdlcParameters().accept(greedy_answer) == HdlcParameters()


def test_parameter_values_out_of_range_cannot_be_built() -> None:
    with pytest.raises(EncodeError):
        HdlcParameters(max_info_tx=2031)
    with pytest.raises(EncodeError):
        HdlcParameters(window_rx=0)
