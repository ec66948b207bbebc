"""Block-load mapping: the integer fast path scales exactly as the Decimal reference (energy_wh, quantity)."""

from __future__ import annotations

import random
from datetime import UTC, datetime

import pytest

from openprepaid.hes.profile_mapping import ProfileMappingError, block_rows, energy_wh, quantity
from openprepaid.hes.session import CLOCK, CaptureColumn, ProfileCapture, ScalerUnit

COLUMNS = (
    CaptureColumn(8, CLOCK, 2),
    CaptureColumn(3, "1.0.12.27.0.255", 2),
    CaptureColumn(3, "1.0.1.29.0.255", 2),
    CaptureColumn(3, "1.0.9.29.0.255", 2),
    CaptureColumn(3, "1.0.11.27.0.255", 2),
)
AT = datetime(2026, 11, 24, 5, 30, tzinfo=UTC)


def mapped(values: tuple[object, ...], scaler: int) -> dict[str, object]:
    scalers = {column.obis: ScalerUnit(scaler, 30) for column in COLUMNS[1:]}
    capture = ProfileCapture(columns=COLUMNS, rows=((AT, *values),))
    return block_rows(capture, scalers, meter_id=1, capture_period_s=900, stamp="end", received_at=AT)[0]


@pytest.mark.parametrize("scaler", [-4, -3, -2, -1, 0, 1, 3])
def test_integer_values_scale_like_the_decimal_reference(scaler):
    rng = random.Random(scaler)
    scalers = {"x": ScalerUnit(scaler, 30)}
    for _ in range(2_000):
        value = rng.choice([rng.randint(-(10**7), 10**7), rng.randint(-60, 60) * 10 + 5, rng.randint(0, 10**12)])
        row = mapped((value, value, value, value), scaler)
        assert row["import_wh"] == energy_wh(value, "x", scalers)
        assert type(row["import_wh"]) is int
        assert row["avg_voltage_v"] == quantity(value, "x", scalers)
        assert row["avg_current_a"] == quantity(value, "x", scalers)


def test_half_up_ties_round_away_from_zero():
    assert mapped((0, 25, 0, 0), -1)["import_wh"] == 3
    assert mapped((0, -25, 0, 0), -1)["import_wh"] == -3
    assert mapped((0, 24, 0, 0), -1)["import_wh"] == 2


def test_floats_booleans_and_missing_values_take_the_general_path():
    row = mapped((2301.5, 1.25, None, None), -1)
    assert row["avg_voltage_v"] == 230.15 and row["import_wh"] == 0 and row["apparent_vah"] == 0
    assert row["avg_current_a"] is None
    with pytest.raises(ProfileMappingError, match="expected a number"):
        mapped((2301, True, 0, 0), -1)
    with pytest.raises(ProfileMappingError, match="without import energy"):
        mapped((2301, None, 0, 0), -1)
    with pytest.raises(ProfileMappingError, match="out of range"):
        mapped((2301, 10**19, 0, 0), 0)
