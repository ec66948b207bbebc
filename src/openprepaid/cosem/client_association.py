"""The client (HES) side of one COSEM application association, sans-IO (IEC 62056-5-3 clause 9.3;
Green Book "The application association" and "HLS authentication").

APDUs in, events out::

    client = ClientAssociation(settings)
    send(client.associate())                        # AARQ
    event = client.receive_apdu(receive())          # AssociationAccepted, or None while HLS runs
    send_all(client.data_to_send())                 # what the protocol sends by itself
    send(client.get(descriptor))                    # GET-Request ...
    event = client.receive_apdu(receive())          # GetResult (block transfer runs inside)

``receive_apdu`` returns an event, or None when the protocol answered by itself (HLS pass 3,
GET-Request-Next, the next SET block, ACTION-Request-Next-Pblock): then drain ``data_to_send`` and
wait for the next APDU. One confirmed request is outstanding at a time. The state machine is the
table ``CLIENT_TRANSITIONS``; anything outside it raises ``ProtocolError`` and moves to ERROR.

Ciphering (``settings.protection``): xDLMS requests leave in the envelope ``settings.ciphering``
names (glo- by default; ded-, general-glo, general-ded) with the client's system title and
invocation counter (``invocation_counter``: the caller persists ``persist_due()`` before sending);
the AARQ's InitiateRequest goes glo-ciphered, carrying ``settings.dedicated_key`` if there is one.
Replies must be ciphered as the policy demands, from the server's system title (learnt from the
AARE), with a strictly increasing counter (``server_replay_guard``).
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Sequence

from openprepaid.cosem.acse import AARE, AARQ, RLRE, RLRQ, ApplicationContextName, AssociationResult, MechanismName
from openprepaid.cosem.acse_initiate import InitiateRequest, InitiateResponse
from openprepaid.cosem.association_events import (
    HLS_METHOD,
    MIN_MAX_PDU_SIZE,
    ActionOutcome,
    AssociationAccepted,
    AssociationRejected,
    Authentication,
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
from openprepaid.cosem.axdr import decode_data, encode_data
from openprepaid.cosem.client_ciphering import ClientCiphering
from openprepaid.cosem.errors import DecodeError, ProtocolError, SecurityError
from openprepaid.cosem.security import SecurityKeys, hls_gmac_response, new_challenge, verify_hls_gmac_response
from openprepaid.cosem.security_apdu import CipheredApdu, GeneralCipheredApdu, Protection, Unprotected, is_protected
from openprepaid.cosem.security_counter import InvocationCounter, ReplayGuard
from openprepaid.cosem.xdlms import decode_xdlms_apdu
from openprepaid.cosem.xdlms_action import (
    ActionRequestNextPblock,
    ActionRequestNormal,
    ActionResponseNormal,
    ActionResponseWithPblock,
)
from openprepaid.cosem.xdlms_block import GetBlockAssembler, split_set_request
from openprepaid.cosem.xdlms_common import (
    ActionResult,
    CosemAttributeDescriptor,
    CosemAttributeDescriptorWithSelection,
    CosemMethodDescriptor,
    SelectiveAccess,
    invoke_id_and_priority,
)
from openprepaid.cosem.xdlms_error import ConfirmedServiceError, ExceptionResponse
from openprepaid.cosem.xdlms_get import (
    GetRequestNormal,
    GetRequestWithList,
    GetResponseNormal,
    GetResponseWithDatablock,
    GetResponseWithList,
    decode_get_data_results,
)
from openprepaid.cosem.xdlms_notification import DataNotification, EventNotificationRequest
from openprepaid.cosem.xdlms_set import (
    SetRequestWithList,
    SetResponseDatablock,
    SetResponseLastDatablock,
    SetResponseNormal,
    SetResponseWithList,
)

MAX_ACTION_RESULT_SIZE = 16 * 1024 * 1024


class ClientState(enum.Enum):
    IDLE = "idle"
    AWAITING_AARE = "awaiting-aare"
    AWAITING_HLS = "awaiting-hls"
    ASSOCIATED = "associated"
    AWAITING_RESPONSE = "awaiting-response"
    AWAITING_RLRE = "awaiting-rlre"
    RELEASED = "released"
    ERROR = "error"


class ClientInput(enum.Enum):
    ASSOCIATE = "associate"
    AARE_ACCEPTED = "aare-accepted"
    AARE_ACCEPTED_HLS = "aare-accepted-hls"
    AARE_REJECTED = "aare-rejected"
    HLS_VERIFIED = "hls-verified"
    REQUEST = "request"
    RESPONSE_PART = "response-part"
    RESPONSE = "response"
    RELEASE = "release"
    RLRE = "rlre"
    NOTIFICATION = "notification"


St, In = ClientState, ClientInput
CLIENT_TRANSITIONS: dict[tuple[ClientState, ClientInput], ClientState] = {
    (St.IDLE, In.ASSOCIATE): St.AWAITING_AARE,
    (St.RELEASED, In.ASSOCIATE): St.AWAITING_AARE,
    (St.AWAITING_AARE, In.AARE_ACCEPTED): St.ASSOCIATED,
    (St.AWAITING_AARE, In.AARE_ACCEPTED_HLS): St.AWAITING_HLS,
    (St.AWAITING_AARE, In.AARE_REJECTED): St.IDLE,
    (St.AWAITING_HLS, In.HLS_VERIFIED): St.ASSOCIATED,
    (St.ASSOCIATED, In.REQUEST): St.AWAITING_RESPONSE,
    (St.AWAITING_RESPONSE, In.RESPONSE_PART): St.AWAITING_RESPONSE,
    (St.AWAITING_RESPONSE, In.RESPONSE): St.ASSOCIATED,
    (St.ASSOCIATED, In.RELEASE): St.AWAITING_RLRE,
    (St.AWAITING_RLRE, In.RLRE): St.RELEASED,
    (St.ASSOCIATED, In.NOTIFICATION): St.ASSOCIATED,
    (St.AWAITING_RESPONSE, In.NOTIFICATION): St.AWAITING_RESPONSE,
    (St.AWAITING_RLRE, In.NOTIFICATION): St.AWAITING_RLRE,
    (St.IDLE, In.NOTIFICATION): St.IDLE,
}
del St, In


def next_client_state(state: ClientState, event: ClientInput) -> ClientState:
    """The table lookup; an unlisted pair is a protocol violation."""
    try:
        return CLIENT_TRANSITIONS[(state, event)]
    except KeyError:
        raise ProtocolError(f"{event.value} is not allowed in state {state.value}") from None


class ClientAssociation:
    def __init__(
        self,
        settings: ClientSettings,
        *,
        invocation_counter: InvocationCounter | None = None,
        server_replay_guard: ReplayGuard | None = None,
        challenge: Callable[[], bytes] = new_challenge,
    ) -> None:
        if settings.max_receive_pdu_size < MIN_MAX_PDU_SIZE:
            raise ProtocolError(f"max receive PDU size below {MIN_MAX_PDU_SIZE}")
        if settings.authentication is Authentication.LOW and not settings.password:
            raise SecurityError("LLS needs a password")
        self.settings = settings
        self.ciphering = ClientCiphering(settings)
        self.state = ClientState.IDLE
        self.invocation_counter = invocation_counter or InvocationCounter()
        self.server_replay_guard = server_replay_guard or ReplayGuard()
        self.server_system_title: bytes | None = None
        self.server_max_receive_pdu_size = MIN_MAX_PDU_SIZE
        self._challenge = challenge
        self._ctos: bytes | None = None
        self._outbox: list[bytes] = []
        self._invoke_id = 0
        self._pending: _Pending | None = None

    # --- outgoing ----------------------------------------------------------------------------------

    def data_to_send(self) -> list[bytes]:
        """APDUs the protocol produced by itself since the last call (HLS, next blocks)."""
        out, self._outbox = self._outbox, []
        return out

    def associate(self) -> bytes:
        """The AARQ that opens the association."""
        self.state = next_client_state(self.state, ClientInput.ASSOCIATE)
        settings = self.settings
        initiate = InitiateRequest(
            proposed_conformance=self.ciphering.proposed_conformance(),
            client_max_receive_pdu_size=settings.max_receive_pdu_size,
            dedicated_key=settings.dedicated_key,
        )
        information: InitiateRequest | CipheredApdu = initiate
        if settings.protection is not None:
            information = CipheredApdu.decode(self._protect(initiate.encode(), Protection.GLOBAL))
        mechanism, value = None, None
        if settings.authentication is Authentication.LOW:
            mechanism, value = MechanismName.LOW, settings.password
        elif settings.authentication is Authentication.HLS_GMAC:
            self._ctos = self._challenge()
            mechanism, value = MechanismName.HIGH_GMAC, self._ctos
        context = (
            ApplicationContextName.LOGICAL_NAME_WITH_CIPHERING
            if settings.protection is not None
            else ApplicationContextName.LOGICAL_NAME
        )
        return AARQ(
            application_context_name=context,
            calling_ap_title=settings.system_title if (settings.protection or self._ctos) else None,
            sender_acse_requirements=mechanism is not None,
            mechanism_name=mechanism,
            calling_authentication_value=value,
            user_information=information,
        ).encode()

    def get(self, attribute: CosemAttributeDescriptor, access: SelectiveAccess | None = None) -> bytes:
        iid = self._begin()
        self._pending = _Pending("get", iid, GetBlockAssembler(invoke_id_and_priority=iid))
        return self._protect(GetRequestNormal(attribute=attribute, access=access, invoke_id_and_priority=iid).encode())

    def get_with_list(self, items: Sequence[CosemAttributeDescriptorWithSelection]) -> bytes:
        iid = self._begin()
        self._pending = _Pending("get", iid, GetBlockAssembler(invoke_id_and_priority=iid), listed=True)
        return self._protect(GetRequestWithList(attributes=tuple(items), invoke_id_and_priority=iid).encode())

    def set(self, attribute: CosemAttributeDescriptor, value: bytes, access: SelectiveAccess | None = None) -> bytes:
        iid = self._begin()
        blocks = split_set_request(
            attribute, value, max_pdu_size=self._request_budget(), access=access, invoke_id_and_priority=iid
        )
        self._pending = _Pending("set", iid, blocks=[block.encode() for block in blocks[1:]])
        return self._protect(blocks[0].encode())

    def set_with_list(self, items: Sequence[CosemAttributeDescriptorWithSelection], values: Sequence[bytes]) -> bytes:
        if len(items) != len(values):
            raise ProtocolError("set_with_list needs one value per attribute")
        iid = self._begin()
        self._pending = _Pending("set", iid)
        return self._protect(
            SetRequestWithList(attributes=tuple(items), values=tuple(values), invoke_id_and_priority=iid).encode()
        )

    def action(self, method: CosemMethodDescriptor, parameters: bytes | None = None) -> bytes:
        iid = self._begin()
        self._pending = _Pending("action", iid)
        return self._protect(
            ActionRequestNormal(method=method, parameters=parameters, invoke_id_and_priority=iid).encode()
        )

    def release(self) -> bytes:
        self.state = next_client_state(self.state, ClientInput.RELEASE)
        return RLRQ().encode()

    # --- incoming ----------------------------------------------------------------------------------

    def receive_apdu(self, apdu: bytes) -> ClientEvent | None:
        """Handle one APDU from the server; see the module docstring."""
        if self.state is ClientState.ERROR:
            raise ProtocolError("the association failed earlier; open a new one")
        try:
            return self._receive(apdu)
        except (ProtocolError, DecodeError, SecurityError):
            self.state = ClientState.ERROR
            raise

    def _receive(self, apdu: bytes) -> ClientEvent | None:
        if not apdu:
            raise DecodeError("empty APDU")
        if apdu[0] == AARE_TAG_BYTE:
            return self._on_aare(AARE.decode(apdu))
        if apdu[0] == RLRE_TAG_BYTE:
            RLRE.decode(apdu)
            self.state = next_client_state(self.state, ClientInput.RLRE)
            return Released()
        system_title = None
        if is_protected(apdu):
            unprotected = self._unprotect(apdu)
            apdu, system_title = unprotected.apdu, unprotected.system_title
        elif self.settings.protection is not None and apdu[0] not in _CLEAR_ON_CIPHERED:
            raise SecurityError(f"unciphered APDU {apdu[0]:#04x} on a ciphered association")
        pdu = decode_xdlms_apdu(apdu)
        if isinstance(pdu, DataNotification | EventNotificationRequest):
            self.state = next_client_state(self.state, ClientInput.NOTIFICATION)
            return NotificationReceived(pdu, system_title)
        if self.state is ClientState.AWAITING_HLS:
            return self._on_hls_reply(pdu)
        return self._on_response(pdu)

    def _on_aare(self, aare: AARE) -> ClientEvent | None:
        if aare.result is not AssociationResult.ACCEPTED:
            self.state = next_client_state(self.state, ClientInput.AARE_REJECTED)
            error = aare.user_information.value if isinstance(aare.user_information, ConfirmedServiceError) else None
            return AssociationRejected(aare.result, aare.result_source_diagnostic, error)
        self.server_system_title = aare.responding_ap_title
        information = aare.user_information
        if isinstance(information, CipheredApdu | GeneralCipheredApdu):
            plain = self._unprotect(information.encode()).apdu
            information = InitiateResponse.decode(plain)
        if not isinstance(information, InitiateResponse):
            raise ProtocolError("an accepted AARE must carry an InitiateResponse")
        self.server_max_receive_pdu_size = max(information.server_max_receive_pdu_size, MIN_MAX_PDU_SIZE)
        self.ciphering.check_negotiated(information.negotiated_conformance)
        self._accepted = AssociationAccepted(
            information.negotiated_conformance, information.server_max_receive_pdu_size, aare.responding_ap_title
        )
        if self.settings.authentication is not Authentication.HLS_GMAC:
            self.state = next_client_state(self.state, ClientInput.AARE_ACCEPTED)
            return self._accepted
        stoc = aare.responding_authentication_value
        if not stoc or aare.mechanism_name != MechanismName.HIGH_GMAC or self.server_system_title is None:
            raise ProtocolError("HLS-GMAC AARE without the server's challenge, mechanism or system title")
        self.state = next_client_state(self.state, ClientInput.AARE_ACCEPTED_HLS)
        reply = hls_gmac_response(
            stoc, system_title=self._title(), invocation_counter=self.invocation_counter.take(), keys=self._keys()
        )
        self._invoke_id = (self._invoke_id + 1) % 16
        iid = invoke_id_and_priority(self._invoke_id)
        request = ActionRequestNormal(method=HLS_METHOD, parameters=encode_data(reply), invoke_id_and_priority=iid)
        self._outbox.append(self._protect(request.encode()))
        return None

    def _on_hls_reply(self, pdu: object) -> ClientEvent:
        if not isinstance(pdu, ActionResponseNormal):
            raise ProtocolError(f"expected the HLS ACTION response, got {type(pdu).__name__}")
        if pdu.result is not ActionResult.SUCCESS or not isinstance(pdu.return_parameters, bytes):
            raise SecurityError(f"the server refused our HLS-GMAC reply ({pdu.result.name})")
        f_ctos = decode_data(pdu.return_parameters)
        assert self._ctos is not None and self.server_system_title is not None
        if not isinstance(f_ctos, bytes):
            raise SecurityError("the server's f(CtoS) is not an octet-string")
        counter = verify_hls_gmac_response(f_ctos, self._ctos, system_title=self.server_system_title, keys=self._keys())
        if self.settings.protection is None:
            # Unciphered pass 4: f(CtoS)'s counter is the replay protection; a ciphered reply's envelope
            # (a later counter of the same meter) was already checked by unprotect().
            self.server_replay_guard.accept(counter)
        self.state = next_client_state(self.state, ClientInput.HLS_VERIFIED)
        return self._accepted

    def _on_response(self, pdu: object) -> ClientEvent | None:
        pending = self._pending
        if isinstance(pdu, ExceptionResponse):
            self._finish()
            return ExceptionReceived(pdu.state_error, pdu.service_error)
        if isinstance(pdu, ConfirmedServiceError):
            self._finish()
            return ServiceErrorReceived(pdu)
        if pending is None or self.state is not ClientState.AWAITING_RESPONSE:
            raise ProtocolError(f"unsolicited {type(pdu).__name__}")
        if (
            isinstance(pdu, GetResponseNormal | GetResponseWithDatablock | GetResponseWithList)
            and pending.kind == "get"
        ):
            return self._on_get(pending, pdu)
        if pending.kind == "set":
            return self._on_set(pending, pdu)
        if pending.kind == "action":
            return self._on_action(pending, pdu)
        raise ProtocolError(f"{type(pdu).__name__} does not answer a {pending.kind} request")

    def _on_get(
        self, pending: _Pending, pdu: GetResponseNormal | GetResponseWithDatablock | GetResponseWithList
    ) -> ClientEvent | None:
        assert pending.assembler is not None
        following = pending.assembler.receive(pdu)
        if following is not None:
            self.state = next_client_state(self.state, ClientInput.RESPONSE_PART)
            self._outbox.append(self._protect(following.encode()))
            return None
        self._finish()
        result = pending.assembler.result
        if isinstance(result, tuple):
            return GetListResult(pending.invoke_id, result)
        if pending.listed and isinstance(result, bytes):  # a list result sent by block transfer
            return GetListResult(pending.invoke_id, decode_get_data_results(result))
        assert result is not None
        return GetResult(pending.invoke_id, result)

    def _on_set(self, pending: _Pending, pdu: object) -> ClientEvent | None:
        self._check_invoke_id(pending, pdu)
        if isinstance(pdu, SetResponseDatablock):
            if not pending.blocks:
                raise ProtocolError("the server acknowledged a SET block that was never sent")
            self.state = next_client_state(self.state, ClientInput.RESPONSE_PART)
            self._outbox.append(self._protect(pending.blocks.pop(0)))
            return None
        if isinstance(pdu, SetResponseNormal | SetResponseLastDatablock):
            if pending.blocks:
                raise ProtocolError("SET finished before every block was sent")
            self._finish()
            return SetResult(pending.invoke_id, (pdu.result,))
        if isinstance(pdu, SetResponseWithList):
            self._finish()
            return SetResult(pending.invoke_id, tuple(pdu.results))
        raise ProtocolError(f"{type(pdu).__name__} does not answer a SET")

    def _on_action(self, pending: _Pending, pdu: object) -> ClientEvent | None:
        self._check_invoke_id(pending, pdu)
        if isinstance(pdu, ActionResponseNormal):
            self._finish()
            return ActionOutcome(pending.invoke_id, pdu.result, pdu.return_parameters)
        if isinstance(pdu, ActionResponseWithPblock):
            if pdu.block_number != len(pending.chunks) + 1:
                raise ProtocolError(f"action block {pdu.block_number}, expected {len(pending.chunks) + 1}")
            pending.chunks.append(pdu.raw_data)
            if sum(map(len, pending.chunks)) > MAX_ACTION_RESULT_SIZE:
                raise ProtocolError("long ACTION result too large")
            if not pdu.last_block:
                self.state = next_client_state(self.state, ClientInput.RESPONSE_PART)
                following = ActionRequestNextPblock(block_number=pdu.block_number, invoke_id_and_priority=pending.iid)
                self._outbox.append(self._protect(following.encode()))
                return None
            self._finish()
            return ActionOutcome(pending.invoke_id, ActionResult.SUCCESS, b"".join(pending.chunks))
        raise ProtocolError(f"{type(pdu).__name__} does not answer an ACTION")

    # --- helpers -----------------------------------------------------------------------------------

    def _begin(self) -> int:
        self.state = next_client_state(self.state, ClientInput.REQUEST)
        self._invoke_id = (self._invoke_id + 1) % 16
        return invoke_id_and_priority(self._invoke_id)

    def _finish(self) -> None:
        self._pending = None
        self.state = next_client_state(self.state, ClientInput.RESPONSE)

    def _request_budget(self) -> int:
        return max(self.server_max_receive_pdu_size - self.ciphering.overhead(), MIN_MAX_PDU_SIZE // 2)

    @staticmethod
    def _check_invoke_id(pending: _Pending, pdu: object) -> None:
        iid = getattr(pdu, "invoke_id_and_priority", None)
        if iid is not None and iid & 0x0F != pending.invoke_id:
            raise ProtocolError(f"response for invoke-id {iid & 0x0F}, expected {pending.invoke_id}")

    def _keys(self) -> SecurityKeys:
        return self.ciphering.keys()

    def _title(self) -> bytes:
        return self.ciphering.system_title()

    def _protect(self, apdu: bytes, form: Protection | None = None) -> bytes:
        return self.ciphering.seal(apdu, self.invocation_counter, form)

    def _unprotect(self, apdu: bytes) -> Unprotected:
        return self.ciphering.open(
            apdu, server_system_title=self.server_system_title, replay_guard=self.server_replay_guard
        )


class _Pending:
    """The one outstanding confirmed request."""

    __slots__ = ("assembler", "blocks", "chunks", "iid", "invoke_id", "kind", "listed")

    def __init__(
        self,
        kind: str,
        iid: int,
        assembler: GetBlockAssembler | None = None,
        blocks: list[bytes] | None = None,
        *,
        listed: bool = False,
    ) -> None:
        self.kind = kind
        self.listed = listed  # a GET-with-list: a block-transferred result is a list of results
        self.iid = iid
        self.invoke_id = iid & 0x0F
        self.assembler = assembler
        self.blocks = blocks or []
        self.chunks: list[bytes] = []


AARE_TAG_BYTE = 0x61
RLRE_TAG_BYTE = 0x63
# A meter may answer in clear with an exception-response, or push an unciphered data-notification.
_CLEAR_ON_CIPHERED = frozenset((0xD8, 0x0F))
