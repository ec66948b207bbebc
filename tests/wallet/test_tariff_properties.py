"""Properties of the tariff functions over generated tariffs and consumption (hypothesis).

The rounding tolerance (see docs/tariff-format.md "Rounding"):
- Without ToD, lines are differences of rounded month-to-date amounts, so rating a month interval by
  interval (month_to_date accumulating) gives EXACTLY the month bill, group by group: tolerance 0,
  for telescopic and all-units slabs, categories, free units, capped subsidies and chained
  percentages alike. Daily fixed lines likewise add up exactly to the month's fixed charge.
- With ₹/kWh ToD deltas, each ToD-rated interval's ToD line is rounded once (at most ½ paisa off) and
  each percentage line is at most 1 paisa off on its ToD part; the month bill rounds each zone and
  each percentage once more, so |Σ intervals − month bill| ≤ (1 + 3s)·(N + Z + 1)/2 paise,
  N = ToD-rated intervals, Z = zones, s = percentage steps on energy (each ≤ 100 %).
"""

from __future__ import annotations

import os
from calendar import monthrange
from datetime import date, datetime, timedelta
from decimal import Decimal, localcontext

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from openprepaid.wallet.money import round_paise
from openprepaid.wallet.tariff import (
    DayType,
    EnergyCategory,
    EnergyCharge,
    FreeUnits,
    Group,
    LoadBand,
    MonthlyAmount,
    PercentCharge,
    PercentSubsidy,
    Slab,
    SlabMode,
    SlabTable,
    Subsidy,
    TariffSpec,
    TariffSpecError,
    TimeOfDay,
    TodSchedule,
    TodZone,
    daily_fixed_charge,
    month_bill,
    quote_period,
    rate_interval,
    round_paise_ratio,
    tod_zone_of,
)
from tests.wallet.tariff_fixtures import spec

GROUPS = ("energy", "fixed", "minimum", "penalty", "surcharge", "duty", "rebate", "subsidy")
FAST = settings(max_examples=int(os.environ.get("TARIFF_PROPERTY_EXAMPLES", "100")), deadline=None)

rates = st.integers(0, 2000).map(lambda n: Decimal(n).scaleb(-2))  # ₹0.00 .. ₹20.00
percents = st.integers(0, 2000).map(lambda n: Decimal(n).scaleb(-2))  # 0 .. 20 %


@st.composite
def slab_tables(draw, mode=None, min_rate=0):
    mode = mode or draw(st.sampled_from(list(SlabMode)))
    bounds = sorted(set(draw(st.lists(st.integers(1, 2000), max_size=4))))
    slab_rates = draw(st.lists(st.integers(min_rate, 2000).map(lambda n: Decimal(n).scaleb(-2)),
                               min_size=len(bounds) + 1, max_size=len(bounds) + 1))
    if mode is SlabMode.ALL_UNITS:
        slab_rates.sort()
    slabs = [Slab(r, Decimal(b)) for r, b in zip(slab_rates, bounds, strict=False)] + [Slab(slab_rates[-1])]
    return SlabTable(mode, tuple(slabs))


@st.composite
def energies(draw, *, categories=True, min_rate=0):
    if categories and draw(st.booleans()):
        tables = draw(st.lists(slab_tables(min_rate=min_rate), min_size=2, max_size=3))
        limits = sorted(set(draw(st.lists(st.integers(1, 1500), min_size=len(tables) - 1,
                                          max_size=len(tables) - 1))))
        assume(len(limits) == len(tables) - 1)
        cats = [EnergyCategory(t, Decimal(u)) for t, u in zip(tables, limits, strict=False)]
        return EnergyCharge((*cats, EnergyCategory(tables[-1])))
    return EnergyCharge((EnergyCategory(draw(slab_tables(min_rate=min_rate))),))


