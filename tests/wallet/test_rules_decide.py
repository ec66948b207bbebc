"""``decide`` (domain.md §2, §3): disconnect/defer/block, reconnect thresholds, notices, the record.

Dates: Monday 2 March 2026; 1 March 2026 is a Sunday, 14 March the 2nd Saturday.
"""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any, cast
from zoneinfo import ZoneInfo

import pytest

from openprepaid.wallet.money import Paise
from openprepaid.wallet.rules import (
    AccountFacts,
    CategoryOverride,
    DailyWindow,
    Decision,
    DecisionOutcome,
    Disconnection,
    DisconnectionCalendar,
    DisconnectOrigin,
    EmergencyCreditConfig,
    EmergencyCreditState,
    EmergencyPhase,
    InvalidConfigError,
    InvalidFactsError,
    LastRecharge,
    NoticeKind,
    ProtectionConfig,
    ReconnectConfig,
    RelayAction,
    RelayState,
    RulesConfig,
    advance_emergency_credit,
    decide,
)

IST = ZoneInfo("Asia/Kolkata")
CONFIG = RulesConfig(utility="uppcl-test")


def decide_(account: AccountFacts, now: datetime, config: RulesConfig = CONFIG) -> Decision:
    return decide(account, now, config)


def ist(year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=IST).astimezone(UTC)


def exhausted_at(at: datetime) -> EmergencyCreditState:
    """Emergency credit that started 3 days before ``at`` and is used up at ``at``."""
    start = advance_emergency_credit(
        EmergencyCreditState(),
        balance_paise=Paise(-10),
        now_utc=at - timedelta(days=3),
        config=EmergencyCreditConfig(),
    ).state
    return advance_emergency_credit(start, balance_paise=Paise(-10), now_utc=at, config=EmergencyCreditConfig()).state


def facts(**changes: object) -> AccountFacts:
    base = AccountFacts(
        account_id="ACC-1", category="domestic", balance_paise=Paise(-2_000), previous_balance_paise=Paise(-1_900)
    )
    return replace(base, **changes)  # type: ignore[arg-type]


def due(now: datetime, **changes: object) -> AccountFacts:
    """An account whose 3 days of emergency credit ran out just now."""
    return facts(emergency_credit=exhausted_at(now), **changes)


def rules_disconnected(
    balance: int, *, at_balance: int = -10_000, recharged: int = 0, **changes: object
) -> AccountFacts:
    return facts(
        balance_paise=Paise(balance),
        previous_balance_paise=Paise(at_balance),
        relay=RelayState.DISCONNECTED,
        disconnection=Disconnection(ist(2026, 3, 2, 9, 0), DisconnectOrigin.PREPAID_RULES, Paise(at_balance)),
        recharged_since_disconnection_paise=Paise(recharged),
        **changes,
    )


