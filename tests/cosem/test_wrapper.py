"""The TCP-UDP wrapper (IEC 62056-47): published captures, arbitrary chunking, bounds and bad headers."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from openprepaid.cosem.errors import EncodeError, FramingError
from openprepaid.cosem.wrapper import WrapperDecoder, WrapperFrame, encode_wrapper

# Captured wrapper frames between the public client (wPort 0x10) and the management logical device
# (wPort 1), from the OpenMUC jDLMS client/server integration test (Fraunhofer ISE): an AARQ of
# 0x1F bytes and the meter's AARE of 0x2B bytes. The same AARQ capture (with other invocation
# bytes) is published in several other public DLMS tools.
JDLMS_AARQ = bytes.fromhex("000100100001001f601da109060760857405080101be10040e01000000065f1f040000bc3fffff")
JDLMS_AARE = bytes.fromhex(
    "000100010010002b6129a109060760857405080101a203020100a305a103020100be10040e0800065f1f0400001c1f05dc0007"
)


def drain(decoder: WrapperDecoder) -> list[WrapperFrame]:
    frames = []
    while (frame := decoder.next_event()) is not None:
        frames.append(frame)
    return frames


def test_published_aarq_decodes_to_its_ports_and_apdu() -> None:
    decoder = WrapperDecoder()
    decoder.receive_data(JDLMS_AARQ)
    [frame] = drain(decoder)
    assert (frame.source_wport, frame.destination_wport) == (0x10, 0x01)
    assert frame.apdu == JDLMS_AARQ[8:]
    assert len(frame.apdu) == 0x1F
    assert frame.apdu[:2] == b"\x60\x1d"  # AARQ tag, as the capture shows


def test_published_frames_encode_byte_for_byte() -> None:
    assert encode_wrapper(0x10, 0x01, JDLMS_AARQ[8:]) == JDLMS_AARQ
    assert WrapperFrame(0x01, 0x10, JDLMS_AARE[8:]).encode() == JDLMS_AARE


def test_two_frames_in_one_read_and_one_frame_byte_by_byte() -> None:
    decoder = WrapperDecoder()
    decoder.receive_data(JDLMS_AARQ + JDLMS_AARE)
    assert [f.destination_wport for f in drain(decoder)] == [0x01, 0x10]
    for byte in JDLMS_AARE[:-1]:
        decoder.receive_data(bytes([byte]))
        assert decoder.next_event() is None
    decoder.receive_data(JDLMS_AARE[-1:])
    assert drain(decoder) == [WrapperFrame(0x01, 0x10, JDLMS_AARE[8:])]
    assert decoder.buffered == 0


def test_empty_apdu_is_a_frame() -> None:
    decoder = WrapperDecoder()
    decoder.receive_data(bytes.fromhex("0001000100100000"))
    assert drain(decoder) == [WrapperFrame(1, 0x10, b"")]


def test_truncated_frame_waits_for_more_bytes() -> None:
    decoder = WrapperDecoder()
    decoder.receive_data(JDLMS_AARQ[:-1])
    assert decoder.next_event() is None
    assert decoder.buffered == len(JDLMS_AARQ) - 1


@pytest.mark.parametrize("version", ["0000", "0002", "7e7e", "ffff"])
def test_wrong_version_fails_and_the_decoder_stays_failed(version: str) -> None:
    decoder = WrapperDecoder()
    decoder.receive_data(bytes.fromhex(version) + JDLMS_AARQ[2:])
    with pytest.raises(FramingError, match="version"):
        decoder.next_event()
    assert decoder.failed
    with pytest.raises(FramingError, match="already failed"):
        decoder.receive_data(JDLMS_AARQ)
    with pytest.raises(FramingError, match="already failed"):
        decoder.next_event()


def test_apdu_longer_than_the_bound_fails_before_the_body_arrives() -> None:
    decoder = WrapperDecoder(max_apdu_length=30)
    decoder.receive_data(JDLMS_AARQ[:8])  # the header says 31 bytes follow
    with pytest.raises(FramingError, match="exceeds the bound 30"):
        decoder.next_event()


def test_undrained_input_is_bounded() -> None:
    decoder = WrapperDecoder(max_apdu_length=16)
    with pytest.raises(FramingError, match="buffered"):
        decoder.receive_data(bytes(4 * (8 + 16) + 1))


@pytest.mark.parametrize(
    ("source", "destination", "apdu"),
    [(-1, 1, b""), (0x10000, 1, b""), (1, 0x10000, b""), (1, 1, bytes(0x10000))],
)
def test_encoder_refuses_values_the_fields_cannot_hold(source: int, destination: int, apdu: bytes) -> None:
    with pytest.raises(EncodeError):
        encode_wrapper(source, destination, apdu)


def test_max_apdu_length_outside_the_field_is_a_configuration_error() -> None:
    with pytest.raises(ValueError, match="max_apdu_length"):
        WrapperDecoder(max_apdu_length=0x10000)


frames_strategy = st.lists(
    st.builds(
        WrapperFrame,
        st.integers(0, 0xFFFF),
        st.integers(0, 0xFFFF),
        st.binary(max_size=600),
    ),
    max_size=6,
)


@settings(max_examples=200, deadline=None)
@given(frames=frames_strategy, cuts=st.lists(st.integers(0, 4000), max_size=20))
def test_any_frames_survive_any_chunking(frames: list[WrapperFrame], cuts: list[int]) -> None:
    stream = b"".join(frame.encode() for frame in frames)
    points = sorted({0, len(stream), *(cut % (len(stream) + 1) for cut in cuts)})
    decoder = WrapperDecoder()
    received: list[WrapperFrame] = []
    for start, end in itertools.pairwise(points):
        decoder.receive_data(stream[start:end])
        received.extend(drain(decoder))
    assert received == frames
    assert decoder.buffered == 0
