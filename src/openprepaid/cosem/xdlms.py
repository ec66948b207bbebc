"""xDLMS APDUs with logical-name referencing (IEC 62056-5-3 clause 9, Green Book 9.5 ASN.1): one entry
point, ``decode_xdlms_apdu``, dispatching on the tag (and service choice) to the frozen dataclasses of
``xdlms_get``, ``xdlms_set``, ``xdlms_action``, ``xdlms_notification`` and ``xdlms_error``.

Every APDU class has ``encode() -> bytes`` and ``decode(data)``; embedded Data values are carried as
their A-XDR encoding (``bytes``) and decoded with ``openprepaid.cosem.axdr.decode_data``. Unknown tags
or choices, truncation and trailing octets raise ``DecodeError``. Ciphered (glo-/ded-) APDUs and the
ACSE belong to ``security`` and ``acse``.
"""

from __future__ import annotations

from typing import Final

from openprepaid.cosem.errors import DecodeError
from openprepaid.cosem.xdlms_action import (
    ACTION_REQUEST,
    ACTION_REQUEST_CHOICES,
    ACTION_RESPONSE,
    ACTION_RESPONSE_CHOICES,
    ActionRequest,
    ActionRequestNextPblock,
    ActionRequestNormal,
    ActionRequestWithFirstPblock,
    ActionRequestWithList,
    ActionRequestWithListAndFirstPblock,
    ActionRequestWithPblock,
    ActionResponse,
    ActionResponseNextPblock,
    ActionResponseNormal,
    ActionResponseWithList,
    ActionResponseWithOptionalData,
    ActionResponseWithPblock,
)
from openprepaid.cosem.xdlms_block import (
    ActionBlockSender,
    GetBlockAssembler,
    GetBlockSender,
    SetBlockReceiver,
    split_action_response,
    split_get_response,
    split_set_request,
)
from openprepaid.cosem.xdlms_common import (
    DEFAULT_INVOKE_ID_AND_PRIORITY,
    ActionResult,
    CosemAttributeDescriptor,
    CosemAttributeDescriptorWithSelection,
    CosemMethodDescriptor,
    DataAccessResult,
    Reader,
    SelectiveAccess,
    XdlmsApdu,
    invoke_id_and_priority,
    invoke_id_of,
    is_confirmed,
    is_high_priority,
    long_invoke_id_and_priority,
    long_invoke_id_of,
)
from openprepaid.cosem.xdlms_error import (
    CONFIRMED_SERVICE_ERROR,
    EXCEPTION_RESPONSE,
    ConfirmedService,
    ConfirmedServiceError,
    ExceptionResponse,
    ExceptionServiceError,
    InitiateError,
    ServiceErrorKind,
    StateError,
)
from openprepaid.cosem.xdlms_get import (
    GET_REQUEST,
    GET_REQUEST_CHOICES,
    GET_RESPONSE,
    GET_RESPONSE_CHOICES,
    GetDataResult,
    GetRequest,
    GetRequestNext,
    GetRequestNormal,
    GetRequestWithList,
    GetResponse,
    GetResponseNormal,
    GetResponseWithDatablock,
    GetResponseWithList,
)
from openprepaid.cosem.xdlms_notification import (
    DATA_NOTIFICATION,
    EVENT_NOTIFICATION_REQUEST,
    DataNotification,
    EventNotificationRequest,
)
from openprepaid.cosem.xdlms_selective import (
    CLOCK_TIME,
    CaptureObjectDefinition,
    EntryDescriptor,
    RangeDescriptor,
    profile_access,
)
from openprepaid.cosem.xdlms_set import (
    SET_REQUEST,
    SET_REQUEST_CHOICES,
    SET_RESPONSE,
    SET_RESPONSE_CHOICES,
    SetRequest,
    SetRequestNormal,
    SetRequestWithDatablock,
    SetRequestWithFirstDatablock,
    SetRequestWithList,
    SetRequestWithListAndFirstDatablock,
    SetResponse,
    SetResponseDatablock,
    SetResponseLastDatablock,
    SetResponseLastDatablockWithList,
    SetResponseNormal,
    SetResponseWithList,
)

