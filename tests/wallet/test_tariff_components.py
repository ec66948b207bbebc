"""Each tariff component on its own: slabs, catch-up, ToD, fixed, minimum, percentages, subsidies, penalty."""

from __future__ import annotations

from datetime import date, datetime

import pytest

from openprepaid.wallet.tariff import (
    DayType,
    EnergyCharge,
    FreeUnits,
    Group,
    LoadBand,
    MinimumCharge,
    MonthlyAmount,
    Overdrawl,
    OverdrawlPolicy,
    PercentSubsidy,
    RatingInputError,
    Slab,
    SlabMode,
    Subsidy,
    TariffSpecError,
    TimeOfDay,
    TodSchedule,
    TodZone,
    daily_fixed_charge,
    interval_local_date,
    month_bill,
    overdrawl_penalty,
    penalty_paise,
    quote_period,
    rate_interval,
    tod_zone_of,
)
from tests.wallet.tariff_fixtures import D, percent, spec

NOON = datetime(2024, 5, 15, 12, 0)
ALL_DAYS = frozenset(DayType)


def amounts(lines):
    return {line.component: line.amount_paise for line in lines}


def rate(tariff, wh, before, when=NOON, day_type=None):
    return amounts(rate_interval(tariff, energy_wh=wh, interval_end_local=when, month_to_date_wh_before=before,
                                 day_type=day_type))


def test_telescopic_interval_split_across_a_slab_boundary():
    # 99.5 kWh before, 1 kWh more: 0.5 kWh at 3.00 and 0.5 kWh at 5.00
    lines = rate_interval(spec(), energy_wh=1000, interval_end_local=NOON, month_to_date_wh_before=99_500)
    assert [(ln.component, ln.amount_paise, ln.quantity) for ln in lines] == [
        ("energy.slab1", 150, 500), ("energy.slab2", 250, 500)]


def test_zero_energy_gives_no_lines_and_negative_input_is_refused():
    assert rate_interval(spec(), energy_wh=0, interval_end_local=NOON, month_to_date_wh_before=5) == []
    with pytest.raises(RatingInputError):
        rate_interval(spec(), energy_wh=-1, interval_end_local=NOON, month_to_date_wh_before=0)
    with pytest.raises(RatingInputError):
        rate_interval(spec(), energy_wh=1, interval_end_local=NOON, month_to_date_wh_before=-1)


def test_small_intervals_are_neither_lost_nor_rounded_up():
    # 1 Wh at ₹3.00/kWh is 0.3 paise: ten of them make 3 paise, not 0 or 10
    total = sum(sum(rate(spec(), 1, before).values()) for before in range(10))
    assert total == 3


def test_all_units_catch_up_when_the_month_reaches_a_dearer_band():
    tariff = spec(energy=EnergyCharge.single(SlabMode.ALL_UNITS, (Slab(D("4.00"), D(100)), Slab(D("6.00")))))
    assert rate(tariff, 10_000, 80_000) == {"energy.slab1": 4_000}
    # 90 kWh at 4.00 become 6.00: +180.00; the interval's 20 kWh at 6.00
    assert rate(tariff, 20_000, 90_000) == {"energy.slab2": 12_000, "energy.catchup": 18_000}
    assert quote_period(tariff, kwh=D(110), sanctioned_kw=D(1), days=30).total_paise == 66_000


def test_tod_delta_and_seasons_wrapping_the_year_end():
    winter = TodSchedule("winter", frozenset({11, 12, 1, 2}), ALL_DAYS,
                         (TodZone("winter_night", 0, 360, delta_per_kwh=D("-0.50")), TodZone("day", 360, 1440,
                                                                                              multiplier=D(1))))
    summer = TodSchedule("summer", frozenset(range(3, 11)), ALL_DAYS,
                         (TodZone("solar", 540, 1020, delta_per_kwh=D("-0.80")), TodZone("rest", 1020, 540,
                                                                                          multiplier=D(1))))
    tariff = spec(tod=TimeOfDay((winter, summer)))
    assert rate(tariff, 1000, 0, datetime(2024, 1, 10, 3, 0)) == {"energy.slab1": 300, "energy.tod.winter_night": -50}
    assert rate(tariff, 1000, 0, datetime(2024, 5, 10, 10, 0)) == {"energy.slab1": 300, "energy.tod.solar": -80}
    assert rate(tariff, 1000, 0, datetime(2024, 5, 10, 3, 0)) == {"energy.slab1": 300}
    assert tod_zone_of(tariff, datetime(2024, 12, 31, 1, 0)) == "winter_night"
    assert tod_zone_of(tariff, datetime(2024, 6, 1, 20, 0)) is None


