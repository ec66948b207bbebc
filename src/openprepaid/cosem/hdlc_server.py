"""The HDLC server link: the secondary station (the meter) of IEC 62056-46 (MAC sub-layer, NRM), sans-IO.

In normal disconnected mode the server answers SNRM with UA carrying the negotiated parameters
(its capabilities limited by the client's proposal) and every other command with DM. Connected,
it only transmits when polled (P=1): the answer is, in this order, a retransmission of its
unacknowledged I-frames (the client's N(R) shows they were lost), RR for a received segment, the
next window of queued response segments, nothing yet when a complete request has just arrived
(state POLLED: ``send_apdu`` answers), or RR. DISC is answered with UA. A frame that acknowledges
I-frames never sent, or that is longer than negotiated, puts the server in the FRMR condition
(ISO/IEC 13239 frame reject): every poll gets FRMR until SNRM or DISC. Frames from another client
while connected are ignored. ``inactivity_timeout_s`` without a valid frame drops the link.

The server answers with the address the client used (1, 2 or 4 bytes) as its source address, and
accepts a one-byte destination address (upper address only) for a server with a lower address.

A server has no ``connect()`` input: calling it is the misuse that moves the link to ERROR.

State table: ``SERVER_TRANSITIONS`` below; see ``hdlc_link`` for how the table is applied.
"""

from __future__ import annotations

from openprepaid.cosem.errors import FramingError
from openprepaid.cosem.hdlc_frame import LLC_RESPONSE, FrameKind, HdlcAddress, HdlcFrame
from openprepaid.cosem.hdlc_link import (
    DEFAULT_INTER_FRAME_TIMEOUT_S,
    DEFAULT_MAX_APDU_LENGTH,
    Connected,
    DisconnectCause,
    Disconnected,
    HdlcLink,
    LinkFailed,
    LinkInput,
    LinkState,
    Received,
    Transition,
    TransitionTable,
    Trigger,
    transition,
)
from openprepaid.cosem.hdlc_parameters import HdlcParameters

DEFAULT_INACTIVITY_TIMEOUT_S = 120.0
# FRMR information field, third octet (ISO/IEC 13239): W invalid control, X info not permitted,
# Y info field too long, Z invalid N(R).
FRMR_Y_TOO_LONG = 0x04
FRMR_Z_INVALID_NR = 0x08

_CONNECTED = frozenset({LinkState.IDLE, LinkState.POLLED, LinkState.SENDING, LinkState.FRAME_REJECT})


