"""The server (meter) side of COSEM application associations, sans-IO (IEC 62056-5-3 clause 9.3).

One ``ServerAssociation`` per connection; it admits clients by their SAP according to
``ServerSettings.policies`` (IS 15959: 16 public, 32 LLS, 48 HLS-GMAC with suite 0), answers AARQ,
HLS pass 3/4, GET-Request-Next, SET blocks and RLRQ by itself, and hands the application the
requests it must answer::

    server = ServerAssociation(settings)
    event = server.receive_apdu(apdu, client_sap=frame.source_wport)
    if isinstance(event, GetRequested):
        server.respond_get(encoded_value_or_DataAccessResult)
    for reply in server.data_to_send(): send(reply)

Long GET results are split into blocks by the negotiated client PDU size. Ciphered requests are
deciphered with the client's system title and checked against its replay guard, which survives
across associations (``replay_guards``: persist ``last_accepted`` if the meter restarts).
"""

from __future__ import annotations

import enum
import hmac
from collections.abc import Callable, MutableMapping

from openprepaid.cosem.acse import (
    AARE,
    AARQ,
    RLRE,
    RLRQ,
    AcseServiceUserDiagnostic,
    ApplicationContextName,
    AssociationResult,
    MechanismName,
)
from openprepaid.cosem.acse_initiate import InitiateRequest, InitiateResponse
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
from openprepaid.cosem.security_apdu import CipheredApdu, Protection, is_protected, protect, unprotect
from openprepaid.cosem.security_counter import InvocationCounter, ReplayGuard
from openprepaid.cosem.xdlms import decode_xdlms_apdu
from openprepaid.cosem.xdlms_action import ActionRequestNormal, ActionResponseNormal
from openprepaid.cosem.xdlms_block import GetBlockSender, split_get_response
from openprepaid.cosem.xdlms_common import ActionResult, DataAccessResult
from openprepaid.cosem.xdlms_error import (
    ConfirmedServiceError,
    ExceptionResponse,
    ExceptionServiceError,
    InitiateError,
    StateError,
)
from openprepaid.cosem.xdlms_get import (
    GetRequestNext,
    GetRequestNormal,
    GetRequestWithList,
    GetResponseNormal,
    GetResponseWithDatablock,
    GetResponseWithList,
    encode_get_data_results,
)
from openprepaid.cosem.xdlms_set import (
    SetRequestNormal,
    SetRequestWithDatablock,
    SetRequestWithFirstDatablock,
    SetRequestWithList,
    SetResponseDatablock,
    SetResponseLastDatablock,
    SetResponseNormal,
    SetResponseWithList,
)

