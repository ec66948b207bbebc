"""The HDLC link (IEC 62056-46 MAC sub-layer, normal response mode), sans-IO: what both roles share.

``HdlcClientLink`` (primary station, ``hdlc_client``) and ``HdlcServerLink`` (secondary station,
the meter, ``hdlc_server``) are driven the same way::

    out = link.connect(now)                 # client only: the SNRM to send
    link.receive_data(chunk, now)           # bytes from the line, any chunking
    while (event := link.next_event()) is not None: ...
    out = link.data_to_send()               # replies the link makes itself (UA, RR, next segments)
    out = link.send_apdu(apdu, now)         # an APDU, segmented to the negotiated length
    deadline = link.next_deadline()         # then link.handle_timeout(now) once it has passed

``now`` is a float in seconds on any monotonic scale; the link never reads a clock. Methods that
return bytes also return any protocol output not yet collected, so output order is never mixed up.

Each role is a transition table ``(LinkState, LinkInput) -> (handler, possible next states)``.
A received frame with no entry is reported as ``FrameIgnored``; a timeout with no entry does
nothing; a local call with no entry raises ``ProtocolError`` and moves the link to ``ERROR``,
where it stays (as h11 does). Bad bytes never raise: they become ``FrameDropped`` events.

Shared mechanics: N(S)/N(R) modulo 8 with the negotiated windows (go-back-N retransmission of
unacknowledged I-frames), segmentation of LLC header + APDU into I-frames of at most the
negotiated information length with the segmentation bit on all but the last, reassembly bounded
by ``max_apdu_length``, and the LLC header check (destination LSAP E6, quality 00; the C/R bit of
the source LSAP, E6 or E7, is accepted either way as several meters get it wrong).
"""

from __future__ import annotations

import enum
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

from openprepaid.cosem.errors import EncodeError, ProtocolError
from openprepaid.cosem.hdlc_frame import SEQUENCE_MODULUS, FrameKind, HdlcAddress, HdlcFrame
from openprepaid.cosem.hdlc_parameters import HdlcParameters
from openprepaid.cosem.hdlc_stream import FrameDecoded, FrameDropped, HdlcFrameDecoder

DEFAULT_MAX_APDU_LENGTH = 0xFFFF + 64  # the largest max-receive-pdu-size plus ciphering overhead
DEFAULT_INTER_FRAME_TIMEOUT_S = 2.0
MAX_PENDING_DIAGNOSTICS = 256


class LinkState(enum.Enum):
    DISCONNECTED = "DISCONNECTED"  # NDM
    CONNECTING = "CONNECTING"  # client: SNRM sent, waiting for UA
    IDLE = "IDLE"  # NRM, nobody owes anything (client may send; server waits for a poll)
    AWAITING_RESPONSE = "AWAITING_RESPONSE"  # client: the server holds the poll
    POLLED = "POLLED"  # server: a complete request arrived with P=1; send_apdu() answers it
    SENDING = "SENDING"  # server: response segments queued, waiting for the next poll
    DISCONNECTING = "DISCONNECTING"  # client: DISC sent, waiting for UA/DM
    FRAME_REJECT = "FRAME_REJECT"  # server: FRMR condition until SNRM or DISC
    ERROR = "ERROR"


class LinkInput(enum.Enum):
    RECEIVE_SNRM = "SNRM"
    RECEIVE_UA = "UA"
    RECEIVE_DISC = "DISC"
    RECEIVE_DM = "DM"
    RECEIVE_FRMR = "FRMR"
    RECEIVE_I = "I"
    RECEIVE_RR = "RR"
    RECEIVE_RNR = "RNR"
    RECEIVE_UI = "UI"
    CONNECT = "connect()"
    SEND_APDU = "send_apdu()"
    DISCONNECT = "disconnect()"
    TIMEOUT = "handle_timeout()"


INPUT_OF_KIND = {kind: LinkInput(kind.value) for kind in FrameKind}
LOCAL_INPUTS = frozenset({LinkInput.CONNECT, LinkInput.SEND_APDU, LinkInput.DISCONNECT})


