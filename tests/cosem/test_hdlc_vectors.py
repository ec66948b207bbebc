"""Published HDLC frames (IEC 62056-46), each group with its source, and the frame-level tests on them.

Only bytes are taken from these sources (facts), as hex strings with the flags included. The other
HDLC tests import the frames from here.
"""

from __future__ import annotations

import pytest

from openprepaid.cosem.hdlc_frame import (
    LLC_COMMAND,
    LLC_RESPONSE,
    FrameKind,
    HdlcAddress,
    decode_frame,
    fcs16,
    fcs16_bytes,
)
from openprepaid.cosem.hdlc_parameters import HdlcParameters


def frame(text: str) -> bytes:
    return bytes.fromhex(text.replace(" ", ""))


# "Examples for DLMS/COSEM information exchange", prepared by Gyozo Kmethy (DLMS User Association),
# sections 1 and 2: SNRM/UA with HDLC parameter negotiation, then the AARQ in an I-frame. Client
# 0x10; server upper HDLC address 0x0001, lower 0x0011, on four bytes. The AARQ's HCS is 7E CB.
KMETHY_SNRM = frame("7EA00A00020023219318717E")
KMETHY_UA = frame("7EA023210002002373F6C58180140502008006020080070400000001080400000001CE6A7E")
KMETHY_AARQ = frame("7EA02E0002002321107ECBE6E600601DA109060760857405080101BE10040E01000000065F1F040000301DFFFFD4C57E")
KMETHY_AARQ_APDU = frame("601DA109060760857405080101BE10040E01000000065F1F040000301DFFFF")

# A Gurux.DLMS.Python 1.0.64 client log against a meter (pastebin.com/Vvs6PqXK): public client 0x10,
# server 1 on one byte. The meter's UA limits what it receives to 62 bytes (06 01 3E); its reply to
# the read is segmented (A8) and the client asks for the next segment with RR N(R)=2 (control 51).
GURUX_SNRM = frame("7E A0 07 03 21 93 0F 01 7E")
GURUX_UA = frame("7E A0 1E 21 03 73 C3 7A 81 80 12 05 01 80 06 01 3E 07 04 00 00 00 01 08 04 00 00 00 01 07 22 7E")
GURUX_AARQ = frame(
    "7E A0 2B 03 21 10 FB AF E6 E6 00 60 1D A1 09 06 07 60 85 74 05 08 01 02 BE 10 04 0E 01 00 00 00 06"
    " 5F 1F 04 00 1C 03 20 FF FF 80 AB 7E"
)
GURUX_AARE = frame(
    "7E A0 37 21 03 30 6C 7C E6 E7 00 61 28 A1 09 06 07 60 85 74 05 08 01 02 A2 03 02 01 00 A3 05 A1 03"
    " 02 01 00 BE 0F 04 0D 08 00 06 5F 1F 04 00 18 02 20 09 60 FA 00 0A A8 7E"
)
GURUX_READ = frame("7E A0 11 03 21 32 B7 3D E6 E6 00 05 01 02 FA 08 18 9E 7E")
GURUX_SEGMENT_1 = frame(
    "7E A8 5B 21 03 52 88 68 E6 E7 00 0C 01 00 01 82 01 25 02 04 10 00 10 12 27 16 11 03 09 06 00 00 F0"
    " 0D 00 FF 02 04 10 00 E8 12 27 12 11 07 09 06 00 00 F0 00 00 FF 02 04 10 01 50 12 27 60 11 04 09 06"
    " 00 00 F0 0F FF FF 02 04 10 04 10 12 00 03 11 00 09 06 00 00 61 61 00 FF 4E F7 7E"
)
GURUX_RR_2 = frame("7E A0 07 03 21 51 11 E4 7E")
GURUX_SEGMENT_2 = frame(
    "7E A8 51 21 03 54 10 D1 02 04 10 48 A0 12 00 03 11 00 09 06 00 00 60 F0 0C FF 02 04 10 2B C0 12 00"
    " 08 11 00 09 06 00 00 01 00 00 FF 02 04 10 C7 38 12 00 14 11 00 09 06 00 00 0D 00 00 FF 02 04 10 C8"
    " 00 12 00 0B 11 00 09 06 00 00 0B 00 00 FF 74 C6 7E"
)
GURUX_RR_3_PREFIX = frame("7E A0 07 03 21 71")  # the log is cut after the control byte

