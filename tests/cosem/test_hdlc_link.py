"""The HDLC link (IEC 62056-46, normal response mode), both roles: published exchanges replayed byte for byte,
segmentation and reassembly under any chunking, and the failure paths."""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from openprepaid.cosem.errors import EncodeError, ProtocolError
from openprepaid.cosem.hdlc_client import HdlcClientLink
from openprepaid.cosem.hdlc_frame import LLC_COMMAND, LLC_RESPONSE, FrameKind, HdlcAddress, HdlcFrame, decode_frame
from openprepaid.cosem.hdlc_link import (
    ApduReceived,
    Connected,
    DisconnectCause,
    Disconnected,
    FrameIgnored,
    HdlcEvent,
    HdlcLink,
    LinkFailed,
    LinkState,
)
from openprepaid.cosem.hdlc_parameters import HdlcParameters
from openprepaid.cosem.hdlc_server import HdlcServerLink
from openprepaid.cosem.hdlc_stream import FrameDecoded, FrameDropped, HdlcFrameDecoder
from tests.cosem.test_hdlc_vectors import (
    GURUX_AARE,
    GURUX_AARQ,
    GURUX_READ,
    GURUX_RR_2,
    GURUX_RR_3_PREFIX,
    GURUX_SEGMENT_1,
    GURUX_SEGMENT_2,
    GURUX_SNRM,
    GURUX_UA,
    KMETHY_AARQ,
    KMETHY_AARQ_APDU,
    KMETHY_SNRM,
    KMETHY_UA,
)

METER = HdlcAddress.server(1)


def events(link: HdlcLink) -> list[HdlcEvent]:
    out: list[HdlcEvent] = []
    while (event := link.next_event()) is not None:
        out.append(event)
    return out


def info_of(wire: bytes) -> bytes:
    return decode_frame(wire[1:-1]).info


def frames_in(wire: bytes) -> list[HdlcFrame]:
    decoder = HdlcFrameDecoder()
    decoder.feed(wire)
    out = []
    while (result := decoder.next_result()) is not None:
        assert isinstance(result, FrameDecoded), result
        out.append(result.frame)
    return out


def frame_to(link_source: HdlcAddress, link_destination: HdlcAddress, kind: FrameKind, **fields: object) -> bytes:
    return HdlcFrame(kind, link_destination, link_source, **fields).encode()  # type: ignore[arg-type]


# --- published exchanges, replayed byte for byte ------------------------------------------------


def test_client_reproduces_the_gurux_log_including_the_segment_poll() -> None:
    # Gurux.DLMS.Python against a meter (pastebin.com/Vvs6PqXK): our client, fed the meter's frames,
    # sends exactly the bytes the Gurux client sent.
    client = HdlcClientLink(0x10, METER)
    assert client.connect(0.0) == GURUX_SNRM
    client.receive_data(GURUX_UA, 0.1)
    assert events(client) == [Connected(HdlcParameters(max_info_tx=62, max_info_rx=128))]
    assert client.send_apdu(info_of(GURUX_AARQ)[3:], 0.2) == GURUX_AARQ
    client.receive_data(GURUX_AARE, 0.3)
    assert events(client) == [ApduReceived(info_of(GURUX_AARE)[3:])]
    assert client.state is LinkState.IDLE
    assert client.send_apdu(info_of(GURUX_READ)[3:], 0.4) == GURUX_READ
    client.receive_data(GURUX_SEGMENT_1, 0.5)
    assert events(client) == []
    assert client.data_to_send() == GURUX_RR_2
    client.receive_data(GURUX_SEGMENT_2, 0.6)
    assert client.data_to_send().startswith(GURUX_RR_3_PREFIX)
    assert client.state is LinkState.AWAITING_RESPONSE