def test_the_midnight_interval_belongs_to_the_previous_day_month_and_day_type():
    march_only = TodSchedule("march", frozenset({3}), frozenset({DayType.WEEKEND}),
                             (TodZone("late", 1380, 1440, multiplier=D(2)), TodZone("other", 0, 1380,
                                                                                   multiplier=D(1))))
    tariff = spec(tod=TimeOfDay((march_only,)))
    end = datetime(2024, 4, 1, 0, 0)  # Monday 00:00; the interval is Sunday 31 March 23:45-24:00
    assert interval_local_date(end) == date(2024, 3, 31)
    assert tod_zone_of(tariff, end) == "late"
    assert tod_zone_of(tariff, datetime(2024, 4, 1, 0, 15)) is None  # April has no schedule
    assert tod_zone_of(tariff, end, DayType.WEEKDAY) is None  # the caller's day type wins


def test_holiday_schedule_is_chosen_by_the_day_type_argument():
    workday = TodSchedule("workday", frozenset(range(1, 13)), frozenset({DayType.WEEKDAY, DayType.WEEKEND}),
                          (TodZone("peak", 1080, 1320, multiplier=D("1.2")), TodZone("normal", 1320, 1080,
                                                                                    multiplier=D(1))))
    holiday = TodSchedule("holiday", frozenset(range(1, 13)), frozenset({DayType.HOLIDAY}),
                          (TodZone("holiday_rate", 0, 1440, multiplier=D("0.8")),))
    tariff = spec(tod=TimeOfDay((workday, holiday)))
    evening = datetime(2024, 8, 15, 19, 0)
    assert rate(tariff, 1000, 0, evening) == {"energy.slab1": 300, "energy.tod.peak": 60}
    assert rate(tariff, 1000, 0, evening, DayType.HOLIDAY) == {"energy.slab1": 300, "energy.tod.holiday_rate": -60}


