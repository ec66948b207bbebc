"""An asyncio DLMS/COSEM client: one TCP connection, one framing, one association.

It wraps the sans-IO ``ClientAssociation`` (openprepaid.cosem) in an ``ApduChannel``: every request
waits for its answer with a deadline, the protocol's own follow-ups (HLS pass 3, next blocks) are
sent as the association produces them, and every failure reaches the caller as a transport error
marked retryable or not.

    async with await DlmsClient.connect(endpoint, settings) as meter:
        value = await meter.get_value(CosemAttributeDescriptor(3, OBIS.parse("1.0.1.8.0.255"), 2))
"""

from __future__ import annotations

from dataclasses import dataclass
from types import TracebackType
from typing import Any, Literal

from openprepaid.cosem.association_events import (
    ActionOutcome,
    AssociationAccepted,
    AssociationRejected,
    ClientEvent,
    ClientSettings,
    ExceptionReceived,
    GetListResult,
    GetResult,
    NotificationReceived,
    Released,
    ServiceErrorReceived,
    SetResult,
)
from openprepaid.cosem.axdr import decode_data
from openprepaid.cosem.client_association import ClientAssociation
from openprepaid.cosem.errors import CosemError, DecodeError, ProtocolError, SecurityError
from openprepaid.cosem.security_counter import InvocationCounter, ReplayGuard
from openprepaid.cosem.xdlms_common import (
    CosemAttributeDescriptor,
    CosemAttributeDescriptorWithSelection,
    CosemMethodDescriptor,
    DataAccessResult,
    SelectiveAccess,
)
from openprepaid.transport.channel import ApduChannel
from openprepaid.transport.errors import (
    AssociationRefusedError,
    RequestFailedError,
    SecurityFailedError,
    TransportClosed,
    TransportError,
    TransportProtocolError,
)
from openprepaid.transport.hdlc_channel import HdlcChannel, client_link
from openprepaid.transport.tcp_stream import dial_stream
from openprepaid.transport.wrapper_channel import WrapperChannel

MAX_NOTIFICATIONS_KEPT = 64


@dataclass(frozen=True, slots=True)
class Endpoint:
    host: str
    port: int
    client_sap: int = 16
    server_address: int = 1
    framing: Literal["wrapper", "hdlc"] = "wrapper"
    physical_address: int = 0x10


