# Licence note: this test peer imports dlms-cosem 25.1.0 (Business Source License 1.1). It runs only in
# the separate .venv-peers environment, in its own process, and talks JSON over stdin/stdout
# (tests/interop/LICENSE-NOTE.md). No dlms-cosem code is copied into openprepaid.
"""ACSE and security-suite-0 test peer backed by dlms-cosem.

One JSON request per line on stdin, one JSON reply per line on stdout. Byte strings are hex.
Conformance values are the three conformance octets read big-endian (the wire order).

Requests (``op``):
  encode_aarq   {context, calling_ap_title, mechanism, auth_value, initiate: {conformance, max_pdu,
                 dedicated_key}, cipher: null | {ic, ek, ak}}                    -> {hex}
  decode_aarq   {hex, keys: null | {ek, ak}}                                     -> {apdu}
  encode_aare   {context, result, diagnostic, diagnostic_source, responding_ap_title, mechanism,
                 auth_value, initiate_response | service_error, cipher}           -> {hex}
  decode_aare   {hex, keys}                                                      -> {apdu}
  encode_rlrq / encode_rlre {reason, initiate | initiate_response, cipher}        -> {hex}
  decode_rlrq / decode_rlre {hex, keys}                                          -> {apdu}
  cipher        {protection: "glo-initiate-request" | "glo-initiate-response" | "general-glo",
                 system_title, ic, ek, ak, plain}                                -> {hex}
  decipher      {hex, system_title, ek, ak}                                      -> {plain, ic, sc}
  hls_gmac      {challenge, system_title, ic, ek, ak}                            -> {hex}
dlms-cosem ciphers only with authenticated encryption (SC 0x30) and LN referencing.
"""

from __future__ import annotations

from typing import Any

from acse_security_serve import from_hex, serve, to_hex
from dlms_cosem import enumerations, security
from dlms_cosem.protocol import acse, xdlms
from dlms_cosem.protocol.xdlms.confirmed_service_error import ConfirmedServiceError

SC_AUTH_ENC = security.SecurityControlField(security_suite=0, authenticated=True, encrypted=True)


def _conformance(value: int) -> xdlms.Conformance:
    return xdlms.Conformance.from_bytes(b"\x00" + value.to_bytes(3, "big"))


def _conformance_value(conformance: xdlms.Conformance) -> int:
    return int.from_bytes(conformance.to_bytes()[1:], "big")


def _encrypt(plain: bytes, system_title: bytes, cipher: dict[str, Any]) -> bytes:
    return security.encrypt(
        security_control=SC_AUTH_ENC,
        system_title=system_title,
        invocation_counter=cipher["ic"],
        key=bytes.fromhex(cipher["ek"]),
        auth_key=bytes.fromhex(cipher["ak"]),
        plain_text=plain,
    )


def _initiate_request(spec: dict[str, Any]) -> xdlms.InitiateRequest:
    return xdlms.InitiateRequest(
        proposed_conformance=_conformance(spec["conformance"]),
        client_max_receive_pdu_size=spec["max_pdu"],
        dedicated_key=from_hex(spec.get("dedicated_key")),
    )


def _initiate_response(spec: dict[str, Any]) -> xdlms.InitiateResponse:
    return xdlms.InitiateResponse(
        negotiated_conformance=_conformance(spec["conformance"]), server_max_receive_pdu_size=spec["max_pdu"]
    )


def _user_information(content: Any, system_title: bytes | None, cipher: dict[str, Any] | None, request: bool) -> Any:
    if content is None:
        return None
    if cipher is not None:
        ciphered = _encrypt(content.to_bytes(), system_title or b"", cipher)
        kind = xdlms.GlobalCipherInitiateRequest if request else xdlms.GlobalCipherInitiateResponse
        content = kind(security_control=SC_AUTH_ENC, invocation_counter=cipher["ic"], ciphered_text=ciphered)
    return acse.UserInformation(content=content)


