"""Read-only SQL behind ``openprepaid accounts show`` and ``statements``: the whole picture of one account
(consumer, tariff, meters, ledger balances, the wallet's latest transactions, notices, payments, relay
command history, settlement statements). Nothing here writes or commits.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, fields
from datetime import date, datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from openprepaid.store.model import (
    Account,
    AccountStatus,
    Command,
    Consumer,
    LedgerAccount,
    LedgerTransaction,
    Meter,
    MeterInstallation,
    MeterStatus,
    MeterType,
    Notice,
    Payment,
    PaymentMode,
    Posting,
    SettlementStatement,
    SupplyNode,
    Tariff,
    TariffVersion,
    Utility,
)
from openprepaid.store.repository.account_overview import COMMAND_COLUMNS, RELAY_KINDS, RelayCommandLine, all_rows
from openprepaid.store.repository.payment import PaymentRow
from openprepaid.store.repository.settlement import StatementRow


@dataclass(frozen=True, slots=True)
class AccountHeader:
    account_id: int
    utility_id: int
    utility_code: str
    utility_name: str
    timezone: str
    account_no: str
    consumer_no: str
    consumer_name: str
    address: str
    category: str
    sanctioned_load_w: int
    payment_mode: PaymentMode
    status: AccountStatus
    protected: bool
    protection_reason: str
    opened_at: datetime
    prepaid_since_at: datetime | None
    closed_at: datetime | None
    supply_node: str | None
    tariff_id: int | None
    tariff_code: str | None
    tariff_name: str | None


def account_header(session: Session, account_id: int) -> AccountHeader | None:
    statement = (
        select(
            Account.id,
            Account.utility_id,
            Utility.code,
            Utility.name,
            Utility.timezone,
            Account.account_no,
            Consumer.consumer_no,
            Consumer.name,
            Consumer.address,
            Account.category,
            Account.sanctioned_load_w,
            Account.payment_mode,
            Account.status,
            Account.protected,
            Account.protection_reason,
            Account.opened_at,
            Account.prepaid_since_at,
            Account.closed_at,
            SupplyNode.name,
            Account.tariff_id,
            Tariff.code,
            Tariff.name,
        )
        .join(Utility, Utility.id == Account.utility_id)
        .join(Consumer, Consumer.id == Account.consumer_id)
        .outerjoin(SupplyNode, SupplyNode.id == Account.supply_node_id)
        .outerjoin(Tariff, Tariff.id == Account.tariff_id)
        .where(Account.id == account_id)
    )
    rows = all_rows(session, statement)
    return AccountHeader(*rows[0]) if rows else None


@dataclass(frozen=True, slots=True)
class TariffVersionRow:
    version: int
    effective_from_at: datetime
    created_by: str


def tariff_versions(session: Session, tariff_id: int) -> list[TariffVersionRow]:
    statement = (
        select(TariffVersion.version, TariffVersion.effective_from_at, TariffVersion.created_by)
        .where(TariffVersion.tariff_id == tariff_id)
        .order_by(TariffVersion.effective_from_at)
    )
    return [TariffVersionRow(*row) for row in session.execute(statement)]


@dataclass(frozen=True, slots=True)
class InstallationRow:
    meter_id: int
    serial: str
    manufacturer_code: str
    meter_type: str
    has_relay: bool
    meter_status: MeterStatus
    last_seen_at: datetime | None
    installed_at: datetime
    removed_at: datetime | None
    removal_reason: str


def installations(session: Session, account_id: int) -> list[InstallationRow]:
    """Every meter that served the account, newest installation first."""
    statement = (
        select(
            Meter.id,
            Meter.serial,
            Meter.manufacturer_code,
            MeterType.code,
            MeterType.has_relay,
            Meter.status,
            Meter.last_seen_at,
            MeterInstallation.installed_at,
            MeterInstallation.removed_at,
            MeterInstallation.removal_reason,
        )
        .join(Meter, Meter.id == MeterInstallation.meter_id)
        .join(MeterType, MeterType.id == Meter.meter_type_id)
        .where(MeterInstallation.account_id == account_id)
        .order_by(MeterInstallation.installed_at.desc(), MeterInstallation.id.desc())
    )
    return [InstallationRow(*row) for row in all_rows(session, statement)]


@dataclass(frozen=True, slots=True)
class LedgerBalanceRow:
    ledger_account_id: int
    code: str
    cached_balance_paise: int
    derived_balance_paise: int  # the sum of its postings


def consumer_ledger_balances(session: Session, account_id: int) -> list[LedgerBalanceRow]:
    """The account's ledger accounts with their cached balance and the sum of their postings."""
    derived = (
        select(Posting.ledger_account_id, func.sum(Posting.amount_paise).label("total"))
        .join(LedgerAccount, LedgerAccount.id == Posting.ledger_account_id)
        .where(LedgerAccount.account_id == account_id)
        .group_by(Posting.ledger_account_id)
        .subquery()
    )
    statement = (
        select(LedgerAccount.id, LedgerAccount.code, LedgerAccount.balance_paise, func.coalesce(derived.c.total, 0))
        .outerjoin(derived, derived.c.ledger_account_id == LedgerAccount.id)
        .where(LedgerAccount.account_id == account_id)
        .order_by(LedgerAccount.id)
    )
    return [LedgerBalanceRow(int(a), str(b), int(c), int(d)) for a, b, c, d in session.execute(statement)]


