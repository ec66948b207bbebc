"""A meter answers each ciphered request in the envelope it came in (IEC 62056-5-3 9.2.7.2.4).

glo- service-specific ciphering is what IS 15959 meters and our head-end use; ded- needs the
dedicated key the client sends inside the glo-ciphered InitiateRequest of its AARQ; general-glo and
general-ded need the meter to offer general-protection. Forms the association does not accept are
answered with an exception-response (service-not-allowed, service-not-supported), forms it accepts
but cannot open with deciphering-error. Vectors: [GB-INIT] (the Green Book's glo-initiate-request
carrying the dedicated key 00112233..FF, see test_security_vectors.py) and [GB-T40] (its
get-request plaintext).
"""

from __future__ import annotations

from dataclasses import replace

import pytest

from openprepaid.cosem.acse import AARE, AARQ, AcseServiceUserDiagnostic, ApplicationContextName, AssociationResult
from openprepaid.cosem.acse_initiate import Conformance, InitiateRequest, InitiateResponse
from openprepaid.cosem.association_events import (
    ActionOutcome,
    AssociationEstablished,
    AssociationRefused,
    Authentication,
    ClientPolicy,
    ClientSettings,
    GetResult,
    RequestRefused,
    ServerSettings,
    SetResult,
)
from openprepaid.cosem.axdr import decode_data, encode_data
from openprepaid.cosem.axdr_types import DoubleLongUnsigned, Enum
from openprepaid.cosem.client_association import ClientAssociation, ClientState
from openprepaid.cosem.errors import ProtocolError, SecurityError
from openprepaid.cosem.security import AUTHENTICATED_ENCRYPTED
from openprepaid.cosem.security_apdu import (
    DED_TAG_OF,
    GENERAL_DED_CIPHERING_TAG,
    GENERAL_GLO_CIPHERING_TAG,
    GLO_TAG_OF,
    Protection,
    protect,
    protection_of,
    unprotect,
)
from openprepaid.cosem.security_counter import InvocationCounter
from openprepaid.cosem.server_association import ServerAssociation, ServerState
from openprepaid.cosem.xdlms import ConfirmedServiceError, GetResponseNormal, InitiateError, decode_xdlms_apdu
from openprepaid.cosem.xdlms_common import ActionResult, DataAccessResult
from openprepaid.cosem.xdlms_error import ExceptionResponse, ExceptionServiceError, StateError
from tests.cosem.test_association import (
    CLIENT_TITLE,
    CLOCK,
    DISCONNECT,
    ENERGY,
    KEYS,
    METER_TITLE,
    POLICIES,
    Link,
)

DEDICATED_KEY = bytes.fromhex("00112233445566778899AABBCCDDEEFF")  # [GB-INIT]
GB_TITLE = bytes.fromhex("4D4D4D0000BC614E")  # [GB-INIT] the title the glo-initiate-request was ciphered with
GB_GLO_INITIATE_REQUEST = bytes.fromhex(
    "21303001234567801302FF8A7874133D414CED25B42534D28DB0047720606B175BD52211BE6841DB204D39EE6FDB8E356855"
)
GB_GET_REQUEST = bytes.fromhex("C0010000080000010000FF0200")  # [GB-T40]
NOT_SUPPORTED = ExceptionResponse(
    state_error=StateError.SERVICE_NOT_ALLOWED, service_error=ExceptionServiceError.SERVICE_NOT_SUPPORTED
).encode()
DECIPHERING_ERROR = ExceptionResponse(
    state_error=StateError.SERVICE_NOT_ALLOWED, service_error=ExceptionServiceError.DECIPHERING_ERROR
).encode()


def utility(form: Protection) -> ClientSettings:
    return ClientSettings(
        authentication=Authentication.HLS_GMAC,
        system_title=CLIENT_TITLE,
        keys=KEYS,
        protection=AUTHENTICATED_ENCRYPTED,
        ciphering=form,
        dedicated_key=DEDICATED_KEY if form.dedicated else None,
    )


def meter(policies: dict[int, ClientPolicy] | None = None) -> ServerAssociation:
    return ServerAssociation(ServerSettings(system_title=METER_TITLE, policies=policies or POLICIES))


