"""The service-specific block transfers of one server association (IEC 62056-5-3 9.3.7 - 9.3.9).

``ServerTransfers`` keeps the long GET, long ACTION result or long SET in progress (one at a time,
as one confirmed request is outstanding at a time) and turns each step the client takes into the
reply: the first block of a result longer than the client's max PDU size, the next block for a
GET-Request-Next / ACTION-Request-Next-Pblock, the acknowledgement of a SET block, and the error
answers of the standard for a block out of order (data-block-number-invalid, long-action-aborted)
or a next-block request with no transfer (no-long-get/set/action-in-progress). APDUs are plain;
the association ciphers them.
"""

from __future__ import annotations

from dataclasses import dataclass

from openprepaid.cosem.errors import ProtocolError
from openprepaid.cosem.xdlms_action import ActionRequestNextPblock, ActionResponseNormal, ActionResponseWithPblock
from openprepaid.cosem.xdlms_block import (
    DEFAULT_MAX_SET_VALUE_SIZE,
    ActionBlockSender,
    GetBlockSender,
    SetBlockReceiver,
    split_action_response,
    split_get_response,
)
from openprepaid.cosem.xdlms_common import ActionResult, DataAccessResult, XdlmsApdu
from openprepaid.cosem.xdlms_get import (
    GetRequestNext,
    GetResponseNormal,
    GetResponseWithDatablock,
    GetResponseWithList,
    encode_get_data_results,
)
from openprepaid.cosem.xdlms_set import (
    SetRequestWithDatablock,
    SetRequestWithFirstDatablock,
    SetResponseDatablock,
    SetResponseLastDatablock,
    SetResponseNormal,
)


@dataclass(frozen=True, slots=True)
class TransferStep:
    """One step of a block transfer: the ``reply`` to send (None: nothing yet); ``refusal`` says why the
    step was refused; ``completed_set`` is the long SET whose last block arrived, for the application."""

    reply: XdlmsApdu | None
    refusal: str | None = None
    completed_set: SetBlockReceiver | None = None


class ServerTransfers:
    """The block transfer in progress on one association, if any (see the module docstring)."""

    __slots__ = ("_action", "_get", "_set", "_set_last_block", "max_set_value_size")

    def __init__(self, *, max_set_value_size: int = DEFAULT_MAX_SET_VALUE_SIZE) -> None:
        self.max_set_value_size = max_set_value_size
        self._get: GetBlockSender | None = None
        self._action: ActionBlockSender | None = None
        self._set: SetBlockReceiver | None = None
        self._set_last_block = 0

    def end(self) -> None:
        """Forget any transfer: a new request (or association) abandons one the client did not finish."""
        self._get = self._action = self._set = None
        self._set_last_block = 0

    # --- results leaving in blocks --------------------------------------------------------------------

    def get_response(
        self, result: bytes, *, max_pdu_size: int, iid: int
    ) -> GetResponseNormal | GetResponseWithDatablock:
        """A GET's encoded result: one response, or the first of its datablocks."""
        blocks = split_get_response(result, max_pdu_size=max_pdu_size, invoke_id_and_priority=iid)
        datablocks = [block for block in blocks if isinstance(block, GetResponseWithDatablock)]
        if not datablocks:
            return blocks[0]
        self._get = GetBlockSender(datablocks)
        return self._get.first()

    def get_list_response(
        self, results: list[bytes | DataAccessResult], *, max_pdu_size: int, iid: int
    ) -> GetResponseWithList | GetResponseWithDatablock:
        """A GET-with-list's results: one GET-Response-With-List, or their encoded list by datablocks."""
        body = encode_get_data_results(results)
        blocks = split_get_response(body, max_pdu_size=max_pdu_size, invoke_id_and_priority=iid)
        datablocks = [block for block in blocks if isinstance(block, GetResponseWithDatablock)]
        if not datablocks:
            return GetResponseWithList(results=tuple(results), invoke_id_and_priority=iid)
        self._get = GetBlockSender(datablocks)
        return self._get.first()

    def action_response(
        self, result: ActionResult, return_data: bytes | None, *, max_pdu_size: int, iid: int
    ) -> ActionResponseNormal | ActionResponseWithPblock:
        """An ACTION's answer: one response, or the first pblock of its return data (EncodeError when a
        refused ACTION's data does not fit)."""
        blocks = split_action_response(result, return_data, max_pdu_size=max_pdu_size, invoke_id_and_priority=iid)
        pblocks = [block for block in blocks if isinstance(block, ActionResponseWithPblock)]
        if not pblocks:
            return blocks[0]
        self._action = ActionBlockSender(pblocks)
        return self._action.first()

    def next_get(self, request: GetRequestNext) -> TransferStep:
        sender = self._get
        if sender is None:
            return TransferStep(
                GetResponseWithDatablock(
                    last_block=True,
                    block_number=request.block_number + 1,
                    raw_data=DataAccessResult.NO_LONG_GET_IN_PROGRESS,
                    invoke_id_and_priority=request.invoke_id_and_priority,
                ),
                "GET-Request-Next without a long GET in progress",
            )
        block = sender.next(request)
        if sender.finished:
            self._get = None
        if isinstance(block.raw_data, DataAccessResult):
            return TransferStep(block, f"the client asked for the GET block after {request.block_number}, out of order")
        return TransferStep(block)

    def next_action(self, request: ActionRequestNextPblock) -> TransferStep:
        sender = self._action
        if sender is None:
            return TransferStep(
                ActionResponseNormal(
                    result=ActionResult.NO_LONG_ACTION_IN_PROGRESS,
                    invoke_id_and_priority=request.invoke_id_and_priority,
                ),
                "ACTION-Request-Next-Pblock without a long ACTION in progress",
            )
        answer = sender.next(request)
        if sender.finished:
            self._action = None
        if isinstance(answer, ActionResponseNormal):
            return TransferStep(
                answer, f"the client asked for the ACTION block after {request.block_number}, out of order"
            )
        return TransferStep(answer)

    # --- a value arriving in blocks ---------------------------------------------------------------------

    def set_block(self, block: SetRequestWithFirstDatablock | SetRequestWithDatablock) -> TransferStep:
        """The acknowledgement or refusal of one SET block; after the last, the whole SET (``completed_set``)."""
        if isinstance(block, SetRequestWithFirstDatablock):
            self.end()
            self._set = SetBlockReceiver(block, max_value_size=self.max_set_value_size)
        receiver = self._set
        if receiver is None:
            return TransferStep(
                SetResponseLastDatablock(
                    result=DataAccessResult.NO_LONG_SET_IN_PROGRESS,
                    block_number=block.block_number,
                    invoke_id_and_priority=block.invoke_id_and_priority,
                ),
                "SET block without a long SET in progress",
            )
        try:
            answer = receiver.receive(block)
        except ProtocolError:  # the value outgrew the bound: the transfer is over
            self._set = None
            raise
        if isinstance(answer, SetResponseDatablock):
            return TransferStep(answer)
        self._set = None
        if answer is not None:
            return TransferStep(answer, f"SET block {block.block_number} out of order")
        self._set_last_block = receiver.last_block_number
        return TransferStep(None, completed_set=receiver)

    def set_response(self, result: DataAccessResult, *, iid: int) -> SetResponseNormal | SetResponseLastDatablock:
        """The answer to a SET: after a long SET, the SET-Response-Last-Datablock naming its last block."""
        if self._set_last_block:
            block_number, self._set_last_block = self._set_last_block, 0
            return SetResponseLastDatablock(result=result, block_number=block_number, invoke_id_and_priority=iid)
        return SetResponseNormal(result=result, invoke_id_and_priority=iid)
