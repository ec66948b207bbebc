"""The prepaid rules service: run ``wallet.rules.decide`` for a utility's accounts against the real
ledger and command history, persist the rules' state, record notices, return relay commands.

Invariants (domain.md §2–3; docs/prepaid-rules.md "The rules service"):
- Nothing commits; the caller's unit of work does. The caller hands the returned requests to the
  HES command queue (which the wallet may not import) after that commit.
- Notices are recorded once: each carries a dedup key (account, the recharge its thresholds are
  armed for, threshold; emergency-credit notices: the episode), unique in the ``notice`` table.
- Relay commands carry deterministic idempotency keys,
  ``rules:<account>:disconnect:<emergency-credit episode start, epoch s>:<n>`` and
  ``rules:<account>:reconnect:<confirmed disconnect command id>:<n>``, where ``n`` counts the
  rules' earlier commands of the same episode found in the command history. A retry or a
  crash-rerun of a step therefore names the same command (the queue's enqueue finds it); only
  when that command ended without effect (failed, expired, cancelled) does ``n`` move on.
- Every DISCONNECT carries the decision record (rule, balance, calendar decision) and is only
  issued for a meter with a relay; accounts without one are evaluated for notices only.
- A pending command is cancelled only when it is the rules' own (``cancel_meter_ids``); an
  operator's command is never touched.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.orm import Session

from openprepaid.store.repository import prepaid_state as repo
from openprepaid.wallet.money import format_inr
from openprepaid.wallet.rules import (
    Decision,
    DecisionOutcome,
    Notice,
    NoticeKind,
    RelayAction,
    RulesConfig,
    decide,
    resolve_zone,
)
from openprepaid.wallet.rules.errors import InvalidFactsError, RulesError
from openprepaid.wallet.rules_enforcement_gap import EnforcementGapRow, enforcement_gap
from openprepaid.wallet.rules_facts_query import RULES_ACTOR, WALLET_CODE, AccountContext, gather

__all__ = [
    "RULES_ACTOR",
    "EnforcementGapRow",
    "RelayCommandRequest",
    "RulesRunResult",
    "enforcement_gap",
    "run_rules",
]

log = logging.getLogger(__name__)
_EC_NOTICES = frozenset({NoticeKind.EMERGENCY_CREDIT_STARTED, NoticeKind.EMERGENCY_CREDIT_EXHAUSTED})


@dataclass(frozen=True, slots=True)
class RelayCommandRequest:
    account_id: int
    meter_id: int
    action: RelayAction  # DISCONNECT or RECONNECT
    not_before_at: datetime | None  # the calendar's next allowed minute for a deferred disconnection
    reason: str  # human readable: rule, balance, calendar decision
    decision: dict[str, Any]  # Decision.to_dict()["record"]: stored with the command
    idempotency_key: str
    actor: str = RULES_ACTOR


@dataclass(frozen=True, slots=True)
class RulesRunResult:
    evaluated: int
    notices: int  # new notices recorded
    commands: list[RelayCommandRequest] = field(default_factory=list)
    cancel_meter_ids: list[int] = field(default_factory=list)  # their pending rules relay command is unwanted


def _aware_utc(now: datetime) -> datetime:
    if not isinstance(now, datetime) or now.tzinfo is None or now.utcoffset() is None:
        raise InvalidFactsError(f"now: expected an aware datetime, got {now!r}")
    return now.astimezone(UTC)


def _notice_row(context: AccountContext, decision: Decision, notice: Notice, now: datetime) -> dict[str, Any]:
    account_id = context.row.account_id
    if notice.kind in _EC_NOTICES:
        started = decision.emergency_credit.started_at
        episode = "-" if started is None else str(int(started.timestamp()))
        dedup = f"{account_id}:{notice.key}:{episode}"
    else:
        dedup = f"{account_id}:{decision.notice_state.armed_for_recharge or '-'}:{notice.key}"
    return {
        "account_id": account_id,
        "kind": notice.kind.value,
        "notice_key": notice.key[:80],
        "threshold_paise": None if notice.threshold_paise is None else int(notice.threshold_paise),
        "balance_paise": int(notice.balance_paise),
        "detail": notice.to_dict(),
        "created_at": now,
        "dedup_key": dedup[:200],
    }


def _state_row(context: AccountContext, decision: Decision, now: datetime) -> dict[str, Any]:
    """The state to store; only the balance and the time when the JSON columns would not change."""
    credit, notices = decision.emergency_credit.to_dict(), decision.notice_state.to_dict()
    disconnection = context.disconnection_cache
    if (
        not context.marks_added
        and credit == context.row.emergency_credit
        and notices == context.row.notice_state
        and disconnection == context.row.disconnection
    ):
        return {"account_id": context.row.account_id, "last_balance_paise": context.balance_paise, "evaluated_at": now}
    return {
        "account_id": context.row.account_id,
        "emergency_credit": credit,
        "notice_state": notices,
        "last_balance_paise": context.balance_paise,
        "evaluated_at": now,
        "spend_marks": [mark.to_json() for mark in context.spend_marks],
        "average_daily_spend_paise": context.average_daily_spend_paise,
        "disconnection": disconnection,
    }


def _episode(context: AccountContext, decision: Decision) -> str:
    if decision.relay_action is RelayAction.RECONNECT:
        return "-" if context.confirmed is None else str(context.confirmed.id)
    started = decision.emergency_credit.started_at
    return str(int((started or decision.evaluated_at).timestamp()))


def _idempotency_key(account_id: int, action: RelayAction, episode: str, issued: set[str]) -> str:
    prefix = f"rules:{account_id}:{action.value}:{episode}:"
    earlier = [key.removeprefix(prefix) for key in issued if key.startswith(prefix)]
    attempts = [int(suffix) for suffix in earlier if suffix.isdigit()]
    return f"{prefix}{max(attempts) + 1 if attempts else 0}"


def _calendar_text(decision: Decision, config: RulesConfig) -> str:
    calendar = decision.record.get("calendar")
    if not isinstance(calendar, dict):
        return "calendar: not checked"
    blocks = calendar.get("blocked_by")
    named = [
        f"{block.get('kind')} {block.get('detail')}"
        for block in (blocks if isinstance(blocks, list) else [])
        if isinstance(block, dict)
    ]
    if not named:
        return "calendar: allowed now"
    when = ""
    if decision.not_before is not None:
        local = decision.not_before.astimezone(resolve_zone(config.zone))
        when = f", not before {local:%Y-%m-%d %H:%M} {config.zone}"
    return f"calendar: blocked ({'; '.join(named)}){when}"


def _reason(context: AccountContext, decision: Decision, config: RulesConfig) -> str:
    balance = f"balance {format_inr(context.balance_paise)}"
    if decision.relay_action is RelayAction.RECONNECT:
        paid = format_inr(context.facts.recharged_since_disconnection_paise)
        return f"prepaid rules {decision.rule}: {balance}, recharged {paid} since the disconnection"
    return f"prepaid rules {decision.rule}: {balance}; {_calendar_text(decision, config)}"


def _request(context: AccountContext, decision: Decision, config: RulesConfig, issued: set[str]) -> RelayCommandRequest:
    assert context.row.meter_id is not None
    not_before = decision.not_before
    deferred = decision.outcome is DecisionOutcome.DISCONNECT_DEFERRED and not_before is not None
    return RelayCommandRequest(
        account_id=context.row.account_id,
        meter_id=context.row.meter_id,
        action=decision.relay_action,
        not_before_at=not_before if deferred else None,
        reason=_reason(context, decision, config)[:500],
        decision=dict(decision.record),  # == Decision.to_dict()["record"]
        idempotency_key=_idempotency_key(
            context.row.account_id, decision.relay_action, _episode(context, decision), issued
        ),
    )


def _decide(context: AccountContext, now: datetime, config: RulesConfig) -> Decision | None:
    try:
        return decide(context.facts, now, config)
    except RulesError:  # one account's bad data must not stop the others' rules
        log.exception("prepaid rules: account %d not decided", context.row.account_id)
        return None


def run_rules(
    session: Session,
    *,
    utility_id: int,
    config: RulesConfig,
    now: datetime,
    account_ids: Sequence[int] | None = None,
) -> RulesRunResult:
    """Evaluate every active prepaid account of the utility (or ``account_ids`` among them) at ``now``."""
    now = _aware_utc(now)
    today = now.astimezone(resolve_zone(config.zone)).date()
    rows = repo.rules_accounts(session, utility_id=utility_id, wallet_code=WALLET_CODE, account_ids=account_ids)
    contexts = gather(session, rows, today=today)
    decided = [(context, decision) for context in contexts if (decision := _decide(context, now, config))]

    wanting = [c.row.account_id for c, d in decided if d.relay_action is not RelayAction.NONE and c.can_switch_relay]
    issued = repo.command_keys_of_accounts(session, wanting, actor=RULES_ACTOR) if wanting else {}
    commands: list[RelayCommandRequest] = []
    cancel: list[int] = []
    notices: list[dict[str, Any]] = []
    states: list[dict[str, Any]] = []
    for context, decision in decided:
        states.append(_state_row(context, decision, now))
        notices.extend(_notice_row(context, decision, notice, now) for notice in decision.notices)
        if not context.can_switch_relay:
            continue
        if decision.relay_action in (RelayAction.DISCONNECT, RelayAction.RECONNECT):
            commands.append(_request(context, decision, config, issued.get(context.row.account_id, set())))
        pending = context.pending
        if decision.cancel_pending_command and pending is not None and pending.actor == RULES_ACTOR:
            cancel.append(pending.meter_id)
    repo.save_states(session, [row for row in states if "notice_state" in row])
    repo.touch_states(session, [row for row in states if "notice_state" not in row])
    recorded = repo.insert_notices(session, notices) if notices else 0
    return RulesRunResult(evaluated=len(decided), notices=recorded, commands=commands, cancel_meter_ids=cancel)
