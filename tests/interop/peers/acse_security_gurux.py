# Licence note: this test peer imports gurux-dlms 1.0.203 (GNU GPL v2). It runs only in the separate
# .venv-peers environment, in its own process, and talks JSON over stdin/stdout
# (tests/interop/LICENSE-NOTE.md). No Gurux code is copied into openprepaid.
"""ACSE and security-suite-0 test peer backed by gurux-dlms (its client, server-side parser and ciphering).

One JSON request per line on stdin, one JSON reply per line on stdout. Byte strings are hex.
Conformance values are the three conformance octets read big-endian (the wire order); Gurux keeps
the bits mirrored, so they are converted here.

Requests (``op``):
  encode_aarq  {mechanism, auth_value, calling_ap_title, security (0, 0x10, 0x20, 0x30), ic, ek, ak,
                initiate: {conformance, max_pdu, dedicated_key}}                    -> {hex}
  decode_aarq  {hex, system_title (the server's), ek, ak}                           -> {apdu}
  encode_aare  {result, diagnostic, mechanism, initiate_response: {conformance, max_pdu}} -> {hex}
  decode_aare  {hex, mechanism, system_title (the client's), ek, ak}               -> {apdu}
  cipher       {tag (glo- tag or 0xDB general-glo), security, system_title, ic, ek, ak, plain} -> {hex}
  decipher     {hex, system_title, ek, ak}                                        -> {plain, ic, sc}
  hls_gmac     {challenge, system_title, ic, ek, ak}                              -> {hex}
Gurux 1.0.203 cannot encode an AARE with a responding-AP-title or HLS fields (its generateAARE
raises TypeError there), so encode_aare covers plain and LLS responses only.
"""

from __future__ import annotations

from typing import Any

from acse_security_serve import from_hex, serve, to_hex
from gurux_dlms import GXByteBuffer, GXDLMSSettings
from gurux_dlms._GXAPDU import _GXAPDU
from gurux_dlms.AesGcmParameter import AesGcmParameter
from gurux_dlms.enums import Authentication, InterfaceType
from gurux_dlms.GXCiphering import GXCiphering
from gurux_dlms.GXDLMSChippering import GXDLMSChippering
from gurux_dlms.GXDLMSConfirmedServiceError import GXDLMSConfirmedServiceError
from gurux_dlms.GXDLMSException import GXDLMSException
from gurux_dlms.GXSecure import GXSecure
from gurux_dlms.secure import GXDLMSSecureClient


def _mirror(value: int) -> int:
    """Wire-order conformance <-> Gurux's (bit n of the standard at 1 << n)."""
    return sum(1 << (23 - bit) for bit in range(24) if value & (1 << bit))


def _cipher(system_title: bytes, request: dict[str, Any]) -> GXCiphering:
    cipher = GXCiphering(system_title)
    cipher.blockCipherKey = bytes.fromhex(request["ek"])
    cipher.authenticationKey = bytes.fromhex(request["ak"])
    return cipher


def encode_aarq(request: dict[str, Any]) -> dict[str, Any]:
    mechanism = request.get("mechanism") or Authentication.NONE
    password = from_hex(request["auth_value"]) if mechanism == Authentication.LOW else None
    client = GXDLMSSecureClient(True, 16, 1, mechanism, password, InterfaceType.PDU)
    cipher = client.settings.cipher
    if request.get("calling_ap_title"):
        cipher.systemTitle = bytes.fromhex(request["calling_ap_title"])
    cipher.blockCipherKey = bytes.fromhex(request["ek"])
    cipher.authenticationKey = bytes.fromhex(request["ak"])
    cipher.security = request.get("security", 0)
    cipher.invocationCounter = request.get("ic", 0)
    initiate = request["initiate"]
    if initiate.get("dedicated_key"):
        cipher.dedicatedKey = bytes.fromhex(initiate["dedicated_key"])
    client.proposedConformance = _mirror(initiate["conformance"])
    client.maxReceivePDUSize = initiate["max_pdu"]
    if mechanism > Authentication.LOW:
        client.settings.useCustomChallenge = True
        client.settings.ctoSChallenge = bytes.fromhex(request["auth_value"])
    return {"hex": to_hex(client.aarqRequest()[0])}


