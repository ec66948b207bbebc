"""Public holidays make the ToD day type ``holiday`` in charging, the true-up and the month bill, from one
calendar: the utility's rules settings (``RulesConfig.calendar.public_holidays``)."""

from __future__ import annotations

import dataclasses
from datetime import UTC, date, timedelta
from decimal import Decimal

from sqlalchemy import text

from openprepaid.store.model import DailyReading
from openprepaid.wallet.charging import ChargingPolicy, MeterIntervals, charge_intervals
from openprepaid.wallet.rules import DisconnectionCalendar, PublicHoliday, RulesConfig
from openprepaid.wallet.settlement import settle_month
from openprepaid.wallet.tariff import DayType, TimeOfDay, TodSchedule, TodZone, day_type_on
from openprepaid.wallet.trueup import TrueUpOutcome, TrueUpPolicy, true_up_day
from openprepaid.wallet.utility_holidays import utility_holidays
from tests.wallet.test_charging import component_totals
from tests.wallet.test_ledger_world import (
    NOW,
    assert_ledger_invariants,
    day_of_intervals,
    demo_spec,
    local,
    make_metered_consumer,
    make_world,
)

HOLIDAY = local(2026, 11, 3)  # a Tuesday
RULES = RulesConfig(
    zone="Asia/Kolkata",
    calendar=DisconnectionCalendar(public_holidays=(PublicHoliday(HOLIDAY.date(), "Test holiday"),)),
)
HOLIDAYS = utility_holidays(RULES)
ALL_MONTHS = frozenset(range(1, 13))


def holiday_spec():
    """The demo tariff with a working-day ToD schedule and a different one on holidays (₹0.50/kWh off all day)."""
    working = TodSchedule(
        "working",
        ALL_MONTHS,
        frozenset({DayType.WEEKDAY, DayType.WEEKEND}),
        (
            TodZone("offpeak", 22 * 60, 6 * 60, multiplier=Decimal("0.90")),
            TodZone("normal", 6 * 60, 18 * 60, multiplier=Decimal("1.00")),
            TodZone("peak", 18 * 60, 22 * 60, multiplier=Decimal("1.20")),
        ),
    )
    holidays = TodSchedule(
        "holidays",
        ALL_MONTHS,
        frozenset({DayType.HOLIDAY}),
        (TodZone("holiday", 0, 1440, delta_per_kwh=Decimal("-0.50")),),
    )
    return dataclasses.replace(demo_spec(), tod=TimeOfDay((working, holidays)))


def zones_of_month(session, account_id: int) -> dict[str, int]:
    rows = session.execute(
        text("SELECT tod_zone, sum(billed_energy_wh) FROM usage_month WHERE account_id = :a GROUP BY tod_zone"),
        {"a": account_id},
    )
    return {zone: int(wh) for zone, wh in rows if wh}


def test_the_calendar_is_the_rules_public_holidays():
    assert utility_holidays(RULES) == {date(2026, 11, 3)}
    assert day_type_on(date(2026, 11, 3), HOLIDAYS) is DayType.HOLIDAY
    assert day_type_on(date(2026, 11, 4), HOLIDAYS) is None  # weekday/weekend by the calendar


def test_a_public_holiday_is_charged_in_the_holiday_zones(db_session):
    world = make_world(db_session, holiday_spec())
    consumer, meter = make_metered_consumer(db_session, world)
    days = [*day_of_intervals(HOLIDAY, 100), *day_of_intervals(HOLIDAY + timedelta(days=1), 100)]
    policy = ChargingPolicy(public_holidays=HOLIDAYS)
    result = charge_intervals(db_session, [MeterIntervals(meter.id, 900, days)], catalog=world.catalog, policy=policy,
                              now=NOW)  # fmt: skip
    assert result.charged == 192
    # The holiday: all 96 intervals in the holiday zone; the next day (a Wednesday) in the working-day zones.
    assert zones_of_month(db_session, consumer.account.id) == {
        "holiday": 9_600,
        "offpeak": 3_200,
        "peak": 1_600,
        "": 4_800,
    }
    totals = component_totals(db_session, consumer.account.id)
    assert totals["energy.tod.holiday"] == -480  # 9.6 kWh × ₹0.50
    assert totals["energy.tod.peak"] > 0 and totals["energy.tod.offpeak"] < 0
    assert_ledger_invariants(db_session)


def test_without_the_calendar_the_same_day_is_a_working_day(db_session):
    world = make_world(db_session, holiday_spec())
    consumer, meter = make_metered_consumer(db_session, world)
    charge_intervals(db_session, [MeterIntervals(meter.id, 900, day_of_intervals(HOLIDAY, 100))],
                     catalog=world.catalog, policy=ChargingPolicy(), now=NOW)  # fmt: skip
    assert zones_of_month(db_session, consumer.account.id) == {"offpeak": 3_200, "peak": 1_600, "": 4_800}


def test_the_trueup_and_the_month_bill_of_a_holiday(db_session):
    world = make_world(db_session, holiday_spec())
    consumer, meter = make_metered_consumer(db_session, world)
    charge_intervals(db_session, [MeterIntervals(meter.id, 900, day_of_intervals(HOLIDAY, 100)[:90])],
                     catalog=world.catalog, policy=ChargingPolicy(public_holidays=HOLIDAYS), now=NOW)  # fmt: skip
    for offset, value in ((0, 10_000), (1, 10_000 + 9_600)):
        captured = (HOLIDAY + timedelta(days=offset)).astimezone(UTC)
        db_session.add(DailyReading(meter_id=meter.id, captured_at=captured, import_wh_total=value, received_at=NOW))
    db_session.flush()
    result = true_up_day(db_session, meter_id=meter.id, local_date=HOLIDAY.date(), catalog=world.catalog,
                         policy=TrueUpPolicy(public_holidays=HOLIDAYS), now=NOW)  # fmt: skip
    assert (result.outcome, result.difference_wh) == (TrueUpOutcome.BILLED, 600)
    assert zones_of_month(db_session, consumer.account.id) == {"holiday": 9_600}
    assert component_totals(db_session, consumer.account.id)["energy.tod.holiday"] == -480
    month_end = local(2026, 12, 1).astimezone(UTC)
    statement = settle_month(db_session, account_id=consumer.account.id, month_date=date(2026, 11, 1),
                             catalog=world.catalog, now=month_end + timedelta(hours=1))  # fmt: skip
    assert statement.billed["energy.tod.holiday"] == -480
    assert statement.difference_paise == statement.billed_paise - statement.charged_paise
    assert_ledger_invariants(db_session)