class DisconnectCause(enum.Enum):
    LOCAL = "local"  # we asked (DISC answered by UA or DM), or the server dropped the link itself
    REMOTE = "remote"  # the peer sent DISC
    REFUSED = "refused"  # DM (or bad parameters) in answer to SNRM
    PEER_DISCONNECTED = "peer disconnected"  # DM while connected
    NO_RESPONSE = "no response"  # retries exhausted
    INACTIVITY = "inactivity"  # the server's inactivity time-out
    LINK_RESET = "link reset"  # a new SNRM on a connected link


@dataclass(frozen=True, slots=True)
class Connected:
    """The link is up; ``parameters`` are the negotiated values from this station's point of view."""

    parameters: HdlcParameters


@dataclass(frozen=True, slots=True)
class ApduReceived:
    """A complete APDU (reassembled, LLC header removed); ``unnumbered`` for a UI frame."""

    apdu: bytes
    unnumbered: bool = False


@dataclass(frozen=True, slots=True)
class Disconnected:
    cause: DisconnectCause


@dataclass(frozen=True, slots=True)
class LinkFailed:
    """The peer broke the protocol; the client is now in ERROR, the server in its FRMR condition."""

    reason: str


@dataclass(frozen=True, slots=True)
class FrameIgnored:
    """A well-formed frame that was not acted on: other addresses, wrong state, sequence error."""

    frame: HdlcFrame
    reason: str


HdlcEvent = Connected | ApduReceived | Disconnected | LinkFailed | FrameIgnored | FrameDropped


class Received(enum.Enum):
    """What an information frame did to the receive side."""

    NOTHING = "nothing"  # not an I-frame, or an APDU that was discarded
    PARTIAL = "partial"  # a segment accepted; more follow
    COMPLETE = "complete"  # an APDU completed and reported
    OUT_OF_SEQUENCE = "out of sequence"  # N(S) was not V(R): dropped
    OVERSIZE = "oversize"  # longer than the negotiated info length or the APDU bound


@dataclass(frozen=True, slots=True)
class Trigger:
    """The input a handler acts on."""

    now: float
    frame: HdlcFrame | None = None
    apdu: bytes = b""
    expect_reply: bool = True


Handler = Callable[[Any, Trigger], LinkState]


@dataclass(frozen=True, slots=True)
class Transition:
    handler: Handler
    next_states: frozenset[LinkState]


TransitionTable = Mapping[tuple[LinkState, LinkInput], Transition]


def transition(handler: Handler, *next_states: LinkState) -> Transition:
    return Transition(handler, frozenset(next_states))


@dataclass(slots=True)
class _Sent:
    send_seq: int
    info: bytes
    segmented: bool


