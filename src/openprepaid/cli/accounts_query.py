"""What ``openprepaid accounts`` shows, assembled as JSON-ready dictionaries from the store's reads and
the wallet's own rules (the text output is rendered from the same dictionaries: accounts_text.py).

Money is integer paise (``*_paise``) next to its ₹ text; times are ISO 8601 in UTC. The balance shown
is the consumer's view (positive = in credit), from the wallet's ledger account.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy.orm import Session

from openprepaid.store.model import CommandKind
from openprepaid.store.repository import account_detail as detail_repo
from openprepaid.store.repository import account_overview as overview
from openprepaid.store.repository import meter_relay, prepaid_state
from openprepaid.store.repository.meter_relay import RecordedRelay
from openprepaid.store.repository.prepaid_state import CreditedPayment, RelayCommandRow
from openprepaid.store.repository.settlement import StatementRow
from openprepaid.wallet.chart_of_accounts import ConsumerLedger, consumer_balance_paise
from openprepaid.wallet.money import Paise, format_inr
from openprepaid.wallet.rules import (
    EmergencyCreditState,
    EmergencyPhase,
    InvalidFactsError,
    RulesConfig,
    notice_thresholds,
    protection_of,
)
from openprepaid.wallet.rules_enforcement_gap import EnforcementGapRow
from openprepaid.wallet.rules_facts_query import WALLET_CODE, newer_relay_read, relay_state_now

STATEMENT_LINES = 20
NOTICES = 10
PAYMENTS = 20
RELAY_COMMANDS = 5
_ACTION = {CommandKind.RELAY_DISCONNECT: "disconnect", CommandKind.RELAY_RECONNECT: "reconnect"}


class StatusFilter(StrEnum):
    ALL = "all"
    CONNECTED = "connected"  # relay not known to be open (read back connected, or never commanded)
    DISCONNECTED = "disconnected"  # relay read back open
    EMERGENCY = "emergency"  # on emergency credit
    EXHAUSTED = "exhausted"  # emergency credit used up: due for disconnection
    LOW = "low"  # at or below the highest low-balance notice threshold (or the emergency-credit start)


def iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat()


def money(paise: int | None) -> dict[str, Any]:
    return {"paise": paise, "text": None if paise is None else format_inr(paise)}


def phase_of(stored: dict[str, Any] | None) -> str | None:
    """The stored emergency-credit phase; ``None`` when the rules never evaluated the account."""
    if stored is None:
        return None
    try:
        return EmergencyCreditState.from_dict(stored).phase.value
    except (InvalidFactsError, TypeError, ValueError, KeyError):
        return EmergencyPhase.ERROR.value  # as the rules service reads an unreadable state


def relay_of(confirmed: RelayCommandRow | None, recorded: RecordedRelay | None = None) -> dict[str, Any]:
    """The relay as last read back from the meter, as the prepaid rules take it (``relay_state_now``):
    the meter row's record when it was read after the last confirmed relay command, else that command's
    read-back; ``unknown`` when neither exists. The last confirmed command is kept alongside."""
    command = {
        "command_id": None if confirmed is None else confirmed.id,
        "confirmed_at": None if confirmed is None else iso(confirmed.completed_at),
        "actor": None if confirmed is None else confirmed.actor,
    }
    newer = newer_relay_read(confirmed, recorded)
    if newer is not None:
        read_at = newer.read_at
    elif confirmed is not None:
        read_at = confirmed.completed_at
    else:
        return {"state": "unknown", "read_at": None, **command}
    return {"state": relay_state_now(confirmed, recorded).value, "read_at": iso(read_at), **command}


def pending_of(command: overview.RelayCommandLine | None) -> dict[str, Any] | None:
    if command is None:
        return None
    return {
        "command_id": command.id,
        "action": _ACTION.get(command.kind, command.kind.value),
        "state": command.state.value,
        "actor": command.actor,
        "created_at": iso(command.created_at),
        "not_before_at": iso(command.not_before_at),
    }


def _recharge_of(payment: CreditedPayment | None) -> dict[str, Any] | None:
    if payment is None:
        return None
    return {
        "payment_ref": payment.payment_ref,
        "amount_paise": payment.amount_paise,
        "amount": format_inr(payment.amount_paise),
        "received_at": iso(payment.received_at),
    }


def _is_low(line: overview.AccountLine, balance: int, payment: CreditedPayment | None, config: RulesConfig) -> bool:
    rules = config.for_category(line.category)
    spend = line.average_daily_spend_paise
    thresholds = notice_thresholds(
        rules.notices,
        last_recharge_paise=None if payment is None else Paise(payment.amount_paise),
        average_daily_spend_paise=None if spend is None or spend < 0 else Paise(spend),
    )
    highest = max([rules.emergency_credit.starts_at_or_below_paise, *(t.threshold_paise for t in thresholds)])
    return balance <= highest


def _wanted(item: dict[str, Any], low: bool, status: StatusFilter) -> bool:
    relay = item["relay"]["state"]
    phase = item["emergency_credit"]
    if status is StatusFilter.LOW:
        return low
    wanted: dict[StatusFilter, bool] = {
        StatusFilter.ALL: True,
        StatusFilter.CONNECTED: relay != "disconnected",
        StatusFilter.DISCONNECTED: relay == "disconnected",
        StatusFilter.EMERGENCY: phase == EmergencyPhase.EMERGENCY_CREDIT.value,
        StatusFilter.EXHAUSTED: phase == EmergencyPhase.EXHAUSTED.value,
    }
    return wanted[status]


def account_list(
    session: Session, *, config: RulesConfig, utility_id: int | None, status: StatusFilter, limit: int
) -> list[dict[str, Any]]:
    """One dictionary per account, in (utility, account number) order: a handful of set-based reads
    whatever the number of accounts (the accounts, then each kind of fact for all of them)."""
    lines = overview.account_lines(
        session, wallet_code=WALLET_CODE, utility_id=utility_id, limit=limit if status is StatusFilter.ALL else None
    )
    meter_ids = [line.meter_id for line in lines if line.meter_id is not None]
    confirmed = prepaid_state.last_confirmed_relay_commands(session, meter_ids)
    recorded = meter_relay.recorded_relays(session, meter_ids)
    pending = {command.meter_id: command for command in overview.open_relay_commands(session, meter_ids)}
    payments = prepaid_state.latest_credited_payments(session, [line.account_id for line in lines])
    result: list[dict[str, Any]] = []
    for line in lines:
        balance = (
            0 if line.wallet_ledger_balance_paise is None else consumer_balance_paise(line.wallet_ledger_balance_paise)
        )
        meter = line.meter_id
        payment = payments.get(line.account_id)
        protection = protection_of(
            category=line.category,
            config=config.protection,
            account_protected=line.protected,
            protection_note=line.protection_reason,
            sanctioned_load_w=line.sanctioned_load_w,
        )
        item = {
            "account_no": line.account_no,
            "utility": line.utility_code,
            "consumer_name": line.consumer_name,
            "category": line.category,
            "account_status": line.status.value,
            "payment_mode": line.payment_mode.value,
            "protected": bool(protection.by),
            "protected_by": list(protection.by),
            "balance_paise": balance,
            "balance": format_inr(balance),
            "emergency_credit": phase_of(line.emergency_credit),
            "meter_serial": line.meter_serial,
            "relay": relay_of(None, None) if meter is None else relay_of(confirmed.get(meter), recorded.get(meter)),
            "pending_command": pending_of(None if meter is None else pending.get(meter)),
            "last_recharge": _recharge_of(payment),
            "timezone": line.timezone,
        }
        low = status is StatusFilter.LOW and _is_low(line, balance, payment, config)  # thresholds only when asked
        if _wanted(item, low, status):
            result.append(item)
            if len(result) >= limit:
                break
    return result


def relay_now(session: Session, account_id: int) -> dict[str, Any]:
    """The relay of the account's current meter as last read back (``unknown``: never commanded, or no meter)."""
    lines = overview.account_lines(session, wallet_code=WALLET_CODE, account_ids=[account_id])
    meter = lines[0].meter_id if lines else None
    if meter is None:
        return relay_of(None, None)
    confirmed = prepaid_state.last_confirmed_relay_commands(session, [meter])
    return relay_of(confirmed.get(meter), meter_relay.recorded_relays(session, [meter]).get(meter))


