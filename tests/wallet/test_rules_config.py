"""Rules configuration: the published defaults, category overrides, the plain-data codec, bad settings."""

from __future__ import annotations

import json
from datetime import date, time
from decimal import Decimal
from typing import Any, cast

import pytest

from openprepaid.wallet.money import Paise
from openprepaid.wallet.rules import (
    CategoryOverride,
    DailyWindow,
    DisconnectionCalendar,
    EmergencyCreditConfig,
    InvalidConfigError,
    NoticeConfig,
    NthWeekday,
    ProtectionConfig,
    PublicHoliday,
    ReconnectConfig,
    RulesConfig,
    UnknownTimeZoneError,
    Weekday,
)
from openprepaid.wallet.rules.config_codec import rules_config_from_dict, rules_config_to_dict


def test_defaults_are_the_published_rules() -> None:
    config = RulesConfig()
    assert config.zone == "Asia/Kolkata"
    assert config.notices.percent_of_last_recharge == (Decimal(30), Decimal(10), Decimal(0))
    assert config.notices.amounts_paise == () and config.notices.days_of_credit_left == ()
    assert (config.emergency_credit.starts_at_or_below_paise, config.emergency_credit.days) == (0, 3)
    assert config.emergency_credit.amount_paise is None
    calendar = config.calendar
    assert calendar.blocked_windows == (DailyWindow(time(18), time(8)),) and calendar.allowed_windows == ()
    assert calendar.blocked_weekdays == {Weekday.SUNDAY}
    assert calendar.blocked_nth_weekdays == (NthWeekday(Weekday.SATURDAY, 2),)
    assert calendar.grace_after_conversion_days == 30
    assert config.reconnect == ReconnectConfig(balance_above_paise=Paise(0), dues_paid_percent=None)
    assert config.protection.protected_categories == {"lifeline", "hospital", "government", "vip"}
    assert config.kill_switch_engaged is False and config.calendar_horizon_days == 366


def test_category_override_replaces_only_its_sections() -> None:
    agri = DisconnectionCalendar.allowed_only(DailyWindow.parse("09:00-14:00"))
    config = RulesConfig(category_overrides={"agriculture": CategoryOverride(calendar=agri)})
    rules = config.for_category("agriculture")
    assert rules.calendar is agri and rules.emergency_credit is config.emergency_credit
    assert config.for_category("domestic").calendar is config.calendar
    assert config.for_category("hospital").category_protected
    assert not rules.category_protected


def test_codec_round_trip_of_a_full_configuration() -> None:
    config = RulesConfig(
        utility="uppcl",
        notices=NoticeConfig(amounts_paise=(Paise(10_000),), days_of_credit_left=(Decimal(3), Decimal("0.5"))),
        emergency_credit=EmergencyCreditConfig(days=None, amount_paise=Paise(20_000)),
        calendar=DisconnectionCalendar(
            public_holidays=(PublicHoliday(date(2026, 3, 4), "Holi"),),
            blocked_nth_weekdays=(NthWeekday(Weekday.SATURDAY, 2), NthWeekday(Weekday.SATURDAY, 4)),
        ),
        reconnect=ReconnectConfig(dues_paid_percent=Decimal("50")),
        protection=ProtectionConfig(protect_sanctioned_load_w_at_most=1_000),
        category_overrides={
            "agriculture": CategoryOverride(
                calendar=DisconnectionCalendar.allowed_only(DailyWindow.parse("09:00-14:00"))
            )
        },
        kill_switch_engaged=True,
    )
    data = rules_config_to_dict(config)
    assert rules_config_from_dict(json.loads(json.dumps(data))) == config
    assert cast(Any, data)["calendar"]["blocked_windows"] == ["18:00-08:00"]
    assert data["reconnect"] == {"balance_above_paise": 0, "dues_paid_percent": 50}


