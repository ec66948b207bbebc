"""Client and server associations against each other, in memory, for the three IS 15959 associations."""

from __future__ import annotations

import pytest

from openprepaid.cosem.acse import AcseServiceUserDiagnostic, AssociationResult
from openprepaid.cosem.association_events import (
    ActionOutcome,
    ActionRequested,
    AssociationAccepted,
    AssociationEstablished,
    AssociationRefused,
    AssociationRejected,
    Authentication,
    ClientPolicy,
    ClientSettings,
    ExceptionReceived,
    GetListRequested,
    GetListResult,
    GetRequested,
    GetResult,
    Released,
    RequestRefused,
    ServerSettings,
    SetRequested,
    SetResult,
)
from openprepaid.cosem.axdr import decode_data, encode_data
from openprepaid.cosem.axdr_types import DoubleLongUnsigned, Enum
from openprepaid.cosem.client_association import ClientAssociation, ClientState
from openprepaid.cosem.errors import ProtocolError, ReplayError, SecurityError
from openprepaid.cosem.obis import OBIS
from openprepaid.cosem.security import AUTHENTICATED_ENCRYPTED, SecurityKeys
from openprepaid.cosem.server_association import ServerAssociation, ServerState
from openprepaid.cosem.xdlms_common import (
    ActionResult,
    CosemAttributeDescriptor,
    CosemAttributeDescriptorWithSelection,
    CosemMethodDescriptor,
    DataAccessResult,
)
from openprepaid.cosem.xdlms_error import ExceptionServiceError

EK = bytes.fromhex("000102030405060708090A0B0C0D0E0F")
AK = bytes.fromhex("D0D1D2D3D4D5D6D7D8D9DADBDCDDDEDF")
KEYS = SecurityKeys(global_unicast=EK, authentication=AK)
CLIENT_TITLE = b"OPHES001"
METER_TITLE = b"OPS\x00\x00\x98\x96\x81"
ENERGY = CosemAttributeDescriptor(3, OBIS.parse("1.0.1.8.0.255"), 2)
CLOCK = CosemAttributeDescriptor(8, OBIS.parse("0.0.1.0.0.255"), 2)
DISCONNECT = CosemMethodDescriptor(70, OBIS.parse("0.0.96.3.10.255"), 1)

POLICIES = {
    16: ClientPolicy(authentication=Authentication.NONE),
    32: ClientPolicy(authentication=Authentication.LOW, password=b"12345678"),
    48: ClientPolicy(authentication=Authentication.HLS_GMAC, keys=KEYS, protection=AUTHENTICATED_ENCRYPTED),
}
CLIENTS = {
    16: ClientSettings(),
    32: ClientSettings(authentication=Authentication.LOW, password=b"12345678"),
    48: ClientSettings(
        authentication=Authentication.HLS_GMAC, system_title=CLIENT_TITLE, keys=KEYS, protection=AUTHENTICATED_ENCRYPTED
    ),
}


def server(max_pdu: int = 0xFFFF) -> ServerAssociation:
    return ServerAssociation(ServerSettings(system_title=METER_TITLE, policies=POLICIES, max_receive_pdu_size=max_pdu))


class Link:
    """Carries APDUs between the two sides and lets the test play the meter's application."""

    def __init__(self, client: ClientAssociation, meter: ServerAssociation, sap: int) -> None:
        self.client, self.meter, self.sap = client, meter, sap
        self.wire: list[bytes] = []
        self.meter_events: list[object] = []

    def exchange(self, apdu: bytes, answer=None):
        """Send ``apdu``; let ``answer(event)`` respond to application requests; return the client's event."""
        to_meter = [apdu]
        while to_meter:
            request = to_meter.pop(0)
            self.wire.append(request)
            event = self.meter.receive_apdu(request, client_sap=self.sap)
            if event is not None:
                self.meter_events.append(event)
                if answer is not None and isinstance(
                    event, GetRequested | GetListRequested | SetRequested | ActionRequested
                ):
                    answer(event)
            for reply in self.meter.data_to_send():
                self.wire.append(reply)
                client_event = self.client.receive_apdu(reply)
                to_meter.extend(self.client.data_to_send())
                if client_event is not None:
                    return client_event
        raise AssertionError("no client event")


def associate(sap: int, max_pdu: int = 0xFFFF, **client_kw) -> Link:
    client = ClientAssociation(client_kw.pop("settings", CLIENTS[sap]), **client_kw)
    link = Link(client, server(max_pdu), sap)
    event = link.exchange(client.associate())
    assert isinstance(event, AssociationAccepted), event
    assert client.state is ClientState.ASSOCIATED
    assert link.meter.state is ServerState.ASSOCIATED
    return link


