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

from openprepaid.wallet.tariff.compiled import GROUP_INDEX, CompiledTariff, SourceStep
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
    fixed_after = fixed_before = 0
    if c.fixed is not None:
        fixed_after, fixed_before, rate = _fixed_amounts(spec, sanctioned_load_w, days_in_month, first_fixed_day, last)
        fixed = fixed_after - fixed_before
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
    free = 0
    if c.free_units_wh is not None and (c.free_units_max_wh is None or month_wh <= c.free_units_max_wh):
        free = -c.regime_of(month_wh).total(min(month_wh, c.free_units_wh))
    if free:
        lines.add(ChargeLine("subsidy.free_units", free, min(month_wh, c.free_units_wh or 0), UNIT_WH, None))
    lines.add_chain(c.energy_steps, energy + tod, free)
    _percent_difference(c.fixed_steps, lines, fixed_after, fixed_before)  # as the daily lines of those days
    lines.add_chain(c.minimum_steps, minimum)
    if max_demand_w is not None:
        _penalty(spec, lines, max_demand_w, sanctioned_load_w)
    ordered = sorted((line for line in lines.by_component.values() if line.amount_paise), key=_group_order)
    return Bill(tuple(ordered))


@dataclass(frozen=True, slots=True)
class VersionPart:
    """One tariff version's share of a month whose tariff changed: the energy it rated (and per ToD zone),
    the days of the month on which it was in force for the fixed charge (``first > last``: none), and — on
    the part of the version in force when the month's maximum demand occurred — that demand (W) for the
    over-drawl penalty."""

    spec: TariffSpec
    energy_wh: int
    zone_wh: Mapping[str, int]
    first_fixed_day: int
    last_fixed_day: int
    max_demand_w: int | None = None


@dataclass(slots=True)
class _MonthSoFar:
    """What the parts before the current one added up to: the month-to-date state the next part continues."""

    start_wh: int = 0  # month-to-date units
    energy_side: int = 0  # energy + ToD + free-units waiver, paise (the root of the energy percentages)
    waived: int = 0  # free-units waiver granted so far (>= 0 paise) and its Wh
    waived_wh: int = 0
    subsidy_uncapped: int = 0  # the percentage subsidy so far without its cap (>= 0 paise)
    subsidised: int = 0  # the percentage subsidy granted so far (>= 0 paise)
    minimum_base: int = 0


def month_bill_by_version(
    parts: Sequence[VersionPart], *, sanctioned_load_w: int, days_in_month: int
) -> tuple[Bill, tuple[Bill, ...]]:
    """The exact bill of a month with tariff changes: the sum of per-version parts, and the parts.

    ``parts`` in consumption order (the versions' effective order). Everything monthly continues across
    the parts, each part priced at its own version, so parts of one unchanged version add up to
    ``month_bill`` exactly (without ToD):

    - energy: slabs on month-to-date units — part k rates the units from the end of part k-1 onwards (a move
      into a dearer all-units band or category re-rates the earlier units at that version:
      ``energy.catchup``), exactly what interval rating does; ToD per zone on the part's energy;
    - fixed charge for the part's days at its version (day d of a D-day month: ``round(M·d/D) −
      round(M·(d−1)/D)``, as charged daily), and its percentages as the daily lines give them;
    - free units: each part waives, at its version, the month's units it rated below that version's free
      units; when the month's units pass the ``max_month_kwh`` of the part's version, everything waived so
      far in the month is taken back — the amount that was waived, not a re-pricing;
    - energy-side percentages (surcharges, duties, rebate, subsidy) at the part's version on the month-to-date
      energy side: ``p × (month so far + this part) − p × (month so far)``, each rounded;
    - the percentage subsidy's ``cap_per_month`` is the month's, not the part's: parts are granted in order
      until the month's total reaches the cap of the version being applied (a part whose version has a
      lower cap than what was granted already gets nothing; nothing granted is taken back), so the month's
      subsidy never exceeds the largest cap in force that month, and never a single version's cap twice;
    - the minimum charge is the month's: the last version's floor against the base summed over all parts,
      on the last part; the over-drawl penalty is on the part carrying ``max_demand_w`` (at most one).
    """
    if sanctioned_load_w < 0 or not 1 <= days_in_month <= 366 or not parts:
        raise RatingInputError("sanctioned_load_w must be >= 0, days_in_month within 1..366, and parts not empty")
    if sum(part.max_demand_w is not None for part in parts) > 1:
        raise RatingInputError("the month's maximum demand belongs to one part only")
    bills: list[Bill] = []
    month = _Lines()
    so_far = _MonthSoFar()
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
        end = so_far.start_wh + part.energy_wh
        energy = _energy_between(part.spec, lines, so_far.start_wh, end)
        tod = _tod(part.spec, lines, part.energy_wh, energy, part.zone_wh) if part.energy_wh else 0
        fixed_after, fixed_before = _part_fixed(part, lines, sanctioned_load_w, days_in_month)
        fixed = fixed_after - fixed_before
        free = _part_free_units(c, lines, so_far, end)
        root_before = so_far.energy_side
        so_far.energy_side += energy + tod + free
        _percent_difference(c.energy_steps, lines, so_far.energy_side, root_before, so_far)
        _percent_difference(c.fixed_steps, lines, fixed_after, fixed_before)  # as the daily lines of its days
        so_far.minimum_base += (energy + tod if Group.ENERGY in minimum_base else 0) + (
            fixed if Group.FIXED in minimum_base else 0
        )
        if index == len(parts) - 1:
            _month_minimum(last_spec, lines, sanctioned_load_w, so_far.minimum_base)
        if part.max_demand_w is not None:
            _penalty(part.spec, lines, part.max_demand_w, sanctioned_load_w)
        bill = Bill(tuple(sorted((ln for ln in lines.by_component.values() if ln.amount_paise), key=_group_order)))
        bills.append(bill)
        # Into the month: every line, zero amounts too (a part's few Wh below a paisa still count in the
        # month's quantity); a load (W) is not summed across parts, energy (Wh) is.
        for line in lines.by_component.values():
            month.add(
                line._replace(quantity=0) if line.unit == UNIT_W and line.component in month.by_component else line
            )
        so_far.start_wh = end
    total = Bill(tuple(sorted((ln for ln in month.by_component.values() if ln.amount_paise), key=_group_order)))
    return total, tuple(bills)