def tag_family(form: Protection) -> set[int]:
    if form is Protection.GLOBAL:
        return set(GLO_TAG_OF.values())
    if form is Protection.DEDICATED:
        return set(DED_TAG_OF.values())
    return {GENERAL_GLO_CIPHERING_TAG if form is Protection.GENERAL_GLOBAL else GENERAL_DED_CIPHERING_TAG}


def associated(settings: ClientSettings, server: ServerAssociation | None = None, first_counter: int = 0) -> Link:
    client = ClientAssociation(settings, invocation_counter=InvocationCounter(first_counter))
    link = Link(client, server or meter(), 48)
    event = link.exchange(client.associate())
    assert client.state is ClientState.ASSOCIATED, event
    return link


@pytest.mark.parametrize("form", list(Protection), ids=[form.value for form in Protection])
def test_every_request_is_answered_in_its_own_envelope(form: Protection) -> None:
    link = associated(utility(form))
    assert any(isinstance(e, AssociationEstablished) for e in link.meter_events)
    energy = encode_data(DoubleLongUnsigned(4242))
    event = link.exchange(link.client.get(ENERGY), lambda e: link.meter.respond_get(energy))
    assert isinstance(event, GetResult) and decode_data(event.result) == 4242  # type: ignore[arg-type]
    link.meter.client_max_receive_pdu_size = 128  # a long GET: every block and GET-Request-Next in the same form
    profile = encode_data([DoubleLongUnsigned(i) for i in range(200)])
    event = link.exchange(link.client.get(ENERGY), lambda e: link.meter.respond_get(profile))
    assert isinstance(event, GetResult) and event.result == profile
    event = link.exchange(
        link.client.set(CLOCK, encode_data(b"\x07" * 12)), lambda e: link.meter.respond_set(DataAccessResult.SUCCESS)
    )
    assert isinstance(event, SetResult)
    event = link.exchange(
        link.client.action(DISCONNECT, encode_data(Enum(0))), lambda e: link.meter.respond_action(ActionResult.SUCCESS)
    )
    assert isinstance(event, ActionOutcome) and event.result is ActionResult.SUCCESS
    # After the AARQ / AARE (whose InitiateRequest / InitiateResponse are glo-), HLS pass 3 / 4 and
    # every request and reply travel in the client's envelope.
    assert link.wire[1][0] == 0x61
    assert {apdu[0] for apdu in link.wire[2:]} <= tag_family(form)
    assert link.meter.reply_form is form
    assert all(b"\x00\x00\x10\x92" not in apdu for apdu in link.wire)  # 4242 never in clear


def test_the_green_book_dedicated_key_is_taken_from_the_aarq_and_used_for_ded_replies() -> None:
    # [GB-INIT]: the Green Book's glo-initiate-request (IC 01234567, title 4D4D4D0000BC614E) carries
    # the dedicated key 00112233..FF; a meter that admits it answers ded- requests with that key.
    policies = {48: ClientPolicy(authentication=Authentication.NONE, keys=KEYS, protection=AUTHENTICATED_ENCRYPTED)}
    server = meter(policies)
    aarq = AARQ(
        application_context_name=ApplicationContextName.LOGICAL_NAME_WITH_CIPHERING,
        calling_ap_title=GB_TITLE,
        user_information=None,
    ).encode()
    aarq = _with_user_information(aarq, GB_GLO_INITIATE_REQUEST)
    event = server.receive_apdu(aarq, client_sap=48)
    assert isinstance(event, AssociationEstablished)
    [aare_apdu] = server.data_to_send()
    aare = AARE.decode(aare_apdu)
    assert aare.result is AssociationResult.ACCEPTED
    information = aare.user_information
    assert information is not None and information.encode()[0] == 0x28  # glo-initiate-response
    response = InitiateResponse.decode(unprotect(information.encode(), keys=KEYS, peer_system_title=METER_TITLE).apdu)
    assert response.negotiated_conformance == Conformance.from_octets(bytes.fromhex("007E1F")) & POLICY_OFFER

    dedicated = replace(KEYS, dedicated=DEDICATED_KEY)
    request = protect(
        GB_GET_REQUEST,
        protection=Protection.DEDICATED,
        security_control=AUTHENTICATED_ENCRYPTED,
        system_title=GB_TITLE,
        invocation_counter=0x01234568,
        keys=dedicated,
    )
    assert request[0] == 0xD0  # ded-get-request
    event = server.receive_apdu(request, client_sap=48)
    server.respond_get(encode_data(DoubleLongUnsigned(7)))
    [reply] = server.data_to_send()
    assert reply[0] == 0xD4  # ded-get-response
    with pytest.raises(SecurityError):  # sealed with the dedicated key, not the global one
        unprotect(reply, keys=KEYS, peer_system_title=METER_TITLE)
    opened = unprotect(reply, keys=dedicated, peer_system_title=METER_TITLE)
    assert opened.protection is Protection.DEDICATED
    assert decode_xdlms_apdu(opened.apdu) == GetResponseNormal(
        result=encode_data(DoubleLongUnsigned(7)),
        invoke_id_and_priority=0,  # [GB-T40]'s invoke-id octet
    )