class HdlcServerLink(HdlcLink):
    """The meter side of an HDLC link for one server address."""

    LLC_OUT = LLC_RESPONSE

    def __init__(
        self,
        server_address: HdlcAddress,
        *,
        parameters: HdlcParameters | None = None,
        accept_clients: frozenset[int] | None = None,
        inactivity_timeout_s: float = DEFAULT_INACTIVITY_TIMEOUT_S,
        inter_frame_timeout_s: float = DEFAULT_INTER_FRAME_TIMEOUT_S,
        max_apdu_length: int = DEFAULT_MAX_APDU_LENGTH,
    ) -> None:
        super().__init__(
            server_address,
            HdlcAddress.client(0),
            parameters or HdlcParameters(),
            max_apdu_length,
            inter_frame_timeout_s,
        )
        self.server_address = server_address
        self.accept_clients = accept_clients
        self.inactivity_timeout_s = inactivity_timeout_s
        self._client_busy = False
        self._frmr_info = b""

    def _address_problem(self, frame: HdlcFrame) -> str | None:
        if not frame.destination.matches(self.server_address):
            return f"addressed to {frame.destination}, not server {self.server_address}"
        if frame.source.size != 1:
            return f"source {frame.source} is not a one-byte client address"
        if self._state in _CONNECTED and frame.source.upper != self.peer_address.upper:
            return f"from client {frame.source.upper} while connected to client {self.peer_address.upper}"
        if self.accept_clients is not None and frame.source.upper not in self.accept_clients:
            return f"client {frame.source.upper} is not accepted"
        return None

    def _on_frame(self, frame: HdlcFrame, now: float) -> bool:
        addressed = super()._on_frame(frame, now)
        if addressed and self._state in _CONNECTED:
            self._timer_at = now + self.inactivity_timeout_s
        return addressed

    def _reply(self, frame: HdlcFrame, kind: FrameKind, info: bytes = b"") -> None:
        """Answer a frame from outside a connection, with the addresses it came with."""
        self._outbox += HdlcFrame(kind, frame.source, frame.destination, True, info=info).encode()

    def _resting_state(self) -> LinkState:
        return LinkState.SENDING if self._tx_queue else LinkState.IDLE

    # --- handlers ---------------------------------------------------------------------------

    def _on_snrm(self, trigger: Trigger) -> LinkState:
        frame = trigger.frame
        assert frame is not None
        was_connected = self._state in _CONNECTED
        if was_connected:
            self._emit(Disconnected(DisconnectCause.LINK_RESET))
        self._reset_sequences()
        self._client_busy = False
        try:
            proposal = HdlcParameters.decode(frame.info)
        except FramingError:
            self._reply(frame, FrameKind.DM)
            self._timer_at = None
            return LinkState.DISCONNECTED
        self.negotiated = self.parameters.answer(proposal)
        self.peer_address = frame.source
        self.local_address = frame.destination  # echo the client's address encoding
        self._transmit(FrameKind.UA, info=self.negotiated.encode())
        self._emit(Connected(self.negotiated))
        return LinkState.IDLE

    def _on_disc_disconnected(self, trigger: Trigger) -> LinkState:
        assert trigger.frame is not None
        self._reply(trigger.frame, FrameKind.DM)
        return LinkState.DISCONNECTED

    def _on_command_disconnected(self, trigger: Trigger) -> LinkState:
        assert trigger.frame is not None
        if trigger.frame.poll_final:
            self._reply(trigger.frame, FrameKind.DM)
        return LinkState.DISCONNECTED

    def _on_disc(self, trigger: Trigger) -> LinkState:
        self._transmit(FrameKind.UA)
        return self._drop(DisconnectCause.REMOTE)

    def _on_local_disconnect(self, trigger: Trigger) -> LinkState:
        return self._drop(DisconnectCause.LOCAL)

    def _on_inactivity(self, trigger: Trigger) -> LinkState:
        return self._drop(DisconnectCause.INACTIVITY)

    def _on_information(self, trigger: Trigger) -> LinkState:
        frame = trigger.frame
        assert frame is not None
        if not self._acknowledge(frame.receive_seq):
            return self._frame_reject(frame, FRMR_Z_INVALID_NR, f"N(R)={frame.receive_seq} acknowledges nothing sent")
        received = self._receive_information(frame)
        if received is Received.OVERSIZE:
            return self._frame_reject(frame, FRMR_Y_TOO_LONG, "information field or APDU longer than negotiated")
        return self._after_command(frame, received)

    def _on_receive_ready(self, trigger: Trigger) -> LinkState:
        frame = trigger.frame
        assert frame is not None
        if not self._acknowledge(frame.receive_seq):
            return self._frame_reject(frame, FRMR_Z_INVALID_NR, f"N(R)={frame.receive_seq} acknowledges nothing sent")
        self._client_busy = frame.kind is FrameKind.RNR
        return self._after_command(frame, Received.NOTHING)

    def _after_command(self, frame: HdlcFrame, received: Received) -> LinkState:
        """Answer a poll (P=1); without P the client keeps the right to send."""
        if not frame.poll_final:
            return self._resting_state()
        if self._unacked and not self._client_busy:
            self._retransmit()
        elif received in (Received.PARTIAL, Received.OUT_OF_SEQUENCE):
            self._send_supervisory()
        elif self._tx_queue and not self._client_busy:
            self._send_window()
        elif received is Received.COMPLETE:
            return LinkState.POLLED
        else:
            self._send_supervisory()
        return self._resting_state()

    def _frame_reject(self, frame: HdlcFrame, reason_bits: int, reason: str) -> LinkState:
        # Second octet: V(S) in bits 2-4, C/R=1 (the rejected frame was a command), V(R) in bits 6-8.
        self._frmr_info = bytes([frame.control, (self._vs << 1) | 0x10 | (self._vr << 5), reason_bits])
        self._emit(LinkFailed(f"frame reject: {reason}"))
        if frame.poll_final:
            self._transmit(FrameKind.FRMR, info=self._frmr_info)
        return LinkState.FRAME_REJECT

    def _on_command_rejected(self, trigger: Trigger) -> LinkState:
        assert trigger.frame is not None
        if trigger.frame.poll_final:
            self._transmit(FrameKind.FRMR, info=self._frmr_info)
        return LinkState.FRAME_REJECT

    def _send_apdu_polled(self, trigger: Trigger) -> LinkState:
        self._queue_apdu(trigger.apdu)
        if self._client_busy:
            self._send_supervisory()
        else:
            self._send_window()
        return self._resting_state()

    def _queue_apdu_for_poll(self, trigger: Trigger) -> LinkState:
        self._queue_apdu(trigger.apdu)
        return LinkState.SENDING


