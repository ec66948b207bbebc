# Licence note: this peer imports dlms-cosem 25.1.0 (Business Source License 1.1), an independent
# DLMS/COSEM implementation used only as a test peer. It runs in its own process in .venv-peers and
# talks JSON over stdin/stdout; nothing of it is copied into openprepaid (tests/interop/LICENSE-NOTE.md).
"""dlms-cosem's HDLC frame classes and wrapper PDU as a framing peer: one JSON request per line.

* {"op": "encode", "kind": "SNRM"|"UA"|"I"|"RR"|"DISC"|"UI", "destination": address,
  "source": address, "payload": hex, "ssn": n, "rsn": n, "segmented": bool, "final": bool}
  -> {"hex": frame}; an address is {"logical": n, "physical": n|null, "type": "client"|"server",
  "extended": bool}
* {"op": "decode", "kind": ..., "hex": frame} -> the fields dlms-cosem reads from the frame
* {"op": "wrapper_encode", "source": n, "destination": n, "apdu": hex} -> {"hex": pdu}
* {"op": "wrapper_decode", "hex": pdu} -> {"source", "destination", "apdu"}
"""

from __future__ import annotations

import json
import sys
import traceback
from typing import Any

from dlms_cosem.hdlc import frames
from dlms_cosem.hdlc.address import HdlcAddress
from dlms_cosem.protocol.wrappers import WrapperHeader, WrapperProtocolDataUnit


def address(spec: dict[str, Any]) -> HdlcAddress:
    return HdlcAddress(
        logical_address=spec["logical"],
        physical_address=spec.get("physical"),
        address_type=spec["type"],
        extended_addressing=spec.get("extended", False),
    )


def address_fields(value: HdlcAddress) -> dict[str, Any]:
    return {"logical": value.logical_address, "physical": value.physical_address}


def encode(request: dict[str, Any]) -> dict[str, Any]:
    destination, source = address(request["destination"]), address(request["source"])
    kind = request["kind"]
    payload = bytes.fromhex(request.get("payload", ""))
    if kind == "SNRM":
        frame = frames.SetNormalResponseModeFrame(destination, source)
    elif kind == "UA":
        frame = frames.UnNumberedAcknowledgmentFrame(destination, source, payload or None)
    elif kind == "I":
        frame = frames.InformationFrame(
            destination,
            source,
            payload,
            segmented=request.get("segmented", False),
            final=request.get("final", True),
            send_sequence_number=request.get("ssn", 0),
            receive_sequence_number=request.get("rsn", 0),
        )
    elif kind == "RR":
        frame = frames.ReceiveReadyFrame(destination, source, receive_sequence_number=request.get("rsn", 0))
    elif kind == "DISC":
        frame = frames.DisconnectFrame(destination, source)
    elif kind == "UI":
        frame = frames.UnnumberedInformationFrame(destination, source, payload, final=request.get("final", True))
    else:
        raise ValueError(f"unknown kind {kind}")
    return {"ok": True, "hex": bytes(frame.to_bytes()).hex()}


def decode(request: dict[str, Any]) -> dict[str, Any]:
    data = bytes.fromhex(request["hex"])
    cls = {
        "UA": frames.UnNumberedAcknowledgmentFrame,
        "I": frames.InformationFrame,
        "RR": frames.ReceiveReadyFrame,
        "DISC": frames.DisconnectFrame,
        "UI": frames.UnnumberedInformationFrame,
    }[request["kind"]]
    frame = cls.from_bytes(data)
    return {
        "ok": True,
        "destination": address_fields(frame.destination_address),
        "source": address_fields(frame.source_address),
        "payload": bytes(frame.payload or b"").hex(),
        "ssn": getattr(frame, "send_sequence_number", None),
        "rsn": getattr(frame, "receive_sequence_number", None),
        "segmented": frame.segmented,
        # ReceiveReadyFrame.from_bytes stores the control field's is_final method, not its value.
        "final": frame.final() if callable(frame.final) else frame.final,
    }


def wrapper_encode(request: dict[str, Any]) -> dict[str, Any]:
    apdu = bytes.fromhex(request["apdu"])
    header = WrapperHeader(source_wport=request["source"], destination_wport=request["destination"], length=len(apdu))
    return {"ok": True, "hex": WrapperProtocolDataUnit(apdu, header).to_bytes().hex()}


def wrapper_decode(request: dict[str, Any]) -> dict[str, Any]:
    pdu = WrapperProtocolDataUnit.from_bytes(bytes.fromhex(request["hex"]))
    header = pdu.wrapper_header
    return {
        "ok": True,
        "version": header.version,
        "source": header.source_wport,
        "destination": header.destination_wport,
        "apdu": bytes(pdu.data).hex(),
    }


HANDLERS = {"encode": encode, "decode": decode, "wrapper_encode": wrapper_encode, "wrapper_decode": wrapper_decode}


def main() -> None:
    for line in sys.stdin:
        if not line.strip():
            continue
        request = json.loads(line)
        try:
            reply = HANDLERS[request["op"]](request)
        except Exception as exc:  # a peer reports every failure as a reply, never by dying
            reply = {"ok": False, "error": f"{type(exc).__name__}: {exc}", "trace": traceback.format_exc()[-1500:]}
        sys.stdout.write(json.dumps(reply) + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