POLICY_OFFER = POLICIES[16].conformance


def _with_user_information(aarq: bytes, information: bytes) -> bytes:
    """``aarq`` with ``information`` (an encoded xDLMS APDU) as its user-information."""
    body = aarq[2:] + bytes((0xBE, len(information) + 2, 0x04, len(information))) + information
    return bytes((0x60, len(body))) + body


def test_a_general_glo_initiate_request_gets_a_general_glo_initiate_response() -> None:
    policies = {48: ClientPolicy(authentication=Authentication.NONE, keys=KEYS, protection=AUTHENTICATED_ENCRYPTED)}
    server = meter(policies)
    initiate = InitiateRequest(proposed_conformance=Conformance.GET, client_max_receive_pdu_size=512).encode()
    ciphered = protect(
        initiate,
        protection=Protection.GENERAL_GLOBAL,
        security_control=AUTHENTICATED_ENCRYPTED,
        system_title=CLIENT_TITLE,
        invocation_counter=5,
        keys=KEYS,
    )
    aarq = AARQ(
        application_context_name=ApplicationContextName.LOGICAL_NAME_WITH_CIPHERING, calling_ap_title=CLIENT_TITLE
    )
    assert isinstance(
        server.receive_apdu(_with_user_information(aarq.encode(), ciphered), client_sap=48), AssociationEstablished
    )
    [aare_apdu] = server.data_to_send()
    information = AARE.decode(aare_apdu).user_information
    assert information is not None and information.encode()[0] == GENERAL_GLO_CIPHERING_TAG
    opened = unprotect(information.encode(), keys=KEYS, peer_system_title=METER_TITLE)
    assert InitiateResponse.decode(opened.apdu).negotiated_conformance == Conformance.GET


def _ded_request(apdu: bytes, counter: int, key: bytes = DEDICATED_KEY) -> bytes:
    return protect(
        apdu,
        protection=Protection.DEDICATED,
        security_control=AUTHENTICATED_ENCRYPTED,
        system_title=CLIENT_TITLE,
        invocation_counter=counter,
        keys=replace(KEYS, dedicated=key),
    )


def test_ded_requests_without_a_dedicated_key_are_not_supported() -> None:
    link = associated(utility(Protection.GLOBAL))  # no dedicated key in this AARQ
    event = link.meter.receive_apdu(_ded_request(GB_GET_REQUEST, 10_000), client_sap=48)
    assert isinstance(event, RequestRefused) and "no dedicated key" in event.reason
    assert link.meter.data_to_send() == [NOT_SUPPORTED]
    assert link.meter.state is ServerState.ASSOCIATED  # the association goes on


def test_a_ded_request_with_another_key_is_a_deciphering_error() -> None:
    link = associated(utility(Protection.DEDICATED))
    event = link.meter.receive_apdu(_ded_request(GB_GET_REQUEST, 10_000, key=bytes(16)), client_sap=48)
    assert isinstance(event, RequestRefused) and "deciphering failed" in event.reason
    assert link.meter.data_to_send() == [DECIPHERING_ERROR]