# --- one account ----------------------------------------------------------------------------------------


def _emergency_credit_detail(stored: dict[str, Any] | None) -> dict[str, Any] | None:
    if stored is None:
        return None
    try:
        state = EmergencyCreditState.from_dict(stored)
    except (InvalidFactsError, TypeError, ValueError, KeyError) as exc:
        return {"phase": EmergencyPhase.ERROR.value, "error": f"stored state unreadable: {exc}"}
    return state.to_dict()


def _ledgers(rows: list[detail_repo.LedgerBalanceRow]) -> dict[str, Any]:
    """Consumer's view: wallet and deposit positive = held for the consumer; arrears positive = owed."""
    result: dict[str, Any] = {}
    for row in rows:
        credit_normal = row.code != ConsumerLedger.ARREARS.value
        cached = -row.cached_balance_paise if credit_normal else row.cached_balance_paise
        derived = -row.derived_balance_paise if credit_normal else row.derived_balance_paise
        result[row.code] = {
            "balance_paise": cached,
            "balance": format_inr(cached),
            "derived_paise": derived,
            "matches_postings": cached == derived,
        }
    return result


def _statement(session: Session, wallet: detail_repo.LedgerBalanceRow | None) -> list[dict[str, Any]]:
    """The latest wallet transactions, oldest first, with the running balance after each (consumer's view)."""
    if wallet is None:
        return []
    lines = detail_repo.statement_lines(session, wallet.ledger_account_id, limit=STATEMENT_LINES)
    running = -wallet.derived_balance_paise
    result: list[dict[str, Any]] = []
    for line in lines:  # newest first: walk the balance back
        amount = -line.amount_paise
        result.append(
            {
                "ledger_transaction_id": line.ledger_transaction_id,
                "posted_at": iso(line.created_at),
                "effective_at": iso(line.effective_at),
                "value_date": None if line.value_date is None else line.value_date.isoformat(),
                "kind": line.kind,
                "memo": line.memo,
                "key": line.idempotency_key,
                "actor": line.actor,
                "reverses_id": line.reverses_id,
                "amount_paise": amount,
                "amount": format_inr(amount),
                "balance_after_paise": running,
                "balance_after": format_inr(running),
            }
        )
        running -= amount
    result.reverse()
    return result


