"""Finding HDLC frames in a byte stream (IEC 62056-46): read by length, flags inside frames,
shared flags, garbage and resynchronisation, damaged frames reported, any chunking."""

from __future__ import annotations

import itertools

from hypothesis import given, settings
from hypothesis import strategies as st

from openprepaid.cosem.hdlc_frame import FLAG, FrameKind, HdlcAddress, HdlcFrame, fcs16_bytes
from openprepaid.cosem.hdlc_stream import FrameDecoded, FrameDropped, HdlcFrameDecoder
from tests.cosem.test_hdlc_vectors import (
    ALL_PUBLISHED,
    DIRECTOR_GET,
    DIRECTOR_RESPONSE_7E_IN_HCS,
    GURUX_RR_2,
    GURUX_SEGMENT_1,
    GURUX_SEGMENT_2,
    KMETHY_AARQ,
    KMETHY_SNRM,
    KMETHY_UA,
)

Result = FrameDecoded | FrameDropped


def results(decoder: HdlcFrameDecoder) -> list[Result]:
    out: list[Result] = []
    while (result := decoder.next_result()) is not None:
        out.append(result)
    return out


def feed_all(chunks: list[bytes], max_frame_length: int = 2047) -> tuple[list[HdlcFrame], list[FrameDropped]]:
    decoder = HdlcFrameDecoder(max_frame_length)
    frames: list[HdlcFrame] = []
    dropped: list[FrameDropped] = []
    for chunk in chunks:
        decoder.feed(chunk)
        for result in results(decoder):
            if isinstance(result, FrameDecoded):
                frames.append(result.frame)
            else:
                dropped.append(result)
    return frames, dropped


def wire_frames(*wires: bytes) -> list[HdlcFrame]:
    return [feed_all([wire])[0][0] for wire in wires]


def test_published_response_with_a_flag_in_its_hcs_arriving_after_a_stray_flag_in_pieces() -> None:
    # As logged by GXDLMSDirector (pastebin.com/BS3unhaZ): "Received 7E", then the frame in parts.
    wire = DIRECTOR_RESPONSE_7E_IN_HCS
    frames, dropped = feed_all([b"\x7e", wire[:9], wire[9:16], wire[16:]])
    assert dropped == []
    [frame] = frames
    assert frame.info == bytes.fromhex("E6E700C401C1001600")


def test_every_published_frame_byte_by_byte() -> None:
    stream = b"".join(ALL_PUBLISHED.values())
    frames, dropped = feed_all([bytes([byte]) for byte in stream])
    assert dropped == []
    assert [frame.encode() for frame in frames] == list(ALL_PUBLISHED.values())


def test_one_flag_closes_a_frame_and_opens_the_next() -> None:
    shared = GURUX_SEGMENT_1 + GURUX_RR_2[1:] + GURUX_SEGMENT_2[1:]
    frames, dropped = feed_all([shared])
    assert dropped == []
    assert frames == wire_frames(GURUX_SEGMENT_1, GURUX_RR_2, GURUX_SEGMENT_2)


def test_inter_frame_fill_flags_are_skipped() -> None:
    frames, dropped = feed_all([b"\x7e\x7e\x7e" + KMETHY_SNRM + b"\x7e\x7e" + KMETHY_UA + b"\x7e"])
    assert (len(frames), dropped) == (2, [])


def test_garbage_between_frames_is_skipped() -> None:
    decoder = HdlcFrameDecoder()
    decoder.feed(b"noise" + KMETHY_SNRM + b"\x00\xa0\x13 more noise" + KMETHY_UA + b"tail")
    found = results(decoder)
    assert [type(result) for result in found] == [FrameDecoded, FrameDecoded]
    assert decoder.bytes_skipped == len(b"noise") + len(b"\x00\xa0\x13 more noise") + len(b"tail")
    assert not decoder.has_partial_frame()


def test_false_start_in_garbage_does_not_hide_the_next_frame() -> None:
    # "7E A0 50" claims an 80-byte frame that would swallow the real one: its HCS fails early.
    frames, dropped = feed_all([b"\x7e\xa0\x50\x03\x21\x10\x00\x00" + KMETHY_AARQ])
    assert frames == wire_frames(KMETHY_AARQ)
    assert [d.reason for d in dropped] == ["bad HCS"]


def test_frame_with_a_bad_fcs_is_reported_and_the_next_frame_still_decodes() -> None:
    damaged = bytearray(KMETHY_AARQ)
    damaged[30] ^= 0x10
    frames, dropped = feed_all([bytes(damaged) + KMETHY_SNRM])
    assert frames == wire_frames(KMETHY_SNRM)
    assert len(dropped) == 1
    assert dropped[0].reason.startswith("bad FCS")
    assert dropped[0].data == bytes(damaged)


def test_frame_with_a_bad_hcs_is_reported_before_its_body_arrives() -> None:
    damaged = bytearray(KMETHY_AARQ)
    damaged[9] ^= 0x01
    decoder = HdlcFrameDecoder()
    decoder.feed(bytes(damaged[:12]))
    [dropped] = results(decoder)
    assert isinstance(dropped, FrameDropped)
    assert dropped.reason == "bad HCS"


