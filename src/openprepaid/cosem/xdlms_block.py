"""Service-specific block transfer (IEC 62056-5-3 clauses 9.3.7 - 9.3.9): long GET results, long SET
values and long ACTION results, sans-IO.

Server side, ``split_get_response`` cuts an encoded result into GET-Response-With-Datablock APDUs no
longer than the negotiated max PDU size (or one GET-Response-Normal if it fits), numbered from 1;
``GetBlockSender`` answers each GET-Request-Next. ``split_action_response`` and ``ActionBlockSender``
do the same for an ACTION's return parameters (ACTION-Response-With-Pblock, answered block by block
on ACTION-Request-Next-Pblock); ``SetBlockReceiver`` collects a long SET's blocks. Client side,
``GetBlockAssembler`` takes each response, returns the GET-Request-Next to send (or None when done)
and collects the result, checking invoke-id, block order and a total size bound;
``split_set_request`` does the client's side of a long SET. Protocol faults raise ``ProtocolError``;
nothing here does I/O or keeps time.

A pblock carries only raw data, no result: the return parameters of a successful ACTION, their
encoded Data, go by blocks; a refused ACTION answers with one ACTION-Response-Normal.
"""

from __future__ import annotations

from typing import Final

from openprepaid.cosem.axdr_length import length_octets
from openprepaid.cosem.errors import EncodeError, ProtocolError
from openprepaid.cosem.xdlms_action import ActionRequestNextPblock, ActionResponseNormal, ActionResponseWithPblock
from openprepaid.cosem.xdlms_common import (
    DEFAULT_INVOKE_ID_AND_PRIORITY,
    ActionResult,
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
from openprepaid.cosem.xdlms_set import (
    SetRequestNormal,
    SetRequestWithDatablock,
    SetRequestWithFirstDatablock,
    SetResponseDatablock,
    SetResponseLastDatablock,
)

DEFAULT_MAX_RESULT_SIZE: Final = 16 * 1024 * 1024
_GET_BLOCK_OVERHEAD: Final = 9  # tag, choice, invoke-id, last-block, block-number(4), result choice
_SET_BLOCK_OVERHEAD: Final = 8  # tag, choice, invoke-id, last-block, block-number(4)
_PBLOCK_OVERHEAD: Final = 8  # the same DataBlock-SA head in an ACTION-Response-With-Pblock
_ACTION_RESPONSE_OVERHEAD: Final = 6  # tag, choice, invoke-id, result, return-parameters present, Data choice
_DESCRIPTOR_SIZE: Final = 9
DEFAULT_MAX_SET_VALUE_SIZE: Final = 1024 * 1024


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
    return [
        GetResponseWithDatablock(
            last_block=last, block_number=number, raw_data=chunk, invoke_id_and_priority=invoke_id_and_priority
        )
        for number, last, chunk in _numbered_blocks(result, _chunk_size(max_pdu_size, _GET_BLOCK_OVERHEAD))
    ]


def _numbered_blocks(data: bytes, size: int) -> list[tuple[int, bool, bytes]]:
    """``data`` cut into blocks of ``size`` octets: (block number from 1, last block?, the octets)."""
    count = (len(data) + size - 1) // size
    return [(number, number == count, data[(number - 1) * size : number * size]) for number in range(1, count + 1)]


class _BlockSender:
    """Hands out numbered blocks in order: the first, then one per request naming the last one sent."""

    __slots__ = ("_sent", "count")

    def __init__(self, count: int) -> None:
        if count < 1:
            raise ProtocolError("a block transfer needs at least one block")
        self.count = count
        self._sent = 0

    @property
    def finished(self) -> bool:
        return self._sent >= self.count

    def _first_index(self) -> int:
        if self._sent:
            raise ProtocolError("the first block was already sent")
        self._sent = 1
        return 0

    def _next_index(self, acknowledged: int) -> int | None:
        """The index of the block after ``acknowledged``, or None (and the transfer ends) when out of order."""
        if acknowledged != self._sent or self.finished:
            self._sent = self.count
            return None
        self._sent += 1
        return self._sent - 1


class GetBlockSender(_BlockSender):
    """Server side of one long GET: the first block, then one per GET-Request-Next."""

    __slots__ = ("_blocks",)

    def __init__(self, blocks: list[GetResponseWithDatablock]) -> None:
        super().__init__(len(blocks))
        self._blocks = blocks

    def first(self) -> GetResponseWithDatablock:
        return self._blocks[self._first_index()]

    def next(self, request: GetRequestNext) -> GetResponseWithDatablock:
        """The block after ``request.block_number``; a data-block-number-invalid block if out of order."""
        index = self._next_index(request.block_number)
        if index is None:
            return GetResponseWithDatablock(
                last_block=True,
                block_number=request.block_number + 1,
                raw_data=DataAccessResult.DATA_BLOCK_NUMBER_INVALID,
                invoke_id_and_priority=self._blocks[0].invoke_id_and_priority,
            )
        return self._blocks[index]


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


def split_action_response(
    result: ActionResult,
    return_data: bytes | DataAccessResult | None,
    *,
    max_pdu_size: int,
    invoke_id_and_priority: int = DEFAULT_INVOKE_ID_AND_PRIORITY,
) -> list[ActionResponseNormal] | list[ActionResponseWithPblock]:
    """One ACTION-Response-Normal, or the encoded Data ``return_data`` in pblocks when it does not fit.

    Only a successful ACTION's return parameters can go by blocks (a pblock has no result field).
    """
    if not isinstance(return_data, bytes) or _ACTION_RESPONSE_OVERHEAD + len(return_data) <= max_pdu_size:
        return [
            ActionResponseNormal(
                result=result, return_parameters=return_data, invoke_id_and_priority=invoke_id_and_priority
            )
        ]
    if result is not ActionResult.SUCCESS:
        raise EncodeError(f"the return data of a refused ACTION ({result.name}) must fit one APDU")
    return [
        ActionResponseWithPblock(
            last_block=last, block_number=number, raw_data=chunk, invoke_id_and_priority=invoke_id_and_priority
        )
        for number, last, chunk in _numbered_blocks(return_data, _chunk_size(max_pdu_size, _PBLOCK_OVERHEAD))
    ]


class ActionBlockSender(_BlockSender):
    """Server side of one long ACTION result: the first pblock, then one per ACTION-Request-Next-Pblock.

    A request naming another block than the last one sent aborts the transfer: it is answered with
    an ACTION-Response-Normal, long-action-aborted (a pblock cannot carry an error).
    """

    __slots__ = ("_blocks",)

    def __init__(self, blocks: list[ActionResponseWithPblock]) -> None:
        super().__init__(len(blocks))
        self._blocks = blocks

    def first(self) -> ActionResponseWithPblock:
        return self._blocks[self._first_index()]

    def next(self, request: ActionRequestNextPblock) -> ActionResponseWithPblock | ActionResponseNormal:
        index = self._next_index(request.block_number)
        if index is None:
            return ActionResponseNormal(
                result=ActionResult.LONG_ACTION_ABORTED,
                invoke_id_and_priority=self._blocks[0].invoke_id_and_priority,
            )
        return self._blocks[index]


class SetBlockReceiver:
    """Server side of one long SET: collects SET-Request-With-(First-)Datablock APDUs in order.

    ``receive`` answers each block: a SET-Response-Datablock to ask for the next, a
    SET-Response-Last-Datablock with data-block-number-invalid for a block out of order (the transfer
    ends), or None for the last block, after which ``attribute``, ``access``, ``value`` and
    ``last_block_number`` describe the whole SET for the application to answer.
    """

    __slots__ = ("_chunks", "_head", "_size", "last_block_number", "max_value_size")

    def __init__(
        self, first: SetRequestWithFirstDatablock, *, max_value_size: int = DEFAULT_MAX_SET_VALUE_SIZE
    ) -> None:
        self.max_value_size = max_value_size
        self._head = first
        self._chunks: list[bytes] = []
        self._size = 0
        self.last_block_number = 0

    @property
    def attribute(self) -> CosemAttributeDescriptor:
        return self._head.attribute

    @property
    def access(self) -> SelectiveAccess | None:
        return self._head.access

    @property
    def value(self) -> bytes:
        return b"".join(self._chunks)

    def receive(
        self, block: SetRequestWithFirstDatablock | SetRequestWithDatablock
    ) -> SetResponseDatablock | SetResponseLastDatablock | None:
        expected = len(self._chunks) + 1
        in_order = block.block_number == expected and isinstance(block, SetRequestWithFirstDatablock) == (expected == 1)
        if not in_order:
            return SetResponseLastDatablock(
                result=DataAccessResult.DATA_BLOCK_NUMBER_INVALID,
                block_number=block.block_number,
                invoke_id_and_priority=block.invoke_id_and_priority,
            )
        self._size += len(block.raw_data)
        if self._size > self.max_value_size:
            raise ProtocolError(f"long SET value exceeds {self.max_value_size} octets")
        self._chunks.append(block.raw_data)
        if block.last_block:
            self.last_block_number = block.block_number
            return None
        return SetResponseDatablock(
            block_number=block.block_number, invoke_id_and_priority=block.invoke_id_and_priority
        )