class TestDisconnection:
    def test_due_in_an_allowed_minute_disconnects_now_with_full_record(self) -> None:
        now = ist(2026, 3, 2, 10, 0)
        decision = decide_(due(now), now)
        assert decision.outcome is DecisionOutcome.DISCONNECT_NOW
        assert decision.relay_action is RelayAction.DISCONNECT and decision.not_before == now
        assert decision.rule == "emergency_credit_expired"
        record = decision.record
        assert record["rule"] == "emergency_credit_expired"
        assert record["balance_paise"] == -2_000 and record["balance"] == "-₹20.00"
        assert record["calendar"] == {
            "at_utc": "2026-03-02T04:30:00+00:00",
            "local_time": "2026-03-02T10:00:00+05:30",
            "zone": "Asia/Kolkata",
            "allowed": True,
            "blocked_by": [],
        }
        assert record["protection"] == {"protected": False, "by": []}
        assert record["kill_switch_engaged"] is False
        assert record["utility"] == "uppcl-test"
        json.dumps(decision.to_dict())  # the whole decision is JSON without a custom encoder

    def test_exhausted_at_23h_is_deferred_to_08h(self) -> None:
        now = ist(2026, 3, 2, 23, 0)
        decision = decide_(due(now), now)
        assert decision.outcome is DecisionOutcome.DISCONNECT_DEFERRED
        assert decision.relay_action is RelayAction.DISCONNECT
        assert decision.not_before == ist(2026, 3, 3, 8, 0)
        calendar = decision.record["calendar"]
        assert isinstance(calendar, dict)
        assert calendar["blocked_by"] == [{"kind": "blocked_window", "detail": "18:00-08:00"}]
        assert decision.record["not_before"] == "2026-03-03T02:30:00+00:00"

    def test_saturday_evening_waits_until_monday(self) -> None:
        now = ist(2026, 3, 7, 20, 0)
        assert decide_(due(now), now).not_before == ist(2026, 3, 9, 8, 0)

    def test_grace_after_conversion_defers_to_its_end(self) -> None:
        now = ist(2026, 3, 2, 10, 0)
        decision = decide_(due(now, converted_to_prepaid_at=ist(2026, 2, 20, 11, 0)), now)
        assert decision.outcome is DecisionOutcome.DISCONNECT_DEFERRED
        assert decision.not_before == ist(2026, 3, 23, 8, 0)  # grace ends Sunday 22 March 11:00
        calendar = decision.record["calendar"]
        assert cast(Any, calendar)["blocked_by"][0]["kind"] == "grace_period"

    def test_allowed_only_category_override(self) -> None:
        config = RulesConfig(
            category_overrides={
                "agriculture": CategoryOverride(
                    calendar=DisconnectionCalendar.allowed_only(DailyWindow.parse("09:00-14:00")),
                    emergency_credit=EmergencyCreditConfig(days=7),
                )
            }
        )
        now = ist(2026, 3, 2, 15, 0)
        assert decide_(due(now, category="agriculture"), now, config).not_before == ist(2026, 3, 3, 9, 0)
        assert decide_(due(now), now, config).not_before == now  # other categories keep the utility calendar

    def test_no_emergency_credit_disconnects_when_balance_reaches_zero(self) -> None:
        config = RulesConfig(emergency_credit=EmergencyCreditConfig(days=None))
        now = ist(2026, 3, 2, 10, 0)
        decision = decide_(facts(balance_paise=Paise(0), previous_balance_paise=Paise(300)), now, config)
        assert decision.outcome is DecisionOutcome.DISCONNECT_NOW
        assert decision.rule == "balance_exhausted_no_emergency_credit"

    def test_emergency_credit_by_amount(self) -> None:
        config = RulesConfig(emergency_credit=EmergencyCreditConfig(days=None, amount_paise=Paise(5_000)))
        now = ist(2026, 3, 2, 10, 0)
        first = decide_(facts(balance_paise=Paise(-100), previous_balance_paise=Paise(200)), now, config)
        assert first.outcome is DecisionOutcome.NOTHING_DUE
        assert first.emergency_credit.floor_paise == -5_100
        second = decide_(
            facts(
                balance_paise=Paise(-5_100), previous_balance_paise=Paise(-100), emergency_credit=first.emergency_credit
            ),
            now + timedelta(hours=2),
            config,
        )
        assert second.outcome is DecisionOutcome.DISCONNECT_NOW and second.rule == "emergency_credit_used"


