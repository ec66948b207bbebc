"""Our DLMS client against our DLMS server over loopback TCP, wrapper and HDLC, all three associations."""

from __future__ import annotations

import asyncio

import pytest

from openprepaid.cosem.association_events import (
    ActionRequested,
    Authentication,
    ClientPolicy,
    ClientSettings,
    GetRequested,
    ServerSettings,
    SetRequested,
)
from openprepaid.cosem.axdr import encode_data
from openprepaid.cosem.axdr_types import DoubleLongUnsigned, Enum
from openprepaid.cosem.obis import OBIS
from openprepaid.cosem.security import AUTHENTICATED_ENCRYPTED, SecurityKeys
from openprepaid.cosem.server_association import ServerAssociation
from openprepaid.cosem.xdlms_common import (
    ActionResult,
    CosemAttributeDescriptor,
    CosemMethodDescriptor,
    DataAccessResult,
)
from openprepaid.transport.dlms_client import DlmsClient, Endpoint
from openprepaid.transport.dlms_server import serve_connection
from openprepaid.transport.errors import (
    AssociationRefusedError,
    RequestFailedError,
    TransportNetworkError,
    TransportTimeout,
)
from openprepaid.transport.hdlc_channel import HdlcChannel, server_link
from openprepaid.transport.tcp import Listener
from openprepaid.transport.wrapper_channel import WrapperChannel

KEYS = SecurityKeys(
    global_unicast=bytes.fromhex("000102030405060708090A0B0C0D0E0F"),
    authentication=bytes.fromhex("D0D1D2D3D4D5D6D7D8D9DADBDCDDDEDF"),
)
ENERGY = CosemAttributeDescriptor(3, OBIS.parse("1.0.1.8.0.255"), 2)
PROFILE = CosemAttributeDescriptor(7, OBIS.parse("1.0.99.1.0.255"), 2)
RELAY = CosemAttributeDescriptor(70, OBIS.parse("0.0.96.3.10.255"), 3)
DISCONNECT = CosemMethodDescriptor(70, OBIS.parse("0.0.96.3.10.255"), 1)
POLICIES = {
    16: ClientPolicy(authentication=Authentication.NONE),
    32: ClientPolicy(authentication=Authentication.LOW, password=b"12345678"),
    48: ClientPolicy(authentication=Authentication.HLS_GMAC, keys=KEYS, protection=AUTHENTICATED_ENCRYPTED),
}
SETTINGS = {
    16: ClientSettings(),
    32: ClientSettings(authentication=Authentication.LOW, password=b"12345678"),
    48: ClientSettings(
        authentication=Authentication.HLS_GMAC, system_title=b"OPHES001", keys=KEYS, protection=AUTHENTICATED_ENCRYPTED
    ),
}


class TinyMeter:
    """A test double of a meter application: an energy register, a profile, a relay."""

    def __init__(self) -> None:
        self.control_state = 1
        self.rows = [(bytes(12), DoubleLongUnsigned(i)) for i in range(96)]

    async def handle(self, request, association):
        if isinstance(request, GetRequested):
            values = {
                ENERGY: encode_data(DoubleLongUnsigned(42_000)),
                PROFILE: encode_data(self.rows),
                RELAY: encode_data(Enum(self.control_state)),
            }
            association.respond_get(values.get(request.attribute, DataAccessResult.OBJECT_UNDEFINED))
        elif isinstance(request, SetRequested):
            association.respond_set(DataAccessResult.READ_WRITE_DENIED)
        elif isinstance(request, ActionRequested):
            self.control_state = 0
            association.respond_action(ActionResult.SUCCESS)

    def observe(self, event):
        pass


@pytest.fixture(params=["wrapper", "hdlc"])
async def meter(request):
    app = TinyMeter()
    framing = request.param

    async def on_connection(reader, writer):
        if framing == "hdlc":
            channel = HdlcChannel(reader, writer, server_link(1))
        else:
            channel = WrapperChannel(reader, writer, local_wport=1, remote_wport=None)
        make = lambda: ServerAssociation(ServerSettings(system_title=b"OPS\x00\x00\x00\x00\x01", policies=POLICIES))  # noqa: E731
        await serve_connection(channel, make, app, idle_timeout_s=5)

    listener = Listener(on_connection)
    await listener.start("127.0.0.1", 0)
    yield framing, listener.port, app
    await listener.close()


@pytest.mark.parametrize("sap", [16, 32, 48])
async def test_read_profile_and_disconnect(meter, sap):
    framing, port, _app = meter
    endpoint = Endpoint("127.0.0.1", port, client_sap=sap, framing=framing)
    async with await DlmsClient.connect(endpoint, SETTINGS[sap], response_timeout_s=5) as client:
        assert await client.get_value(ENERGY) == 42_000
        rows = await client.get_value(PROFILE)
        assert len(rows) == 96 and rows[95][1] == 95
        outcome = await client.action(DISCONNECT, encode_data(Enum(0)))
        assert outcome.result is ActionResult.SUCCESS
        assert await client.get_value(RELAY) == 0
        assert await client.set(ENERGY, encode_data(DoubleLongUnsigned(0))) is DataAccessResult.READ_WRITE_DENIED
        with pytest.raises(RequestFailedError, match="object_undefined"):
            await client.get_value(CosemAttributeDescriptor(1, OBIS.parse("0.0.96.1.9.255"), 2))
    assert client.channel.closed


async def test_wrong_password_is_refused(meter):
    framing, port, _app = meter
    settings = ClientSettings(authentication=Authentication.LOW, password=b"00000000")
    with pytest.raises(AssociationRefusedError, match="authentication_failure"):
        await DlmsClient.connect(Endpoint("127.0.0.1", port, client_sap=32, framing=framing), settings)


async def test_a_silent_meter_times_out():
    async def silent(reader, writer):
        await asyncio.sleep(5)

    listener = Listener(silent)
    await listener.start("127.0.0.1", 0)
    with pytest.raises(TransportTimeout):
        await DlmsClient.connect(
            Endpoint("127.0.0.1", listener.port), SETTINGS[16], response_timeout_s=0.3, connect_timeout_s=0.5
        )
    await listener.close()


async def test_hdlc_peer_hanging_up_is_a_closed_transport_not_a_crash():
    async def hang_up(reader, writer):
        writer.close()

    listener = Listener(hang_up)
    await listener.start("127.0.0.1", 0)
    with pytest.raises(TransportNetworkError):  # closed or reset, depending on timing; never AttributeError
        await DlmsClient.connect(
            Endpoint("127.0.0.1", listener.port, framing="hdlc"), SETTINGS[16], connect_timeout_s=2
        )
    await listener.close()
