"""Low-balance notices (domain.md §2): 30/10/0 % of the last recharge, amounts, days left; once per crossing."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from openprepaid.wallet.money import Paise
from openprepaid.wallet.rules import (
    InvalidConfigError,
    InvalidFactsError,
    LastRecharge,
    NoticeConfig,
    NoticeKind,
    NoticeState,
    detect_notices,
    notice_thresholds,
    thresholds_crossed,
)

RECHARGE_500 = LastRecharge("PAY-500", datetime(2026, 3, 1, 10, tzinfo=UTC), Paise(50_000))
DEFAULT = NoticeConfig()


class Walk:
    """Feeds a sequence of balances through detect_notices, keeping the state like the service does."""

    def __init__(
        self,
        start: int,
        config: NoticeConfig = DEFAULT,
        recharge: LastRecharge | None = RECHARGE_500,
        spend: int | None = None,
    ) -> None:
        self.balance, self.config, self.recharge, self.spend = start, config, recharge, spend
        self.state = NoticeState()

    def to(self, balance: int, recharge: LastRecharge | None = None) -> list[str]:
        if recharge is not None:
            self.recharge = recharge
        outcome = detect_notices(
            Paise(self.balance),
            Paise(balance),
            config=self.config,
            state=self.state,
            last_recharge=self.recharge,
            average_daily_spend_paise=None if self.spend is None else Paise(self.spend),
        )
        self.balance, self.state = balance, outcome.state
        return [notice.key for notice in outcome.notices]


def test_thirty_ten_zero_percent_each_once_per_crossing() -> None:
    walk = Walk(start=40_000)  # ₹400 left of a ₹500 recharge
    assert walk.to(15_001) == []
    assert walk.to(15_000) == ["percent_of_last_recharge:30"]  # ₹150 = 30 % of ₹500, reached exactly
    assert walk.to(9_000) == []
    assert walk.to(4_999) == ["percent_of_last_recharge:10"]
    assert walk.to(16_000) == []  # a reversal lifts the balance above 30 % again ...
    assert walk.to(14_000) == []  # ... and falling back through it does not repeat the notice
    assert walk.to(0) == ["percent_of_last_recharge:0"]
    assert walk.to(-500) == []


def test_a_recharge_re_arms_every_notice() -> None:
    walk = Walk(start=20_000)
    assert walk.to(-100) == [
        "percent_of_last_recharge:30",
        "percent_of_last_recharge:10",
        "percent_of_last_recharge:0",
    ]  # one big charge crosses all three: highest first
    second = LastRecharge("PAY-2", datetime(2026, 3, 5, tzinfo=UTC), Paise(100_000))
    assert walk.to(99_900, recharge=second) == []  # a recharge lifts the balance: nothing crossed downward
    assert walk.state == NoticeState(armed_for_recharge="PAY-2", sent=frozenset())
    assert walk.to(30_000) == ["percent_of_last_recharge:30"]  # 30 % of the new ₹1000 recharge
    assert walk.to(10_000) == ["percent_of_last_recharge:10"]


def test_same_recharge_reference_does_not_re_arm() -> None:
    walk = Walk(start=20_000)
    assert walk.to(10_000) == ["percent_of_last_recharge:30"]
    assert walk.to(20_000, recharge=RECHARGE_500) == []
    assert walk.to(10_000) == []


def test_percent_threshold_rounds_half_up_to_the_paisa() -> None:
    # 30 % of ₹333.35 = 10000.5 paise -> 10001 (round_paise, half-up); 10 % = 3333.5 -> 3334
    thresholds = notice_thresholds(DEFAULT, last_recharge_paise=Paise(33_335), average_daily_spend_paise=None)
    assert [(t.key, t.threshold_paise) for t in thresholds] == [
        ("percent_of_last_recharge:30", 10_001),
        ("percent_of_last_recharge:10", 3_334),
        ("percent_of_last_recharge:0", 0),
    ]


def test_absolute_amount_thresholds() -> None:
    config = NoticeConfig(percent_of_last_recharge=(), amounts_paise=(Paise(10_000), Paise(-5_000)))
    walk = Walk(start=12_000, config=config, recharge=None)
    assert walk.to(10_000) == ["amount:10000"]
    assert walk.to(-5_000) == ["amount:-5000"]


def test_days_of_credit_left_thresholds() -> None:
    config = NoticeConfig(percent_of_last_recharge=(), days_of_credit_left=(Decimal(3), Decimal("0.5")))
    walk = Walk(start=10_000, config=config, spend=2_000)  # thresholds ₹60 (3 days) and ₹10 (half a day)
    assert walk.to(6_001) == []
    assert walk.to(5_000) == ["days_of_credit_left:3"]
    assert walk.to(1_000) == ["days_of_credit_left:0.5"]


def test_days_left_needs_a_positive_average_spend() -> None:
    config = NoticeConfig(percent_of_last_recharge=(), days_of_credit_left=(Decimal(3),))
    assert Walk(start=10_000, config=config).to(0) == []
    assert Walk(start=10_000, config=config, spend=0).to(0) == []
    with pytest.raises(InvalidFactsError, match="negative"):
        Walk(start=10_000, config=config, spend=-1).to(0)


def test_percent_notices_need_a_last_recharge() -> None:
    assert Walk(start=10_000, recharge=None).to(-10) == []


def test_crossing_is_previous_above_and_new_at_or_below() -> None:
    thresholds = notice_thresholds(DEFAULT, last_recharge_paise=Paise(50_000), average_daily_spend_paise=None)

    def keys(prev: int, new: int) -> list[str]:
        return [t.key for t in thresholds_crossed(Paise(prev), Paise(new), thresholds)]

    assert keys(15_000, 14_000) == []  # started exactly on the 30 % threshold: already at or below it
    assert keys(15_001, 15_000) == ["percent_of_last_recharge:30"]
    assert keys(0, -1) == []
    assert keys(14_000, 20_000) == []  # upward moves never fire


def test_notice_record_is_json_ready() -> None:
    outcome = detect_notices(
        Paise(20_000), Paise(14_000), config=DEFAULT, state=NoticeState(), last_recharge=RECHARGE_500
    )
    (notice,) = outcome.notices
    assert notice.kind is NoticeKind.PERCENT_OF_LAST_RECHARGE
    assert notice.to_dict() == {
        "kind": "percent_of_last_recharge",
        "key": "percent_of_last_recharge:30",
        "balance_paise": 14_000,
        "balance": "₹140.00",
        "threshold_paise": 15_000,
        "detail": {"setting": "30", "threshold": "₹150.00", "last_recharge": RECHARGE_500.to_dict()},
    }


def test_state_round_trip_and_bad_stored_state() -> None:
    state = NoticeState("PAY-1", frozenset({"amount:100", "percent_of_last_recharge:30"}))
    assert NoticeState.from_dict(state.to_dict()) == state
    for bad in ({"armed_for_recharge": 5}, {"sent": "amount:100"}, {"sent": [1, 2]}):
        with pytest.raises(InvalidFactsError, match="notice state"):
            NoticeState.from_dict(bad)  # type: ignore[arg-type]
    with pytest.raises(InvalidFactsError, match="NoticeState"):
        detect_notices(Paise(1), Paise(0), config=DEFAULT, state={"sent": []})  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("settings", "match"),
    [
        ({"percent_of_last_recharge": (120,)}, "above the maximum"),
        ({"percent_of_last_recharge": (-1,)}, "below"),
        ({"percent_of_last_recharge": (30.0,)}, "expected an int, Decimal"),
        ({"percent_of_last_recharge": ("abc",)}, "not a number"),
        ({"percent_of_last_recharge": (Decimal("NaN"),)}, "not finite"),
        ({"percent_of_last_recharge": (30, 30)}, "listed twice"),
        ({"percent_of_last_recharge": 30}, "expected a sequence"),
        ({"amounts_paise": (100.5,)}, "whole number"),
        ({"days_of_credit_left": (0,)}, "below the allowed range"),
        ({"days_of_credit_left": (400,)}, "above the maximum"),
    ],
)
def test_invalid_notice_configuration(settings: dict[str, object], match: str) -> None:
    with pytest.raises(InvalidConfigError, match=match):
        NoticeConfig(**settings)  # type: ignore[arg-type]


def test_bad_facts() -> None:
    with pytest.raises(InvalidFactsError, match="new_balance_paise"):
        detect_notices(Paise(1), 0.5, config=DEFAULT, state=NoticeState())  # type: ignore[arg-type]
    with pytest.raises(InvalidFactsError, match="positive"):
        LastRecharge("PAY", datetime(2026, 3, 1, tzinfo=UTC), Paise(0))
    with pytest.raises(InvalidFactsError, match="naive"):
        LastRecharge("PAY", datetime(2026, 3, 1), Paise(100))
    with pytest.raises(InvalidFactsError, match="reference"):
        LastRecharge("", datetime(2026, 3, 1, tzinfo=UTC), Paise(100))