def test_client_reproduces_the_green_book_example_with_a_four_byte_server_address() -> None:
    # Kmethy, "Examples for DLMS/COSEM information exchange" (DLMS UA), sections 1-2.
    client = HdlcClientLink(0x10, HdlcAddress(1, 0x11, 4))
    assert client.connect(0.0) == KMETHY_SNRM
    client.receive_data(KMETHY_UA, 0.0)
    assert events(client) == [Connected(HdlcParameters())]
    assert client.send_apdu(KMETHY_AARQ_APDU, 0.0) == KMETHY_AARQ


def test_server_answers_the_green_book_snrm_with_the_green_book_ua() -> None:
    server = HdlcServerLink(HdlcAddress.server(1, 0x11), parameters=HdlcParameters(2030, 2030, 7, 7))
    server.receive_data(KMETHY_SNRM, 0.0)
    assert server.data_to_send() == KMETHY_UA  # echoing the four-byte address the client used
    server.receive_data(KMETHY_AARQ, 0.0)
    assert events(server) == [Connected(HdlcParameters()), ApduReceived(KMETHY_AARQ_APDU)]
    assert server.state is LinkState.POLLED


def test_server_answers_the_gurux_requests_with_the_meters_frames() -> None:
    # The same Gurux log seen from the meter: our AARE frame and first response segment are the
    # meter's bytes, given its segment size (82 bytes) and an APDU starting as the meter's did.
    server = HdlcServerLink(METER, parameters=HdlcParameters(max_info_tx=82, max_info_rx=62))
    server.receive_data(GURUX_SNRM, 0.0)
    assert HdlcParameters.decode(info_of(server.data_to_send())) == HdlcParameters(82, 62, 1, 1)
    server.receive_data(GURUX_AARQ, 0.1)
    assert server.send_apdu(info_of(GURUX_AARE)[3:], 0.1) == GURUX_AARE
    server.receive_data(GURUX_READ, 0.2)
    assert [type(event) for event in events(server)] == [Connected, ApduReceived, ApduReceived]
    response = (info_of(GURUX_SEGMENT_1) + info_of(GURUX_SEGMENT_2))[3:] + bytes(200)
    assert server.send_apdu(response, 0.2) == GURUX_SEGMENT_1
    assert server.state is LinkState.SENDING
    server.receive_data(GURUX_RR_2, 0.3)
    [second] = frames_in(server.data_to_send())
    assert (second.send_seq, second.receive_seq, second.segmented, second.poll_final) == (2, 2, True, True)


# --- both roles in memory ---------------------------------------------------------------------------


class Wire:
    """Shuttles bytes between a client and a server link, cutting every transmission into chunks."""

    def __init__(
        self,
        client: HdlcClientLink,
        server: HdlcServerLink,
        rng: random.Random | None = None,
    ) -> None:
        self.client = client
        self.server = server
        self.rng = rng or random.Random(0)
        self.now = 0.0
        self.client_events: list[HdlcEvent] = []
        self.server_events: list[HdlcEvent] = []

    def deliver(self, data: bytes, to: HdlcLink) -> None:
        position = 0
        while position < len(data):
            size = self.rng.randint(1, 64)
            to.receive_data(data[position : position + size], self.now)
            position += size

    def run(self, client_out: bytes = b"", server_out: bytes = b"", rounds: int = 5000) -> None:
        """Exchange until both sides are quiet (time does not advance)."""
        for _ in range(rounds):
            if client_out:
                self.deliver(client_out, self.server)
            if server_out:
                self.deliver(server_out, self.client)
            self.client_events += events(self.client)
            self.server_events += events(self.server)
            client_out, server_out = self.client.data_to_send(), self.server.data_to_send()
            if not client_out and not server_out:
                return
        raise AssertionError("the links never went quiet")

    def connect(self) -> None:
        self.run(client_out=self.client.connect(self.now))
        assert self.client.state is LinkState.IDLE
        assert self.server.state is LinkState.IDLE

    def apdus(self, side: list[HdlcEvent]) -> list[bytes]:
        return [event.apdu for event in side if isinstance(event, ApduReceived)]