def _command(line: overview.RelayCommandLine) -> dict[str, Any]:
    return {
        "command_id": line.id,
        "meter_id": line.meter_id,
        "action": _ACTION.get(line.kind, line.kind.value),
        "state": line.state.value,
        "actor": line.actor,
        "reason": line.reason,
        "readback": line.readback,
        "last_error": line.last_error,
        "created_at": iso(line.created_at),
        "not_before_at": iso(line.not_before_at),
        "completed_at": iso(line.completed_at),
    }


def _tariff(session: Session, header: detail_repo.AccountHeader, now: datetime) -> dict[str, Any] | None:
    if header.tariff_id is None:
        return None
    versions = detail_repo.tariff_versions(session, header.tariff_id)
    in_force = [version for version in versions if version.effective_from_at <= now]
    current = in_force[-1] if in_force else None
    upcoming = [version for version in versions if version.effective_from_at > now]
    return {
        "code": header.tariff_code,
        "name": header.tariff_name,
        "version": None if current is None else current.version,
        "effective_from_at": None if current is None else iso(current.effective_from_at),
        "next_version": None if not upcoming else upcoming[0].version,
        "next_effective_from_at": None if not upcoming else iso(upcoming[0].effective_from_at),
    }


def account_detail(session: Session, account_id: int, *, now: datetime) -> dict[str, Any]:
    header = detail_repo.account_header(session, account_id)
    if header is None:
        raise LookupError(f"no account {account_id}")
    meters = detail_repo.installations(session, account_id)
    current = next((meter for meter in meters if meter.removed_at is None), None)
    ledger_rows = detail_repo.consumer_ledger_balances(session, account_id)
    wallet = next((row for row in ledger_rows if row.code == WALLET_CODE), None)
    state = overview.account_lines(session, wallet_code=WALLET_CODE, account_ids=[account_id])
    current_ids = [] if current is None else [current.meter_id]
    confirmed = prepaid_state.last_confirmed_relay_commands(session, current_ids)
    recorded = None if current is None else meter_relay.recorded_relays(session, current_ids).get(current.meter_id)
    meter_ids = [meter.meter_id for meter in meters]
    commands = detail_repo.relay_commands(session, meter_ids, limit=RELAY_COMMANDS)
    open_commands = overview.open_relay_commands(session, meter_ids)
    return {
        "account_no": header.account_no,
        "utility": {"code": header.utility_code, "name": header.utility_name, "timezone": header.timezone},
        "consumer": {"consumer_no": header.consumer_no, "name": header.consumer_name, "address": header.address},
        "category": header.category,
        "sanctioned_load_w": header.sanctioned_load_w,
        "payment_mode": header.payment_mode.value,
        "account_status": header.status.value,
        "protected": header.protected,
        "protection_reason": header.protection_reason,
        "opened_at": iso(header.opened_at),
        "prepaid_since_at": iso(header.prepaid_since_at),
        "closed_at": iso(header.closed_at),
        "supply_node": header.supply_node,
        "tariff": _tariff(session, header, now),
        "meters": [
            {
                "serial": meter.serial,
                "manufacturer_code": meter.manufacturer_code,
                "meter_type": meter.meter_type,
                "has_relay": meter.has_relay,
                "meter_status": meter.meter_status.value,
                "last_seen_at": iso(meter.last_seen_at),
                "installed_at": iso(meter.installed_at),
                "removed_at": iso(meter.removed_at),
                "removal_reason": meter.removal_reason,
            }
            for meter in meters
        ],
        "ledgers": _ledgers(ledger_rows),
        "emergency_credit": _emergency_credit_detail(state[0].emergency_credit if state else None),
        "relay": relay_of(None, None) if current is None else relay_of(confirmed.get(current.meter_id), recorded),
        "open_commands": [_command(command) for command in open_commands],
        "recent_relay_commands": [_command(command) for command in commands],
        "statement": _statement(session, wallet),
        "notices": [
            {
                "kind": notice.kind,
                "key": notice.notice_key,
                "threshold_paise": notice.threshold_paise,
                "balance_paise": notice.balance_paise,
                "balance": format_inr(notice.balance_paise),
                "created_at": iso(notice.created_at),
            }
            for notice in detail_repo.latest_notices(session, account_id, limit=NOTICES)
        ],
        "recharges": [
            {
                "payment_ref": payment.payment_ref,
                "amount_paise": payment.amount_paise,
                "amount": format_inr(payment.amount_paise),
                "channel": payment.channel,
                "state": payment.status.value,
                "received_at": iso(payment.received_at),
                "wallet_credit_paise": payment.wallet_credit_paise,
                "arrears_recovered_paise": payment.arrears_recovered_paise,
                "wallet_balance_after_paise": payment.wallet_balance_after_paise,
                "actor": payment.actor,
                "reversed_at": iso(payment.reversed_at),
                "reversal_reason": payment.reversal_reason,
            }
            for payment in detail_repo.latest_payments(session, account_id, limit=PAYMENTS)
        ],
        "timezone": header.timezone,
    }


