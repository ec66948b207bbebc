"""Low-balance notices, each sent once per downward crossing (domain.md §2 "Low-balance notices").

A threshold T is *crossed* when the balance goes from above T to T or below (``previous > T >=
new``). Thresholds: a % of the last recharge amount (default 30/10/0 %, rounded to the paisa by
``round_paise``), fixed amounts, and days of credit left (days × average daily spend).

* ``thresholds_crossed`` is the stateless part: which thresholds lie in [new, previous).
* ``detect_notices`` adds the small persisted ``NoticeState``: notices already sent since the last
  recharge are not sent again (a balance bouncing around a threshold through reversals sends one
  notice); a new recharge (a different payment reference) re-arms every notice.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum

from openprepaid.wallet.money import Paise, format_inr, round_paise
from openprepaid.wallet.rules.config import NoticeConfig
from openprepaid.wallet.rules.errors import InvalidFactsError
from openprepaid.wallet.rules.facts import LastRecharge
from openprepaid.wallet.rules.json_record import JsonObject, JsonValue
from openprepaid.wallet.rules.validation import require_paise


class NoticeKind(StrEnum):
    PERCENT_OF_LAST_RECHARGE = "percent_of_last_recharge"
    AMOUNT = "amount"
    DAYS_OF_CREDIT_LEFT = "days_of_credit_left"
    EMERGENCY_CREDIT_STARTED = "emergency_credit_started"
    EMERGENCY_CREDIT_EXHAUSTED = "emergency_credit_exhausted"


@dataclass(frozen=True)
class NoticeThreshold:
    """One configured threshold made concrete in paise (``setting`` is the %, amount or days)."""

    kind: NoticeKind
    setting: Decimal
    threshold_paise: Paise

    @property
    def key(self) -> str:
        """Stable identity within one recharge, e.g. ``percent_of_last_recharge:30``."""
        return f"{self.kind.value}:{self.setting.normalize():f}"


@dataclass(frozen=True)
class Notice:
    """A notice to send to the consumer; ``detail`` carries what the message template needs."""

    kind: NoticeKind
    key: str
    balance_paise: Paise
    threshold_paise: Paise | None
    detail: JsonObject

    def to_dict(self) -> JsonObject:
        return {
            "kind": self.kind.value,
            "key": self.key,
            "balance_paise": int(self.balance_paise),
            "balance": format_inr(self.balance_paise),
            "threshold_paise": None if self.threshold_paise is None else int(self.threshold_paise),
            "detail": self.detail,
        }


@dataclass(frozen=True)
class NoticeState:
    """What the caller persists per account: the recharge the notices are armed for, and those sent."""

    armed_for_recharge: str | None = None
    sent: frozenset[str] = frozenset()

    def to_dict(self) -> JsonObject:
        sent: list[JsonValue] = [*sorted(self.sent)]
        return {"armed_for_recharge": self.armed_for_recharge, "sent": sent}

    @classmethod
    def from_dict(cls, data: dict[str, JsonValue]) -> NoticeState:
        armed = data.get("armed_for_recharge")
        sent = data.get("sent", [])
        if (armed is not None and not isinstance(armed, str)) or not isinstance(sent, list):
            raise InvalidFactsError(f"notice state {data!r}: expected armed_for_recharge text and a sent list")
        keys = [key for key in sent if isinstance(key, str)]
        if len(keys) != len(sent):
            raise InvalidFactsError(f"notice state {data!r}: sent keys must be text")
        return cls(armed_for_recharge=armed, sent=frozenset(keys))


@dataclass(frozen=True)
class NoticeOutcome:
    notices: tuple[Notice, ...]
    state: NoticeState


def notice_thresholds(
    config: NoticeConfig,
    *,
    last_recharge_paise: Paise | None,
    average_daily_spend_paise: Paise | None,
) -> tuple[NoticeThreshold, ...]:
    """Every configured threshold in paise, highest first; % thresholds need a last recharge and
    days-left thresholds a positive average daily spend (otherwise they are left out)."""
    found: list[NoticeThreshold] = []
    if last_recharge_paise is not None:
        base = Decimal(require_paise("last_recharge_paise", last_recharge_paise))
        found.extend(
            NoticeThreshold(NoticeKind.PERCENT_OF_LAST_RECHARGE, percent, round_paise(base * percent / 100))
            for percent in config.percent_of_last_recharge
        )
    found.extend(NoticeThreshold(NoticeKind.AMOUNT, Decimal(amount), amount) for amount in config.amounts_paise)
    if average_daily_spend_paise is not None:
        spend = require_paise("average_daily_spend_paise", average_daily_spend_paise)
        if spend < 0:
            raise InvalidFactsError(f"average_daily_spend_paise: {spend} is negative")
        if spend > 0:
            found.extend(
                NoticeThreshold(NoticeKind.DAYS_OF_CREDIT_LEFT, days, round_paise(days * spend))
                for days in config.days_of_credit_left
            )
    return tuple(sorted(found, key=lambda t: (-t.threshold_paise, t.kind.value, t.setting)))


def thresholds_crossed(
    previous_balance_paise: Paise, new_balance_paise: Paise, thresholds: tuple[NoticeThreshold, ...]
) -> tuple[NoticeThreshold, ...]:
    """Thresholds crossed downward between two balances: ``previous > threshold >= new``."""
    previous = require_paise("previous_balance_paise", previous_balance_paise)
    new = require_paise("new_balance_paise", new_balance_paise)
    return tuple(t for t in thresholds if previous > t.threshold_paise >= new)


def _notice_for(threshold: NoticeThreshold, balance_paise: Paise, last_recharge: LastRecharge | None) -> Notice:
    detail: JsonObject = {
        "setting": f"{threshold.setting.normalize():f}",
        "threshold": format_inr(threshold.threshold_paise),
    }
    if threshold.kind is NoticeKind.PERCENT_OF_LAST_RECHARGE and last_recharge is not None:
        detail["last_recharge"] = last_recharge.to_dict()
    return Notice(threshold.kind, threshold.key, balance_paise, threshold.threshold_paise, detail)


def detect_notices(
    previous_balance_paise: Paise,
    new_balance_paise: Paise,
    *,
    config: NoticeConfig,
    state: NoticeState,
    last_recharge: LastRecharge | None = None,
    average_daily_spend_paise: Paise | None = None,
) -> NoticeOutcome:
    """Notices to send for this balance change, and the state to persist.

    A recharge whose payment reference differs from ``state.armed_for_recharge`` clears the sent
    set first (re-arm). Several thresholds crossed by one change give several notices, highest first.
    """
    if not isinstance(state, NoticeState):
        raise InvalidFactsError(f"notice state: expected NoticeState, got {state!r}")
    if last_recharge is not None and last_recharge.reference != state.armed_for_recharge:
        state = NoticeState(armed_for_recharge=last_recharge.reference)
    thresholds = notice_thresholds(
        config,
        last_recharge_paise=None if last_recharge is None else last_recharge.amount_paise,
        average_daily_spend_paise=average_daily_spend_paise,
    )
    fresh = [
        t for t in thresholds_crossed(previous_balance_paise, new_balance_paise, thresholds) if t.key not in state.sent
    ]
    if not fresh:
        return NoticeOutcome((), state)
    notices = tuple(_notice_for(t, new_balance_paise, last_recharge) for t in fresh)
    return NoticeOutcome(notices, NoticeState(state.armed_for_recharge, state.sent | {t.key for t in fresh}))
