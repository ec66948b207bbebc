"""The enforcement-gap report over the database (domain.md §2 "Enforcement gap", §3).

An account is in the gap when, per the rules' persisted state, it is due for disconnection —
emergency credit EXHAUSTED (or the state in ERROR) with the wallet at or below the emergency
credit's start threshold (₹0 by default) — and its relay is not known to be open (the last
confirmed relay command of its meter did not open it). The reason comes from the pure
``wallet.rules.enforcement_gap_reason``: protected, kill switch, rules state error, blocked
calendar window, meter offline (nothing heard for ``offline_after``, default 24 h, or no meter),
the last disconnect command since credit ran out failed/expired or is still pending, a relay that
reads connected after a confirmed disconnection, or not attempted. ``detail`` adds the meter facts
(``meter_id``, ``meter_has_relay``: a meter without a relay can never be disconnected remotely).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from openprepaid.store.model import CommandState
from openprepaid.store.repository import meter_relay
from openprepaid.store.repository import prepaid_state as repo
from openprepaid.store.repository.prepaid_state import RelayCommandRow, RulesAccountRow
from openprepaid.wallet.money import Paise
from openprepaid.wallet.rules import (
    EmergencyCreditState,
    EmergencyPhase,
    EnforcementGapReason,
    InvalidFactsError,
    RelayCommandStatus,
    RelayState,
    RulesConfig,
    check_calendar,
    enforcement_gap_reason,
    protection_of,
)
from openprepaid.wallet.rules_facts_query import WALLET_CODE, balance_of, relay_state_now, stored_emergency_credit

DEFAULT_OFFLINE_AFTER = timedelta(hours=24)
_STATUS = {
    CommandState.QUEUED: RelayCommandStatus.QUEUED,
    CommandState.SENT: RelayCommandStatus.SENT,
    CommandState.CONFIRMED: RelayCommandStatus.CONFIRMED,
    CommandState.FAILED: RelayCommandStatus.FAILED,
    CommandState.EXPIRED: RelayCommandStatus.EXPIRED,
}


@dataclass(frozen=True, slots=True)
class EnforcementGapRow:
    account_id: int
    account_no: str
    category: str
    meter_id: int | None
    balance_paise: int  # consumer's view (negative = owing)
    exhausted_at: datetime | None
    reason: EnforcementGapReason
    all_reasons: tuple[EnforcementGapReason, ...]
    detail: dict[str, Any]


def _due(state: EmergencyCreditState, balance: int, start_paise: int) -> bool:
    if balance > start_paise:
        return False
    return state.phase in (EmergencyPhase.EXHAUSTED, EmergencyPhase.ERROR)


def _last_status(command: RelayCommandRow | None, state: EmergencyCreditState) -> RelayCommandStatus | None:
    if command is None:
        return None
    since = state.exhausted_at
    if since is not None and command.created_at < since:
        return None  # a command of an earlier episode explains nothing about this one
    return _STATUS.get(command.state)


def _row(
    row: RulesAccountRow,
    state: EmergencyCreditState,
    balance: int,
    config: RulesConfig,
    now: datetime,
    *,
    relay: RelayState,
    disconnect: RelayCommandRow | None,
    offline_after: timedelta,
) -> EnforcementGapRow | None:
    rules = config.for_category(row.category)
    protection = protection_of(
        category=row.category,
        config=config.protection,
        account_protected=row.protected,
        protection_note=row.protection_reason,
        sanctioned_load_w=row.sanctioned_load_w,
    )
    seen = row.meter_last_seen_at
    gap = enforcement_gap_reason(
        balance_paise=Paise(balance),
        emergency_credit=state,
        relay=relay,
        protected=protection.protected,
        kill_switch_engaged=config.kill_switch_engaged,
        calendar=check_calendar(now, rules.calendar, rules.zone, converted_to_prepaid_at=row.prepaid_since_at),
        meter_online=row.meter_id is not None and seen is not None and now - seen <= offline_after,
        last_disconnect_command=_last_status(disconnect, state),
    )
    if gap is None:
        return None
    detail: dict[str, Any] = dict(gap.detail)
    detail.update(
        meter_id=row.meter_id,
        meter_has_relay=row.meter_has_relay,
        meter_last_seen_at=None if seen is None else seen.isoformat(),
        protection=protection.to_dict(),
        last_disconnect_command_id=None if disconnect is None else disconnect.id,
    )
    return EnforcementGapRow(
        account_id=row.account_id,
        account_no=row.account_no,
        category=row.category,
        meter_id=row.meter_id,
        balance_paise=balance,
        exhausted_at=state.exhausted_at,
        reason=gap.reason,
        all_reasons=gap.all_reasons,
        detail=detail,
    )


def enforcement_gap(
    session: Session,
    *,
    utility_id: int,
    config: RulesConfig,
    now: datetime,
    offline_after: timedelta = DEFAULT_OFFLINE_AFTER,
) -> list[EnforcementGapRow]:
    """Accounts due for disconnection but still connected, with why, by account id."""
    if not isinstance(now, datetime) or now.tzinfo is None or now.utcoffset() is None:
        raise InvalidFactsError(f"now: expected an aware datetime, got {now!r}")
    now = now.astimezone(UTC)
    due: list[tuple[RulesAccountRow, EmergencyCreditState, int]] = []
    for row in repo.rules_accounts(session, utility_id=utility_id, wallet_code=WALLET_CODE):
        state = stored_emergency_credit(row)
        balance = balance_of(row)
        start = config.for_category(row.category).emergency_credit.starts_at_or_below_paise
        if _due(state, balance, start):
            due.append((row, state, balance))
    meter_ids = [row.meter_id for row, _, _ in due if row.meter_id is not None]
    confirmed = repo.last_confirmed_relay_commands(session, meter_ids)
    recorded = meter_relay.recorded_relays(session, meter_ids)
    disconnects = repo.last_disconnect_commands(session, meter_ids)
    result: list[EnforcementGapRow] = []
    for row, state, balance in due:
        meter = row.meter_id
        found = _row(
            row,
            state,
            balance,
            config,
            now,
            relay=RelayState.CONNECTED if meter is None else relay_state_now(confirmed.get(meter), recorded.get(meter)),
            disconnect=None if meter is None else disconnects.get(meter),
            offline_after=offline_after,
        )
        if found is not None:
            result.append(found)
    return result
