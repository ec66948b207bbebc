"""Published tariff examples (domain.md §5) rated from the example files in examples/tariffs/.

Sources: DERC Tariff Order FY 2019-20 (Delhi domestic, worked example 300 kWh at 3 kW); HERC
tariff order 2015-16 (Haryana domestic categories); KSEB ToD tariffs (Kerala domestic 120 %/90 %,
industrial 150 %/75 %).
"""

from __future__ import annotations

from datetime import date, datetime

import pytest

from openprepaid.wallet.money import round_paise
from openprepaid.wallet.tariff import daily_fixed_charge, month_bill, quote_period, rate_interval
from tests.wallet.tariff_fixtures import D, example


def test_delhi_worked_example_300_kwh_at_3_kw_over_30_days():
    bill = quote_period(example("delhi-domestic-2019-20.yaml"), kwh=D(300), sanctioned_kw=D(3), days=30)
    assert bill.amount_of("energy") == 105_000  # 200 × 3.00 + 100 × 4.50 = ₹1,050.00
    assert bill.amount_of("fixed") == 15_000  # 3 kW × ₹50 = ₹150.00
    assert bill.amount_of("energy") + bill.amount_of("fixed") == 120_000  # base ₹1,200 before surcharges
    assert bill.amount_of("surcharge.pension_trust") == 8_400  # 7 % of ₹1,200
    assert bill.total_paise == 128_400
    assert [(line.component, line.amount_paise) for line in bill.lines][:2] == [
        ("energy.slab1", 60_000), ("energy.slab2", 45_000)]


def test_delhi_fixed_charge_is_5_rupees_a_day_in_a_30_day_month():
    tariff = example("delhi-domestic-2019-20.yaml")
    lines = daily_fixed_charge(tariff, sanctioned_load_w=3000, local_date=date(2019, 9, 14))
    assert [(line.component, line.amount_paise) for line in lines] == [
        ("fixed.load", 500), ("surcharge.pension_trust", 35)]
    month = [daily_fixed_charge(tariff, sanctioned_load_w=3000, local_date=date(2019, 9, d)) for d in range(1, 31)]
    assert sum(line.amount_paise for day in month for line in day if line.component == "fixed.load") == 15_000


@pytest.mark.parametrize(("load_kw", "rate"), [("1", 20), ("2", 20), ("2.5", 50), ("5", 50), ("10", 100),
                                               ("20", 200), ("30", 250)])
def test_delhi_fixed_charge_bands(load_kw, rate):
    bill = quote_period(example("delhi-domestic-2019-20.yaml"), kwh=D(0), sanctioned_kw=D(load_kw), days=30)
    assert bill.amount_of("fixed") == int(D(load_kw) * rate * 100)


def test_delhi_higher_slabs():
    bill = quote_period(example("delhi-domestic-2019-20.yaml"), kwh=D(1300), sanctioned_kw=D(3), days=30)
    # 200×3 + 200×4.5 + 400×6.5 + 400×7 + 100×8 = 600 + 900 + 2600 + 2800 + 800
    assert bill.amount_of("energy") == 770_000


def test_delhi_intervals_add_up_to_the_worked_example():
    tariff = example("delhi-domestic-2019-20.yaml")
    total = mtd = 0
    for i in range(2880):  # 30 days of 15-minute intervals, 300 kWh in uneven pieces
        wh = 50 + (i * 7919) % 160 if mtd < 300_000 else 0
        wh = min(wh, 300_000 - mtd)
        lines = rate_interval(tariff, energy_wh=wh, interval_end_local=datetime(2019, 9, 1),
                              month_to_date_wh_before=mtd)
        total += sum(line.amount_paise for line in lines if line.component.startswith("energy"))
        mtd += wh
    assert mtd == 300_000
    assert total == 105_000


@pytest.mark.parametrize(("units", "energy_paise", "components"), [
    (80, 27_000, ["energy.slab1", "energy.slab2"]),  # 50 × 2.70 + 30 × 4.50
    (100, 36_000, ["energy.slab1", "energy.slab2"]),  # 50 × 2.70 + 50 × 4.50
    (300, 155_250, ["energy.slab1", "energy.slab2"]),  # 250 × 5.00 + 50 × 6.05
    (500, 276_250, ["energy.slab1", "energy.slab2"]),  # 250 × 5.00 + 250 × 6.05
    (600, 405_000, ["energy.slab1"]),  # all 600 units at 6.75, not telescopic
])
def test_haryana_categories(units, energy_paise, components):
    bill = quote_period(example("haryana-domestic-2015.yaml"), kwh=D(units), sanctioned_kw=D(2), days=30)
    assert bill.amount_of("energy") == energy_paise
    assert [line.component for line in bill.lines] == components


