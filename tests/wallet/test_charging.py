"""Charging from block-load intervals: exactly once, right account, right tariff version, holds.

Runs on SQLite and the real PostgreSQL; ledger invariants are checked after each scenario.
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select, text

from openprepaid.store.model import AccountStatus, ChargeHold, MeterInstallation
from openprepaid.store.repository.charge_day import interval_statuses
from openprepaid.store.repository.reading import store_block_readings
from openprepaid.wallet.charging import (
    ChargingError,
    ChargingPolicy,
    MeterIntervals,
    charge_intervals,
    charge_stored_readings,
)
from openprepaid.wallet.fixed_charge import charge_daily_fixed
from openprepaid.wallet.tariff import EnergyCharge, LoadBand, MonthlyAmount, Slab, SlabMode, TariffSpec
from tests.wallet.test_ledger_world import (
    IST,
    NOW,
    assert_ledger_invariants,
    day_of_intervals,
    demo_spec,
    install_meter,
    local,
    make_consumer,
    make_metered_consumer,
    make_world,
    wallet_balance,
)

POLICY = ChargingPolicy()


def charge(session, world, *batches, policy=POLICY):
    return charge_intervals(session, list(batches), catalog=world.catalog, policy=policy, now=NOW)


def component_totals(session, account_id: int) -> dict[str, int]:
    """What the consumer was charged per component (the utility-side legs, sign flipped)."""
    rows = session.execute(
        text(
            "SELECT p.component, -sum(p.amount_paise) FROM posting p JOIN ledger_transaction t "
            "ON t.id = p.ledger_transaction_id WHERE t.account_id = :a AND p.component <> 'total' "
            "AND t.kind IN ('interval_charge', 'fixed_charge', 'true_up') GROUP BY p.component"
        ),
        {"a": account_id},
    )
    return {component: int(amount) for component, amount in rows}


def charge_rows(session, meter_id: int) -> dict[str, int]:
    """Intervals of the meter taken, per status (from the meter-day masks and the holds)."""
    return dict(Counter(status.value for status in interval_statuses(session, meter_id).values()))


def billed_wh(session, column: str, value: int) -> int:
    """Interval energy billed (usage totals) for an account or a meter."""
    return session.execute(
        text(f"SELECT sum(interval_energy_wh) FROM usage_day WHERE {column} = :v"), {"v": value}
    ).scalar_one()


def derc_spec() -> TariffSpec:
    """Delhi domestic, DERC FY2019-20 (domain.md §5), without the pension-trust surcharge."""
    return TariffSpec(
        code="DERC-DOM",
        name="Delhi domestic",
        category="domestic",
        version=1,
        effective_from=datetime(2019, 4, 1, tzinfo=IST),
        energy=EnergyCharge.single(
            SlabMode.TELESCOPIC,
            (
                Slab(Decimal("3.00"), Decimal(200)),
                Slab(Decimal("4.50"), Decimal(400)),
                Slab(Decimal("6.50"), Decimal(800)),
                Slab(Decimal("7.00"), Decimal(1200)),
                Slab(Decimal("8.00")),
            ),
        ),
        fixed=MonthlyAmount(
            per_kw_bands=(
                LoadBand(Decimal(20), Decimal(2)),
                LoadBand(Decimal(50), Decimal(5)),
                LoadBand(Decimal(100), Decimal(15)),
                LoadBand(Decimal(200), Decimal(25)),
                LoadBand(Decimal(250)),
            )
        ),
    )


def test_derc_worked_example_month_of_daily_charging(db_session):
    """DERC FY2019-20 worked example: 300 kWh at 3 kW in a 30-day month -> energy ₹1,050, fixed ₹150."""
    world = make_world(db_session, derc_spec())
    consumer, meter = make_metered_consumer(db_session, world, sanctioned_load_w=3000)
    for day in range(1, 31):  # November 2026 has 30 days; 10 kWh a day
        start = local(2026, 11, day)
        result = charge(
            db_session, world, MeterIntervals(meter.id, 900, day_of_intervals(start, lambda i: 120 if i == 95 else 104))
        )
        assert result.charged == 96
        charge_daily_fixed(
            db_session, utility_id=world.books.utility.id, local_date=start.date(), catalog=world.catalog, now=NOW
        )
    totals = component_totals(db_session, consumer.account.id)
    assert totals == {"energy.slab1": 60_000, "energy.slab2": 45_000, "fixed.load": 15_000}
    assert wallet_balance(db_session, consumer) == -120_000  # ₹1,200 base before surcharges
    assert_ledger_invariants(db_session)


def test_one_day_is_charged_once_whatever_is_redelivered(db_session):
    world = make_world(db_session)
    consumer, meter = make_metered_consumer(db_session, world)
    intervals = day_of_intervals(local(2026, 11, 3), 150)
    first = charge(db_session, world, MeterIntervals(meter.id, 900, intervals))
    balance = wallet_balance(db_session, consumer)
    assert (first.charged, first.duplicates, first.ledger_transactions) == (96, 0, 1)
    assert balance == -first.amount_paise < 0
    again = charge(db_session, world, MeterIntervals(meter.id, 900, intervals))
    assert (again.charged, again.duplicates, again.ledger_transactions, again.amount_paise) == (0, 96, 0, 0)
    # Half re-delivered, half new (the next day), and a repeat inside the batch itself.
    mixed = intervals[48:] + day_of_intervals(local(2026, 11, 4), 150)[:10]
    third = charge(db_session, world, MeterIntervals(meter.id, 900, mixed + mixed[-3:]))
    assert (third.charged, third.duplicates) == (10, 48)
    assert charge_rows(db_session, meter.id) == {"charged": 106}
    assert_ledger_invariants(db_session)


def test_charges_follow_the_tariff_lines(db_session):
    world = make_world(db_session)
    consumer, meter = make_metered_consumer(db_session, world)
    charge(db_session, world, MeterIntervals(meter.id, 900, day_of_intervals(local(2026, 11, 3), 150)))
    totals = component_totals(db_session, consumer.account.id)
    # 14.4 kWh at ₹3.00; ToD: 8 h off-peak at -10 %, 4 h peak at +20 % of their slab charge;
    # duty 5 % of energy; prepaid rebate 4 % of energy.
    assert totals["energy.slab1"] == 4_320
    assert totals["energy.tod.offpeak"] == -144  # 32 intervals × 150 Wh × ₹3.00 × -10 %
    assert totals["energy.tod.peak"] == 144  # 16 intervals × 150 Wh × ₹3.00 × +20 %
    assert totals["duty.electricity"] == 216
    assert totals["rebate.prepaid"] == -173
    assert wallet_balance(db_session, consumer) == -sum(totals.values())
    usage = db_session.execute(
        text("SELECT tod_zone, billed_energy_wh FROM usage_month WHERE account_id = :a"), {"a": consumer.account.id}
    )
    assert dict(usage.all()) == {"offpeak": 4_800, "": 7_200, "peak": 2_400}
    assert_ledger_invariants(db_session)


def test_slabs_use_month_to_date_units_across_batches_and_reset_each_month(db_session):
    world = make_world(db_session)
    consumer, meter = make_metered_consumer(db_session, world, sanctioned_load_w=100_000)
    # 190 kWh on Nov 29 (evening-free normal hours only), then 20 kWh on Nov 30: crosses 200 kWh.
    big = [(local(2026, 11, 29, 6) + timedelta(minutes=15 * (i + 1)), 190_000 // 40) for i in range(40)]
    charge(db_session, world, MeterIntervals(meter.id, 900, big))
    charge(
        db_session,
        world,
        MeterIntervals(
            meter.id, 900, [(local(2026, 11, 30, 6) + timedelta(minutes=15 * (i + 1)), 500) for i in range(40)]
        ),
    )
    totals = component_totals(db_session, consumer.account.id)
    assert totals["energy.slab1"] == 200_000 * 3 // 10
    assert totals["energy.slab2"] == 10_000 * 45 // 100
    # The interval ending at 00:00 on Dec 1 belongs to Nov 30; the next one starts December afresh.
    charge(
        db_session,
        world,
        MeterIntervals(meter.id, 900, [(local(2026, 12, 1, 0, 0), 1_000), (local(2026, 12, 1, 10, 0), 1_000)]),
    )
    months = db_session.execute(
        text(
            "SELECT month_date, sum(billed_energy_wh) FROM usage_month WHERE account_id = :a GROUP BY month_date "
            "ORDER BY month_date"
        ),
        {"a": consumer.account.id},
    ).all()
    assert [int(total) for _, total in months] == [211_000, 1_000]
    assert component_totals(db_session, consumer.account.id)["energy.slab2"] == 11_000 * 45 // 100
    assert_ledger_invariants(db_session)


def test_new_tariff_version_applies_to_consumption_after_its_effective_time(db_session):
    """Real-time tariff update (C2): no meter involved, every account on the tariff, from T on."""
    change_at = local(2026, 11, 3, 12, 0)
    world = make_world(db_session, demo_spec(), demo_spec(version=2, effective_from=change_at, slab1="5.00"))
    a, meter_a = make_metered_consumer(db_session, world)
    b, meter_b = make_metered_consumer(db_session, world)
    day = day_of_intervals(local(2026, 11, 3), 100)
    charge(db_session, world, MeterIntervals(meter_a.id, 900, day), MeterIntervals(meter_b.id, 900, day))
    for consumer in (a, b):
        # 48 intervals end at or before 12:00 (old rate), 48 after (new rate).
        assert component_totals(db_session, consumer.account.id)["energy.slab1"] == 48 * 30 + 48 * 50
    assert_ledger_invariants(db_session)


def test_late_data_is_billed_at_the_tariff_in_force_when_consumed(db_session):
    change_at = local(2026, 11, 5)
    world = make_world(db_session, demo_spec(), demo_spec(version=2, effective_from=change_at, slab1="5.00"))
    consumer, meter = make_metered_consumer(db_session, world)
    charge(db_session, world, MeterIntervals(meter.id, 900, day_of_intervals(local(2026, 11, 6), 100)))
    # The meter comes back with Nov 3 (old tariff) after Nov 6 was charged at the new one.
    late = charge(db_session, world, MeterIntervals(meter.id, 900, day_of_intervals(local(2026, 11, 3), 100)))
    assert late.charged == 96
    assert component_totals(db_session, consumer.account.id)["energy.slab1"] == 96 * 30 + 96 * 50
    assert_ledger_invariants(db_session)


def test_meter_replacement_maps_readings_to_the_account_served_then(db_session):
    world = make_world(db_session)
    first, old_meter = make_metered_consumer(db_session, world)
    swap_at = local(2026, 11, 3, 10, 0)
    installation = db_session.query(MeterInstallation).filter_by(meter_id=old_meter.id).one()
    installation.removed_at = swap_at
    installation.final_import_wh = 50_000
    new_meter = install_meter(db_session, world.books, first, at=swap_at)
    second = make_consumer(db_session, world.books)
    second.account.tariff_id = world.tariff_id
    db_session.add(
        MeterInstallation(
            meter_id=old_meter.id,
            account_id=second.account.id,
            installed_at=local(2026, 11, 4),
            initial_import_wh=50_000,
        )
    )
    db_session.flush()
    old_day3 = day_of_intervals(local(2026, 11, 3), 100)
    old_day5 = day_of_intervals(local(2026, 11, 5), 100)
    new_day3 = [iv for iv in day_of_intervals(local(2026, 11, 3), 100) if iv[0] > swap_at]
    result = charge(
        db_session,
        world,
        MeterIntervals(old_meter.id, 900, old_day3 + old_day5),
        MeterIntervals(new_meter.id, 900, new_day3),
    )
    assert result.unmapped == 96 - 40  # the old meter's intervals after its removal on Nov 3
    assert result.charged == 40 + 96 + 56
    first_wh = billed_wh(db_session, "account_id", first.account.id)
    second_wh = billed_wh(db_session, "account_id", second.account.id)
    assert (first_wh, second_wh) == (9_600, 9_600)
    assert charge_rows(db_session, old_meter.id) == {"charged": 40 + 96, "held": 96 - 40}  # unmapped: taken, held
    assert_ledger_invariants(db_session)


def test_implausible_and_negative_intervals_are_held_not_billed(db_session):
    world = make_world(db_session)
    _, meter = make_metered_consumer(db_session, world, sanctioned_load_w=2000)
    # Limit: 2 × 2 kW × 15 min = 1000 Wh.
    intervals = [
        (local(2026, 11, 3, 1, 0), 1_000),
        (local(2026, 11, 3, 1, 15), 1_001),
        (local(2026, 11, 3, 1, 30), -5),
        (local(2026, 11, 3, 1, 45), 0),
    ]
    result = charge(db_session, world, MeterIntervals(meter.id, 900, intervals))
    assert (result.charged, result.held) == (2, 2)
    holds = db_session.execute(
        text("SELECT energy_wh, limit_wh, reason, state FROM charge_hold WHERE meter_id = :m ORDER BY period_end_at"),
        {"m": meter.id},
    ).all()
    assert [(wh, limit, state) for wh, limit, _, state in holds] == [(1_001, 1_000, "open"), (-5, None, "open")]
    assert billed_wh(db_session, "meter_id", meter.id) == 1_000
    assert charge_rows(db_session, meter.id) == {"charged": 2, "held": 2}
    again = charge(db_session, world, MeterIntervals(meter.id, 900, intervals))
    assert (again.duplicates, again.held, again.charged) == (4, 0, 0)
    assert_ledger_invariants(db_session)


def test_policy_factor_is_a_setting(db_session):
    world = make_world(db_session)
    _, meter = make_metered_consumer(db_session, world, sanctioned_load_w=2000)
    result = charge(
        db_session,
        world,
        MeterIntervals(meter.id, 900, [(local(2026, 11, 3, 1), 1_400)]),
        policy=ChargingPolicy(max_load_factor_percent=300),
    )
    assert result.charged == 1
    with pytest.raises(ValueError, match="at least 100"):
        ChargingPolicy(max_load_factor_percent=50)


def test_intervals_nobody_can_take_are_held_with_the_reason(db_session):
    world = make_world(db_session)
    closed, closed_meter = make_metered_consumer(db_session, world)
    closed.account.status = AccountStatus.CLOSED
    untariffed, untariffed_meter = make_metered_consumer(db_session, world)
    untariffed.account.tariff_id = None
    db_session.flush()
    lonely = install_meter(db_session, world.books, closed, at=datetime(2030, 1, 1, tzinfo=UTC))  # not yet installed
    end = local(2026, 11, 3, 1)
    result = charge(
        db_session, world, *(MeterIntervals(m.id, 900, [(end, 100)]) for m in (closed_meter, untariffed_meter, lonely))
    )
    assert (result.charged, result.held, result.unmapped) == (0, 2, 1)
    reasons = dict(
        db_session.execute(select(ChargeHold.meter_id, ChargeHold.reason).where(ChargeHold.period_end_at == end)).all()
    )
    assert reasons == {
        closed_meter.id: "the account is closed",
        untariffed_meter.id: "the account has no tariff",
        lonely.id: "no installation of the meter covers the interval",
    }
    assert_ledger_invariants(db_session)


@pytest.mark.parametrize(
    ("batch", "message"),
    [
        (MeterIntervals(1, 600, []), "capture period"),
        (MeterIntervals(1, 900, [(datetime(2026, 11, 3, 1, 0), 10)]), "aware"),
        (MeterIntervals(1, 900, [(datetime(2026, 11, 3, 1, 0, tzinfo=UTC), 1.5)]), "int Wh"),
    ],
)
def test_malformed_batches_are_refused(db_session, batch, message):
    world = make_world(db_session)
    with pytest.raises(ChargingError, match=message):
        charge(db_session, world, batch)


def test_fixed_charge_is_daily_and_once(db_session):
    world = make_world(db_session)
    consumer, _ = make_metered_consumer(db_session, world, sanctioned_load_w=3000)
    untariffed, _ = make_metered_consumer(db_session, world)
    untariffed.account.tariff_id = None
    db_session.flush()
    first = charge_daily_fixed(
        db_session, utility_id=world.books.utility.id, local_date=date(2026, 11, 3), catalog=world.catalog, now=NOW
    )
    again = charge_daily_fixed(
        db_session, utility_id=world.books.utility.id, local_date=date(2026, 11, 3), catalog=world.catalog, now=NOW
    )
    assert (first.posted, first.already_posted, again.posted, again.already_posted) == (1, 0, 0, 1)
    # ₹50/kW/month × 3 kW / 30 days = ₹5.00 a day; 5 % duty on it.
    assert component_totals(db_session, consumer.account.id) == {"fixed.load": 500, "duty.electricity": 25}
    assert wallet_balance(db_session, consumer) == -525
    assert_ledger_invariants(db_session)


def test_catch_up_sweep_charges_stored_readings_once(db_session):
    world = make_world(db_session)
    consumer, meter = make_metered_consumer(db_session, world)
    day = day_of_intervals(local(2026, 11, 3), 100)
    store_block_readings(
        db_session,
        [
            {"meter_id": meter.id, "interval_end_at": end, "capture_period_s": 900, "import_wh": wh, "received_at": NOW}
            for end, wh in [*day, (local(2026, 11, 4, 1), -7)]
        ],
    )
    charge(db_session, world, MeterIntervals(meter.id, 900, day[:40]))  # some were charged as they arrived
    window = {"after": local(2026, 11, 1), "until": local(2026, 11, 5)}
    swept = charge_stored_readings(db_session, catalog=world.catalog, policy=POLICY, now=NOW, limit=30, **window)
    assert (swept.charged, swept.duplicates) == (30, 0)
    while (
        swept := charge_stored_readings(db_session, catalog=world.catalog, policy=POLICY, now=NOW, **window)
    ) is not None:
        assert swept.charged + swept.held > 0
    assert charge_rows(db_session, meter.id) == {"charged": 96, "held": 1}
    assert charge_stored_readings(db_session, catalog=world.catalog, policy=POLICY, now=NOW, **window) is None
    assert component_totals(db_session, consumer.account.id)["energy.slab1"] == 96 * 30
    assert_ledger_invariants(db_session)