class TestBlocks:
    @pytest.mark.parametrize(
        ("changes", "config", "by"),
        [
            ({"category": "hospital"}, CONFIG, ["category:hospital"]),
            ({"account_protected": True, "protection_note": "life support"}, CONFIG, ["account:life support"]),
            (
                {"sanctioned_load_w": 1_000},
                RulesConfig(protection=ProtectionConfig(protect_sanctioned_load_w_at_most=1_000)),
                ["sanctioned_load:1000W<=1000W"],
            ),
        ],
    )
    def test_protected_accounts_are_never_disconnected(
        self, changes: dict[str, object], config: RulesConfig, by: list[str]
    ) -> None:
        now = ist(2026, 3, 2, 10, 0)
        decision = decide_(due(now, **changes), now, config)
        assert decision.outcome is DecisionOutcome.BLOCKED_PROTECTED
        assert decision.relay_action is RelayAction.NONE and decision.not_before is None
        assert decision.record["protection"] == {"protected": True, "by": by}
        assert isinstance(decision.record["calendar"], dict)  # the calendar is still reported

    def test_sanctioned_load_above_the_limit_is_not_protected(self) -> None:
        config = RulesConfig(protection=ProtectionConfig(protect_sanctioned_load_w_at_most=1_000))
        now = ist(2026, 3, 2, 10, 0)
        assert decide_(due(now, sanctioned_load_w=1_001), now, config).relay_action is RelayAction.DISCONNECT

    def test_kill_switch_blocks_and_cancels_pending_disconnections(self) -> None:
        now = ist(2026, 3, 2, 10, 0)
        config = replace(CONFIG, kill_switch_engaged=True)
        decision = decide_(due(now, pending_relay_command=RelayAction.DISCONNECT), now, config)
        assert decision.outcome is DecisionOutcome.BLOCKED_KILL_SWITCH
        assert decision.relay_action is RelayAction.NONE and decision.cancel_pending_command
        assert decision.record["kill_switch_engaged"] is True

    def test_kill_switch_does_not_stop_reconnections(self) -> None:
        config = replace(CONFIG, kill_switch_engaged=True)
        decision = decide_(rules_disconnected(500), ist(2026, 3, 2, 23, 0), config)
        assert decision.outcome is DecisionOutcome.RECONNECT_NOW

    def test_pending_disconnect_is_not_duplicated(self) -> None:
        now = ist(2026, 3, 2, 23, 0)
        decision = decide_(due(now, pending_relay_command=RelayAction.DISCONNECT), now)
        assert decision.outcome is DecisionOutcome.COMMAND_PENDING
        assert decision.relay_action is RelayAction.NONE and not decision.cancel_pending_command
        assert decision.not_before == ist(2026, 3, 3, 8, 0)

    def test_recharge_before_a_deferred_disconnection_cancels_it(self) -> None:
        now = ist(2026, 3, 2, 23, 0)
        state = exhausted_at(now)
        decision = decide_(
            facts(balance_paise=Paise(20_000), emergency_credit=state, pending_relay_command=RelayAction.DISCONNECT),
            now + timedelta(hours=1),
        )
        assert decision.outcome is DecisionOutcome.NOTHING_DUE and decision.cancel_pending_command
        assert decision.emergency_credit.phase is EmergencyPhase.NORMAL

    def test_no_allowed_time_within_horizon(self) -> None:
        config = RulesConfig(calendar_horizon_days=5)
        now = ist(2026, 3, 2, 10, 0)
        decision = decide_(due(now, converted_to_prepaid_at=now - timedelta(days=1)), now, config)
        assert decision.outcome is DecisionOutcome.BLOCKED_NO_ALLOWED_TIME
        assert decision.relay_action is RelayAction.NONE

    def test_rules_state_error_blocks_and_cancels(self) -> None:
        now = ist(2026, 3, 2, 10, 0)
        # the stored episode started a day after "now": the clock went back
        decision = decide_(due(now + timedelta(days=4), pending_relay_command=RelayAction.DISCONNECT), now)
        assert decision.outcome is DecisionOutcome.RULES_STATE_ERROR
        assert decision.relay_action is RelayAction.NONE and decision.cancel_pending_command
        assert decision.emergency_credit.phase is EmergencyPhase.ERROR

    def test_unknown_relay_is_treated_as_connected(self) -> None:
        now = ist(2026, 3, 2, 10, 0)
        assert decide_(due(now, relay=RelayState.UNKNOWN), now).relay_action is RelayAction.DISCONNECT