def test_truncated_frame_followed_by_a_good_one() -> None:
    # The first frame lost its tail: its length reaches into the next frames.
    frames, dropped = feed_all([KMETHY_AARQ[:22] + DIRECTOR_GET + GURUX_RR_2])
    assert frames == wire_frames(DIRECTOR_GET, GURUX_RR_2)
    assert [d.reason for d in dropped] == [f"no closing flag after {len(KMETHY_AARQ) - 2} bytes"]
    # Here the claimed end falls on the next frame's closing flag: the FCS decides, the frame survives.
    frames, dropped = feed_all([KMETHY_AARQ[:20] + DIRECTOR_GET])
    assert frames == wire_frames(DIRECTOR_GET)
    assert [d.reason[:7] for d in dropped] == ["bad FCS"]


def test_truncated_frame_waits_then_the_inter_frame_timeout_discards_it() -> None:
    decoder = HdlcFrameDecoder()
    decoder.feed(KMETHY_AARQ[:-5])
    assert results(decoder) == []
    assert decoder.has_partial_frame()
    dropped = decoder.discard_partial_frame()
    assert dropped is not None
    assert dropped.data == KMETHY_AARQ[:-5]
    assert not decoder.has_partial_frame()
    assert decoder.discard_partial_frame() is None


def test_frame_longer_than_the_bound_is_dropped() -> None:
    frames, dropped = feed_all([KMETHY_AARQ + KMETHY_SNRM], max_frame_length=0x20)
    assert frames == wire_frames(KMETHY_SNRM)
    assert dropped[0].reason == "frame length 46 outside 7..32"


def test_address_without_an_end_is_dropped_and_scanning_continues() -> None:
    frames, dropped = feed_all([b"\x7e\xa0\x0b\x00\x00\x00\x00\x00" + GURUX_RR_2])
    assert frames == wire_frames(GURUX_RR_2)
    assert dropped[0].reason.startswith("an HDLC address longer than 4 bytes")


def test_frame_with_a_control_field_dlms_does_not_use_is_reported() -> None:
    rej = HdlcFrame(FrameKind.RR, HdlcAddress.server(1), HdlcAddress.client(16), receive_seq=2).encode()
    body = bytearray(rej[1:-1])
    body[4] = 0x59  # REJ
    body[-2:] = fcs16_bytes(body[:-2])
    frames, dropped = feed_all([b"\x7e" + bytes(body) + b"\x7e" + KMETHY_SNRM])
    assert frames == wire_frames(KMETHY_SNRM)
    assert "REJ" in dropped[0].reason


# --- properties: 0x7E anywhere in the data, any chunking, garbage in between ----------------------

addresses = st.one_of(
    st.builds(HdlcAddress.client, st.integers(0, 0x7F)),
    st.builds(HdlcAddress.server, st.integers(0, 0x7F), st.integers(0, 0x7F)),
    st.builds(lambda upper, lower: HdlcAddress(upper, lower, 4), st.integers(0, 0x3FFF), st.integers(0, 0x3FFF)),
)
payload_bytes = st.binary(max_size=300) | st.lists(st.sampled_from([0x7E, 0xA0, 0xA8, 0x00]), max_size=300).map(bytes)
frames_strategy = st.builds(
    HdlcFrame,
    kind=st.just(FrameKind.I),
    destination=addresses,
    source=addresses,
    poll_final=st.booleans(),
    send_seq=st.integers(0, 7),
    receive_seq=st.integers(0, 7),
    info=payload_bytes,
    segmented=st.booleans(),
)
garbage = st.binary(max_size=20).map(lambda data: data.replace(b"\x7e", b""))


@settings(max_examples=300, deadline=None)
@given(
    frames=st.lists(frames_strategy, max_size=6),
    gaps=st.lists(garbage, min_size=7, max_size=7),
    cuts=st.lists(st.integers(0, 3000), max_size=25),
)
def test_frames_with_flag_bytes_inside_survive_garbage_and_any_chunking(
    frames: list[HdlcFrame], gaps: list[bytes], cuts: list[int]
) -> None:
    stream = gaps[0] + b"".join(frame.encode() + gap for frame, gap in zip(frames, gaps[1:], strict=False))
    points = sorted({0, len(stream), *(cut % (len(stream) + 1) for cut in cuts)})
    decoded, _dropped = feed_all([stream[start:end] for start, end in itertools.pairwise(points)])
    assert decoded == frames


@settings(max_examples=300, deadline=None)
@given(
    data=st.binary(max_size=400),
    extra=st.lists(st.sampled_from([b"\x7e", b"\x7e\xa0", b"\x7e\xa8\x7e"]), max_size=8),
)
def test_arbitrary_bytes_never_raise(data: bytes, extra: list[bytes]) -> None:
    decoder = HdlcFrameDecoder()
    for piece in [data[: len(data) // 2], *extra, data[len(data) // 2 :]]:
        decoder.feed(piece)
        for result in results(decoder):
            assert isinstance(result, FrameDecoded | FrameDropped)


def test_flag_value() -> None:
    assert FLAG == 0x7E