_S = LinkState
_I = LinkInput
_V = HdlcServerLink
SERVER_STATES = (_S.DISCONNECTED, _S.IDLE, _S.POLLED, _S.SENDING, _S.FRAME_REJECT, _S.ERROR)
_NRM = (_S.IDLE, _S.POLLED, _S.SENDING)
_ANSWERS = (_S.IDLE, _S.POLLED, _S.SENDING, _S.FRAME_REJECT)


def _connected_entries() -> dict[tuple[LinkState, LinkInput], Transition]:
    entries: dict[tuple[LinkState, LinkInput], Transition] = {}
    for state in _NRM:
        entries[(state, _I.RECEIVE_SNRM)] = transition(_V._on_snrm, _S.IDLE, _S.DISCONNECTED)
        entries[(state, _I.RECEIVE_DISC)] = transition(_V._on_disc, _S.DISCONNECTED)
        entries[(state, _I.RECEIVE_I)] = transition(_V._on_information, *_ANSWERS)
        entries[(state, _I.RECEIVE_RR)] = transition(_V._on_receive_ready, *_ANSWERS)
        entries[(state, _I.RECEIVE_RNR)] = transition(_V._on_receive_ready, *_ANSWERS)
        entries[(state, _I.DISCONNECT)] = transition(_V._on_local_disconnect, _S.DISCONNECTED)
        entries[(state, _I.TIMEOUT)] = transition(_V._on_inactivity, _S.DISCONNECTED)
    return entries


SERVER_TRANSITIONS: TransitionTable = {
    **{(state, _I.RECEIVE_UI): transition(_V._on_ui, state) for state in SERVER_STATES if state is not _S.ERROR},
    (_S.DISCONNECTED, _I.RECEIVE_SNRM): transition(_V._on_snrm, _S.IDLE, _S.DISCONNECTED),
    (_S.DISCONNECTED, _I.RECEIVE_DISC): transition(_V._on_disc_disconnected, _S.DISCONNECTED),
    (_S.DISCONNECTED, _I.RECEIVE_I): transition(_V._on_command_disconnected, _S.DISCONNECTED),
    (_S.DISCONNECTED, _I.RECEIVE_RR): transition(_V._on_command_disconnected, _S.DISCONNECTED),
    (_S.DISCONNECTED, _I.RECEIVE_RNR): transition(_V._on_command_disconnected, _S.DISCONNECTED),
    (_S.DISCONNECTED, _I.DISCONNECT): transition(_V._stay, _S.DISCONNECTED),
    # A response finished after the link went down has nowhere to go: dropped, not an error.
    (_S.DISCONNECTED, _I.SEND_APDU): transition(_V._stay, _S.DISCONNECTED),
    (_S.FRAME_REJECT, _I.SEND_APDU): transition(_V._stay, _S.FRAME_REJECT),
    **_connected_entries(),
    (_S.IDLE, _I.SEND_APDU): transition(_V._queue_apdu_for_poll, _S.SENDING),
    (_S.SENDING, _I.SEND_APDU): transition(_V._queue_apdu_for_poll, _S.SENDING),
    (_S.POLLED, _I.SEND_APDU): transition(_V._send_apdu_polled, _S.IDLE, _S.SENDING),
    (_S.FRAME_REJECT, _I.RECEIVE_SNRM): transition(_V._on_snrm, _S.IDLE, _S.DISCONNECTED),
    (_S.FRAME_REJECT, _I.RECEIVE_DISC): transition(_V._on_disc, _S.DISCONNECTED),
    (_S.FRAME_REJECT, _I.RECEIVE_I): transition(_V._on_command_rejected, _S.FRAME_REJECT),
    (_S.FRAME_REJECT, _I.RECEIVE_RR): transition(_V._on_command_rejected, _S.FRAME_REJECT),
    (_S.FRAME_REJECT, _I.RECEIVE_RNR): transition(_V._on_command_rejected, _S.FRAME_REJECT),
    (_S.FRAME_REJECT, _I.DISCONNECT): transition(_V._on_local_disconnect, _S.DISCONNECTED),
    (_S.FRAME_REJECT, _I.TIMEOUT): transition(_V._on_inactivity, _S.DISCONNECTED),
}
HdlcServerLink.TRANSITIONS = SERVER_TRANSITIONS
