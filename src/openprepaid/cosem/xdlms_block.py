"""Block transfer of long GET results and SET values (IEC 62056-5-3 clauses 9.3.7 and 9.3.8), sans-IO.

Server side, ``split_get_response`` cuts an encoded result into GET-Response-With-Datablock APDUs no
longer than the negotiated max PDU size (or one GET-Response-Normal if it fits), numbered from 1;
``GetBlockSender`` answers each GET-Request-Next. Client side, ``GetBlockAssembler`` takes each
response, returns the GET-Request-Next to send (or None when done) and collects the result, checking
invoke-id, block order and a total size bound. ``split_set_request`` does the client's side of a long
SET. Protocol faults raise ``ProtocolError``; nothing here does I/O or keeps time.
"""

from __future__ import annotations

from typing import Final

from openprepaid.cosem.axdr_length import length_octets
from openprepaid.cosem.errors import EncodeError, ProtocolError
from openprepaid.cosem.xdlms_common import (
    DEFAULT_INVOKE_ID_AND_PRIORITY,
    CosemAttributeDescriptor,
    DataAccessResult,
    SelectiveAccess,
    encode_optional_access,
)
from openprepaid.cosem.xdlms_get import (
    GetDataResult,
    GetRequestNext,
    GetResponse,
    GetResponseNormal,
    GetResponseWithDatablock,
    GetResponseWithList,
)
from openprepaid.cosem.xdlms_set import SetRequestNormal, SetRequestWithDatablock, SetRequestWithFirstDatablock

DEFAULT_MAX_RESULT_SIZE: Final = 16 * 1024 * 1024
_GET_BLOCK_OVERHEAD: Final = 9  # tag, choice, invoke-id, last-block, block-number(4), result choice
_SET_BLOCK_OVERHEAD: Final = 8  # tag, choice, invoke-id, last-block, block-number(4)
_DESCRIPTOR_SIZE: Final = 9


def _chunk_size(max_pdu_size: int, overhead: int) -> int:
    """The largest raw-data slice that fits with its length octets and ``overhead``."""
    size = max_pdu_size - overhead - 1
    while size > 0 and size + len(length_octets(size)) + overhead > max_pdu_size:
        size -= 1
    if size <= 0:
        raise EncodeError(f"max PDU size {max_pdu_size} leaves no room for block data")
    return size


def split_get_response(
    result: bytes, *, max_pdu_size: int, invoke_id_and_priority: int = DEFAULT_INVOKE_ID_AND_PRIORITY
) -> list[GetResponseNormal] | list[GetResponseWithDatablock]:
    """The encoded Data ``result`` as one GET-Response-Normal, or as datablocks when it does not fit."""
    if 4 + len(result) <= max_pdu_size:
        return [GetResponseNormal(result=result, invoke_id_and_priority=invoke_id_and_priority)]
    size = _chunk_size(max_pdu_size, _GET_BLOCK_OVERHEAD)
    count = (len(result) + size - 1) // size
    return [
        GetResponseWithDatablock(
            last_block=number == count,
            block_number=number,
            raw_data=result[(number - 1) * size : number * size],
            invoke_id_and_priority=invoke_id_and_priority,
        )
        for number in range(1, count + 1)
    ]


class GetBlockSender:
    """Server side of one long GET: the first block, then one per GET-Request-Next."""

    __slots__ = ("_blocks", "_sent")

    def __init__(self, blocks: list[GetResponseWithDatablock]) -> None:
        if not blocks:
            raise ProtocolError("a long GET needs at least one block")
        self._blocks = blocks
        self._sent = 0

    @property
    def finished(self) -> bool:
        return self._sent >= len(self._blocks)

    def first(self) -> GetResponseWithDatablock:
        if self._sent:
            raise ProtocolError("the first block was already sent")
        self._sent = 1
        return self._blocks[0]

    def next(self, request: GetRequestNext) -> GetResponseWithDatablock:
        """The block after ``request.block_number``; a data-block-number-invalid block if out of order."""
        iid = self._blocks[0].invoke_id_and_priority
        if request.block_number != self._sent or self.finished:
            self._sent = len(self._blocks)
            return GetResponseWithDatablock(
                last_block=True,
                block_number=request.block_number + 1,
                raw_data=DataAccessResult.DATA_BLOCK_NUMBER_INVALID,
                invoke_id_and_priority=iid,
            )
        block = self._blocks[self._sent]
        self._sent += 1
        return block


