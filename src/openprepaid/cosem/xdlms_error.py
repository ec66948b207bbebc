"""Error APDUs: ExceptionResponse [216] and Confirmed-Service-Error [14] (IEC 62056-5-3 clause 9.5,
Green Book 9.5 ASN.1).

``ExceptionResponse ::= SEQUENCE { state-error [0] ENUMERATED, service-error [1] CHOICE }``, where
the invocation-counter-error choice (6) carries the server's Unsigned32 counter.
``Confirmed-Service-Error ::= CHOICE`` of the refused service (initiateError [1], read [5], write [6],
...) holding a ``ServiceError ::= CHOICE`` (application-reference [0] ... other [10]) of an
ENUMERATED value; the value's meaning depends on the ServiceError choice, so it is kept as an int
(an :class:`InitiateError` for the initiate choice when it names one).

:class:`ConfirmedServiceError` is the one type for both places it travels: as an xDLMS APDU, and in
the AARE user-information of a refused association (``acse_initiate`` re-exports it).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum
from typing import ClassVar, Self, TypeVar

from openprepaid.cosem.errors import DecodeError, EncodeError
from openprepaid.cosem.xdlms_common import Reader, XdlmsApdu, check_u32, enum_octet

EXCEPTION_RESPONSE: int = 0xD8
CONFIRMED_SERVICE_ERROR: int = 0x0E


class StateError(IntEnum):
    SERVICE_NOT_ALLOWED = 1
    SERVICE_UNKNOWN = 2


class ExceptionServiceError(IntEnum):
    OPERATION_NOT_POSSIBLE = 1
    SERVICE_NOT_SUPPORTED = 2
    OTHER_REASON = 3
    PDU_TOO_LONG = 4
    DECIPHERING_ERROR = 5
    INVOCATION_COUNTER_ERROR = 6


class ConfirmedService(IntEnum):
    """The service a Confirmed-Service-Error refers to."""

    INITIATE_ERROR = 1
    GET_STATUS = 2
    GET_NAME_LIST = 3
    GET_VARIABLE_ATTRIBUTE = 4
    READ = 5
    WRITE = 6
    GET_DATA_SET_ATTRIBUTE = 7
    GET_TI_ATTRIBUTE = 8
    CHANGE_SCOPE = 9
    START = 10
    STOP = 11
    RESUME = 12
    MAKE_USABLE = 13
    INITIATE_LOAD = 14
    LOAD_SEGMENT = 15
    TERMINATE_LOAD = 16
    INITIATE_UPLOAD = 17
    UPLOAD_SEGMENT = 18
    TERMINATE_UPLOAD = 19


class ServiceErrorKind(IntEnum):
    """The ServiceError CHOICE."""

    APPLICATION_REFERENCE = 0
    HARDWARE_RESOURCE = 1
    VDE_STATE_ERROR = 2
    SERVICE = 3
    DEFINITION = 4
    ACCESS = 5
    INITIATE = 6
    LOAD_DATA_SET = 7
    CHANGE_SCOPE = 8
    TASK = 9
    OTHER = 10


class InitiateError(IntEnum):
    """The values of ServiceError ``initiate`` (the usual answer to a refused AARQ)."""

    OTHER = 0
    DLMS_VERSION_TOO_LOW = 1
    INCOMPATIBLE_CONFORMANCE = 2
    PDU_SIZE_TOO_SHORT = 3
    REFUSED_BY_THE_VDE_HANDLER = 4


_E = TypeVar("_E", bound=IntEnum)


def _enum(kind: type[_E], code: int, where: int) -> _E:
    try:
        return kind(code)
    except ValueError:
        raise DecodeError(f"{kind.__name__} has no value {code}", where) from None


@dataclass(frozen=True, slots=True, kw_only=True)
class ExceptionResponse(XdlmsApdu):
    TAG: ClassVar[int] = EXCEPTION_RESPONSE
    state_error: StateError
    service_error: ExceptionServiceError
    invocation_counter: int | None = None

    def encode(self) -> bytes:
        head = bytes((EXCEPTION_RESPONSE,)) + enum_octet(self.state_error, "state-error")
        head += enum_octet(self.service_error, "service-error")
        if self.service_error == ExceptionServiceError.INVOCATION_COUNTER_ERROR:
            if self.invocation_counter is None:
                raise EncodeError("invocation-counter-error carries the invocation counter")
            return head + check_u32(self.invocation_counter, "invocation counter")
        if self.invocation_counter is not None:
            raise EncodeError("only invocation-counter-error carries an invocation counter")
        return head

    @classmethod
    def read_body(cls, reader: Reader) -> Self:
        state = _enum(StateError, reader.u8("state-error"), reader.pos - 1)
        service = _enum(ExceptionServiceError, reader.u8("service-error"), reader.pos - 1)
        counter = None
        if service == ExceptionServiceError.INVOCATION_COUNTER_ERROR:
            counter = reader.u32("invocation counter")
        return cls(state_error=state, service_error=service, invocation_counter=counter)


@dataclass(frozen=True, slots=True, init=False)
class ConfirmedServiceError(XdlmsApdu):
    """Confirmed-Service-Error [14]: ``service`` (the refused service's alternative), ``error_kind``
    (the ServiceError alternative) and ``error_value`` (its ENUMERATED value).

    The defaults are the AARE's answer to a refused InitiateRequest (initiateError, initiate), so
    ``ConfirmedServiceError(value=InitiateError.DLMS_VERSION_TOO_LOW)`` is the usual one; ``value``
    is accepted for ``error_value`` (and readable as a property) because the ACSE code spells it so.
    """

    TAG: ClassVar[int] = CONFIRMED_SERVICE_ERROR
    service: ConfirmedService | int
    error_kind: ServiceErrorKind | int
    error_value: int

    def __init__(
        self,
        *,
        service: ConfirmedService | int = ConfirmedService.INITIATE_ERROR,
        error_kind: ServiceErrorKind | int = ServiceErrorKind.INITIATE,
        error_value: int | None = None,
        value: int | None = None,
    ) -> None:
        if (error_value is None) == (value is None):
            raise TypeError("ConfirmedServiceError takes its value once: error_value= (or value=)")
        object.__setattr__(self, "service", service)
        object.__setattr__(self, "error_kind", error_kind)
        object.__setattr__(self, "error_value", error_value if error_value is not None else value)

    @property
    def value(self) -> int:
        """The ServiceError's ENUMERATED value (``error_value``)."""
        return self.error_value

    def encode(self) -> bytes:
        if self.service not in ConfirmedService.__members__.values():
            raise EncodeError(f"Confirmed-Service-Error alternative {self.service} is not defined")
        if self.error_kind not in ServiceErrorKind.__members__.values():
            raise EncodeError(f"ServiceError alternative {self.error_kind} is not defined")
        return (
            bytes((CONFIRMED_SERVICE_ERROR,))
            + enum_octet(self.service, "service")
            + enum_octet(self.error_kind, "service-error choice")
            + enum_octet(self.error_value, "service-error value")
        )

    @classmethod
    def read_body(cls, reader: Reader) -> Self:
        at = reader.pos
        try:
            service = ConfirmedService(reader.u8("service"))
        except ValueError:
            raise DecodeError(f"Confirmed-Service-Error alternative {reader.buf[at]} is not defined", at) from None
        at = reader.pos
        try:
            kind = ServiceErrorKind(reader.u8("service-error choice"))
        except ValueError:
            raise DecodeError(f"ServiceError alternative {reader.buf[at]} is not defined", at) from None
        value = reader.u8("service-error value")
        if kind is ServiceErrorKind.INITIATE and value in InitiateError.__members__.values():
            value = InitiateError(value)
        return cls(service=service, error_kind=kind, error_value=value)
