"""What the association state machines report, and how each side is configured (IEC 62056-5-3 clause 9.3).

The same frozen event types serve both roles: a client (the HES) gets ``AssociationAccepted``,
``GetResult``, ``SetResult``, ``ActionOutcome`` ...; a server (a simulated meter) gets
``AssociationEstablished``, ``GetRequested``, ``SetRequested``, ``ActionRequested`` ... and answers
with the association's ``respond_*`` methods. Encoded Data travels as ``bytes`` (decode it with
``openprepaid.cosem.axdr.decode_data``); an access error as a ``DataAccessResult``.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field

from openprepaid.cosem.acse import AcseServiceProviderDiagnostic, AcseServiceUserDiagnostic, AssociationResult
from openprepaid.cosem.acse_initiate import Conformance
from openprepaid.cosem.obis import OBIS
from openprepaid.cosem.security import SecurityControl, SecurityKeys
from openprepaid.cosem.security_apdu import Protection
from openprepaid.cosem.xdlms_common import (
    ActionResult,
    CosemAttributeDescriptor,
    CosemAttributeDescriptorWithSelection,
    CosemMethodDescriptor,
    DataAccessResult,
    SelectiveAccess,
)
from openprepaid.cosem.xdlms_error import ConfirmedServiceError, ExceptionServiceError, StateError
from openprepaid.cosem.xdlms_notification import DataNotification, EventNotificationRequest

ASSOCIATION_LN_CLASS = 15
CURRENT_ASSOCIATION = OBIS.parse("0.0.40.0.0.255")
REPLY_TO_HLS_AUTHENTICATION = 1
HLS_METHOD = CosemMethodDescriptor(ASSOCIATION_LN_CLASS, CURRENT_ASSOCIATION, REPLY_TO_HLS_AUTHENTICATION)

# What a client proposes by default: LN services a head-end uses, with block transfer and lists.
DEFAULT_CONFORMANCE = (
    Conformance.GET
    | Conformance.SET
    | Conformance.ACTION
    | Conformance.SELECTIVE_ACCESS
    | Conformance.BLOCK_TRANSFER_WITH_GET_OR_READ
    | Conformance.BLOCK_TRANSFER_WITH_SET_OR_WRITE
    | Conformance.BLOCK_TRANSFER_WITH_ACTION
    | Conformance.MULTIPLE_REFERENCES
    | Conformance.DATA_NOTIFICATION
    | Conformance.EVENT_NOTIFICATION
    | Conformance.PRIORITY_MGMT_SUPPORTED
)
METER_CONFORMANCE = DEFAULT_CONFORMANCE | Conformance.GENERAL_PROTECTION
"""What a meter offers by default: those services, and general-glo / general-ded ciphering on a ciphered
association (IEC 62056-5-3: the general-protection bit)."""
DEFAULT_MAX_PDU_SIZE = 0xFFFF
MIN_MAX_PDU_SIZE = 64


class Authentication(enum.Enum):
    """The three IS 15959 associations: public (16), meter reader LLS (32), utility HLS-GMAC (48)."""

    NONE = "none"
    LOW = "lls"
    HLS_GMAC = "hls-gmac"


@dataclass(frozen=True, slots=True, kw_only=True)
class ClientSettings:
    """One client's association parameters. ``protection`` None means no ciphering of xDLMS APDUs.

    With ciphering, ``ciphering`` is the envelope of the requests (IEC 62056-5-3 9.2.7.2.4):
    service-specific glo- (the default, what IS 15959 meters expect) or ded-, general-glo or
    general-ded (the general forms need the general-protection conformance bit, which the client then
    proposes). The dedicated forms need ``dedicated_key``, sent to the meter inside the ciphered
    InitiateRequest of the AARQ and valid for this association only.
    """

    authentication: Authentication = Authentication.NONE
    password: bytes | None = field(default=None, repr=False)
    system_title: bytes | None = None
    keys: SecurityKeys | None = None
    protection: SecurityControl | None = None
    conformance: Conformance = DEFAULT_CONFORMANCE
    max_receive_pdu_size: int = DEFAULT_MAX_PDU_SIZE
    ciphering: Protection = Protection.GLOBAL
    dedicated_key: bytes | None = field(default=None, repr=False)


@dataclass(frozen=True, slots=True, kw_only=True)
class ClientPolicy:
    """How a server admits one client SAP: its mechanism, secret, the protection it demands and the
    conformance it offers (general-protection counts only where ``protection`` ciphers)."""

    authentication: Authentication
    password: bytes | None = field(default=None, repr=False)
    keys: SecurityKeys | None = None
    protection: SecurityControl | None = None
    conformance: Conformance = METER_CONFORMANCE


@dataclass(frozen=True, slots=True, kw_only=True)
class ServerSettings:
    system_title: bytes
    policies: Mapping[int, ClientPolicy]
    max_receive_pdu_size: int = DEFAULT_MAX_PDU_SIZE


# --- client-side events -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class AssociationAccepted:
    conformance: Conformance
    server_max_receive_pdu_size: int
    server_system_title: bytes | None


@dataclass(frozen=True, slots=True)
class AssociationRejected:
    result: AssociationResult
    diagnostic: AcseServiceUserDiagnostic | AcseServiceProviderDiagnostic
    initiate_error: int | None = None


@dataclass(frozen=True, slots=True)
class GetResult:
    invoke_id: int
    result: bytes | DataAccessResult


@dataclass(frozen=True, slots=True)
class GetListResult:
    invoke_id: int
    results: tuple[bytes | DataAccessResult, ...]


@dataclass(frozen=True, slots=True)
class SetResult:
    invoke_id: int
    results: tuple[DataAccessResult, ...]


@dataclass(frozen=True, slots=True)
class ActionOutcome:
    invoke_id: int
    result: ActionResult
    return_data: bytes | DataAccessResult | None = None


@dataclass(frozen=True, slots=True)
class ExceptionReceived:
    state_error: StateError
    service_error: ExceptionServiceError


@dataclass(frozen=True, slots=True)
class ServiceErrorReceived:
    error: ConfirmedServiceError


@dataclass(frozen=True, slots=True)
class Released:
    pass


@dataclass(frozen=True, slots=True)
class NotificationReceived:
    notification: DataNotification | EventNotificationRequest
    system_title: bytes | None = None


# --- server-side events -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class AssociationEstablished:
    client_sap: int
    authentication: Authentication
    client_system_title: bytes | None


@dataclass(frozen=True, slots=True)
class AssociationRefused:
    client_sap: int
    reason: str


@dataclass(frozen=True, slots=True)
class GetRequested:
    invoke_id: int
    attribute: CosemAttributeDescriptor
    access: SelectiveAccess | None


@dataclass(frozen=True, slots=True)
class GetListRequested:
    invoke_id: int
    items: tuple[CosemAttributeDescriptorWithSelection, ...]


@dataclass(frozen=True, slots=True)
class SetRequested:
    invoke_id: int
    attribute: CosemAttributeDescriptor
    access: SelectiveAccess | None
    value: bytes


@dataclass(frozen=True, slots=True)
class SetListRequested:
    invoke_id: int
    items: tuple[CosemAttributeDescriptorWithSelection, ...]
    values: tuple[bytes, ...]


@dataclass(frozen=True, slots=True)
class ActionRequested:
    invoke_id: int
    method: CosemMethodDescriptor
    parameters: bytes | None


@dataclass(frozen=True, slots=True)
class RequestRefused:
    """A request the server answered by itself (exception / error): nothing for the application to do."""

    reason: str


ClientEvent = (
    AssociationAccepted
    | AssociationRejected
    | GetResult
    | GetListResult
    | SetResult
    | ActionOutcome
    | ExceptionReceived
    | ServiceErrorReceived
    | Released
    | NotificationReceived
)
ServerEvent = (
    AssociationEstablished
    | AssociationRefused
    | GetRequested
    | GetListRequested
    | SetRequested
    | SetListRequested
    | ActionRequested
    | RequestRefused
    | Released
)
