"""Precomputed integer tables for one tariff version, so rating does no Decimal arithmetic.

Every rate becomes an exact integer ratio (numerator over a power of ten). Energy: ``paise = Wh ×
rate_num / energy_den`` (₹/kWh × Wh / 10 = paise). A "regime" is the slab table in force for a range
of month-to-date units: a telescopic category, or one band of an all-units table. The month's
energy charge at ``u`` Wh is ``regime(u).total(u)``: per-slab amounts, each rounded half-up, summed —
exactly what the month bill shows, so interval lines that difference it add up to the bill.
"""

from __future__ import annotations

from bisect import bisect_left
from dataclasses import dataclass
from decimal import Decimal
from itertools import pairwise
from typing import TYPE_CHECKING, NamedTuple

from openprepaid.wallet.tariff.line import round_paise_ratio
from openprepaid.wallet.tariff.model import (
    GROUP_ORDER,
    DayType,
    Group,
    MonthlyAmount,
    SlabMode,
    TariffSpec,
    TimeOfDay,
    fail,
)

if TYPE_CHECKING:
    from collections.abc import Iterable

DAY_TYPE_INDEX = {DayType.WEEKDAY: 0, DayType.WEEKEND: 1, DayType.HOLIDAY: 2}
GROUP_INDEX = {g: i for i, g in enumerate(GROUP_ORDER)}
_WH_PER_KWH = 1000


def decimal_places(values: Iterable[Decimal]) -> int:
    places = 0
    for value in values:
        exponent = value.normalize().as_tuple().exponent
        assert isinstance(exponent, int)
        places = max(places, -exponent)
    return places


def scaled(value: Decimal, places: int) -> int:
    """``value × 10**places`` as an exact int (``places`` >= the value's decimal places)."""
    result = value.scaleb(places)
    assert result == result.to_integral_value(), (value, places)
    return int(result)


def to_wh(kwh: Decimal) -> int:
    return scaled(kwh, 3)


@dataclass(frozen=True, slots=True)
class CSlab:
    lo_wh: int
    hi_wh: int | None
    rate_num: int
    component: str
    rate: Decimal


@dataclass(frozen=True, slots=True)
class Regime:
    index: int
    upper_wh: int | None  # the regime applies while month-to-date Wh <= upper_wh
    slabs: tuple[CSlab, ...]
    his: tuple[int, ...]  # slab upper bounds (the open last slab excluded), for bisect
    prefix: tuple[int, ...]  # rounded full amounts of the slabs before slab j
    den: int

    def total(self, wh: int) -> int:
        """The month's energy paise at ``wh`` month-to-date units under this regime."""
        j = bisect_left(self.his, wh)
        slab = self.slabs[j]
        return self.prefix[j] + round_paise_ratio((wh - slab.lo_wh) * slab.rate_num, self.den)


@dataclass(frozen=True, slots=True)
class CZone:
    component: str  # energy.tod.<zone>
    name: str
    is_multiplier: bool
    num: int  # multiplier: (m - 1) = num/den; delta: paise = Wh × num / den
    den: int
    rate: Decimal


@dataclass(frozen=True, slots=True)
class Step:
    """One percentage line of the tariff: ``sign × min(round(base × num / den), cap)``."""

    component: str
    group: int
    sign: int
    num: int
    den: int
    base: tuple[int, ...]
    cap_paise: int | None
    is_subsidy: bool  # the percentage subsidy (capped monthly; not applied to ToD lines)
    rate: Decimal


class SourceStep(NamedTuple):
    """A ``Step`` resolved for one source (energy side, fixed, minimum, penalty), as plain fields.

    base = (the source's amount, net of free units, if ``has_root``) + the values of the earlier steps
    at ``prev``; value = ``sign × min(round(base·num2/2 / den), cap)``. ``is_subsidy`` marks the
    percentage subsidy.
    """

    component: str
    rate: Decimal
    sign: int
    num2: int
    den: int
    den2: int
    has_root: bool
    prev: tuple[int, ...]
    cap_paise: int | None
    is_subsidy: bool


@dataclass(frozen=True, slots=True)
class CMonthly:
    """A monthly amount in paise: ``load_w × num / den`` (per kW, band by load) or ``num / den`` (flat)."""

    component: str
    per_kw: bool
    uppers_w: tuple[int, ...]
    nums: tuple[int, ...]
    rates: tuple[Decimal, ...]
    den: int

    def exact(self, load_w: int) -> tuple[int, int, Decimal]:
        """(numerator, denominator, rate) of the monthly amount for ``load_w``."""
        if not self.per_kw:
            return self.nums[0], self.den, self.rates[0]
        j = bisect_left(self.uppers_w, load_w)
        return load_w * self.nums[j], self.den, self.rates[j]


