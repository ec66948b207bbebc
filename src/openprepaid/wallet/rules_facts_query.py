"""Assemble the prepaid rules' ``AccountFacts`` for many accounts from the ledger, the payments, the
relay command history and the rules' persisted state (domain.md §2; rules: wallet/rules/).

Facts, per account (docs/prepaid-rules.md "The rules service"):
- balance: the wallet's cached ledger balance, consumer's view (positive = in credit);
- previous balance: the balance stored at the last evaluation — or, when a recharge arrived after
  it (or there was none), the balance right after that recharge, so that a recharge followed by
  fast spending still crosses the thresholds armed for it;
- last recharge: the latest payment still credited; average daily spend: the wallet's charges
  (interval, fixed, true-up) over the 7 local days before today, per day with charges, cached in
  the state row and recomputed once per local day;
- relay: the read-back of the last CONFIRMED relay command of the account's current meter (no such
  command: CONNECTED); pending: the newest relay command queued or sent for that meter;
- disconnection (relay open): its time (the confirmation), origin (PREPAID_RULES when the
  command's actor is the rules service, else OPERATOR), the balance then (ledger replayed back to
  that time), and the wallet credit of recharges received after it.

A stored state that cannot be read becomes an ERROR emergency-credit state (automatic action
blocked until a positive balance or a re-arm), never an exception for the whole run.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal

from sqlalchemy.orm import Session

from openprepaid.store.model import CommandKind
from openprepaid.store.repository import prepaid_state as repo
from openprepaid.store.repository.prepaid_state import CreditedPayment, RelayCommandRow, RulesAccountRow
from openprepaid.wallet.chart_of_accounts import ConsumerLedger, consumer_balance_paise
from openprepaid.wallet.ledger import LedgerTransactionKind
from openprepaid.wallet.money import Paise, round_paise
from openprepaid.wallet.rules import (
    AccountFacts,
    Disconnection,
    DisconnectOrigin,
    EmergencyCreditState,
    EmergencyPhase,
    InvalidFactsError,
    LastRecharge,
    NoticeState,
    RelayAction,
    RelayState,
)

RULES_ACTOR = "prepaid-rules"
WALLET_CODE = ConsumerLedger.PREPAID_WALLET.value
SPEND_WINDOW_DAYS = 7
SPEND_KINDS = frozenset(
    {
        LedgerTransactionKind.INTERVAL_CHARGE.value,
        LedgerTransactionKind.FIXED_CHARGE.value,
        LedgerTransactionKind.TRUE_UP.value,
    }
)
_ACTION_OF_KIND = {
    CommandKind.RELAY_DISCONNECT: RelayAction.DISCONNECT,
    CommandKind.RELAY_RECONNECT: RelayAction.RECONNECT,
}


@dataclass(frozen=True, slots=True)
class AccountContext:
    """One account's facts and what the service needs besides them (meter, commands, spend cache)."""

    row: RulesAccountRow
    facts: AccountFacts
    balance_paise: int
    confirmed: RelayCommandRow | None  # last confirmed relay command of the current meter
    pending: RelayCommandRow | None  # newest queued/sent relay command of the current meter
    average_daily_spend_paise: int | None
    spend_as_of_date: date

    @property
    def can_switch_relay(self) -> bool:
        return self.row.meter_id is not None and bool(self.row.meter_has_relay)


def relay_state_of(command: RelayCommandRow | None) -> RelayState:
    """The relay as the confirmed command's read-back shows it (output_state), else by its kind."""
    if command is None:
        return RelayState.CONNECTED
    values = (command.readback or {}).get("values")
    output = values.get("output_state") if isinstance(values, dict) else None
    if isinstance(output, bool):
        return RelayState.CONNECTED if output else RelayState.DISCONNECTED
    return RelayState.DISCONNECTED if command.kind is CommandKind.RELAY_DISCONNECT else RelayState.CONNECTED


def stored_emergency_credit(row: RulesAccountRow) -> EmergencyCreditState:
    if row.emergency_credit is None:
        return EmergencyCreditState()
    try:
        return EmergencyCreditState.from_dict(row.emergency_credit)
    except InvalidFactsError as exc:
        return EmergencyCreditState(phase=EmergencyPhase.ERROR, error=f"stored state unreadable: {exc}"[:300])


def _stored_notice_state(row: RulesAccountRow) -> NoticeState:
    if row.notice_state is None:
        return NoticeState()
    try:
        return NoticeState.from_dict(row.notice_state)
    except InvalidFactsError:
        return NoticeState()  # re-armed; the notice table's dedup keys still stop repeats


def balance_of(row: RulesAccountRow) -> int:
    ledger_balance = row.wallet_ledger_balance_paise
    return 0 if ledger_balance is None else consumer_balance_paise(ledger_balance)


