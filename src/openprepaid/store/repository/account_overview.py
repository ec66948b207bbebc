"""Read-only SQL behind ``openprepaid accounts``: utilities, accounts and payments by their numbers,
and one line per account for thousands of accounts (one account's whole picture: account_detail.py).

The list is set-based: one statement for the accounts (with consumer, utility, current meter, wallet
balance and rules state joined in), then one per kind of fact for the whole batch (last confirmed
relay command and last recharge — ``prepaid_state``'s chunked reads — and open relay commands). Nothing here
writes or commits.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, select
from sqlalchemy.orm import Session

from openprepaid.store.model import (
    Account,
    AccountStatus,
    Command,
    CommandKind,
    CommandState,
    Consumer,
    LedgerAccount,
    Meter,
    MeterInstallation,
    MeterType,
    Payment,
    PaymentMode,
    PrepaidRulesState,
    Utility,
)
from openprepaid.store.repository.ledger import chunked

RELAY_KINDS = (CommandKind.RELAY_DISCONNECT, CommandKind.RELAY_RECONNECT)


def all_rows(session: Session, statement: Any) -> list[Any]:
    """Plain rows (wide selects; the dataclasses below name their columns in order)."""
    return list(session.execute(statement).all())


@dataclass(frozen=True, slots=True)
class UtilityRow:
    id: int
    code: str
    name: str
    timezone: str


def utilities(session: Session) -> list[UtilityRow]:
    statement = select(Utility.id, Utility.code, Utility.name, Utility.timezone).order_by(Utility.code)
    return [UtilityRow(*row) for row in session.execute(statement)]


@dataclass(frozen=True, slots=True)
class AccountRef:
    account_id: int
    utility_id: int
    utility_code: str
    account_no: str


def find_accounts(session: Session, account_no: str, *, utility_id: int | None = None) -> list[AccountRef]:
    """Accounts with this number (one per utility at most), in utility code order."""
    statement = (
        select(Account.id, Account.utility_id, Utility.code, Account.account_no)
        .join(Utility, Utility.id == Account.utility_id)
        .where(Account.account_no == account_no)
        .order_by(Utility.code)
    )
    if utility_id is not None:
        statement = statement.where(Account.utility_id == utility_id)
    return [AccountRef(*row) for row in session.execute(statement)]


@dataclass(frozen=True, slots=True)
class PaymentRef:
    payment_id: int
    utility_id: int
    utility_code: str
    account_id: int
    account_no: str


def find_payments(session: Session, payment_ref: str, *, utility_id: int | None = None) -> list[PaymentRef]:
    """Payments with this reference (one per utility at most), in utility code order."""
    statement = (
        select(Payment.id, Payment.utility_id, Utility.code, Payment.account_id, Account.account_no)
        .join(Utility, Utility.id == Payment.utility_id)
        .join(Account, Account.id == Payment.account_id)
        .where(Payment.payment_ref == payment_ref)
        .order_by(Utility.code)
    )
    if utility_id is not None:
        statement = statement.where(Payment.utility_id == utility_id)
    return [PaymentRef(*row) for row in session.execute(statement)]


# --- the list -----------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class AccountLine:
    """One account with its current meter (newest open installation), wallet and stored rules state."""

    account_id: int
    utility_id: int
    utility_code: str
    timezone: str
    account_no: str
    consumer_name: str
    category: str
    status: AccountStatus
    payment_mode: PaymentMode
    protected: bool
    protection_reason: str
    sanctioned_load_w: int
    wallet_ledger_balance_paise: int | None  # ledger sign (credit in the wallet is negative); None: no books
    emergency_credit: dict[str, Any] | None  # the rules' stored state; None: never evaluated
    average_daily_spend_paise: int | None
    meter_id: int | None
    meter_serial: str | None
    meter_has_relay: bool | None
    installed_at: datetime | None


def _lines_statement(wallet_code: str) -> Any:
    installation = and_(MeterInstallation.account_id == Account.id, MeterInstallation.removed_at.is_(None))
    wallet = and_(LedgerAccount.account_id == Account.id, LedgerAccount.code == wallet_code)
    return (
        select(
            Account.id,
            Account.utility_id,
            Utility.code,
            Utility.timezone,
            Account.account_no,
            Consumer.name,
            Account.category,
            Account.status,
            Account.payment_mode,
            Account.protected,
            Account.protection_reason,
            Account.sanctioned_load_w,
            LedgerAccount.balance_paise,
            PrepaidRulesState.emergency_credit,
            PrepaidRulesState.average_daily_spend_paise,
            MeterInstallation.meter_id,
            Meter.serial,
            MeterType.has_relay,
            MeterInstallation.installed_at,
        )
        .join(Utility, Utility.id == Account.utility_id)
        .join(Consumer, Consumer.id == Account.consumer_id)
        .outerjoin(MeterInstallation, installation)
        .outerjoin(Meter, Meter.id == MeterInstallation.meter_id)
        .outerjoin(MeterType, MeterType.id == Meter.meter_type_id)
        .outerjoin(LedgerAccount, wallet)
        .outerjoin(PrepaidRulesState, PrepaidRulesState.account_id == Account.id)
    )


def account_lines(
    session: Session,
    *,
    wallet_code: str,
    utility_id: int | None = None,
    account_ids: Sequence[int] | None = None,
    limit: int | None = None,
) -> list[AccountLine]:
    """Accounts (of one utility, or these ids) in (utility code, account number) order, in one statement.

    ``limit`` bounds the accounts, not the rows: an account with two open installations (a replacement
    half recorded) appears once, with the newest one.
    """
    statement = _lines_statement(wallet_code)
    if utility_id is not None:
        statement = statement.where(Account.utility_id == utility_id)
    if account_ids is not None:
        statement = statement.where(Account.id.in_(sorted(set(account_ids))))
    if limit is not None:
        # Bound the accounts first (a subquery), so that a doubled installation cannot cut one off.
        chosen = select(Account.id).join(Utility, Utility.id == Account.utility_id)
        if utility_id is not None:
            chosen = chosen.where(Account.utility_id == utility_id)
        chosen = chosen.order_by(Utility.code, Account.account_no).limit(limit)
        statement = statement.where(Account.id.in_(chosen.scalar_subquery()))
    statement = statement.order_by(Utility.code, Account.account_no, MeterInstallation.installed_at)
    by_account: dict[int, AccountLine] = {}
    for row in all_rows(session, statement):
        line = AccountLine(*row)
        by_account[line.account_id] = line  # rows come oldest installation first: the newest stays
    return list(by_account.values())


# --- relay commands ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RelayCommandLine:
    id: int
    meter_id: int
    kind: CommandKind
    state: CommandState
    actor: str
    reason: str
    readback: dict[str, Any] | None
    last_error: str
    created_at: datetime
    not_before_at: datetime | None
    completed_at: datetime | None


COMMAND_COLUMNS = (
    Command.id,
    Command.meter_id,
    Command.kind,
    Command.state,
    Command.actor,
    Command.reason,
    Command.readback,
    Command.last_error,
    Command.created_at,
    Command.not_before_at,
    Command.completed_at,
)


def open_relay_commands(session: Session, meter_ids: Sequence[int]) -> list[RelayCommandLine]:
    """Every relay command of these meters still queued or sent, oldest first (chunked IN lists)."""
    result: list[RelayCommandLine] = []
    for chunk in chunked(sorted(set(meter_ids))):
        statement = (
            select(*COMMAND_COLUMNS)
            .where(
                Command.meter_id.in_(chunk),
                Command.kind.in_(RELAY_KINDS),
                Command.state.in_((CommandState.QUEUED, CommandState.SENT)),
            )
            .order_by(Command.created_at, Command.id)
        )
        result.extend(RelayCommandLine(*row) for row in session.execute(statement))
    result.sort(key=lambda line: (line.created_at, line.id))
    return result
