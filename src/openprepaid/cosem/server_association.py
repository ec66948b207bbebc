"""The server (meter) side of COSEM application associations, sans-IO (IEC 62056-5-3 clause 9.3).

One ``ServerAssociation`` per connection; it admits clients by their SAP according to
``ServerSettings.policies`` (IS 15959: 16 public, 32 LLS, 48 HLS-GMAC with suite 0), answers AARQ,
HLS pass 3/4, the steps of block transfers and RLRQ by itself, and hands the application the
requests it must answer::

    server = ServerAssociation(settings)
    event = server.receive_apdu(apdu, client_sap=frame.source_wport)
    if isinstance(event, GetRequested):
        server.respond_get(encoded_value_or_DataAccessResult)
    for reply in server.data_to_send(): send(reply)

The work is shared out along its seams: ``server_admission`` decides whether an AARQ is admitted,
``server_ciphering`` opens ciphered requests and seals each reply in the envelope its request came
in (glo-, ded-, general-glo, general-ded, as negotiated), ``server_transfers`` keeps the long GET,
long ACTION result or long SET in progress, split by the client's max PDU size. Ciphered requests
are checked against the client's replay guard, which survives across associations
(``replay_guards``: persist ``last_accepted`` if the meter restarts).
"""

from __future__ import annotations

import enum
from collections.abc import Callable, MutableMapping

from openprepaid.cosem.acse import (
    AARE,
    AARQ,
    RLRE,
    RLRQ,
    AcseServiceUserDiagnostic,
    AssociationResult,
    MechanismName,
)
from openprepaid.cosem.acse_initiate import Conformance, InitiateRequest, InitiateResponse
from openprepaid.cosem.association_events import (
    HLS_METHOD,
    MIN_MAX_PDU_SIZE,
    ActionRequested,
    AssociationEstablished,
    AssociationRefused,
    Authentication,
    ClientPolicy,
    GetListRequested,
    GetRequested,
    Released,
    RequestRefused,
    ServerEvent,
    ServerSettings,
    SetListRequested,
    SetRequested,
)
from openprepaid.cosem.axdr import decode_data, encode_data
from openprepaid.cosem.errors import DecodeError, ProtocolError, SecurityError
from openprepaid.cosem.security import hls_gmac_response, new_challenge, verify_hls_gmac_response
from openprepaid.cosem.security_apdu import CipheredApdu, GeneralCipheredApdu, Protection, decode_protected
from openprepaid.cosem.security_counter import InvocationCounter, ReplayGuard
from openprepaid.cosem.server_admission import Refusal, check_aarq, check_initiate
from openprepaid.cosem.server_ciphering import ServerCiphering, UnsupportedEnvelopeError
from openprepaid.cosem.server_transfers import ServerTransfers, TransferStep
from openprepaid.cosem.xdlms import decode_xdlms_apdu
from openprepaid.cosem.xdlms_action import (
    ActionRequestNextPblock,
    ActionRequestNormal,
    ActionResponseNormal,
)
from openprepaid.cosem.xdlms_common import ActionResult, DataAccessResult, XdlmsApdu
from openprepaid.cosem.xdlms_error import ConfirmedServiceError, ExceptionResponse, ExceptionServiceError, StateError
from openprepaid.cosem.xdlms_get import (
    GetRequestNext,
    GetRequestNormal,
    GetRequestWithList,
    GetResponseNormal,
)
from openprepaid.cosem.xdlms_set import (
    SetRequestNormal,
    SetRequestWithDatablock,
    SetRequestWithFirstDatablock,
    SetRequestWithList,
    SetResponseLastDatablock,
    SetResponseNormal,
    SetResponseWithList,
)


class ServerState(enum.Enum):
    IDLE = "idle"
    AWAITING_HLS = "awaiting-hls"
    ASSOCIATED = "associated"
    SERVING = "serving"  # a request was handed to the application and awaits respond_*
    ERROR = "error"


