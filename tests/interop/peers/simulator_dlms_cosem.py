# Licence note: this test peer imports dlms-cosem 25.1.0 (Business Source License 1.1), an independent
# DLMS/COSEM implementation used only as a test peer. It runs only in the separate .venv-peers
# environment, in its own process, and talks JSON over stdin/stdout (tests/interop/LICENSE-NOTE.md).
# No dlms-cosem code is copied into openprepaid.
"""dlms-cosem as an independent head-end client of the openprepaid meter simulator.

One JSON request per line on stdin, one JSON reply per line on stdout:

  {"op": "session", "host", "port", "framing": "wrapper" | "hdlc", "client": 16 | 32 | 48,
   "password": str, "ek": hex, "ak": hex,
   "ic": n (our first invocation counter) | "read" (read it first from 0.0.43.1.0.255 as client 16),
   "steps": [step, ...]}
    -> {"results": [{"value": ...} | {"error": "..."}, ...], "meter_system_title": hex | null,
        "release": "ok" | the error dlms-cosem raised while releasing}

  step: {"get": [class, "a.b.c.d.e.f", attribute], "from": ISO, "to": ISO, "clock": bool}
        {"set": [class, obis, attribute], "data": hex (encoded Data)}
        {"action": [class, obis, method], "data": hex}
        {"sleep": seconds}

Everything is decoded by dlms-cosem itself (``utils.parse_as_dlms_data``; with "clock" the first
element of each row, or the value itself, goes through ``time.datetime_from_bytes``), then turned
into JSON: octet-strings as hex, date-times as ISO strings.
"""

from __future__ import annotations

import sys
from datetime import datetime
from time import sleep
from typing import Any

from acse_security_serve import serve
from dlms_cosem import cosem, enumerations, time
from dlms_cosem.client import DlmsClient
from dlms_cosem.cosem.capture_object import CaptureObject
from dlms_cosem.cosem.selective_access import RangeDescriptor
from dlms_cosem.io import BlockingTcpIO, HdlcTransport, TcpTransport
from dlms_cosem.security import (
    HighLevelSecurityGmacAuthentication,
    LowLevelSecurityAuthentication,
    NoSecurityAuthentication,
)
from dlms_cosem.utils import parse_as_dlms_data

CLOCK = cosem.CosemAttribute(enumerations.CosemInterface.CLOCK, cosem.Obis(0, 0, 1, 0, 0, 255), 2)


def _obis(text: str) -> cosem.Obis:
    a, b, c, d, e, f = (int(part) for part in text.split("."))
    return cosem.Obis(a, b, c, d, e, f)


def _json(value: Any) -> Any:
    if isinstance(value, bytes | bytearray):
        return bytes(value).hex()
    if isinstance(value, list | tuple):
        return [_json(item) for item in value]
    if isinstance(value, datetime):
        return value.isoformat()
    return value


def _clock(value: Any) -> Any:
    if isinstance(value, bytes | bytearray):
        return time.datetime_from_bytes(bytes(value))[0]
    if isinstance(value, list) and value and isinstance(value[0], bytes | bytearray):
        return [_clock(value[0]), *value[1:]]
    if isinstance(value, list):
        return [_clock(item) for item in value]
    return value


def _client(request: dict[str, Any]) -> DlmsClient:
    sap = request["client"]
    keys: dict[str, Any] = {}
    if sap == 16:
        authentication: Any = NoSecurityAuthentication()
    elif sap == 32:
        authentication = LowLevelSecurityAuthentication(secret=request["password"].encode())
    else:
        authentication = HighLevelSecurityGmacAuthentication(challenge_length=32)
        keys = {
            "encryption_key": bytes.fromhex(request["ek"]),
            "authentication_key": bytes.fromhex(request["ak"]),
            "client_system_title": bytes.fromhex(request.get("system_title", "4450454552303031")),
            "client_initial_invocation_counter": request.get("ic", 0),
        }
    io = BlockingTcpIO(host=request["host"], port=request["port"], timeout=10)
    transport: Any
    if request.get("framing") == "hdlc":
        transport = HdlcTransport(
            client_logical_address=sap, server_logical_address=1, server_physical_address=0x10, io=io, timeout=10
        )
    else:
        transport = TcpTransport(client_logical_address=sap, server_logical_address=1, io=io, timeout=10)
    return DlmsClient(transport=transport, authentication=authentication, timeout=10, **keys)


def _step(client: DlmsClient, step: dict[str, Any]) -> dict[str, Any]:
    if "sleep" in step:
        sleep(step["sleep"])
        return {"value": None}
    if "get" in step:
        class_id, obis, attribute = step["get"]
        target = cosem.CosemAttribute(enumerations.CosemInterface(class_id), _obis(obis), attribute)
        access = None
        if "from" in step:
            access = RangeDescriptor(
                restricting_object=CaptureObject(cosem_attribute=CLOCK, data_index=0),
                from_value=datetime.fromisoformat(step["from"]),
                to_value=datetime.fromisoformat(step["to"]),
            )
        value = parse_as_dlms_data(client.get(target, access_descriptor=access))
        return {"value": _json(_clock(value) if step.get("clock") else value)}
    if "set" in step:
        class_id, obis, attribute = step["set"]
        target = cosem.CosemAttribute(enumerations.CosemInterface(class_id), _obis(obis), attribute)
        response = client.set(target, bytes.fromhex(step["data"]))
        result = getattr(response, "result", None)
        return {"value": getattr(result, "name", str(response)).lower()}
    class_id, obis, method = step["action"]
    target = cosem.CosemMethod(enumerations.CosemInterface(class_id), _obis(obis), method)
    returned = client.action(target, bytes.fromhex(step.get("data", "0f00")))
    return {"value": None if returned is None else _json(parse_as_dlms_data(returned))}


def _hang_up(client: DlmsClient) -> None:
    """Disconnect without hiding what went wrong before (dlms-cosem refuses DISC while awaiting a reply)."""
    try:
        client.disconnect()
    except Exception as exc:  # the session's own error, if any, is the one to report
        print(f"disconnect failed: {type(exc).__name__}: {exc}", file=sys.stderr)


def _next_counter(request: dict[str, Any]) -> int:
    """What a head-end without a stored counter does: read the meter's invocation counter object
    (0.0.43.1.0.255, class 1) in a public association."""
    public = _client({**request, "client": 16})
    public.connect()
    try:
        public.associate()
        counter = cosem.CosemAttribute(enumerations.CosemInterface.DATA, cosem.Obis(0, 0, 43, 1, 0, 255), 2)
        return int(parse_as_dlms_data(public.get(counter)))
    finally:
        _hang_up(public)


def session(request: dict[str, Any]) -> dict[str, Any]:
    if request.get("ic") == "read":
        request = {**request, "ic": _next_counter(request)}
    client = _client(request)
    results: list[dict[str, Any]] = []
    client.connect()
    try:
        client.associate()
        for step in request["steps"]:
            try:
                results.append(_step(client, step))
            except Exception as exc:  # one refused step is data for the test, not the end of the session
                results.append({"error": f"{type(exc).__name__}: {exc}"})
        title = client.dlms_connection.meter_system_title
        try:
            client.release_association()
            release = "ok"
        except Exception as exc:  # reported, judged by the test
            release = f"{type(exc).__name__}: {exc}"
    finally:
        _hang_up(client)
    return {
        "results": results,
        "meter_system_title": None if title is None else bytes(title).hex(),
        "release": release,
    }


if __name__ == "__main__":
    serve({"session": session})
