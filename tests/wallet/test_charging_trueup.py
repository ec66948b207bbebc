"""Daily true-up against the cumulative register, register rollover, and the review of held readings."""

from __future__ import annotations

from datetime import UTC, timedelta

import pytest
from sqlalchemy import text

from openprepaid.store.model import DailyReading, HoldSource, MeterInstallation
from openprepaid.store.repository.charge_day import interval_statuses
from openprepaid.wallet.charging import ChargingError, ChargingPolicy, MeterIntervals, charge_intervals
from openprepaid.wallet.holds import DayTruedUpError, HoldNotOpenError, reject_hold, release_hold
from openprepaid.wallet.trueup import TrueUpOutcome, TrueUpPolicy, register_delta, true_up_day, true_up_utility_day
from tests.wallet.test_charging import component_totals
from tests.wallet.test_ledger_world import (
    NOW,
    assert_ledger_invariants,
    day_of_intervals,
    local,
    make_metered_consumer,
    make_world,
    wallet_balance,
)

DAY = local(2026, 11, 3)
POLICY = TrueUpPolicy()


def registers(session, meter, *values_by_day):
    for offset, value in values_by_day:
        session.add(
            DailyReading(
                meter_id=meter.id,
                captured_at=(DAY + timedelta(days=offset)).astimezone(UTC),
                import_wh_total=value,
                received_at=NOW,
            )
        )
    session.flush()


def true_up(session, world, meter, policy=POLICY, **kwargs):
    return true_up_day(
        session, meter_id=meter.id, local_date=DAY.date(), catalog=world.catalog, policy=policy, now=NOW, **kwargs
    )


def release(session, world, meter, source, period_end_at, *, note, actor="operator:2", energy_wh=None):
    return release_hold(
        session,
        meter_id=meter.id,
        source=source,
        period_end_at=period_end_at,
        catalog=world.catalog,
        actor=actor,
        note=note,
        now=NOW,
        energy_wh=energy_wh,
    )


def reject(session, meter, source, period_end_at, *, note):
    reject_hold(
        session, meter_id=meter.id, source=source, period_end_at=period_end_at, actor="operator:2", note=note, now=NOW
    )


def charge(session, world, meter, intervals):
    return charge_intervals(
        session, [MeterIntervals(meter.id, 900, intervals)], catalog=world.catalog, policy=ChargingPolicy(), now=NOW
    )


@pytest.mark.parametrize(
    ("start", "end", "modulus", "expected"),
    [
        (1_000, 5_000, None, 4_000),
        (999_999_000, 1_000, 1_000_000_000, 2_000),  # the register wrapped once
        (5_000, 1_000, None, -4_000),  # went backwards: held by the caller
        (5_000, 5_000, 1_000_000_000, 0),
    ],
)
def test_register_delta(start, end, modulus, expected):
    assert register_delta(start, end, modulus) == expected


def test_missing_intervals_are_billed_by_the_register_once(db_session):
    world = make_world(db_session)
    consumer, meter = make_metered_consumer(db_session, world)
    charge(db_session, world, meter, day_of_intervals(DAY, 100)[:90])  # six intervals never arrive
    before = wallet_balance(db_session, consumer)
    registers(db_session, meter, (0, 100_000), (1, 100_000 + 9_600))
    result = true_up(db_session, world, meter)
    assert (result.outcome, result.register_delta_wh, result.intervals_wh, result.difference_wh) == (
        TrueUpOutcome.BILLED,
        9_600,
        9_000,
        600,
    )
    assert result.amount_paise > 0
    assert wallet_balance(db_session, consumer) == before - result.amount_paise
    assert true_up(db_session, world, meter).outcome is TrueUpOutcome.DONE_BEFORE
    # The six intervals finally arrive: the register billed them already.
    late = charge(db_session, world, meter, day_of_intervals(DAY, 100))
    assert (late.charged, late.covered, late.duplicates, late.amount_paise) == (0, 6, 90, 0)
    assert wallet_balance(db_session, consumer) == before - result.amount_paise
    energy = sum(v for k, v in component_totals(db_session, consumer.account.id).items() if k == "energy.slab1")
    assert energy == 9_600 * 3 // 10  # all 9.6 kWh of the day at ₹3.00, once
    assert_ledger_invariants(db_session)


