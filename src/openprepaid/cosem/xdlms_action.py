"""ACTION service APDUs, logical-name referencing (IEC 62056-5-3 clause 9.3.9, Green Book 9.5 ASN.1).

``Action-Request [195]``: normal [1], next-pblock [2], with-list [3], with-first-pblock [4],
with-list-and-first-pblock [5], with-pblock [6]. ``Action-Response [199]``: normal [1],
with-pblock [2], with-list [3], next-pblock [4]. ``Action-Response-With-Optional-Data`` is a
result plus an optional Get-Data-Result (return parameters: encoded Data, or a Data-Access-Result).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar, Self

from openprepaid.cosem.xdlms_common import (
    DEFAULT_INVOKE_ID_AND_PRIORITY,
    ActionResult,
    BlockNumberApdu,
    CosemMethodDescriptor,
    DatablockApdu,
    Reader,
    XdlmsApdu,
    apdu_head,
    check_data,
    enum_octet,
    sequence_of,
)
from openprepaid.cosem.xdlms_get import GetDataResult, encode_get_data_result, read_get_data_result

ACTION_REQUEST: int = 0xC3
ACTION_RESPONSE: int = 0xC7


def _read_methods(reader: Reader) -> tuple[CosemMethodDescriptor, ...]:
    count = reader.length("cosem-method-descriptor-list")
    return tuple(CosemMethodDescriptor.read(reader) for _ in range(count))


@dataclass(frozen=True, slots=True)
class ActionResponseWithOptionalData:
    """result (Action-Result) and return-parameters (Get-Data-Result OPTIONAL)."""

    result: ActionResult
    return_parameters: GetDataResult | None = None

    def encode(self) -> bytes:
        head = enum_octet(self.result, "action-result")
        if self.return_parameters is None:
            return head + b"\x00"
        return head + b"\x01" + encode_get_data_result(self.return_parameters)

    @classmethod
    def read(cls, reader: Reader, *, last: bool) -> Self:
        result = ActionResult(reader.u8("action-result"))
        parameters = read_get_data_result(reader, last=last) if reader.optional("return-parameters") else None
        return cls(result, parameters)


@dataclass(frozen=True, slots=True, kw_only=True)
class ActionRequestNormal(XdlmsApdu):
    TAG: ClassVar[int] = ACTION_REQUEST
    CHOICE: ClassVar[int | None] = 1
    method: CosemMethodDescriptor
    parameters: bytes | None = None
    invoke_id_and_priority: int = DEFAULT_INVOKE_ID_AND_PRIORITY

    def encode(self) -> bytes:
        head = apdu_head(ACTION_REQUEST, 1, self.invoke_id_and_priority) + self.method.encode()
        if self.parameters is None:
            return head + b"\x00"
        return head + b"\x01" + check_data(self.parameters, "method-invocation-parameters")

    @classmethod
    def read_body(cls, reader: Reader) -> Self:
        iid = reader.u8("invoke-id-and-priority")
        method = CosemMethodDescriptor.read(reader)
        parameters = reader.rest_as_data() if reader.optional("method-invocation-parameters") else None
        return cls(method=method, parameters=parameters, invoke_id_and_priority=iid)


@dataclass(frozen=True, slots=True, kw_only=True)
class ActionRequestNextPblock(BlockNumberApdu):
    """The client asks for the next block of a long action response."""

    TAG: ClassVar[int] = ACTION_REQUEST
    CHOICE: ClassVar[int | None] = 2


@dataclass(frozen=True, slots=True, kw_only=True)
class ActionRequestWithList(XdlmsApdu):
    TAG: ClassVar[int] = ACTION_REQUEST
    CHOICE: ClassVar[int | None] = 3
    methods: tuple[CosemMethodDescriptor, ...]
    parameters: tuple[bytes, ...]
    invoke_id_and_priority: int = DEFAULT_INVOKE_ID_AND_PRIORITY

    def encode(self) -> bytes:
        return (
            apdu_head(ACTION_REQUEST, 3, self.invoke_id_and_priority)
            + sequence_of([method.encode() for method in self.methods])
            + sequence_of([check_data(value, "method-invocation-parameters") for value in self.parameters])
        )

    @classmethod
    def read_body(cls, reader: Reader) -> Self:
        iid = reader.u8("invoke-id-and-priority")
        methods = _read_methods(reader)
        count = reader.length("method-invocation-parameters")
        return cls(methods=methods, parameters=tuple(reader.data() for _ in range(count)), invoke_id_and_priority=iid)


@dataclass(frozen=True, slots=True, kw_only=True)
class ActionRequestWithFirstPblock(DatablockApdu):
    TAG: ClassVar[int] = ACTION_REQUEST
    CHOICE: ClassVar[int | None] = 4
    method: CosemMethodDescriptor

    def encode_prefix(self) -> bytes:
        return self.method.encode()

    @classmethod
    def read_prefix(cls, reader: Reader) -> dict[str, Any]:
        return {"method": CosemMethodDescriptor.read(reader)}


@dataclass(frozen=True, slots=True, kw_only=True)
class ActionRequestWithListAndFirstPblock(DatablockApdu):
    TAG: ClassVar[int] = ACTION_REQUEST
    CHOICE: ClassVar[int | None] = 5
    methods: tuple[CosemMethodDescriptor, ...]

    def encode_prefix(self) -> bytes:
        return sequence_of([method.encode() for method in self.methods])

    @classmethod
    def read_prefix(cls, reader: Reader) -> dict[str, Any]:
        return {"methods": _read_methods(reader)}


@dataclass(frozen=True, slots=True, kw_only=True)
class ActionRequestWithPblock(DatablockApdu):
    TAG: ClassVar[int] = ACTION_REQUEST
    CHOICE: ClassVar[int | None] = 6


@dataclass(frozen=True, slots=True, kw_only=True)
class ActionResponseNormal(XdlmsApdu):
    TAG: ClassVar[int] = ACTION_RESPONSE
    CHOICE: ClassVar[int | None] = 1
    result: ActionResult
    return_parameters: GetDataResult | None = None
    invoke_id_and_priority: int = DEFAULT_INVOKE_ID_AND_PRIORITY

    def encode(self) -> bytes:
        body = ActionResponseWithOptionalData(self.result, self.return_parameters).encode()
        return apdu_head(ACTION_RESPONSE, 1, self.invoke_id_and_priority) + body

    @classmethod
    def read_body(cls, reader: Reader) -> Self:
        iid = reader.u8("invoke-id-and-priority")
        single = ActionResponseWithOptionalData.read(reader, last=True)
        return cls(result=single.result, return_parameters=single.return_parameters, invoke_id_and_priority=iid)


@dataclass(frozen=True, slots=True, kw_only=True)
class ActionResponseWithPblock(DatablockApdu):
    TAG: ClassVar[int] = ACTION_RESPONSE
    CHOICE: ClassVar[int | None] = 2


@dataclass(frozen=True, slots=True, kw_only=True)
class ActionResponseWithList(XdlmsApdu):
    TAG: ClassVar[int] = ACTION_RESPONSE
    CHOICE: ClassVar[int | None] = 3
    results: tuple[ActionResponseWithOptionalData, ...]
    invoke_id_and_priority: int = DEFAULT_INVOKE_ID_AND_PRIORITY

    def encode(self) -> bytes:
        return apdu_head(ACTION_RESPONSE, 3, self.invoke_id_and_priority) + sequence_of(
            [item.encode() for item in self.results]
        )

    @classmethod
    def read_body(cls, reader: Reader) -> Self:
        iid = reader.u8("invoke-id-and-priority")
        count = reader.length("list-of-responses")
        results = tuple(ActionResponseWithOptionalData.read(reader, last=False) for _ in range(count))
        return cls(results=results, invoke_id_and_priority=iid)


@dataclass(frozen=True, slots=True, kw_only=True)
class ActionResponseNextPblock(BlockNumberApdu):
    """The server acknowledges a parameter block and asks for the next."""

    TAG: ClassVar[int] = ACTION_RESPONSE
    CHOICE: ClassVar[int | None] = 4


ActionRequest = (
    ActionRequestNormal
    | ActionRequestNextPblock
    | ActionRequestWithList
    | ActionRequestWithFirstPblock
    | ActionRequestWithListAndFirstPblock
    | ActionRequestWithPblock
)
ActionResponse = ActionResponseNormal | ActionResponseWithPblock | ActionResponseWithList | ActionResponseNextPblock
ACTION_REQUEST_CHOICES: dict[int, type[ActionRequest]] = {
    1: ActionRequestNormal,
    2: ActionRequestNextPblock,
    3: ActionRequestWithList,
    4: ActionRequestWithFirstPblock,
    5: ActionRequestWithListAndFirstPblock,
    6: ActionRequestWithPblock,
}
ACTION_RESPONSE_CHOICES: dict[int, type[ActionResponse]] = {
    1: ActionResponseNormal,
    2: ActionResponseWithPblock,
    3: ActionResponseWithList,
    4: ActionResponseNextPblock,
}