class TestReconnection:
    NOW = ist(2026, 3, 2, 22, 0)  # reconnection ignores the no-disconnection calendar

    def test_balance_above_zero_reconnects(self) -> None:
        decision = decide_(rules_disconnected(1), self.NOW)
        assert decision.outcome is DecisionOutcome.RECONNECT_NOW and decision.relay_action is RelayAction.RECONNECT
        assert decision.rule == "reconnect_balance_above_threshold"
        assert decision.emergency_credit.phase is EmergencyPhase.NORMAL

    def test_balance_of_exactly_zero_does_not(self) -> None:
        decision = decide_(rules_disconnected(0), self.NOW)
        assert decision.outcome is DecisionOutcome.RECONNECT_THRESHOLD_NOT_MET
        assert decision.relay_action is RelayAction.NONE

    def test_amount_threshold(self) -> None:
        config = RulesConfig(reconnect=ReconnectConfig(balance_above_paise=Paise(10_000)))
        assert decide_(rules_disconnected(10_000), self.NOW, config).relay_action is RelayAction.NONE
        assert decide_(rules_disconnected(10_001), self.NOW, config).relay_action is RelayAction.RECONNECT

    def test_half_of_dues_paid(self) -> None:
        config = RulesConfig(reconnect=ReconnectConfig(dues_paid_percent=Decimal(50)))
        short = decide_(rules_disconnected(-50_001, at_balance=-100_000, recharged=49_999), self.NOW, config)
        assert short.outcome is DecisionOutcome.RECONNECT_THRESHOLD_NOT_MET
        paid = decide_(
            rules_disconnected(
                -50_000, at_balance=-100_000, recharged=50_000, emergency_credit=exhausted_at(ist(2026, 3, 2, 8, 0))
            ),
            self.NOW,
            config,
        )
        assert paid.outcome is DecisionOutcome.RECONNECT_NOW and paid.rule == "reconnect_dues_paid_percent"
        # the qualifying recharge re-arms emergency credit: a new 3-day episode from now
        assert paid.emergency_credit.phase is EmergencyPhase.EMERGENCY_CREDIT
        assert paid.emergency_credit.started_at == self.NOW
        reconnect = paid.record["reconnect"]
        assert isinstance(reconnect, dict) and reconnect["dues_at_disconnection_paise"] == 100_000
        assert [n.kind for n in paid.notices] == [NoticeKind.EMERGENCY_CREDIT_STARTED]

    def test_operator_disconnection_is_never_reversed_automatically(self) -> None:
        account = replace(
            rules_disconnected(90_000),
            disconnection=Disconnection(ist(2026, 3, 2, 9, 0), DisconnectOrigin.OPERATOR, Paise(90_000)),
        )
        decision = decide_(account, self.NOW)
        assert decision.outcome is DecisionOutcome.HELD_BY_OTHER_DISCONNECTION
        assert decision.relay_action is RelayAction.NONE
        pending = decide_(replace(account, pending_relay_command=RelayAction.RECONNECT), self.NOW)
        assert pending.cancel_pending_command

    def test_disconnected_without_facts_is_held(self) -> None:
        decision = decide_(facts(balance_paise=Paise(500), relay=RelayState.DISCONNECTED), self.NOW)
        assert decision.outcome is DecisionOutcome.HELD_BY_OTHER_DISCONNECTION

    def test_pending_reconnect_is_not_duplicated(self) -> None:
        decision = decide_(rules_disconnected(500, pending_relay_command=RelayAction.RECONNECT), self.NOW)
        assert decision.outcome is DecisionOutcome.COMMAND_PENDING and not decision.cancel_pending_command

    def test_pending_disconnect_awaiting_read_back_is_left_alone(self) -> None:
        decision = decide_(
            rules_disconnected(
                -500, pending_relay_command=RelayAction.DISCONNECT, emergency_credit=exhausted_at(ist(2026, 3, 2, 8, 0))
            ),
            self.NOW,
        )
        assert decision.outcome is DecisionOutcome.RECONNECT_THRESHOLD_NOT_MET and not decision.cancel_pending_command


