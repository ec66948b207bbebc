"""Serve COSEM associations on accepted connections: the server (meter) side in asyncio.

``serve_connection`` reads APDUs from a channel, feeds the sans-IO ``ServerAssociation``, lets the
application answer the requests it is handed (GET/SET/ACTION), and writes the replies. It is what a
simulated meter runs on each TCP connection, whether it listens or dialled out to a head-end.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Protocol

from openprepaid.cosem.association_events import (
    ActionRequested,
    GetListRequested,
    GetRequested,
    ServerEvent,
    SetListRequested,
    SetRequested,
)
from openprepaid.cosem.errors import DecodeError, ProtocolError
from openprepaid.cosem.server_association import ServerAssociation
from openprepaid.transport.channel import ApduChannel
from openprepaid.transport.errors import TransportClosed, TransportTimeout

log = logging.getLogger(__name__)

Request = GetRequested | GetListRequested | SetRequested | SetListRequested | ActionRequested


class CosemApplication(Protocol):
    """The meter behind the association: answers each request by calling ``association.respond_*``."""

    async def handle(self, request: Request, association: ServerAssociation) -> None: ...

    def observe(self, event: ServerEvent) -> None:
        """Association established / refused / released, for logs and statistics."""


async def serve_connection(
    channel: ApduChannel,
    make_association: Callable[[], ServerAssociation],
    application: CosemApplication,
    *,
    idle_timeout_s: float = 120.0,
) -> None:
    """Serve until the peer closes, goes idle, or breaks the protocol; always closes the channel."""
    association = make_association()
    try:
        while True:
            try:
                apdu = await channel.receive(idle_timeout_s)
            except (TransportClosed, TransportTimeout):
                return
            try:
                event = association.receive_apdu(apdu, client_sap=channel.peer_sap)
            except (ProtocolError, DecodeError) as exc:
                log.info("closing connection from %s: %s", channel.peer, exc)
                return
            if isinstance(event, GetRequested | GetListRequested | SetRequested | SetListRequested | ActionRequested):
                await application.handle(event, association)
            elif event is not None:
                application.observe(event)
            for reply in association.data_to_send():
                await channel.send(reply)
    finally:
        await channel.close()