def _describe_content(content: Any, system_title: bytes | None, keys: dict[str, str] | None) -> dict[str, Any] | None:
    if isinstance(content, xdlms.InitiateRequest):
        return {
            "kind": "initiate_request",
            "conformance": _conformance_value(content.proposed_conformance),
            "max_pdu": content.client_max_receive_pdu_size,
            "dlms_version": content.proposed_dlms_version_number,
            "dedicated_key": to_hex(content.dedicated_key),
        }
    if isinstance(content, xdlms.InitiateResponse):
        return {
            "kind": "initiate_response",
            "conformance": _conformance_value(content.negotiated_conformance),
            "max_pdu": content.server_max_receive_pdu_size,
            "dlms_version": content.negotiated_dlms_version_number,
            "vaa_name": 7,
        }
    if isinstance(content, ConfirmedServiceError):
        return {"kind": "confirmed_service_error", "service": 1, "error_type": 6, "value": int(content.error)}
    if isinstance(content, (xdlms.GlobalCipherInitiateRequest, xdlms.GlobalCipherInitiateResponse)):
        described: dict[str, Any] = {"kind": "ciphered", "hex": to_hex(content.to_bytes())}
        if keys is not None and system_title is not None:
            plain = security.decrypt(
                security_control=content.security_control,
                system_title=system_title,
                invocation_counter=content.invocation_counter,
                key=bytes.fromhex(keys["ek"]),
                auth_key=bytes.fromhex(keys["ak"]),
                cipher_text=content.ciphered_text,
            )
            parse = xdlms.InitiateRequest if plain[0] == 0x01 else xdlms.InitiateResponse
            described["plain"] = _describe_content(parse.from_bytes(plain), None, None)
        return described
    raise ValueError(f"unexpected user-information {content!r}")


def _context(ciphered: bool) -> int:
    return 3 if ciphered else 1


def encode_aarq(request: dict[str, Any]) -> dict[str, Any]:
    title = from_hex(request.get("calling_ap_title"))
    aarq = acse.ApplicationAssociationRequest(
        ciphered=request["context"] == 3,
        system_title=title,
        authentication=None
        if request.get("mechanism") is None
        else enumerations.AuthenticationMechanism(request["mechanism"]),
        authentication_value=from_hex(request.get("auth_value")),
        user_information=_user_information(_initiate_request(request["initiate"]), title, request.get("cipher"), True),
    )
    return {"hex": to_hex(aarq.to_bytes())}


def decode_aarq(request: dict[str, Any]) -> dict[str, Any]:
    aarq = acse.ApplicationAssociationRequest.from_bytes(bytes.fromhex(request["hex"]))
    return {
        "apdu": {
            "context": _context(aarq.ciphered),
            "calling_ap_title": to_hex(aarq.system_title),
            "mechanism": None if aarq.authentication is None else int(aarq.authentication),
            "auth_value": to_hex(aarq.authentication_value),
            "user_information": _describe_content(
                aarq.user_information.content, aarq.system_title, request.get("keys")
            ),
        }
    }


def encode_aare(request: dict[str, Any]) -> dict[str, Any]:
    title = from_hex(request.get("responding_ap_title"))
    if request.get("service_error") is not None:
        content: Any = ConfirmedServiceError(error=enumerations.InitiateError(request["service_error"]["value"]))
    else:
        content = _initiate_response(request["initiate_response"])
    diagnostic_kind = (
        enumerations.AcseServiceProviderDiagnostics
        if request["diagnostic_source"] == "provider"
        else enumerations.AcseServiceUserDiagnostics
    )
    aare = acse.ApplicationAssociationResponse(
        result=enumerations.AssociationResult(request["result"]),
        result_source_diagnostics=diagnostic_kind(request["diagnostic"]),
        ciphered=request["context"] == 3,
        authentication=None
        if request.get("mechanism") is None
        else enumerations.AuthenticationMechanism(request["mechanism"]),
        system_title=title,
        authentication_value=from_hex(request.get("auth_value")),
        user_information=_user_information(content, title, request.get("cipher"), False),
    )
    return {"hex": to_hex(aare.to_bytes())}


def decode_aare(request: dict[str, Any]) -> dict[str, Any]:
    aare = acse.ApplicationAssociationResponse.from_bytes(bytes.fromhex(request["hex"]))
    diagnostic = aare.result_source_diagnostics
    return {
        "apdu": {
            "context": _context(aare.ciphered),
            "result": int(aare.result),
            "diagnostic": int(diagnostic),
            "diagnostic_source": (
                "provider" if isinstance(diagnostic, enumerations.AcseServiceProviderDiagnostics) else "user"
            ),
            "responding_ap_title": to_hex(aare.system_title),
            "mechanism": None if aare.authentication is None else int(aare.authentication),
            "auth_value": to_hex(aare.authentication_value),
            "user_information": (
                None
                if aare.user_information is None
                else _describe_content(aare.user_information.content, aare.system_title, request.get("keys"))
            ),
        }
    }