@pytest.mark.parametrize("sap", [16, 32, 48])
def test_each_association_reads_writes_acts_and_releases(sap):
    link = associate(sap)
    established = [e for e in link.meter_events if isinstance(e, AssociationEstablished)]
    assert established and established[0].authentication is POLICIES[sap].authentication

    energy = encode_data(DoubleLongUnsigned(123_456))
    event = link.exchange(link.client.get(ENERGY), lambda e: link.meter.respond_get(energy))
    assert isinstance(event, GetResult) and decode_data(event.result) == 123_456

    event = link.exchange(
        link.client.set(CLOCK, encode_data(b"\x07" * 12)), lambda e: link.meter.respond_set(DataAccessResult.SUCCESS)
    )
    assert isinstance(event, SetResult) and event.results == (DataAccessResult.SUCCESS,)
    assert any(isinstance(e, SetRequested) and e.value == encode_data(b"\x07" * 12) for e in link.meter_events)

    event = link.exchange(
        link.client.action(DISCONNECT, encode_data(Enum(0))),
        lambda e: link.meter.respond_action(ActionResult.SUCCESS),
    )
    assert isinstance(event, ActionOutcome) and event.result is ActionResult.SUCCESS

    assert isinstance(link.exchange(link.client.release()), Released)
    assert link.client.state is ClientState.RELEASED
    assert link.meter.state is ServerState.IDLE


def test_ciphered_association_hides_the_values_on_the_wire():
    link = associate(48)
    secret_value = encode_data(b"SECRET-READING-42")
    link.exchange(link.client.get(ENERGY), lambda e: link.meter.respond_get(secret_value))
    assert all(b"SECRET-READING-42" not in apdu for apdu in link.wire)
    # Every xDLMS APDU after the AARQ/AARE is glo-ciphered (0xC8 get-request, 0xCC get-response, 0xCB/0xCF action).
    assert {apdu[0] for apdu in link.wire[2:]} <= {0xC8, 0xCC, 0xCB, 0xCF}


@pytest.mark.parametrize("sap", [16, 48])
def test_long_get_results_travel_in_blocks(sap):
    link = associate(sap)
    link.meter.client_max_receive_pdu_size = 256  # a small client buffer forces datablocks
    rows = [(b"\x07\xea\x0b\x18\x02\x00\x00\x00\x00\xff\xb6\x00", DoubleLongUnsigned(i)) for i in range(96)]
    profile = encode_data(rows)
    event = link.exchange(link.client.get(ENERGY), lambda e: link.meter.respond_get(profile))
    assert isinstance(event, GetResult) and event.result == profile
    assert len(link.wire) > 10  # many blocks and GET-Request-Next went by


def test_long_set_values_travel_in_blocks():
    link = associate(16, max_pdu=128)
    value = encode_data(b"x" * 1000)
    event = link.exchange(link.client.set(CLOCK, value), lambda e: link.meter.respond_set(DataAccessResult.SUCCESS))
    assert isinstance(event, SetResult)
    requested = [e for e in link.meter_events if isinstance(e, SetRequested)]
    assert requested[-1].value == value


def test_get_with_list_and_access_errors():
    link = associate(32)
    items = [CosemAttributeDescriptorWithSelection(ENERGY), CosemAttributeDescriptorWithSelection(CLOCK)]
    event = link.exchange(
        link.client.get_with_list(items),
        lambda e: link.meter.respond_get([encode_data(DoubleLongUnsigned(5)), DataAccessResult.OBJECT_UNDEFINED]),
    )
    assert isinstance(event, GetListResult)
    assert event.results == (encode_data(DoubleLongUnsigned(5)), DataAccessResult.OBJECT_UNDEFINED)
    event = link.exchange(link.client.get(CLOCK), lambda e: link.meter.respond_get(DataAccessResult.READ_WRITE_DENIED))
    assert event == GetResult(event.invoke_id, DataAccessResult.READ_WRITE_DENIED)


