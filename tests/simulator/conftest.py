"""Helpers for virtual meter tests: fixed local dates (IST) and a meter factory."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from openprepaid.meters.meter_types import SINGLE_PHASE_WHOLE_CURRENT, MeterType
from openprepaid.simulator.clock import to_epoch_s
from openprepaid.simulator.load_model import Category, LoadParams
from openprepaid.simulator.virtual_meter import VirtualMeter

IST = timezone(timedelta(hours=5, minutes=30))
DAY = 86_400
HOUR = 3600


def ist(*args: int) -> int:
    """Epoch seconds of a local (IST) date and time."""
    return to_epoch_s(datetime(*args, tzinfo=IST))  # type: ignore[misc]


def make_meter(
    index: int = 1,
    *,
    born: int | None = None,
    meter_type: MeterType = SINGLE_PHASE_WHOLE_CURRENT,
    category: Category = Category.DOMESTIC,
    seed: int = 7,
    **kwargs: object,
) -> VirtualMeter:
    params = LoadParams.derive(seed, index, category, 1.0, meter_type.nominal_voltage_v)
    return VirtualMeter(
        index,
        f"T{index:06d}",
        meter_type,
        params,
        ist(2025, 3, 2) if born is None else born,
        initial_import_wh=kwargs.pop("initial_import_wh", 1_000_000),  # type: ignore[arg-type]
        **kwargs,  # type: ignore[arg-type]
    )