parameter_values = st.builds(
    HdlcParameters,
    max_info_tx=st.integers(32, 300),
    max_info_rx=st.integers(32, 300),
    window_tx=st.integers(1, 7),
    window_rx=st.integers(1, 7),
)


def make_apdu(size: int, seed: int, flaggy: bool) -> bytes:
    """An APDU of ``size`` bytes: random, or drawn from flag, LLC and format bytes only."""
    rng = random.Random(seed)
    if flaggy:
        return bytes(rng.choice((0x7E, 0xE6, 0xE7, 0xA8, 0x00)) for _ in range(size))
    return rng.randbytes(size)


# Sizes are drawn uniformly (hypothesis alone rarely builds kilobyte-long binaries).
apdus = st.builds(make_apdu, st.integers(0, 5 * 1024), st.integers(0, 2**32), st.booleans())


@settings(max_examples=60, deadline=None)
@given(
    client_parameters=parameter_values,
    server_parameters=parameter_values,
    request=apdus,
    response=apdus,
    seed=st.integers(0, 2**32),
)
def test_any_apdu_up_to_5_kib_survives_segmentation_and_chunking_both_ways(
    client_parameters: HdlcParameters,
    server_parameters: HdlcParameters,
    request: bytes,
    response: bytes,
    seed: int,
) -> None:
    wire = Wire(
        HdlcClientLink(0x10, METER, parameters=client_parameters),
        HdlcServerLink(METER, parameters=server_parameters),
        random.Random(seed),
    )
    wire.connect()
    negotiated = wire.client.negotiated
    assert negotiated == wire.server.negotiated.mirrored()
    wire.run(client_out=wire.client.send_apdu(request, wire.now))
    assert wire.apdus(wire.server_events) == [request]
    assert wire.server.state is LinkState.POLLED
    wire.run(server_out=wire.server.send_apdu(response, wire.now))
    assert wire.apdus(wire.client_events) == [response]
    assert wire.client.state is LinkState.IDLE
    assert not [event for event in wire.client_events + wire.server_events if isinstance(event, FrameDropped)]


def test_many_exchanges_wrap_the_sequence_numbers() -> None:
    wire = Wire(HdlcClientLink(0x10, METER), HdlcServerLink(METER))
    wire.connect()
    for number in range(20):
        request = bytes([number]) * (number * 37)
        wire.run(client_out=wire.client.send_apdu(request, wire.now))
        wire.run(server_out=wire.server.send_apdu(request[::-1], wire.now))
    assert wire.apdus(wire.server_events) == [bytes([n]) * (n * 37) for n in range(20)]
    assert wire.apdus(wire.client_events) == [(bytes([n]) * (n * 37))[::-1] for n in range(20)]


def test_disconnect_with_disc_and_ua() -> None:
    wire = Wire(HdlcClientLink(0x10, METER), HdlcServerLink(METER))
    wire.connect()
    wire.run(client_out=wire.client.disconnect(wire.now))
    assert wire.client.state is LinkState.DISCONNECTED
    assert wire.server.state is LinkState.DISCONNECTED
    assert Disconnected(DisconnectCause.LOCAL) in wire.client_events
    assert Disconnected(DisconnectCause.REMOTE) in wire.server_events


def test_server_replies_rr_while_the_application_prepares_the_answer_and_the_client_polls() -> None:
    wire = Wire(HdlcClientLink(0x10, METER, response_timeout_s=1.0), HdlcServerLink(METER))
    wire.connect()
    wire.run(client_out=wire.client.send_apdu(b"request", wire.now))
    assert wire.server.state is LinkState.POLLED
    wire.now = 1.0  # the client gives up waiting and sends its I-frame again
    wire.client.handle_timeout(wire.now)
    wire.run(client_out=wire.client.data_to_send())
    assert wire.server.state is LinkState.IDLE  # it answered RR: the I-frame was a duplicate
    assert wire.client.state is LinkState.IDLE
    assert wire.client.next_deadline() == 2.0  # ... and the client will poll again
    assert wire.server.send_apdu(b"answer", wire.now) == b""  # no poll: queued
    assert wire.server.state is LinkState.SENDING
    wire.now = 2.0
    wire.client.handle_timeout(wire.now)
    wire.run(client_out=wire.client.data_to_send())
    assert wire.apdus(wire.server_events) == [b"request"]
    assert wire.apdus(wire.client_events) == [b"answer"]
    assert not [event for event in wire.server_events if isinstance(event, ApduReceived) and event.apdu != b"request"]


