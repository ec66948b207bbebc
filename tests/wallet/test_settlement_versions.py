"""A month with a tariff version change is settled as the sum of per-version parts: consumption before the
change at the old version, after it at the new one, slabs on month-to-date units continuing across the
change, the fixed charge per day at the version in force that day (docs/ledger.md "Settlement")."""

from __future__ import annotations

import dataclasses
import json
from datetime import date, datetime
from decimal import Decimal

import hypothesis
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import text

from openprepaid.wallet.settlement import settle_month
from openprepaid.wallet.tariff import (
    EnergyCharge,
    Group,
    LoadBand,
    MonthlyAmount,
    PercentSubsidy,
    Slab,
    SlabMode,
    Subsidy,
    TariffSpec,
    VersionPart,
    month_bill,
    month_bill_by_version,
)
from tests.wallet.tariff_fixtures import example
from tests.wallet.test_ledger_world import (
    IST,
    assert_ledger_invariants,
    demo_spec,
    local,
    make_metered_consumer,
    make_world,
    wallet_balance,
)
from tests.wallet.test_settlement import AFTER_NOVEMBER, NOVEMBER, charge_days, settled_totals

CHANGE_DAY = 15


def plain_spec(*, version: int = 1, slab1: str = "3.00", effective_from: datetime | None = None) -> TariffSpec:
    """Telescopic slabs and a fixed charge, no ToD or percentages: the daily lines add up to the bill exactly."""
    return TariffSpec(
        code="PLAIN",
        name="Plain domestic",
        category="domestic",
        version=version,
        effective_from=effective_from or datetime(2026, 1, 1, tzinfo=IST),
        energy=EnergyCharge.single(
            SlabMode.TELESCOPIC,
            (Slab(Decimal(slab1), Decimal(200)), Slab(Decimal("4.50"), Decimal(400)), Slab(Decimal("6.50"))),
        ),
        fixed=MonthlyAmount(per_kw_bands=(LoadBand(Decimal(20), Decimal(2)), LoadBand(Decimal(50)))),
    )


def _settle(session, world, consumer):
    return settle_month(
        session, account_id=consumer.account.id, month_date=NOVEMBER, catalog=world.catalog, now=AFTER_NOVEMBER
    )


def test_a_month_with_a_change_is_billed_exactly_by_version(db_session):
    change = local(2026, 11, CHANGE_DAY)
    world = make_world(db_session, plain_spec(), plain_spec(version=2, slab1="3.20", effective_from=change))
    consumer, meter = make_metered_consumer(db_session, world)
    charge_days(db_session, world, meter, range(1, 31), wh=100)  # 9.6 kWh a day: slab 2 from day 21 on
    before = wallet_balance(db_session, consumer)
    statement = _settle(db_session, world, consumer)
    assert statement.multi_version
    old, new = statement.versions
    assert (old["version"], old["energy_wh"], old["fixed_days"]) == (1, 14 * 9_600, [1, 14])
    assert (new["version"], new["energy_wh"], new["fixed_days"]) == (2, 16 * 9_600, [15, 30])
    # Part 1: 134.4 kWh at ₹3.00; part 2 continues from 134.4 kWh: 65.6 kWh at ₹3.20, 88 kWh at ₹4.50.
    assert old["lines"]["energy.slab1"] == 134_400 * 300 // 1000
    assert new["lines"]["energy.slab1"] == 65_600 * 320 // 1000
    assert new["lines"]["energy.slab2"] == 88_000 * 450 // 1000
    for component, amount in statement.billed.items():
        assert amount == sum(part["lines"].get(component, 0) for part in statement.versions)
    # The daily lines were priced the same way: nothing to reconcile.
    assert statement.billed == statement.charged and statement.difference_paise == 0
    assert statement.ledger_transaction_id is None and wallet_balance(db_session, consumer) == before
    assert _settle(db_session, world, consumer).versions == statement.versions  # the stored statement
    assert_ledger_invariants(db_session)


def test_a_month_with_a_change_and_tod_and_percentages_is_reconciled_once(db_session):
    change = local(2026, 11, CHANGE_DAY, 12)  # at noon: that day's fixed charge is still the old version's
    world = make_world(db_session, demo_spec(), demo_spec(version=2, effective_from=change, slab1="3.20"))
    consumer, meter = make_metered_consumer(db_session, world)
    charge_days(db_session, world, meter, range(1, 31))
    before = wallet_balance(db_session, consumer)
    statement = _settle(db_session, world, consumer)
    assert [part["fixed_days"] for part in statement.versions] == [[1, 15], [16, 30]]
    assert sum(part["energy_wh"] for part in statement.versions) == statement.energy_wh
    assert set(statement.versions[0]["zone_wh"]) == {"offpeak", "peak"}
    assert abs(statement.difference_paise) < 100  # ToD and percentages rounded per group vs per part
    assert wallet_balance(db_session, consumer) == before - statement.difference_paise
    posted = db_session.execute(text("SELECT count(*) FROM ledger_transaction WHERE kind = 'settlement'"))
    assert posted.scalar_one() == (1 if statement.difference_paise else 0)
    assert _settle(db_session, world, consumer).replayed
    assert_ledger_invariants(db_session)


