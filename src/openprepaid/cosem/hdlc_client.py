"""The HDLC client link: the primary station of IEC 62056-46 (HDLC MAC sub-layer, NRM), sans-IO.

The client opens the link with SNRM (proposing parameters, see ``hdlc_parameters``), sends each APDU as
I-frames with P=1 on the last frame of every window, and polls with RR (P=1) for the next segment
of a segmented response. Every poll starts the response timer; when it runs out the client sends
the unacknowledged I-frames again (or polls again) up to ``max_retries`` times, then reports
``Disconnected(NO_RESPONSE)``. After a complete APDU has been sent and acknowledged, the client
keeps polling with RR every ``response_timeout_s`` until the response arrives (a meter may answer
RR while it prepares the data). DISC closes the link; UA or DM confirms it.

State table: ``CLIENT_TRANSITIONS`` below; see ``hdlc_link`` for how the table is applied.
"""

from __future__ import annotations

from openprepaid.cosem.errors import FramingError
from openprepaid.cosem.hdlc_frame import LLC_COMMAND, FrameKind, HdlcAddress, HdlcFrame
from openprepaid.cosem.hdlc_link import (
    DEFAULT_INTER_FRAME_TIMEOUT_S,
    DEFAULT_MAX_APDU_LENGTH,
    Connected,
    DisconnectCause,
    HdlcLink,
    LinkInput,
    LinkState,
    Received,
    Transition,
    TransitionTable,
    Trigger,
    transition,
)
from openprepaid.cosem.hdlc_parameters import HdlcParameters

DEFAULT_RESPONSE_TIMEOUT_S = 5.0
DEFAULT_MAX_RETRIES = 3