# A GXDLMSDirector log (pastebin.com/BS3unhaZ): client 1, server upper 1 / lower 0x11 on two bytes.
# The response's HCS is 2C 7E and it arrived after a stray flag, in several reads.
DIRECTOR_GET = frame("7E A0 1A 02 23 03 98 25 68 E6 E6 00 C0 01 C1 00 1B 00 00 02 00 00 FF 02 00 8E 3F 7E")
DIRECTOR_RESPONSE_7E_IN_HCS = frame("7E A0 13 03 02 23 B8 2C 7E E6 E7 00 C4 01 C1 00 16 00 13 00 7E")

# A meter log with a four-byte server address 00 02 88 EB (upper 1, lower 8821) and client 0x20,
# proposing 1500-byte information fields (pastebin.com/7HTFDmEv); the UA answers 248/62 on one byte.
FOUR_BYTE_SNRM = frame("7EA023000288EB41931932818014050205DC060205DC070400000001080400000001A90D7E")
FOUR_BYTE_UA = frame("7EA02141000288EB73B8BB8180120501F806013E070400000001080400000001480E7E")

# A client proposing 2030-byte information fields to server 1/0x11 (gist.github.com/knogi/d64dec10...);
# the meter answers 128 both ways.
KNOGI_SNRM = frame(
    "7E A0 21 02 23 0B 93 0B 8B 81 80 14 05 02 07 EE 06 02 07 EE 07 04 00 00 00 01 08 04 00 00 00 01 B5 D4 7E"
)
KNOGI_UA = frame(
    "7E A0 21 0B 02 23 73 72 21 81 80 14 05 02 00 80 06 02 00 80 07 04 00 00 00 01 08 04 00 00 00 01 CE 6A 7E"
)

ALL_PUBLISHED = {
    "kmethy_snrm": KMETHY_SNRM,
    "kmethy_ua": KMETHY_UA,
    "kmethy_aarq": KMETHY_AARQ,
    "gurux_snrm": GURUX_SNRM,
    "gurux_ua": GURUX_UA,
    "gurux_aarq": GURUX_AARQ,
    "gurux_aare": GURUX_AARE,
    "gurux_read": GURUX_READ,
    "gurux_segment_1": GURUX_SEGMENT_1,
    "gurux_rr_2": GURUX_RR_2,
    "gurux_segment_2": GURUX_SEGMENT_2,
    "director_get": DIRECTOR_GET,
    "director_response": DIRECTOR_RESPONSE_7E_IN_HCS,
    "four_byte_snrm": FOUR_BYTE_SNRM,
    "four_byte_ua": FOUR_BYTE_UA,
    "knogi_snrm": KNOGI_SNRM,
    "knogi_ua": KNOGI_UA,
}


# --- tests over the published frames ------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(ALL_PUBLISHED))
def test_every_published_frame_decodes_and_encodes_back_byte_for_byte(name: str) -> None:
    wire = ALL_PUBLISHED[name]
    decoded = decode_frame(wire[1:-1])
    assert decoded.encode() == wire


def test_crc16_x25_check_value() -> None:
    # The CRC catalogue check value of CRC-16/IBM-SDLC (alias X-25, the FCS-16 of ISO/IEC 13239)
    # over the ASCII digits "123456789" is 0x906E (reveng CRC catalogue; also the crc crate docs).
    assert fcs16(b"123456789") == 0x906E
    assert fcs16_bytes(b"123456789") == b"\x6e\x90"


