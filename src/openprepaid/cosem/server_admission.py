"""Whether a meter admits a client's AARQ (IEC 62056-5-3 clause 9.3.2, Green Book "The application
association"): the checks of the ACSE fields against the client SAP's ``ClientPolicy`` and of the
xDLMS InitiateRequest, each refusal with the AARE diagnostic (and initiate error) that says why.

Pure functions of the decoded APDUs; ``ServerAssociation`` calls them and answers the AARE.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass

from openprepaid.cosem.acse import AARQ, AcseServiceUserDiagnostic, ApplicationContextName, MechanismName
from openprepaid.cosem.acse_initiate import DLMS_VERSION, InitiateRequest
from openprepaid.cosem.association_events import Authentication, ClientPolicy
from openprepaid.cosem.security import KEY_LENGTH, SYSTEM_TITLE_LENGTH
from openprepaid.cosem.xdlms_error import InitiateError


@dataclass(frozen=True, slots=True)
class Refusal:
    """Why an AARQ is refused: the AARE's diagnostic, a reason for the log, and the initiate error the
    AARE carries in its user-information (None: no user-information)."""

    diagnostic: AcseServiceUserDiagnostic
    reason: str
    initiate_error: InitiateError | None = None


_MECHANISMS_OF: dict[Authentication, tuple[int | None, ...]] = {
    Authentication.NONE: (None, MechanismName.LOWEST),  # no mechanism-name, or "lowest level" (gurux sends it)
    Authentication.LOW: (MechanismName.LOW,),
    Authentication.HLS_GMAC: (MechanismName.HIGH_GMAC,),
}


def check_aarq(aarq: AARQ, policy: ClientPolicy | None) -> Refusal | None:  # noqa: PLR0911 - one exit per reason
    """The ACSE fields against the policy of the calling client SAP (None: an unknown SAP)."""
    if policy is None:
        return Refusal(AcseServiceUserDiagnostic.CALLING_AP_TITLE_NOT_RECOGNIZED, "unknown client SAP")
    wanted_context = (
        ApplicationContextName.LOGICAL_NAME_WITH_CIPHERING
        if policy.protection is not None
        else ApplicationContextName.LOGICAL_NAME
    )
    if aarq.application_context_name != wanted_context:
        return Refusal(AcseServiceUserDiagnostic.APPLICATION_CONTEXT_NAME_NOT_SUPPORTED, "application context")
    if aarq.mechanism_name not in _MECHANISMS_OF[policy.authentication]:
        if aarq.mechanism_name is None:
            return Refusal(AcseServiceUserDiagnostic.AUTHENTICATION_MECHANISM_NAME_REQUIRED, "mechanism required")
        return Refusal(AcseServiceUserDiagnostic.AUTHENTICATION_MECHANISM_NAME_NOT_RECOGNISED, "wrong mechanism")
    if policy.authentication is Authentication.LOW:
        given = aarq.calling_authentication_value
        if not given:
            return Refusal(AcseServiceUserDiagnostic.AUTHENTICATION_REQUIRED, "password required")
        if policy.password is None or not hmac.compare_digest(given, policy.password):
            return Refusal(AcseServiceUserDiagnostic.AUTHENTICATION_FAILURE, "wrong password")
    if policy.authentication is Authentication.HLS_GMAC and not aarq.calling_authentication_value:
        return Refusal(AcseServiceUserDiagnostic.AUTHENTICATION_REQUIRED, "challenge required")
    needs_title = policy.protection is not None or policy.authentication is Authentication.HLS_GMAC
    if needs_title and (aarq.calling_ap_title is None or len(aarq.calling_ap_title) != SYSTEM_TITLE_LENGTH):
        return Refusal(AcseServiceUserDiagnostic.CALLING_AP_TITLE_NOT_RECOGNIZED, "client system title required")
    return None


def check_initiate(initiate: InitiateRequest, *, ciphered: bool) -> Refusal | None:
    """The InitiateRequest: DLMS version 6, and a dedicated key only inside a ciphered one, of suite 0's size.

    (The Green Book lets the dedicated key travel only in a glo-/general-glo-ciphered InitiateRequest:
    in clear, anyone on the line would learn it.)
    """
    if initiate.proposed_dlms_version_number < DLMS_VERSION:
        return Refusal(
            AcseServiceUserDiagnostic.NO_REASON_GIVEN, "DLMS version too low", InitiateError.DLMS_VERSION_TOO_LOW
        )
    key = initiate.dedicated_key
    if key is not None and not ciphered:
        return Refusal(AcseServiceUserDiagnostic.NO_REASON_GIVEN, "dedicated key in clear", InitiateError.OTHER)
    if key is not None and len(key) != KEY_LENGTH:
        return Refusal(
            AcseServiceUserDiagnostic.NO_REASON_GIVEN, f"dedicated key of {len(key)} octets", InitiateError.OTHER
        )
    return None