class HdlcClientLink(HdlcLink):
    """The HES side of an HDLC link to one server (logical device) address."""

    LLC_OUT = LLC_COMMAND

    def __init__(
        self,
        client_address: int,
        server_address: HdlcAddress,
        *,
        parameters: HdlcParameters | None = None,
        response_timeout_s: float = DEFAULT_RESPONSE_TIMEOUT_S,
        max_retries: int = DEFAULT_MAX_RETRIES,
        inter_frame_timeout_s: float = DEFAULT_INTER_FRAME_TIMEOUT_S,
        max_apdu_length: int = DEFAULT_MAX_APDU_LENGTH,
    ) -> None:
        super().__init__(
            HdlcAddress.client(client_address),
            server_address,
            parameters or HdlcParameters(),
            max_apdu_length,
            inter_frame_timeout_s,
        )
        self.response_timeout_s = response_timeout_s
        self.max_retries = max_retries
        self._retries = 0
        self._awaiting_reply = False

    def _address_problem(self, frame: HdlcFrame) -> str | None:
        if frame.destination.size != 1 or frame.destination.upper != self.local_address.upper:
            return f"addressed to {frame.destination}, not client {self.local_address.upper}"
        if not frame.source.matches(self.peer_address):
            return f"from {frame.source}, not from server {self.peer_address}"
        return None

    # --- timers -----------------------------------------------------------------------------

    def _poll_sent(self, now: float) -> None:
        self._timer_at = now + self.response_timeout_s

    def _response_arrived(self, now: float) -> None:
        self._retries = 0
        self._timer_at = now + self.response_timeout_s

    def _out_of_retries(self) -> bool:
        self._retries += 1
        return self._retries > self.max_retries

    def _lost(self, cause: DisconnectCause) -> LinkState:
        self._awaiting_reply = False
        return self._drop(cause)

    # --- handlers ---------------------------------------------------------------------------

    def _send_snrm(self, trigger: Trigger) -> LinkState:
        self._retries = 0
        self._transmit(FrameKind.SNRM, info=self.parameters.encode(omit_defaults=True))
        self._poll_sent(trigger.now)
        return LinkState.CONNECTING

    def _on_ua_connect(self, trigger: Trigger) -> LinkState:
        assert trigger.frame is not None
        try:
            answer = HdlcParameters.decode(trigger.frame.info)
        except FramingError as exc:
            return self._fail(f"UA with unusable parameters: {exc}")
        self.negotiated = self.parameters.accept(answer)
        self._reset_sequences()
        self._retries = 0
        self._timer_at = None
        self._awaiting_reply = False
        self._emit(Connected(self.negotiated))
        return LinkState.IDLE

    def _on_connect_timeout(self, trigger: Trigger) -> LinkState:
        if self._out_of_retries():
            return self._lost(DisconnectCause.NO_RESPONSE)
        self._transmit(FrameKind.SNRM, info=self.parameters.encode(omit_defaults=True))
        self._poll_sent(trigger.now)
        return LinkState.CONNECTING

    def _on_refused(self, trigger: Trigger) -> LinkState:
        return self._lost(DisconnectCause.REFUSED)

    def _on_dm_connected(self, trigger: Trigger) -> LinkState:
        return self._lost(DisconnectCause.PEER_DISCONNECTED)

    def _on_frmr(self, trigger: Trigger) -> LinkState:
        assert trigger.frame is not None
        return self._fail(f"the server rejected a frame (FRMR {trigger.frame.info.hex()})")

    def _send_apdu(self, trigger: Trigger) -> LinkState:
        self._queue_apdu(trigger.apdu)
        self._awaiting_reply = trigger.expect_reply
        self._retries = 0
        self._send_window()
        self._poll_sent(trigger.now)
        return LinkState.AWAITING_RESPONSE

    def _send_disc(self, trigger: Trigger) -> LinkState:
        self._retries = 0
        self._transmit(FrameKind.DISC)
        self._poll_sent(trigger.now)
        return LinkState.DISCONNECTING

    def _on_idle_timeout(self, trigger: Trigger) -> LinkState:
        if not self._awaiting_reply:
            return LinkState.IDLE
        self._send_supervisory()
        self._poll_sent(trigger.now)
        return LinkState.AWAITING_RESPONSE

    def _on_information(self, trigger: Trigger) -> LinkState:
        frame = trigger.frame
        assert frame is not None
        if not self._acknowledge(frame.receive_seq):
            return self._fail(f"N(R)={frame.receive_seq} acknowledges I-frames never sent")
        received = self._receive_information(frame)
        if received is Received.OVERSIZE:
            return self._fail(f"the server sent more than negotiated ({len(frame.info)}-byte info field)")
        if received is Received.COMPLETE:
            self._awaiting_reply = False
        self._response_arrived(trigger.now)
        if not frame.poll_final:
            return LinkState.AWAITING_RESPONSE
        return self._after_final(trigger, received)

    def _on_receive_ready(self, trigger: Trigger) -> LinkState:
        frame = trigger.frame
        assert frame is not None
        if not self._acknowledge(frame.receive_seq):
            return self._fail(f"N(R)={frame.receive_seq} acknowledges I-frames never sent")
        self._response_arrived(trigger.now)
        if not frame.poll_final:
            return LinkState.AWAITING_RESPONSE
        if frame.kind is FrameKind.RNR:
            return LinkState.AWAITING_RESPONSE  # busy: the response timer polls again
        return self._after_final(trigger, Received.NOTHING)

    def _after_final(self, trigger: Trigger, received: Received) -> LinkState:
        """The server returned the poll (F=1): decide what the client sends next, if anything."""
        if self._unacked:
            self._retransmit()
        elif self._tx_queue:
            self._send_window()
        elif received in (Received.PARTIAL, Received.OUT_OF_SEQUENCE):
            self._send_supervisory()  # asks for the next (or the missed) segment
        elif self._awaiting_reply:
            return LinkState.IDLE  # the server has nothing yet; the timer polls again
        else:
            self._timer_at = None
            return LinkState.IDLE
        self._poll_sent(trigger.now)
        return LinkState.AWAITING_RESPONSE

    def _on_response_timeout(self, trigger: Trigger) -> LinkState:
        if self._out_of_retries():
            return self._lost(DisconnectCause.NO_RESPONSE)
        if self._unacked:
            self._retransmit()
        else:
            self._send_supervisory()
        self._poll_sent(trigger.now)
        return LinkState.AWAITING_RESPONSE

    def _on_disconnected(self, trigger: Trigger) -> LinkState:
        return self._lost(DisconnectCause.LOCAL)

    def _on_disconnect_timeout(self, trigger: Trigger) -> LinkState:
        if self._out_of_retries():
            return self._lost(DisconnectCause.NO_RESPONSE)
        self._transmit(FrameKind.DISC)
        self._poll_sent(trigger.now)
        return LinkState.DISCONNECTING