def test_server_retransmits_a_lost_response_when_the_client_repeats_its_request() -> None:
    wire = Wire(HdlcClientLink(0x10, METER, response_timeout_s=1.0), HdlcServerLink(METER))
    wire.connect()
    wire.run(client_out=wire.client.send_apdu(b"request", wire.now))
    lost = wire.server.send_apdu(b"answer", wire.now)  # never reaches the client
    wire.now = 1.0
    wire.client.handle_timeout(wire.now)
    repeated = wire.client.data_to_send()
    assert frames_in(repeated)[0].send_seq == 0  # the same I-frame again
    wire.server.receive_data(repeated, wire.now)
    assert wire.server.data_to_send() == lost  # go-back-N: the unacknowledged answer again
    wire.run(server_out=lost)
    wire.server_events += events(wire.server)
    assert wire.apdus(wire.server_events) == [b"request"]  # not delivered twice
    assert wire.apdus(wire.client_events) == [b"answer"]


# --- client failure paths ------------------------------------------------------------------------


def connected_client(**options: float) -> HdlcClientLink:
    client = HdlcClientLink(0x10, METER, **options)  # type: ignore[arg-type]
    client.connect(0.0)
    client.receive_data(GURUX_UA, 0.0)
    events(client)
    return client


def test_dm_in_answer_to_snrm_is_a_refusal() -> None:
    client = HdlcClientLink(0x10, METER)
    client.connect(0.0)
    client.receive_data(frame_to(METER, HdlcAddress.client(0x10), FrameKind.DM), 0.1)
    assert events(client) == [Disconnected(DisconnectCause.REFUSED)]
    assert client.state is LinkState.DISCONNECTED
    assert client.next_deadline() is None


def test_snrm_is_repeated_on_timeout_then_the_link_is_given_up() -> None:
    client = HdlcClientLink(0x10, METER, response_timeout_s=2.0, max_retries=2)
    snrm = client.connect(10.0)
    assert client.next_deadline() == 12.0
    client.handle_timeout(11.9)
    assert client.data_to_send() == b""
    client.handle_timeout(12.0)
    assert client.data_to_send() == snrm
    client.handle_timeout(14.0)
    assert client.data_to_send() == snrm
    client.handle_timeout(16.0)
    assert events(client) == [Disconnected(DisconnectCause.NO_RESPONSE)]
    assert client.state is LinkState.DISCONNECTED


def test_ua_with_unusable_parameters_fails_the_link() -> None:
    client = HdlcClientLink(0x10, METER)
    client.connect(0.0)
    client.receive_data(frame_to(METER, HdlcAddress.client(0x10), FrameKind.UA, info=b"\x81\x80\x03\x05\x01\x05"), 0)
    assert [type(event) for event in events(client)] == [LinkFailed]
    assert client.state is LinkState.ERROR


def test_frmr_from_the_server_fails_the_link_and_later_calls_raise() -> None:
    client = connected_client()
    client.send_apdu(b"x", 0.0)
    client.receive_data(frame_to(METER, HdlcAddress.client(0x10), FrameKind.FRMR, info=b"\x10\x12\x08"), 0.1)
    [failed] = events(client)
    assert isinstance(failed, LinkFailed)
    assert "101208" in failed.reason
    with pytest.raises(ProtocolError):
        client.send_apdu(b"y", 0.2)
    assert client.state is LinkState.ERROR