@dataclass(frozen=True, slots=True)
class StatementLine:
    """One ledger transaction as it touched one ledger account (its legs on that account summed)."""

    ledger_transaction_id: int
    kind: str
    effective_at: datetime
    value_date: date | None
    created_at: datetime
    memo: str
    idempotency_key: str
    actor: str
    reverses_id: int | None
    amount_paise: int  # ledger sign


def statement_lines(session: Session, ledger_account_id: int, *, limit: int) -> list[StatementLine]:
    """The latest ``limit`` transactions touching the ledger account, newest first in posting (id) order,
    so that a running balance walked back from the balance is the balance each one really left."""
    total = func.sum(Posting.amount_paise)
    statement = (
        select(
            LedgerTransaction.id,
            LedgerTransaction.kind,
            LedgerTransaction.effective_at,
            LedgerTransaction.value_date,
            LedgerTransaction.created_at,
            LedgerTransaction.memo,
            LedgerTransaction.idempotency_key,
            LedgerTransaction.actor,
            LedgerTransaction.reverses_id,
            total,
        )
        .join(LedgerTransaction, LedgerTransaction.id == Posting.ledger_transaction_id)
        .where(Posting.ledger_account_id == ledger_account_id)
        .group_by(LedgerTransaction.id)
        .order_by(LedgerTransaction.id.desc())
        .limit(limit)
    )
    lines: list[StatementLine] = []
    for row in all_rows(session, statement):
        fields = list(row)
        fields[-1] = int(fields[-1])  # PostgreSQL sums a bigint as numeric
        lines.append(StatementLine(*fields))
    return lines


@dataclass(frozen=True, slots=True)
class NoticeLine:
    kind: str
    notice_key: str
    threshold_paise: int | None
    balance_paise: int
    created_at: datetime


def latest_notices(session: Session, account_id: int, *, limit: int) -> list[NoticeLine]:
    statement = (
        select(Notice.kind, Notice.notice_key, Notice.threshold_paise, Notice.balance_paise, Notice.created_at)
        .where(Notice.account_id == account_id)
        .order_by(Notice.created_at.desc(), Notice.id.desc())
        .limit(limit)
    )
    return [NoticeLine(*row) for row in session.execute(statement)]


_PAYMENT_COLUMNS = [getattr(Payment, field.name) for field in fields(PaymentRow)]


def latest_payments(session: Session, account_id: int, *, limit: int) -> list[PaymentRow]:
    statement = (
        select(*_PAYMENT_COLUMNS)
        .where(Payment.account_id == account_id)
        .order_by(Payment.received_at.desc(), Payment.id.desc())
        .limit(limit)
    )
    return [PaymentRow(*row) for row in session.execute(statement)]


def relay_commands(session: Session, meter_ids: Sequence[int], *, limit: int) -> list[RelayCommandLine]:
    """The latest relay commands of these meters, newest first."""
    if not meter_ids:
        return []
    statement = (
        select(*COMMAND_COLUMNS)
        .where(Command.meter_id.in_(sorted(set(meter_ids))), Command.kind.in_(RELAY_KINDS))
        .order_by(Command.created_at.desc(), Command.id.desc())
        .limit(limit)
    )
    return [RelayCommandLine(*row) for row in session.execute(statement)]


_STATEMENT_COLUMNS = [getattr(SettlementStatement, field.name) for field in fields(StatementRow)]


def settlement_statements(session: Session, account_id: int, *, month_date: date | None = None) -> list[StatementRow]:
    """The account's settlement statements (of one month when given), oldest first."""
    statement = (
        select(*_STATEMENT_COLUMNS)
        .where(SettlementStatement.account_id == account_id)
        .order_by(SettlementStatement.month_date, SettlementStatement.id)
    )
    if month_date is not None:
        statement = statement.where(SettlementStatement.month_date == month_date)
    return [StatementRow(*row) for row in session.execute(statement)]
