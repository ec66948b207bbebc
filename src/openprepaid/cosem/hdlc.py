"""HDLC for DLMS/COSEM (IEC 62056-46), sans-IO: the public names of the HDLC modules in one place.

* ``hdlc_frame``: frame format type 3, addresses, control field, HCS/FCS (CRC-16/X.25), LLC headers;
* ``hdlc_parameters``: SNRM/UA parameter negotiation;
* ``hdlc_stream``: frames found in a byte stream by their length field, with resynchronisation;
* ``hdlc_link``, ``hdlc_client``, ``hdlc_server``: the link state machines of both roles.
"""

from __future__ import annotations

from openprepaid.cosem.hdlc_client import CLIENT_TRANSITIONS, HdlcClientLink
from openprepaid.cosem.hdlc_frame import (
    LLC_COMMAND,
    LLC_RESPONSE,
    FrameKind,
    HdlcAddress,
    HdlcFrame,
    decode_frame,
    fcs16,
)
from openprepaid.cosem.hdlc_link import (
    ApduReceived,
    Connected,
    DisconnectCause,
    Disconnected,
    FrameIgnored,
    HdlcEvent,
    HdlcLink,
    LinkFailed,
    LinkInput,
    LinkState,
)
from openprepaid.cosem.hdlc_parameters import HdlcParameters
from openprepaid.cosem.hdlc_server import SERVER_TRANSITIONS, HdlcServerLink
from openprepaid.cosem.hdlc_stream import FrameDecoded, FrameDropped, HdlcFrameDecoder

__all__ = [
    "CLIENT_TRANSITIONS",
    "LLC_COMMAND",
    "LLC_RESPONSE",
    "SERVER_TRANSITIONS",
    "ApduReceived",
    "Connected",
    "DisconnectCause",
    "Disconnected",
    "FrameDecoded",
    "FrameDropped",
    "FrameIgnored",
    "FrameKind",
    "HdlcAddress",
    "HdlcClientLink",
    "HdlcEvent",
    "HdlcFrame",
    "HdlcFrameDecoder",
    "HdlcLink",
    "HdlcParameters",
    "HdlcServerLink",
    "LinkFailed",
    "LinkInput",
    "LinkState",
    "decode_frame",
    "fcs16",
]
