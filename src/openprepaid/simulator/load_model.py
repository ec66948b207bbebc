"""Seeded, reproducible consumption shapes for virtual meters (domestic, commercial, industrial).

Everything here is a pure function of (meter parameters, local day number, slot): a meter's past
is recomputed on demand instead of being stored. A day is 96 slots of 15 minutes in the meter's
local time; a slot's energy is an integer number of Wh, so registers and profiles that sum slots
agree exactly. The shapes are illustrative Indian patterns, not measured data: domestic load
peaks in the evening (18–23 h) and is lowest before dawn; commercial load follows opening hours;
industrial load follows day shifts; Sundays differ; summer (peak mid-May) raises cooling load.

Randomness comes from ``random.Random`` seeded with integers derived from the meter key and the
day (never from ``hash()`` of strings, which varies between processes), and from a 64-bit mixing
function for per-slot values read one at a time (voltage, frequency).
"""

from __future__ import annotations

import math
import random
from array import array
from dataclasses import dataclass
from datetime import date
from enum import StrEnum

SLOT_S = 900
SLOTS_PER_DAY = 96
DAY_S = 86_400
_EPOCH_ORDINAL = date(1970, 1, 1).toordinal()
_MASK64 = (1 << 64) - 1


class Category(StrEnum):
    DOMESTIC = "domestic"
    COMMERCIAL = "commercial"
    INDUSTRIAL = "industrial"


def _slots_from_hours(hourly: tuple[float, ...]) -> tuple[float, ...]:
    """Interpolate 24 hourly levels (at hour centres) to 96 slot weights that sum to 1."""
    weights = []
    for j in range(SLOTS_PER_DAY):
        h = (j + 0.5) / 4 - 0.5
        lo = math.floor(h)
        frac = h - lo
        weights.append(hourly[lo % 24] * (1 - frac) + hourly[(lo + 1) % 24] * frac)
    total = sum(weights)
    return tuple(w / total for w in weights)


@dataclass(frozen=True, slots=True)
class CategoryModel:
    weekday: tuple[float, ...]
    saturday: tuple[float, ...]
    sunday: tuple[float, ...]
    saturday_factor: float
    sunday_factor: float
    season_amplitude: float
    slot_noise: float  # half-width of the multiplicative uniform noise per slot
    spikes_per_day: int  # slots whose energy doubles (an appliance burst)
    pf_milli: tuple[int, int]  # range of the meter's base power factor, thousandths
    solar_share: float  # fraction of meters with rooftop solar
    solar_peak_w: tuple[int, int]


_DOMESTIC_WEEKDAY = (
    0.45,
    0.38,
    0.35,
    0.34,
    0.36,
    0.55,
    0.95,
    1.15,
    1.0,
    0.8,
    0.7,
    0.7,
    0.75,
    0.72,
    0.68,
    0.7,
    0.8,
    1.05,
    1.6,
    1.9,
    1.85,
    1.6,
    1.2,
    0.75,
)
_DOMESTIC_SUNDAY = (
    0.5,
    0.42,
    0.38,
    0.36,
    0.36,
    0.42,
    0.6,
    0.85,
    1.05,
    1.1,
    1.05,
    1.0,
    1.05,
    1.0,
    0.95,
    0.9,
    0.95,
    1.1,
    1.55,
    1.85,
    1.8,
    1.55,
    1.2,
    0.8,
)
_COMMERCIAL_WEEKDAY = (
    0.15,
    0.14,
    0.14,
    0.14,
    0.14,
    0.15,
    0.2,
    0.3,
    0.55,
    0.9,
    1.25,
    1.4,
    1.45,
    1.45,
    1.4,
    1.4,
    1.4,
    1.45,
    1.5,
    1.5,
    1.35,
    0.9,
    0.4,
    0.2,
)
_COMMERCIAL_SUNDAY = (
    0.15,
    0.14,
    0.14,
    0.14,
    0.14,
    0.14,
    0.16,
    0.2,
    0.3,
    0.45,
    0.7,
    0.85,
    0.9,
    0.9,
    0.9,
    0.9,
    0.9,
    0.95,
    1.0,
    0.95,
    0.7,
    0.4,
    0.2,
    0.16,
)
_INDUSTRIAL_WEEKDAY = (
    0.35,
    0.33,
    0.33,
    0.33,
    0.35,
    0.45,
    0.9,
    1.3,
    1.45,
    1.5,
    1.5,
    1.45,
    1.1,
    1.4,
    1.5,
    1.5,
    1.45,
    1.4,
    1.2,
    0.9,
    0.6,
    0.45,
    0.4,
    0.37,
)
_INDUSTRIAL_SUNDAY = (
    0.35,
    0.34,
    0.34,
    0.34,
    0.34,
    0.35,
    0.4,
    0.45,
    0.5,
    0.5,
    0.5,
    0.5,
    0.45,
    0.5,
    0.5,
    0.5,
    0.48,
    0.45,
    0.42,
    0.4,
    0.38,
    0.36,
    0.35,
    0.35,
)