def encode_rlrq(request: dict[str, Any]) -> dict[str, Any]:
    initiate = None if request.get("initiate") is None else _initiate_request(request["initiate"])
    title = from_hex(request.get("system_title"))
    rlrq = acse.ReleaseRequest(
        reason=None if request.get("reason") is None else enumerations.ReleaseRequestReason(request["reason"]),
        user_information=_user_information(initiate, title, request.get("cipher"), True),
    )
    return {"hex": to_hex(rlrq.to_bytes())}


def encode_rlre(request: dict[str, Any]) -> dict[str, Any]:
    response = None if request.get("initiate_response") is None else _initiate_response(request["initiate_response"])
    title = from_hex(request.get("system_title"))
    rlre = acse.ReleaseResponse(
        reason=None if request.get("reason") is None else enumerations.ReleaseResponseReason(request["reason"]),
        user_information=_user_information(response, title, request.get("cipher"), False),
    )
    return {"hex": to_hex(rlre.to_bytes())}


def _decode_release(kind: Any, request: dict[str, Any]) -> dict[str, Any]:
    release = kind.from_bytes(bytes.fromhex(request["hex"]))
    info = release.user_information
    return {
        "apdu": {
            "reason": None if release.reason is None else int(release.reason),
            "user_information": (
                None
                if info is None
                else _describe_content(info.content, from_hex(request.get("system_title")), request.get("keys"))
            ),
        }
    }


def cipher(request: dict[str, Any]) -> dict[str, Any]:
    title = bytes.fromhex(request["system_title"])
    plain = bytes.fromhex(request["plain"])
    ciphered = _encrypt(plain, title, request)
    protection = request["protection"]
    if protection == "general-glo":
        apdu: Any = xdlms.GeneralGlobalCipher(
            system_title=title, security_control=SC_AUTH_ENC, invocation_counter=request["ic"], ciphered_text=ciphered
        )
    elif protection == "glo-initiate-request":
        apdu = xdlms.GlobalCipherInitiateRequest(SC_AUTH_ENC, request["ic"], ciphered)
    elif protection == "glo-initiate-response":
        apdu = xdlms.GlobalCipherInitiateResponse(SC_AUTH_ENC, request["ic"], ciphered)
    else:
        raise ValueError(f"dlms-cosem cannot produce {protection}")
    return {"hex": to_hex(apdu.to_bytes())}


def decipher(request: dict[str, Any]) -> dict[str, Any]:
    data = bytes.fromhex(request["hex"])
    kinds = {
        0xDB: xdlms.GeneralGlobalCipher,
        0x21: xdlms.GlobalCipherInitiateRequest,
        0x28: xdlms.GlobalCipherInitiateResponse,
    }
    apdu = kinds[data[0]].from_bytes(data)
    title = getattr(apdu, "system_title", None) or bytes.fromhex(request["system_title"])
    plain = security.decrypt(
        security_control=apdu.security_control,
        system_title=bytes(title),
        invocation_counter=apdu.invocation_counter,
        key=bytes.fromhex(request["ek"]),
        auth_key=bytes.fromhex(request["ak"]),
        cipher_text=apdu.ciphered_text,
    )
    return {"plain": to_hex(plain), "ic": apdu.invocation_counter, "sc": apdu.security_control.to_bytes()[0]}


def hls_gmac(request: dict[str, Any]) -> dict[str, Any]:
    control = security.SecurityControlField(security_suite=0, authenticated=True, encrypted=False)
    tag = security.gmac(
        security_control=control,
        system_title=bytes.fromhex(request["system_title"]),
        invocation_counter=request["ic"],
        key=bytes.fromhex(request["ek"]),
        auth_key=bytes.fromhex(request["ak"]),
        challenge=bytes.fromhex(request["challenge"]),
    )
    return {"hex": to_hex(control.to_bytes() + request["ic"].to_bytes(4, "big") + tag)}


OPERATIONS = {
    "encode_aarq": encode_aarq,
    "decode_aarq": decode_aarq,
    "encode_aare": encode_aare,
    "decode_aare": decode_aare,
    "encode_rlrq": encode_rlrq,
    "encode_rlre": encode_rlre,
    "decode_rlrq": lambda request: _decode_release(acse.ReleaseRequest, request),
    "decode_rlre": lambda request: _decode_release(acse.ReleaseResponse, request),
    "cipher": cipher,
    "decipher": decipher,
    "hls_gmac": hls_gmac,
}


if __name__ == "__main__":
    serve(OPERATIONS)
