"""Framing interop with independent peers (out of process): gurux-dlms and dlms-cosem 25.1.0.

* gurux-dlms (GXDLMSClient, HDLC interface) runs a whole link against our server: SNRM with
  parameters, an AARQ segmented to 32-byte information fields, our segmented response fetched with
  its own RR frames, DISC. The peer keeps no state between runs, so each run replays the session
  from the start with our replies so far; our server is fed gurux's frames and answers for real. The
  RR and DISC frames gurux will send later are predicted to drive our server, and the last run
  checks that gurux sent exactly those bytes (so the replay equals a live exchange).
* dlms-cosem's HDLC frame classes and wrapper PDU encode frames that we decode field for field (and
  re-encode to the same bytes), and decode the frames we encode.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from openprepaid.cosem.hdlc_frame import LLC_COMMAND, LLC_RESPONSE, FrameKind, HdlcAddress, HdlcFrame, decode_frame
from openprepaid.cosem.hdlc_link import ApduReceived, Connected, DisconnectCause, Disconnected, HdlcEvent, LinkState
from openprepaid.cosem.hdlc_parameters import HdlcParameters
from openprepaid.cosem.hdlc_server import HdlcServerLink
from openprepaid.cosem.wrapper import WrapperDecoder, WrapperFrame
from tests.interop.peer_env import run_peer

GURUX = "framing_gurux.py"
DLMS_COSEM = "framing_dlms_cosem.py"

# A GET response (Get-Response-Normal, invoke-id C1, data: octet-string of 180 bytes full of flag
# bytes) that gurux parses as an application PDU once it has reassembled it.
LONG_RESPONSE = bytes.fromhex("c401c1000981b4") + bytes([0x7E, 0xA0, 0x7E, 0x55]) * 45


def events(server: HdlcServerLink) -> list[HdlcEvent]:
    out = []
    while (event := server.next_event()) is not None:
        out.append(event)
    return out


def frame_of(hex_text: str) -> HdlcFrame:
    wire = bytes.fromhex(hex_text)
    return decode_frame(wire[1:-1])


class GuruxCase:
    """One gurux client session against one of our servers, built up over the peer runs."""

    def __init__(self, settings: dict[str, Any], server_address: HdlcAddress) -> None:
        self.settings = {**settings, "maxInfoTX": 32, "maxInfoRX": 40}
        self.server = HdlcServerLink(server_address, parameters=HdlcParameters(2030, 2030, 1, 1))
        self.steps: list[dict[str, Any]] = [{"do": "snrm"}]
        self.expected_rr: list[bytes] = []
        self.expected_disc = b""
        self.client_address = HdlcAddress.client(0)  # as gurux encodes them, from its SNRM
        self.server_as_called = server_address

    def request(self) -> dict[str, Any]:
        return {"op": "session", "settings": self.settings, "steps": list(self.steps)}


def run_sessions(cases: list[GuruxCase]) -> list[list[dict[str, Any]]]:
    replies = run_peer(GURUX, [case.request() for case in cases])
    for reply in replies:
        assert reply["ok"], reply
    return [list(reply["outputs"]) for reply in replies]


GURUX_CASES = [
    ({"client": 16, "server_logical": 1, "server_physical": 17}, HdlcAddress.server(1, 17)),
    ({"client": 16, "server_logical": 1, "server_physical": 17, "address_size": 4}, HdlcAddress(1, 17, 4)),
    ({"client": 0x20, "server_logical": 1}, HdlcAddress.server(1)),
]


def test_gurux_client_runs_segmented_sessions_against_our_server(peers: Path) -> None:
    cases = [GuruxCase(settings, address) for settings, address in GURUX_CASES]

    # Run 1: gurux's SNRM (with its parameters) -> our UA.
    for case, outputs in zip(cases, run_sessions(cases), strict=True):
        snrm = frame_of(outputs[0]["hex"])
        assert snrm.kind is FrameKind.SNRM
        assert snrm.destination.matches(case.server.server_address)
        assert HdlcParameters.decode(snrm.info) == HdlcParameters(32, 40, 1, 1)
        case.server.receive_data(bytes.fromhex(outputs[0]["hex"]), 0.0)
        assert events(case.server) == [Connected(HdlcParameters(max_info_tx=40, max_info_rx=32))]
        case.steps += [{"do": "receive", "hex": case.server.data_to_send().hex()}, {"do": "parse_ua"}, {"do": "aarq"}]
        case.client_address, case.server_as_called = snrm.source, snrm.destination

    # Run 2: gurux parses our UA and segments its AARQ to 32 bytes; our server reassembles it,
    # answering RR to each segment, then answers with a response segmented to the 40 bytes gurux
    # receives. The RR frames that fetch each next segment are built here and checked in run 3.
    for case, outputs in zip(cases, run_sessions(cases), strict=True):
        assert outputs[2] == {"max_info_tx": 32, "max_info_rx": 40, "window_tx": 1, "window_rx": 1}
        aarq_frames = [bytes.fromhex(text) for text in outputs[3]["frames"]]
        assert len(aarq_frames) >= 2
        assert all(frame_of(wire.hex()).segmented for wire in aarq_frames[:-1])
        expected_aarq = b"".join(frame_of(wire.hex()).info for wire in aarq_frames)
        assert expected_aarq.startswith(LLC_COMMAND + b"\x60")
        for index, wire in enumerate(aarq_frames):
            case.server.receive_data(wire, 0.1)
            if index < len(aarq_frames) - 1:
                rr = case.server.data_to_send()
                assert (frame_of(rr.hex()).kind, frame_of(rr.hex()).receive_seq) == (FrameKind.RR, index + 1)
                case.steps.append({"do": "receive", "hex": rr.hex()})
        assert events(case.server) == [ApduReceived(expected_aarq[3:])]
        assert case.server.state is LinkState.POLLED
        segment = case.server.send_apdu(LONG_RESPONSE, 0.2)
        while True:
            case.steps.append({"do": "receive", "hex": segment.hex()})
            if not frame_of(segment.hex()).segmented:
                break
            case.steps.append({"do": "rr"})
            rr = HdlcFrame(
                FrameKind.RR,
                case.server_as_called,
                case.client_address,
                receive_seq=(frame_of(segment.hex()).send_seq + 1) % 8,
            ).encode()
            case.expected_rr.append(rr)
            case.server.receive_data(rr, 0.3)
            segment = case.server.data_to_send()
        assert len(case.expected_rr) == -(-(len(LLC_RESPONSE) + len(LONG_RESPONSE)) // 40) - 1
        case.expected_disc = HdlcFrame(
            FrameKind.DISC,
            case.server_as_called,
            case.client_address,
        ).encode()
        case.server.receive_data(case.expected_disc, 0.4)
        assert events(case.server) == [Disconnected(DisconnectCause.REMOTE)]
        ua = case.server.data_to_send()
        assert frame_of(ua.hex()).kind is FrameKind.UA
        case.steps += [{"do": "disc"}, {"do": "receive", "hex": ua.hex()}]

    # Run 3: the whole session. gurux's own RR and DISC frames are the ones our server answered,
    # it accepted every frame of ours, and it reassembled and parsed the response (its parser
    # consumes the Get-Response-Normal header C4 01 C1 00 and returns the data).
    for case, outputs in zip(cases, run_sessions(cases), strict=True):
        produced = [step_output for step, step_output in zip(case.steps, outputs, strict=True) if step["do"] == "rr"]
        assert [bytes.fromhex(output["hex"]) for output in produced] == case.expected_rr
        assert bytes.fromhex(outputs[-2]["hex"]) == case.expected_disc
        received = [output for step, output in zip(case.steps, outputs, strict=True) if step["do"] == "receive"]
        assert all(output["complete"] for output in received), received
        completed = [output["data"] for output in received if output["data"]]
        assert LONG_RESPONSE[4:].hex() in completed


# --- dlms-cosem's frame classes -------------------------------------------------------------------

CLIENT16 = {"logical": 16, "physical": None, "type": "client"}
SERVER1 = {"logical": 1, "physical": None, "type": "server"}
SERVER1_17 = {"logical": 1, "physical": 17, "type": "server"}
SERVER1_17_FOUR = {"logical": 1, "physical": 17, "type": "server", "extended": True}
FLAGGY = (LLC_RESPONSE + bytes([0x7E]) * 5 + bytes(range(0x70, 0x90))).hex()

DLMS_COSEM_FRAMES: list[dict[str, Any]] = [
    {"kind": "SNRM", "destination": SERVER1, "source": CLIENT16},
    {"kind": "SNRM", "destination": SERVER1_17, "source": CLIENT16},
    {"kind": "UA", "destination": CLIENT16, "source": SERVER1_17, "payload": HdlcParameters(256, 128).encode().hex()},
    {"kind": "UA", "destination": CLIENT16, "source": SERVER1},
    {"kind": "I", "destination": SERVER1, "source": CLIENT16, "payload": (LLC_COMMAND + b"\xc0\x01").hex()},
    {"kind": "I", "destination": CLIENT16, "source": SERVER1_17, "payload": FLAGGY, "ssn": 3, "rsn": 5},
    {"kind": "I", "destination": CLIENT16, "source": SERVER1, "payload": FLAGGY, "ssn": 7, "rsn": 7, "segmented": True},
    {"kind": "I", "destination": CLIENT16, "source": SERVER1, "payload": "7e7e", "segmented": True, "final": False},
    {"kind": "RR", "destination": SERVER1, "source": CLIENT16, "rsn": 0},
    {"kind": "RR", "destination": SERVER1_17, "source": CLIENT16, "rsn": 6},
    {"kind": "DISC", "destination": SERVER1, "source": CLIENT16},
    {"kind": "UI", "destination": CLIENT16, "source": SERVER1, "payload": FLAGGY},
]


def our_address(spec: dict[str, Any]) -> HdlcAddress:
    if spec["type"] == "client":
        return HdlcAddress.client(spec["logical"])
    return HdlcAddress.server(spec["logical"], spec["physical"], 4 if spec.get("extended") else None)


def our_frame(spec: dict[str, Any]) -> HdlcFrame:
    return HdlcFrame(
        FrameKind(spec["kind"]),
        our_address(spec["destination"]),
        our_address(spec["source"]),
        poll_final=spec.get("final", True),
        send_seq=spec.get("ssn", 0),
        receive_seq=spec.get("rsn", 0),
        info=bytes.fromhex(spec.get("payload", "")),
        segmented=spec.get("segmented", False),
    )


def test_dlms_cosem_frames_decode_field_for_field_and_encode_to_the_same_bytes(peers: Path) -> None:
    replies = run_peer(DLMS_COSEM, [{"op": "encode", **spec} for spec in DLMS_COSEM_FRAMES])
    for spec, reply in zip(DLMS_COSEM_FRAMES, replies, strict=True):
        assert reply["ok"], reply
        wire = bytes.fromhex(reply["hex"])
        expected = our_frame(spec)
        assert decode_frame(wire[1:-1]) == expected, spec
        assert expected.encode() == wire, spec


OUR_FRAMES = [
    HdlcFrame(FrameKind.UA, HdlcAddress.client(16), HdlcAddress.server(1, 17), info=HdlcParameters().encode()),
    HdlcFrame(FrameKind.UA, HdlcAddress.client(16), HdlcAddress(1, 17, 4)),
    HdlcFrame(FrameKind.I, HdlcAddress.client(16), HdlcAddress.server(1), True, 2, 3, bytes.fromhex(FLAGGY)),
    HdlcFrame(FrameKind.I, HdlcAddress.client(16), HdlcAddress(1, 17, 4), False, 5, 1, bytes(300), segmented=True),
    HdlcFrame(FrameKind.RR, HdlcAddress.client(16), HdlcAddress.server(1), receive_seq=4),
    HdlcFrame(FrameKind.DISC, HdlcAddress.server(1), HdlcAddress.client(16)),
    HdlcFrame(FrameKind.UI, HdlcAddress.client(16), HdlcAddress.server(1, 17), info=LLC_RESPONSE + b"\x0f\x7e"),
]


def peer_fields(address: HdlcAddress) -> dict[str, Any]:
    return {"logical": address.upper, "physical": address.lower}


def test_our_frames_decode_in_dlms_cosem(peers: Path) -> None:
    requests = [{"op": "decode", "kind": frame.kind.value, "hex": frame.encode().hex()} for frame in OUR_FRAMES]
    for frame, reply in zip(OUR_FRAMES, run_peer(DLMS_COSEM, requests), strict=True):
        assert reply["ok"], (frame, reply)
        assert reply["destination"] == peer_fields(frame.destination)
        assert reply["source"] == peer_fields(frame.source)
        assert reply["payload"] == frame.info.hex()
        assert reply["segmented"] == frame.segmented
        if frame.kind is FrameKind.I:
            assert (reply["ssn"], reply["rsn"], reply["final"]) == (frame.send_seq, frame.receive_seq, frame.poll_final)
        if frame.kind is FrameKind.RR:
            assert reply["rsn"] == frame.receive_seq


WRAPPER_CASES = [(16, 1, b""), (1, 16, bytes.fromhex("601da109")), (0x1234, 0xFFFF, bytes([0x7E]) * 700)]


def test_wrapper_frames_agree_with_dlms_cosem_both_ways(peers: Path) -> None:
    requests: list[dict[str, Any]] = [
        {"op": "wrapper_encode", "source": source, "destination": destination, "apdu": apdu.hex()}
        for source, destination, apdu in WRAPPER_CASES
    ]
    requests += [
        {"op": "wrapper_decode", "hex": WrapperFrame(source, destination, apdu).encode().hex()}
        for source, destination, apdu in WRAPPER_CASES
    ]
    replies = run_peer(DLMS_COSEM, requests)
    encoded, decoded = replies[: len(WRAPPER_CASES)], replies[len(WRAPPER_CASES) :]
    decoder = WrapperDecoder()
    decoder.receive_data(b"".join(bytes.fromhex(reply["hex"]) for reply in encoded))
    for source, destination, apdu in WRAPPER_CASES:
        assert decoder.next_event() == WrapperFrame(source, destination, apdu)
    for (source, destination, apdu), reply in zip(WRAPPER_CASES, decoded, strict=True):
        assert reply == {"ok": True, "version": 1, "source": source, "destination": destination, "apdu": apdu.hex()}