def test_haryana_minimum_monthly_charge_120_per_kw():
    bill = quote_period(example("haryana-domestic-2015.yaml"), kwh=D(20), sanctioned_kw=D(2), days=30)
    assert bill.amount_of("energy") == 5_400  # 20 × 2.70
    assert bill.amount_of("minimum.monthly") == 24_000 - 5_400
    assert bill.total_paise == 24_000  # ₹120/kW × 2 kW


def test_haryana_crossing_into_the_next_category_re_rates_the_month():
    tariff = example("haryana-domestic-2015.yaml")
    lines = rate_interval(tariff, energy_wh=2_000, interval_end_local=datetime(2015, 6, 10, 12, 0),
                          month_to_date_wh_before=99_000)
    by = {line.component: line.amount_paise for line in lines}
    # 99 kWh were charged 50×2.70 + 49×4.50 = 355.50; under 101-500 they cost 99×5.00 = 495.00.
    assert by == {"energy.slab1": 1_000, "energy.catchup": 49_500 - 35_550}
    lines = rate_interval(tariff, energy_wh=2_000, interval_end_local=datetime(2015, 6, 10, 12, 0),
                          month_to_date_wh_before=499_000)
    by = {line.component: line.amount_paise for line in lines}
    # 499 kWh: 250×5 + 249×6.05 = 2756.45 -> all at 6.75 = 3368.25; the interval's 2 kWh at 6.75.
    assert by == {"energy.slab1": 1_350, "energy.catchup": 336_825 - 275_645}


@pytest.mark.parametrize(("hour", "zone", "factor"), [(10, None, D("1.00")), (19, "peak", D("1.20")),
                                                      (23, "off_peak", D("0.90")), (3, "off_peak", D("0.90"))])
def test_kerala_domestic_tod_multipliers(hour, zone, factor):
    tariff = example("kerala-tod-domestic.yaml")
    lines = rate_interval(tariff, energy_wh=1_000, interval_end_local=datetime(2024, 7, 3, hour, 30),
                          month_to_date_wh_before=0)
    assert sum(line.amount_paise for line in lines) == int(850 * factor)  # 1 kWh at ₹8.50 × factor
    assert {line.component for line in lines} == {"energy.slab1"} | ({f"energy.tod.{zone}"} if zone else set())


def test_kerala_zone_boundaries_use_the_interval_not_its_end_instant():
    tariff = example("kerala-tod-domestic.yaml")
    ending_at_18 = rate_interval(tariff, energy_wh=1_000, interval_end_local=datetime(2024, 7, 3, 18, 0),
                                 month_to_date_wh_before=0)
    ending_at_1815 = rate_interval(tariff, energy_wh=1_000, interval_end_local=datetime(2024, 7, 3, 18, 15),
                                   month_to_date_wh_before=0)
    ending_at_06 = rate_interval(tariff, energy_wh=1_000, interval_end_local=datetime(2024, 7, 3, 6, 0),
                                 month_to_date_wh_before=0)
    assert sum(line.amount_paise for line in ending_at_18) == 850  # 17:45-18:00 is normal
    assert sum(line.amount_paise for line in ending_at_1815) == 1_020  # 18:00-18:15 is peak
    assert sum(line.amount_paise for line in ending_at_06) == 765  # 05:45-06:00 is off-peak


def test_kerala_industrial_tod_month():
    bill = quote_period(example("kerala-tod-industrial.yaml"), kwh=D(1000), sanctioned_kw=D(25), days=30,
                        zone_kwh={"normal": D(500), "peak": D(200), "off_peak": D(300)})
    # 500 × 6 + 200 × 6 × 1.5 + 300 × 6 × 0.75 = 3000 + 1800 + 1350
    assert bill.amount_of("energy") == 615_000
    assert bill.amount_of("energy.tod.peak") == 60_000
    assert bill.amount_of("energy.tod.off_peak") == -45_000


def test_demo_tariff_month_bill():
    bill = month_bill(example("demo-slab-tod-duty-rebate.yaml"), month_wh=450_000, sanctioned_load_w=6_000,
                      days_in_month=31, zone_wh={"peak": 50_000, "solar": 100_000})
    by = {line.component: line.amount_paise for line in bill.lines}
    energy = 30_000 + 90_000 + 97_500
    tod_peak = round_paise(D(energy) * D("0.2") * 50 / 450)  # peak units at the month's average slab rate
    assert by["energy.tod.peak"] == tod_peak == 4_833
    assert by["energy.tod.solar"] == -8_000  # 100 kWh × -₹0.80
    assert by["fixed.load"] == 60_000  # 6 kW × ₹100
    # duty 5 % computed per source: energy side (slabs + ToD), fixed charge, each rounded half-up
    assert by["duty.electricity"] == round_paise(D("0.05") * (energy + 4_833 - 8_000)) + 3_000
    assert by["rebate.prepaid"] == -round_paise(D("0.04") * (energy + 4_833 - 8_000))
    assert bill.total_paise == sum(by.values())