XdlmsPdu = (
    GetRequest
    | GetResponse
    | SetRequest
    | SetResponse
    | ActionRequest
    | ActionResponse
    | DataNotification
    | EventNotificationRequest
    | ExceptionResponse
    | ConfirmedServiceError
)

_SERVICES: Final[dict[int, dict[int, type[XdlmsPdu]]]] = {
    GET_REQUEST: dict(GET_REQUEST_CHOICES),
    GET_RESPONSE: dict(GET_RESPONSE_CHOICES),
    SET_REQUEST: dict(SET_REQUEST_CHOICES),
    SET_RESPONSE: dict(SET_RESPONSE_CHOICES),
    ACTION_REQUEST: dict(ACTION_REQUEST_CHOICES),
    ACTION_RESPONSE: dict(ACTION_RESPONSE_CHOICES),
}
_SINGLES: Final[dict[int, type[XdlmsPdu]]] = {
    DATA_NOTIFICATION: DataNotification,
    EVENT_NOTIFICATION_REQUEST: EventNotificationRequest,
    EXCEPTION_RESPONSE: ExceptionResponse,
    CONFIRMED_SERVICE_ERROR: ConfirmedServiceError,
}
XDLMS_TAGS: Final = frozenset(_SERVICES) | frozenset(_SINGLES)


def decode_xdlms_apdu(data: bytes) -> XdlmsPdu:
    """The xDLMS APDU that ``data`` holds exactly."""
    reader = Reader(data)
    tag = reader.u8("APDU tag")
    choices = _SERVICES.get(tag)
    if choices is not None:
        choice = reader.u8("service choice")
        kind = choices.get(choice)
        if kind is None:
            raise DecodeError(f"APDU {tag:#04x} has no service choice {choice}", 1)
    else:
        single = _SINGLES.get(tag)
        if single is None:
            raise DecodeError(f"not an xDLMS APDU this codec handles: tag {tag:#04x}", 0)
        kind = single
    apdu = kind.read_body(reader)
    reader.done()
    return apdu


__all__ = [
    "CLOCK_TIME",
    "DEFAULT_INVOKE_ID_AND_PRIORITY",
    "XDLMS_TAGS",
    "ActionBlockSender",
    "ActionRequest",
    "ActionRequestNextPblock",
    "ActionRequestNormal",
    "ActionRequestWithFirstPblock",
    "ActionRequestWithList",
    "ActionRequestWithListAndFirstPblock",
    "ActionRequestWithPblock",
    "ActionResponse",
    "ActionResponseNextPblock",
    "ActionResponseNormal",
    "ActionResponseWithList",
    "ActionResponseWithOptionalData",
    "ActionResponseWithPblock",
    "ActionResult",
    "CaptureObjectDefinition",
    "ConfirmedService",
    "ConfirmedServiceError",
    "CosemAttributeDescriptor",
    "CosemAttributeDescriptorWithSelection",
    "CosemMethodDescriptor",
    "DataAccessResult",
    "DataNotification",
    "EntryDescriptor",
    "EventNotificationRequest",
    "ExceptionResponse",
    "ExceptionServiceError",
    "GetBlockAssembler",
    "GetBlockSender",
    "GetDataResult",
    "GetRequest",
    "GetRequestNext",
    "GetRequestNormal",
    "GetRequestWithList",
    "GetResponse",
    "GetResponseNormal",
    "GetResponseWithDatablock",
    "GetResponseWithList",
    "InitiateError",
    "RangeDescriptor",
    "SelectiveAccess",
    "ServiceErrorKind",
    "SetBlockReceiver",
    "SetRequest",
    "SetRequestNormal",
    "SetRequestWithDatablock",
    "SetRequestWithFirstDatablock",
    "SetRequestWithList",
    "SetRequestWithListAndFirstDatablock",
    "SetResponse",
    "SetResponseDatablock",
    "SetResponseLastDatablock",
    "SetResponseLastDatablockWithList",
    "SetResponseNormal",
    "SetResponseWithList",
    "StateError",
    "XdlmsApdu",
    "XdlmsPdu",
    "decode_xdlms_apdu",
    "invoke_id_and_priority",
    "invoke_id_of",
    "is_confirmed",
    "is_high_priority",
    "long_invoke_id_and_priority",
    "long_invoke_id_of",
    "profile_access",
    "split_action_response",
    "split_get_response",
    "split_set_request",
]