def test_crc16_of_a_frame_including_its_fcs_leaves_the_good_residue() -> None:
    # The FCS-16 residue of ISO/IEC 13239 (RFC 1662 "good final FCS" 0xF0B8, before the final
    # complement): checking a whole frame body including its FCS gives the complemented residue.
    for wire in ALL_PUBLISHED.values():
        assert fcs16(wire[1:-1]) ^ 0xFFFF == 0xF0B8


def test_kmethy_snrm_fields() -> None:
    snrm = decode_frame(KMETHY_SNRM[1:-1])
    assert snrm.kind is FrameKind.SNRM
    assert snrm.destination == HdlcAddress(upper=1, lower=0x11, size=4)
    assert snrm.source == HdlcAddress.client(0x10)
    assert snrm.poll_final
    assert snrm.info == b""  # no information field, so no HCS: the defaults are proposed


def test_kmethy_ua_parameters() -> None:
    ua = decode_frame(KMETHY_UA[1:-1])
    assert ua.kind is FrameKind.UA
    assert (ua.destination, ua.source) == (HdlcAddress.client(0x10), HdlcAddress(1, 0x11, 4))
    assert HdlcParameters.decode(ua.info) == HdlcParameters(128, 128, 1, 1)
    # The Green Book's UA spells every parameter out: lengths on 2 bytes, windows on 4.
    assert HdlcParameters(128, 128, 1, 1).encode() == ua.info


def test_kmethy_aarq_information_frame_has_a_flag_byte_in_its_hcs() -> None:
    aarq = decode_frame(KMETHY_AARQ[1:-1])
    assert KMETHY_AARQ[9:11] == b"\x7e\xcb"
    assert (aarq.kind, aarq.send_seq, aarq.receive_seq, aarq.poll_final) == (FrameKind.I, 0, 0, True)
    assert aarq.info == LLC_COMMAND + KMETHY_AARQ_APDU


def test_gurux_segmented_reply_and_receive_ready() -> None:
    first = decode_frame(GURUX_SEGMENT_1[1:-1])
    assert (first.segmented, first.send_seq, first.receive_seq) == (True, 1, 2)
    assert first.info[:3] == LLC_RESPONSE  # the LLC header opens the first segment only
    second = decode_frame(GURUX_SEGMENT_2[1:-1])
    assert (second.segmented, second.send_seq, second.receive_seq) == (True, 2, 2)
    assert second.info[:3] != LLC_RESPONSE
    rr = decode_frame(GURUX_RR_2[1:-1])
    assert (rr.kind, rr.receive_seq, rr.poll_final, rr.info) == (FrameKind.RR, 2, True, b"")


def test_two_and_four_byte_server_addresses() -> None:
    response = decode_frame(DIRECTOR_RESPONSE_7E_IN_HCS[1:-1])
    assert response.source == HdlcAddress(1, 0x11, 2)
    assert HdlcAddress.server(1, 0x11).encode() == b"\x02\x23"
    snrm = decode_frame(FOUR_BYTE_SNRM[1:-1])
    assert snrm.destination == HdlcAddress(1, 8821, 4)
    assert HdlcAddress.server(1, 8821).encode() == b"\x00\x02\x88\xeb"
    assert HdlcAddress.server(1, 0x11, size=4).encode() == b"\x00\x02\x00\x23"


def test_published_parameter_fields_with_one_byte_values() -> None:
    assert HdlcParameters.decode(decode_frame(GURUX_UA[1:-1]).info) == HdlcParameters(128, 62, 1, 1)
    assert HdlcParameters.decode(decode_frame(FOUR_BYTE_UA[1:-1]).info) == HdlcParameters(248, 62, 1, 1)
    assert HdlcParameters.decode(decode_frame(KNOGI_SNRM[1:-1]).info) == HdlcParameters(2030, 2030, 1, 1)