@given(
    month_wh=st.integers(0, 900_000),
    load_w=st.integers(0, 12_000),
    first=st.integers(1, 30),
    name=st.sampled_from(
        [
            f"{n}.yaml"
            for n in (
                "delhi-domestic-2019-20",
                "haryana-domestic-2015",
                "kerala-tod-domestic",
                "demo-slab-tod-duty-rebate",
            )
        ]
    ),
)
def test_one_part_is_the_month_bill(month_wh, load_w, first, name):
    spec = example(name)
    zones = {z.name for s in spec.tod.schedules for z in s.zones} if spec.tod is not None else set()
    zone_wh = {sorted(zones)[0]: month_wh // 3} if zones else {}
    total, parts = month_bill_by_version(
        [VersionPart(spec, month_wh, zone_wh, first, 30)], sanctioned_load_w=load_w, days_in_month=30
    )
    expected = month_bill(
        spec, month_wh=month_wh, sanctioned_load_w=load_w, days_in_month=30, zone_wh=zone_wh, first_fixed_day=first
    )
    assert total.lines == expected.lines == parts[0].lines


@given(split=st.integers(0, 600_000), rest=st.integers(0, 600_000))
@hypothesis.example(split=1, rest=1)  # a part below a paisa still counts its Wh in the month's quantity
def test_two_parts_at_one_version_share_the_months_slab_charge(split, rest):
    """Slab lines continue across parts: two parts of one version sum to the month's slab amounts."""
    spec = plain_spec()
    total, _ = month_bill_by_version(
        [VersionPart(spec, split, {}, 1, 14), VersionPart(spec, rest, {}, 15, 30)],
        sanctioned_load_w=3_000,
        days_in_month=30,
    )
    whole = month_bill(spec, month_wh=split + rest, sanctioned_load_w=3_000, days_in_month=30)
    assert total.lines == whole.lines


def test_the_stored_statement_names_the_versions(db_session):
    world = make_world(
        db_session, plain_spec(), plain_spec(version=2, slab1="3.20", effective_from=local(2026, 11, 15))
    )
    consumer, meter = make_metered_consumer(db_session, world)
    charge_days(db_session, world, meter, [3, 20], wh=100, fixed=False)
    statement = _settle(db_session, world, consumer)
    row = db_session.execute(
        text("SELECT lines FROM settlement_statement WHERE account_id = :a"), {"a": consumer.account.id}
    ).scalar_one()
    assert statement.multi_version and statement.month_date == date(2026, 11, 1)
    lines = row if isinstance(row, dict) else json.loads(row)
    assert [part["version"] for part in lines["versions"]] == [1, 2]


def test_a_month_with_a_change_is_granted_the_subsidy_cap_once(db_session):
    """50 % off energy, at most ₹300 a month; a cheaper version from the 15th. The intervals after the change
    difference the subsidy at the new version's prices and grant ₹367.20 in all; the month bill grants ₹300,
    and the settlement takes the ₹67.20 back (before the fix each part was capped: ₹465.20 billed)."""
    subsidy = Subsidy(percent=PercentSubsidy("state", Decimal(50), frozenset({Group.ENERGY}), Decimal("300.00")))
    old = dataclasses.replace(plain_spec(), subsidy=subsidy)
    new = dataclasses.replace(plain_spec(version=2, slab1="2.00", effective_from=local(2026, 11, 15)), subsidy=subsidy)
    world = make_world(db_session, old, new)
    consumer, meter = make_metered_consumer(db_session, world)
    charge_days(db_session, world, meter, range(1, 31), wh=100)  # 9.6 kWh a day
    statement = _settle(db_session, world, consumer)
    assert statement.charged["subsidy.state"] == -36_720  # 201.60 + (300.00 - 50 % of 134.4 kWh at ₹2.00)
    assert statement.billed["subsidy.state"] == -30_000
    assert [part["lines"]["subsidy.state"] for part in statement.versions] == [-20_160, -9_840]
    assert settled_totals(db_session, consumer.account.id)["subsidy.state"] == -30_000
    assert_ledger_invariants(db_session)