class GetBlockAssembler:
    """Client side of one GET: feed every response, send what ``receive`` returns until ``done``."""

    __slots__ = ("_chunks", "_expected", "_size", "done", "invoke_id_and_priority", "max_result_size", "result")

    def __init__(
        self,
        *,
        invoke_id_and_priority: int = DEFAULT_INVOKE_ID_AND_PRIORITY,
        max_result_size: int = DEFAULT_MAX_RESULT_SIZE,
    ) -> None:
        self.invoke_id_and_priority = invoke_id_and_priority
        self.max_result_size = max_result_size
        self.result: GetDataResult | tuple[GetDataResult, ...] | None = None
        self.done = False
        self._chunks: list[bytes] = []
        self._size = 0
        self._expected = 1

    def receive(self, response: GetResponse) -> GetRequestNext | None:
        """The GET-Request-Next to send, or None once the result (or the error) is complete."""
        if self.done:
            raise ProtocolError("the GET is already complete")
        if response.invoke_id_and_priority & 0x0F != self.invoke_id_and_priority & 0x0F:
            raise ProtocolError(
                f"response for invoke-id {response.invoke_id_and_priority & 0x0F}, "
                f"expected {self.invoke_id_and_priority & 0x0F}"
            )
        if isinstance(response, GetResponseNormal | GetResponseWithList):
            if self._expected != 1:
                raise ProtocolError("a normal GET response in the middle of a block transfer")
            self.result = response.result if isinstance(response, GetResponseNormal) else response.results
            self.done = True
            return None
        if response.block_number != self._expected:
            raise ProtocolError(f"block {response.block_number} received, expected {self._expected}")
        if isinstance(response.raw_data, DataAccessResult):
            self.result = response.raw_data
            self.done = True
            return None
        self._size += len(response.raw_data)
        if self._size > self.max_result_size:
            raise ProtocolError(f"long GET result exceeds {self.max_result_size} octets")
        self._chunks.append(response.raw_data)
        if response.last_block:
            self.result = b"".join(self._chunks)
            self._chunks.clear()
            self.done = True
            return None
        self._expected += 1
        return GetRequestNext(block_number=response.block_number, invoke_id_and_priority=self.invoke_id_and_priority)


def split_set_request(
    attribute: CosemAttributeDescriptor,
    value: bytes,
    *,
    max_pdu_size: int,
    access: SelectiveAccess | None = None,
    invoke_id_and_priority: int = DEFAULT_INVOKE_ID_AND_PRIORITY,
) -> list[SetRequestNormal] | list[SetRequestWithFirstDatablock | SetRequestWithDatablock]:
    """The SET of encoded ``value`` as one SET-Request-Normal, or as datablocks when it does not fit."""
    head = 3 + _DESCRIPTOR_SIZE + len(encode_optional_access(access))
    if head + len(value) <= max_pdu_size:
        return [
            SetRequestNormal(
                attribute=attribute, value=value, access=access, invoke_id_and_priority=invoke_id_and_priority
            )
        ]
    first_size = _chunk_size(max_pdu_size, head + 5)
    size = _chunk_size(max_pdu_size, _SET_BLOCK_OVERHEAD)
    blocks: list[SetRequestWithFirstDatablock | SetRequestWithDatablock] = [
        SetRequestWithFirstDatablock(
            attribute=attribute,
            access=access,
            last_block=False,
            block_number=1,
            raw_data=value[:first_size],
            invoke_id_and_priority=invoke_id_and_priority,
        )
    ]
    rest = value[first_size:]
    count = (len(rest) + size - 1) // size
    blocks += [
        SetRequestWithDatablock(
            last_block=number == count,
            block_number=number + 1,
            raw_data=rest[(number - 1) * size : number * size],
            invoke_id_and_priority=invoke_id_and_priority,
        )
        for number in range(1, count + 1)
    ]
    return blocks
