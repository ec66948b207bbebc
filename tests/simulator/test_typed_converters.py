"""Column converters give exactly what ``typed`` gives (same type, value and errors)."""

from __future__ import annotations

import random

import pytest

from openprepaid.simulator.typed_values import INTEGER_TYPE_BY_NAME, converter_for, typed

TYPES = [*INTEGER_TYPE_BY_NAME, "date-time", "boolean", "visible-string", "octet-string"]


@pytest.mark.parametrize("value_type", TYPES)
def test_converter_matches_typed(value_type):
    rng = random.Random(value_type)
    convert = converter_for(value_type, 19_800)
    raws = [0, 1, -1, 255, 256, 65_536, 2**31, -(2**31) - 5, 2**64 + 3, 1_764_000_000]
    raws += [rng.randint(-(2**40), 2**40) for _ in range(200)]
    for raw in raws:
        if value_type == "date-time" and not 0 <= raw < 4_000_000_000:
            continue
        expected = typed(value_type, raw, 19_800)
        for _ in range(2):  # the second time from the memo
            got = convert(raw)
            assert got == expected and type(got) is type(expected)


@pytest.mark.parametrize("value_type", [*INTEGER_TYPE_BY_NAME, "date-time"])
def test_non_integers_are_refused_alike(value_type):
    convert = converter_for(value_type)
    for raw in (True, 1.5, "7"):
        with pytest.raises(TypeError):
            typed(value_type, raw)
        with pytest.raises(TypeError):
            convert(raw)