MODELS: dict[Category, CategoryModel] = {
    Category.DOMESTIC: CategoryModel(
        _slots_from_hours(_DOMESTIC_WEEKDAY),
        _slots_from_hours(_DOMESTIC_WEEKDAY),
        _slots_from_hours(_DOMESTIC_SUNDAY),
        1.03,
        1.08,
        0.25,
        0.35,
        4,
        (900, 980),
        0.04,
        (1000, 3000),
    ),
    Category.COMMERCIAL: CategoryModel(
        _slots_from_hours(_COMMERCIAL_WEEKDAY),
        _slots_from_hours(_COMMERCIAL_WEEKDAY),
        _slots_from_hours(_COMMERCIAL_SUNDAY),
        1.0,
        0.55,
        0.15,
        0.15,
        2,
        (880, 960),
        0.08,
        (5000, 15000),
    ),
    Category.INDUSTRIAL: CategoryModel(
        _slots_from_hours(_INDUSTRIAL_WEEKDAY),
        _slots_from_hours(_INDUSTRIAL_WEEKDAY),
        _slots_from_hours(_INDUSTRIAL_SUNDAY),
        0.85,
        0.35,
        0.05,
        0.08,
        0,
        (820, 920),
        0.0,
        (0, 0),
    ),
}

#: Median daily energy (kWh) per category before the meter-type size factor.
MEDIAN_DAILY_KWH: dict[Category, float] = {
    Category.DOMESTIC: 5.0,
    Category.COMMERCIAL: 25.0,
    Category.INDUSTRIAL: 300.0,
}

_SOLAR_BELL = tuple(max(0.0, math.sin(math.pi * ((j + 0.5) / 4 - 6.5) / 12)) for j in range(SLOTS_PER_DAY))


def mix64(*parts: int) -> int:
    """A 64-bit hash of integers (SplitMix64 finaliser chained over the parts); stable across runs."""
    x = 0x9E3779B97F4A7C15
    for part in parts:
        x = (x ^ (part & _MASK64)) * 0xBF58476D1CE4E5B9 & _MASK64
        x = (x ^ (x >> 27)) * 0x94D049BB133111EB & _MASK64
        x ^= x >> 31
    return x


def unit_interval(*parts: int) -> float:
    """A float in [0, 1) determined by the parts."""
    return mix64(*parts) / 18446744073709551616.0


def local_day_of(local_s: int) -> int:
    return local_s // DAY_S


def weekday_of(day: int) -> int:
    """Monday = 0 ... Sunday = 6 for a day number counted from 1970-01-01 (a Thursday)."""
    return (day + 3) % 7


def day_of_year(day: int) -> int:
    return date.fromordinal(_EPOCH_ORDINAL + day).timetuple().tm_yday


@dataclass(frozen=True, slots=True)
class LoadParams:
    """One meter's load character; derived once from (seed, meter index)."""

    key: int
    category: Category
    daily_wh: float
    pf_milli: int
    solar_peak_w: int
    voltage_cv: int  # nominal plus this meter's feeder position, centivolts
    phase_shares: tuple[float, float, float]
    phase_offsets_cv: tuple[int, int, int]

    @classmethod
    def derive(
        cls, seed: int, index: int, category: Category, size_factor: float = 1.0, nominal_voltage_v: int = 230
    ) -> LoadParams:
        key = mix64(seed, index, 0x5EED)
        rng = random.Random(key)
        model = MODELS[category]
        daily_wh = MEDIAN_DAILY_KWH[category] * 1000 * size_factor * rng.lognormvariate(0, 0.45)
        pf_milli = rng.randint(*model.pf_milli)
        solar = rng.randint(*model.solar_peak_w) if rng.random() < model.solar_share else 0
        nominal_cv = nominal_voltage_v * 100
        voltage_cv = nominal_cv + int(nominal_cv * rng.uniform(-0.035, 0.025))
        shares = [rng.uniform(0.9, 1.1) for _ in range(3)]
        total = sum(shares)
        offsets = tuple(int(nominal_cv * rng.uniform(-0.006, 0.006)) for _ in range(3))
        return cls(
            key,
            category,
            daily_wh,
            pf_milli,
            solar,
            voltage_cv,
            (shares[0] / total, shares[1] / total, shares[2] / total),
            (offsets[0], offsets[1], offsets[2]),
        )