def _previous_balance(row: RulesAccountRow, balance: int, payment: CreditedPayment | None) -> int:
    if row.last_balance_paise is None or row.evaluated_at is None:
        return balance if payment is None else max(balance, payment.wallet_balance_after_paise)
    if payment is not None and payment.received_at > row.evaluated_at:
        return payment.wallet_balance_after_paise
    return row.last_balance_paise


def _spend(session: Session, rows: Sequence[RulesAccountRow], today: date) -> dict[int, int | None]:
    """Average daily spend per account: the cache when it is today's, else recomputed (one query)."""
    result: dict[int, int | None] = {
        row.account_id: row.average_daily_spend_paise for row in rows if row.spend_as_of_date == today
    }
    stale = [row.account_id for row in rows if row.spend_as_of_date != today]
    if not stale:
        return result
    by_day = repo.wallet_debits_by_day(
        session,
        stale,
        wallet_code=WALLET_CODE,
        kinds=SPEND_KINDS,
        first_date=today - timedelta(days=SPEND_WINDOW_DAYS),
        last_date=today - timedelta(days=1),
    )
    for account_id in stale:
        days = by_day.get(account_id)
        if not days:
            result[account_id] = None
            continue
        average = round_paise(Decimal(sum(days.values())) / len(days))
        result[account_id] = max(0, average)
    return result


def _disconnections(
    session: Session, rows: Sequence[RulesAccountRow], confirmed: dict[int, RelayCommandRow]
) -> tuple[dict[int, Disconnection], dict[int, int]]:
    """For accounts whose relay is open: the disconnection facts and the recharges made since."""
    since: dict[int, datetime] = {}
    commands: dict[int, RelayCommandRow] = {}
    for row in rows:
        command = None if row.meter_id is None else confirmed.get(row.meter_id)
        if command is not None and relay_state_of(command) is RelayState.DISCONNECTED:
            since[row.account_id] = command.completed_at or command.sent_at or command.created_at
            commands[row.account_id] = command
    if not since:
        return {}, {}
    moved = repo.wallet_movement_since(session, since, wallet_code=WALLET_CODE)
    credited = repo.wallet_credited_since(session, since)
    balances = {row.account_id: balance_of(row) for row in rows}
    disconnections = {
        account_id: Disconnection(
            at=at,
            origin=DisconnectOrigin.PREPAID_RULES
            if commands[account_id].actor == RULES_ACTOR
            else DisconnectOrigin.OPERATOR,
            # consumer's view then = now + what the wallet was debited since (ledger sign)
            balance_paise=Paise(balances[account_id] + moved.get(account_id, 0)),
        )
        for account_id, at in since.items()
    }
    return disconnections, credited


def gather(session: Session, rows: Sequence[RulesAccountRow], *, today: date) -> list[AccountContext]:
    """``AccountContext`` for every row, in the rows' order, with a fixed number of queries."""
    account_ids = [row.account_id for row in rows]
    meter_ids = [row.meter_id for row in rows if row.meter_id is not None]
    payments = repo.latest_credited_payments(session, account_ids)
    confirmed = repo.last_confirmed_relay_commands(session, meter_ids)
    pending = repo.open_relay_commands(session, meter_ids)
    spend = _spend(session, rows, today)
    disconnections, credited = _disconnections(session, rows, confirmed)
    contexts: list[AccountContext] = []
    for row in rows:
        balance = balance_of(row)
        payment = payments.get(row.account_id)
        last_confirmed = None if row.meter_id is None else confirmed.get(row.meter_id)
        open_command = None if row.meter_id is None else pending.get(row.meter_id)
        facts = AccountFacts(
            account_id=str(row.account_id),
            category=row.category,
            balance_paise=Paise(balance),
            previous_balance_paise=Paise(_previous_balance(row, balance, payment)),
            relay=relay_state_of(last_confirmed),
            emergency_credit=stored_emergency_credit(row),
            notice_state=_stored_notice_state(row),
            last_recharge=None
            if payment is None
            else LastRecharge(payment.payment_ref, payment.received_at, Paise(payment.amount_paise)),
            average_daily_spend_paise=None if spend[row.account_id] is None else Paise(spend[row.account_id] or 0),
            disconnection=disconnections.get(row.account_id),
            recharged_since_disconnection_paise=Paise(credited.get(row.account_id, 0)),
            pending_relay_command=None if open_command is None else _ACTION_OF_KIND[open_command.kind],
            account_protected=row.protected,
            protection_note=row.protection_reason,
            sanctioned_load_w=row.sanctioned_load_w,
            converted_to_prepaid_at=row.prepaid_since_at,
        )
        contexts.append(AccountContext(row, facts, balance, last_confirmed, open_command, spend[row.account_id], today))
    return contexts
