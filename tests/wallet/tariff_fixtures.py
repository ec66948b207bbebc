"""Shared helpers for the tariff tests: the example files and small specs built in code."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

from openprepaid.wallet.tariff import (
    EnergyCharge,
    Group,
    PercentCharge,
    Slab,
    SlabMode,
    TariffSpec,
)
from openprepaid.wallet.tariff_document import load_tariff

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "tariffs"
IST = timezone(timedelta(hours=5, minutes=30))
D = Decimal


def example(name: str) -> TariffSpec:
    return load_tariff(EXAMPLES / name)


def spec(**parts: object) -> TariffSpec:
    """A tariff with a default single telescopic table; ``parts`` override TariffSpec fields."""
    fields: dict[str, object] = {
        "code": "T",
        "name": "test",
        "category": "domestic",
        "version": 1,
        "effective_from": datetime(2024, 4, 1, tzinfo=IST),
        "energy": EnergyCharge.single(SlabMode.TELESCOPIC, (Slab(D("3.00"), D(100)), Slab(D("5.00")))),
    }
    fields.update(parts)
    return TariffSpec(**fields)  # type: ignore[arg-type]


def percent(name: str, value: str, *base: Group) -> PercentCharge:
    return PercentCharge(name, D(value), frozenset(base))
