"""Hypothesis strategies for A-XDR type descriptions and typed values (shared by the cosem tests)."""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

from openprepaid.cosem import axdr
from openprepaid.cosem.axdr import ArrayOf, DataTag, StructureOf, TypeSpec
from openprepaid.cosem.axdr_types import INT_TYPES
from openprepaid.cosem.date_time import ClockStatus, CosemDate, CosemDateTime, CosemTime

INT_TYPE = dict(INT_TYPES)
INT_TAGS = list(INT_TYPE)
LEAF_TAGS = [
    *INT_TAGS,
    DataTag.BOOLEAN,
    DataTag.FLOAT32,
    DataTag.FLOAT64,
    DataTag.OCTET_STRING,
    DataTag.VISIBLE_STRING,
    DataTag.UTF8_STRING,
    DataTag.BIT_STRING,
    DataTag.DATE_TIME,
    DataTag.DATE,
    DataTag.TIME,
]


def _opt(strategy: st.SearchStrategy[int]) -> st.SearchStrategy[int | None]:
    return st.one_of(st.none(), strategy)


date_times = st.builds(
    CosemDateTime,
    year=_opt(st.integers(0, 0xFFFE)),
    month=_opt(st.sampled_from([*range(1, 13), 0xFD, 0xFE])),
    day=_opt(st.sampled_from([*range(1, 32), 0xFD, 0xFE])),
    hour=_opt(st.integers(0, 23)),
    minute=_opt(st.integers(0, 59)),
    second=_opt(st.integers(0, 59)),
    hundredths=_opt(st.integers(0, 99)),
    deviation=_opt(st.integers(-720, 720)),
    clock_status=st.one_of(st.none(), st.integers(0, 0xFE).map(ClockStatus)),
    day_of_week=_opt(st.integers(1, 7)),
)
dates = st.builds(
    CosemDate,
    _opt(st.integers(0, 0xFFFE)),
    _opt(st.integers(1, 12)),
    _opt(st.integers(1, 31)),
    _opt(st.integers(1, 7)),
)
times = st.builds(
    CosemTime, _opt(st.integers(0, 23)), _opt(st.integers(0, 59)), _opt(st.integers(0, 59)), _opt(st.integers(0, 99))
)


def _float32() -> st.SearchStrategy[float]:
    return st.floats(width=32, allow_nan=False)


def leaf_value(tag: DataTag) -> st.SearchStrategy[Any]:
    """A typed value (as ``encode_data`` takes it) of the leaf type ``tag``."""
    if tag in INT_TYPE:
        kind = INT_TYPE[tag]
        return st.integers(kind.MIN, kind.MAX).map(kind)
    if tag == DataTag.BOOLEAN:
        return st.booleans()
    if tag == DataTag.FLOAT32:
        return _float32().map(axdr.Float32)
    if tag == DataTag.FLOAT64:
        return st.floats(allow_nan=False).map(axdr.Float64)
    if tag == DataTag.OCTET_STRING:
        return st.binary(max_size=40)
    if tag == DataTag.VISIBLE_STRING:
        return st.text(st.characters(max_codepoint=0xFF), max_size=40)
    if tag == DataTag.UTF8_STRING:
        return st.text(max_size=40).map(axdr.Utf8String)
    if tag == DataTag.BIT_STRING:
        return st.text("01", max_size=20).map(axdr.BitString)
    if tag == DataTag.DATE_TIME:
        return date_times
    if tag == DataTag.DATE:
        return dates
    return times


def native_of(value: Any) -> Any:
    """What the native decoding of a typed value looks like."""
    if isinstance(value, axdr.TypedInt):
        return int(value)
    if isinstance(value, float):
        return float(value)
    if isinstance(value, axdr.Utf8String):
        return str(value)
    if isinstance(value, list):
        return [native_of(item) for item in value]
    if isinstance(value, tuple):
        return tuple(native_of(item) for item in value)
    if isinstance(value, axdr.CompactArray):
        return [native_of(item) for item in value.elements]
    return value


def specs(max_leaves: int = 12) -> st.SearchStrategy[TypeSpec]:
    """Type descriptions without null-data, whose arrays have a small count (compact-array-legal)."""
    leaves = st.sampled_from(LEAF_TAGS)
    return st.recursive(
        leaves,
        lambda children: st.one_of(
            st.builds(ArrayOf, children, st.integers(1, 3)),
            st.lists(children, min_size=1, max_size=5).map(lambda fields: StructureOf(tuple(fields))),
        ),
        max_leaves=max_leaves,
    )


def value_of(spec: TypeSpec, *, arrays_use_count: bool = True) -> st.SearchStrategy[Any]:
    """A typed value of ``spec`` (arrays as lists, structures as tuples)."""
    if isinstance(spec, ArrayOf):
        element = value_of(spec.element, arrays_use_count=arrays_use_count)
        if arrays_use_count and spec.count is not None:
            return st.lists(element, min_size=spec.count, max_size=spec.count)
        return st.lists(element, max_size=6)
    if isinstance(spec, StructureOf):
        return st.tuples(*(value_of(field, arrays_use_count=arrays_use_count) for field in spec.fields))
    return leaf_value(spec)


def data_values() -> st.SearchStrategy[Any]:
    """Any typed Data value, including heterogeneous arrays, null-data, dont-care and compact-arrays."""
    leaves = st.one_of(
        st.sampled_from(LEAF_TAGS).flatmap(leaf_value),
        st.none(),
        st.just(axdr.DONT_CARE),
        compact_arrays(),
    )
    return st.recursive(
        leaves,
        lambda children: st.one_of(st.lists(children, max_size=6), st.lists(children, max_size=6).map(tuple)),
        max_leaves=12,
    )


def compact_arrays() -> st.SearchStrategy[axdr.CompactArray]:
    return specs(max_leaves=6).flatmap(
        lambda spec: st.lists(value_of(spec), max_size=5).map(
            lambda elements: axdr.CompactArray(spec, [native_of(item) for item in elements])
        )
    )


def fixed_rows(max_rows: int = 12) -> st.SearchStrategy[tuple[TypeSpec, list[Any]]]:
    """A profile-like array spec (structure of numbers and one fixed-length octet-string) and typed rows."""
    number_tags = st.sampled_from([*INT_TAGS, DataTag.FLOAT32, DataTag.FLOAT64])

    def rows_for(fields: list[DataTag], length: int, n: int) -> st.SearchStrategy[tuple[TypeSpec, list[Any]]]:
        spec = ArrayOf(StructureOf((DataTag.OCTET_STRING, *fields)))
        row = st.tuples(st.binary(min_size=length, max_size=length), *(leaf_value(tag) for tag in fields))
        return st.lists(row, min_size=n, max_size=n).map(lambda rows: (spec, rows))

    return st.tuples(
        st.lists(number_tags, min_size=1, max_size=8), st.integers(0, 20), st.integers(4, max_rows)
    ).flatmap(lambda args: rows_for(*args))
