"""The meter's admission checks of an AARQ and its InitiateRequest, one reason at a time."""

from __future__ import annotations

import pytest

from openprepaid.cosem.acse import AARQ, AcseServiceUserDiagnostic, ApplicationContextName, MechanismName
from openprepaid.cosem.acse_initiate import Conformance, InitiateRequest
from openprepaid.cosem.association_events import Authentication, ClientPolicy
from openprepaid.cosem.security import AUTHENTICATED_ENCRYPTED, SecurityKeys
from openprepaid.cosem.server_admission import check_aarq, check_initiate
from openprepaid.cosem.xdlms_error import InitiateError

KEYS = SecurityKeys(global_unicast=bytes(16), authentication=bytes(16))
PUBLIC = ClientPolicy(authentication=Authentication.NONE)
READER = ClientPolicy(authentication=Authentication.LOW, password=b"12345678")
UTILITY = ClientPolicy(authentication=Authentication.HLS_GMAC, keys=KEYS, protection=AUTHENTICATED_ENCRYPTED)
CIPHERED = ApplicationContextName.LOGICAL_NAME_WITH_CIPHERING
D = AcseServiceUserDiagnostic


@pytest.mark.parametrize("mechanism", [None, MechanismName.LOWEST])
def test_the_public_client_may_name_the_lowest_mechanism_or_none(mechanism: int | None) -> None:
    assert check_aarq(AARQ(mechanism_name=mechanism), PUBLIC) is None


@pytest.mark.parametrize(
    ("aarq", "policy", "diagnostic", "reason"),
    [
        (AARQ(), None, D.CALLING_AP_TITLE_NOT_RECOGNIZED, "unknown client SAP"),
        (AARQ(application_context_name=CIPHERED), PUBLIC, D.APPLICATION_CONTEXT_NAME_NOT_SUPPORTED, "context"),
        (AARQ(mechanism_name=MechanismName.LOWEST), READER, D.AUTHENTICATION_MECHANISM_NAME_NOT_RECOGNISED, "wrong"),
        (AARQ(), READER, D.AUTHENTICATION_MECHANISM_NAME_REQUIRED, "mechanism required"),
        (AARQ(mechanism_name=MechanismName.LOW), READER, D.AUTHENTICATION_REQUIRED, "password required"),
        (
            AARQ(mechanism_name=MechanismName.LOW, calling_authentication_value=b"1234567"),
            READER,
            D.AUTHENTICATION_FAILURE,
            "wrong password",
        ),
        (
            AARQ(application_context_name=CIPHERED, mechanism_name=MechanismName.HIGH_GMAC),
            UTILITY,
            D.AUTHENTICATION_REQUIRED,
            "challenge required",
        ),
        (
            AARQ(
                application_context_name=CIPHERED,
                mechanism_name=MechanismName.HIGH_GMAC,
                calling_authentication_value=b"K56iVagY",
                calling_ap_title=b"short",
            ),
            UTILITY,
            D.CALLING_AP_TITLE_NOT_RECOGNIZED,
            "system title",
        ),
    ],
)
def test_each_refusal_has_its_diagnostic(
    aarq: AARQ, policy: ClientPolicy | None, diagnostic: AcseServiceUserDiagnostic, reason: str
) -> None:
    refusal = check_aarq(aarq, policy)
    assert refusal is not None and refusal.diagnostic is diagnostic and reason in refusal.reason
    assert refusal.initiate_error is None


def test_the_initiate_request_checks() -> None:
    proposal = InitiateRequest(proposed_conformance=Conformance.GET, client_max_receive_pdu_size=512)
    assert check_initiate(proposal, ciphered=False) is None
    old = InitiateRequest(
        proposed_conformance=Conformance.GET, client_max_receive_pdu_size=512, proposed_dlms_version_number=5
    )
    refusal = check_initiate(old, ciphered=True)
    assert refusal is not None and refusal.initiate_error is InitiateError.DLMS_VERSION_TOO_LOW
    keyed = InitiateRequest(
        proposed_conformance=Conformance.GET, client_max_receive_pdu_size=512, dedicated_key=bytes(16)
    )
    assert check_initiate(keyed, ciphered=True) is None
    refusal = check_initiate(keyed, ciphered=False)
    assert refusal is not None and "in clear" in refusal.reason and refusal.initiate_error is InitiateError.OTHER