class DlmsClient:
    def __init__(
        self, channel: ApduChannel, association: ClientAssociation, *, response_timeout_s: float = 30.0
    ) -> None:
        self.channel = channel
        self.association = association
        self.response_timeout_s = response_timeout_s
        self.accepted: AssociationAccepted | None = None
        self.notifications: list[NotificationReceived] = []

    @classmethod
    async def connect(
        cls,
        endpoint: Endpoint,
        settings: ClientSettings,
        *,
        connect_timeout_s: float = 10.0,
        response_timeout_s: float = 30.0,
        invocation_counter: InvocationCounter | None = None,
        server_replay_guard: ReplayGuard | None = None,
    ) -> DlmsClient:
        """Dial, bring the link up and open the association; close everything on failure."""
        # One small object for both ends (tcp_stream): a head-end holds thousands of these open.
        stream = await dial_stream(endpoint.host, endpoint.port, timeout_s=connect_timeout_s)
        reader = writer = stream
        channel: ApduChannel
        if endpoint.framing == "hdlc":
            link = client_link(endpoint.client_sap, endpoint.server_address, physical_address=endpoint.physical_address)
            channel = HdlcChannel(reader, writer, link)
        else:
            channel = WrapperChannel(
                reader, writer, local_wport=endpoint.client_sap, remote_wport=endpoint.server_address
            )
        association = ClientAssociation(
            settings, invocation_counter=invocation_counter, server_replay_guard=server_replay_guard
        )
        client = cls(channel, association, response_timeout_s=response_timeout_s)
        try:
            await channel.open(connect_timeout_s)
            await client._associate()
        except BaseException:
            await channel.close()
            raise
        return client

    @classmethod
    async def over(
        cls,
        channel: ApduChannel,
        settings: ClientSettings,
        *,
        response_timeout_s: float = 30.0,
        invocation_counter: InvocationCounter | None = None,
        server_replay_guard: ReplayGuard | None = None,
    ) -> DlmsClient:
        """Associate over a channel that already exists (a meter that dialled in)."""
        association = ClientAssociation(
            settings, invocation_counter=invocation_counter, server_replay_guard=server_replay_guard
        )
        client = cls(channel, association, response_timeout_s=response_timeout_s)
        await client._associate()
        return client

    async def _associate(self) -> None:
        event = await self._request(self.association.associate())
        if isinstance(event, AssociationRejected):
            raise AssociationRefusedError(
                f"{self.channel.peer} refused the association: {event.diagnostic.name.lower()}"
                + (f" (initiate error {event.initiate_error})" if event.initiate_error is not None else "")
            )
        if not isinstance(event, AssociationAccepted):
            raise TransportProtocolError(f"unexpected answer to the AARQ: {type(event).__name__}")
        self.accepted = event

    async def get(
        self, attribute: CosemAttributeDescriptor, access: SelectiveAccess | None = None
    ) -> bytes | DataAccessResult:
        """The encoded value of one attribute, or the meter's access error."""
        event = await self._request(self._call(self.association.get, attribute, access))
        if not isinstance(event, GetResult):
            raise TransportProtocolError(f"unexpected answer to GET: {type(event).__name__}")
        return event.result

    async def get_value(self, attribute: CosemAttributeDescriptor, access: SelectiveAccess | None = None) -> Any:
        """The decoded value of one attribute; an access error raises RequestFailedError."""
        result = await self.get(attribute, access)
        if isinstance(result, DataAccessResult):
            raise RequestFailedError(
                f"GET {attribute.class_id}/{attribute.instance_id}/{attribute.attribute_id}: {result.name.lower()}"
            )
        try:
            return decode_data(result)
        except DecodeError as exc:
            raise TransportProtocolError(f"undecodable value from {self.channel.peer}: {exc}") from exc

    async def get_many(
        self, items: list[CosemAttributeDescriptorWithSelection]
    ) -> tuple[bytes | DataAccessResult, ...]:
        event = await self._request(self._call(self.association.get_with_list, items))
        if not isinstance(event, GetListResult):
            raise TransportProtocolError(f"unexpected answer to GET-with-list: {type(event).__name__}")
        return event.results

    async def set(
        self, attribute: CosemAttributeDescriptor, value: bytes, access: SelectiveAccess | None = None
    ) -> DataAccessResult:
        event = await self._request(self._call(self.association.set, attribute, value, access))
        if not isinstance(event, SetResult):
            raise TransportProtocolError(f"unexpected answer to SET: {type(event).__name__}")
        return event.results[0]

    async def action(self, method: CosemMethodDescriptor, parameters: bytes | None = None) -> ActionOutcome:
        event = await self._request(self._call(self.association.action, method, parameters))
        if not isinstance(event, ActionOutcome):
            raise TransportProtocolError(f"unexpected answer to ACTION: {type(event).__name__}")
        return event

    async def release(self) -> None:
        """Release the association (RLRQ/RLRE) and close the connection."""
        try:
            if not self.channel.closed and self.accepted is not None:
                event = await self._request(self._call(self.association.release))
                if not isinstance(event, Released):
                    raise TransportProtocolError(f"unexpected answer to RLRQ: {type(event).__name__}")
        finally:
            await self.channel.close()

    async def release_association_only(self) -> None:
        """Release the association but keep the connection (a dial-in meter's line stays up)."""
        if not self.channel.closed and self.accepted is not None:
            event = await self._request(self._call(self.association.release))
            if not isinstance(event, Released):
                raise TransportProtocolError(f"unexpected answer to RLRQ: {type(event).__name__}")
            self.accepted = None

    async def close(self) -> None:
        await self.channel.close()

    async def __aenter__(self) -> DlmsClient:
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, error: BaseException | None, traceback: TracebackType | None
    ) -> None:
        if kind is None:
            await self.release()
        else:
            await self.close()

    # --- the request loop --------------------------------------------------------------------------

    def _call(self, method: Any, *args: Any) -> bytes:
        try:
            return bytes(method(*args))
        except CosemError as exc:
            raise TransportProtocolError(f"cannot send to {self.channel.peer}: {exc}") from exc

    async def _request(self, apdu: bytes) -> ClientEvent:
        await self.channel.send(apdu)
        while True:
            reply = await self.channel.receive(self.response_timeout_s)
            try:
                event = self.association.receive_apdu(reply)
            except SecurityError as exc:
                await self.channel.close()
                raise SecurityFailedError(f"{self.channel.peer}: {exc}") from exc
            except (ProtocolError, DecodeError) as exc:
                await self.channel.close()
                raise TransportProtocolError(f"{self.channel.peer}: {exc}") from exc
            for follow_up in self.association.data_to_send():
                await self.channel.send(follow_up)
            if event is None:
                continue
            if isinstance(event, NotificationReceived):
                if len(self.notifications) < MAX_NOTIFICATIONS_KEPT:
                    self.notifications.append(event)
                continue
            if isinstance(event, ExceptionReceived):
                raise RequestFailedError(
                    f"{self.channel.peer} answered with an exception: {event.state_error.name.lower()}, "
                    f"{event.service_error.name.lower()}"
                )
            if isinstance(event, ServiceErrorReceived):
                raise RequestFailedError(f"{self.channel.peer} answered with a service error: {event.error}")
            return event


__all__ = ["DlmsClient", "Endpoint", "TransportClosed", "TransportError"]
