"""Hypothesis strategies for every xDLMS APDU this codec owns (shared by the cosem tests and fuzz)."""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

from openprepaid.cosem import xdlms
from openprepaid.cosem.axdr import encode_data
from openprepaid.cosem.obis import OBIS
from tests.cosem.axdr_strategies import LEAF_TAGS, date_times, leaf_value

iids = st.integers(0, 255)
u32 = st.integers(0, 0xFFFFFFFF)
raw = st.binary(max_size=60)
# Small Data values keep the APDU tests quick; test_axdr_properties covers the Data space.
_leaves = st.one_of(st.sampled_from(LEAF_TAGS).flatmap(leaf_value), st.none())
data = st.one_of(_leaves, st.lists(_leaves, max_size=3), st.lists(_leaves, max_size=3).map(tuple)).map(encode_data)
obis = st.binary(min_size=6, max_size=6).map(OBIS.from_bytes)
attributes = st.builds(xdlms.CosemAttributeDescriptor, st.integers(0, 0xFFFF), obis, st.integers(-128, 127))
methods = st.builds(xdlms.CosemMethodDescriptor, st.integers(0, 0xFFFF), obis, st.integers(-128, 127))
accesses = st.one_of(st.none(), st.builds(xdlms.SelectiveAccess, st.integers(0, 255), data))
with_selection = st.builds(xdlms.CosemAttributeDescriptorWithSelection, attributes, accesses)
access_results = st.integers(0, 255).map(xdlms.DataAccessResult)
action_results = st.integers(0, 255).map(xdlms.ActionResult)
get_data_results = st.one_of(data, access_results)
blocks = {"last_block": st.booleans(), "block_number": u32, "raw_data": raw}


def small_tuple(strategy: st.SearchStrategy[Any]) -> st.SearchStrategy[tuple[Any, ...]]:
    return st.lists(strategy, max_size=4).map(tuple)