def test_the_dedicated_key_lasts_one_association() -> None:
    policies = {48: ClientPolicy(authentication=Authentication.NONE, keys=KEYS, protection=AUTHENTICATED_ENCRYPTED)}
    server = meter(policies)
    settings = replace(utility(Protection.DEDICATED), authentication=Authentication.NONE)
    link = associated(settings, server)
    event = link.exchange(link.client.get(ENERGY), lambda e: server.respond_get(DataAccessResult.OBJECT_UNDEFINED))
    assert isinstance(event, GetResult)
    # a new association (same meter, same replay guards) without a dedicated key refuses ded- requests
    associated(replace(settings, ciphering=Protection.GLOBAL, dedicated_key=None), server, first_counter=1000)
    assert isinstance(server.receive_apdu(_ded_request(GB_GET_REQUEST, 50_000), client_sap=48), RequestRefused)
    assert server.data_to_send() == [NOT_SUPPORTED]


def test_general_forms_are_refused_by_a_meter_that_does_not_offer_general_protection() -> None:
    no_general = POLICIES[48].conformance & ~Conformance.GENERAL_PROTECTION
    strict = {48: replace(POLICIES[48], conformance=no_general)}
    link = associated(utility(Protection.GLOBAL), meter(strict))
    request = protect(
        GB_GET_REQUEST,
        protection=Protection.GENERAL_GLOBAL,
        security_control=AUTHENTICATED_ENCRYPTED,
        system_title=CLIENT_TITLE,
        invocation_counter=10_000,
        keys=KEYS,
    )
    event = link.meter.receive_apdu(request, client_sap=48)
    assert isinstance(event, RequestRefused) and "general-protection" in event.reason
    assert link.meter.data_to_send() == [NOT_SUPPORTED]
    # our client, set to general-glo, proposes general-protection and will not go on without it
    client = ClientAssociation(utility(Protection.GENERAL_GLOBAL))
    with pytest.raises(ProtocolError, match="general-protection"):
        Link(client, meter(strict), 48).exchange(client.associate())
    assert client.state is ClientState.ERROR


def test_a_meter_offering_general_protection_answers_general_glo_even_if_not_proposed() -> None:
    link = associated(utility(Protection.GLOBAL))  # proposes no general-protection
    request = protect(
        GB_GET_REQUEST,
        protection=Protection.GENERAL_GLOBAL,
        security_control=AUTHENTICATED_ENCRYPTED,
        system_title=CLIENT_TITLE,
        invocation_counter=10_000,
        keys=KEYS,
    )
    assert link.meter.receive_apdu(request, client_sap=48) is not None
    link.meter.respond_get(DataAccessResult.OBJECT_UNDEFINED)
    [reply] = link.meter.data_to_send()
    assert protection_of(reply) is Protection.GENERAL_GLOBAL


def test_a_ciphered_request_on_the_public_association_is_not_supported() -> None:
    server = meter()
    client = ClientAssociation(ClientSettings())
    Link(client, server, 16).exchange(client.associate())
    ciphered = protect(
        GB_GET_REQUEST,
        protection=Protection.GLOBAL,
        security_control=AUTHENTICATED_ENCRYPTED,
        system_title=CLIENT_TITLE,
        invocation_counter=1,
        keys=KEYS,
    )
    assert isinstance(server.receive_apdu(ciphered, client_sap=16), RequestRefused)
    assert server.data_to_send() == [NOT_SUPPORTED]


def _aarq_with(initiate: bytes, *, ciphered: bool) -> bytes:
    context = ApplicationContextName.LOGICAL_NAME_WITH_CIPHERING if ciphered else ApplicationContextName.LOGICAL_NAME
    aarq = AARQ(application_context_name=context, calling_ap_title=CLIENT_TITLE if ciphered else None).encode()
    return _with_user_information(aarq, initiate)