class HdlcLink:
    """The machinery both roles share; use ``HdlcClientLink`` or ``HdlcServerLink``."""

    TRANSITIONS: ClassVar[TransitionTable]
    LLC_OUT: ClassVar[bytes]

    def __init__(
        self,
        local_address: HdlcAddress,
        peer_address: HdlcAddress,
        parameters: HdlcParameters,
        max_apdu_length: int,
        inter_frame_timeout_s: float,
    ) -> None:
        self.local_address = local_address
        self.peer_address = peer_address
        self.parameters = parameters  # our proposal (client) or capabilities (server)
        self.negotiated = HdlcParameters()
        self.max_apdu_length = max_apdu_length
        self.inter_frame_timeout_s = inter_frame_timeout_s
        self.diagnostics_lost = 0
        self._state = LinkState.DISCONNECTED
        self._decoder = HdlcFrameDecoder()
        self._events: deque[HdlcEvent] = deque()
        self._outbox = bytearray()
        self._last_bytes_at: float | None = None
        self._timer_at: float | None = None
        self._reset_sequences()

    # --- public API -------------------------------------------------------------------------

    @property
    def state(self) -> LinkState:
        return self._state

    def receive_data(self, data: bytes, now: float) -> None:
        """Take bytes from the line; frames found are acted on at once (replies go to the outbox)."""
        self._decoder.feed(data)
        self._last_bytes_at = now
        while (result := self._decoder.next_result()) is not None:
            if isinstance(result, FrameDropped):
                self._emit(result)
            elif isinstance(result, FrameDecoded):
                self._on_frame(result.frame, now)

    def next_event(self) -> HdlcEvent | None:
        return self._events.popleft() if self._events else None

    def data_to_send(self) -> bytes:
        out = bytes(self._outbox)
        self._outbox.clear()
        return out

    def connect(self, now: float) -> bytes:
        """Client: start the link and return the SNRM to send. A server has no such input."""
        self._dispatch(LinkInput.CONNECT, Trigger(now))
        return self.data_to_send()

    def send_apdu(self, apdu: bytes, now: float, *, expect_reply: bool = True) -> bytes:
        """Queue an APDU (the LLC header is added here); returns the bytes to send now.

        EncodeError for an APDU over ``max_apdu_length``; ProtocolError, with the state unchanged,
        when the segments still queued (a server nobody polls) hold more than two such APDUs.
        """
        if len(apdu) > self.max_apdu_length:
            raise EncodeError(f"APDU of {len(apdu)} bytes exceeds the bound {self.max_apdu_length}")
        queued = sum(len(info) for info, _ in self._tx_queue)
        if queued + len(apdu) > 2 * (self.max_apdu_length + len(self.LLC_OUT)):
            raise ProtocolError(f"send queue full: {queued} bytes wait for the peer's polls")
        self._dispatch(LinkInput.SEND_APDU, Trigger(now, apdu=bytes(apdu), expect_reply=expect_reply))
        return self.data_to_send()

    def disconnect(self, now: float) -> bytes:
        self._dispatch(LinkInput.DISCONNECT, Trigger(now))
        return self.data_to_send()

    def next_deadline(self) -> float | None:
        """When ``handle_timeout`` should next be called (None: nothing pending)."""
        deadlines = [self._timer_at] if self._timer_at is not None else []
        if self._last_bytes_at is not None and self._decoder.has_partial_frame():
            deadlines.append(self._last_bytes_at + self.inter_frame_timeout_s)
        return min(deadlines) if deadlines else None

    def handle_timeout(self, now: float) -> None:
        """Act on every deadline that has passed by ``now`` (calling early does nothing)."""
        if (
            self._last_bytes_at is not None
            and now >= self._last_bytes_at + self.inter_frame_timeout_s
            and (dropped := self._decoder.discard_partial_frame()) is not None
        ):
            self._emit(dropped)
        if self._timer_at is not None and now >= self._timer_at:
            self._timer_at = None
            self._dispatch(LinkInput.TIMEOUT, Trigger(now))

    # --- dispatch ---------------------------------------------------------------------------

    def _dispatch(self, link_input: LinkInput, trigger: Trigger) -> None:
        entry = self.TRANSITIONS.get((self._state, link_input))
        if entry is None:
            if link_input in LOCAL_INPUTS:
                state, self._state = self._state, LinkState.ERROR
                raise ProtocolError(f"{link_input.value} is not allowed in state {state.value}")
            if trigger.frame is not None:
                self._emit(FrameIgnored(trigger.frame, f"{link_input.value} not expected in {self._state.value}"))
            return
        new_state = entry.handler(self, trigger)
        assert new_state in entry.next_states, (self._state, link_input, new_state)
        self._state = new_state

    def _on_frame(self, frame: HdlcFrame, now: float) -> bool:
        """Act on a frame addressed to this link; False (and a FrameIgnored) for any other."""
        problem = self._address_problem(frame)
        if problem is not None:
            self._emit(FrameIgnored(frame, problem))
            return False
        self._dispatch(INPUT_OF_KIND[frame.kind], Trigger(now, frame=frame))
        return True

    def _address_problem(self, frame: HdlcFrame) -> str | None:
        raise NotImplementedError

    # --- events and output ------------------------------------------------------------------

    def _emit(self, event: HdlcEvent) -> None:
        if isinstance(event, FrameIgnored | FrameDropped) and len(self._events) >= MAX_PENDING_DIAGNOSTICS:
            self.diagnostics_lost += 1
            return
        self._events.append(event)

    def _transmit(
        self,
        kind: FrameKind,
        *,
        final: bool = True,
        info: bytes = b"",
        nr: int = 0,
        ns: int = 0,
        segmented: bool = False,
    ) -> None:
        self._outbox += HdlcFrame(kind, self.peer_address, self.local_address, final, ns, nr, info, segmented).encode()

    def _send_supervisory(self, kind: FrameKind = FrameKind.RR) -> None:
        self._transmit(kind, nr=self._vr)

    def _stay(self, trigger: Trigger) -> LinkState:
        return self._state

    def _drop(self, cause: DisconnectCause) -> LinkState:
        """The link is down: report why and forget its sequence state."""
        self._emit(Disconnected(cause))
        self._reset_sequences()
        self._timer_at = None
        return LinkState.DISCONNECTED

    def _fail(self, reason: str) -> LinkState:
        self._emit(LinkFailed(reason))
        self._timer_at = None
        return LinkState.ERROR

    # --- sequence numbers, windows, segmentation --------------------------------------------

    def _reset_sequences(self) -> None:
        self._vs = 0
        self._vr = 0
        self._unacked: deque[_Sent] = deque()
        self._tx_queue: deque[tuple[bytes, bool]] = deque()
        self._rx_buffer = bytearray()

    def _queue_apdu(self, apdu: bytes) -> None:
        data = self.LLC_OUT + apdu
        size = self.negotiated.max_info_tx
        for start in range(0, len(data), size):
            self._tx_queue.append((data[start : start + size], start + size < len(data)))

    def _send_window(self) -> None:
        """Send queued segments up to the transmit window, P/F on the last one."""
        while self._tx_queue and len(self._unacked) < self.negotiated.window_tx:
            info, segmented = self._tx_queue.popleft()
            sent = _Sent(self._vs, info, segmented)
            self._unacked.append(sent)
            self._vs = (self._vs + 1) % SEQUENCE_MODULUS
            last = not self._tx_queue or len(self._unacked) == self.negotiated.window_tx
            self._transmit(FrameKind.I, final=last, info=info, nr=self._vr, ns=sent.send_seq, segmented=segmented)

    def _retransmit(self) -> None:
        """Go-back-N: send every unacknowledged I-frame again, P/F on the last one."""
        for index, sent in enumerate(self._unacked):
            final = index == len(self._unacked) - 1
            self._transmit(
                FrameKind.I, final=final, info=sent.info, nr=self._vr, ns=sent.send_seq, segmented=sent.segmented
            )

    def _acknowledge(self, receive_seq: int) -> bool:
        """Drop the I-frames N(R) acknowledges; False when N(R) acknowledges frames never sent."""
        base = (self._vs - len(self._unacked)) % SEQUENCE_MODULUS
        acknowledged = (receive_seq - base) % SEQUENCE_MODULUS
        if acknowledged > len(self._unacked):
            return False
        for _ in range(acknowledged):
            self._unacked.popleft()
        return True

    def _receive_information(self, frame: HdlcFrame) -> Received:
        """Sequence-check, reassemble and report an I-frame's data."""
        if len(frame.info) > self.negotiated.max_info_rx:
            return Received.OVERSIZE
        if frame.send_seq != self._vr:
            self._emit(FrameIgnored(frame, f"N(S)={frame.send_seq} out of sequence, expected {self._vr}"))
            return Received.OUT_OF_SEQUENCE
        self._vr = (self._vr + 1) % SEQUENCE_MODULUS
        if len(self._rx_buffer) + len(frame.info) > self.max_apdu_length + len(self.LLC_OUT):
            self._rx_buffer.clear()
            return Received.OVERSIZE
        self._rx_buffer += frame.info
        if frame.segmented:
            return Received.PARTIAL
        data = bytes(self._rx_buffer)
        self._rx_buffer.clear()
        return Received.COMPLETE if self._deliver(frame, data, unnumbered=False) else Received.NOTHING

    def _deliver(self, frame: HdlcFrame, data: bytes, *, unnumbered: bool) -> bool:
        if len(data) < 3 or data[0] != 0xE6 or data[1] not in (0xE6, 0xE7) or data[2] != 0x00:
            self._emit(FrameIgnored(frame, f"data without the LLC header E6 E6/E7 00: {data[:3].hex()}"))
            return False
        self._emit(ApduReceived(data[3:], unnumbered))
        return True

    def _on_ui(self, trigger: Trigger) -> LinkState:
        assert trigger.frame is not None
        self._deliver(trigger.frame, trigger.frame.info, unnumbered=True)
        return self._state
