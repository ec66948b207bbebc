"""The true-up prices a day's register difference across the day's ToD zones, in proportion to the interval
energy billed in each (exact integer Wh, largest remainder); a day without intervals goes to the neutral zone."""

from __future__ import annotations

from datetime import UTC, timedelta

from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import text

from openprepaid.store.model import DailyReading
from openprepaid.wallet.charging import ChargingPolicy, MeterIntervals, charge_intervals
from openprepaid.wallet.trueup import TrueUpOutcome, TrueUpPolicy, split_in_proportion, true_up_day
from tests.wallet.test_ledger_world import (
    NOW,
    assert_ledger_invariants,
    day_of_intervals,
    local,
    make_metered_consumer,
    make_world,
)

DAY = local(2026, 11, 3)


@given(
    st.integers(min_value=0, max_value=10**7),
    st.dictionaries(
        st.tuples(st.integers(1, 3), st.sampled_from(["", "offpeak", "peak", "solar"])),
        st.integers(min_value=1, max_value=10**6),
        min_size=1,
        max_size=8,
    ),
)
def test_split_in_proportion_is_exact_and_fair(total, weights):
    parts = split_in_proportion(total, weights)
    assert set(parts) == set(weights) and sum(parts.values()) == total
    whole = sum(weights.values())
    for key, part in parts.items():
        exact = total * weights[key] / whole
        assert part >= 0 and abs(part - exact) < 1
        if total <= whole:
            assert part <= weights[key]


def test_split_in_proportion_remainder_rule():
    # 600 Wh over 2600 / 1600 / 4800: 173.3, 106.7, 320 -> the left-over Wh to the largest remainder (peak).
    weights = {(1, "offpeak"): 2600, (1, "peak"): 1600, (1, ""): 4800}
    assert split_in_proportion(600, weights) == {(1, "offpeak"): 173, (1, "peak"): 107, (1, ""): 320}
    # Equal remainders: the earlier key in sorted order.
    assert split_in_proportion(1, {(1, "b"): 1, (1, "a"): 1}) == {(1, "a"): 1, (1, "b"): 0}


def _registers(session, meter, start_wh, delta_wh):
    for offset, value in ((0, start_wh), (1, start_wh + delta_wh)):
        captured = (DAY + timedelta(days=offset)).astimezone(UTC)
        session.add(DailyReading(meter_id=meter.id, captured_at=captured, import_wh_total=value, received_at=NOW))
    session.flush()


def _zones(session, account_id):
    rows = session.execute(
        text("SELECT tod_zone, billed_energy_wh FROM usage_month WHERE account_id = :a"), {"a": account_id}
    )
    return {zone: int(wh) for zone, wh in rows}


def _trueup_components(session, account_id):
    rows = session.execute(
        text(
            "SELECT p.component, -sum(p.amount_paise) FROM posting p JOIN ledger_transaction t "
            "ON t.id = p.ledger_transaction_id WHERE t.account_id = :a AND t.kind = 'true_up' "
            "AND p.component <> 'total' GROUP BY p.component"
        ),
        {"a": account_id},
    )
    return {component: int(amount) for component, amount in rows}


def _true_up(session, world, meter):
    return true_up_day(
        session, meter_id=meter.id, local_date=DAY.date(), catalog=world.catalog, policy=TrueUpPolicy(), now=NOW
    )


def test_missing_energy_is_priced_across_the_days_zones(db_session):
    world = make_world(db_session)  # zones: offpeak 22-06 ×0.90, normal 06-18, peak 18-22 ×1.20
    consumer, meter = make_metered_consumer(db_session, world)
    # 90 of 96 intervals of 100 Wh: the six missing (22:45-24:00) were off-peak.
    charge_intervals(db_session, [MeterIntervals(meter.id, 900, day_of_intervals(DAY, 100)[:90])],
                     catalog=world.catalog, policy=ChargingPolicy(), now=NOW)  # fmt: skip
    assert _zones(db_session, consumer.account.id) == {"offpeak": 2_600, "peak": 1_600, "": 4_800}
    _registers(db_session, meter, 100_000, 9_600)
    result = _true_up(db_session, world, meter)
    assert (result.outcome, result.difference_wh) == (TrueUpOutcome.BILLED, 600)
    assert _zones(db_session, consumer.account.id) == {"offpeak": 2_773, "peak": 1_707, "": 5_120}
    components = _trueup_components(db_session, consumer.account.id)
    assert components["energy.slab1"] == 180  # 600 Wh at ₹3.00
    assert components["energy.tod.peak"] > 0 and components["energy.tod.offpeak"] < 0
    assert_ledger_invariants(db_session)


def test_a_credit_is_taken_back_from_each_zone_in_proportion(db_session):
    world = make_world(db_session)
    consumer, meter = make_metered_consumer(db_session, world)
    charge_intervals(db_session, [MeterIntervals(meter.id, 900, day_of_intervals(DAY, 100))],
                     catalog=world.catalog, policy=ChargingPolicy(), now=NOW)  # fmt: skip
    _registers(db_session, meter, 100_000, 9_000)  # 600 Wh less than the intervals said
    result = _true_up(db_session, world, meter)
    assert result.difference_wh == -600 and result.amount_paise < 0
    # 600 over 3200 / 1600 / 4800 = 200, 100, 300 exactly.
    assert _zones(db_session, consumer.account.id) == {"offpeak": 3_000, "peak": 1_500, "": 4_500}
    components = _trueup_components(db_session, consumer.account.id)
    assert components["energy.slab1"] == -180
    assert components["energy.tod.peak"] < 0 and components["energy.tod.offpeak"] > 0
    assert_ledger_invariants(db_session)


def test_a_day_without_intervals_goes_to_the_neutral_zone(db_session):
    world = make_world(db_session)
    consumer, meter = make_metered_consumer(db_session, world)
    _registers(db_session, meter, 100_000, 5_000)
    result = _true_up(db_session, world, meter)
    assert (result.outcome, result.intervals_wh, result.difference_wh) == (TrueUpOutcome.BILLED, 0, 5_000)
    assert _zones(db_session, consumer.account.id) == {"": 5_000}
    components = _trueup_components(db_session, consumer.account.id)
    assert components["energy.slab1"] == 1_500 and not any(c.startswith("energy.tod.") for c in components)
    assert_ledger_invariants(db_session)
