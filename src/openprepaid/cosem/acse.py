"""ACSE APDUs of IEC 62056-5-3: AARQ, AARE, RLRQ, RLRE (BER, DLMS UA Green Book 9.3 and Annex "ACSE").

The components DLMS/COSEM uses, in their ASN.1 order (tag octet in brackets)::

    AARQ [APPLICATION 0] 60              AARE [APPLICATION 1] 61
      protocol-version         80          protocol-version            80
      application-context-name A1          application-context-name    A1
      calling-AP-title         A6          result                      A2
      calling-AE-qualifier     A7          result-source-diagnostic    A3  (A1 user | A2 provider)
      calling-AE-invocation-id A9          responding-AP-title         A4
      sender-acse-requirements 8A          responding-AE-qualifier     A5
      mechanism-name           8B          responding-AE-invocation-id A7
      calling-authentication-  AC          responder-acse-requirements 88
        value (80 charstring)              mechanism-name              89
      implementation-info      9D          responding-authentication-  AA
      user-information         BE            value (80 charstring)
                                           implementation-info         9D
    RLRQ [APPLICATION 2] 62 / RLRE 63:     user-information            BE
      reason 80, user-information BE

Names are OBJECT IDENTIFIERs under the DLMS UA arc: application contexts 2.16.756.5.8.1.x, mechanisms
2.16.756.5.8.2.x. user-information is an OCTET STRING holding the xDLMS InitiateRequest /
InitiateResponse / ConfirmedServiceError, plain or ciphered (glo-/ded-, general-glo/ded-ciphering).

Decoding is strict: components must come in ASN.1 order, once each; the APDU must use its whole
input; components DLMS does not use (called-*, AP-invocation identifiers, ...) are refused. An
unknown context or mechanism number under the DLMS arc is returned as a number so that a server can
answer it with the right AARE diagnostic.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from openprepaid.cosem.acse_ber import Tlv, decode_integer, encode_integer, encode_tlv
from openprepaid.cosem.acse_components import (
    ACSE_REQUIREMENTS_AUTHENTICATION,
    CONTEXT_ARC,
    MECHANISM_ARC,
    E,
    check_protocol_version,
    components,
    decode_acse_requirements,
    decode_authentication_value,
    decode_ciphered,
    decode_explicit_integer,
    decode_name,
    decode_octets,
    decode_user_information,
    encode_authentication_value,
    encode_explicit_integer,
    encode_name,
    encode_octets,
    encode_user_information,
    enum_value,
    require,
)
from openprepaid.cosem.acse_initiate import (
    CONFIRMED_SERVICE_ERROR_TAG,
    INITIATE_REQUEST_TAG,
    INITIATE_RESPONSE_TAG,
    InitiateRequest,
    InitiateResponse,
)
from openprepaid.cosem.errors import DecodeError
from openprepaid.cosem.security_apdu import CipheredApdu, GeneralCipheredApdu
from openprepaid.cosem.xdlms_error import ConfirmedServiceError

AARQ_TAG = 0x60
AARE_TAG = 0x61
RLRQ_TAG = 0x62
RLRE_TAG = 0x63


class ApplicationContextName(enum.IntEnum):
    """Green Book application context names (last arc of 2.16.756.5.8.1.x)."""

    LOGICAL_NAME = 1
    SHORT_NAME = 2
    LOGICAL_NAME_WITH_CIPHERING = 3
    SHORT_NAME_WITH_CIPHERING = 4


class MechanismName(enum.IntEnum):
    """Green Book authentication mechanism names (last arc of 2.16.756.5.8.2.x)."""

    LOWEST = 0
    LOW = 1
    HIGH = 2
    HIGH_MD5 = 3
    HIGH_SHA1 = 4
    HIGH_GMAC = 5
    HIGH_SHA256 = 6
    HIGH_ECDSA = 7


class AssociationResult(enum.IntEnum):
    ACCEPTED = 0
    REJECTED_PERMANENT = 1
    REJECTED_TRANSIENT = 2


class AcseServiceUserDiagnostic(enum.IntEnum):
    NULL = 0
    NO_REASON_GIVEN = 1
    APPLICATION_CONTEXT_NAME_NOT_SUPPORTED = 2
    CALLING_AP_TITLE_NOT_RECOGNIZED = 3
    CALLING_AP_INVOCATION_IDENTIFIER_NOT_RECOGNIZED = 4
    CALLING_AE_QUALIFIER_NOT_RECOGNIZED = 5
    CALLING_AE_INVOCATION_IDENTIFIER_NOT_RECOGNIZED = 6
    CALLED_AP_TITLE_NOT_RECOGNIZED = 7
    CALLED_AP_INVOCATION_IDENTIFIER_NOT_RECOGNIZED = 8
    CALLED_AE_QUALIFIER_NOT_RECOGNIZED = 9
    CALLED_AE_INVOCATION_IDENTIFIER_NOT_RECOGNIZED = 10
    AUTHENTICATION_MECHANISM_NAME_NOT_RECOGNISED = 11
    AUTHENTICATION_MECHANISM_NAME_REQUIRED = 12
    AUTHENTICATION_FAILURE = 13
    AUTHENTICATION_REQUIRED = 14


class AcseServiceProviderDiagnostic(enum.IntEnum):
    NULL = 0
    NO_REASON_GIVEN = 1
    NO_COMMON_ACSE_VERSION = 2


class ReleaseRequestReason(enum.IntEnum):
    NORMAL = 0
    URGENT = 1
    USER_DEFINED = 30


class ReleaseResponseReason(enum.IntEnum):
    NORMAL = 0
    NOT_FINISHED = 1
    USER_DEFINED = 30


RequestInformation = InitiateRequest | CipheredApdu | GeneralCipheredApdu
ResponseInformation = InitiateResponse | ConfirmedServiceError | CipheredApdu | GeneralCipheredApdu


def _decode_request_information(element: Tlv, what: str) -> RequestInformation:
    inner = decode_user_information(element, (INITIATE_REQUEST_TAG,), what)
    if inner.value[0] == INITIATE_REQUEST_TAG:
        return InitiateRequest.decode(inner.value, inner.offset)
    return decode_ciphered(inner, (INITIATE_REQUEST_TAG,))


def _decode_response_information(element: Tlv, what: str) -> ResponseInformation:
    inner = decode_user_information(element, (INITIATE_RESPONSE_TAG, CONFIRMED_SERVICE_ERROR_TAG), what)
    if inner.value[0] == INITIATE_RESPONSE_TAG:
        return InitiateResponse.decode(inner.value, inner.offset)
    if inner.value[0] == CONFIRMED_SERVICE_ERROR_TAG:
        return ConfirmedServiceError.decode(inner.value)
    return decode_ciphered(inner, (INITIATE_RESPONSE_TAG, CONFIRMED_SERVICE_ERROR_TAG))


def _context_name(element: Tlv) -> int:
    return decode_name(element, CONTEXT_ARC, ApplicationContextName, "application-context-name", explicit=True)


def _mechanism_name(element: Tlv) -> int:
    return decode_name(element, MECHANISM_ARC, MechanismName, "mechanism-name", explicit=False)


# --- AARQ -------------------------------------------------------------------------------------

_AARQ_COMPONENTS = frozenset((0x80, 0xA1, 0xA6, 0xA7, 0xA9, 0x8A, 0x8B, 0xAC, 0x9D, 0xBE))


@dataclass(frozen=True, slots=True, kw_only=True)
class AARQ:
    """A-ASSOCIATE request. ``calling_ap_title`` is the client system title; for LLS the
    ``calling_authentication_value`` is the password, for HLS the CtoS challenge (never in repr)."""

    application_context_name: int = ApplicationContextName.LOGICAL_NAME
    calling_ap_title: bytes | None = None
    calling_ae_qualifier: bytes | None = None
    calling_ae_invocation_id: int | None = None
    sender_acse_requirements: bool = False
    mechanism_name: int | None = None
    calling_authentication_value: bytes | None = field(default=None, repr=False)
    implementation_information: bytes | None = None
    user_information: RequestInformation | None = None

    def encode(self) -> bytes:
        parts = [encode_name(0xA1, CONTEXT_ARC, self.application_context_name, explicit=True)]
        if self.calling_ap_title is not None:
            parts.append(encode_octets(0xA6, self.calling_ap_title))
        if self.calling_ae_qualifier is not None:
            parts.append(encode_octets(0xA7, self.calling_ae_qualifier))
        if self.calling_ae_invocation_id is not None:
            parts.append(encode_explicit_integer(0xA9, self.calling_ae_invocation_id))
        if self.sender_acse_requirements:
            parts.append(encode_tlv(0x8A, ACSE_REQUIREMENTS_AUTHENTICATION))
        if self.mechanism_name is not None:
            parts.append(encode_name(0x8B, MECHANISM_ARC, self.mechanism_name, explicit=False))
        if self.calling_authentication_value is not None:
            parts.append(encode_authentication_value(0xAC, self.calling_authentication_value))
        if self.implementation_information is not None:
            parts.append(encode_tlv(0x9D, self.implementation_information))
        if self.user_information is not None:
            parts.append(encode_user_information(self.user_information.encode()))
        return encode_tlv(AARQ_TAG, b"".join(parts))

    @classmethod
    def decode(cls, data: bytes) -> AARQ:
        found = components(data, AARQ_TAG, _AARQ_COMPONENTS, "AARQ")
        if 0x80 in found:
            check_protocol_version(found[0x80])
        return cls(
            application_context_name=_context_name(require(found, 0xA1, "AARQ")),
            calling_ap_title=decode_octets(found[0xA6], "calling-AP-title") if 0xA6 in found else None,
            calling_ae_qualifier=decode_octets(found[0xA7], "calling-AE-qualifier") if 0xA7 in found else None,
            calling_ae_invocation_id=(
                decode_explicit_integer(found[0xA9], "calling-AE-invocation-id") if 0xA9 in found else None
            ),
            sender_acse_requirements=decode_acse_requirements(found[0x8A]) if 0x8A in found else False,
            mechanism_name=_mechanism_name(found[0x8B]) if 0x8B in found else None,
            calling_authentication_value=(
                decode_authentication_value(found[0xAC], "calling-authentication-value") if 0xAC in found else None
            ),
            implementation_information=found[0x9D].value if 0x9D in found else None,
            user_information=_decode_request_information(found[0xBE], "AARQ") if 0xBE in found else None,
        )


# --- AARE -------------------------------------------------------------------------------------

_AARE_COMPONENTS = frozenset((0x80, 0xA1, 0xA2, 0xA3, 0xA4, 0xA5, 0xA7, 0x88, 0x89, 0xAA, 0x9D, 0xBE))
Diagnostic = AcseServiceUserDiagnostic | AcseServiceProviderDiagnostic


def _encode_diagnostic(diagnostic: Diagnostic) -> bytes:
    source = 0xA2 if isinstance(diagnostic, AcseServiceProviderDiagnostic) else 0xA1
    return encode_tlv(0xA3, encode_explicit_integer(source, int(diagnostic)))


def _decode_diagnostic(element: Tlv) -> Diagnostic:
    reader = element.reader()
    source = reader.read_tlv()
    reader.expect_end("result-source-diagnostic")
    value = decode_explicit_integer(source, "result-source-diagnostic")
    if source.tag == 0xA1:
        return enum_value(AcseServiceUserDiagnostic, value, source.offset, "acse-service-user diagnostic")
    if source.tag == 0xA2:
        return enum_value(AcseServiceProviderDiagnostic, value, source.offset, "acse-service-provider diagnostic")
    raise DecodeError(f"result-source-diagnostic alternative {source.tag:#04x}", element.offset)


@dataclass(frozen=True, slots=True, kw_only=True)
class AARE:
    """A-ASSOCIATE response. ``responding_ap_title`` is the server system title; for HLS the
    ``responding_authentication_value`` is the StoC challenge. The type of
    ``result_source_diagnostic`` says its source (acse-service-user or acse-service-provider)."""

    result: AssociationResult
    result_source_diagnostic: Diagnostic
    application_context_name: int = ApplicationContextName.LOGICAL_NAME
    responding_ap_title: bytes | None = None
    responding_ae_qualifier: bytes | None = None
    responding_ae_invocation_id: int | None = None
    responder_acse_requirements: bool = False
    mechanism_name: int | None = None
    responding_authentication_value: bytes | None = None
    implementation_information: bytes | None = None
    user_information: ResponseInformation | None = None

    def encode(self) -> bytes:
        parts = [
            encode_name(0xA1, CONTEXT_ARC, self.application_context_name, explicit=True),
            encode_explicit_integer(0xA2, int(self.result)),
            _encode_diagnostic(self.result_source_diagnostic),
        ]
        if self.responding_ap_title is not None:
            parts.append(encode_octets(0xA4, self.responding_ap_title))
        if self.responding_ae_qualifier is not None:
            parts.append(encode_octets(0xA5, self.responding_ae_qualifier))
        if self.responding_ae_invocation_id is not None:
            parts.append(encode_explicit_integer(0xA7, self.responding_ae_invocation_id))
        if self.responder_acse_requirements:
            parts.append(encode_tlv(0x88, ACSE_REQUIREMENTS_AUTHENTICATION))
        if self.mechanism_name is not None:
            parts.append(encode_name(0x89, MECHANISM_ARC, self.mechanism_name, explicit=False))
        if self.responding_authentication_value is not None:
            parts.append(encode_authentication_value(0xAA, self.responding_authentication_value))
        if self.implementation_information is not None:
            parts.append(encode_tlv(0x9D, self.implementation_information))
        if self.user_information is not None:
            parts.append(encode_user_information(self.user_information.encode()))
        return encode_tlv(AARE_TAG, b"".join(parts))

    @classmethod
    def decode(cls, data: bytes) -> AARE:
        found = components(data, AARE_TAG, _AARE_COMPONENTS, "AARE")
        if 0x80 in found:
            check_protocol_version(found[0x80])
        result_element = require(found, 0xA2, "AARE")
        result = decode_explicit_integer(result_element, "result")
        return cls(
            result=enum_value(AssociationResult, result, result_element.offset, "association result"),
            result_source_diagnostic=_decode_diagnostic(require(found, 0xA3, "AARE")),
            application_context_name=_context_name(require(found, 0xA1, "AARE")),
            responding_ap_title=decode_octets(found[0xA4], "responding-AP-title") if 0xA4 in found else None,
            responding_ae_qualifier=decode_octets(found[0xA5], "responding-AE-qualifier") if 0xA5 in found else None,
            responding_ae_invocation_id=(
                decode_explicit_integer(found[0xA7], "responding-AE-invocation-id") if 0xA7 in found else None
            ),
            responder_acse_requirements=decode_acse_requirements(found[0x88]) if 0x88 in found else False,
            mechanism_name=_mechanism_name(found[0x89]) if 0x89 in found else None,
            responding_authentication_value=(
                decode_authentication_value(found[0xAA], "responding-authentication-value") if 0xAA in found else None
            ),
            implementation_information=found[0x9D].value if 0x9D in found else None,
            user_information=_decode_response_information(found[0xBE], "AARE") if 0xBE in found else None,
        )


# --- RLRQ / RLRE ------------------------------------------------------------------------------


def _encode_release(tag: int, reason: int | None, user_information: bytes | None) -> bytes:
    parts = []
    if reason is not None:
        parts.append(encode_tlv(0x80, encode_integer(reason)))
    if user_information is not None:
        parts.append(encode_user_information(user_information))
    return encode_tlv(tag, b"".join(parts))


def _decode_reason(found: Mapping[int, Tlv], kind: type[E]) -> E | None:
    element = found.get(0x80)
    if element is None:
        return None
    return enum_value(kind, decode_integer(element.value, element.offset), element.offset, "release reason")


@dataclass(frozen=True, slots=True, kw_only=True)
class RLRQ:
    """A-RELEASE request; with ciphering its user-information is a glo-initiate-request."""

    reason: ReleaseRequestReason | None = None
    user_information: RequestInformation | None = None

    def encode(self) -> bytes:
        info = None if self.user_information is None else self.user_information.encode()
        return _encode_release(RLRQ_TAG, self.reason, info)

    @classmethod
    def decode(cls, data: bytes) -> RLRQ:
        found = components(data, RLRQ_TAG, frozenset((0x80, 0xBE)), "RLRQ")
        return cls(
            reason=_decode_reason(found, ReleaseRequestReason),
            user_information=_decode_request_information(found[0xBE], "RLRQ") if 0xBE in found else None,
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class RLRE:
    """A-RELEASE response; with ciphering its user-information is a glo-initiate-response."""

    reason: ReleaseResponseReason | None = None
    user_information: ResponseInformation | None = None

    def encode(self) -> bytes:
        info = None if self.user_information is None else self.user_information.encode()
        return _encode_release(RLRE_TAG, self.reason, info)

    @classmethod
    def decode(cls, data: bytes) -> RLRE:
        found = components(data, RLRE_TAG, frozenset((0x80, 0xBE)), "RLRE")
        return cls(
            reason=_decode_reason(found, ReleaseResponseReason),
            user_information=_decode_response_information(found[0xBE], "RLRE") if 0xBE in found else None,
        )


AcseApdu = AARQ | AARE | RLRQ | RLRE
_BY_TAG: Mapping[int, Callable[[bytes], AcseApdu]] = MappingProxyType(
    {AARQ_TAG: AARQ.decode, AARE_TAG: AARE.decode, RLRQ_TAG: RLRQ.decode, RLRE_TAG: RLRE.decode}
)


def decode_acse(data: bytes) -> AcseApdu:
    """Decode whichever ACSE APDU ``data`` holds, by its first octet."""
    if not data:
        raise DecodeError("empty ACSE APDU", 0)
    decoder = _BY_TAG.get(data[0])
    if decoder is None:
        raise DecodeError(f"{data[0]:#04x} is not an ACSE APDU tag", 0)
    return decoder(data)


DECODERS: Mapping[str, Callable[[bytes], object]] = MappingProxyType(
    {
        "acse.AARQ": AARQ.decode,
        "acse.AARE": AARE.decode,
        "acse.RLRQ": RLRQ.decode,
        "acse.RLRE": RLRE.decode,
        "acse.decode_acse": decode_acse,
        "acse.InitiateRequest": InitiateRequest.decode,
        "acse.InitiateResponse": InitiateResponse.decode,
        "acse.ConfirmedServiceError": ConfirmedServiceError.decode,
    }
)
"""Decoder entry points for the fuzz harness: each raises only DecodeError on bad bytes."""