def test_register_below_intervals_credits_back(db_session):
    world = make_world(db_session)
    consumer, meter = make_metered_consumer(db_session, world)
    charge(db_session, world, meter, day_of_intervals(DAY, 100))
    before = wallet_balance(db_session, consumer)
    registers(db_session, meter, (0, 50_000), (1, 50_000 + 9_000))
    result = true_up(db_session, world, meter)
    assert result.difference_wh == -600 and result.amount_paise < 0
    assert wallet_balance(db_session, consumer) == before - result.amount_paise
    assert component_totals(db_session, consumer.account.id)["energy.slab1"] == 9_000 * 3 // 10
    assert_ledger_invariants(db_session)


def test_equal_register_closes_the_day_without_money(db_session):
    world = make_world(db_session)
    _, meter = make_metered_consumer(db_session, world)
    charge(db_session, world, meter, day_of_intervals(DAY, 100))
    registers(db_session, meter, (0, 1_000), (1, 1_000 + 9_600))
    count = db_session.execute(text("SELECT count(*) FROM ledger_transaction")).scalar_one()
    assert true_up(db_session, world, meter).difference_wh == 0
    assert db_session.execute(text("SELECT count(*) FROM ledger_transaction")).scalar_one() == count
    assert true_up(db_session, world, meter).outcome is TrueUpOutcome.DONE_BEFORE


def test_rollover_is_followed_when_the_modulus_is_configured(db_session):
    world = make_world(db_session)
    _, meter = make_metered_consumer(db_session, world)
    registers(db_session, meter, (0, 999_998_000), (1, 1_000))
    result = true_up(db_session, world, meter, TrueUpPolicy(register_modulus_wh=1_000_000_000))
    assert (result.outcome, result.register_delta_wh) == (TrueUpOutcome.BILLED, 3_000)
    assert_ledger_invariants(db_session)


def test_backwards_register_is_held_then_released_by_an_operator(db_session):
    world = make_world(db_session)
    consumer, meter = make_metered_consumer(db_session, world)
    registers(db_session, meter, (0, 999_998_000), (1, 1_000))  # no modulus configured: looks negative
    held = true_up(db_session, world, meter)
    assert held.outcome is TrueUpOutcome.HELD
    assert wallet_balance(db_session, consumer) == 0
    assert true_up(db_session, world, meter).outcome is TrueUpOutcome.DONE_BEFORE
    day_end = (DAY + timedelta(days=1)).astimezone(UTC)
    released = release(
        db_session,
        world,
        meter,
        HoldSource.DAILY,
        day_end,
        note="register wrapped at 10^9 Wh",
        energy_wh=3_000,
        actor="operator:3",
    )
    assert released.amount_paise > 0
    assert wallet_balance(db_session, consumer) == -released.amount_paise
    with pytest.raises(HoldNotOpenError):
        release(db_session, world, meter, HoldSource.DAILY, day_end, note="again", energy_wh=3_000, actor="operator:3")
    assert_ledger_invariants(db_session)


def test_implausible_register_delta_is_held_and_can_be_rejected(db_session):
    world = make_world(db_session)
    consumer, meter = make_metered_consumer(db_session, world, sanctioned_load_w=1_000)
    registers(db_session, meter, (0, 0), (1, 48_001))  # > 2 × 1 kW × 24 h
    assert true_up(db_session, world, meter).outcome is TrueUpOutcome.HELD
    reject(db_session, meter, HoldSource.DAILY, (DAY + timedelta(days=1)).astimezone(UTC), note="meter fault")
    assert wallet_balance(db_session, consumer) == 0