def decode_aarq(request: dict[str, Any]) -> dict[str, Any]:
    settings = GXDLMSSettings(True, None)
    settings.setUseLogicalNameReferencing(True)
    settings.cipher = _cipher(bytes.fromhex(request["system_title"]), request)
    settings.proposedConformance = 0xFFFFFF  # the server's offer: everything, so negotiated = proposed
    diagnostic = _GXAPDU.parsePDU(settings, settings.cipher, GXByteBuffer(bytes.fromhex(request["hex"])), None)
    mechanism = int(settings.authentication)
    auth_value = settings.password if mechanism == Authentication.LOW else settings.ctoSChallenge
    return {
        "diagnostic": int(diagnostic),
        "apdu": {
            "context": 3 if settings.cipher.security else 1,
            "calling_ap_title": to_hex(settings.sourceSystemTitle) if settings.sourceSystemTitle else None,
            "mechanism": mechanism or None,
            "auth_value": to_hex(auth_value) if auth_value else None,
            "security": int(settings.cipher.security),
            "initiate": {
                "conformance": _mirror(int(settings.negotiatedConformance)),
                "max_pdu": settings.maxPduSize,
                "dlms_version": settings.dlmsVersion,
                "dedicated_key": to_hex(settings.cipher.dedicatedKey) if settings.cipher.dedicatedKey else None,
            },
        },
    }


def encode_aare(request: dict[str, Any]) -> dict[str, Any]:
    settings = GXDLMSSettings(True, None)
    settings.setUseLogicalNameReferencing(True)
    settings.authentication = request.get("mechanism") or Authentication.NONE
    response = request["initiate_response"]
    settings.negotiatedConformance = _mirror(response["conformance"])
    settings.maxPduSize = response["max_pdu"]
    data = GXByteBuffer()
    _GXAPDU.generateAARE(settings, data, request["result"], request["diagnostic"], None, None, None)
    return {"hex": to_hex(data.array())}


def decode_aare(request: dict[str, Any]) -> dict[str, Any]:
    mechanism = request.get("mechanism") or Authentication.NONE
    client = GXDLMSSecureClient(True, 16, 1, mechanism, None, InterfaceType.PDU)
    client.settings.cipher = _cipher(bytes.fromhex(request.get("system_title") or "0000000000000000"), request)
    settings = client.settings
    apdu: dict[str, Any] = {"result": 0}
    try:
        apdu["diagnostic"] = int(
            _GXAPDU.parsePDU(settings, settings.cipher, GXByteBuffer(bytes.fromhex(request["hex"])), None)
        )
    except GXDLMSException as exc:
        apdu.update(result=int(exc.result), diagnostic=int(exc.diagnostic))
        return {"apdu": apdu}
    except GXDLMSConfirmedServiceError as exc:
        apdu["service_error"] = {
            "service": int(exc.confirmedServiceError),
            "error_type": int(exc.serviceError),
            "value": int(exc.serviceErrorValue),
        }
        return {"apdu": apdu}
    apdu.update(
        responding_ap_title=to_hex(settings.sourceSystemTitle) if settings.sourceSystemTitle else None,
        mechanism=int(settings.authentication) or None,
        auth_value=to_hex(settings.stoCChallenge) if settings.stoCChallenge else None,
        security=int(settings.cipher.security),
        initiate_response={
            "conformance": _mirror(int(settings.negotiatedConformance)),
            "max_pdu": settings.maxPduSize,
            "dlms_version": settings.dlmsVersion,
        },
    )
    return {"apdu": apdu}


def cipher(request: dict[str, Any]) -> dict[str, Any]:
    parameter = AesGcmParameter(
        request["tag"],
        bytes.fromhex(request["system_title"]),
        bytes.fromhex(request["ek"]),
        bytes.fromhex(request["ak"]),
    )
    parameter.security = request["security"]
    parameter.invocationCounter = request["ic"]
    return {"hex": to_hex(GXDLMSChippering.encryptAesGcm(parameter, bytes.fromhex(request["plain"])))}


def decipher(request: dict[str, Any]) -> dict[str, Any]:
    settings = GXDLMSSettings(False, None)
    settings.cipher = GXCiphering(b"ABCDEFGH")
    parameter = AesGcmParameter(
        0, bytes.fromhex(request["system_title"]), bytes.fromhex(request["ek"]), bytes.fromhex(request["ak"])
    )
    parameter.settings = settings
    plain = GXDLMSChippering.decryptAesGcm(settings, parameter, GXByteBuffer(bytes.fromhex(request["hex"])))
    return {"plain": to_hex(plain), "ic": parameter.invocationCounter, "sc": int(parameter.security)}


def hls_gmac(request: dict[str, Any]) -> dict[str, Any]:
    settings = GXDLMSSettings(False, None)
    settings.authentication = Authentication.HIGH_GMAC
    title = bytes.fromhex(request["system_title"])
    cipher = _cipher(title, request)
    tag = GXSecure.secure(settings, cipher, request["ic"], bytes.fromhex(request["challenge"]), title)
    return {"hex": to_hex(tag)}


OPERATIONS = {
    "encode_aarq": encode_aarq,
    "decode_aarq": decode_aarq,
    "encode_aare": encode_aare,
    "decode_aare": decode_aare,
    "cipher": cipher,
    "decipher": decipher,
    "hls_gmac": hls_gmac,
}


if __name__ == "__main__":
    serve(OPERATIONS)
