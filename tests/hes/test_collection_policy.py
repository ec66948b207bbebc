"""What is due for meter M at time T: cadences, local-time boundaries, overrides."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from openprepaid.hes.collection_policy import (
    CollectionFacts,
    CollectionJob,
    CollectionPolicy,
    PolicyError,
    ScheduleConfig,
    billing_date_in,
    due_jobs,
    expected_billing_capture_at,
    parse_duration,
)

IST = ZoneInfo("Asia/Kolkata")
J = CollectionJob
POLICY = CollectionPolicy()


def ist(*args: int) -> datetime:
    return datetime(*args, tzinfo=IST).astimezone(UTC)


def settled(now: datetime, **changes) -> CollectionFacts:
    """A meter whose every job was just done at ``now`` (nothing due), with ``changes`` applied."""
    local = now.astimezone(IST)
    base = {
        "meter_id": 1,
        "has_name_plate": True,
        "last_block_end_at": now,
        "last_block_collected_at": now,
        "last_events_at": now,
        "last_daily_at": datetime.combine(local.date(), time(0), tzinfo=IST),
        "last_billing_at": datetime.combine(local.date().replace(day=1), time(0), tzinfo=IST),
        "last_clock_check_at": now,
    }
    base.update(changes)
    return CollectionFacts(**base)


def test_a_new_meter_gets_everything_in_session_order():
    now = ist(2026, 11, 24, 10, 0)
    assert due_jobs(CollectionFacts(1), POLICY, now, IST) == (
        J.NAME_PLATE,
        J.CLOCK_CHECK,
        J.BLOCK_LOAD,
        J.EVENTS,
        J.DAILY,
        J.BILLING,
    )
    assert due_jobs(settled(now), POLICY, now, IST) == ()


def test_block_load_every_four_hours_and_after_a_reconnect():
    now = ist(2026, 11, 24, 10, 0)
    facts = settled(now)
    assert J.BLOCK_LOAD not in due_jobs(facts, POLICY, now + timedelta(hours=3, minutes=59), IST)
    assert J.BLOCK_LOAD in due_jobs(facts, POLICY, now + timedelta(hours=4), IST)
    back = settled(now, reconnected_at=now + timedelta(minutes=20))
    assert due_jobs(back, POLICY, now + timedelta(minutes=21), IST) == (J.BLOCK_LOAD, J.EVENTS)
    no_reconnect = CollectionPolicy(block_load_on_reconnect=False)
    assert J.BLOCK_LOAD not in due_jobs(back, no_reconnect, now + timedelta(minutes=21), IST)
    # The newest stored interval counts as collected too (e.g. after a restart).
    assert J.BLOCK_LOAD not in due_jobs(
        settled(now, last_block_collected_at=None, last_block_end_at=now - timedelta(hours=1)),
        POLICY,
        now,
        IST,
    )


def test_daily_profile_after_0005_local_time():
    facts = settled(ist(2026, 11, 23, 12, 0))  # has the snapshot of 23 Nov 00:00 IST
    assert J.DAILY not in due_jobs(facts, POLICY, ist(2026, 11, 24, 0, 4, 59), IST)
    assert J.DAILY in due_jobs(facts, POLICY, ist(2026, 11, 24, 0, 5), IST)
    midnight = settled(ist(2026, 11, 24, 0, 5), last_daily_at=ist(2026, 11, 24, 0, 0))
    assert J.DAILY not in due_jobs(midnight, POLICY, ist(2026, 11, 24, 0, 6), IST)
    stamped_before = settled(ist(2026, 11, 24, 0, 5), last_daily_at=ist(2026, 11, 23, 23, 59, 59))
    assert J.DAILY not in due_jobs(stamped_before, POLICY, ist(2026, 11, 24, 0, 6), IST)
    # 00:05 IST is 18:35 UTC of the day before: the boundary is local, not UTC.
    assert J.DAILY in due_jobs(facts, POLICY, datetime(2026, 11, 23, 18, 35, tzinfo=UTC), IST)


def test_daily_boundary_on_a_daylight_saving_day():
    new_york = ZoneInfo("America/New_York")
    now = datetime(2026, 3, 8, 0, 10, tzinfo=new_york)
    facts = CollectionFacts(1, last_daily_at=datetime(2026, 3, 7, 0, 0, tzinfo=new_york))
    assert J.DAILY in due_jobs(facts, POLICY, now, new_york)
    facts = CollectionFacts(1, last_daily_at=datetime(2026, 3, 8, 5, 0, tzinfo=UTC))  # 00:00 EST
    assert J.DAILY not in due_jobs(facts, POLICY, now, new_york)


def test_billing_profile_after_the_billing_date():
    facts = settled(ist(2026, 11, 15, 12, 0))  # has the 1 Nov snapshot
    assert J.BILLING not in due_jobs(facts, POLICY, ist(2026, 12, 1, 0, 4), IST)
    assert J.BILLING in due_jobs(facts, POLICY, ist(2026, 12, 1, 0, 5), IST)
    day_15 = CollectionPolicy(billing_day=15)
    assert expected_billing_capture_at(ist(2026, 1, 10, 9, 0), day_15, IST) == datetime(2025, 12, 15, tzinfo=IST)
    assert expected_billing_capture_at(ist(2026, 1, 15, 9, 0), day_15, IST) == datetime(2026, 1, 15, tzinfo=IST)
    assert billing_date_in(2026, 2, 31).day == 28 and billing_date_in(2028, 2, 31).day == 29
    assert billing_date_in(2026, 12, 31).day == 31


def test_clock_check_daily_and_a_recent_attempt_waits():
    now = ist(2026, 11, 24, 10, 0)
    later = now + timedelta(days=1)
    facts = settled(later, last_clock_check_at=now + timedelta(seconds=1))
    assert due_jobs(facts, POLICY, later, IST) == ()
    facts = settled(later, last_clock_check_at=now)
    assert due_jobs(facts, POLICY, later, IST) == (J.CLOCK_CHECK,)
    failed = settled(
        now,
        last_block_collected_at=now - timedelta(hours=5),
        last_block_end_at=now - timedelta(hours=5),
        last_attempt_at={J.BLOCK_LOAD: now - timedelta(minutes=10)},
    )
    assert J.BLOCK_LOAD not in due_jobs(failed, POLICY, now, IST)
    assert J.BLOCK_LOAD in due_jobs(failed, POLICY, now + timedelta(minutes=5), IST)
    back = settled(
        now,
        last_block_collected_at=now - timedelta(hours=5),
        last_block_end_at=None,
        reconnected_at=now - timedelta(minutes=1),
        last_attempt_at={J.BLOCK_LOAD: now - timedelta(minutes=10)},
    )
    assert J.BLOCK_LOAD in due_jobs(back, POLICY, now, IST)


def test_overrides_by_group_then_meter():
    config = ScheduleConfig(
        groups={"type:CT-3P": {"block_load_every": "30m", "instant_every": "1h"}, "utility:2": {"billing_day": 5}},
        meters={7: {"events_every": "off", "block_load_every": "2h"}, 8: {"enabled": False}},
    )
    assert config.policy_for(1) == CollectionPolicy()
    ct = config.policy_for(1, ("utility:2", "type:CT-3P"))
    assert ct.block_load_every == timedelta(minutes=30) and ct.instant_every == timedelta(hours=1)
    assert ct.billing_day == 5
    meter_7 = config.policy_for(7, ("type:CT-3P",))
    assert meter_7.block_load_every == timedelta(hours=2) and meter_7.events_every is None
    assert meter_7.instant_every == timedelta(hours=1)
    assert due_jobs(CollectionFacts(8), config.policy_for(8), ist(2026, 11, 24, 10, 0), IST) == ()
    now = ist(2026, 11, 24, 10, 0)
    assert J.EVENTS not in due_jobs(CollectionFacts(7), meter_7, now, IST)
    assert J.INSTANT in due_jobs(CollectionFacts(7), meter_7, now, IST)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"block_load_every": "soon"}, "not a duration"),
        ({"block_load_every": "off"}, "cannot be switched off"),
        ({"billing_day": 0}, "billing_day"),
        ({"billing_day": "1"}, "integer"),
        ({"daily_after": "25:00"}, "time of day"),
        ({"clock_drift_max_s": 0}, "clock_drift_max_s"),
        ({"min_attempt_gap": 0}, "positive"),
        ({"enabled": "yes"}, "true or false"),
        ({"blockload_every": "4h"}, "unknown schedule settings"),
    ],
)
def test_bad_overrides_are_refused_at_configuration_time(changes, message):
    with pytest.raises(PolicyError, match=message):
        ScheduleConfig(meters={1: changes})


def test_durations():
    assert parse_duration("90s") == timedelta(seconds=90)
    assert parse_duration("15m") == timedelta(minutes=15)
    assert parse_duration("1d") == timedelta(days=1)
    assert parse_duration(30) == timedelta(seconds=30)
    with pytest.raises(PolicyError):
        parse_duration(True)