_S = LinkState
_I = LinkInput
_C = HdlcClientLink
CLIENT_STATES = (_S.DISCONNECTED, _S.CONNECTING, _S.IDLE, _S.AWAITING_RESPONSE, _S.DISCONNECTING, _S.ERROR)
_UI_EVERYWHERE: dict[tuple[LinkState, LinkInput], Transition] = {
    (state, _I.RECEIVE_UI): transition(_C._on_ui, state) for state in CLIENT_STATES if state is not _S.ERROR
}

CLIENT_TRANSITIONS: TransitionTable = {
    **_UI_EVERYWHERE,
    (_S.DISCONNECTED, _I.CONNECT): transition(_C._send_snrm, _S.CONNECTING),
    (_S.DISCONNECTED, _I.DISCONNECT): transition(_C._stay, _S.DISCONNECTED),
    (_S.CONNECTING, _I.RECEIVE_UA): transition(_C._on_ua_connect, _S.IDLE, _S.ERROR),
    (_S.CONNECTING, _I.RECEIVE_DM): transition(_C._on_refused, _S.DISCONNECTED),
    (_S.CONNECTING, _I.RECEIVE_FRMR): transition(_C._on_frmr, _S.ERROR),
    (_S.CONNECTING, _I.TIMEOUT): transition(_C._on_connect_timeout, _S.CONNECTING, _S.DISCONNECTED),
    (_S.CONNECTING, _I.DISCONNECT): transition(_C._send_disc, _S.DISCONNECTING),
    (_S.IDLE, _I.SEND_APDU): transition(_C._send_apdu, _S.AWAITING_RESPONSE),
    (_S.IDLE, _I.DISCONNECT): transition(_C._send_disc, _S.DISCONNECTING),
    (_S.IDLE, _I.RECEIVE_DM): transition(_C._on_dm_connected, _S.DISCONNECTED),
    (_S.IDLE, _I.RECEIVE_FRMR): transition(_C._on_frmr, _S.ERROR),
    (_S.IDLE, _I.TIMEOUT): transition(_C._on_idle_timeout, _S.IDLE, _S.AWAITING_RESPONSE),
    (_S.AWAITING_RESPONSE, _I.RECEIVE_I): transition(_C._on_information, _S.AWAITING_RESPONSE, _S.IDLE, _S.ERROR),
    (_S.AWAITING_RESPONSE, _I.RECEIVE_RR): transition(_C._on_receive_ready, _S.AWAITING_RESPONSE, _S.IDLE, _S.ERROR),
    (_S.AWAITING_RESPONSE, _I.RECEIVE_RNR): transition(_C._on_receive_ready, _S.AWAITING_RESPONSE, _S.IDLE, _S.ERROR),
    (_S.AWAITING_RESPONSE, _I.RECEIVE_DM): transition(_C._on_dm_connected, _S.DISCONNECTED),
    (_S.AWAITING_RESPONSE, _I.RECEIVE_FRMR): transition(_C._on_frmr, _S.ERROR),
    (_S.AWAITING_RESPONSE, _I.TIMEOUT): transition(_C._on_response_timeout, _S.AWAITING_RESPONSE, _S.DISCONNECTED),
    (_S.AWAITING_RESPONSE, _I.DISCONNECT): transition(_C._send_disc, _S.DISCONNECTING),
    (_S.DISCONNECTING, _I.RECEIVE_UA): transition(_C._on_disconnected, _S.DISCONNECTED),
    (_S.DISCONNECTING, _I.RECEIVE_DM): transition(_C._on_disconnected, _S.DISCONNECTED),
    (_S.DISCONNECTING, _I.TIMEOUT): transition(_C._on_disconnect_timeout, _S.DISCONNECTING, _S.DISCONNECTED),
    (_S.DISCONNECTING, _I.DISCONNECT): transition(_C._stay, _S.DISCONNECTING),
}
HdlcClientLink.TRANSITIONS = CLIENT_TRANSITIONS