def _glo(apdu: bytes, counter: int, form: Protection = Protection.GLOBAL) -> bytes:
    return protect(
        apdu,
        protection=form,
        security_control=AUTHENTICATED_ENCRYPTED,
        system_title=CLIENT_TITLE,
        invocation_counter=counter,
        keys=replace(KEYS, dedicated=DEDICATED_KEY),
    )


def _initiate(**fields: object) -> bytes:
    return InitiateRequest(proposed_conformance=Conformance.GET, client_max_receive_pdu_size=1024, **fields).encode()  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("sap", "initiate", "ciphered", "reason", "initiate_error"),
    [
        (16, _initiate(dedicated_key=DEDICATED_KEY), False, "dedicated key in clear", InitiateError.OTHER),
        (50, _glo(_initiate(dedicated_key=b"short-key"), 1), True, "dedicated key of 9 octets", InitiateError.OTHER),
        (50, _glo(_initiate(), 1, Protection.DEDICATED), True, "dedicated key", None),
        (
            50,
            _glo(_initiate(proposed_dlms_version_number=5), 1),
            True,
            "DLMS version",
            InitiateError.DLMS_VERSION_TOO_LOW,
        ),
    ],
    ids=["key-in-clear", "key-of-wrong-size", "ded-initiate", "old-dlms"],
)
def test_aarqs_with_a_bad_initiate_request_are_refused(
    sap: int, initiate: bytes, ciphered: bool, reason: str, initiate_error: InitiateError | None
) -> None:
    policies = {
        16: ClientPolicy(authentication=Authentication.NONE),
        50: ClientPolicy(authentication=Authentication.NONE, keys=KEYS, protection=AUTHENTICATED_ENCRYPTED),
    }
    server = meter(policies)
    event = server.receive_apdu(_aarq_with(initiate, ciphered=ciphered), client_sap=sap)
    assert isinstance(event, AssociationRefused) and reason in event.reason
    [aare_apdu] = server.data_to_send()
    aare = AARE.decode(aare_apdu)
    assert aare.result is AssociationResult.REJECTED_PERMANENT
    if initiate_error is None:
        assert aare.result_source_diagnostic is AcseServiceUserDiagnostic.AUTHENTICATION_FAILURE
        assert aare.user_information is None
    else:
        assert aare.user_information == ConfirmedServiceError(value=initiate_error)
    assert server.state is ServerState.IDLE


CIPHERED = {"system_title": CLIENT_TITLE, "keys": KEYS, "protection": AUTHENTICATED_ENCRYPTED}


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        (ClientSettings(ciphering=Protection.DEDICATED, **CIPHERED), "needs a dedicated key"),  # type: ignore[arg-type]
        (ClientSettings(dedicated_key=DEDICATED_KEY), "only in a ciphered InitiateRequest"),
        (ClientSettings(dedicated_key=b"x" * 8, **CIPHERED), "dedicated key"),  # type: ignore[arg-type]
    ],
    ids=["ded-without-key", "key-without-ciphering", "short-key"],
)
def test_client_settings_that_cannot_work_are_refused_up_front(settings: ClientSettings, message: str) -> None:
    with pytest.raises(SecurityError, match=message):
        ClientAssociation(settings)


def test_the_client_sends_its_dedicated_key_only_inside_the_ciphered_initiate_request() -> None:
    client = ClientAssociation(utility(Protection.DEDICATED))
    aarq = AARQ.decode(client.associate())
    assert DEDICATED_KEY not in aarq.encode()
    information = aarq.user_information
    assert information is not None and information.encode()[0] == 0x21  # glo-initiate-request
    plain = unprotect(information.encode(), keys=KEYS, peer_system_title=CLIENT_TITLE).apdu
    assert InitiateRequest.decode(plain).dedicated_key == DEDICATED_KEY
    general = AARQ.decode(ClientAssociation(utility(Protection.GENERAL_DEDICATED)).associate())
    assert general.user_information is not None
    proposal = InitiateRequest.decode(
        unprotect(general.user_information.encode(), keys=KEYS, peer_system_title=CLIENT_TITLE).apdu
    )
    assert proposal.proposed_conformance & Conformance.GENERAL_PROTECTION