@st.composite
def tariffs(draw, *, categories=True, free_units=True, tod=None):
    energy = draw(energies(categories=categories, min_rate=40 if tod else 0))  # ToD rebates up to ₹0.40
    parts: dict[str, object] = {"energy": energy}
    if draw(st.booleans()):
        parts["fixed"] = MonthlyAmount(per_kw_bands=(LoadBand(draw(rates), Decimal(5)), LoadBand(draw(rates))))
    base_choices = st.sampled_from([{Group.ENERGY}, {Group.ENERGY, Group.FIXED}])
    parts["surcharges"] = tuple(PercentCharge(f"s{i}", draw(percents), frozenset(draw(base_choices)))
                                for i in range(draw(st.integers(0, 2))))
    duty_base = st.sampled_from([{Group.ENERGY}, {Group.ENERGY, Group.FIXED, Group.SURCHARGE}])
    parts["duties"] = tuple(PercentCharge(f"d{i}", draw(percents), frozenset(draw(duty_base)))
                            for i in range(draw(st.integers(0, 1))))
    if draw(st.booleans()):
        parts["rebate"] = PercentCharge("prepaid", Decimal(draw(st.integers(0, 1000))).scaleb(-2),
                                        frozenset({Group.ENERGY, Group.DUTY}))
    subsidy_free = None
    if free_units and tod is None and len(energy.categories) == 1 and draw(st.booleans()):
        limit = draw(st.none() | st.integers(1, 1500).map(Decimal))
        subsidy_free = FreeUnits(Decimal(draw(st.integers(0, 300))), limit)
    subsidy_pct = None
    if tod is None and draw(st.booleans()):
        cap = draw(st.none() | st.integers(0, 100_000).map(lambda n: Decimal(n).scaleb(-2)))
        subsidy_pct = PercentSubsidy("state", Decimal(draw(st.integers(0, 50))), frozenset({Group.ENERGY}), cap)
    if subsidy_free or subsidy_pct:
        parts["subsidy"] = Subsidy(subsidy_free, subsidy_pct)
    if tod is not None:
        parts["tod"] = tod
    try:
        return spec(**parts)
    except TariffSpecError:
        assume(False)
        raise


def interval_sums(tariff: TariffSpec, pieces: list[int], ends: list[datetime] | None = None) -> dict[str, int]:
    sums = dict.fromkeys(GROUPS, 0)
    mtd = 0
    for i, wh in enumerate(pieces):
        end = ends[i] if ends else datetime(2024, 5, 1, 12, 0)
        for line in rate_interval(tariff, energy_wh=wh, interval_end_local=end, month_to_date_wh_before=mtd):
            sums[line.component.split(".")[0]] += line.amount_paise
        mtd += wh
    return sums


def bill_sums(bill) -> dict[str, int]:
    return {group: bill.amount_of(group) for group in GROUPS}


pieces_strategy = st.lists(st.integers(0, 40_000), min_size=1, max_size=60)


@given(st.integers(-(10**30), 10**30), st.integers(1, 10**12))
def test_integer_rounding_is_money_round_paise(numerator, denominator):
    with localcontext() as ctx:
        ctx.prec = 100
        expected = round_paise(Decimal(numerator) / Decimal(denominator))
    assert round_paise_ratio(numerator, denominator) == expected


@FAST
@given(tariffs(), pieces_strategy)
def test_intervals_add_up_to_the_month_bill_exactly_without_tod(tariff, pieces):
    """Telescopic, all-units (catch-up), categories, subsidies, chained percentages: tolerance 0."""
    bill = month_bill(tariff, month_wh=sum(pieces), sanctioned_load_w=0, days_in_month=30)
    sums = interval_sums(tariff, pieces)
    assert sums == {**bill_sums(bill), "fixed": 0, "minimum": 0, "penalty": 0}
    assert sum(sums.values()) == bill.total_paise


@FAST
@given(tariffs(categories=False), st.integers(0, 3_000_000), st.integers(0, 3_000_000))
def test_splitting_a_month_anywhere_gives_the_same_total(tariff, a, b):
    whole = interval_sums(tariff, [a + b])
    split = interval_sums(tariff, [a, b])
    assert whole == split


@FAST
@given(tariffs(), st.integers(0, 2_000_000), st.integers(1, 50_000))
def test_month_bill_is_monotone_in_units(tariff, wh, extra):
    assume(tariff.subsidy is None or tariff.subsidy.free_units is None or len(tariff.energy.categories) == 1)
    smaller = month_bill(tariff, month_wh=wh, sanctioned_load_w=3_000, days_in_month=30).total_paise
    larger = month_bill(tariff, month_wh=wh + extra, sanctioned_load_w=3_000, days_in_month=30).total_paise
    assert larger >= smaller


