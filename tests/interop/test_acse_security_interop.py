"""ACSE and security suite 0 against two independent implementations, out of process.

dlms-cosem 25.1.0 and gurux-dlms 1.0.203 run in their own environment (tests/interop/peers/, see
LICENSE-NOTE.md). Both directions are checked: what a peer encodes or ciphers, openprepaid decodes or
deciphers to the same values (and, where both produce bytes, to the same bytes); what openprepaid
encodes or ciphers, the peer decodes or deciphers to the same values. Cases come from a seeded
generator so every run checks the same, broad set.
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import pytest

from openprepaid.cosem.acse import (
    AARE,
    AARQ,
    RLRE,
    RLRQ,
    AcseServiceProviderDiagnostic,
    AcseServiceUserDiagnostic,
    AssociationResult,
    ReleaseRequestReason,
    ReleaseResponseReason,
)
from openprepaid.cosem.acse_initiate import (
    ConfirmedServiceError,
    Conformance,
    InitiateErrorCode,
    InitiateRequest,
    InitiateResponse,
)
from openprepaid.cosem.security import (
    AUTHENTICATED,
    AUTHENTICATED_ENCRYPTED,
    ENCRYPTED,
    SecurityControl,
    SecurityKeys,
    hls_gmac_response,
    verify_hls_gmac_response,
)
from openprepaid.cosem.security_apdu import CipheredApdu, GeneralCipheredApdu, Protection, protect, unprotect
from tests.interop.peer_env import run_peer

DLMS_COSEM = "acse_security_dlms_cosem.py"
GURUX = "acse_security_gurux.py"
EK = bytes.fromhex("000102030405060708090A0B0C0D0E0F")
AK = bytes.fromhex("D0D1D2D3D4D5D6D7D8D9DADBDCDDDEDF")
KEYS = SecurityKeys(global_unicast=EK, authentication=AK)
KEY_JSON = {"ek": EK.hex().upper(), "ak": AK.hex().upper()}
CLIENT_TITLE = bytes.fromhex("4D4D4D0000000001")
SERVER_TITLE = bytes.fromhex("4D4D4D0000BC614E")
# The conformance bits both peers can name (dlms-cosem has no read/write/information-report bits).
_UNNAMED = (
    "RESERVED_ZERO",
    "READ",
    "WRITE",
    "UNCONFIRMED_WRITE",
    "RESERVED_SEVEN",
    "INFORMATION_REPORT",
    "PARAMETERIZED_ACCESS",
)
LN_BITS = [flag for flag in Conformance if flag.name not in _UNNAMED]


def _hex(value: bytes | None) -> str | None:
    return None if value is None else value.hex().upper()


def _ok(replies: list[dict[str, Any]]) -> list[dict[str, Any]]:
    failures = [reply for reply in replies if not reply["ok"]]
    assert not failures, failures[0]
    return replies


def _conformance(rng: random.Random) -> Conformance:
    value = Conformance(0)
    for bit in rng.sample(LN_BITS, rng.randint(1, len(LN_BITS))):
        value |= bit
    return value


def _mechanism(rng: random.Random) -> tuple[int | None, bytes | None]:
    mechanism = rng.choice([None, 1, 5])
    if mechanism is None:
        return None, None
    return mechanism, rng.randbytes(8 if mechanism == 1 else rng.choice([8, 16, 32]))


def _initiate_json(request: InitiateRequest) -> dict[str, Any]:
    return {
        "conformance": int(request.proposed_conformance),
        "max_pdu": request.client_max_receive_pdu_size,
        "dedicated_key": _hex(request.dedicated_key),
    }


def _describe(information: object, title: bytes | None) -> dict[str, Any] | None:
    """openprepaid's user-information in the dlms-cosem peer's vocabulary (deciphering with KEYS)."""
    if information is None:
        return None
    if isinstance(information, InitiateRequest):
        return {"kind": "initiate_request", "dlms_version": 6, **_initiate_json(information)}
    if isinstance(information, InitiateResponse):
        return {
            "kind": "initiate_response",
            "conformance": int(information.negotiated_conformance),
            "max_pdu": information.server_max_receive_pdu_size,
            "dlms_version": information.negotiated_dlms_version_number,
            "vaa_name": information.vaa_name,
        }
    if isinstance(information, ConfirmedServiceError):
        return {"kind": "confirmed_service_error", "service": 1, "error_type": 6, "value": int(information.value)}
    assert isinstance(information, CipheredApdu)
    plain = unprotect(information.encode(), keys=KEYS, peer_system_title=title).apdu
    inner = InitiateRequest.decode(plain) if plain[0] == 0x01 else InitiateResponse.decode(plain)
    return {"kind": "ciphered", "hex": _hex(information.encode()), "plain": _describe(inner, None)}


def _seal(plain: bytes, general: bool, control: SecurityControl, title: bytes, ic: int) -> bytes:
    protection = Protection.GENERAL_GLOBAL if general else Protection.GLOBAL
    return protect(
        plain, protection=protection, security_control=control, system_title=title, invocation_counter=ic, keys=KEYS
    )


def _ciphered(
    plain: InitiateRequest | InitiateResponse, title: bytes, ic: int, control: SecurityControl = AUTHENTICATED_ENCRYPTED
) -> CipheredApdu:
    return CipheredApdu.decode(_seal(plain.encode(), False, control, title, ic))


def _initiate(rng: random.Random, dedicated_key: bytes | None = None) -> InitiateRequest:
    return InitiateRequest(
        proposed_conformance=_conformance(rng),
        client_max_receive_pdu_size=rng.randint(64, 0xFFFF),
        dedicated_key=dedicated_key,
    )


def _response(rng: random.Random) -> InitiateResponse:
    return InitiateResponse(
        negotiated_conformance=_conformance(rng), server_max_receive_pdu_size=rng.randint(64, 0xFFFF)
    )


def _aarq_case(rng: random.Random) -> tuple[AARQ, dict[str, Any]]:
    """An AARQ and the dlms-cosem request that should produce exactly it."""
    mechanism, auth_value = _mechanism(rng)
    ciphered = rng.random() < 0.5
    initiate = _initiate(rng, rng.randbytes(16) if ciphered and rng.random() < 0.5 else None)
    counter = rng.randint(0, 0xFFFF_FFFF)
    aarq = AARQ(
        application_context_name=3 if ciphered else 1,
        calling_ap_title=CLIENT_TITLE if ciphered else None,
        sender_acse_requirements=mechanism is not None,
        mechanism_name=mechanism,
        calling_authentication_value=auth_value,
        user_information=_ciphered(initiate, CLIENT_TITLE, counter) if ciphered else initiate,
    )
    request = {
        "op": "encode_aarq",
        "context": aarq.application_context_name,
        "calling_ap_title": _hex(aarq.calling_ap_title),
        "mechanism": mechanism,
        "auth_value": _hex(auth_value),
        "initiate": _initiate_json(initiate),
        "cipher": {"ic": counter, **KEY_JSON} if ciphered else None,
    }
    return aarq, request


def _aare_case(rng: random.Random) -> tuple[AARE, dict[str, Any]]:
    mechanism, auth_value = _mechanism(rng)
    ciphered = rng.random() < 0.5
    result = rng.choice(list(AssociationResult))
    diagnostic = rng.choice(list(AcseServiceUserDiagnostic) + list(AcseServiceProviderDiagnostic))
    response = _response(rng)
    counter = rng.randint(0, 0xFFFF_FFFF)
    error = None if ciphered or rng.random() < 0.7 else ConfirmedServiceError(value=rng.choice(list(InitiateErrorCode)))
    information: InitiateResponse | ConfirmedServiceError | CipheredApdu = error or response
    if ciphered:
        information = _ciphered(response, SERVER_TITLE, counter)
    aare = AARE(
        result=result,
        result_source_diagnostic=diagnostic,
        application_context_name=3 if ciphered else 1,
        responding_ap_title=SERVER_TITLE if ciphered else None,
        responder_acse_requirements=mechanism is not None,
        mechanism_name=mechanism,
        responding_authentication_value=auth_value,
        user_information=information,
    )
    request = {
        "op": "encode_aare",
        "context": aare.application_context_name,
        "result": int(result),
        "diagnostic": int(diagnostic),
        "diagnostic_source": "provider" if isinstance(diagnostic, AcseServiceProviderDiagnostic) else "user",
        "responding_ap_title": _hex(aare.responding_ap_title),
        "mechanism": mechanism,
        "auth_value": _hex(auth_value),
        "initiate_response": {
            "conformance": int(response.negotiated_conformance),
            "max_pdu": response.server_max_receive_pdu_size,
        },
        "service_error": None if error is None else {"value": int(error.value)},
        "cipher": {"ic": counter, **KEY_JSON} if ciphered else None,
    }
    return aare, request


def _expected_aarq(aarq: AARQ) -> dict[str, Any]:
    return {
        "context": aarq.application_context_name,
        "calling_ap_title": _hex(aarq.calling_ap_title),
        "mechanism": aarq.mechanism_name,
        "auth_value": _hex(aarq.calling_authentication_value),
        "user_information": _describe(aarq.user_information, aarq.calling_ap_title),
    }


def _expected_aare(aare: AARE) -> dict[str, Any]:
    return {
        "context": aare.application_context_name,
        "result": int(aare.result),
        "diagnostic": int(aare.result_source_diagnostic),
        "diagnostic_source": "provider"
        if isinstance(aare.result_source_diagnostic, AcseServiceProviderDiagnostic)
        else "user",
        "responding_ap_title": _hex(aare.responding_ap_title),
        "mechanism": aare.mechanism_name,
        "auth_value": _hex(aare.responding_authentication_value),
        "user_information": _describe(aare.user_information, aare.responding_ap_title),
    }


def test_dlms_cosem_aarq_both_ways(peers: Path) -> None:
    rng = random.Random(20261124)
    cases = [_aarq_case(rng) for _ in range(40)]
    encoded = _ok(run_peer(DLMS_COSEM, [request for _, request in cases]))
    for (aarq, _), reply in zip(cases, encoded, strict=True):
        assert AARQ.decode(bytes.fromhex(reply["hex"])) == aarq
        assert aarq.encode().hex().upper() == reply["hex"]
    decoded = _ok(
        run_peer(DLMS_COSEM, [{"op": "decode_aarq", "hex": _hex(a.encode()), "keys": KEY_JSON} for a, _ in cases])
    )
    for (aarq, _), reply in zip(cases, decoded, strict=True):
        expected = _expected_aarq(aarq)
        # dlms-cosem 25.1.0 drops the first conformance octet (bits 0-7) when it parses an InitiateRequest
        information = expected["user_information"]
        initiate = information.get("plain", information)
        initiate["conformance"] &= 0xFFFF
        assert reply["apdu"] == expected


def test_dlms_cosem_aare_both_ways(peers: Path) -> None:
    rng = random.Random(4059)
    cases = [_aare_case(rng) for _ in range(40)]
    encoded = _ok(run_peer(DLMS_COSEM, [request for _, request in cases]))
    for (aare, _), reply in zip(cases, encoded, strict=True):
        assert AARE.decode(bytes.fromhex(reply["hex"])) == aare
        assert aare.encode().hex().upper() == reply["hex"]
    decoded = _ok(
        run_peer(DLMS_COSEM, [{"op": "decode_aare", "hex": _hex(a.encode()), "keys": KEY_JSON} for a, _ in cases])
    )
    for (aare, _), reply in zip(cases, decoded, strict=True):
        assert reply["apdu"] == _expected_aare(aare)


def test_dlms_cosem_release_both_ways(peers: Path) -> None:
    initiate = InitiateRequest(
        proposed_conformance=Conformance.GET | Conformance.ACTION, client_max_receive_pdu_size=1024
    )
    response = InitiateResponse(negotiated_conformance=Conformance.GET, server_max_receive_pdu_size=512)
    cipher = {"ic": 77, **KEY_JSON}
    cases: list[tuple[RLRQ | RLRE, dict[str, Any], bytes | None]] = [
        (RLRQ(reason=ReleaseRequestReason.NORMAL), {"op": "encode_rlrq", "reason": 0}, None),
        (
            RLRQ(reason=ReleaseRequestReason.URGENT, user_information=initiate),
            {"op": "encode_rlrq", "reason": 1, "initiate": _initiate_json(initiate)},
            None,
        ),
        (
            RLRQ(reason=ReleaseRequestReason.NORMAL, user_information=_ciphered(initiate, CLIENT_TITLE, 77)),
            {
                "op": "encode_rlrq",
                "reason": 0,
                "initiate": _initiate_json(initiate),
                "system_title": _hex(CLIENT_TITLE),
                "cipher": cipher,
            },
            CLIENT_TITLE,
        ),
        (RLRE(reason=ReleaseResponseReason.NOT_FINISHED), {"op": "encode_rlre", "reason": 1}, None),
        (
            RLRE(reason=ReleaseResponseReason.NORMAL, user_information=_ciphered(response, SERVER_TITLE, 77)),
            {
                "op": "encode_rlre",
                "reason": 0,
                "initiate_response": {"conformance": int(response.negotiated_conformance), "max_pdu": 512},
                "system_title": _hex(SERVER_TITLE),
                "cipher": cipher,
            },
            SERVER_TITLE,
        ),
    ]
    encoded = _ok(run_peer(DLMS_COSEM, [request for _, request, _ in cases]))
    decode_requests = []
    for (apdu, _, title), reply in zip(cases, encoded, strict=True):
        assert type(apdu).decode(bytes.fromhex(reply["hex"])) == apdu
        assert apdu.encode().hex().upper() == reply["hex"]
        op = "decode_rlrq" if isinstance(apdu, RLRQ) else "decode_rlre"
        decode_requests.append({"op": op, "hex": _hex(apdu.encode()), "system_title": _hex(title), "keys": KEY_JSON})
    for (apdu, _, title), reply in zip(cases, _ok(run_peer(DLMS_COSEM, decode_requests)), strict=True):
        assert reply["apdu"] == {
            "reason": int(apdu.reason or 0),
            "user_information": _describe(apdu.user_information, title),
        }


def test_gurux_aarq_both_ways(peers: Path) -> None:
    rng = random.Random(15959)
    cases = []
    for _ in range(30):
        mechanism, auth_value = _mechanism(rng)
        security = rng.choice([0, 0x10, 0x20, 0x30])
        control = {0x10: AUTHENTICATED, 0x20: ENCRYPTED, 0x30: AUTHENTICATED_ENCRYPTED}.get(security)
        titled = control is not None or mechanism == 5
        initiate = _initiate(rng, rng.randbytes(16) if control is not None and rng.random() < 0.5 else None)
        counter = rng.randint(0, 0xFFFF_FFFF)
        information = initiate if control is None else _ciphered(initiate, CLIENT_TITLE, counter, control)
        aarq = AARQ(
            application_context_name=3 if control else 1,
            calling_ap_title=CLIENT_TITLE if titled else None,
            # Gurux names mechanism 0 explicitly when it ciphers without authentication
            sender_acse_requirements=mechanism is not None or control is not None,
            mechanism_name=mechanism if mechanism is not None else (0 if control else None),
            calling_authentication_value=auth_value,
            user_information=information,
        )
        request = {
            "op": "encode_aarq",
            "mechanism": mechanism,
            "auth_value": _hex(auth_value),
            "calling_ap_title": _hex(CLIENT_TITLE if titled else None),
            "security": security,
            "ic": counter,
            **KEY_JSON,
            "initiate": _initiate_json(initiate),
        }
        cases.append((aarq, request, initiate))
    encoded = _ok(run_peer(GURUX, [request for _, request, _ in cases]))
    for (aarq, _, initiate), reply in zip(cases, encoded, strict=True):
        decoded = AARQ.decode(bytes.fromhex(reply["hex"]))
        assert decoded == aarq
        assert aarq.encode().hex().upper() == reply["hex"]
        if isinstance(decoded.user_information, CipheredApdu):
            plain = unprotect(
                decoded.user_information.encode(),
                keys=KEYS,
                peer_system_title=CLIENT_TITLE,
                require_authentication=False,
            )
            assert InitiateRequest.decode(plain.apdu) == initiate
    requests = [
        {"op": "decode_aarq", "hex": _hex(a.encode()), "system_title": _hex(SERVER_TITLE), **KEY_JSON}
        for a, _, _ in cases
    ]
    for (aarq, request, initiate), reply in zip(cases, _ok(run_peer(GURUX, requests)), strict=True):
        assert reply["diagnostic"] == 0
        assert reply["apdu"] == {
            "context": aarq.application_context_name,
            "calling_ap_title": _hex(aarq.calling_ap_title),
            "mechanism": aarq.mechanism_name or None,
            "auth_value": _hex(aarq.calling_authentication_value),
            "security": request["security"],
            "initiate": {"dlms_version": 6, **_initiate_json(initiate)},
        }


def test_gurux_aare_both_ways(peers: Path) -> None:
    rng = random.Random(62056)
    plain_cases = []
    for _ in range(10):
        response = _response(rng)
        result = rng.choice(list(AssociationResult))
        diagnostic = rng.choice(list(AcseServiceUserDiagnostic))
        aare = AARE(result=result, result_source_diagnostic=diagnostic, user_information=response)
        request = {
            "op": "encode_aare",
            "result": int(result),
            "diagnostic": int(diagnostic),
            "mechanism": None,
            "initiate_response": {
                "conformance": int(response.negotiated_conformance),
                "max_pdu": response.server_max_receive_pdu_size,
            },
        }
        plain_cases.append((aare, request))
    for (aare, _), reply in zip(plain_cases, _ok(run_peer(GURUX, [r for _, r in plain_cases])), strict=True):
        assert AARE.decode(bytes.fromhex(reply["hex"])) == aare
        assert aare.encode().hex().upper() == reply["hex"]

    # our AAREs, including HLS-GMAC and a ciphered InitiateResponse, parsed by Gurux's client
    cases = [_aare_case(rng) for _ in range(30)]
    cases = [(aare, request) for aare, request in cases if aare.result is AssociationResult.ACCEPTED]
    cases += [
        (
            AARE(
                result=AssociationResult.REJECTED_PERMANENT,
                result_source_diagnostic=AcseServiceUserDiagnostic.NO_REASON_GIVEN,
                user_information=ConfirmedServiceError(value=InitiateErrorCode.PDU_SIZE_TOO_SHORT),
            ),
            {},
        )
    ]
    requests = [
        {
            "op": "decode_aare",
            "hex": _hex(a.encode()),
            "mechanism": a.mechanism_name,
            "system_title": _hex(CLIENT_TITLE),
            **KEY_JSON,
        }
        for a, _ in cases
    ]
    for (aare, _), reply in zip(cases, _ok(run_peer(GURUX, requests)), strict=True):
        got = reply["apdu"]
        if isinstance(aare.user_information, ConfirmedServiceError):
            # Gurux reports a rejected association by its result and diagnostic before the user-information
            assert got == {"result": 1, "diagnostic": int(AcseServiceUserDiagnostic.NO_REASON_GIVEN)}
            continue
        information = aare.user_information
        if isinstance(information, CipheredApdu):
            information = InitiateResponse.decode(
                unprotect(information.encode(), keys=KEYS, peer_system_title=SERVER_TITLE).apdu
            )
        assert isinstance(information, InitiateResponse)
        assert got == {
            "result": 0,
            "diagnostic": int(aare.result_source_diagnostic),
            "responding_ap_title": _hex(aare.responding_ap_title),
            "mechanism": aare.mechanism_name,
            "auth_value": _hex(aare.responding_authentication_value),
            "security": 0x30 if aare.application_context_name == 3 else 0,
            "initiate_response": {
                "conformance": int(information.negotiated_conformance),
                "max_pdu": information.server_max_receive_pdu_size,
                "dlms_version": 6,
            },
        }


GLO_TAGS = [0xC8, 0xC9, 0xCA, 0xCB, 0xCC, 0xCD, 0xCF, 0x21, 0x28, 0xDB]


def _plain_for(tag: int, rng: random.Random) -> bytes:
    plain_tag = {0xDB: 0x0F, 0x21: 0x01, 0x28: 0x08}.get(tag, tag - 8)
    return bytes((plain_tag,)) + rng.randbytes(rng.randint(0, 600))


def _check_ciphering(peer: str, cases: list[tuple[dict[str, Any], bytes, bool, SecurityControl, bytes, int]]) -> None:
    """Each case: the peer's cipher request, and plain, general?, SC, title, IC for ours."""
    for (_, plain, general, control, title, ic), reply in zip(
        cases, _ok(run_peer(peer, [c[0] for c in cases])), strict=True
    ):
        assert _seal(plain, general, control, title, ic).hex().upper() == reply["hex"]
        result = unprotect(
            bytes.fromhex(reply["hex"]), keys=KEYS, peer_system_title=title, require_authentication=False
        )
        assert (result.apdu, result.invocation_counter, result.security_control) == (plain, ic, control)
    requests = [
        {
            "op": "decipher",
            "hex": _hex(_seal(plain, general, control, title, ic)),
            "system_title": _hex(title),
            **KEY_JSON,
        }
        for _, plain, general, control, title, ic in cases
    ]
    for (_, plain, _, control, _, ic), reply in zip(cases, _ok(run_peer(peer, requests)), strict=True):
        assert (reply["plain"], reply["ic"], reply["sc"]) == (_hex(plain), ic, control.to_byte())


