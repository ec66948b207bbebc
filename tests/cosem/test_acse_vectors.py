"""AARQ / AARE / RLRQ / RLRE against published encodings.

Sources (bytes taken as facts, never code):
- [GB-AARQ] DLMS UA 1000-2 Green Book Ed. 10, "Encoding examples: AARQ and AARE APDUs" (also
  reproduced in the dlms-cosem 25.1.0 test-suite, tests/test_asce, which cites "Green Book v10
  page 444"): LN without security, LN with LLS ("12345678"), LN with HLS-GMAC (CtoS "K56iVagY"),
  LN with ciphering (glo-initiate-request, system title 4D4D4D0000BC614E).
- [GB-AARE] same clause: AARE accepted, rejected (application-context-name not supported),
  rejected with a ConfirmedServiceError (DLMS version too low), HLS-GMAC (StoC "P6wRJ21F").
- [GB-RLRQ] RLRQ "62 03 80 01 00" (reason normal) and RLRQ/RLRE carrying the Green Book's
  glo-initiate-request / glo-initiate-response (Green Book Ed. 10, release examples).
"""

from __future__ import annotations

import pytest

from openprepaid.cosem.acse import (
    AARE,
    AARQ,
    RLRE,
    RLRQ,
    AcseServiceUserDiagnostic,
    ApplicationContextName,
    AssociationResult,
    MechanismName,
    ReleaseRequestReason,
    ReleaseResponseReason,
    decode_acse,
)
from openprepaid.cosem.acse_initiate import (
    ConfirmedServiceError,
    Conformance,
    InitiateErrorCode,
    InitiateRequest,
    InitiateResponse,
    ServiceErrorType,
)
from openprepaid.cosem.security import AUTHENTICATED_ENCRYPTED
from openprepaid.cosem.security_apdu import CipheredApdu
from openprepaid.cosem.xdlms import ConfirmedService, InitiateError, ServiceErrorKind, decode_xdlms_apdu

C = Conformance
# Green Book InitiateRequest proposal "5F1F0400007E1F" and the AARE's negotiated "5F1F040000501F".
PROPOSED = (
    C.PRIORITY_MGMT_SUPPORTED
    | C.ATTRIBUTE0_SUPPORTED_WITH_GET
    | C.BLOCK_TRANSFER_WITH_GET_OR_READ
    | C.BLOCK_TRANSFER_WITH_SET_OR_WRITE
    | C.BLOCK_TRANSFER_WITH_ACTION
    | C.MULTIPLE_REFERENCES
    | C.GET
    | C.SET
    | C.SELECTIVE_ACCESS
    | C.EVENT_NOTIFICATION
    | C.ACTION
)
NEGOTIATED = (
    C.PRIORITY_MGMT_SUPPORTED
    | C.BLOCK_TRANSFER_WITH_GET_OR_READ
    | C.GET
    | C.SET
    | C.SELECTIVE_ACCESS
    | C.EVENT_NOTIFICATION
    | C.ACTION
)
INITIATE_REQUEST = InitiateRequest(proposed_conformance=PROPOSED, client_max_receive_pdu_size=0x04B0)
INITIATE_RESPONSE = InitiateResponse(negotiated_conformance=NEGOTIATED, server_max_receive_pdu_size=0x01F4)
# [GB-AARQ] glo-initiate-request: SC 0x30, IC 0x01234567, ciphered InitiateRequest with dedicated key.
GLO_INITIATE_REQUEST = CipheredApdu(
    tag=0x21,
    security_control=AUTHENTICATED_ENCRYPTED,
    invocation_counter=0x01234567,
    information=bytes.fromhex("801302FF8A7874133D414CED25B42534D28DB0047720606B175BD52211BE6841DB204D39EE6FDB8E356855"),
)
GLO_INITIATE_RESPONSE = CipheredApdu(
    tag=0x28,
    security_control=AUTHENTICATED_ENCRYPTED,
    invocation_counter=0x01234567,
    information=bytes.fromhex("891214A0845E475714383F65BC19745CA235906525E4F3E1C893"),
)