APDUS: list[st.SearchStrategy[Any]] = [  # one per APDU class, in the order of APDU_CLASSES
    st.builds(xdlms.GetRequestNormal, attribute=attributes, access=accesses, invoke_id_and_priority=iids),
    st.builds(xdlms.GetRequestNext, block_number=u32, invoke_id_and_priority=iids),
    st.builds(xdlms.GetRequestWithList, attributes=small_tuple(with_selection), invoke_id_and_priority=iids),
    st.builds(xdlms.GetResponseNormal, result=get_data_results, invoke_id_and_priority=iids),
    st.builds(
        xdlms.GetResponseWithDatablock,
        last_block=st.booleans(),
        block_number=u32,
        raw_data=st.one_of(raw, access_results),
        invoke_id_and_priority=iids,
    ),
    st.builds(xdlms.GetResponseWithList, results=small_tuple(get_data_results), invoke_id_and_priority=iids),
    st.builds(xdlms.SetRequestNormal, attribute=attributes, access=accesses, value=data, invoke_id_and_priority=iids),
    st.builds(
        xdlms.SetRequestWithFirstDatablock, attribute=attributes, access=accesses, invoke_id_and_priority=iids, **blocks
    ),
    st.builds(xdlms.SetRequestWithDatablock, invoke_id_and_priority=iids, **blocks),
    st.lists(st.tuples(with_selection, data), max_size=4).map(
        lambda pairs: xdlms.SetRequestWithList(attributes=tuple(a for a, _ in pairs), values=tuple(v for _, v in pairs))
    ),
    st.builds(
        xdlms.SetRequestWithListAndFirstDatablock,
        attributes=small_tuple(with_selection),
        invoke_id_and_priority=iids,
        **blocks,
    ),
    st.builds(xdlms.SetResponseNormal, result=access_results, invoke_id_and_priority=iids),
    st.builds(xdlms.SetResponseDatablock, block_number=u32, invoke_id_and_priority=iids),
    st.builds(xdlms.SetResponseLastDatablock, result=access_results, block_number=u32, invoke_id_and_priority=iids),
    st.builds(
        xdlms.SetResponseLastDatablockWithList,
        results=small_tuple(access_results),
        block_number=u32,
        invoke_id_and_priority=iids,
    ),
    st.builds(xdlms.SetResponseWithList, results=small_tuple(access_results), invoke_id_and_priority=iids),
    st.builds(
        xdlms.ActionRequestNormal,
        method=methods,
        parameters=st.one_of(st.none(), data),
        invoke_id_and_priority=iids,
    ),
    st.builds(xdlms.ActionRequestNextPblock, block_number=u32, invoke_id_and_priority=iids),
    st.lists(st.tuples(methods, data), max_size=4).map(
        lambda pairs: xdlms.ActionRequestWithList(
            methods=tuple(m for m, _ in pairs), parameters=tuple(p for _, p in pairs)
        )
    ),
    st.builds(xdlms.ActionRequestWithFirstPblock, method=methods, invoke_id_and_priority=iids, **blocks),
    st.builds(
        xdlms.ActionRequestWithListAndFirstPblock, methods=small_tuple(methods), invoke_id_and_priority=iids, **blocks
    ),
    st.builds(xdlms.ActionRequestWithPblock, invoke_id_and_priority=iids, **blocks),
    st.builds(
        xdlms.ActionResponseNormal,
        result=action_results,
        return_parameters=st.one_of(st.none(), get_data_results),
        invoke_id_and_priority=iids,
    ),
    st.builds(xdlms.ActionResponseWithPblock, invoke_id_and_priority=iids, **blocks),
    st.builds(
        xdlms.ActionResponseWithList,
        results=small_tuple(
            st.builds(xdlms.ActionResponseWithOptionalData, action_results, st.one_of(st.none(), get_data_results))
        ),
        invoke_id_and_priority=iids,
    ),
    st.builds(xdlms.ActionResponseNextPblock, block_number=u32, invoke_id_and_priority=iids),
    st.builds(
        xdlms.DataNotification,
        long_invoke_id_and_priority=u32,
        date_time=st.one_of(st.none(), date_times),
        body=data,
    ),
    st.builds(xdlms.EventNotificationRequest, time=st.one_of(st.none(), date_times), attribute=attributes, value=data),
    st.one_of(
        st.builds(
            xdlms.ExceptionResponse,
            state_error=st.sampled_from(xdlms.StateError),
            service_error=st.sampled_from(
                [e for e in xdlms.ExceptionServiceError if e != xdlms.ExceptionServiceError.INVOCATION_COUNTER_ERROR]
            ),
        ),
        st.builds(
            xdlms.ExceptionResponse,
            state_error=st.sampled_from(xdlms.StateError),
            service_error=st.just(xdlms.ExceptionServiceError.INVOCATION_COUNTER_ERROR),
            invocation_counter=u32,
        ),
    ),
    st.builds(
        xdlms.ConfirmedServiceError,
        service=st.sampled_from(xdlms.ConfirmedService),
        error_kind=st.sampled_from(xdlms.ServiceErrorKind),
        error_value=st.integers(0, 255),
    ),
]


APDU_CLASSES: list[type] = [
    xdlms.GetRequestNormal,
    xdlms.GetRequestNext,
    xdlms.GetRequestWithList,
    xdlms.GetResponseNormal,
    xdlms.GetResponseWithDatablock,
    xdlms.GetResponseWithList,
    xdlms.SetRequestNormal,
    xdlms.SetRequestWithFirstDatablock,
    xdlms.SetRequestWithDatablock,
    xdlms.SetRequestWithList,
    xdlms.SetRequestWithListAndFirstDatablock,
    xdlms.SetResponseNormal,
    xdlms.SetResponseDatablock,
    xdlms.SetResponseLastDatablock,
    xdlms.SetResponseLastDatablockWithList,
    xdlms.SetResponseWithList,
    xdlms.ActionRequestNormal,
    xdlms.ActionRequestNextPblock,
    xdlms.ActionRequestWithList,
    xdlms.ActionRequestWithFirstPblock,
    xdlms.ActionRequestWithListAndFirstPblock,
    xdlms.ActionRequestWithPblock,
    xdlms.ActionResponseNormal,
    xdlms.ActionResponseWithPblock,
    xdlms.ActionResponseWithList,
    xdlms.ActionResponseNextPblock,
    xdlms.DataNotification,
    xdlms.EventNotificationRequest,
    xdlms.ExceptionResponse,
    xdlms.ConfirmedServiceError,
]


def apdus() -> st.SearchStrategy[Any]:
    return st.one_of(*APDUS)
