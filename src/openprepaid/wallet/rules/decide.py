"""``decide``: one account's relay action and notices from its facts (domain.md §2, §3).

Order of evaluation, each step recorded in ``Decision.record`` (stored with any relay command):

1. resolve the category's rules and the account's protection;
2. check the reconnect threshold (relay open by these rules) — meeting it re-arms emergency credit;
3. advance the emergency-credit machine (credit.py) and detect low-balance notices (notices.py);
4. relay: while the relay is open by these rules, reconnect once the threshold is met and the
   account is not due for disconnection; while it is closed and emergency credit is EXHAUSTED,
   disconnect — unless the account is protected, or the kill switch is engaged — at the
   calendar's next allowed minute (``not_before``; equal to ``now`` when allowed now).

Safety invariants (tested, including by property): a protected account is never given DISCONNECT;
with the kill switch engaged no DISCONNECT is given; every DISCONNECT carries the rule, the
balance and the calendar decision; a pending disconnection that is no longer wanted is flagged
for cancellation (``cancel_pending_command``); only disconnections made by these rules are
reconnected automatically (an operator's disconnection is left alone).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum

from openprepaid.wallet.money import Paise, format_inr
from openprepaid.wallet.rules.account_facts import AccountFacts
from openprepaid.wallet.rules.calendar_search import CalendarCheck, check_calendar, next_allowed_disconnection
from openprepaid.wallet.rules.config import CategoryRules, RulesConfig
from openprepaid.wallet.rules.credit import (
    EmergencyCreditState,
    EmergencyCreditStep,
    EmergencyPhase,
    ExhaustedBy,
    advance_emergency_credit,
)
from openprepaid.wallet.rules.errors import InvalidConfigError, NoAllowedMinuteError
from openprepaid.wallet.rules.facts import DisconnectOrigin, RelayAction, RelayState
from openprepaid.wallet.rules.json_record import JsonObject, iso, iso_or_none
from openprepaid.wallet.rules.notices import Notice, NoticeKind, NoticeState, detect_notices
from openprepaid.wallet.rules.protection import protection_of
from openprepaid.wallet.rules.reconnect import reconnect_threshold_met
from openprepaid.wallet.rules.validation import require_aware

RULE_NONE = "none"
DISCONNECT_RULES: dict[ExhaustedBy, str] = {
    ExhaustedBy.DAYS: "emergency_credit_expired",
    ExhaustedBy.AMOUNT: "emergency_credit_used",
    ExhaustedBy.NO_EMERGENCY_CREDIT: "balance_exhausted_no_emergency_credit",
}


class DecisionOutcome(StrEnum):
    NOTHING_DUE = "nothing_due"
    DISCONNECT_NOW = "disconnect_now"
    DISCONNECT_DEFERRED = "disconnect_deferred"  # due, but the calendar blocks now: DISCONNECT with not_before
    BLOCKED_PROTECTED = "blocked_protected"
    BLOCKED_KILL_SWITCH = "blocked_kill_switch"
    BLOCKED_NO_ALLOWED_TIME = "blocked_no_allowed_time"
    COMMAND_PENDING = "command_pending"
    RECONNECT_NOW = "reconnect_now"
    RECONNECT_THRESHOLD_NOT_MET = "reconnect_threshold_not_met"
    HELD_BY_OTHER_DISCONNECTION = "held_by_other_disconnection"  # opened by an operator, load control, ...
    RULES_STATE_ERROR = "rules_state_error"


@dataclass(frozen=True)
class Decision:
    """What to do for one account now; persist ``emergency_credit`` and ``notice_state``."""

    account_id: str
    evaluated_at: datetime
    outcome: DecisionOutcome
    relay_action: RelayAction
    rule: str
    not_before: datetime | None
    cancel_pending_command: bool
    notices: tuple[Notice, ...]
    emergency_credit: EmergencyCreditState
    notice_state: NoticeState
    record: JsonObject

    def to_dict(self) -> JsonObject:
        return {
            "account_id": self.account_id,
            "evaluated_at": iso(self.evaluated_at),
            "outcome": self.outcome.value,
            "relay_action": self.relay_action.value,
            "rule": self.rule,
            "not_before": iso_or_none(self.not_before),
            "cancel_pending_command": self.cancel_pending_command,
            "notices": [notice.to_dict() for notice in self.notices],
            "emergency_credit": self.emergency_credit.to_dict(),
            "notice_state": self.notice_state.to_dict(),
            "record": self.record,
        }


@dataclass(frozen=True)
class _Relay:
    outcome: DecisionOutcome
    action: RelayAction = RelayAction.NONE
    rule: str = RULE_NONE
    not_before: datetime | None = None
    calendar: CalendarCheck | None = None


def _disconnect_side(
    account: AccountFacts,
    now: datetime,
    rules: CategoryRules,
    config: RulesConfig,
    step: EmergencyCreditStep,
    *,
    protected: bool,
) -> _Relay:
    exhausted_by = step.state.exhausted_by or ExhaustedBy.NO_EMERGENCY_CREDIT
    rule = DISCONNECT_RULES[exhausted_by]
    calendar = check_calendar(now, rules.calendar, rules.zone, converted_to_prepaid_at=account.converted_to_prepaid_at)
    if protected:
        return _Relay(DecisionOutcome.BLOCKED_PROTECTED, rule=rule, calendar=calendar)
    if config.kill_switch_engaged:
        return _Relay(DecisionOutcome.BLOCKED_KILL_SWITCH, rule=rule, calendar=calendar)
    try:
        not_before = next_allowed_disconnection(
            now,
            rules.calendar,
            rules.zone,
            converted_to_prepaid_at=account.converted_to_prepaid_at,
            horizon_days=config.calendar_horizon_days,
        )
    except NoAllowedMinuteError:
        return _Relay(DecisionOutcome.BLOCKED_NO_ALLOWED_TIME, rule=rule, calendar=calendar)
    if account.pending_relay_command is RelayAction.DISCONNECT:
        return _Relay(DecisionOutcome.COMMAND_PENDING, rule=rule, not_before=not_before, calendar=calendar)
    outcome = DecisionOutcome.DISCONNECT_NOW if not_before == now else DecisionOutcome.DISCONNECT_DEFERRED
    return _Relay(outcome, RelayAction.DISCONNECT, rule, not_before, calendar)


def _ec_notices(step: EmergencyCreditStep, balance: Paise, relay: _Relay) -> list[Notice]:
    notices: list[Notice] = []
    state = step.state
    if step.started and state.phase is EmergencyPhase.EMERGENCY_CREDIT:
        notices.append(
            Notice(
                NoticeKind.EMERGENCY_CREDIT_STARTED,
                NoticeKind.EMERGENCY_CREDIT_STARTED.value,
                balance,
                None,
                {
                    "expires_at": iso_or_none(state.expires_at),
                    "floor_paise": None if state.floor_paise is None else int(state.floor_paise),
                },
            )
        )
    if step.became_exhausted:
        notices.append(
            Notice(
                NoticeKind.EMERGENCY_CREDIT_EXHAUSTED,
                NoticeKind.EMERGENCY_CREDIT_EXHAUSTED.value,
                balance,
                None,
                {
                    "exhausted_by": None if state.exhausted_by is None else state.exhausted_by.value,
                    "disconnection_not_before": iso_or_none(relay.not_before),
                },
            )
        )
    return notices


_KEEPS_PENDING: dict[RelayAction, frozenset[DecisionOutcome]] = {
    RelayAction.DISCONNECT: frozenset(
        {DecisionOutcome.DISCONNECT_NOW, DecisionOutcome.DISCONNECT_DEFERRED, DecisionOutcome.COMMAND_PENDING}
    ),
    RelayAction.RECONNECT: frozenset({DecisionOutcome.RECONNECT_NOW, DecisionOutcome.COMMAND_PENDING}),
}


def _contradicts_pending(account: AccountFacts, outcome: DecisionOutcome) -> bool:
    """A queued/sent command this decision no longer wants (recharged, protected, kill switch, ...).

    A command whose effect the relay already shows (awaiting its read-back) is left alone.
    """
    pending = account.pending_relay_command
    if pending is None:
        return False
    already_done = (pending is RelayAction.DISCONNECT) == (account.relay is RelayState.DISCONNECTED)
    if account.relay is not RelayState.UNKNOWN and already_done:
        return False
    return outcome not in _KEEPS_PENDING[pending]


def decide(account: AccountFacts, now_utc: datetime, config: RulesConfig) -> Decision:
    """Decide the relay action and notices for ``account`` at ``now_utc`` under ``config``."""
    if not isinstance(account, AccountFacts):
        raise InvalidConfigError(f"decide: expected AccountFacts, got {account!r}")
    if not isinstance(config, RulesConfig):
        raise InvalidConfigError(f"decide: expected RulesConfig, got {config!r}")
    now = require_aware("now_utc", now_utc).astimezone(UTC)
    rules = config.for_category(account.category)
    protection = protection_of(
        category=account.category,
        config=config.protection,
        account_protected=account.account_protected,
        protection_note=account.protection_note,
        sanctioned_load_w=account.sanctioned_load_w,
    )
    disconnected = account.relay is RelayState.DISCONNECTED
    disconnection = account.disconnection if disconnected else None
    by_rules = disconnection is not None and disconnection.origin is DisconnectOrigin.PREPAID_RULES
    reconnect = reconnect_threshold_met(
        account.balance_paise,
        rules.reconnect,
        disconnection=disconnection,
        recharged_since_disconnection_paise=account.recharged_since_disconnection_paise,
    )
    step = advance_emergency_credit(
        account.emergency_credit,
        balance_paise=account.balance_paise,
        now_utc=now,
        config=rules.emergency_credit,
        rearm=by_rules and reconnect.met,
    )
    phase = step.state.phase
    if phase is EmergencyPhase.ERROR:
        relay = _Relay(DecisionOutcome.RULES_STATE_ERROR)
    elif disconnected and not by_rules:
        relay = _Relay(DecisionOutcome.HELD_BY_OTHER_DISCONNECTION)
    elif disconnected and reconnect.met and phase is not EmergencyPhase.EXHAUSTED:
        if account.pending_relay_command is RelayAction.RECONNECT:
            relay = _Relay(DecisionOutcome.COMMAND_PENDING, rule=reconnect.rule)
        else:
            relay = _Relay(DecisionOutcome.RECONNECT_NOW, RelayAction.RECONNECT, reconnect.rule, now)
    elif disconnected:
        relay = _Relay(DecisionOutcome.RECONNECT_THRESHOLD_NOT_MET, rule=reconnect.rule)
    elif phase is EmergencyPhase.EXHAUSTED:
        relay = _disconnect_side(account, now, rules, config, step, protected=protection.protected)
    else:
        relay = _Relay(DecisionOutcome.NOTHING_DUE)

    cancel = _contradicts_pending(account, relay.outcome)
    notice_outcome = detect_notices(
        account.previous_balance_paise,
        account.balance_paise,
        config=rules.notices,
        state=account.notice_state,
        last_recharge=account.last_recharge,
        average_daily_spend_paise=account.average_daily_spend_paise,
    )
    notices = (*notice_outcome.notices, *_ec_notices(step, account.balance_paise, relay))
    record: JsonObject = {
        "utility": config.utility,
        "evaluated_at": iso(now),
        "outcome": relay.outcome.value,
        "relay_action": relay.action.value,
        "rule": relay.rule,
        "not_before": iso_or_none(relay.not_before),
        "balance_paise": int(account.balance_paise),
        "balance": format_inr(account.balance_paise),
        "facts": account.summary(),
        "emergency_credit": step.to_dict(),
        "calendar": None if relay.calendar is None else relay.calendar.to_dict(),
        "protection": protection.to_dict(),
        "kill_switch_engaged": config.kill_switch_engaged,
        "reconnect": reconnect.to_dict() if disconnected else None,
        "cancel_pending_command": cancel,
    }
    return Decision(
        account_id=account.account_id,
        evaluated_at=now,
        outcome=relay.outcome,
        relay_action=relay.action,
        rule=relay.rule,
        not_before=relay.not_before,
        cancel_pending_command=cancel,
        notices=notices,
        emergency_credit=step.state,
        notice_state=notice_outcome.state,
        record=record,
    )
