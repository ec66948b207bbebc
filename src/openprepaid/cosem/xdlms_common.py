"""Building blocks shared by the xDLMS APDUs (IEC 62056-5-3 clause 9.5, Green Book 9.5 ASN.1).

Invoke-Id-And-Priority (one octet: bits 0-3 invoke-id, bit 6 service-class confirmed, bit 7 priority
high), Long-Invoke-Id-And-Priority (four octets, DataNotification), Cosem-Attribute-Descriptor,
Cosem-Method-Descriptor, Selective-Access-Descriptor, and the Data-Access-Result / Action-Result
enumerations. A-XDR rules used throughout: OPTIONAL is a presence octet 0/1, CHOICE is its tag octet,
SEQUENCE OF and OCTET STRING carry an A-XDR length, Unsigned16/32 are big-endian.

Embedded Data values are carried as their encoding (``bytes``): the APDU layer checks where a value
ends, ``axdr.decode_data`` decodes it (natives or typed) when the caller wants it.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from enum import IntEnum
from typing import Any, ClassVar, Final, Self

from openprepaid.cosem.axdr_length import decode_length, length_octets
from openprepaid.cosem.axdr_skip import data_end
from openprepaid.cosem.errors import DecodeError, EncodeError
from openprepaid.cosem.obis import OBIS, obis_unchecked

DEFAULT_INVOKE_ID_AND_PRIORITY: Final = 0xC1  # invoke-id 1, confirmed, high priority
_U16 = struct.Struct(">H")
_U32 = struct.Struct(">I")
_DESCRIPTOR = struct.Struct(">H6sb")


class _LenientEnum(IntEnum):
    """An octet enumeration that keeps codes the standard does not name (vendors use some)."""

    @classmethod
    def _missing_(cls, value: object) -> Any:
        if isinstance(value, int) and 0 <= value <= 0xFF:
            member = int.__new__(cls, value)
            member._name_ = f"CODE_{value}"
            member._value_ = value
            return member
        return None


class DataAccessResult(_LenientEnum):
    """Data-Access-Result (IEC 62056-5-3)."""

    SUCCESS = 0
    HARDWARE_FAULT = 1
    TEMPORARY_FAILURE = 2
    READ_WRITE_DENIED = 3
    OBJECT_UNDEFINED = 4
    OBJECT_CLASS_INCONSISTENT = 9
    OBJECT_UNAVAILABLE = 11
    TYPE_UNMATCHED = 12
    SCOPE_OF_ACCESS_VIOLATED = 13
    DATA_BLOCK_UNAVAILABLE = 14
    LONG_GET_ABORTED = 15
    NO_LONG_GET_IN_PROGRESS = 16
    LONG_SET_ABORTED = 17
    NO_LONG_SET_IN_PROGRESS = 18
    DATA_BLOCK_NUMBER_INVALID = 19
    OTHER_REASON = 250


class ActionResult(_LenientEnum):
    """Action-Result (IEC 62056-5-3)."""

    SUCCESS = 0
    HARDWARE_FAULT = 1
    TEMPORARY_FAILURE = 2
    READ_WRITE_DENIED = 3
    OBJECT_UNDEFINED = 4
    OBJECT_CLASS_INCONSISTENT = 9
    OBJECT_UNAVAILABLE = 11
    TYPE_UNMATCHED = 12
    SCOPE_OF_ACCESS_VIOLATED = 13
    DATA_BLOCK_UNAVAILABLE = 14
    LONG_ACTION_ABORTED = 15
    NO_LONG_ACTION_IN_PROGRESS = 16
    OTHER_REASON = 250


# --- Invoke-Id-And-Priority helpers ---------------------------------------------------------------


def invoke_id_and_priority(invoke_id: int, *, confirmed: bool = True, high_priority: bool = True) -> int:
    """The Invoke-Id-And-Priority octet."""
    if not 0 <= invoke_id <= 15:
        raise EncodeError(f"invoke-id must be 0..15, got {invoke_id}")
    return invoke_id | (0x40 if confirmed else 0) | (0x80 if high_priority else 0)


def invoke_id_of(octet: int) -> int:
    return octet & 0x0F


def is_confirmed(octet: int) -> bool:
    return bool(octet & 0x40)


def is_high_priority(octet: int) -> bool:
    return bool(octet & 0x80)


def long_invoke_id_and_priority(
    long_invoke_id: int,
    *,
    high_priority: bool = False,
    confirmed: bool = False,
    break_on_error: bool = False,
    self_descriptive: bool = False,
) -> int:
    """The Long-Invoke-Id-And-Priority (Unsigned32): bits 0-23 id, 28 self-descriptive, 29 break-on-error,
    30 confirmed, 31 high priority."""
    if not 0 <= long_invoke_id < 1 << 24:
        raise EncodeError(f"long-invoke-id must be 0..2**24-1, got {long_invoke_id}")
    return (
        long_invoke_id
        | (1 << 28 if self_descriptive else 0)
        | (1 << 29 if break_on_error else 0)
        | (1 << 30 if confirmed else 0)
        | (1 << 31 if high_priority else 0)
    )


def long_invoke_id_of(value: int) -> int:
    return value & 0xFFFFFF


# --- the cursor the decoders share -----------------------------------------------------------------


class Reader:
    """A bounds-checked cursor over one APDU: every read past the end is a ``DecodeError``."""

    __slots__ = ("buf", "end", "pos")

    def __init__(self, buf: bytes, pos: int = 0) -> None:
        self.buf = buf if type(buf) is bytes else bytes(buf)
        self.pos = pos
        self.end = len(self.buf)

    def claim(self, count: int, what: str) -> int:
        """Advance over ``count`` octets and return where they start."""
        pos = self.pos
        if pos + count > self.end:
            raise DecodeError(f"truncated APDU: {what} missing", pos)
        self.pos = pos + count
        return pos

    def u8(self, what: str = "octet") -> int:
        return self.buf[self.claim(1, what)]

    def u16(self, what: str = "Unsigned16") -> int:
        value: int = _U16.unpack_from(self.buf, self.claim(2, what))[0]
        return value

    def u32(self, what: str = "Unsigned32") -> int:
        value: int = _U32.unpack_from(self.buf, self.claim(4, what))[0]
        return value

    def boolean(self) -> bool:
        return self.u8("BOOLEAN") != 0

    def optional(self, what: str) -> bool:
        flag = self.u8(what)
        if flag > 1:
            raise DecodeError(f"OPTIONAL {what}: presence octet {flag}, expected 0 or 1", self.pos - 1)
        return flag == 1

    def take(self, count: int, what: str) -> bytes:
        pos = self.claim(count, what)
        return self.buf[pos : pos + count]

    def length(self, what: str) -> int:
        count, self.pos = decode_length(self.buf, self.pos, self.end)
        if count > self.end - self.pos:
            raise DecodeError(f"{what}: {count} announced, {self.end - self.pos} octets left", self.pos)
        return count

    def octet_string(self, what: str) -> bytes:
        return self.take(self.length(what), what)

    def data(self) -> bytes:
        """One whole A-XDR Data value (its framing checked), as its encoding."""
        start = self.pos
        self.pos = data_end(self.buf, start, self.end)
        return self.buf[start : self.pos]

    def rest_as_data(self) -> bytes:
        """The remaining octets, which must be exactly one Data value (kept as its encoding)."""
        data = self.data()
        if self.pos != self.end:
            raise DecodeError(f"{self.end - self.pos} trailing octets after the Data value", self.pos)
        return data

    def done(self) -> None:
        if self.pos != self.end:
            raise DecodeError(f"{self.end - self.pos} trailing octets after the APDU", self.pos)


# --- descriptors -----------------------------------------------------------------------------------


def _pack_descriptor(class_id: int, instance_id: OBIS, member_id: int, what: str) -> bytes:
    try:
        return _DESCRIPTOR.pack(class_id, instance_id, member_id)
    except struct.error as exc:
        raise EncodeError(f"bad {what} descriptor ({class_id}, {instance_id!r}, {member_id}): {exc}") from None


def _read_descriptor(reader: Reader) -> tuple[int, OBIS, int]:
    class_id, instance_id, member_id = _DESCRIPTOR.unpack_from(reader.buf, reader.claim(9, "descriptor"))
    return class_id, obis_unchecked(instance_id), member_id


@dataclass(frozen=True, slots=True)
class CosemAttributeDescriptor:
    """class-id (Unsigned16), instance-id (the OBIS code), attribute-id (Integer8)."""

    class_id: int
    instance_id: OBIS
    attribute_id: int

    def encode(self) -> bytes:
        return _pack_descriptor(self.class_id, self.instance_id, self.attribute_id, "attribute")

    @classmethod
    def read(cls, reader: Reader) -> Self:
        return cls(*_read_descriptor(reader))


@dataclass(frozen=True, slots=True)
class CosemMethodDescriptor:
    """class-id (Unsigned16), instance-id (the OBIS code), method-id (Integer8)."""

    class_id: int
    instance_id: OBIS
    method_id: int

    def encode(self) -> bytes:
        return _pack_descriptor(self.class_id, self.instance_id, self.method_id, "method")

    @classmethod
    def read(cls, reader: Reader) -> Self:
        return cls(*_read_descriptor(reader))


@dataclass(frozen=True, slots=True)
class SelectiveAccess:
    """Selective-Access-Descriptor: access-selector (Unsigned8) and access-parameters (encoded Data)."""

    selector: int
    parameters: bytes

    def encode(self) -> bytes:
        if not 0 <= self.selector <= 0xFF:
            raise EncodeError(f"access-selector must be 0..255, got {self.selector}")
        if not self.parameters:
            raise EncodeError("access-parameters must be an encoded Data value")
        return bytes((self.selector,)) + self.parameters

    @classmethod
    def read(cls, reader: Reader) -> Self:
        return cls(reader.u8("access-selector"), reader.data())


def encode_optional_access(access: SelectiveAccess | None) -> bytes:
    return b"\x00" if access is None else b"\x01" + access.encode()


def read_optional_access(reader: Reader) -> SelectiveAccess | None:
    return SelectiveAccess.read(reader) if reader.optional("access-selection") else None


@dataclass(frozen=True, slots=True)
class CosemAttributeDescriptorWithSelection:
    """An attribute and its optional selective access (the element of the with-list requests)."""

    attribute: CosemAttributeDescriptor
    access: SelectiveAccess | None = None

    def encode(self) -> bytes:
        return self.attribute.encode() + encode_optional_access(self.access)

    @classmethod
    def read(cls, reader: Reader) -> Self:
        return cls(CosemAttributeDescriptor.read(reader), read_optional_access(reader))


def check_u32(value: int, what: str) -> bytes:
    if not 0 <= value <= 0xFFFFFFFF:
        raise EncodeError(f"{what} must be an Unsigned32, got {value}")
    return _U32.pack(value)


def check_iid(value: int) -> int:
    if not 0 <= value <= 0xFF:
        raise EncodeError(f"invoke-id-and-priority must be one octet, got {value}")
    return value


def check_data(value: bytes, what: str) -> bytes:
    if type(value) is not bytes or not value:
        raise EncodeError(f"{what} must be an encoded Data value (bytes), got {value!r}")
    return value


def sequence_of(items: list[bytes] | tuple[bytes, ...]) -> bytes:
    return length_octets(len(items)) + b"".join(items)


def encode_datablock_sa(last_block: bool, block_number: int, raw_data: bytes) -> bytes:
    """DataBlock-SA ::= SEQUENCE { last-block BOOLEAN, block-number Unsigned32, raw-data OCTET STRING }."""
    if type(raw_data) is not bytes:
        raise EncodeError(f"raw-data must be bytes, got {type(raw_data).__name__}")
    return (
        (b"\x01" if last_block else b"\x00")
        + check_u32(block_number, "block-number")
        + length_octets(len(raw_data))
        + raw_data
    )


def read_datablock_sa(reader: Reader) -> tuple[bool, int, bytes]:
    return reader.boolean(), reader.u32("block-number"), reader.octet_string("raw-data")


class XdlmsApdu:
    """Base of the APDU dataclasses: ``TAG`` (and ``CHOICE`` for the service variants) and ``decode``."""

    __slots__ = ()
    TAG: ClassVar[int]
    CHOICE: ClassVar[int | None] = None

    def encode(self) -> bytes:
        raise NotImplementedError

    @classmethod
    def read_body(cls, reader: Reader) -> Self:
        """The fields after the tag (and choice) octets."""
        raise NotImplementedError

    @classmethod
    def decode(cls, data: bytes) -> Self:
        """This exact APDU, the whole of ``data``."""
        reader = Reader(data)
        tag = reader.u8("APDU tag")
        if tag != cls.TAG:
            raise DecodeError(f"{cls.__name__} has tag {cls.TAG:#04x}, got {tag:#04x}", 0)
        if cls.CHOICE is not None:
            choice = reader.u8("service choice")
            if choice != cls.CHOICE:
                raise DecodeError(f"{cls.__name__} is choice {cls.CHOICE}, got {choice}", 1)
        apdu = cls.read_body(reader)
        reader.done()
        return apdu


def enum_octet(value: int, what: str) -> bytes:
    """An enumeration value as its octet (unknown codes allowed, as the decoder keeps them)."""
    if not isinstance(value, int) or not 0 <= value <= 0xFF:
        raise EncodeError(f"{what} must be an octet enumeration value, got {value!r}")
    return bytes((value,))


def apdu_head(tag: int, choice: int | None, invoke_id_and_priority: int) -> bytes:
    """Tag, service choice and Invoke-Id-And-Priority: the first three octets of a service APDU."""
    if choice is None:
        raise EncodeError(f"APDU {tag:#04x} needs a service choice")
    return bytes((tag, choice, check_iid(invoke_id_and_priority)))


@dataclass(frozen=True, slots=True, kw_only=True)
class BlockNumberApdu(XdlmsApdu):
    """The shape of the APDUs that carry only a block number (GET-Request-Next, SET-Response-Datablock,
    ACTION-Request-Next-Pblock, ACTION-Response-Next-Pblock); subclasses set ``TAG`` and ``CHOICE``."""

    block_number: int
    invoke_id_and_priority: int = DEFAULT_INVOKE_ID_AND_PRIORITY

    def encode(self) -> bytes:
        return apdu_head(self.TAG, self.CHOICE, self.invoke_id_and_priority) + check_u32(
            self.block_number, "block-number"
        )

    @classmethod
    def read_body(cls, reader: Reader) -> Self:
        iid = reader.u8("invoke-id-and-priority")
        return cls(block_number=reader.u32("block-number"), invoke_id_and_priority=iid)


@dataclass(frozen=True, slots=True, kw_only=True)
class DatablockApdu(XdlmsApdu):
    """The shape of the APDUs that end with a DataBlock-SA (last-block, block-number, raw-data), after
    fields of their own that ``encode_prefix``/``read_prefix`` handle (none by default: SET-Request-
    With-Datablock, ACTION-Request-With-Pblock, ACTION-Response-With-Pblock). Subclasses set ``TAG``
    and ``CHOICE``."""

    last_block: bool
    block_number: int
    raw_data: bytes
    invoke_id_and_priority: int = DEFAULT_INVOKE_ID_AND_PRIORITY

    def encode_prefix(self) -> bytes:
        return b""

    @classmethod
    def read_prefix(cls, reader: Reader) -> dict[str, Any]:
        return {}

    def encode(self) -> bytes:
        return (
            apdu_head(self.TAG, self.CHOICE, self.invoke_id_and_priority)
            + self.encode_prefix()
            + encode_datablock_sa(self.last_block, self.block_number, self.raw_data)
        )

    @classmethod
    def read_body(cls, reader: Reader) -> Self:
        iid = reader.u8("invoke-id-and-priority")
        prefix = cls.read_prefix(reader)
        last_block, block_number, raw_data = read_datablock_sa(reader)
        return cls(
            **prefix, last_block=last_block, block_number=block_number, raw_data=raw_data, invoke_id_and_priority=iid
        )
