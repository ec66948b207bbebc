"""GET service APDUs, logical-name referencing (IEC 62056-5-3 clause 9.3.7, Green Book 9.5 ASN.1).

``Get-Request [192]``: normal [1], next [2], with-list [3]; ``Get-Response [196]``: normal [1],
with-datablock [2], with-list [3]. ``Get-Data-Result ::= CHOICE { data [0] Data,
data-access-result [1] Data-Access-Result }`` is ``bytes`` (the encoded Data) or a
``DataAccessResult``. ``DataBlock-G`` carries raw-data (an OCTET STRING slice of the encoded
result) or a Data-Access-Result.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Self

from openprepaid.cosem.axdr_length import length_octets
from openprepaid.cosem.errors import DecodeError, EncodeError
from openprepaid.cosem.xdlms_common import (
    DEFAULT_INVOKE_ID_AND_PRIORITY,
    BlockNumberApdu,
    CosemAttributeDescriptor,
    CosemAttributeDescriptorWithSelection,
    DataAccessResult,
    Reader,
    SelectiveAccess,
    XdlmsApdu,
    check_data,
    check_iid,
    check_u32,
    encode_optional_access,
    read_optional_access,
    sequence_of,
)

GET_REQUEST: int = 0xC0
GET_RESPONSE: int = 0xC4

GetDataResult = bytes | DataAccessResult


def encode_get_data_result(result: GetDataResult) -> bytes:
    if isinstance(result, DataAccessResult):
        return bytes((1, result))
    return b"\x00" + check_data(result, "Get-Data-Result data")


def read_get_data_result(reader: Reader, *, last: bool) -> GetDataResult:
    choice = reader.u8("Get-Data-Result choice")
    if choice == 0:
        return reader.rest_as_data() if last else reader.data()
    if choice == 1:
        return DataAccessResult(reader.u8("data-access-result"))
    raise DecodeError(f"Get-Data-Result choice {choice}, expected 0 or 1", reader.pos - 1)


def encode_get_data_results(results: tuple[GetDataResult, ...] | list[GetDataResult]) -> bytes:
    """SEQUENCE OF Get-Data-Result: the body of a GET-Response-With-List, and the raw data its
    datablocks carry when the list is sent by block transfer (IEC 62056-5-3 9.3.6)."""
    return sequence_of([encode_get_data_result(result) for result in results])


def decode_get_data_results(raw: bytes) -> tuple[GetDataResult, ...]:
    """The inverse of ``encode_get_data_results`` (a reassembled block-transferred list result)."""
    reader = Reader(raw)
    count = reader.length("result list")
    results = tuple(read_get_data_result(reader, last=False) for _ in range(count))
    reader.done()
    return results


@dataclass(frozen=True, slots=True, kw_only=True)
class GetRequestNormal(XdlmsApdu):
    TAG: ClassVar[int] = GET_REQUEST
    CHOICE: ClassVar[int | None] = 1
    attribute: CosemAttributeDescriptor
    access: SelectiveAccess | None = None
    invoke_id_and_priority: int = DEFAULT_INVOKE_ID_AND_PRIORITY

    def encode(self) -> bytes:
        return (
            bytes((GET_REQUEST, 1, check_iid(self.invoke_id_and_priority)))
            + self.attribute.encode()
            + encode_optional_access(self.access)
        )

    @classmethod
    def read_body(cls, reader: Reader) -> Self:
        iid = reader.u8("invoke-id-and-priority")
        return cls(
            attribute=CosemAttributeDescriptor.read(reader),
            access=read_optional_access(reader),
            invoke_id_and_priority=iid,
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class GetRequestNext(BlockNumberApdu):
    """The client asks for the block after ``block_number`` (the last one it received)."""

    TAG: ClassVar[int] = GET_REQUEST
    CHOICE: ClassVar[int | None] = 2


@dataclass(frozen=True, slots=True, kw_only=True)
class GetRequestWithList(XdlmsApdu):
    TAG: ClassVar[int] = GET_REQUEST
    CHOICE: ClassVar[int | None] = 3
    attributes: tuple[CosemAttributeDescriptorWithSelection, ...]
    invoke_id_and_priority: int = DEFAULT_INVOKE_ID_AND_PRIORITY

    def encode(self) -> bytes:
        return bytes((GET_REQUEST, 3, check_iid(self.invoke_id_and_priority))) + sequence_of(
            [item.encode() for item in self.attributes]
        )

    @classmethod
    def read_body(cls, reader: Reader) -> Self:
        iid = reader.u8("invoke-id-and-priority")
        count = reader.length("attribute-descriptor-list")
        items = tuple(CosemAttributeDescriptorWithSelection.read(reader) for _ in range(count))
        return cls(attributes=items, invoke_id_and_priority=iid)


@dataclass(frozen=True, slots=True, kw_only=True)
class GetResponseNormal(XdlmsApdu):
    TAG: ClassVar[int] = GET_RESPONSE
    CHOICE: ClassVar[int | None] = 1
    result: GetDataResult
    invoke_id_and_priority: int = DEFAULT_INVOKE_ID_AND_PRIORITY

    def encode(self) -> bytes:
        return bytes((GET_RESPONSE, 1, check_iid(self.invoke_id_and_priority))) + encode_get_data_result(self.result)

    @classmethod
    def read_body(cls, reader: Reader) -> Self:
        iid = reader.u8("invoke-id-and-priority")
        return cls(result=read_get_data_result(reader, last=True), invoke_id_and_priority=iid)


@dataclass(frozen=True, slots=True, kw_only=True)
class GetResponseWithDatablock(XdlmsApdu):
    """One block of a long GET result: ``raw_data`` is a slice of the encoded Data, or an error."""

    TAG: ClassVar[int] = GET_RESPONSE
    CHOICE: ClassVar[int | None] = 2
    last_block: bool
    block_number: int
    raw_data: bytes | DataAccessResult
    invoke_id_and_priority: int = DEFAULT_INVOKE_ID_AND_PRIORITY

    def encode(self) -> bytes:
        head = bytes((GET_RESPONSE, 2, check_iid(self.invoke_id_and_priority), 1 if self.last_block else 0))
        head += check_u32(self.block_number, "block-number")
        if isinstance(self.raw_data, DataAccessResult):
            return head + bytes((1, self.raw_data))
        if type(self.raw_data) is not bytes:
            raise EncodeError(f"raw-data must be bytes, got {type(self.raw_data).__name__}")
        return head + b"\x00" + length_octets(len(self.raw_data)) + self.raw_data

    @classmethod
    def read_body(cls, reader: Reader) -> Self:
        iid = reader.u8("invoke-id-and-priority")
        last_block = reader.boolean()
        block_number = reader.u32("block-number")
        choice = reader.u8("DataBlock-G result choice")
        raw_data: bytes | DataAccessResult
        if choice == 0:
            raw_data = reader.octet_string("raw-data")
        elif choice == 1:
            raw_data = DataAccessResult(reader.u8("data-access-result"))
        else:
            raise DecodeError(f"DataBlock-G result choice {choice}, expected 0 or 1", reader.pos - 1)
        return cls(last_block=last_block, block_number=block_number, raw_data=raw_data, invoke_id_and_priority=iid)


@dataclass(frozen=True, slots=True, kw_only=True)
class GetResponseWithList(XdlmsApdu):
    TAG: ClassVar[int] = GET_RESPONSE
    CHOICE: ClassVar[int | None] = 3
    results: tuple[GetDataResult, ...]
    invoke_id_and_priority: int = DEFAULT_INVOKE_ID_AND_PRIORITY

    def encode(self) -> bytes:
        return bytes((GET_RESPONSE, 3, check_iid(self.invoke_id_and_priority))) + encode_get_data_results(self.results)

    @classmethod
    def read_body(cls, reader: Reader) -> Self:
        iid = reader.u8("invoke-id-and-priority")
        count = reader.length("result list")
        results = tuple(read_get_data_result(reader, last=False) for _ in range(count))
        return cls(results=results, invoke_id_and_priority=iid)


GetRequest = GetRequestNormal | GetRequestNext | GetRequestWithList
GetResponse = GetResponseNormal | GetResponseWithDatablock | GetResponseWithList
GET_REQUEST_CHOICES: dict[int, type[GetRequest]] = {1: GetRequestNormal, 2: GetRequestNext, 3: GetRequestWithList}
GET_RESPONSE_CHOICES: dict[int, type[GetResponse]] = {
    1: GetResponseNormal,
    2: GetResponseWithDatablock,
    3: GetResponseWithList,
}
