"""Provisional charges as data arrives: one block-load interval, one day's fixed charge, over-drawl.

Rounding (the documented rule, domain.md §2 "Money"): every line is integer paise, half-up. A line
whose month-to-date amount is fixed by the month-to-date units (energy slabs, all-units/category
catch-up, free units, and the percentage lines on them), by the day of the month (fixed charge and
its percentages) or by the month's maximum demand (over-drawl penalty) is the *difference of the
rounded month-to-date amounts* after and before: ``round(cum(after)) - round(cum(before))``. Such
lines add up over a month to exactly the month bill's line, whatever the interval sizes, and tiny
intervals are neither lost nor rounded up. The ToD line of an interval (which depends on *when*
the energy was used) is rounded once per interval and enters the percentages' "after" amount.

Pure: no clock, no I/O; times, consumption and the tariff version are arguments.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from calendar import monthrange
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Callable
    from collections.abc import Set as AbstractSet

from openprepaid.wallet.tariff.compiled import DAY_TYPE_INDEX, CompiledTariff, CZone, Regime, SourceStep
from openprepaid.wallet.tariff.errors import RatingInputError
from openprepaid.wallet.tariff.line import UNIT_PERCENT, UNIT_W, UNIT_WH, ChargeLine, round_paise_ratio
from openprepaid.wallet.tariff.model import DayType, OverdrawlPolicy, TariffSpec

_EPSILON = timedelta(microseconds=1)
# ChargeLine(...) goes through a Python-level __new__; the tuple constructor is 2-3x faster on the hot path.
_new_line: Callable[[type[ChargeLine], tuple[str, int, int, str, Decimal | None]], ChargeLine] = tuple.__new__


def interval_local_date(interval_end_local: datetime) -> date:
    """The local date an interval belongs to: that of its last instant (an interval ending 00:00 is the day before).

    Use it to pick the month for ``month_to_date_wh_before`` and the ``day_type`` of the interval.
    """
    return (interval_end_local - _EPSILON).date()


def day_type_on(local_date: date, holidays: AbstractSet[date]) -> DayType | None:
    """The day type of a local date for ToD: ``HOLIDAY`` when it is one of ``holidays`` (the utility's public
    holidays), else ``None`` — weekday or weekend by the calendar (what ``rate_interval`` does by default)."""
    return DayType.HOLIDAY if local_date in holidays else None


def _percent(step: SourceStep, base: int) -> int:
    """One percentage step on ``base`` paise: ``sign × min(round(base × percent / 100), cap)``."""
    value = (step.num2 * base + step.den) // step.den2 if base >= 0 else -((step.den - step.num2 * base) // step.den2)
    cap = step.cap_paise
    if cap is not None and value > cap:
        value = cap
    return value * step.sign


def chain(steps: tuple[SourceStep, ...], amount: int, free: int = 0) -> list[int]:
    """Values of a source's percentage ``steps`` when the source's own amount is ``amount`` paise.

    ``free`` is the (negative) free-units waiver: free units are free of percentages too, so it is
    netted from the energy base of every step.
    """
    values: list[int] = []
    root = amount + free
    for step in steps:
        base = root if step.has_root else 0
        for i in step.prev:
            base += values[i]
        values.append(_percent(step, base))
    return values


def _free_units_paise(c: CompiledTariff, wh: int) -> int:
    """The month-to-date free-units waiver (as a positive amount) at ``wh`` month-to-date units."""
    assert c.free_units_wh is not None
    if c.free_units_max_wh is not None and wh > c.free_units_max_wh:
        return 0
    return c.regime_of(wh).total(min(wh, c.free_units_wh))


def zone_at(c: CompiledTariff, interval_end_local: datetime, day_type: DayType | None) -> CZone | None:
    """The ToD zone (with a non-neutral adjustment) of the interval ending at ``interval_end_local``.

    The zone, season and (default) day type are those of the interval's last instant, so an
    interval ending at 18:00 is in the zone before 18:00 and one ending at 00:00 in the day before.
    """
    table = c.zone_table
    if table is None:
        return None
    t = interval_end_local
    minute = t.hour * 60 + t.minute
    month = t.month
    weekday = t.weekday()
    if not (t.second or t.microsecond):
        minute -= 1  # the interval's last instant is just before its end
        if minute < 0:
            minute = 1439
            weekday = (weekday + 6) % 7
            if t.day == 1:
                month = month - 1 or 12
    if day_type is None:
        row = (month - 1) * 3 + (1 if weekday >= 5 else 0)
    else:
        row = (month - 1) * 3 + DAY_TYPE_INDEX[day_type]
    minutes = table[row]
    return None if minutes is None else minutes[minute]


def tod_zone_of(spec: TariffSpec, interval_end_local: datetime, day_type: DayType | None = None) -> str | None:
    """Name of the ToD zone of an interval, or ``None`` when no adjusting zone applies (normal hours, no ToD).

    The charging side sums each month's Wh per zone with it, for :func:`month_bill`'s ``zone_wh``.
    """
    zone = zone_at(spec.compiled, interval_end_local, day_type)
    return None if zone is None else zone.name


def rate_interval(
    spec: TariffSpec,
    *,
    energy_wh: int,
    interval_end_local: datetime,
    month_to_date_wh_before: int,
    day_type: DayType | None = None,
) -> list[ChargeLine]:
    """The provisional charge lines of one block-load interval.

    ``energy_wh``: the interval's import energy; ``month_to_date_wh_before``: the month's units already
    rated (the caller's month is the one of :func:`interval_local_date`); ``interval_end_local``:
    local wall-clock end (aware or naive); ``day_type``: that of the interval's date (default: weekday,
    or weekend on Saturday and Sunday). Telescopic slabs split the units across slab boundaries;
    all-units and categories rate at the band reached and, when the month moves into a dearer band
    or category, add an ``energy.catchup`` line re-rating the month's earlier units, so a month's
    lines always total its bill. Zero lines are left out; the result may be empty.
    """
    if energy_wh <= 0 or month_to_date_wh_before < 0:
        if energy_wh == 0 and month_to_date_wh_before >= 0:
            return []
        raise RatingInputError(f"energy_wh and month_to_date_wh_before must be >= 0, got {energy_wh}, "
                               f"{month_to_date_wh_before}")
    c = spec.compiled
    zone = zone_at(c, interval_end_local, day_type) if c.zone_table is not None else None
    return _rate(c, energy_wh, month_to_date_wh_before, zone)


def rate_zone_energy(spec: TariffSpec, *, energy_wh: int, tod_zone: str, month_to_date_wh_before: int
                     ) -> list[ChargeLine]:
    """The lines of ``energy_wh`` known to be in ToD zone ``tod_zone`` ('' or a neutral zone: no ToD line),
    on top of ``month_to_date_wh_before``: what ``rate_interval`` gives an interval in that zone (the
    daily true-up splits a day's register difference by zone)."""
    if energy_wh < 0 or month_to_date_wh_before < 0:
        raise RatingInputError(f"energy_wh and month_to_date_wh_before must be >= 0, got {energy_wh}, "
                               f"{month_to_date_wh_before}")
    if energy_wh == 0:
        return []
    c = spec.compiled
    known = {z.name for s in spec.tod.schedules for z in s.zones} if spec.tod is not None else set()
    if tod_zone and tod_zone not in known:
        raise RatingInputError(f"unknown ToD zone {tod_zone!r} (known: {sorted(known)})")
    return _rate(c, energy_wh, month_to_date_wh_before, c.zones.get(tod_zone) if tod_zone else None)


def _rate(c: CompiledTariff, energy_wh: int, month_to_date_wh_before: int, zone: CZone | None) -> list[ChargeLine]:
    before = month_to_date_wh_before
    after = before + energy_wh
    uppers = c.regime_uppers
    regime = c.regimes[bisect_left(uppers, after)]
    old = c.regimes[bisect_left(uppers, before)]
    den = regime.den
    den2 = den + den
    slabs = regime.slabs
    lines: list[ChargeLine] = []
    slab_paise = 0
    # All amounts here are >= 0, so half-up rounding is (2x + den) // 2den inline (round_paise_ratio).
    for j in range(bisect_right(regime.his, before), bisect_left(regime.his, after) + 1):
        slab = slabs[j]
        lo = slab.lo_wh
        hi = slab.hi_wh
        top = after if hi is None or after < hi else hi
        bottom = before if before > lo else lo
        rate_num2 = slab.rate_num + slab.rate_num
        amount = ((top - lo) * rate_num2 + den) // den2 - ((bottom - lo) * rate_num2 + den) // den2
        if amount:
            lines.append(_new_line(ChargeLine, (slab.component, amount, top - bottom, UNIT_WH, slab.rate)))
            slab_paise += amount
    need_totals = c.needs_month_totals
    total_before = total_after = 0
    if regime is not old:
        total_before, total_after = _catch_up(regime, old, lines, before, after)
    elif need_totals:
        total_after = regime.total(after)
        total_before = total_after - slab_paise
    tod_paise = 0
    if zone is not None:
        tod_paise = _tod_line(zone, lines, energy_wh, slab_paise)
    if need_totals:
        if c.free_units_wh is None:
            _percent_lines(c.energy_steps, lines, total_after + tod_paise, total_before, None)
        else:
            _free_and_percent_lines(c, lines, (before, after), total_after + tod_paise, total_before)
    return lines


def _catch_up(regime: Regime, old: Regime, lines: list[ChargeLine], before: int, after: int) -> tuple[int, int]:
    """The month moved into a dearer band or category: re-rate its earlier units; return the month totals."""
    old_total = old.total(before)
    catchup = regime.total(before) - old_total
    if catchup:
        lines.append(ChargeLine("energy.catchup", catchup, before, UNIT_WH, None))
    return old_total, regime.total(after)


def _free_and_percent_lines(c: CompiledTariff, lines: list[ChargeLine], span: tuple[int, int], root_after: int,
                            root_before: int) -> None:
    """The free-units line and the percentages, on energy net of the waiver (free units are free of them too)."""
    before, after = span
    free_before = -_free_units_paise(c, before)
    free_after = -_free_units_paise(c, after)
    free_line = None
    if free_after != free_before:
        free_line = ChargeLine("subsidy.free_units", free_after - free_before, after - before, UNIT_WH, None)
    _percent_lines(c.energy_steps, lines, root_after + free_after, root_before + free_before, free_line)


def _tod_line(zone: CZone, lines: list[ChargeLine], energy_wh: int, slab_paise: int) -> int:
    """Append the interval's ToD line (a multiplier on its slab lines, or ₹/kWh) and return its amount."""
    if zone.is_multiplier:
        tod_paise = round_paise_ratio(zone.num * slab_paise, zone.den)
    else:
        tod_paise = round_paise_ratio(zone.num * energy_wh, zone.den)
    if tod_paise:
        lines.append(_new_line(ChargeLine, (zone.component, tod_paise, energy_wh, UNIT_WH, zone.rate)))
    return tod_paise


def _percent_lines(steps: tuple[SourceStep, ...], lines: list[ChargeLine], root_after: int, root_before: int,
                   free_line: ChargeLine | None) -> None:
    """Append the energy side's percentage lines: ``chain`` after minus before, in one loop (the hot path).

    ``root_after`` includes this interval's ToD line, so a percentage line is
    ``round(p·(month-to-date energy after + ToD)) - round(p·month-to-date energy before)``: the ToD
    part is rounded once per line, and a ToD credit can never turn an interval's total negative.
    ``free_line`` (free units), if any, goes before the percentage subsidy.
    """
    values_after: list[int] = []
    values_before: list[int] = []
    for component, rate, sign, num2, den, den2, has_root, prev, cap, is_subsidy in steps:
        if has_root:
            a, b = root_after, root_before
        else:
            a = b = 0
        for i in prev:
            a += values_after[i]
            b += values_before[i]
        if is_subsidy and free_line is not None:
            lines.append(free_line)
            free_line = None
        if cap is None and a >= 0 and b >= 0:  # the usual case: round_paise_ratio inlined
            va = (num2 * a + den) // den2 * sign
            vb = (num2 * b + den) // den2 * sign
        else:
            step = SourceStep(component, rate, sign, num2, den, den2, has_root, prev, cap, is_subsidy)
            va, vb = _percent(step, a), _percent(step, b)
        values_after.append(va)
        values_before.append(vb)
        if va != vb:
            lines.append(_new_line(ChargeLine, (component, va - vb, 0, UNIT_PERCENT, rate)))
    if free_line is not None:
        lines.append(free_line)


def _source_lines(steps: tuple[SourceStep, ...], after: int, before: int) -> list[ChargeLine]:
    if not steps:
        return []
    values_after = chain(steps, after)
    values_before = chain(steps, before)
    return [
        ChargeLine(step.component, a - b, 0, UNIT_PERCENT, step.rate)
        for step, a, b in zip(steps, values_after, values_before, strict=True)
        if a != b
    ]


def daily_fixed_charge(spec: TariffSpec, *, sanctioned_load_w: int, local_date: date) -> list[ChargeLine]:
    """The fixed charge for ``local_date``: the monthly amount / days in that month, and percentages on it.

    Day ``d`` of a ``D``-day month is charged ``round(M·d/D) - round(M·(d-1)/D)`` so that a whole month
    of daily lines adds up to exactly the month bill's ``round(M)``; each day is within one paisa of M/D.
    """
    c = spec.compiled
    fixed = c.fixed
    if sanctioned_load_w < 0:
        raise RatingInputError(f"sanctioned_load_w must be >= 0, got {sanctioned_load_w}")
    if fixed is None:
        return []
    days = monthrange(local_date.year, local_date.month)[1]
    num, den, rate = fixed.exact(sanctioned_load_w)
    after = round_paise_ratio(num * local_date.day, den * days)
    before = round_paise_ratio(num * (local_date.day - 1), den * days)
    lines = []
    if after != before:
        quantity, unit = (sanctioned_load_w, UNIT_W) if fixed.per_kw else (0, "")
        lines.append(ChargeLine(fixed.component, after - before, quantity, unit, rate))
    lines.extend(_source_lines(c.fixed_steps, after, before))
    return lines


def penalty_paise(spec: TariffSpec, *, max_demand_w: int, sanctioned_load_w: int) -> int:
    """The month's over-drawl penalty for a maximum demand (0 under the ``trip`` policy)."""
    rule = spec.overdrawl
    if max_demand_w < 0 or sanctioned_load_w < 0:
        raise RatingInputError("max_demand_w and sanctioned_load_w must be >= 0")
    if rule is None or rule.policy is OverdrawlPolicy.TRIP:
        return 0
    threshold = sanctioned_load_w * (100 + rule.tolerance_percent) / 100
    if max_demand_w <= threshold:
        return 0
    excess_w = max_demand_w - sanctioned_load_w
    if rule.per_kw_month is not None:
        exact = rule.per_kw_month * excess_w / 10  # ₹/kW × W / 1000 × 100
    else:
        fixed = spec.compiled.fixed
        assert fixed is not None and rule.percent_of_fixed is not None  # checked when the spec was built
        _, _, rate = fixed.exact(sanctioned_load_w)
        exact = rate * rule.percent_of_fixed * excess_w / 1000
    numerator, denominator = exact.as_integer_ratio()
    return round_paise_ratio(numerator, denominator)


def overdrawl_penalty(
    spec: TariffSpec, *, max_demand_w: int, sanctioned_load_w: int, previous_max_demand_w: int = 0
) -> list[ChargeLine]:
    """Lines for the increase of the month's penalty when its maximum demand rises to ``max_demand_w``.

    Pass the month's previous maximum as ``previous_max_demand_w``; the lines over a month add up to
    the penalty of the month's maximum demand. Empty under the ``trip`` policy (the limiter acts).
    """
    after = penalty_paise(spec, max_demand_w=max_demand_w, sanctioned_load_w=sanctioned_load_w)
    before = penalty_paise(spec, max_demand_w=previous_max_demand_w, sanctioned_load_w=sanctioned_load_w)
    if after == before:
        return []
    rule = spec.overdrawl
    assert rule is not None
    rate = rule.per_kw_month if rule.per_kw_month is not None else rule.percent_of_fixed
    excess = max(0, max_demand_w - sanctioned_load_w)
    lines = [ChargeLine("penalty.overdrawl", after - before, excess, UNIT_W, rate)]
    lines.extend(_source_lines(spec.compiled.penalty_steps, after, before))
    return lines