def _fixed_amounts(
    spec: TariffSpec, sanctioned_load_w: int, days_in_month: int, first: int, last: int
) -> tuple[int, int, Decimal]:
    """The fixed charge's month-to-date amounts after day ``last`` and after day ``first - 1``, and its rate."""
    fixed = spec.compiled.fixed
    assert fixed is not None
    num, den, rate = fixed.exact(sanctioned_load_w)
    return (
        round_paise_ratio(num * last, den * days_in_month),
        round_paise_ratio(num * (first - 1), den * days_in_month),
        rate,
    )


def _part_fixed(part: VersionPart, lines: _Lines, sanctioned_load_w: int, days_in_month: int) -> tuple[int, int]:
    """The fixed charge line of the part's days; its month-to-date amounts (after, before) for the percentages."""
    c = part.spec.compiled
    if c.fixed is None or part.first_fixed_day > part.last_fixed_day:
        return 0, 0
    after, before, rate = _fixed_amounts(
        part.spec, sanctioned_load_w, days_in_month, part.first_fixed_day, part.last_fixed_day
    )
    quantity, unit = (sanctioned_load_w, UNIT_W) if c.fixed.per_kw else (0, "")
    if after != before:
        lines.add(ChargeLine(c.fixed.component, after - before, quantity, unit, rate))
    return after, before


def _part_free_units(c: CompiledTariff, lines: _Lines, so_far: _MonthSoFar, end: int) -> int:
    """The part's free-units line (negative: waived; positive: the month's waiver taken back); updates ``so_far``."""
    if c.free_units_wh is None:
        return 0
    start = so_far.start_wh
    if c.free_units_max_wh is not None and end > c.free_units_max_wh:
        free, quantity = so_far.waived, -so_far.waived_wh  # the month is above the limit: take it all back
        so_far.waived = so_far.waived_wh = 0
    else:
        waiver = _free_units_paise(c, end) - _free_units_paise(c, start)
        quantity = min(end, c.free_units_wh) - min(start, c.free_units_wh)
        free = -waiver
        so_far.waived += waiver
        so_far.waived_wh += quantity
    if free or quantity:
        lines.add(ChargeLine("subsidy.free_units", free, quantity, UNIT_WH, None))
    return free


def _percent_difference(
    steps: tuple[SourceStep, ...], lines: _Lines, after: int, before: int, month: _MonthSoFar | None = None
) -> None:
    """Percentage lines ``chain(after) − chain(before)`` at one version (a source's month-to-date amounts).

    The percentage subsidy is the month's: with ``U`` its uncapped amount so far (each part's percentage of
    its own base, summed) and ``S`` what was granted so far (``month``), a part at a version capped at ``C``
    brings the month to ``min(U, max(C, S))`` — up to the cap of the version being applied, never more, and
    never less than what was granted (unless the uncapped amount itself fell). One unchanged version thus
    gives ``min(p × base, C)`` exactly, however the month is split.
    """
    uncapped = tuple(step._replace(cap_paise=None) if step.is_subsidy else step for step in steps)
    for step, value_after, value_before in zip(steps, chain(uncapped, after), chain(uncapped, before), strict=True):
        value = value_after - value_before
        if step.is_subsidy:
            assert month is not None, "the subsidy is on the energy side only"
            month.subsidy_uncapped -= value
            ceiling = month.subsidy_uncapped if step.cap_paise is None else max(step.cap_paise, month.subsidised)
            granted = min(month.subsidy_uncapped, ceiling) - month.subsidised
            month.subsidised += granted
            value = -granted
        if value:
            lines.add(ChargeLine(step.component, value, 0, UNIT_PERCENT, step.rate))


def _penalty(spec: TariffSpec, lines: _Lines, max_demand_w: int, sanctioned_load_w: int) -> int:
    """The month's over-drawl penalty line (and its percentages) at ``spec``; returns its amount."""
    penalty = penalty_paise(spec, max_demand_w=max_demand_w, sanctioned_load_w=sanctioned_load_w)
    if penalty:
        rule = spec.overdrawl
        assert rule is not None
        rate = rule.per_kw_month if rule.per_kw_month is not None else rule.percent_of_fixed
        lines.add(ChargeLine("penalty.overdrawl", penalty, max_demand_w - sanctioned_load_w, UNIT_W, rate))
        lines.add_chain(spec.compiled.penalty_steps, penalty)
    return penalty


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