def test_a_month_in_the_life_of_an_account() -> None:
    """Recharge ₹500, spend down through the notices, emergency credit, deferred disconnection, reconnection."""
    recharge = LastRecharge("PAY-1", ist(2026, 3, 1, 9, 0), Paise(50_000))
    account = facts(balance_paise=Paise(50_000), previous_balance_paise=Paise(0), last_recharge=recharge)
    steps = [
        (ist(2026, 3, 3, 12, 0), 14_000, [NoticeKind.PERCENT_OF_LAST_RECHARGE], DecisionOutcome.NOTHING_DUE),
        (ist(2026, 3, 4, 12, 0), 4_000, [NoticeKind.PERCENT_OF_LAST_RECHARGE], DecisionOutcome.NOTHING_DUE),
        (
            ist(2026, 3, 5, 21, 0),
            -50,
            [NoticeKind.PERCENT_OF_LAST_RECHARGE, NoticeKind.EMERGENCY_CREDIT_STARTED],
            DecisionOutcome.NOTHING_DUE,
        ),
        (ist(2026, 3, 6, 21, 0), -3_000, [], DecisionOutcome.NOTHING_DUE),
        (ist(2026, 3, 8, 21, 0), -9_000, [NoticeKind.EMERGENCY_CREDIT_EXHAUSTED], DecisionOutcome.DISCONNECT_DEFERRED),
    ]
    decision = None
    for now, balance, notices, outcome in steps:
        account = replace(account, previous_balance_paise=account.balance_paise, balance_paise=Paise(balance))
        decision = decide_(account, now)
        assert [n.kind for n in decision.notices] == notices, now
        assert decision.outcome is outcome, now
        account = replace(account, emergency_credit=decision.emergency_credit, notice_state=decision.notice_state)
    assert decision is not None and decision.not_before == ist(2026, 3, 9, 8, 0)  # Sunday 21:00 -> Monday 08:00
    exhausted_notice = decision.notices[0].to_dict()["detail"]
    assert exhausted_notice == {"exhausted_by": "days", "disconnection_not_before": "2026-03-09T02:30:00+00:00"}
    # the HES confirms the disconnection; the consumer recharges ₹1000
    second = LastRecharge("PAY-2", ist(2026, 3, 10, 18, 0), Paise(100_000))
    account = replace(
        account,
        relay=RelayState.DISCONNECTED,
        previous_balance_paise=Paise(-9_200),
        balance_paise=Paise(90_800),
        last_recharge=second,
        recharged_since_disconnection_paise=Paise(100_000),
        disconnection=Disconnection(ist(2026, 3, 9, 8, 1), DisconnectOrigin.PREPAID_RULES, Paise(-9_200)),
    )
    decision = decide_(account, ist(2026, 3, 10, 18, 1))
    assert decision.outcome is DecisionOutcome.RECONNECT_NOW and decision.notices == ()
    assert decision.notice_state.armed_for_recharge == "PAY-2" and decision.notice_state.sent == frozenset()


class TestFailures:
    def test_naive_now(self) -> None:
        with pytest.raises(InvalidFactsError, match="naive"):
            decide_(facts(), datetime(2026, 3, 2, 10))

    def test_wrong_argument_types(self) -> None:
        with pytest.raises(InvalidConfigError, match="AccountFacts"):
            decide_({"account_id": "x"}, ist(2026, 3, 2, 10))  # type: ignore[arg-type]
        with pytest.raises(InvalidConfigError, match="RulesConfig"):
            decide_(facts(), ist(2026, 3, 2, 10), {"zone": "Asia/Kolkata"})  # type: ignore[arg-type]

    @pytest.mark.parametrize(
        ("changes", "match"),
        [
            ({"account_id": ""}, "account_id"),
            ({"category": None}, "category"),
            ({"balance_paise": 1.5}, "balance_paise"),
            ({"previous_balance_paise": "10"}, "previous_balance_paise"),
            ({"recharged_since_disconnection_paise": -1}, "recharged_since"),
            ({"average_daily_spend_paise": -5}, "average_daily_spend"),
            ({"relay": "connected"}, "relay"),
            ({"pending_relay_command": RelayAction.NONE}, "pending_relay_command"),
            ({"sanctioned_load_w": -1}, "sanctioned_load_w"),
            ({"converted_to_prepaid_at": datetime(2026, 1, 1)}, "naive"),
            ({"account_protected": "yes"}, "account_protected"),
        ],
    )
    def test_bad_facts(self, changes: dict[str, object], match: str) -> None:
        with pytest.raises(InvalidFactsError, match=match):
            facts(**changes)

    def test_bad_disconnection_facts(self) -> None:
        with pytest.raises(InvalidFactsError, match="origin"):
            Disconnection(ist(2026, 3, 2, 9), "operator", Paise(0))  # type: ignore[arg-type]
        with pytest.raises(InvalidFactsError, match="naive"):
            Disconnection(datetime(2026, 3, 2, 9), DisconnectOrigin.OPERATOR, Paise(0))