def test_no_register_means_try_later_and_mid_day_installation_uses_its_initial_register(db_session):
    world = make_world(db_session)
    _, meter = make_metered_consumer(db_session, world, installed_at=(DAY + timedelta(hours=10)).astimezone(UTC))
    db_session.query(MeterInstallation).filter_by(meter_id=meter.id).update({"initial_import_wh": 7_000})
    assert true_up(db_session, world, meter).outcome is TrueUpOutcome.NO_REGISTER
    registers(db_session, meter, (1, 9_000))
    result = true_up(db_session, world, meter)
    assert (result.outcome, result.register_delta_wh) == (TrueUpOutcome.BILLED, 2_000)
    counts = true_up_utility_day(
        db_session,
        utility_id=world.books.utility.id,
        local_date=DAY.date(),
        catalog=world.catalog,
        policy=POLICY,
        now=NOW,
    )
    assert counts[TrueUpOutcome.BILLED] == 0  # already done: not even listed again
    assert_ledger_invariants(db_session)


def test_held_interval_released_bills_once_and_rejected_never(db_session):
    world = make_world(db_session)
    consumer, meter = make_metered_consumer(db_session, world, sanctioned_load_w=2_000)
    spike, negative = local(2026, 11, 3, 1, 0), local(2026, 11, 3, 1, 15)
    charge(db_session, world, meter, [(spike, 1_200), (negative, -3)])
    released = release(db_session, world, meter, HoldSource.BLOCK, spike, note="AC start-up confirmed")
    assert released.amount_paise > 0 and released.ledger_transaction_id is not None
    assert wallet_balance(db_session, consumer) == -released.amount_paise
    with pytest.raises(ChargingError, match="non-negative"):
        release(db_session, world, meter, HoldSource.BLOCK, negative, note="", actor="x")
    reject(db_session, meter, HoldSource.BLOCK, negative, note="corrupt record")
    statuses = {end: status.value for end, status in interval_statuses(db_session, meter.id).items()}
    assert statuses == {spike: "charged", negative: "rejected"}
    again = charge(db_session, world, meter, [(spike, 1_200), (negative, -3)])
    assert (again.duplicates, again.charged, again.amount_paise) == (2, 0, 0)
    with pytest.raises(HoldNotOpenError):
        release(db_session, world, meter, HoldSource.BLOCK, negative, note="changed my mind")
    assert_ledger_invariants(db_session)


def test_held_interval_of_a_trued_up_day_is_not_released(db_session):
    """The register difference billed the held interval's energy: releasing it would bill it twice."""
    world = make_world(db_session)
    _, meter = make_metered_consumer(db_session, world, sanctioned_load_w=2_000)
    intervals = day_of_intervals(DAY, 100)
    spike_end = intervals[4][0]
    intervals[4] = (spike_end, 1_200)  # held: above 2 × 2 kW × 15 min
    charge(db_session, world, meter, intervals)
    registers(db_session, meter, (0, 100_000), (1, 100_000 + 95 * 100 + 1_200))
    result = true_up(db_session, world, meter)
    assert result.difference_wh == 1_200
    with pytest.raises(DayTruedUpError, match="trued up"):
        release(db_session, world, meter, HoldSource.BLOCK, spike_end, note="AC start-up confirmed")
    reject(db_session, meter, HoldSource.BLOCK, spike_end, note="billed by the register")
    assert_ledger_invariants(db_session)


def test_unmapped_interval_released_after_the_installation_is_fixed(db_session):
    world = make_world(db_session)
    consumer, meter = make_metered_consumer(db_session, world, installed_at=local(2026, 11, 10).astimezone(UTC))
    early = local(2026, 11, 3, 1, 0)
    result = charge(db_session, world, meter, [(early, 200)])
    assert result.unmapped == 1
    with pytest.raises(ChargingError, match="cannot be charged"):
        release(db_session, world, meter, HoldSource.BLOCK, early, note="")
    db_session.query(MeterInstallation).filter_by(meter_id=meter.id).update(
        {"installed_at": local(2026, 11, 1).astimezone(UTC)}
    )
    released = release(db_session, world, meter, HoldSource.BLOCK, early, note="installation date corrected")
    assert wallet_balance(db_session, consumer) == -released.amount_paise
    assert charge(db_session, world, meter, [(early, 200)]).duplicates == 1
    assert_ledger_invariants(db_session)