@FAST
@given(tariffs(), pieces_strategy)
def test_totals_are_never_negative(tariff, pieces):
    mtd = 0
    for wh in pieces:
        lines = rate_interval(tariff, energy_wh=wh, interval_end_local=datetime(2024, 5, 1),
                              month_to_date_wh_before=mtd)
        assert sum(line.amount_paise for line in lines) >= 0
        assert all(line.amount_paise != 0 for line in lines)
        mtd += wh
    assert month_bill(tariff, month_wh=mtd, sanctioned_load_w=4_000, days_in_month=31).total_paise >= 0


@FAST
@given(tariffs(categories=False, free_units=False), st.integers(0, 60_000), st.integers(2020, 2030),
       st.integers(1, 12))
def test_daily_fixed_lines_add_up_to_the_month_bill(tariff, load_w, year, month):
    days = monthrange(year, month)[1]
    daily = [line for d in range(1, days + 1)
             for line in daily_fixed_charge(tariff, sanctioned_load_w=load_w, local_date=date(year, month, d))]
    bill = month_bill(tariff, month_wh=0, sanctioned_load_w=load_w, days_in_month=days)
    for group in ("fixed", "surcharge", "duty", "rebate"):
        assert sum(ln.amount_paise for ln in daily if ln.component.startswith(group + ".")) == bill.amount_of(group)


ZONES = (TodZone("night", 0, 360, delta_per_kwh=Decimal("-0.40")), TodZone("day", 360, 1080, multiplier=Decimal(1)),
         TodZone("evening", 1080, 1440, delta_per_kwh=Decimal("1.25")))
DELTA_TOD = TimeOfDay((TodSchedule("all", frozenset(range(1, 13)), frozenset(DayType), ZONES),))


@FAST
@given(tariffs(tod=DELTA_TOD), st.lists(st.tuples(st.integers(0, 20_000), st.integers(0, 95)), min_size=1,
                                        max_size=96))
def test_tod_deltas_stay_within_the_stated_per_line_tolerance(tariff, intervals):
    start = datetime(2024, 5, 1)
    ends = [start + timedelta(minutes=15 * (slot + 1)) for _, slot in intervals]
    pieces = [wh for wh, _ in intervals]
    zone_wh: dict[str, int] = {}
    for wh, end in zip(pieces, ends, strict=True):
        zone = tod_zone_of(tariff, end)
        if zone is not None:
            zone_wh[zone] = zone_wh.get(zone, 0) + wh
    bill = month_bill(tariff, month_wh=sum(pieces), sanctioned_load_w=0, days_in_month=31, zone_wh=zone_wh)
    sums = interval_sums(tariff, pieces, ends)
    rated = sum(1 for wh, end in zip(pieces, ends, strict=True) if wh and tod_zone_of(tariff, end))
    steps = len(tariff.compiled.energy_steps)
    tolerance = Decimal((1 + 3 * steps) * (rated + len(zone_wh) + 1)) / 2
    assert abs(sum(sums.values()) - bill.total_paise) <= tolerance
    assert abs(sums["energy"] - bill.amount_of("energy")) <= Decimal(rated + len(zone_wh)) / 2


@pytest.mark.parametrize("kwh", [0, 1, 99, 100, 101, 250, 500, 501, 5000])
def test_quote_period_is_month_bill_in_kwh(kwh):
    tariff = spec()
    assert quote_period(tariff, kwh=Decimal(kwh), sanctioned_kw=Decimal(2), days=30) == month_bill(
        tariff, month_wh=kwh * 1000, sanctioned_load_w=2000, days_in_month=30)


MULTIPLIER_TOD = TimeOfDay((TodSchedule("all", frozenset(range(1, 13)), frozenset(DayType), (
    TodZone("free_night", 0, 300, multiplier=Decimal(0)), TodZone("off_peak", 300, 600, multiplier=Decimal("0.75")),
    TodZone("normal", 600, 1080, multiplier=Decimal(1)), TodZone("peak", 1080, 1440, multiplier=Decimal("1.5")))),))


@FAST
@given(tariffs(tod=MULTIPLIER_TOD), st.lists(st.tuples(st.integers(0, 20_000), st.integers(0, 95)), min_size=1,
                                             max_size=96))
def test_tod_multipliers_never_make_an_interval_negative(tariff, intervals):
    mtd = 0
    for wh, slot in intervals:
        end = datetime(2024, 5, 1) + timedelta(minutes=15 * (slot + 1))
        lines = rate_interval(tariff, energy_wh=wh, interval_end_local=end, month_to_date_wh_before=mtd)
        assert sum(line.amount_paise for line in lines) >= 0
        mtd += wh