@pytest.mark.parametrize("sap", [16, 48])
def test_long_list_results_travel_in_blocks(sap):
    link = associate(sap)
    link.meter.client_max_receive_pdu_size = 256  # the list does not fit: its result list goes by blocks
    items = [CosemAttributeDescriptorWithSelection(ENERGY), CosemAttributeDescriptorWithSelection(CLOCK)]
    results = [encode_data(b"a" * 700), DataAccessResult.OBJECT_UNDEFINED]
    event = link.exchange(link.client.get_with_list(items), lambda e: link.meter.respond_get(list(results)))
    assert isinstance(event, GetListResult) and event.results == tuple(results)
    assert len(link.wire) > 6


@pytest.mark.parametrize(
    ("sap", "settings", "diagnostic"),
    [
        (
            32,
            ClientSettings(authentication=Authentication.LOW, password=b"wrong"),
            AcseServiceUserDiagnostic.AUTHENTICATION_FAILURE,
        ),
        (32, ClientSettings(), AcseServiceUserDiagnostic.AUTHENTICATION_MECHANISM_NAME_REQUIRED),
        (
            48,
            ClientSettings(authentication=Authentication.LOW, password=b"12345678"),
            AcseServiceUserDiagnostic.APPLICATION_CONTEXT_NAME_NOT_SUPPORTED,
        ),
        (99, ClientSettings(), AcseServiceUserDiagnostic.CALLING_AP_TITLE_NOT_RECOGNIZED),
    ],
)
def test_refused_associations_say_why(sap, settings, diagnostic):
    client = ClientAssociation(settings)
    link = Link(client, server(), sap)
    event = link.exchange(client.associate())
    assert isinstance(event, AssociationRejected)
    assert event.result is AssociationResult.REJECTED_PERMANENT
    assert event.diagnostic is diagnostic
    assert client.state is ClientState.IDLE
    assert isinstance(link.meter_events[0], AssociationRefused)
    # Nothing may be read without an association.
    with pytest.raises(ProtocolError):
        client.get(ENERGY)


def test_hls_with_a_wrong_key_is_refused_by_the_meter():
    wrong = SecurityKeys(global_unicast=EK, authentication=bytes(16))
    settings = ClientSettings(authentication=Authentication.HLS_GMAC, system_title=CLIENT_TITLE, keys=wrong)
    policies = {48: ClientPolicy(authentication=Authentication.HLS_GMAC, keys=KEYS)}
    client = ClientAssociation(settings)
    meter = ServerAssociation(ServerSettings(system_title=METER_TITLE, policies=policies))
    link = Link(client, meter, 48)
    with pytest.raises(SecurityError, match="refused our HLS-GMAC reply"):
        link.exchange(client.associate())
    assert client.state is ClientState.ERROR
    assert meter.state is ServerState.IDLE
    assert any(isinstance(e, AssociationRefused) and "HLS pass 3 failed" in e.reason for e in link.meter_events)


def test_a_replayed_request_is_refused_and_a_stale_reply_rejected():
    link = associate(48)
    request = link.client.get(ENERGY)
    link.exchange(request, lambda e: link.meter.respond_get(encode_data(DoubleLongUnsigned(1))))
    reply = next(apdu for apdu in reversed(link.wire) if apdu[0] == 0xCC)
    # The same ciphered request again: the meter's replay guard refuses it.
    assert isinstance(link.meter.receive_apdu(request, client_sap=48), RequestRefused)
    refusal = link.meter.data_to_send()[0]
    assert refusal[0] == 0xD8 and refusal[2] == ExceptionServiceError.DECIPHERING_ERROR
    # A recorded reply fed to the client again has a stale counter.
    link.client.get(ENERGY)
    with pytest.raises(ReplayError):
        link.client.receive_apdu(reply)
    assert link.client.state is ClientState.ERROR


def test_unsolicited_responses_and_requests_out_of_turn_are_protocol_errors():
    link = associate(16)
    stray = bytes.fromhex("C401C1000600000001")  # a GET-Response-Normal nobody asked for
    with pytest.raises(ProtocolError, match="unsolicited"):
        link.client.receive_apdu(stray)
    meter = server()
    client = ClientAssociation(CLIENTS[16])
    refusal_link = Link(client, meter, 16)
    assert isinstance(
        meter.receive_apdu(bytes.fromhex("C001C1000301000108 00 00FF0200"), client_sap=16), RequestRefused
    )
    assert meter.data_to_send()[0][0] == 0xD8  # exception-response: no association yet
    assert refusal_link is not None


def test_exception_response_ends_the_request():
    link = associate(16)
    link.client.get(ENERGY)
    event = link.client.receive_apdu(bytes.fromhex("D80102"))
    assert isinstance(event, ExceptionReceived)
    assert link.client.state is ClientState.ASSOCIATED
