"""Unsolicited APDUs: DataNotification [15] and EventNotificationRequest [194] (IEC 62056-5-3 clauses
9.3.10 and 9.3.11, Green Book 9.5 ASN.1).

``Data-Notification ::= SEQUENCE { long-invoke-id-and-priority Unsigned32, date-time OCTET STRING,
notification-body Data }``: the date-time is an OCTET STRING with its length, empty (length 0) when
absent, otherwise the 12-octet COSEM date-time.
``EventNotificationRequest ::= SEQUENCE { time OCTET STRING OPTIONAL, cosem-attribute-descriptor,
attribute-value Data }``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Self

from openprepaid.cosem.date_time import DATE_TIME_LENGTH, CosemDateTime
from openprepaid.cosem.errors import DecodeError, EncodeError
from openprepaid.cosem.xdlms_common import (
    CosemAttributeDescriptor,
    Reader,
    XdlmsApdu,
    check_data,
    check_u32,
)

DATA_NOTIFICATION: int = 0x0F
EVENT_NOTIFICATION_REQUEST: int = 0xC2


def _encode_date_time(value: CosemDateTime | None) -> bytes:
    if value is None:
        return b"\x00"
    if not isinstance(value, CosemDateTime):
        raise EncodeError(f"date-time must be a CosemDateTime, got {type(value).__name__}")
    return bytes((DATE_TIME_LENGTH,)) + value.to_bytes()


def _read_date_time(reader: Reader) -> CosemDateTime | None:
    start = reader.pos
    octets = reader.octet_string("date-time")
    if not octets:
        return None
    if len(octets) != DATE_TIME_LENGTH:
        raise DecodeError(f"date-time of {len(octets)} octets, expected 0 or {DATE_TIME_LENGTH}", start)
    try:
        return CosemDateTime.from_bytes(octets)
    except DecodeError as exc:
        raise DecodeError(str(exc), start + 1) from None


@dataclass(frozen=True, slots=True, kw_only=True)
class DataNotification(XdlmsApdu):
    """A push: ``body`` is the encoded notification Data (usually a structure of captured values)."""

    TAG: ClassVar[int] = DATA_NOTIFICATION
    long_invoke_id_and_priority: int
    body: bytes
    date_time: CosemDateTime | None = None

    def encode(self) -> bytes:
        return (
            bytes((DATA_NOTIFICATION,))
            + check_u32(self.long_invoke_id_and_priority, "long-invoke-id-and-priority")
            + _encode_date_time(self.date_time)
            + check_data(self.body, "notification-body")
        )

    @classmethod
    def read_body(cls, reader: Reader) -> Self:
        long_iid = reader.u32("long-invoke-id-and-priority")
        date_time = _read_date_time(reader)
        return cls(long_invoke_id_and_priority=long_iid, date_time=date_time, body=reader.rest_as_data())


@dataclass(frozen=True, slots=True, kw_only=True)
class EventNotificationRequest(XdlmsApdu):
    """An attribute value the server reports on its own (unconfirmed)."""

    TAG: ClassVar[int] = EVENT_NOTIFICATION_REQUEST
    attribute: CosemAttributeDescriptor
    value: bytes
    time: CosemDateTime | None = None

    def encode(self) -> bytes:
        time = b"\x00" if self.time is None else b"\x01" + _encode_date_time(self.time)
        return (
            bytes((EVENT_NOTIFICATION_REQUEST,))
            + time
            + self.attribute.encode()
            + check_data(self.value, "attribute-value")
        )

    @classmethod
    def read_body(cls, reader: Reader) -> Self:
        time = None
        if reader.optional("time"):
            time = _read_date_time(reader)
            if time is None:
                raise DecodeError("time present but empty", reader.pos - 1)
        attribute = CosemAttributeDescriptor.read(reader)
        return cls(time=time, attribute=attribute, value=reader.rest_as_data())