@dataclass(frozen=True, slots=True)
class CompiledTariff:
    regimes: tuple[Regime, ...]
    regime_uppers: tuple[int, ...]
    energy_den: int
    zone_table: tuple[tuple[CZone | None, ...] | None, ...] | None  # [(month-1)*3 + day type] -> 1440 zones
    zones: dict[str, CZone]
    free_units_wh: int | None
    free_units_max_wh: int | None
    energy_steps: tuple[SourceStep, ...]
    fixed_steps: tuple[SourceStep, ...]
    minimum_steps: tuple[SourceStep, ...]
    penalty_steps: tuple[SourceStep, ...]
    fixed: CMonthly | None
    minimum: CMonthly | None
    needs_month_totals: bool  # the energy side has percentages or free units

    def regime_of(self, wh: int) -> Regime:
        return self.regimes[bisect_left(self.regime_uppers, wh)]


def _regimes(spec: TariffSpec, places: int) -> list[Regime]:
    den = 10 ** (places + 1)
    regimes: list[Regime] = []
    lower = 0
    for category in spec.energy.categories:
        upper = None if category.up_to_kwh is None else to_wh(category.up_to_kwh)
        lo = 0
        cslabs: list[CSlab] = []
        for k, slab in enumerate(category.table.slabs):
            hi = None if slab.up_to_kwh is None else to_wh(slab.up_to_kwh)
            cslabs.append(CSlab(lo, hi, scaled(slab.rate_per_kwh, places), f"energy.slab{k + 1}", slab.rate_per_kwh))
            lo = hi if hi is not None else lo
        if category.table.mode is SlabMode.TELESCOPIC:
            regimes.append(_regime(len(regimes), upper, cslabs, den))
        else:
            for band in cslabs:
                if band.hi_wh is not None and band.hi_wh <= lower:
                    continue  # the category starts above this band
                capped = upper if band.hi_wh is None or (upper is not None and upper <= band.hi_wh) else band.hi_wh
                whole = CSlab(0, None, band.rate_num, band.component, band.rate)
                regimes.append(_regime(len(regimes), capped, [whole], den))
                if capped == upper:
                    break
        lower = upper if upper is not None else lower
    return regimes


def _regime(index: int, upper: int | None, cslabs: list[CSlab], den: int) -> Regime:
    prefix = [0]
    for s in cslabs[:-1]:
        assert s.hi_wh is not None
        prefix.append(prefix[-1] + round_paise_ratio((s.hi_wh - s.lo_wh) * s.rate_num, den))
    his = tuple(s.hi_wh for s in cslabs[:-1] if s.hi_wh is not None)
    return Regime(index, upper, tuple(cslabs), his, tuple(prefix), den)


def _check_regimes(regimes: list[Regime]) -> None:
    """The charge never falls as units rise across a regime change (so a total is never negative)."""
    for old, new in pairwise(regimes):
        assert old.upper_wh is not None
        if new.total(old.upper_wh + 1) < old.total(old.upper_wh):
            raise fail("energy", f"the charge for {old.upper_wh + 1} Wh is less than for {old.upper_wh} Wh; "
                       "a dearer band or category must not make the month cheaper")


def _zone_table(tod: TimeOfDay, zones: dict[str, CZone]) -> tuple[tuple[CZone | None, ...] | None, ...]:
    table: list[tuple[CZone | None, ...] | None] = [None] * 36
    for schedule in tod.schedules:
        minutes: list[CZone | None] = [None] * 1440
        for zone in schedule.zones:
            parts = zone.minutes()
            for part in parts if isinstance(parts, tuple) else (parts,):
                for minute in part:
                    minutes[minute] = zones.get(zone.name)
        frozen = tuple(minutes)
        for month in schedule.months:
            for day_type in schedule.day_types:
                table[(month - 1) * 3 + DAY_TYPE_INDEX[day_type]] = frozen
    return tuple(table)


def _zones(tod: TimeOfDay) -> dict[str, CZone]:
    zones: dict[str, CZone] = {}
    for schedule in tod.schedules:
        for zone in schedule.zones:
            if zone.multiplier is not None:
                if zone.multiplier == 1:
                    continue  # the normal zone: no ToD line
                places = decimal_places([zone.multiplier])
                den = 10**places
                zones[zone.name] = CZone(f"energy.tod.{zone.name}", zone.name, True,
                                         scaled(zone.multiplier, places) - den, den, zone.multiplier)
            else:
                assert zone.delta_per_kwh is not None
                if zone.delta_per_kwh == 0:
                    continue
                places = decimal_places([zone.delta_per_kwh])
                zones[zone.name] = CZone(f"energy.tod.{zone.name}", zone.name, False,
                                         scaled(zone.delta_per_kwh, places), 10 ** (places + 1), zone.delta_per_kwh)
    return zones


