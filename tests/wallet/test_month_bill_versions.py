"""The month bill of a month whose tariff changed (``month_bill_by_version``): what is monthly stays monthly.

The percentage subsidy's cap is per consumer per month (tariff-format.md: "capped per month in ₹"), so a
month split into parts by tariff versions is granted at most the cap, allocated to the parts in their
order; the free-units waiver taken back above ``max_month_kwh`` is exactly what was waived; the fixed
charge's percentages are what the daily lines gave; the penalty sits on one part.
"""

from __future__ import annotations

import dataclasses
from datetime import date
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from openprepaid.wallet.tariff import (
    EnergyCharge,
    FreeUnits,
    Group,
    LoadBand,
    MonthlyAmount,
    Overdrawl,
    OverdrawlPolicy,
    PercentSubsidy,
    RatingInputError,
    Slab,
    SlabMode,
    Subsidy,
    TariffSpec,
    VersionPart,
    daily_fixed_charge,
    month_bill,
    month_bill_by_version,
)
from tests.wallet.tariff_fixtures import percent, spec
from tests.wallet.test_tariff_properties import FAST, GROUPS, bill_sums, tariffs

D = Decimal
DAYS = 30


def subsidised(slab1: str, percent_off: str, cap: str | None, **more: object) -> TariffSpec:
    return spec(
        energy=EnergyCharge.single(SlabMode.TELESCOPIC, (Slab(D(slab1), D(100)), Slab(D("5.00")))),
        subsidy=Subsidy(
            percent=PercentSubsidy("state", D(percent_off), frozenset({Group.ENERGY}), D(cap) if cap else None)
        ),
        **more,
    )


def parts_of(specs: list[TariffSpec], energies: list[int], cuts: list[int]) -> list[VersionPart]:
    """Consecutive parts: part i rated ``energies[i]`` Wh and was in force on days cuts[i]+1 .. cuts[i+1]."""
    bounds = [0, *cuts, DAYS]
    return [
        VersionPart(s, wh, {}, bounds[i] + 1, bounds[i + 1])
        for i, (s, wh) in enumerate(zip(specs, energies, strict=True))
    ]


def subsidy_of(bill) -> int:
    """The percentage subsidy granted (a positive amount)."""
    return -sum(line.amount_paise for line in bill.lines if line.component == "subsidy.state")


# --- the cap -------------------------------------------------------------------------------------------------


def test_a_change_of_version_does_not_grant_the_cap_twice():
    """Before the fix each part was capped on its own: ₹800 at 50 % in the first half, ₹800 more at 10 %."""
    old = subsidised("3.00", "50", "800.00")
    new = subsidised("3.00", "10", "800.00", version=2)
    total, (first, second) = month_bill_by_version(
        parts_of([old, new], [600_000, 900_000], [15]), sanctioned_load_w=3_000, days_in_month=DAYS
    )
    assert subsidy_of(first) == 80_000  # 50 % of the first part reaches the cap
    assert subsidy_of(second) == 0  # nothing left of the month's cap
    assert subsidy_of(total) == 80_000


def test_the_cap_is_shared_in_part_order_to_the_paisa():
    old = subsidised("3.00", "20", "100.00")
    new = subsidised("3.20", "20", "100.00", version=2)
    total, (first, second) = month_bill_by_version(
        parts_of([old, new], [50_000, 150_000], [10]), sanctioned_load_w=0, days_in_month=DAYS
    )
    assert subsidy_of(first) == 3_000  # 20 % of 50 kWh × ₹3.00
    # the second part: 50 kWh at ₹3.20 and 100 kWh at ₹5.00 = ₹660; 20 % = ₹132, but only ₹70 of the cap is left
    assert subsidy_of(second) == 7_000
    assert subsidy_of(total) == 10_000


def test_a_version_raising_the_cap_grants_up_to_its_cap_and_a_lower_cap_takes_nothing_back():
    low = subsidised("3.00", "50", "100.00")
    high = subsidised("3.00", "50", "300.00", version=2)
    total, _ = month_bill_by_version(
        parts_of([low, high], [100_000, 300_000], [15]), sanctioned_load_w=0, days_in_month=DAYS
    )
    assert subsidy_of(total) == 30_000  # ₹100 in the first part, ₹200 more under the higher cap
    total, parts = month_bill_by_version(
        parts_of([high, low], [300_000, 100_000], [15]), sanctioned_load_w=0, days_in_month=DAYS
    )
    assert [subsidy_of(part) for part in parts] == [30_000, 0]  # granted under ₹300, kept; no more under ₹100
    assert subsidy_of(total) == 30_000


@st.composite
def capped_versions(draw):
    """1-3 tariff versions (no ToD) with a percentage subsidy, all with the same monthly cap, and a split month."""
    cap = D(draw(st.integers(0, 200_000))).scaleb(-2)
    count = draw(st.integers(1, 3))
    specs = []
    for i in range(count):
        base = draw(tariffs(categories=False, tod=None))
        free = base.subsidy.free_units if base.subsidy is not None else None
        share = PercentSubsidy("state", D(draw(st.integers(1, 100))), frozenset({Group.ENERGY}), cap)
        specs.append(dataclasses.replace(base, version=i + 1, subsidy=Subsidy(free, share)))
    energies = draw(st.lists(st.integers(0, 700_000), min_size=count, max_size=count))
    cuts = sorted(draw(st.lists(st.integers(0, DAYS), min_size=count - 1, max_size=count - 1)))
    return specs, energies, cuts, int(cap * 100)