VECTORS: list[tuple[str, str, object]] = [
    (
        "[GB-AARQ] LN, no security",
        "601DA109060760857405080101BE10040E01000000065F1F0400007E1F04B0",
        AARQ(user_information=INITIATE_REQUEST),
    ),
    (
        "[GB-AARQ] LN, low level security",
        "6036A1090607608574050801018A0207808B0760857405080201AC0A80083132333435363738"
        "BE10040E01000000065F1F0400007E1F04B0",
        AARQ(
            sender_acse_requirements=True,
            mechanism_name=MechanismName.LOW,
            calling_authentication_value=b"12345678",
            user_information=INITIATE_REQUEST,
        ),
    ),
    (
        "[GB-AARQ] LN, HLS-GMAC (mechanism 5)",
        "6036A1090607608574050801018A0207808B0760857405080205AC0A80084B35366956616759"
        "BE10040E01000000065F1F0400007E1F04B0",
        AARQ(
            sender_acse_requirements=True,
            mechanism_name=MechanismName.HIGH_GMAC,
            calling_authentication_value=b"K56iVagY",
            user_information=INITIATE_REQUEST,
        ),
    ),
    (
        "[GB-AARQ] LN with ciphering, LLS, glo-initiate-request",
        "6066A109060760857405080103A60A04084D4D4D0000BC614E8A0207808B0760857405080201AC0A8008"
        "3132333435363738BE34043221303001234567801302FF8A7874133D414CED25B42534D28DB0047720606B"
        "175BD52211BE6841DB204D39EE6FDB8E356855",
        AARQ(
            application_context_name=ApplicationContextName.LOGICAL_NAME_WITH_CIPHERING,
            calling_ap_title=bytes.fromhex("4D4D4D0000BC614E"),
            sender_acse_requirements=True,
            mechanism_name=MechanismName.LOW,
            calling_authentication_value=b"12345678",
            user_information=GLO_INITIATE_REQUEST,
        ),
    ),
    (
        "[GB-AARE] accepted, no security",
        "6129A109060760857405080101A203020100A305A103020100BE10040E0800065F1F040000501F01F40007",
        AARE(
            result=AssociationResult.ACCEPTED,
            result_source_diagnostic=AcseServiceUserDiagnostic.NULL,
            user_information=INITIATE_RESPONSE,
        ),
    ),
    (
        "[GB-AARE] rejected: application context name not supported",
        "6129A109060760857405080101A203020101A305A103020102BE10040E0800065F1F040000501F01F40007",
        AARE(
            result=AssociationResult.REJECTED_PERMANENT,
            result_source_diagnostic=AcseServiceUserDiagnostic.APPLICATION_CONTEXT_NAME_NOT_SUPPORTED,
            user_information=INITIATE_RESPONSE,
        ),
    ),
    (
        "[GB-AARE] rejected: ConfirmedServiceError, DLMS version too low",
        "611FA109060760857405080101A203020101A305A103020101BE0604040E010601",
        AARE(
            result=AssociationResult.REJECTED_PERMANENT,
            result_source_diagnostic=AcseServiceUserDiagnostic.NO_REASON_GIVEN,
            user_information=ConfirmedServiceError(value=InitiateErrorCode.DLMS_VERSION_TOO_LOW),
        ),
    ),
    (
        "[GB-AARE] accepted, HLS-GMAC: authentication required, StoC",
        "6142A109060760857405080101A203020100A305A10302010E88020780890760857405080205AA0A8008"
        "503677524A323146BE10040E0800065F1F040000501F01F40007",
        AARE(
            result=AssociationResult.ACCEPTED,
            result_source_diagnostic=AcseServiceUserDiagnostic.AUTHENTICATION_REQUIRED,
            responder_acse_requirements=True,
            mechanism_name=MechanismName.HIGH_GMAC,
            responding_authentication_value=b"P6wRJ21F",
            user_information=INITIATE_RESPONSE,
        ),
    ),
    ("[GB-RLRQ] reason normal", "6203800100", RLRQ(reason=ReleaseRequestReason.NORMAL)),
    (
        "[GB-RLRQ] with glo-initiate-request",
        "6239800100BE34043221303001234567801302FF8A7874133D414CED25B42534D28DB0047720606B175BD5"
        "2211BE6841DB204D39EE6FDB8E356855",
        RLRQ(reason=ReleaseRequestReason.NORMAL, user_information=GLO_INITIATE_REQUEST),
    ),
    ("[GB-RLRQ] RLRE reason normal", "6303800100", RLRE(reason=ReleaseResponseReason.NORMAL)),
    (
        "[GB-RLRQ] RLRE with InitiateResponse (quality of service present)",
        "6316800100BE11040F080100065F1F0400001E1D04C80007",
        RLRE(
            reason=ReleaseResponseReason.NORMAL,
            user_information=InitiateResponse(
                negotiated_quality_of_service=0,
                negotiated_conformance=C.BLOCK_TRANSFER_WITH_GET_OR_READ
                | C.BLOCK_TRANSFER_WITH_SET_OR_WRITE
                | C.BLOCK_TRANSFER_WITH_ACTION
                | C.MULTIPLE_REFERENCES
                | C.GET
                | C.SET
                | C.SELECTIVE_ACCESS
                | C.ACTION,
                server_max_receive_pdu_size=0x04C8,
            ),
        ),
    ),
    (
        "[GB-RLRQ] RLRE with glo-initiate-response",
        "6328800100BE230421281F3001234567891214A0845E475714383F65BC19745CA235906525E4F3E1C893",
        RLRE(reason=ReleaseResponseReason.NORMAL, user_information=GLO_INITIATE_RESPONSE),
    ),
]