def test_dm_while_connected_means_the_server_dropped_the_link() -> None:
    client = connected_client()
    client.send_apdu(b"x", 0.0)
    client.receive_data(frame_to(METER, HdlcAddress.client(0x10), FrameKind.DM), 0.1)
    assert events(client) == [Disconnected(DisconnectCause.PEER_DISCONNECTED)]
    assert client.connect(0.2) == GURUX_SNRM  # the same link object can connect again


def test_frames_for_other_addresses_are_ignored() -> None:
    client = connected_client()
    client.send_apdu(b"x", 0.0)
    other_client = frame_to(METER, HdlcAddress.client(0x11), FrameKind.RR, receive_seq=1)
    other_server = frame_to(HdlcAddress.server(2), HdlcAddress.client(0x10), FrameKind.RR, receive_seq=1)
    client.receive_data(other_client + other_server, 0.1)
    reasons = [event.reason for event in events(client) if isinstance(event, FrameIgnored)]
    assert len(reasons) == 2
    assert "not client 16" in reasons[0]
    assert "not from server" in reasons[1]
    assert client.state is LinkState.AWAITING_RESPONSE


def test_damaged_response_is_dropped_and_recovered_by_the_retransmission_poll() -> None:
    client = connected_client(response_timeout_s=1.0)
    sent = client.send_apdu(b"request", 0.0)
    good = frame_to(METER, HdlcAddress.client(0x10), FrameKind.I, receive_seq=1, info=LLC_RESPONSE + b"answer")
    damaged = bytearray(good)
    damaged[-4] ^= 0xFF
    client.receive_data(bytes(damaged), 0.1)
    assert [type(event) for event in events(client)] == [FrameDropped]
    client.handle_timeout(1.0)
    assert client.data_to_send() == sent  # unacknowledged: the I-frame again
    client.receive_data(good, 1.1)
    assert events(client) == [ApduReceived(b"answer")]


def test_out_of_sequence_information_frame_is_dropped_and_the_expected_one_asked_for() -> None:
    client = connected_client()
    client.send_apdu(b"request", 0.0)
    skipped = frame_to(METER, HdlcAddress.client(0x10), FrameKind.I, send_seq=1, receive_seq=1, info=LLC_RESPONSE)
    client.receive_data(skipped, 0.1)
    [ignored] = events(client)
    assert isinstance(ignored, FrameIgnored)
    assert "N(S)=1 out of sequence, expected 0" in ignored.reason
    [rr] = frames_in(client.data_to_send())
    assert (rr.kind, rr.receive_seq, rr.poll_final) == (FrameKind.RR, 0, True)


def test_acknowledging_frames_never_sent_fails_the_client() -> None:
    client = connected_client()
    client.send_apdu(b"request", 0.0)
    client.receive_data(frame_to(METER, HdlcAddress.client(0x10), FrameKind.RR, receive_seq=3), 0.1)
    [failed] = events(client)
    assert isinstance(failed, LinkFailed)
    assert "never sent" in failed.reason


def test_information_field_longer_than_negotiated_fails_the_client() -> None:
    client = connected_client()  # negotiated: receive at most 128
    client.send_apdu(b"request", 0.0)
    big = frame_to(METER, HdlcAddress.client(0x10), FrameKind.I, receive_seq=1, info=LLC_RESPONSE + bytes(126))
    client.receive_data(big, 0.1)
    assert [type(event) for event in events(client)] == [LinkFailed]


def test_reassembly_beyond_the_apdu_bound_fails_the_client() -> None:
    client = connected_client(max_apdu_length=200)
    client.send_apdu(b"request", 0.0)
    for number in range(3):
        segment = frame_to(
            METER,
            HdlcAddress.client(0x10),
            FrameKind.I,
            send_seq=number,
            receive_seq=1,
            info=bytes(100),
            segmented=True,
        )
        client.receive_data(segment, 0.1)
    assert [type(event) for event in events(client)] == [LinkFailed]
    assert client.state is LinkState.ERROR