class ServerInput(enum.Enum):
    AARQ_ACCEPTED = "aarq-accepted"
    AARQ_ACCEPTED_HLS = "aarq-accepted-hls"
    AARQ_REFUSED = "aarq-refused"
    HLS_VERIFIED = "hls-verified"
    HLS_FAILED = "hls-failed"
    REQUEST = "request"
    RESPOND = "respond"
    PROTOCOL_STEP = "protocol-step"  # a block transfer's step: answered without the application
    RLRQ = "rlrq"


St, In = ServerState, ServerInput
SERVER_TRANSITIONS: dict[tuple[ServerState, ServerInput], ServerState] = {
    (St.IDLE, In.AARQ_ACCEPTED): St.ASSOCIATED,
    (St.IDLE, In.AARQ_ACCEPTED_HLS): St.AWAITING_HLS,
    (St.IDLE, In.AARQ_REFUSED): St.IDLE,
    (St.ASSOCIATED, In.AARQ_ACCEPTED): St.ASSOCIATED,  # a new AARQ replaces the association (meters allow it)
    (St.ASSOCIATED, In.AARQ_ACCEPTED_HLS): St.AWAITING_HLS,
    (St.ASSOCIATED, In.AARQ_REFUSED): St.IDLE,
    (St.AWAITING_HLS, In.HLS_VERIFIED): St.ASSOCIATED,
    (St.AWAITING_HLS, In.HLS_FAILED): St.IDLE,
    (St.ASSOCIATED, In.REQUEST): St.SERVING,
    (St.ASSOCIATED, In.PROTOCOL_STEP): St.ASSOCIATED,
    (St.SERVING, In.RESPOND): St.ASSOCIATED,
    (St.ASSOCIATED, In.RLRQ): St.IDLE,
    (St.AWAITING_HLS, In.RLRQ): St.IDLE,
    (St.IDLE, In.RLRQ): St.IDLE,
}
del St, In
C = Conformance


def next_server_state(state: ServerState, event: ServerInput) -> ServerState:
    try:
        return SERVER_TRANSITIONS[(state, event)]
    except KeyError:
        raise ProtocolError(f"{event.value} is not allowed in state {state.value}") from None


