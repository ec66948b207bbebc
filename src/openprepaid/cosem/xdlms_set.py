"""SET service APDUs, logical-name referencing (IEC 62056-5-3 clause 9.3.8, Green Book 9.5 ASN.1).

``Set-Request [193]``: normal [1], with-first-datablock [2], with-datablock [3], with-list [4],
with-list-and-first-datablock [5]. ``Set-Response [197]``: normal [1], datablock [2],
last-datablock [3], last-datablock-with-list [4], with-list [5]. Values are encoded Data
(``bytes``); blocks are ``DataBlock-SA`` (last-block, block-number, raw-data).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar, Self

from openprepaid.cosem.xdlms_common import (
    DEFAULT_INVOKE_ID_AND_PRIORITY,
    BlockNumberApdu,
    CosemAttributeDescriptor,
    CosemAttributeDescriptorWithSelection,
    DataAccessResult,
    DatablockApdu,
    Reader,
    SelectiveAccess,
    XdlmsApdu,
    apdu_head,
    check_data,
    check_u32,
    encode_optional_access,
    enum_octet,
    read_optional_access,
    sequence_of,
)

SET_REQUEST: int = 0xC1
SET_RESPONSE: int = 0xC5


def _read_results(reader: Reader) -> tuple[DataAccessResult, ...]:
    count = reader.length("result list")
    return tuple(DataAccessResult(reader.u8("data-access-result")) for _ in range(count))


def _read_attribute_list(reader: Reader) -> tuple[CosemAttributeDescriptorWithSelection, ...]:
    count = reader.length("attribute-descriptor-list")
    return tuple(CosemAttributeDescriptorWithSelection.read(reader) for _ in range(count))


@dataclass(frozen=True, slots=True, kw_only=True)
class SetRequestNormal(XdlmsApdu):
    TAG: ClassVar[int] = SET_REQUEST
    CHOICE: ClassVar[int | None] = 1
    attribute: CosemAttributeDescriptor
    value: bytes
    access: SelectiveAccess | None = None
    invoke_id_and_priority: int = DEFAULT_INVOKE_ID_AND_PRIORITY

    def encode(self) -> bytes:
        return (
            apdu_head(SET_REQUEST, 1, self.invoke_id_and_priority)
            + self.attribute.encode()
            + encode_optional_access(self.access)
            + check_data(self.value, "value")
        )

    @classmethod
    def read_body(cls, reader: Reader) -> Self:
        iid = reader.u8("invoke-id-and-priority")
        attribute = CosemAttributeDescriptor.read(reader)
        access = read_optional_access(reader)
        return cls(attribute=attribute, access=access, value=reader.rest_as_data(), invoke_id_and_priority=iid)


@dataclass(frozen=True, slots=True, kw_only=True)
class SetRequestWithFirstDatablock(DatablockApdu):
    TAG: ClassVar[int] = SET_REQUEST
    CHOICE: ClassVar[int | None] = 2
    attribute: CosemAttributeDescriptor
    access: SelectiveAccess | None = None

    def encode_prefix(self) -> bytes:
        return self.attribute.encode() + encode_optional_access(self.access)

    @classmethod
    def read_prefix(cls, reader: Reader) -> dict[str, Any]:
        return {"attribute": CosemAttributeDescriptor.read(reader), "access": read_optional_access(reader)}


@dataclass(frozen=True, slots=True, kw_only=True)
class SetRequestWithDatablock(DatablockApdu):
    TAG: ClassVar[int] = SET_REQUEST
    CHOICE: ClassVar[int | None] = 3


@dataclass(frozen=True, slots=True, kw_only=True)
class SetRequestWithList(XdlmsApdu):
    TAG: ClassVar[int] = SET_REQUEST
    CHOICE: ClassVar[int | None] = 4
    attributes: tuple[CosemAttributeDescriptorWithSelection, ...]
    values: tuple[bytes, ...]
    invoke_id_and_priority: int = DEFAULT_INVOKE_ID_AND_PRIORITY

    def encode(self) -> bytes:
        return (
            apdu_head(SET_REQUEST, 4, self.invoke_id_and_priority)
            + sequence_of([item.encode() for item in self.attributes])
            + sequence_of([check_data(value, "value") for value in self.values])
        )

    @classmethod
    def read_body(cls, reader: Reader) -> Self:
        iid = reader.u8("invoke-id-and-priority")
        attributes = _read_attribute_list(reader)
        count = reader.length("value-list")
        values = tuple(reader.data() for _ in range(count))
        return cls(attributes=attributes, values=values, invoke_id_and_priority=iid)


@dataclass(frozen=True, slots=True, kw_only=True)
class SetRequestWithListAndFirstDatablock(DatablockApdu):
    TAG: ClassVar[int] = SET_REQUEST
    CHOICE: ClassVar[int | None] = 5
    attributes: tuple[CosemAttributeDescriptorWithSelection, ...]

    def encode_prefix(self) -> bytes:
        return sequence_of([item.encode() for item in self.attributes])

    @classmethod
    def read_prefix(cls, reader: Reader) -> dict[str, Any]:
        return {"attributes": _read_attribute_list(reader)}


@dataclass(frozen=True, slots=True, kw_only=True)
class SetResponseNormal(XdlmsApdu):
    TAG: ClassVar[int] = SET_RESPONSE
    CHOICE: ClassVar[int | None] = 1
    result: DataAccessResult
    invoke_id_and_priority: int = DEFAULT_INVOKE_ID_AND_PRIORITY

    def encode(self) -> bytes:
        return apdu_head(SET_RESPONSE, 1, self.invoke_id_and_priority) + enum_octet(self.result, "result")

    @classmethod
    def read_body(cls, reader: Reader) -> Self:
        iid = reader.u8("invoke-id-and-priority")
        return cls(result=DataAccessResult(reader.u8("result")), invoke_id_and_priority=iid)


@dataclass(frozen=True, slots=True, kw_only=True)
class SetResponseDatablock(BlockNumberApdu):
    """The server acknowledges block ``block_number`` and waits for the next."""

    TAG: ClassVar[int] = SET_RESPONSE
    CHOICE: ClassVar[int | None] = 2


@dataclass(frozen=True, slots=True, kw_only=True)
class SetResponseLastDatablock(XdlmsApdu):
    TAG: ClassVar[int] = SET_RESPONSE
    CHOICE: ClassVar[int | None] = 3
    result: DataAccessResult
    block_number: int
    invoke_id_and_priority: int = DEFAULT_INVOKE_ID_AND_PRIORITY

    def encode(self) -> bytes:
        return (
            apdu_head(SET_RESPONSE, 3, self.invoke_id_and_priority)
            + enum_octet(self.result, "result")
            + check_u32(self.block_number, "block-number")
        )

    @classmethod
    def read_body(cls, reader: Reader) -> Self:
        iid = reader.u8("invoke-id-and-priority")
        result = DataAccessResult(reader.u8("result"))
        return cls(result=result, block_number=reader.u32("block-number"), invoke_id_and_priority=iid)


@dataclass(frozen=True, slots=True, kw_only=True)
class SetResponseLastDatablockWithList(XdlmsApdu):
    TAG: ClassVar[int] = SET_RESPONSE
    CHOICE: ClassVar[int | None] = 4
    results: tuple[DataAccessResult, ...]
    block_number: int
    invoke_id_and_priority: int = DEFAULT_INVOKE_ID_AND_PRIORITY

    def encode(self) -> bytes:
        return (
            apdu_head(SET_RESPONSE, 4, self.invoke_id_and_priority)
            + sequence_of([enum_octet(result, "result") for result in self.results])
            + check_u32(self.block_number, "block-number")
        )

    @classmethod
    def read_body(cls, reader: Reader) -> Self:
        iid = reader.u8("invoke-id-and-priority")
        results = _read_results(reader)
        return cls(results=results, block_number=reader.u32("block-number"), invoke_id_and_priority=iid)


@dataclass(frozen=True, slots=True, kw_only=True)
class SetResponseWithList(XdlmsApdu):
    TAG: ClassVar[int] = SET_RESPONSE
    CHOICE: ClassVar[int | None] = 5
    results: tuple[DataAccessResult, ...]
    invoke_id_and_priority: int = DEFAULT_INVOKE_ID_AND_PRIORITY

    def encode(self) -> bytes:
        return apdu_head(SET_RESPONSE, 5, self.invoke_id_and_priority) + sequence_of(
            [bytes((DataAccessResult(result),)) for result in self.results]
        )

    @classmethod
    def read_body(cls, reader: Reader) -> Self:
        iid = reader.u8("invoke-id-and-priority")
        return cls(results=_read_results(reader), invoke_id_and_priority=iid)


SetRequest = (
    SetRequestNormal
    | SetRequestWithFirstDatablock
    | SetRequestWithDatablock
    | SetRequestWithList
    | SetRequestWithListAndFirstDatablock
)
SetResponse = (
    SetResponseNormal
    | SetResponseDatablock
    | SetResponseLastDatablock
    | SetResponseLastDatablockWithList
    | SetResponseWithList
)
SET_REQUEST_CHOICES: dict[int, type[SetRequest]] = {
    1: SetRequestNormal,
    2: SetRequestWithFirstDatablock,
    3: SetRequestWithDatablock,
    4: SetRequestWithList,
    5: SetRequestWithListAndFirstDatablock,
}
SET_RESPONSE_CHOICES: dict[int, type[SetResponse]] = {
    1: SetResponseNormal,
    2: SetResponseDatablock,
    3: SetResponseLastDatablock,
    4: SetResponseLastDatablockWithList,
    5: SetResponseWithList,
}
