# Licence note: this test peer imports gurux-dlms 1.0.203 (GNU GPL v2). It runs only in the separate
# .venv-peers environment, in its own process, and talks JSON over stdin/stdout
# (tests/interop/LICENSE-NOTE.md). No Gurux code is copied into openprepaid.
"""gurux-dlms as a head-end in one live session with our meter side (openprepaid's ServerAssociation).

The test drives the session a step at a time: each request line gets its reply line at once, so
the test can hand gurux's APDU to our server and our server's answer back to gurux. Byte strings
are hex; conformance values are the three conformance octets read big-endian (the wire order).

Ops:
  start  {security, system_title, ek, ak, ic, dedicated_key, conformance, max_pdu}  -> {hex: AARQ}
  aare   {hex}                                      -> {conformance, max_pdu}
  get    {class_id, obis, attribute}                -> {hex}
  method {class_id, obis, method, value (hex of an octet-string parameter)}          -> {hex}
  reply  {hex}  one APDU from the meter             -> {more: true, hex: the next request} or
                                                       {more: false, value (hex of octet-string), error}
"""

from __future__ import annotations

from typing import Any

from acse_security_serve import serve, to_hex
from gurux_dlms import GXByteBuffer, GXReplyData
from gurux_dlms.enums import Authentication, DataType, InterfaceType, ObjectType
from gurux_dlms.objects import GXDLMSObject
from gurux_dlms.secure import GXDLMSSecureClient

SESSION: dict[str, Any] = {}


def _mirror(value: int) -> int:
    """Wire-order conformance <-> Gurux's (bit n of the standard at 1 << n)."""
    return sum(1 << (23 - bit) for bit in range(24) if value & (1 << bit))


def start(request: dict[str, Any]) -> dict[str, Any]:
    client = GXDLMSSecureClient(True, 16, 1, Authentication.NONE, None, InterfaceType.PDU)
    cipher = client.settings.cipher
    cipher.systemTitle = bytes.fromhex(request["system_title"])
    cipher.blockCipherKey = bytes.fromhex(request["ek"])
    cipher.authenticationKey = bytes.fromhex(request["ak"])
    cipher.security = request["security"]
    cipher.invocationCounter = request["ic"]
    if request.get("dedicated_key"):
        cipher.dedicatedKey = bytes.fromhex(request["dedicated_key"])
    client.proposedConformance = _mirror(request["conformance"])
    client.maxReceivePDUSize = request["max_pdu"]
    SESSION.clear()
    SESSION.update(client=client, reply=GXReplyData())
    return {"hex": to_hex(client.aarqRequest()[0])}


def aare(request: dict[str, Any]) -> dict[str, Any]:
    client = SESSION["client"]
    client.parseAareResponse(GXByteBuffer(bytes.fromhex(request["hex"])))
    return {"conformance": _mirror(int(client.negotiatedConformance)), "max_pdu": client.maxReceivePDUSize}


def _one(pdus: list[Any]) -> dict[str, Any]:
    if len(pdus) != 1:
        raise ValueError(f"gurux made {len(pdus)} PDUs")
    SESSION["reply"] = GXReplyData()
    return {"hex": to_hex(pdus[0])}


def get(request: dict[str, Any]) -> dict[str, Any]:
    target = GXDLMSObject(ObjectType(request["class_id"]), request["obis"])
    return _one(SESSION["client"].read(target, request["attribute"]))


def method(request: dict[str, Any]) -> dict[str, Any]:
    target = GXDLMSObject(ObjectType(request["class_id"]), request["obis"])
    value = bytes.fromhex(request["value"])
    return _one(SESSION["client"].method(target, request["method"], value, DataType.OCTET_STRING))


def reply(request: dict[str, Any]) -> dict[str, Any]:
    client, data = SESSION["client"], SESSION["reply"]
    client.getData(GXByteBuffer(bytes.fromhex(request["hex"])), data)
    if data.isMoreData():
        return {"more": True, "hex": to_hex(client.receiverReady(data))}
    value = data.value
    return {
        "more": False,
        "value": to_hex(bytes(value)) if isinstance(value, bytes | bytearray) else repr(value),
        "error": int(data.error),
    }


OPERATIONS = {"start": start, "aare": aare, "get": get, "method": method, "reply": reply}


if __name__ == "__main__":
    serve(OPERATIONS)