# --- the enforcement gap ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class GapContext:
    utility_code: str
    timezone: str


def gap_item(row: EnforcementGapRow, context: GapContext) -> dict[str, Any]:
    return {
        "utility": context.utility_code,
        "account_no": row.account_no,
        "category": row.category,
        "balance_paise": row.balance_paise,
        "balance": format_inr(row.balance_paise),
        "exhausted_at": iso(row.exhausted_at),
        "reason": row.reason.value,
        "all_reasons": [reason.value for reason in row.all_reasons],
        "detail": row.detail,
        "timezone": context.timezone,
    }


def settlement_item(row: StatementRow) -> dict[str, Any]:
    """A stored statement: per component what the daily deductions charged and what the month bills."""
    lines = row.lines if isinstance(row.lines, dict) else {}
    charged = {str(k): int(v) for k, v in dict(lines.get("charged", {})).items()}
    billed = {str(k): int(v) for k, v in dict(lines.get("billed", {})).items()}
    return {
        "month": f"{row.month_date:%Y-%m}",
        "kind": row.kind.value,
        "energy_wh": row.energy_wh,
        "charged_paise": row.charged_paise,
        "billed_paise": row.billed_paise,
        "difference_paise": row.difference_paise,
        "components": [
            {"component": name, "charged_paise": charged.get(name, 0), "billed_paise": billed.get(name, 0)}
            for name in sorted(charged.keys() | billed.keys())
        ],
        "multi_version": bool(lines.get("multi_version", False)),
        "versions": [
            {
                "version": part.get("version"),
                "energy_wh": part.get("energy_wh"),
                "billed_paise": sum(int(v) for v in dict(part.get("lines", {})).values()),
            }
            for part in lines.get("versions", [])
            if isinstance(part, dict)
        ],
        "max_demand": lines.get("max_demand") if isinstance(lines.get("max_demand"), dict) else None,
        "ledger_transaction_id": row.ledger_transaction_id,
        "created_at": iso(row.created_at),
    }