MAX_SET_VALUE_SIZE = 1024 * 1024


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
    PROTOCOL_STEP = "protocol-step"  # GET-Request-Next, a SET block: answered without the application
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
        self._policy: ClientPolicy | None = None
        self._challenge = challenge
        self._stoc: bytes | None = None
        self._ctos: bytes | None = None
        self._outbox: list[bytes] = []
        self._serving: GetRequested | GetListRequested | SetRequested | SetListRequested | ActionRequested | None = None
        self._blocks: GetBlockSender | None = None
        self._set_chunks: list[bytes] = []
        self._set_head: SetRequestWithFirstDatablock | None = None
        self._set_last_block = 0
        self._iid = 0

    def data_to_send(self) -> list[bytes]:
        out, self._outbox = self._outbox, []
        return out

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
            self._outbox.append(
                _exception(StateError.SERVICE_NOT_ALLOWED, ExceptionServiceError.OPERATION_NOT_POSSIBLE)
            )
            return RequestRefused(f"no association with client {client_sap}")
        if self.state is ServerState.SERVING:
            self.state = ServerState.ERROR
            raise ProtocolError("a new request arrived before the previous one was answered")
        try:
            plain = self._unprotect(apdu)
        except (SecurityError, DecodeError) as exc:
            self._outbox.append(_exception(StateError.SERVICE_NOT_ALLOWED, ExceptionServiceError.DECIPHERING_ERROR))
            return RequestRefused(f"deciphering failed: {exc}")
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
        refusal = self._check_aarq(aarq, policy)
        information = aarq.user_information
        initiate: InitiateRequest | None = None
        if refusal is None and policy is not None:
            try:
                initiate = self._initiate_request(information, policy)
            except (SecurityError, DecodeError) as exc:
                refusal = (AcseServiceUserDiagnostic.AUTHENTICATION_FAILURE, f"initiate request: {exc}")
        if refusal is None and initiate is not None and initiate.proposed_dlms_version_number < 6:
            return self._refuse(
                client_sap,
                AcseServiceUserDiagnostic.NO_REASON_GIVEN,
                "DLMS version too low",
                InitiateError.DLMS_VERSION_TOO_LOW,
            )
        if refusal is not None or policy is None or initiate is None:
            diagnostic, reason = refusal or (AcseServiceUserDiagnostic.NO_REASON_GIVEN, "refused")
            return self._refuse(client_sap, diagnostic, reason)
        self.client_max_receive_pdu_size = max(initiate.client_max_receive_pdu_size or 0xFFFF, MIN_MAX_PDU_SIZE)
        response = InitiateResponse(
            negotiated_conformance=initiate.proposed_conformance & policy.conformance,
            server_max_receive_pdu_size=self.settings.max_receive_pdu_size,
        )
        user_information: InitiateResponse | CipheredApdu = response
        if policy.protection is not None:
            user_information = CipheredApdu.decode(self._protect(response.encode()))
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

    def _check_aarq(  # noqa: PLR0911 - one exit per refusal reason, each with its AARE diagnostic
        self, aarq: AARQ, policy: ClientPolicy | None
    ) -> tuple[AcseServiceUserDiagnostic, str] | None:
        if policy is None:
            return AcseServiceUserDiagnostic.CALLING_AP_TITLE_NOT_RECOGNIZED, "unknown client SAP"
        wanted_context = (
            ApplicationContextName.LOGICAL_NAME_WITH_CIPHERING
            if policy.protection is not None
            else ApplicationContextName.LOGICAL_NAME
        )
        if aarq.application_context_name != wanted_context:
            return AcseServiceUserDiagnostic.APPLICATION_CONTEXT_NAME_NOT_SUPPORTED, "application context"
        expected = {
            Authentication.NONE: None,
            Authentication.LOW: MechanismName.LOW,
            Authentication.HLS_GMAC: MechanismName.HIGH_GMAC,
        }[policy.authentication]
        if aarq.mechanism_name != expected:
            if aarq.mechanism_name is None:
                return AcseServiceUserDiagnostic.AUTHENTICATION_MECHANISM_NAME_REQUIRED, "mechanism required"
            return AcseServiceUserDiagnostic.AUTHENTICATION_MECHANISM_NAME_NOT_RECOGNISED, "wrong mechanism"
        if policy.authentication is Authentication.LOW:
            given = aarq.calling_authentication_value
            if not given:
                return AcseServiceUserDiagnostic.AUTHENTICATION_REQUIRED, "password required"
            if policy.password is None or not hmac.compare_digest(given, policy.password):
                return AcseServiceUserDiagnostic.AUTHENTICATION_FAILURE, "wrong password"
        if policy.authentication is Authentication.HLS_GMAC and not aarq.calling_authentication_value:
            return AcseServiceUserDiagnostic.AUTHENTICATION_REQUIRED, "challenge required"
        needs_title = policy.protection is not None or policy.authentication is Authentication.HLS_GMAC
        if needs_title and (aarq.calling_ap_title is None or len(aarq.calling_ap_title) != 8):
            return AcseServiceUserDiagnostic.CALLING_AP_TITLE_NOT_RECOGNIZED, "client system title required"
        return None

    def _initiate_request(self, information: object, policy: ClientPolicy) -> InitiateRequest:
        if isinstance(information, InitiateRequest):
            if policy.protection is not None:
                raise SecurityError("the InitiateRequest must be ciphered on this association")
            return information
        if isinstance(information, CipheredApdu) and policy.protection is not None:
            return InitiateRequest.decode(self._unprotect(information.encode()))
        raise DecodeError("AARQ without a usable InitiateRequest")

    def _refuse(
        self,
        client_sap: int,
        diagnostic: AcseServiceUserDiagnostic,
        reason: str,
        initiate_error: InitiateError | None = None,
    ) -> ServerEvent:
        self._outbox.append(
            AARE(
                result=AssociationResult.REJECTED_PERMANENT,
                result_source_diagnostic=diagnostic,
                user_information=ConfirmedServiceError(value=initiate_error) if initiate_error else None,
            ).encode()
        )
        self.state = next_server_state(self.state, ServerInput.AARQ_REFUSED)
        self._policy = None
        return AssociationRefused(client_sap, reason)

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
        if isinstance(pdu, GetRequestNext):
            return self._next_block(pdu)
        if isinstance(pdu, GetRequestNormal):
            event = GetRequested(pdu.invoke_id_and_priority & 0x0F, pdu.attribute, pdu.access)
        elif isinstance(pdu, GetRequestWithList):
            event = GetListRequested(pdu.invoke_id_and_priority & 0x0F, pdu.attributes)
        elif isinstance(pdu, SetRequestNormal):
            event = SetRequested(pdu.invoke_id_and_priority & 0x0F, pdu.attribute, pdu.access, pdu.value)
        elif isinstance(pdu, SetRequestWithList):
            event = SetListRequested(pdu.invoke_id_and_priority & 0x0F, pdu.attributes, pdu.values)
        elif isinstance(pdu, SetRequestWithFirstDatablock | SetRequestWithDatablock):
            return self._set_block(pdu)
        elif isinstance(pdu, ActionRequestNormal):
            event = ActionRequested(pdu.invoke_id_and_priority & 0x0F, pdu.method, pdu.parameters)
        else:
            self._outbox.append(_exception(StateError.SERVICE_NOT_ALLOWED, ExceptionServiceError.SERVICE_NOT_SUPPORTED))
            return RequestRefused(f"{type(pdu).__name__} is not supported")
        self._iid = pdu.invoke_id_and_priority
        self.state = next_server_state(self.state, ServerInput.REQUEST)
        self._serving = event
        return event

    def _next_block(self, pdu: GetRequestNext) -> ServerEvent | None:
        if self._blocks is None:
            self._outbox.append(
                _exception(StateError.SERVICE_NOT_ALLOWED, ExceptionServiceError.OPERATION_NOT_POSSIBLE)
            )
            return RequestRefused("GET-Request-Next without a long GET in progress")
        self.state = next_server_state(self.state, ServerInput.PROTOCOL_STEP)
        self._outbox.append(self._protect(self._blocks.next(pdu).encode()))
        if self._blocks.finished:
            self._blocks = None
        return None

    def _set_block(self, pdu: SetRequestWithFirstDatablock | SetRequestWithDatablock) -> ServerEvent | None:
        if isinstance(pdu, SetRequestWithFirstDatablock):
            self._set_head, self._set_chunks = pdu, []
        elif self._set_head is None or pdu.block_number != len(self._set_chunks) + 1:
            self._set_head = None
            reply = SetResponseLastDatablock(
                result=DataAccessResult.DATA_BLOCK_NUMBER_INVALID,
                block_number=pdu.block_number,
                invoke_id_and_priority=pdu.invoke_id_and_priority,
            )
            self._outbox.append(self._protect(reply.encode()))
            return RequestRefused("SET block out of order")
        self._set_chunks.append(pdu.raw_data)
        if sum(map(len, self._set_chunks)) > MAX_SET_VALUE_SIZE:
            self._set_head = None
            raise ProtocolError("long SET value too large")
        if not pdu.last_block:
            self.state = next_server_state(self.state, ServerInput.PROTOCOL_STEP)
            ack = SetResponseDatablock(block_number=pdu.block_number, invoke_id_and_priority=pdu.invoke_id_and_priority)
            self._outbox.append(self._protect(ack.encode()))
            return None
        head = self._set_head
        assert head is not None
        self._set_head = None
        self._iid = pdu.invoke_id_and_priority
        self._set_last_block = pdu.block_number
        self.state = next_server_state(self.state, ServerInput.REQUEST)
        event = SetRequested(pdu.invoke_id_and_priority & 0x0F, head.attribute, head.access, b"".join(self._set_chunks))
        self._serving = event
        return event

    # --- the application's answers ---------------------------------------------------------------------

    def respond_get(self, result: bytes | DataAccessResult | list[bytes | DataAccessResult]) -> None:
        """Answer the pending GET (or GET-with-list with one result per item)."""
        serving = self._take_serving(GetRequested, GetListRequested)
        if isinstance(serving, GetListRequested):
            if not isinstance(result, list) or len(result) != len(serving.items):
                raise ProtocolError("a GET-with-list needs one result per attribute")
            apdus = self._list_response(result)
        elif isinstance(result, DataAccessResult):
            apdus = [GetResponseNormal(result=result, invoke_id_and_priority=self._iid).encode()]
        elif isinstance(result, bytes):
            blocks = split_get_response(result, max_pdu_size=self._response_budget(), invoke_id_and_priority=self._iid)
            datablocks = [block for block in blocks if isinstance(block, GetResponseWithDatablock)]
            if datablocks:
                sender = GetBlockSender(datablocks)
                apdus = [sender.first().encode()]
                self._blocks = sender
            else:
                apdus = [blocks[0].encode()]
        else:
            raise ProtocolError("respond_get takes encoded Data, a DataAccessResult, or a list for with-list")
        self._outbox.extend(self._protect(apdu) for apdu in apdus)

    def _list_response(self, results: list[bytes | DataAccessResult]) -> list[bytes]:
        """One GET-Response-With-List, or its encoded result list by block transfer when it does not fit."""
        body = encode_get_data_results(results)
        blocks = split_get_response(body, max_pdu_size=self._response_budget(), invoke_id_and_priority=self._iid)
        datablocks = [block for block in blocks if isinstance(block, GetResponseWithDatablock)]
        if not datablocks:
            return [GetResponseWithList(results=tuple(results), invoke_id_and_priority=self._iid).encode()]
        self._blocks = GetBlockSender(datablocks)
        return [self._blocks.first().encode()]

    def respond_set(self, result: DataAccessResult | list[DataAccessResult]) -> None:
        serving = self._take_serving(SetRequested, SetListRequested)
        reply: SetResponseNormal | SetResponseLastDatablock | SetResponseWithList
        if isinstance(serving, SetListRequested):
            if not isinstance(result, list) or len(result) != len(serving.items):
                raise ProtocolError("a SET-with-list needs one result per attribute")
            reply = SetResponseWithList(results=tuple(result), invoke_id_and_priority=self._iid)
        elif not isinstance(result, DataAccessResult):
            raise ProtocolError("respond_set takes a DataAccessResult")
        elif self._set_last_block:
            reply = SetResponseLastDatablock(
                result=result, block_number=self._set_last_block, invoke_id_and_priority=self._iid
            )
            self._set_last_block = 0
        else:
            reply = SetResponseNormal(result=result, invoke_id_and_priority=self._iid)
        self._outbox.append(self._protect(reply.encode()))

    def respond_action(self, result: ActionResult, return_data: bytes | None = None) -> None:
        self._take_serving(ActionRequested)
        reply = ActionResponseNormal(result=result, return_parameters=return_data, invoke_id_and_priority=self._iid)
        self._outbox.append(self._protect(reply.encode()))

    # --- helpers ---------------------------------------------------------------------------------------

    def _take_serving(self, *kinds: type) -> object:
        serving = self._serving
        if serving is None or not isinstance(serving, kinds):
            raise ProtocolError(f"no pending {'/'.join(kind.__name__ for kind in kinds)} to answer")
        self._serving = None
        self.state = next_server_state(self.state, ServerInput.RESPOND)
        return serving

    def _response_budget(self) -> int:
        overhead = 0 if self._policy is None or self._policy.protection is None else 5 + 16 + 4
        return max(self.client_max_receive_pdu_size - overhead, MIN_MAX_PDU_SIZE // 2)

    def _guard(self) -> ReplayGuard:
        assert self.client_sap is not None
        return self.replay_guards.setdefault(self.client_sap, ReplayGuard())

    def _protect(self, apdu: bytes) -> bytes:
        policy = self._policy
        if policy is None or policy.protection is None:
            return apdu
        assert policy.keys is not None
        return protect(
            apdu,
            protection=Protection.GLOBAL,
            security_control=policy.protection,
            system_title=self.settings.system_title,
            invocation_counter=self.invocation_counter.take(),
            keys=policy.keys,
        )

    def _unprotect(self, apdu: bytes) -> bytes:
        policy = self._policy
        if policy is None or policy.protection is None:
            if is_protected(apdu):
                raise SecurityError("ciphered APDU on an association without ciphering")
            return apdu
        if not is_protected(apdu):
            raise SecurityError("unciphered APDU on a ciphered association")
        assert policy.keys is not None
        return unprotect(
            apdu,
            keys=policy.keys,
            peer_system_title=self.client_system_title,
            replay_guard=self._guard(),
            require_authentication=policy.protection.authenticated,
            require_encryption=policy.protection.encrypted,
        ).apdu


def _octet_string(value: object) -> bytes:
    if not isinstance(value, bytes):
        raise SecurityError("f(StoC) must be an octet-string")
    return value


def _exception(state: StateError, service: ExceptionServiceError) -> bytes:
    return ExceptionResponse(state_error=state, service_error=service).encode()