@pytest.mark.parametrize(("source", "hex_bytes", "apdu"), VECTORS, ids=[v[0] for v in VECTORS])
def test_decode_published_encoding(source: str, hex_bytes: str, apdu: object) -> None:
    assert decode_acse(bytes.fromhex(hex_bytes)) == apdu, source


@pytest.mark.parametrize(("source", "hex_bytes", "apdu"), VECTORS, ids=[v[0] for v in VECTORS])
def test_encode_gives_published_encoding(source: str, hex_bytes: str, apdu: AARQ | AARE | RLRQ | RLRE) -> None:
    assert apdu.encode().hex().upper() == hex_bytes, source


def test_conformance_bits_follow_the_green_book_numbering() -> None:
    # Green Book: bit 19 = get, bit 23 = action, bit 9 = priority-mgmt-supported; octets 00 7E 1F.
    assert C.GET.encode() == bytes.fromhex("5F1F0400000010")
    assert C.ACTION.encode() == bytes.fromhex("5F1F0400000001")
    assert C.RESERVED_ZERO.encode() == bytes.fromhex("5F1F0400800000")
    assert Conformance.from_octets(bytes.fromhex("007E1F")) == PROPOSED
    assert len(Conformance) == 24


def test_confirmed_service_error_fields() -> None:
    error = ConfirmedServiceError.decode(bytes.fromhex("0E010603"))
    assert error.service == 1
    assert error.error_kind is ServiceErrorType.INITIATE
    assert error.value is InitiateErrorCode.PDU_SIZE_TOO_SHORT
    # the same type as the xDLMS APDU: one Confirmed-Service-Error in the package
    assert decode_xdlms_apdu(bytes.fromhex("0E010603")) == error
    assert error == ConfirmedServiceError(
        service=ConfirmedService.INITIATE_ERROR,
        error_kind=ServiceErrorKind.INITIATE,
        error_value=InitiateError.PDU_SIZE_TOO_SHORT,
    )
    with pytest.raises(TypeError, match="once"):
        ConfirmedServiceError(value=1, error_value=1)
    with pytest.raises(TypeError, match="once"):
        ConfirmedServiceError()


def test_initiate_request_with_dedicated_key_and_response_not_allowed() -> None:
    # [GB-AARQ] the plaintext of the glo-initiate-request: dedicated key 00112233..FF.
    plain = bytes.fromhex("01011000112233445566778899AABBCCDDEEFF0000065F1F0400007E1F04B0")
    request = InitiateRequest.decode(plain)
    assert request.dedicated_key == bytes.fromhex("00112233445566778899AABBCCDDEEFF")
    assert request.response_allowed
    assert request.encode() == plain
    assert "dedicated_key" not in repr(request)
    refused = InitiateRequest(proposed_conformance=C.GET, client_max_receive_pdu_size=256, response_allowed=False)
    # response-allowed FALSE is sent explicitly (usage flag 01, value 00).
    assert refused.encode() == bytes.fromhex("0100010000065F1F04000000100100")


def test_lls_password_stays_out_of_repr() -> None:
    aarq = AARQ(mechanism_name=MechanismName.LOW, calling_authentication_value=b"s3cr3t-pw")
    assert "s3cr3t" not in repr(aarq)


def test_unknown_mechanism_and_context_numbers_are_kept() -> None:
    # A server must answer an unknown mechanism with "authentication-mechanism-name-not-recognised";
    # so the decoder keeps the number (mechanism 9, context 9 are not defined by the Green Book).
    aarq = AARQ.decode(bytes.fromhex("6018A109060760857405080109" + "8A0207808B0760857405080209"))
    assert aarq.mechanism_name == 9
    assert aarq.application_context_name == 9
