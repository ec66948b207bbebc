"""Whole-period bills: the month's exact total (for monthly reconciliation) and quotes.

The month bill applies the same rounding as the interval and daily lines (see ``rating``): per
slab, per ToD zone, the fixed charge of the charged days, and each percentage computed separately
on the energy side (energy and ToD lines), the fixed charge, the minimum charge and the penalty,
then summed into one line per component. So, for a tariff without ToD, the month's interval, daily and
penalty lines add up to this bill exactly; ToD lines differ only by per-line rounding (and, for
ToD multipliers on telescopic slabs, by the order in which the slabs were reached — the month
bill prices each zone's units at the month's average slab rate).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING

from openprepaid.wallet.tariff.compiled import GROUP_INDEX, SourceStep
from openprepaid.wallet.tariff.errors import RatingInputError
from openprepaid.wallet.tariff.line import UNIT_PERCENT, UNIT_W, UNIT_WH, Bill, ChargeLine, round_paise_ratio
from openprepaid.wallet.tariff.model import Group, TariffSpec
from openprepaid.wallet.tariff.rating import _free_units_paise, chain, penalty_paise

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

_G = GROUP_INDEX


class _Lines:
    """Lines keyed by component, merged across sources, in the order first added."""

    def __init__(self) -> None:
        self.by_component: dict[str, ChargeLine] = {}

    def add(self, line: ChargeLine) -> None:
        known = self.by_component.get(line.component)
        if known is None:
            self.by_component[line.component] = line
        else:
            self.by_component[line.component] = known._replace(
                amount_paise=known.amount_paise + line.amount_paise, quantity=known.quantity + line.quantity
            )

    def add_chain(self, steps: tuple[SourceStep, ...], amount: int, free: int = 0) -> None:
        for step, value in zip(steps, chain(steps, amount, free), strict=True):
            if value:
                self.add(ChargeLine(step.component, value, 0, UNIT_PERCENT, step.rate))


def _energy(spec: TariffSpec, lines: _Lines, month_wh: int) -> int:
    regime = spec.compiled.regime_of(month_wh)
    for slab in regime.slabs:
        top = month_wh if slab.hi_wh is None else min(month_wh, slab.hi_wh)
        if top > slab.lo_wh:
            amount = round_paise_ratio((top - slab.lo_wh) * slab.rate_num, regime.den)
            lines.add(ChargeLine(slab.component, amount, top - slab.lo_wh, UNIT_WH, slab.rate))
    return regime.total(month_wh)


def _tod(spec: TariffSpec, lines: _Lines, month_wh: int, energy_paise: int, zone_wh: Mapping[str, int]) -> int:
    c = spec.compiled
    known = {z.name for s in spec.tod.schedules for z in s.zones} if spec.tod is not None else set()
    if any(wh < 0 for wh in zone_wh.values()) or sum(zone_wh.values()) > month_wh:
        raise RatingInputError("zone_wh: each zone's Wh must be >= 0 and together at most month_wh")
    total = 0
    for name, wh in zone_wh.items():
        if name not in known:
            raise RatingInputError(f"zone_wh: unknown ToD zone {name!r} (known: {sorted(known)})")
        zone = c.zones.get(name)
        if zone is None or wh == 0:
            continue  # a neutral zone
        if zone.is_multiplier:
            amount = round_paise_ratio(zone.num * energy_paise * wh, zone.den * month_wh)
        else:
            amount = round_paise_ratio(zone.num * wh, zone.den)
        lines.add(ChargeLine(zone.component, amount, wh, UNIT_WH, zone.rate))
        total += amount
    return total


def month_bill(
    spec: TariffSpec,
    *,
    month_wh: int,
    sanctioned_load_w: int,
    days_in_month: int,
    zone_wh: Mapping[str, int] | None = None,
    max_demand_w: int | None = None,
    first_fixed_day: int = 1,
    last_fixed_day: int | None = None,
) -> Bill:
    """The exact month: what the month's interval, daily and penalty lines should add up to.

    ``zone_wh``: the month's Wh per ToD zone name (see ``tod_zone_of``); ``max_demand_w``: the month's
    maximum demand for the over-drawl penalty; fixed charge for days ``first_fixed_day`` ..
    ``last_fixed_day`` (default the whole month) — the same amounts ``daily_fixed_charge`` gives.
    The minimum charge, if any, makes up the difference when its base falls short.
    """
    last = days_in_month if last_fixed_day is None else last_fixed_day
    if month_wh < 0 or sanctioned_load_w < 0 or not 1 <= days_in_month <= 366:
        raise RatingInputError("month_wh and sanctioned_load_w must be >= 0 and days_in_month within 1..366")
    if not 1 <= first_fixed_day <= last + 1 or last > days_in_month:
        raise RatingInputError(f"fixed days {first_fixed_day}..{last} are not within 1..{days_in_month}")
    c = spec.compiled
    lines = _Lines()
    energy = _energy(spec, lines, month_wh)
    tod = _tod(spec, lines, month_wh, energy, zone_wh or {}) if month_wh else 0
    fixed = 0
    if c.fixed is not None:
        num, den, rate = c.fixed.exact(sanctioned_load_w)
        fixed = round_paise_ratio(num * last, den * days_in_month) - round_paise_ratio(
            num * (first_fixed_day - 1), den * days_in_month
        )
        quantity, unit = (sanctioned_load_w, UNIT_W) if c.fixed.per_kw else (0, "")
        if fixed:
            lines.add(ChargeLine(c.fixed.component, fixed, quantity, unit, rate))
    minimum = 0
    if c.minimum is not None and spec.minimum is not None:
        num, den, rate = c.minimum.exact(sanctioned_load_w)
        floor = round_paise_ratio(num, den)
        base = (energy + tod if Group.ENERGY in spec.minimum.base else 0) + (
            fixed if Group.FIXED in spec.minimum.base else 0
        )
        if base < floor:
            minimum = floor - base
            lines.add(ChargeLine("minimum.monthly", minimum, sanctioned_load_w, UNIT_W, rate))
    penalty = 0
    if max_demand_w is not None:
        penalty = penalty_paise(spec, max_demand_w=max_demand_w, sanctioned_load_w=sanctioned_load_w)
        if penalty:
            rule = spec.overdrawl
            assert rule is not None
            penalty_rate = rule.per_kw_month if rule.per_kw_month is not None else rule.percent_of_fixed
            lines.add(ChargeLine("penalty.overdrawl", penalty, max_demand_w - sanctioned_load_w, UNIT_W, penalty_rate))
    free = 0
    if c.free_units_wh is not None and (c.free_units_max_wh is None or month_wh <= c.free_units_max_wh):
        free = -c.regime_of(month_wh).total(min(month_wh, c.free_units_wh))
    if free:
        lines.add(ChargeLine("subsidy.free_units", free, min(month_wh, c.free_units_wh or 0), UNIT_WH, None))
    lines.add_chain(c.energy_steps, energy + tod, free)
    lines.add_chain(c.fixed_steps, fixed)
    lines.add_chain(c.minimum_steps, minimum)
    lines.add_chain(c.penalty_steps, penalty)
    ordered = sorted((line for line in lines.by_component.values() if line.amount_paise), key=_group_order)
    return Bill(tuple(ordered))


@dataclass(frozen=True, slots=True)
class VersionPart:
    """One tariff version's share of a month whose tariff changed: the energy it rated (and per ToD zone)
    and the days of the month on which it was in force for the fixed charge (``first > last``: none)."""

    spec: TariffSpec
    energy_wh: int
    zone_wh: Mapping[str, int]
    first_fixed_day: int
    last_fixed_day: int


def month_bill_by_version(
    parts: Sequence[VersionPart], *, sanctioned_load_w: int, days_in_month: int
) -> tuple[Bill, tuple[Bill, ...]]:
    """The exact bill of a month with tariff changes: the sum of per-version parts, and the parts.

    ``parts`` in consumption order (the versions' effective order). Energy: slabs on month-to-date units
    continue across the change — part k rates the units from the end of part k-1 onwards at its own
    version (a move into a dearer all-units band or category re-rates the earlier units at that
    version: ``energy.catchup``), exactly what interval rating does; ToD per zone on the part's energy;
    fixed charge for the part's days at its version (day d of a D-day month: ``round(M·d/D) −
    round(M·(d−1)/D)``, as charged daily); free units as the difference of the month-to-date waiver;
    percentages on each part's own amounts. The minimum charge is the month's: the last version's
    floor against the base summed over all parts, on the last part.
    """
    if sanctioned_load_w < 0 or not 1 <= days_in_month <= 366 or not parts:
        raise RatingInputError("sanctioned_load_w must be >= 0, days_in_month within 1..366, and parts not empty")
    bills: list[Bill] = []
    month = _Lines()
    start = 0
    base = 0
    last_spec = parts[-1].spec
    minimum_base = last_spec.minimum.base if last_spec.minimum is not None else frozenset()
    for index, part in enumerate(parts):
        if (
            part.energy_wh < 0
            or not 1 <= part.first_fixed_day <= days_in_month + 1
            or part.last_fixed_day > days_in_month
        ):
            raise RatingInputError(f"part {index}: energy must be >= 0 and fixed days within 1..{days_in_month}")
        lines = _Lines()
        c = part.spec.compiled
        end = start + part.energy_wh
        energy = _energy_between(part.spec, lines, start, end)
        tod = _tod(part.spec, lines, part.energy_wh, energy, part.zone_wh) if part.energy_wh else 0
        fixed = 0
        if c.fixed is not None and part.first_fixed_day <= part.last_fixed_day:
            num, den, rate = c.fixed.exact(sanctioned_load_w)
            fixed = round_paise_ratio(num * part.last_fixed_day, den * days_in_month) - round_paise_ratio(
                num * (part.first_fixed_day - 1), den * days_in_month
            )
            quantity, unit = (sanctioned_load_w, UNIT_W) if c.fixed.per_kw else (0, "")
            if fixed:
                lines.add(ChargeLine(c.fixed.component, fixed, quantity, unit, rate))
        free = 0
        if c.free_units_wh is not None:
            free = _free_units_paise(c, start) - _free_units_paise(c, end)
            if free:
                lines.add(ChargeLine("subsidy.free_units", free, part.energy_wh, UNIT_WH, None))
        lines.add_chain(c.energy_steps, energy + tod, free)
        lines.add_chain(c.fixed_steps, fixed)
        base += (energy + tod if Group.ENERGY in minimum_base else 0) + (fixed if Group.FIXED in minimum_base else 0)
        if index == len(parts) - 1:
            _month_minimum(last_spec, lines, sanctioned_load_w, base)
        bill = Bill(tuple(sorted((ln for ln in lines.by_component.values() if ln.amount_paise), key=_group_order)))
        bills.append(bill)
        # Into the month: every line, zero amounts too (a part's few Wh below a paisa still count in the
        # month's quantity); a load (W) is not summed across parts, energy (Wh) is.
        for line in lines.by_component.values():
            month.add(
                line._replace(quantity=0) if line.unit == UNIT_W and line.component in month.by_component else line
            )
        start = end
    total = Bill(tuple(sorted((ln for ln in month.by_component.values() if ln.amount_paise), key=_group_order)))
    return total, tuple(bills)


def _energy_between(spec: TariffSpec, lines: _Lines, start: int, end: int) -> int:
    """Slab lines (and catch-up) of the month-to-date units ``start`` .. ``end`` at ``spec``; their total."""
    c = spec.compiled
    regime, old = c.regime_of(end), c.regime_of(start)
    total = 0
    for slab in regime.slabs:
        top = end if slab.hi_wh is None else min(end, slab.hi_wh)
        bottom = max(start, slab.lo_wh)
        if top > bottom:
            amount = round_paise_ratio((top - slab.lo_wh) * slab.rate_num, regime.den) - round_paise_ratio(
                (bottom - slab.lo_wh) * slab.rate_num, regime.den
            )
            lines.add(ChargeLine(slab.component, amount, top - bottom, UNIT_WH, slab.rate))
            total += amount
    if regime is not old:
        catchup = regime.total(start) - old.total(start)
        if catchup:
            lines.add(ChargeLine("energy.catchup", catchup, start, UNIT_WH, None))
            total += catchup
    return total


def _month_minimum(spec: TariffSpec, lines: _Lines, sanctioned_load_w: int, base: int) -> None:
    c = spec.compiled
    if c.minimum is None or spec.minimum is None:
        return
    num, den, rate = c.minimum.exact(sanctioned_load_w)
    floor = round_paise_ratio(num, den)
    if base < floor:
        lines.add(ChargeLine("minimum.monthly", floor - base, sanctioned_load_w, UNIT_W, rate))
        lines.add_chain(c.minimum_steps, floor - base)


def _group_order(line: ChargeLine) -> tuple[int, int]:
    """Tariff order by group; within subsidies the free units come before the percentage (stable otherwise)."""
    group = line.component.split(".", 1)[0]
    return (_G[Group(group)], 0 if line.component == "subsidy.free_units" else 1)


def quote_period(
    spec: TariffSpec,
    *,
    kwh: Decimal,
    sanctioned_kw: Decimal,
    days: int,
    zone_kwh: Mapping[str, Decimal] | None = None,
    max_demand_kw: Decimal | None = None,
) -> Bill:
    """An itemised bill for one billing month of ``days`` days with ``kwh`` units (slabs as for a month)."""
    return month_bill(
        spec,
        month_wh=_whole(kwh, "kwh"),
        sanctioned_load_w=_whole(sanctioned_kw, "sanctioned_kw"),
        days_in_month=days,
        zone_wh={k: _whole(v, f"zone_kwh[{k}]") for k, v in (zone_kwh or {}).items()},
        max_demand_w=None if max_demand_kw is None else _whole(max_demand_kw, "max_demand_kw"),
    )


def _whole(value: Decimal, name: str) -> int:
    """kWh or kW -> Wh or W, refusing negatives and fractions of a Wh/W."""
    if not isinstance(value, Decimal) or not value.is_finite() or value < 0:
        raise RatingInputError(f"{name} must be a non-negative decimal number, got {value!r}")
    scaled = value.scaleb(3)
    if scaled != scaled.to_integral_value():
        raise RatingInputError(f"{name} has more than 3 decimal places (finer than 1 Wh/W): {value}")
    return int(scaled)