def test_codec_reads_a_small_settings_file_with_merged_overrides() -> None:
    config = rules_config_from_dict(
        {
            "utility": "kerc-town",
            "calendar": {"public_holidays": [{"date": "2026-01-26", "name": "Republic Day"}]},
            "category_overrides": {"agriculture": {"emergency_credit": {"days": 7}}},
        }
    )
    assert config.calendar.holiday_names == {date(2026, 1, 26): "Republic Day"}
    agri = config.for_category("agriculture").emergency_credit
    assert agri.days == 7 and agri.starts_at_or_below_paise == 0
    assert rules_config_from_dict({}) == RulesConfig()


@pytest.mark.parametrize(
    ("data", "match"),
    [
        ({"zone": "Asia/Calcutta-ish"}, "not in the IANA"),
        ({"zones": "Asia/Kolkata"}, "unknown setting"),
        ({"calendar": {"blocked_windows": ["18:00-08:00", "07:00-09:00"]}}, "calendar: .*overlap"),
        ({"calendar": {"blocked_windows": ["09:00-09:00"]}}, "empty"),
        ({"calendar": {"blocked_weekdays": ["funday"]}}, r"calendar\.blocked_weekdays\[0\]"),
        ({"calendar": {"public_holidays": [{"date": "4 March"}]}}, "ISO date"),
        ({"calendar": {"public_holidays": [{"date": "2026-03-04", "when": "x"}]}}, "unknown setting"),
        ({"calendar": {"blocked_nth_weekdays": [{"weekday": "saturday", "n": 0}]}}, "nth weekday"),
        ({"calendar": {"blocked_windows": "18:00-08:00"}}, "expected a list"),
        ({"notices": {"percent_of_last_recharge": [12.5]}}, "notices: .*int, Decimal"),
        ({"notices": {"percent_of_last_recharge": [130]}}, "above the maximum"),
        ({"reconnect": {"dues_paid_percent": 0}}, "below the allowed range"),
        ({"reconnect": {"dues_paid_percent": 101}}, "above the maximum"),
        ({"reconnect": {"dues_paid_percent": 50}, "emergency_credit": {"days": None}}, "needs emergency credit"),
        ({"category_overrides": {"x": {"protection": {}}}}, "unknown setting"),
        (
            {"category_overrides": {"x": {"reconnect": {"dues_paid_percent": 50}, "emergency_credit": {"days": 0}}}},
            "category 'x'",
        ),
        ({"category_overrides": []}, "expected a mapping"),
        ({"kill_switch_engaged": "no"}, "kill_switch_engaged"),
        ({"calendar_horizon_days": 0}, "calendar_horizon_days"),
        ({"utility": ""}, "utility"),
        ([], "expected a mapping"),
    ],
)
def test_codec_refuses_bad_settings(data: object, match: str) -> None:
    with pytest.raises(InvalidConfigError, match=match):
        rules_config_from_dict(data)  # type: ignore[arg-type]


def test_unknown_zone_is_its_own_error_type() -> None:
    with pytest.raises(UnknownTimeZoneError):
        RulesConfig(zone="Nowhere/Special")


@pytest.mark.parametrize(
    ("build", "match"),
    [
        (lambda: ReconnectConfig(dues_paid_percent=Decimal(0)), "dues_paid_percent"),
        (lambda: ReconnectConfig(balance_above_paise=0.5), "balance_above_paise"),  # type: ignore[arg-type]
        (lambda: ProtectionConfig(protected_categories=frozenset({""})), "protected_categories"),
        (lambda: ProtectionConfig(protected_categories="hospital"), "protected_categories"),  # type: ignore[arg-type]
        (lambda: ProtectionConfig(protect_sanctioned_load_w_at_most=-1), "sanctioned_load"),
        (lambda: CategoryOverride(calendar=NoticeConfig()), "expected DisconnectionCalendar"),  # type: ignore[arg-type]
        (lambda: RulesConfig(category_overrides={"": CategoryOverride()}), "category names"),
        (lambda: RulesConfig(category_overrides={"x": NoticeConfig()}), "CategoryOverride"),  # type: ignore[dict-item]
        (lambda: RulesConfig(notices=EmergencyCreditConfig()), "notices"),  # type: ignore[arg-type]
    ],
)
def test_invalid_sections(build: object, match: str) -> None:
    with pytest.raises(InvalidConfigError, match=match):
        build()  # type: ignore[operator]