def test_data_without_the_llc_header_is_not_delivered() -> None:
    client = connected_client()
    client.send_apdu(b"request", 0.0)
    client.receive_data(frame_to(METER, HdlcAddress.client(0x10), FrameKind.I, receive_seq=1, info=b"\x61\x00"), 0.1)
    [ignored] = events(client)
    assert isinstance(ignored, FrameIgnored)
    assert "LLC" in ignored.reason


def test_rnr_makes_the_client_wait_then_poll() -> None:
    client = connected_client(response_timeout_s=1.0)
    client.send_apdu(b"request", 0.0)
    client.receive_data(frame_to(METER, HdlcAddress.client(0x10), FrameKind.RNR, receive_seq=1), 0.5)
    assert client.data_to_send() == b""
    assert client.next_deadline() == 1.5
    client.handle_timeout(1.5)
    [poll] = frames_in(client.data_to_send())
    assert (poll.kind, poll.poll_final, poll.receive_seq) == (FrameKind.RR, True, 0)


def test_unnumbered_information_is_delivered_in_any_state() -> None:
    client = HdlcClientLink(0x10, METER)
    client.receive_data(frame_to(METER, HdlcAddress.client(0x10), FrameKind.UI, info=LLC_RESPONSE + b"push"), 0)
    assert events(client) == [ApduReceived(b"push", unnumbered=True)]


def test_apdu_over_the_bound_is_refused_before_anything_is_sent() -> None:
    client = connected_client(max_apdu_length=10)
    with pytest.raises(EncodeError):
        client.send_apdu(bytes(11), 0.0)
    assert client.state is LinkState.IDLE


def test_partial_frame_is_discarded_after_the_inter_frame_timeout() -> None:
    client = connected_client(inter_frame_timeout_s=0.5, response_timeout_s=5.0)
    client.send_apdu(b"request", 0.0)
    client.receive_data(GURUX_SEGMENT_1[:30], 1.0)
    assert client.next_deadline() == 1.5
    client.handle_timeout(1.5)
    [dropped] = events(client)
    assert isinstance(dropped, FrameDropped)
    assert "inter-frame" in dropped.reason
    assert client.next_deadline() == 5.0


# --- server failure paths -------------------------------------------------------------------------


def test_disconnected_server_answers_dm_to_everything_but_snrm() -> None:
    server = HdlcServerLink(METER)
    for kind, fields in ((FrameKind.DISC, {}), (FrameKind.I, {"info": LLC_COMMAND}), (FrameKind.RR, {})):
        server.receive_data(frame_to(HdlcAddress.client(0x10), METER, kind, **fields), 0.0)
        [dm] = frames_in(server.data_to_send())
        assert (dm.kind, dm.destination, dm.source) == (FrameKind.DM, HdlcAddress.client(0x10), METER)
    server.receive_data(frame_to(HdlcAddress.client(0x10), METER, FrameKind.RR, poll_final=False), 0.0)
    assert server.data_to_send() == b""  # no poll, no answer


def test_snrm_with_unusable_parameters_is_refused_with_dm() -> None:
    server = HdlcServerLink(METER)
    server.receive_data(frame_to(HdlcAddress.client(0x10), METER, FrameKind.SNRM, info=b"\x81\x80\x03\x07\x01\x09"), 0)
    [dm] = frames_in(server.data_to_send())
    assert dm.kind is FrameKind.DM
    assert server.state is LinkState.DISCONNECTED


def connected_server(**options: float) -> HdlcServerLink:
    server = HdlcServerLink(METER, **options)  # type: ignore[arg-type]
    server.receive_data(GURUX_SNRM, 0.0)
    server.data_to_send()
    events(server)
    return server