@FAST
@given(capped_versions(), st.integers(0, 12_000))
def test_a_months_subsidy_never_exceeds_its_cap(case, load_w):
    specs, energies, cuts, cap_paise = case
    total, parts = month_bill_by_version(parts_of(specs, energies, cuts), sanctioned_load_w=load_w, days_in_month=DAYS)
    assert subsidy_of(total) <= cap_paise
    assert sum(subsidy_of(part) for part in parts) == subsidy_of(total)


@FAST
@given(
    tariffs(tod=None),
    st.lists(st.integers(0, 500_000), min_size=1, max_size=3),
    st.lists(st.integers(0, DAYS), min_size=2, max_size=2),
    st.integers(0, 12_000),
)
def test_parts_of_one_unchanged_version_are_the_single_version_bill(tariff, energies, cut_days, load_w):
    """Split a month of one version into 1-3 parts anywhere: the subsidy, every group and the total are the same,
    and every percentage line (surcharges, duties, rebate, subsidies) too. (Energy lines may be itemised
    differently: a part entering a dearer all-units band shows an ``energy.catchup``.)"""
    cuts = sorted(cut_days)[: len(energies) - 1]
    total, _ = month_bill_by_version(
        parts_of([tariff] * len(energies), energies, cuts), sanctioned_load_w=load_w, days_in_month=DAYS
    )
    whole = month_bill(tariff, month_wh=sum(energies), sanctioned_load_w=load_w, days_in_month=DAYS)
    assert subsidy_of(total) == subsidy_of(whole)
    assert bill_sums(total) == bill_sums(whole)
    assert total.total_paise == whole.total_paise
    percentages = {ln.component: ln for ln in whole.lines if ln.component.startswith(GROUPS[4:])}
    assert {ln.component: ln for ln in total.lines if ln.component.startswith(GROUPS[4:])} == percentages


# --- other monthly things ------------------------------------------------------------------------------------


def test_free_units_taken_back_are_what_was_waived_not_a_repricing():
    """100 free kWh while the month stays <= 200 kWh: waived at ₹3.00 under v1, the month passes 200 kWh under
    v2 (₹5.00): the ₹300 waived comes back, not 100 × ₹5.00."""
    free = Subsidy(free_units=FreeUnits(D(100), max_month_kwh=D(200)))
    old = spec(energy=EnergyCharge.single(SlabMode.TELESCOPIC, (Slab(D("3.00")),)), subsidy=free)
    new = spec(energy=EnergyCharge.single(SlabMode.TELESCOPIC, (Slab(D("5.00")),)), subsidy=free, version=2)
    total, (first, second) = month_bill_by_version(
        parts_of([old, new], [150_000, 100_000], [15]), sanctioned_load_w=0, days_in_month=DAYS
    )
    assert first.amount_of("subsidy.free_units") == -30_000
    assert second.amount_of("subsidy.free_units") == 30_000
    assert total.amount_of("subsidy") == 0
    assert total.total_paise == 150_000 * 3 // 10 + 100_000 * 5 // 10


def test_percentages_on_the_fixed_charge_are_what_the_daily_lines_charged():
    """An account opened on the 11th: its days' duty on the fixed charge, summed, is what the month bills."""
    tariff = spec(
        fixed=MonthlyAmount(per_kw_bands=(LoadBand(D("55.55")),)),
        duties=(percent("electricity", "7.5", Group.FIXED),),
    )
    daily = sum(
        line.amount_paise
        for day in range(11, 32)
        for line in daily_fixed_charge(tariff, sanctioned_load_w=3_300, local_date=date(2024, 1, day))
        if line.component == "duty.electricity"
    )
    bill = month_bill(tariff, month_wh=0, sanctioned_load_w=3_300, days_in_month=31, first_fixed_day=11)
    assert bill.amount_of("duty") == daily
    total, _ = month_bill_by_version(
        [VersionPart(tariff, 0, {}, 11, 20), VersionPart(tariff, 0, {}, 21, 31)],
        sanctioned_load_w=3_300,
        days_in_month=31,
    )
    assert total.amount_of("duty") == daily


def test_the_penalty_is_on_the_part_of_its_version_and_on_one_part_only():
    rule = Overdrawl(OverdrawlPolicy.PENALTY, per_kw_month=D(100), tolerance_percent=D(10))
    old = spec(overdrawl=rule, duties=(percent("electricity", "5", Group.PENALTY),))
    new = spec(overdrawl=dataclasses.replace(rule, per_kw_month=D(150)), version=2)
    parts = parts_of([old, new], [10_000, 10_000], [15])
    total, (first, second) = month_bill_by_version(
        [parts[0], dataclasses.replace(parts[1], max_demand_w=4_000)], sanctioned_load_w=3_000, days_in_month=DAYS
    )
    assert first.amount_of("penalty") == 0
    assert second.amount_of("penalty") == 15_000  # 1 kW over at the new version's ₹150/kW
    assert total.amount_of("penalty") == 15_000 and total.amount_of("duty") == 0
    with pytest.raises(RatingInputError, match="one part"):
        month_bill_by_version(
            [dataclasses.replace(part, max_demand_w=4_000) for part in parts],
            sanctioned_load_w=3_000,
            days_in_month=DAYS,
        )