class ServerAssociation:
    def __init__(
        self,
        settings: ServerSettings,
        *,
        invocation_counter: InvocationCounter | None = None,
        replay_guards: MutableMapping[int, ReplayGuard] | None = None,
        challenge: Callable[[], bytes] = new_challenge,
    ) -> None:
        self.settings = settings
        self.state = ServerState.IDLE
        self.invocation_counter = invocation_counter or InvocationCounter()
        self.replay_guards: MutableMapping[int, ReplayGuard] = replay_guards if replay_guards is not None else {}
        self.client_sap: int | None = None
        self.client_system_title: bytes | None = None
        self.client_max_receive_pdu_size = MIN_MAX_PDU_SIZE
        self.negotiated_conformance = Conformance(0)
        self._policy: ClientPolicy | None = None
        self._ciphering = self._new_ciphering(None)
        self._challenge = challenge
        self._stoc: bytes | None = None
        self._ctos: bytes | None = None
        self._outbox: list[bytes] = []
        self._serving: GetRequested | GetListRequested | SetRequested | SetListRequested | ActionRequested | None = None
        self._transfers = ServerTransfers()
        self._iid = 0

    def data_to_send(self) -> list[bytes]:
        out, self._outbox = self._outbox, []
        return out

    @property
    def reply_form(self) -> Protection:
        """The envelope of the last ciphered request, in which its replies go (glo- before any)."""
        return self._ciphering.reply_form

    # --- incoming ------------------------------------------------------------------------------------

    def receive_apdu(self, apdu: bytes, *, client_sap: int) -> ServerEvent | None:  # noqa: PLR0911 - one exit per kind
        """Handle one APDU from ``client_sap``; the event for the application, or None."""
        if self.state is ServerState.ERROR:
            raise ProtocolError("the association failed earlier; the connection must be closed")
        if not apdu:
            raise DecodeError("empty APDU")
        if apdu[0] == 0x60:
            return self._on_aarq(AARQ.decode(apdu), client_sap)
        if apdu[0] == 0x62:
            RLRQ.decode(apdu)
            self.state = next_server_state(self.state, ServerInput.RLRQ)
            self._outbox.append(RLRE().encode())
            return Released()
        if self.state is ServerState.IDLE or client_sap != self.client_sap:
            return self._refuse_request(
                ExceptionServiceError.OPERATION_NOT_POSSIBLE, f"no association with {client_sap}"
            )
        if self.state is ServerState.SERVING:
            self.state = ServerState.ERROR
            raise ProtocolError("a new request arrived before the previous one was answered")
        try:
            plain = self._unprotect(apdu)
        except UnsupportedEnvelopeError as exc:
            return self._refuse_request(ExceptionServiceError.SERVICE_NOT_SUPPORTED, str(exc))
        except (SecurityError, DecodeError) as exc:
            return self._refuse_request(ExceptionServiceError.DECIPHERING_ERROR, f"deciphering failed: {exc}")
        try:
            pdu = decode_xdlms_apdu(plain)
        except DecodeError as exc:
            self._outbox.append(_exception(StateError.SERVICE_UNKNOWN, ExceptionServiceError.SERVICE_NOT_SUPPORTED))
            return RequestRefused(f"undecodable request: {exc}")
        if self.state is ServerState.AWAITING_HLS:
            return self._on_hls(pdu)
        return self._on_request(pdu)

    def _on_aarq(self, aarq: AARQ, client_sap: int) -> ServerEvent | None:
        policy = self.settings.policies.get(client_sap)
        self._policy, self.client_sap = policy, client_sap
        self.client_system_title = aarq.calling_ap_title
        self._ciphering = self._new_ciphering(policy)
        self._transfers.end()
        refusal = check_aarq(aarq, policy)
        if refusal is not None or policy is None:
            return self._refuse(client_sap, refusal)
        try:
            initiate = self._initiate_request(aarq.user_information, policy)
        except (SecurityError, DecodeError) as exc:
            return self._refuse(
                client_sap, Refusal(AcseServiceUserDiagnostic.AUTHENTICATION_FAILURE, f"initiate request: {exc}")
            )
        refusal = check_initiate(initiate, ciphered=policy.protection is not None)
        if refusal is not None:
            return self._refuse(client_sap, refusal)
        self.client_max_receive_pdu_size = max(initiate.client_max_receive_pdu_size or 0xFFFF, MIN_MAX_PDU_SIZE)
        offered = policy.conformance if policy.protection is not None else policy.conformance & ~C.GENERAL_PROTECTION
        self.negotiated_conformance = initiate.proposed_conformance & offered
        response = InitiateResponse(
            negotiated_conformance=self.negotiated_conformance,
            server_max_receive_pdu_size=self.settings.max_receive_pdu_size,
        )
        user_information: InitiateResponse | CipheredApdu | GeneralCipheredApdu = response
        if policy.protection is not None:
            user_information = decode_protected(self._protect(response.encode()))
        self._ciphering.use_dedicated_key(initiate.dedicated_key)
        hls = policy.authentication is Authentication.HLS_GMAC
        if hls:
            self._ctos = aarq.calling_authentication_value
            self._stoc = self._challenge()
        self._outbox.append(
            AARE(
                result=AssociationResult.ACCEPTED,
                result_source_diagnostic=AcseServiceUserDiagnostic.NULL,
                application_context_name=aarq.application_context_name,
                responding_ap_title=self.settings.system_title if (policy.protection or hls) else None,
                responder_acse_requirements=hls,
                mechanism_name=MechanismName.HIGH_GMAC if hls else None,
                responding_authentication_value=self._stoc if hls else None,
                user_information=user_information,
            ).encode()
        )
        self.state = next_server_state(self.state, ServerInput.AARQ_ACCEPTED_HLS if hls else ServerInput.AARQ_ACCEPTED)
        if hls:
            return None  # established only once HLS pass 3 verifies
        return AssociationEstablished(client_sap, policy.authentication, self.client_system_title)

    def _initiate_request(self, information: object, policy: ClientPolicy) -> InitiateRequest:
        """The AARQ's InitiateRequest: plain on a plain association, glo- or general-glo-ciphered on a
        ciphered one (the AARE's InitiateResponse then goes in the same form)."""
        if isinstance(information, InitiateRequest):
            if policy.protection is not None:
                raise SecurityError("the InitiateRequest must be ciphered on this association")
            return information
        if isinstance(information, CipheredApdu | GeneralCipheredApdu) and policy.protection is not None:
            if information.protection.dedicated:
                raise SecurityError("an InitiateRequest cannot be ciphered with a dedicated key")
            return InitiateRequest.decode(self._unprotect(information.encode()))
        raise DecodeError("AARQ without a usable InitiateRequest")

    def _refuse(self, client_sap: int, refusal: Refusal | None) -> ServerEvent:
        refusal = refusal or Refusal(AcseServiceUserDiagnostic.NO_REASON_GIVEN, "refused")
        error = refusal.initiate_error
        self._outbox.append(
            AARE(
                result=AssociationResult.REJECTED_PERMANENT,
                result_source_diagnostic=refusal.diagnostic,
                user_information=ConfirmedServiceError(value=error) if error is not None else None,
            ).encode()
        )
        self.state = next_server_state(self.state, ServerInput.AARQ_REFUSED)
        self._policy = None
        self._ciphering = self._new_ciphering(None)
        return AssociationRefused(client_sap, refusal.reason)

    def _on_hls(self, pdu: object) -> ServerEvent:
        policy = self._policy
        assert policy is not None and policy.keys is not None
        if not isinstance(pdu, ActionRequestNormal) or pdu.method != HLS_METHOD or pdu.parameters is None:
            self.state = next_server_state(self.state, ServerInput.HLS_FAILED)
            self._outbox.append(
                _exception(StateError.SERVICE_NOT_ALLOWED, ExceptionServiceError.OPERATION_NOT_POSSIBLE)
            )
            return AssociationRefused(self.client_sap or 0, "HLS pass 3 expected")
        try:
            f_stoc = _octet_string(decode_data(pdu.parameters))
            if self._stoc is None or self.client_system_title is None:
                raise SecurityError("no challenge or client system title for HLS")  # noqa: TRY301
            counter = verify_hls_gmac_response(
                f_stoc, self._stoc, system_title=self.client_system_title, keys=policy.keys
            )
            if policy.protection is None:
                # Unciphered pass 3: the f(StoC) counter is the only replay protection. When the ACTION
                # was ciphered, its envelope (a later counter of the same sender) was already checked.
                self._guard().accept(counter)
        except (SecurityError, DecodeError) as exc:
            self.state = next_server_state(self.state, ServerInput.HLS_FAILED)
            reply = ActionResponseNormal(
                result=ActionResult.OTHER_REASON, invoke_id_and_priority=pdu.invoke_id_and_priority
            )
            self._outbox.append(self._protect(reply.encode()))
            return AssociationRefused(self.client_sap or 0, f"HLS pass 3 failed: {exc}")
        assert self._ctos is not None
        f_ctos = hls_gmac_response(
            self._ctos,
            system_title=self.settings.system_title,
            invocation_counter=self.invocation_counter.take(),
            keys=policy.keys,
        )
        reply = ActionResponseNormal(
            result=ActionResult.SUCCESS,
            return_parameters=encode_data(f_ctos),
            invoke_id_and_priority=pdu.invoke_id_and_priority,
        )
        self._outbox.append(self._protect(reply.encode()))
        self.state = next_server_state(self.state, ServerInput.HLS_VERIFIED)
        return AssociationEstablished(self.client_sap or 0, Authentication.HLS_GMAC, self.client_system_title)

    def _on_request(self, pdu: object) -> ServerEvent | None:
        event: GetRequested | GetListRequested | SetRequested | SetListRequested | ActionRequested
        if isinstance(
            pdu, GetRequestNext | ActionRequestNextPblock | SetRequestWithFirstDatablock | SetRequestWithDatablock
        ):
            self._iid = pdu.invoke_id_and_priority
            return self._on_transfer(self._transfer_step(pdu))
        self._transfers.end()  # a new request abandons a long GET or ACTION the client did not finish
        if isinstance(pdu, GetRequestNormal):
            event = GetRequested(pdu.invoke_id_and_priority & 0x0F, pdu.attribute, pdu.access)
        elif isinstance(pdu, GetRequestWithList):
            event = GetListRequested(pdu.invoke_id_and_priority & 0x0F, pdu.attributes)
        elif isinstance(pdu, SetRequestNormal):
            event = SetRequested(pdu.invoke_id_and_priority & 0x0F, pdu.attribute, pdu.access, pdu.value)
        elif isinstance(pdu, SetRequestWithList):
            event = SetListRequested(pdu.invoke_id_and_priority & 0x0F, pdu.attributes, pdu.values)
        elif isinstance(pdu, ActionRequestNormal):
            event = ActionRequested(pdu.invoke_id_and_priority & 0x0F, pdu.method, pdu.parameters)
        else:
            self._outbox.append(_exception(StateError.SERVICE_NOT_ALLOWED, ExceptionServiceError.SERVICE_NOT_SUPPORTED))
            return RequestRefused(f"{type(pdu).__name__} is not supported")
        self._iid = pdu.invoke_id_and_priority
        return self._serve(event)

    def _transfer_step(
        self, pdu: GetRequestNext | ActionRequestNextPblock | SetRequestWithFirstDatablock | SetRequestWithDatablock
    ) -> TransferStep:
        if isinstance(pdu, GetRequestNext):
            return self._transfers.next_get(pdu)
        if isinstance(pdu, ActionRequestNextPblock):
            return self._transfers.next_action(pdu)
        return self._transfers.set_block(pdu)

    def _serve(
        self, event: GetRequested | GetListRequested | SetRequested | SetListRequested | ActionRequested
    ) -> ServerEvent:
        self.state = next_server_state(self.state, ServerInput.REQUEST)
        self._serving = event
        return event

    def _on_transfer(self, step: TransferStep) -> ServerEvent | None:
        if step.reply is not None:
            self._outbox.append(self._protect(step.reply.encode()))
        if step.completed_set is not None:
            whole = step.completed_set
            return self._serve(SetRequested(self._iid & 0x0F, whole.attribute, whole.access, whole.value))
        if step.refusal is not None:
            return RequestRefused(step.refusal)
        self.state = next_server_state(self.state, ServerInput.PROTOCOL_STEP)
        return None

    # --- the application's answers ---------------------------------------------------------------------

    def respond_get(self, result: bytes | DataAccessResult | list[bytes | DataAccessResult]) -> None:
        """Answer the pending GET (or GET-with-list with one result per item); long results go by blocks."""
        serving = self._take_serving(GetRequested, GetListRequested)
        reply: XdlmsApdu
        if isinstance(serving, GetListRequested):
            if not isinstance(result, list) or len(result) != len(serving.items):
                raise ProtocolError("a GET-with-list needs one result per attribute")
            reply = self._transfers.get_list_response(result, max_pdu_size=self._response_budget(), iid=self._iid)
        elif isinstance(result, DataAccessResult):
            reply = GetResponseNormal(result=result, invoke_id_and_priority=self._iid)
        elif isinstance(result, bytes):
            reply = self._transfers.get_response(result, max_pdu_size=self._response_budget(), iid=self._iid)
        else:
            raise ProtocolError("respond_get takes encoded Data, a DataAccessResult, or a list for with-list")
        self._outbox.append(self._protect(reply.encode()))

    def respond_set(self, result: DataAccessResult | list[DataAccessResult]) -> None:
        serving = self._take_serving(SetRequested, SetListRequested)
        reply: SetResponseNormal | SetResponseLastDatablock | SetResponseWithList
        if isinstance(serving, SetListRequested):
            if not isinstance(result, list) or len(result) != len(serving.items):
                raise ProtocolError("a SET-with-list needs one result per attribute")
            reply = SetResponseWithList(results=tuple(result), invoke_id_and_priority=self._iid)
        elif not isinstance(result, DataAccessResult):
            raise ProtocolError("respond_set takes a DataAccessResult")
        else:
            reply = self._transfers.set_response(result, iid=self._iid)
        self._outbox.append(self._protect(reply.encode()))

    def respond_action(self, result: ActionResult, return_data: bytes | None = None) -> None:
        """Answer the pending ACTION; return data longer than the client takes goes by pblocks.

        Only a successful ACTION's return data may need blocks (a pblock carries no result):
        otherwise it is an ``EncodeError``, and the ACTION stays pending for a shorter answer.
        """
        if not isinstance(self._serving, ActionRequested):
            raise ProtocolError("no pending ActionRequested to answer")
        reply = self._transfers.action_response(
            result, return_data, max_pdu_size=self._response_budget(), iid=self._iid
        )
        self._take_serving(ActionRequested)
        self._outbox.append(self._protect(reply.encode()))

    # --- helpers ---------------------------------------------------------------------------------------

    def _take_serving(self, *kinds: type) -> object:
        serving = self._serving
        if serving is None or not isinstance(serving, kinds):
            raise ProtocolError(f"no pending {'/'.join(kind.__name__ for kind in kinds)} to answer")
        self._serving = None
        self.state = next_server_state(self.state, ServerInput.RESPOND)
        return serving

    def _refuse_request(self, service_error: ExceptionServiceError, reason: str) -> RequestRefused:
        self._outbox.append(_exception(StateError.SERVICE_NOT_ALLOWED, service_error))
        return RequestRefused(reason)

    def _response_budget(self) -> int:
        return max(self.client_max_receive_pdu_size - self._ciphering.overhead(), MIN_MAX_PDU_SIZE // 2)

    def _guard(self) -> ReplayGuard:
        assert self.client_sap is not None
        return self.replay_guards.setdefault(self.client_sap, ReplayGuard())

    def _new_ciphering(self, policy: ClientPolicy | None) -> ServerCiphering:
        ciphered = policy is not None and policy.protection is not None
        return ServerCiphering(
            policy,
            system_title=self.settings.system_title,
            client_system_title=self.client_system_title,
            invocation_counter=self.invocation_counter,
            replay_guard=self._guard() if ciphered else None,
        )

    def _protect(self, apdu: bytes) -> bytes:
        """A reply, ciphered as the request it answers was (``server_ciphering``)."""
        return self._ciphering.seal(apdu)

    def _unprotect(self, apdu: bytes) -> bytes:
        """A request, deciphered if the association ciphers; UnsupportedEnvelopeError / SecurityError if refused."""
        return self._ciphering.open(apdu)


def _octet_string(value: object) -> bytes:
    if not isinstance(value, bytes):
        raise SecurityError("f(StoC) must be an octet-string")
    return value


def _exception(state: StateError, service: ExceptionServiceError) -> bytes:
    return ExceptionResponse(state_error=state, service_error=service).encode()