def test_invalid_nr_puts_the_server_in_frame_reject_until_snrm() -> None:
    server = connected_server()
    server.receive_data(frame_to(HdlcAddress.client(0x10), METER, FrameKind.RR, receive_seq=5), 0.1)
    [frmr] = frames_in(server.data_to_send())
    assert (frmr.kind, frmr.info) == (FrameKind.FRMR, bytes([0xB1, 0x10, 0x08]))  # Z: invalid N(R)
    assert [type(event) for event in events(server)] == [LinkFailed]
    server.receive_data(frame_to(HdlcAddress.client(0x10), METER, FrameKind.RR), 0.2)
    assert frames_in(server.data_to_send())[0].kind is FrameKind.FRMR  # every poll, until reset
    assert server.send_apdu(b"late answer", 0.2) == b""  # nowhere to go, not an error
    server.receive_data(GURUX_SNRM, 0.3)
    assert frames_in(server.data_to_send())[0].kind is FrameKind.UA
    assert server.state is LinkState.IDLE


def test_information_field_longer_than_negotiated_is_rejected_by_the_server() -> None:
    server = connected_server()
    server.receive_data(frame_to(HdlcAddress.client(0x10), METER, FrameKind.I, info=bytes(129)), 0.1)
    [frmr] = frames_in(server.data_to_send())
    assert frmr.kind is FrameKind.FRMR
    assert frmr.info[2] == 0x04  # Y: information field too long
    assert server.state is LinkState.FRAME_REJECT


def test_reassembly_beyond_the_apdu_bound_is_rejected_by_the_server() -> None:
    server = connected_server(max_apdu_length=150)
    for number in range(2):
        server.receive_data(
            frame_to(HdlcAddress.client(0x10), METER, FrameKind.I, send_seq=number, info=bytes(100), segmented=True),
            0.1,
        )
    assert server.state is LinkState.FRAME_REJECT


def test_server_ignores_other_servers_and_other_clients() -> None:
    server = connected_server()
    server.receive_data(frame_to(HdlcAddress.client(0x10), HdlcAddress.server(2), FrameKind.RR), 0.1)
    server.receive_data(frame_to(HdlcAddress.client(0x20), METER, FrameKind.RR), 0.1)
    server.receive_data(frame_to(HdlcAddress.server(1), METER, FrameKind.RR), 0.1)
    assert [type(event) for event in events(server)] == [FrameIgnored, FrameIgnored, FrameIgnored]
    assert server.data_to_send() == b""


def test_server_accepts_only_the_configured_clients() -> None:
    server = HdlcServerLink(METER, accept_clients=frozenset({0x20}))
    server.receive_data(GURUX_SNRM, 0.0)  # client 0x10
    assert server.data_to_send() == b""
    assert server.state is LinkState.DISCONNECTED


def test_server_drops_the_link_after_the_inactivity_timeout() -> None:
    server = connected_server(inactivity_timeout_s=30.0)
    assert server.next_deadline() == 30.0
    server.receive_data(frame_to(HdlcAddress.client(0x10), METER, FrameKind.RR), 10.0)
    server.data_to_send()
    assert server.next_deadline() == 40.0
    server.handle_timeout(39.0)
    assert server.state is LinkState.IDLE
    server.handle_timeout(40.0)
    assert events(server) == [Disconnected(DisconnectCause.INACTIVITY)]
    server.receive_data(frame_to(HdlcAddress.client(0x10), METER, FrameKind.RR), 41.0)
    assert frames_in(server.data_to_send())[0].kind is FrameKind.DM


def test_snrm_on_a_connected_link_resets_it() -> None:
    server = connected_server()
    server.receive_data(GURUX_AARQ, 0.1)
    events(server)
    server.receive_data(GURUX_SNRM, 0.2)
    assert events(server) == [Disconnected(DisconnectCause.LINK_RESET), Connected(HdlcParameters())]
    assert server.state is LinkState.IDLE


