"""Property-based tests of the prepaid rules' safety invariants (domain.md §2, §3).

* ``next_allowed_disconnection`` returns an instant >= its input that ``check_calendar`` allows,
  and every whole UTC minute between them is blocked (no allowed minute is skipped);
* ``decide`` never disconnects a protected account, nor anything while the kill switch is engaged,
  and every DISCONNECT carries the rule, the balance and the calendar decision;
* notices never fire twice without a re-arm (a new recharge).
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from openprepaid.wallet.money import Paise
from openprepaid.wallet.rules import (
    AccountFacts,
    DailyWindow,
    Disconnection,
    DisconnectionCalendar,
    DisconnectOrigin,
    EmergencyCreditConfig,
    EmergencyCreditState,
    EmergencyPhase,
    ExhaustedBy,
    InvalidConfigError,
    LastRecharge,
    NoAllowedMinuteError,
    NoticeConfig,
    NoticeState,
    NthWeekday,
    ProtectionConfig,
    PublicHoliday,
    RelayAction,
    RelayState,
    RulesConfig,
    Weekday,
    check_calendar,
    decide,
    detect_notices,
    next_allowed_disconnection,
)

ZONES = [
    "Asia/Kolkata",
    "Asia/Kathmandu",
    "UTC",
    "America/New_York",
    "Europe/London",
    "Australia/Lord_Howe",
    "Pacific/Apia",
    "America/Sao_Paulo",
]
MINUTE = timedelta(minutes=1)

instants = st.datetimes(min_value=datetime(2005, 1, 1), max_value=datetime(2035, 12, 31), timezones=st.just(UTC))


@st.composite
def windows(draw: st.DrawFn, max_windows: int) -> tuple[DailyWindow, ...]:
    count = draw(st.integers(0, max_windows))
    if count == 0:
        return ()
    minutes = sorted(draw(st.sets(st.integers(0, 1439), min_size=2 * count, max_size=2 * count)))
    if draw(st.booleans()):  # rotate so that one window wraps midnight
        minutes = minutes[1:] + minutes[:1]
    pairs = zip(minutes[::2], minutes[1::2], strict=True)
    return tuple(
        DailyWindow(
            time(a // 60, a % 60),
            time(b // 60, b % 60),
        )
        for a, b in pairs
    )


@st.composite
def calendars(draw: st.DrawFn, around: date) -> DisconnectionCalendar:
    holidays = draw(st.lists(st.integers(-3, 6), max_size=2))
    try:
        return DisconnectionCalendar(
            blocked_windows=draw(windows(2)),
            allowed_windows=draw(windows(2)),
            blocked_weekdays=frozenset(draw(st.sets(st.sampled_from(list(Weekday)), max_size=2))),
            blocked_nth_weekdays=tuple(
                NthWeekday(draw(st.sampled_from(list(Weekday))), draw(st.sampled_from([1, 2, 3, 4, 5, -1])))
                for _ in range(draw(st.integers(0, 1)))
            ),
            public_holidays=tuple(PublicHoliday(around + timedelta(days=d)) for d in holidays),
            grace_after_conversion_days=draw(st.integers(0, 3)),
        )
    except InvalidConfigError:
        assume(False)
        raise


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), at=instants, zone_name=st.sampled_from(ZONES))
def test_next_allowed_is_allowed_and_skips_nothing(data: st.DataObject, at: datetime, zone_name: str) -> None:
    zone = ZoneInfo(zone_name)
    calendar = data.draw(calendars(at.astimezone(zone).date()))
    converted = data.draw(st.none() | st.just(at + timedelta(hours=data.draw(st.integers(-80, 30)))))
    try:
        result = next_allowed_disconnection(at, calendar, zone, converted_to_prepaid_at=converted, horizon_days=30)
    except NoAllowedMinuteError:
        assume(False)
        raise
    assert result >= at
    assert check_calendar(result, calendar, zone, converted_to_prepaid_at=converted).allowed
    if check_calendar(at, calendar, zone, converted_to_prepaid_at=converted).allowed:
        assert result == at
        return
    minute = at.replace(second=0, microsecond=0) + MINUTE
    while minute < result:
        assert not check_calendar(minute, calendar, zone, converted_to_prepaid_at=converted).allowed, minute
        minute += MINUTE


balances = st.integers(-500_000, 500_000).map(Paise)


@st.composite
def account_facts(draw: st.DrawFn, now: datetime) -> AccountFacts:
    relay = draw(st.sampled_from(list(RelayState)))
    recharge_at = now - timedelta(hours=draw(st.integers(1, 2000)))
    disconnection = None
    if relay is RelayState.DISCONNECTED and draw(st.booleans()):
        disconnection = Disconnection(
            at=now - timedelta(hours=draw(st.integers(0, 500))),
            origin=draw(st.sampled_from(list(DisconnectOrigin))),
            balance_paise=draw(balances),
        )
    phase = draw(st.sampled_from([EmergencyPhase.NORMAL, EmergencyPhase.EMERGENCY_CREDIT, EmergencyPhase.EXHAUSTED]))
    started = now - timedelta(hours=draw(st.integers(0, 200)))
    state = EmergencyCreditState()
    if phase is EmergencyPhase.EMERGENCY_CREDIT:
        state = EmergencyCreditState(phase, started, Paise(0), started + timedelta(days=3))
    elif phase is EmergencyPhase.EXHAUSTED:
        state = EmergencyCreditState(
            phase, started, Paise(0), started + timedelta(days=3), None, started, ExhaustedBy.DAYS
        )
    return AccountFacts(
        account_id="acc",
        category=draw(st.sampled_from(["domestic", "hospital", "lifeline", "commercial"])),
        balance_paise=draw(balances),
        previous_balance_paise=draw(balances),
        relay=relay,
        emergency_credit=state,
        last_recharge=draw(st.none() | st.just(LastRecharge("PAY-1", recharge_at, Paise(50_000)))),
        disconnection=disconnection,
        recharged_since_disconnection_paise=draw(st.integers(0, 100_000).map(Paise)),
        pending_relay_command=draw(st.sampled_from([None, RelayAction.DISCONNECT, RelayAction.RECONNECT])),
        account_protected=draw(st.booleans()),
        sanctioned_load_w=draw(st.none() | st.integers(0, 20_000)),
        converted_to_prepaid_at=draw(st.none() | st.just(now - timedelta(days=draw(st.integers(0, 60))))),
    )


CONFIGS = [
    RulesConfig(),
    RulesConfig(emergency_credit=EmergencyCreditConfig(days=None, amount_paise=Paise(10_000))),
    RulesConfig(emergency_credit=EmergencyCreditConfig(days=None)),
    RulesConfig(protection=ProtectionConfig(protect_sanctioned_load_w_at_most=1000)),
    RulesConfig(calendar=DisconnectionCalendar.allowed_only(DailyWindow.parse("09:00-14:00"))),
]


@settings(max_examples=300, deadline=None)
@given(data=st.data(), now=instants, config=st.sampled_from(CONFIGS), kill=st.booleans())
def test_decide_never_disconnects_protected_or_under_kill_switch(
    data: st.DataObject, now: datetime, config: RulesConfig, kill: bool
) -> None:
    facts = data.draw(account_facts(now))
    if kill:
        config = replace(config, kill_switch_engaged=True)
    decision = decide(facts, now, config)
    protected = (
        facts.account_protected
        or facts.category in config.protection.protected_categories
        or (
            config.protection.protect_sanctioned_load_w_at_most is not None
            and facts.sanctioned_load_w is not None
            and facts.sanctioned_load_w <= config.protection.protect_sanctioned_load_w_at_most
        )
    )
    if protected or kill:
        assert decision.relay_action is not RelayAction.DISCONNECT
    if decision.relay_action is RelayAction.DISCONNECT:
        record = decision.record
        assert record["rule"] and record["rule"] != "none"
        assert record["balance_paise"] == facts.balance_paise
        assert isinstance(record["calendar"], dict) and "allowed" in record["calendar"]
        assert decision.not_before is not None and decision.not_before >= now
        assert check_calendar(
            decision.not_before, config.calendar, config.zone, converted_to_prepaid_at=facts.converted_to_prepaid_at
        ).allowed
    if decision.relay_action is RelayAction.RECONNECT:
        assert facts.relay is RelayState.DISCONNECTED
        assert facts.disconnection is not None and facts.disconnection.origin is DisconnectOrigin.PREPAID_RULES


@settings(max_examples=200, deadline=None)
@given(
    walk=st.lists(st.integers(-30_000, 30_000), min_size=1, max_size=40),
    start=st.integers(-20_000, 120_000),
    config=st.sampled_from(
        [
            NoticeConfig(),
            NoticeConfig(amounts_paise=(Paise(5_000), Paise(-1_000)), days_of_credit_left=(Decimal(1), Decimal(3))),
        ]
    ),
)
def test_notices_never_fire_twice_without_rearm(walk: list[int], start: int, config: NoticeConfig) -> None:
    recharge = LastRecharge("PAY-7", datetime(2026, 3, 1, tzinfo=UTC), Paise(100_000))
    state = NoticeState()
    balance = start
    sent: list[str] = []
    for step in walk:
        new = balance + step
        outcome = detect_notices(
            Paise(balance),
            Paise(new),
            config=config,
            state=state,
            last_recharge=recharge,
            average_daily_spend_paise=Paise(2_000),
        )
        sent.extend(n.key for n in outcome.notices)
        state, balance = outcome.state, new
    assert len(sent) == len(set(sent))