def _monthly(amount: MonthlyAmount | None, component_per_kw: str, component_flat: str) -> CMonthly | None:
    if amount is None:
        return None
    if amount.flat_per_month is not None:
        places = decimal_places([amount.flat_per_month])
        return CMonthly(component_flat, False, (), (scaled(amount.flat_per_month, places) * 100,),
                        (amount.flat_per_month,), 10**places)
    rates = tuple(b.rate_per_kw_month for b in amount.per_kw_bands)
    places = decimal_places(rates)
    uppers = tuple(scaled(b.up_to_kw, 3) for b in amount.per_kw_bands if b.up_to_kw is not None)
    # ₹/kW/month × W / 1000 × 100 = paise: W × rate / 10
    return CMonthly(component_per_kw, True, uppers, tuple(scaled(r, places) for r in rates), rates, 10 ** (places + 1))


def _steps(spec: TariffSpec) -> list[Step]:
    items: list[tuple[Group, int, str, Decimal, frozenset[Group], Decimal | None]] = [
        *((Group.SURCHARGE, 1, p.name, p.percent, p.base, None) for p in spec.surcharges),
        *((Group.DUTY, 1, p.name, p.percent, p.base, None) for p in spec.duties),
    ]
    if spec.rebate is not None:
        items.append((Group.REBATE, -1, spec.rebate.name, spec.rebate.percent, spec.rebate.base, None))
    if spec.subsidy is not None and spec.subsidy.percent is not None:
        s = spec.subsidy.percent
        items.append((Group.SUBSIDY, -1, s.name, s.percent, s.base, s.cap_per_month))
    steps = []
    for group, sign, name, percent, base, cap in items:
        places = decimal_places([percent])
        steps.append(Step(
            f"{group.value}.{name}", GROUP_INDEX[group], sign, scaled(percent, places), 100 * 10**places,
            tuple(sorted(GROUP_INDEX[g] for g in base)),
            None if cap is None else scaled(cap, 2),
            group is Group.SUBSIDY, percent,
        ))
    return steps


def _steps_for(steps: list[Step], root: int, *, subsidy: bool) -> tuple[SourceStep, ...]:
    """The steps that can be non-zero in the source whose root group is ``root``, resolved for it."""
    chosen: list[Step] = []
    resolved: list[SourceStep] = []
    for step in steps:
        if step.is_subsidy and not subsidy:
            continue
        prev = tuple(i for i, earlier in enumerate(chosen) if earlier.group in step.base)
        has_root = root in step.base
        if has_root or prev:
            chosen.append(step)
            resolved.append(SourceStep(step.component, step.rate, step.sign, 2 * step.num, step.den, 2 * step.den,
                                       has_root, prev, step.cap_paise, step.is_subsidy))
    return tuple(resolved)


def compile_tariff(spec: TariffSpec) -> CompiledTariff:
    rates = [s.rate_per_kwh for c in spec.energy.categories for s in c.table.slabs]
    places = decimal_places(rates)
    regimes = _regimes(spec, places)
    _check_regimes(regimes)
    zones = _zones(spec.tod) if spec.tod is not None else {}
    cheapest = min(rates)
    for zone in zones.values():
        if not zone.is_multiplier and zone.rate + cheapest < 0:
            raise fail("tod", f"zone '{zone.name}' takes off ₹{-zone.rate}/kWh, more than the cheapest energy rate "
                       f"₹{cheapest}/kWh: a ToD rebate must not make energy negative")
    steps = _steps(spec)
    free = spec.subsidy.free_units if spec.subsidy is not None else None
    g = GROUP_INDEX
    fixed = _monthly(spec.fixed, "fixed.load", "fixed.flat")
    energy_steps = _steps_for(steps, g[Group.ENERGY], subsidy=True)
    return CompiledTariff(
        regimes=tuple(regimes),
        regime_uppers=tuple(r.upper_wh for r in regimes if r.upper_wh is not None),
        energy_den=10 ** (places + 1),
        zone_table=_zone_table(spec.tod, zones) if spec.tod is not None else None,
        zones=zones,
        free_units_wh=None if free is None else to_wh(free.kwh),
        free_units_max_wh=None if free is None or free.max_month_kwh is None else to_wh(free.max_month_kwh),
        energy_steps=energy_steps,
        fixed_steps=_steps_for(steps, g[Group.FIXED], subsidy=False),
        minimum_steps=_steps_for(steps, g[Group.MINIMUM], subsidy=False),
        penalty_steps=_steps_for(steps, g[Group.PENALTY], subsidy=False),
        fixed=fixed,
        minimum=_monthly(spec.minimum.amount, "minimum.monthly", "minimum.monthly") if spec.minimum else None,
        needs_month_totals=bool(energy_steps) or free is not None,
    )