def test_server_has_no_connect_input() -> None:
    server = HdlcServerLink(METER)
    with pytest.raises(ProtocolError):
        server.connect(0.0)
    assert server.state is LinkState.ERROR
    with pytest.raises(ProtocolError):
        server.disconnect(0.0)


def test_server_send_queue_is_bounded() -> None:
    server = connected_server(max_apdu_length=100)
    server.send_apdu(bytes(100), 0.0)
    server.send_apdu(bytes(100), 0.0)
    with pytest.raises(ProtocolError, match="send queue full"):
        server.send_apdu(bytes(10), 0.0)
    assert server.state is LinkState.SENDING  # still usable: the client's next poll drains it


def test_server_local_disconnect_is_silent() -> None:
    server = connected_server()
    assert server.disconnect(1.0) == b""
    assert events(server) == [Disconnected(DisconnectCause.LOCAL)]


class LossyWire(Wire):
    """Loses or damages whole transmissions; time moves on when both sides are quiet."""

    def __init__(self, client: HdlcClientLink, server: HdlcServerLink, rng: random.Random, loss: float) -> None:
        super().__init__(client, server, rng)
        self.loss = loss

    def deliver(self, data: bytes, to: HdlcLink) -> None:
        roll = self.rng.random()
        if roll < self.loss:
            return
        if roll < 1.5 * self.loss:
            damaged = bytearray(data)
            damaged[self.rng.randrange(len(damaged))] ^= 1 << self.rng.randrange(8)
            data = bytes(damaged)
        super().deliver(data, to)

    def settle(self, client_out: bytes = b"", server_out: bytes = b"", done: object = None) -> None:
        for _ in range(400):
            self.run(client_out, server_out)
            client_out = server_out = b""
            if done is not None and callable(done) and done():
                return
            deadlines = [d for d in (self.client.next_deadline(), self.server.next_deadline()) if d is not None]
            if not deadlines:
                return
            self.now = min(deadlines)
            self.client.handle_timeout(self.now)
            self.server.handle_timeout(self.now)
            client_out, server_out = self.client.data_to_send(), self.server.data_to_send()


@settings(max_examples=40, deadline=None)
@given(
    seed=st.integers(0, 2**32),
    request=st.builds(make_apdu, st.integers(0, 1500), st.integers(0, 2**32), st.booleans()),
    response=st.builds(make_apdu, st.integers(0, 1500), st.integers(0, 2**32), st.booleans()),
)
def test_lost_and_damaged_frames_never_corrupt_or_duplicate_an_apdu(seed: int, request: bytes, response: bytes) -> None:
    client = HdlcClientLink(0x10, METER, response_timeout_s=1.0, max_retries=4)
    server = HdlcServerLink(METER, inactivity_timeout_s=1000.0)
    wire = LossyWire(client, server, random.Random(seed), loss=0.1)
    wire.settle(client_out=client.connect(0.0), done=lambda: client.state is not LinkState.CONNECTING)
    if client.state is not LinkState.IDLE:
        return  # gave up connecting: allowed, and reported
    wire.settle(
        client_out=client.send_apdu(request, wire.now),
        done=lambda: server.state is LinkState.POLLED or client.state is not LinkState.AWAITING_RESPONSE,
    )
    if server.state is LinkState.POLLED:
        wire.settle(server_out=server.send_apdu(response, wire.now), done=lambda: wire.apdus(wire.client_events))
    else:
        wire.settle(done=lambda: server.state is LinkState.POLLED)
        if server.state is LinkState.POLLED:
            server.send_apdu(response, wire.now)
            wire.settle(done=lambda: wire.apdus(wire.client_events))
    assert wire.apdus(wire.server_events) in ([], [request])
    assert wire.apdus(wire.client_events) in ([], [response])
    lost = [event for event in wire.client_events if isinstance(event, Disconnected | LinkFailed)]
    if not lost and client.state is not LinkState.ERROR:
        assert wire.apdus(wire.client_events) == [response]