@dataclass(frozen=True, slots=True)
class DayEnergy:
    """A local day's 96 slot energies as the meter would measure them with supply all day.

    The power factor of slot ``j`` is ``pf_day_milli - PF_OFFSETS_MILLI[j]``.
    """

    day: int
    import_wh: array[int]
    export_wh: array[int]
    import_vah: array[int]
    pf_day_milli: int

    def pf_milli(self, slot: int) -> int:
        return self.pf_day_milli - PF_OFFSETS_MILLI[slot]

    def lag_varh(self, slot: int) -> int:
        """Reactive (lagging) energy of a slot, from its active and apparent energy."""
        vah = self.import_vah[slot]
        wh = self.import_wh[slot]
        return math.isqrt(vah * vah - wh * wh)


#: Power factor is lower at night, when motors and fans dominate the small load (thousandths).
PF_OFFSETS_MILLI = tuple(int(30 * (1 + math.cos(2 * math.pi * ((j + 0.5) / 4 - 3) / 24)) / 2) for j in range(96))
_ZEROS = array("l", [0] * SLOTS_PER_DAY)


def day_energy(params: LoadParams, day: int) -> DayEnergy:
    """The slot energies of ``day`` (local day number) for a meter with ``params``; deterministic."""
    model = MODELS[params.category]
    weekday = weekday_of(day)
    if weekday == 6:
        shape, factor = model.sunday, model.sunday_factor
    elif weekday == 5:
        shape, factor = model.saturday, model.saturday_factor
    else:
        shape, factor = model.weekday, 1.0
    season = 1 + model.season_amplitude * math.cos(2 * math.pi * (day_of_year(day) - 135) / 365.25)
    rng = random.Random(mix64(params.key, day))
    rand = rng.random
    day_wh = params.daily_wh * factor * season * rng.lognormvariate(0, 0.12)
    lo = day_wh * (1 - model.slot_noise)
    width = day_wh * 2 * model.slot_noise
    load = [int(w * (lo + width * rand()) + 0.5) for w in shape]
    for _ in range(model.spikes_per_day):
        j = rng.randrange(SLOTS_PER_DAY)
        load[j] *= 2
    pf_day = params.pf_milli - int(15 * rand())
    if params.solar_peak_w:
        peak_wh = params.solar_peak_w * 0.25 * (0.35 + 0.65 * rand())
        gen = [int(peak_wh * b) for b in _SOLAR_BELL]
        imp = [max(a - g, 0) for a, g in zip(load, gen, strict=True)]
        export = array("l", [max(g - a, 0) for a, g in zip(load, gen, strict=True)])
    else:
        imp = load
        export = _ZEROS
    vah = [e * 1000 // (pf_day - o) for e, o in zip(imp, PF_OFFSETS_MILLI, strict=True)]
    return DayEnergy(day, array("l", imp), export, array("l", vah), pf_day)


def slot_voltage_cv(params: LoadParams, slot: int, local_hour: float) -> int:
    """Supply voltage (centivolts) during an absolute slot number; sags in the afternoon/evening."""
    swing = 0.017 * math.cos(2 * math.pi * (local_hour - 3.5) / 24)
    noise = 0.013 * (unit_interval(params.key, slot, 1) - 0.5)
    return int(params.voltage_cv * (1 + swing + noise))


def frequency_chz(minute: int) -> int:
    """Grid frequency in centihertz for an absolute minute number (49.90 .. 50.10 Hz), the same fleet-wide."""
    return 5000 + int(20 * (unit_interval(minute, 2) - 0.5))