def test_fixed_charge_daily_lines_add_up_to_the_month_in_31_and_29_day_months():
    tariff = spec(fixed=MonthlyAmount(per_kw_bands=(LoadBand(D("55.55")),)))
    for year, month, days in ((2024, 1, 31), (2024, 2, 29), (2023, 2, 28)):
        daily = [amounts(daily_fixed_charge(tariff, sanctioned_load_w=3_300, local_date=date(year, month, d)))
                 for d in range(1, days + 1)]
        monthly = 18_332  # 3.3 kW × ₹55.55 = ₹183.315 -> 18,332 paise (half-up)
        assert sum(day["fixed.load"] for day in daily) == monthly
        assert {day["fixed.load"] for day in daily} <= {monthly // days, monthly // days + 1}
        bill = month_bill(tariff, month_wh=0, sanctioned_load_w=3_300, days_in_month=days)
        assert bill.amount_of("fixed") == monthly


def test_fixed_charge_for_part_of_a_month_matches_the_days_charged():
    tariff = spec(fixed=MonthlyAmount(flat_per_month=D("100")))
    days = [amounts(daily_fixed_charge(tariff, sanctioned_load_w=0, local_date=date(2024, 1, d)))
            for d in range(11, 32)]
    bill = month_bill(tariff, month_wh=0, sanctioned_load_w=0, days_in_month=31, first_fixed_day=11)
    assert sum(day["fixed.flat"] for day in days) == bill.amount_of("fixed.flat") == 6_774  # 21/31 of ₹100
    with pytest.raises(RatingInputError):
        month_bill(tariff, month_wh=0, sanctioned_load_w=0, days_in_month=31, first_fixed_day=33)


def test_no_fixed_charge_and_negative_load():
    assert daily_fixed_charge(spec(), sanctioned_load_w=1000, local_date=date(2024, 1, 1)) == []
    with pytest.raises(RatingInputError):
        daily_fixed_charge(spec(), sanctioned_load_w=-1, local_date=date(2024, 1, 1))


def test_minimum_charge_flat_on_energy_only():
    tariff = spec(fixed=MonthlyAmount(flat_per_month=D(50)),
                  minimum=MinimumCharge(MonthlyAmount(flat_per_month=D(100)), frozenset({Group.ENERGY})))
    bill = quote_period(tariff, kwh=D(10), sanctioned_kw=D(1), days=30)
    assert amounts(bill.lines) == {"energy.slab1": 3_000, "fixed.flat": 5_000, "minimum.monthly": 7_000}
    assert quote_period(tariff, kwh=D(40), sanctioned_kw=D(1), days=30).amount_of("minimum") == 0


def test_surcharge_duty_on_surcharge_and_rebate_on_everything_before():
    tariff = spec(
        fixed=MonthlyAmount(flat_per_month=D(100)),
        surcharges=(percent("regulatory", "8", Group.ENERGY, Group.FIXED),),
        duties=(percent("electricity", "5", Group.ENERGY, Group.FIXED, Group.SURCHARGE),),
        rebate=percent("prepaid", "5", Group.ENERGY, Group.FIXED, Group.SURCHARGE, Group.DUTY),
    )
    by = amounts(quote_period(tariff, kwh=D(100), sanctioned_kw=D(1), days=30).lines)
    # energy 300, fixed 100 -> surcharge 8 % = 32 ; duty 5 % of 432 = 21.60 ; rebate 5 % of 453.60 = 22.68
    assert by == {"energy.slab1": 30_000, "fixed.flat": 10_000, "surcharge.regulatory": 3_200,
                  "duty.electricity": 2_160, "rebate.prepaid": -2_268}


def test_free_units_waive_the_first_units_and_are_clawed_back_above_the_limit():
    tariff = spec(subsidy=Subsidy(free_units=FreeUnits(D(50), max_month_kwh=D(100))))
    assert rate(tariff, 10_000, 0) == {"energy.slab1": 3_000, "subsidy.free_units": -3_000}
    assert rate(tariff, 10_000, 45_000) == {"energy.slab1": 3_000, "subsidy.free_units": -1_500}
    # crossing 100 kWh: the waiver of 50 × 3.00 is taken back
    assert rate(tariff, 2_000, 99_000) == {"energy.slab1": 300, "energy.slab2": 500, "subsidy.free_units": 15_000}
    assert quote_period(tariff, kwh=D(80), sanctioned_kw=D(1), days=30).total_paise == 30 * 300
    assert quote_period(tariff, kwh=D(101), sanctioned_kw=D(1), days=30).amount_of("subsidy") == 0


def test_percentage_subsidy_with_a_monthly_cap():
    subsidy = Subsidy(free_units=FreeUnits(D(20)),
                      percent=PercentSubsidy("state", D(50), frozenset({Group.ENERGY}), D("100.00")))
    tariff = spec(subsidy=subsidy)
    # 60 kWh: energy 180, free 20 units 60, 50 % of the remaining 120 = 60
    bill = quote_period(tariff, kwh=D(60), sanctioned_kw=D(1), days=30)
    assert amounts(bill.lines) == {"energy.slab1": 18_000, "subsidy.free_units": -6_000, "subsidy.state": -6_000}
    bill = quote_period(tariff, kwh=D(300), sanctioned_kw=D(1), days=30)
    assert bill.amount_of("subsidy.state") == -10_000  # capped at ₹100
    mtd = total = 0
    for wh in [7_000] * 43:
        total += sum(rate(tariff, wh, mtd).values())
        mtd += wh
    assert total == quote_period(tariff, kwh=D(301), sanctioned_kw=D(1), days=30).total_paise


def test_overdrawl_penalty_per_kw_with_tolerance_and_increments():
    tariff = spec(overdrawl=Overdrawl(OverdrawlPolicy.PENALTY, per_kw_month=D(100), tolerance_percent=D(10)))
    assert penalty_paise(tariff, max_demand_w=3_300, sanctioned_load_w=3_000) == 0  # within 10 %
    assert penalty_paise(tariff, max_demand_w=3_400, sanctioned_load_w=3_000) == 4_000  # 0.4 kW × ₹100
    first = amounts(overdrawl_penalty(tariff, max_demand_w=3_400, sanctioned_load_w=3_000))
    second = amounts(overdrawl_penalty(tariff, max_demand_w=4_000, sanctioned_load_w=3_000,
                                       previous_max_demand_w=3_400))
    assert first["penalty.overdrawl"] + second["penalty.overdrawl"] == 10_000
    assert overdrawl_penalty(tariff, max_demand_w=3_900, sanctioned_load_w=3_000, previous_max_demand_w=4_000) != []
    bill = month_bill(tariff, month_wh=0, sanctioned_load_w=3_000, days_in_month=30, max_demand_w=4_000)
    assert bill.amount_of("penalty") == 10_000


def test_overdrawl_penalty_as_percent_of_fixed_and_trip_policy():
    fixed = MonthlyAmount(per_kw_bands=(LoadBand(D(50), D(5)), LoadBand(D(100))))
    tariff = spec(fixed=fixed, overdrawl=Overdrawl(OverdrawlPolicy.PENALTY, percent_of_fixed=D(200)),
                  duties=(percent("electricity", "10", Group.PENALTY),))
    by = amounts(overdrawl_penalty(tariff, max_demand_w=4_000, sanctioned_load_w=3_000))
    assert by == {"penalty.overdrawl": 10_000, "duty.electricity": 1_000}  # 1 kW × 2 × ₹50, duty 10 %
    trip = spec(overdrawl=Overdrawl(OverdrawlPolicy.TRIP))
    assert overdrawl_penalty(trip, max_demand_w=9_000, sanctioned_load_w=3_000) == []
    assert trip.overdrawl is not None and trip.overdrawl.policy is OverdrawlPolicy.TRIP
    with pytest.raises(RatingInputError):
        penalty_paise(tariff, max_demand_w=-1, sanctioned_load_w=3_000)


def test_month_bill_and_quote_refuse_bad_input():
    tod = TimeOfDay((TodSchedule("all", frozenset(range(1, 13)), ALL_DAYS,
                                 (TodZone("peak", 0, 600, multiplier=D(2)), TodZone("rest", 600, 0,
                                                                                   multiplier=D(1)))),))
    tariff = spec(tod=tod)
    with pytest.raises(RatingInputError, match="unknown ToD zone"):
        month_bill(tariff, month_wh=10, sanctioned_load_w=0, days_in_month=30, zone_wh={"nope": 1})
    with pytest.raises(RatingInputError, match="at most month_wh"):
        month_bill(tariff, month_wh=10, sanctioned_load_w=0, days_in_month=30, zone_wh={"peak": 11})
    with pytest.raises(RatingInputError):
        month_bill(tariff, month_wh=10, sanctioned_load_w=0, days_in_month=0)
    with pytest.raises(RatingInputError, match="3 decimal places"):
        quote_period(tariff, kwh=D("1.0001"), sanctioned_kw=D(1), days=30)
    with pytest.raises(RatingInputError):
        quote_period(tariff, kwh=D(-1), sanctioned_kw=D(1), days=30)
    neutral = month_bill(tariff, month_wh=10, sanctioned_load_w=0, days_in_month=30, zone_wh={"rest": 10})
    assert amounts(neutral.lines) == {"energy.slab1": 3}  # 10 Wh at ₹3.00, no ToD line for a neutral zone


def test_model_errors_carry_the_field_path_when_built_in_code():
    with pytest.raises(TariffSpecError) as info:
        TodSchedule("s", frozenset({1}), ALL_DAYS, (TodZone("a", 0, 600, multiplier=D(1)),))
    assert (info.value.path, info.value.reason) == ("zones", "do not cover 24 h: nothing from 10:00")
    with pytest.raises(TariffSpecError) as info:
        spec(energy=EnergyCharge.single(SlabMode.TELESCOPIC, (Slab(D("3.00"), D(100)), Slab(D("-1")))))
    assert info.value.path == "slabs[1].rate_per_kwh"
    with pytest.raises(TariffSpecError, match="effective_from"):
        spec(effective_from=datetime(2024, 4, 1))
    with pytest.raises(TariffSpecError, match="version"):
        spec(version=0)