def test_gurux_ciphering_both_ways(peers: Path) -> None:
    rng = random.Random(0x30)
    cases = []
    for tag in GLO_TAGS:
        for control in (AUTHENTICATED, ENCRYPTED, AUTHENTICATED_ENCRYPTED):
            plain, title, ic = _plain_for(tag, rng), rng.randbytes(8), rng.randint(0, 0xFFFF_FFFF)
            request = {"op": "cipher", "tag": tag, "security": control.to_byte(), "system_title": _hex(title), "ic": ic}
            cases.append(({**request, "plain": _hex(plain), **KEY_JSON}, plain, tag == 0xDB, control, title, ic))
    _check_ciphering(GURUX, cases)


def test_dlms_cosem_ciphering_both_ways(peers: Path) -> None:
    rng = random.Random(0xDB)
    cases = []
    for kind, plain_tag in {"general-glo": 0x0F, "glo-initiate-request": 0x01, "glo-initiate-response": 0x08}.items():
        for _ in range(5):
            # dlms-cosem 25.1.0 writes these lengths in one octet, so it cannot cipher 128+ octet contents
            plain = bytes((plain_tag,)) + rng.randbytes(rng.randint(0, 100))
            title, ic = rng.randbytes(8), rng.randint(0, 0xFFFF_FFFF)
            request = {"op": "cipher", "protection": kind, "system_title": _hex(title), "ic": ic, "plain": _hex(plain)}
            cases.append(({**request, **KEY_JSON}, plain, kind == "general-glo", AUTHENTICATED_ENCRYPTED, title, ic))
    _check_ciphering(DLMS_COSEM, cases)
    # the general-glo-ciphered APDU carries the sender's system title
    first = cases[0]
    assert GeneralCipheredApdu.decode(_seal(first[1], True, first[3], first[4], first[5])).system_title == first[4]


@pytest.mark.parametrize("peer", [DLMS_COSEM, GURUX])
def test_hls_gmac_matches(peers: Path, peer: str) -> None:
    rng = random.Random(5)
    cases = [(rng.randbytes(rng.randint(8, 64)), rng.randbytes(8), rng.randint(0, 0xFFFF_FFFF)) for _ in range(25)]
    cases.append((b"P6wRJ21F", CLIENT_TITLE, 1))  # Green Book Table 43, pass 3
    requests = [
        {"op": "hls_gmac", "challenge": _hex(c), "system_title": _hex(t), "ic": ic, **KEY_JSON} for c, t, ic in cases
    ]
    for (challenge, title, ic), reply in zip(cases, _ok(run_peer(peer, requests)), strict=True):
        ours = hls_gmac_response(challenge, system_title=title, invocation_counter=ic, keys=KEYS)
        assert ours.hex().upper() == reply["hex"]
        assert verify_hls_gmac_response(bytes.fromhex(reply["hex"]), challenge, system_title=title, keys=KEYS) == ic
