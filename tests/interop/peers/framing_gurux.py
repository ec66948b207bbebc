# Licence note: this peer imports gurux-dlms (GPLv2), an independent DLMS/COSEM implementation used
# only as a test peer. It runs in its own process in .venv-peers and talks JSON over stdin/stdout;
# nothing of it is copied into openprepaid (see tests/interop/LICENSE-NOTE.md).
"""Gurux HDLC client as a framing peer: one JSON request per line, one JSON reply per line.

Requests: {"op": "session", "settings": {...}, "steps": [...]} runs a GXDLMSClient (HDLC interface)
through the steps and returns one output per step:

* {"do": "snrm"}                -> {"hex": SNRM frame}
* {"do": "receive", "hex": ...} -> {"complete", "more", "data"} after GXDLMSClient.getData
* {"do": "parse_ua"}            -> {"max_info_tx", "max_info_rx", "window_tx", "window_rx"}
* {"do": "aarq"}                -> {"frames": [hex, ...]}
* {"do": "rr"}                  -> {"hex": receiver-ready frame asking for the next segment}
* {"do": "disc"}                -> {"hex": DISC frame}

{"op": "decode", "hex": ...} parses one frame as a Gurux client (destination = client) and returns
its payload.
"""

from __future__ import annotations

import json
import sys
import traceback
from typing import Any

from gurux_dlms import GXByteBuffer, GXDLMSClient, GXReplyData
from gurux_dlms.enums import Authentication, InterfaceType, RequestTypes


def make_client(settings: dict[str, Any]) -> GXDLMSClient:
    size = settings.get("address_size", 0)
    physical = settings.get("server_physical")
    server = settings["server_logical"]
    if physical is not None:
        server = GXDLMSClient.getServerAddress(server, physical, size)
    authentication = Authentication.LOW if settings.get("password") else Authentication.NONE
    client = GXDLMSClient(
        True, settings["client"], server, authentication, settings.get("password"), InterfaceType.HDLC
    )
    if size:
        client.serverAddressSize = size
    for name in ("maxInfoTX", "maxInfoRX", "windowSizeTX", "windowSizeRX"):
        if name in settings:
            setattr(client.hdlcSettings, name, settings[name])
    return client


def buffer_bytes(buffer: GXByteBuffer) -> bytes:
    return bytes(buffer.array())


def session(request: dict[str, Any]) -> dict[str, Any]:
    client = make_client(request["settings"])
    reply = GXReplyData()
    outputs: list[dict[str, Any]] = []
    for step in request["steps"]:
        action = step["do"]
        if action == "snrm":
            outputs.append({"hex": bytes(client.snrmRequest()).hex()})
        elif action == "receive":
            complete = client.getData(GXByteBuffer(bytes.fromhex(step["hex"])), reply)
            more = reply.isMoreData()
            result = {"complete": bool(complete), "more": bool(more), "data": ""}
            if complete and not more:
                result["data"] = buffer_bytes(reply.data).hex()
                reply = GXReplyData()
            outputs.append(result)
        elif action == "parse_ua":
            client.parseUAResponse(reply.data)
            reply = GXReplyData()
            hdlc = client.hdlcSettings
            outputs.append(
                {
                    "max_info_tx": hdlc.maxInfoTX,
                    "max_info_rx": hdlc.maxInfoRX,
                    "window_tx": hdlc.windowSizeTX,
                    "window_rx": hdlc.windowSizeRX,
                }
            )
        elif action == "aarq":
            outputs.append({"frames": [bytes(frame).hex() for frame in client.aarqRequest()]})
        elif action == "rr":
            outputs.append({"hex": bytes(client.receiverReady(RequestTypes.FRAME)).hex()})
        elif action == "disc":
            outputs.append({"hex": bytes(client.disconnectRequest(True)).hex()})
        else:
            raise ValueError(f"unknown step {action}")
    return {"ok": True, "outputs": outputs}


def decode(request: dict[str, Any]) -> dict[str, Any]:
    client = make_client(request["settings"])
    reply = GXReplyData()
    complete = client.getData(GXByteBuffer(bytes.fromhex(request["hex"])), reply)
    return {
        "ok": True,
        "complete": bool(complete),
        "more": bool(reply.isMoreData()),
        "frame_id": reply.frameId,
        "data": buffer_bytes(reply.data).hex(),
    }


def main() -> None:
    for line in sys.stdin:
        if not line.strip():
            continue
        request = json.loads(line)
        try:
            handler = {"session": session, "decode": decode}[request["op"]]
            reply = handler(request)
        except Exception as exc:  # a peer reports every failure as a reply, never by dying
            reply = {"ok": False, "error": f"{type(exc).__name__}: {exc}", "trace": traceback.format_exc()[-1500:]}
        sys.stdout.write(json.dumps(reply) + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
