"""Settlement SQL: what a month charged per component, the statements (one per account-month-kind), and the
maximum demand the meters' billing snapshots recorded for the month (for the over-drawl penalty)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import func, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from openprepaid.store.model import (
    BillingReading,
    LedgerTransaction,
    MeterInstallation,
    Posting,
    SettlementKind,
    SettlementStatement,
)


class DuplicateStatementError(Exception):
    """The account's month was settled already (with this kind)."""


@dataclass(frozen=True, slots=True)
class StatementRow:
    id: int
    account_id: int
    month_date: date
    kind: SettlementKind
    energy_wh: int
    charged_paise: int
    billed_paise: int
    difference_paise: int
    lines: dict[str, Any]
    ledger_transaction_id: int | None
    created_at: datetime
    created_by: str


_COLUMNS = [getattr(SettlementStatement, field.name) for field in fields(StatementRow)]


def charged_components(
    session: Session, *, account_id: int, first: date, last: date, kinds: Sequence[str], wallet_component: str
) -> dict[str, int]:
    """Component -> paise charged to the account by transactions of ``kinds`` with value dates in [first, last]
    (read from the utility-side legs: their sign flipped)."""
    statement = (
        select(Posting.component, func.sum(Posting.amount_paise))
        .join(LedgerTransaction, LedgerTransaction.id == Posting.ledger_transaction_id)
        .where(
            LedgerTransaction.account_id == account_id,
            LedgerTransaction.kind.in_(list(kinds)),
            LedgerTransaction.value_date >= first,
            LedgerTransaction.value_date <= last,
            Posting.component != wallet_component,
        )
        .group_by(Posting.component)
    )
    return {str(component): -int(total) for component, total in session.execute(statement) if total}


def statement(session: Session, account_id: int, month_date: date, kind: SettlementKind) -> StatementRow | None:
    query = select(*_COLUMNS).where(
        SettlementStatement.account_id == account_id,
        SettlementStatement.month_date == month_date,
        SettlementStatement.kind == kind,
    )
    row = session.execute(query).one_or_none()
    return None if row is None else StatementRow(*row)


def statements_of(session: Session, account_id: int) -> list[StatementRow]:
    query = (
        select(*_COLUMNS)
        .where(SettlementStatement.account_id == account_id)
        .order_by(SettlementStatement.month_date, SettlementStatement.id)
    )
    return [StatementRow(*row) for row in session.execute(query)]


def insert_statement(session: Session, values: Mapping[str, Any]) -> int:
    try:
        with session.begin_nested():
            query = insert(SettlementStatement).values(**values).returning(SettlementStatement.id)
            return int(session.execute(query).scalar_one())
    except IntegrityError as exc:
        raise DuplicateStatementError(str(exc.orig)) from exc


def set_statement_transaction(session: Session, statement_id: int, ledger_transaction_id: int) -> None:
    session.execute(
        update(SettlementStatement)
        .where(SettlementStatement.id == statement_id)
        .values(ledger_transaction_id=ledger_transaction_id)
        .execution_options(synchronize_session=False)
    )


@dataclass(frozen=True, slots=True)
class BillingDemandRow:
    """A billing-profile snapshot's maximum demand, with the installation that put its meter on the account."""

    meter_id: int
    billing_at: datetime
    max_demand_w: int
    max_demand_at: datetime | None
    installed_at: datetime
    removed_at: datetime | None


def billing_demands(
    session: Session, *, account_id: int, month_start: datetime, month_end: datetime, tolerance: timedelta
) -> list[BillingDemandRow]:
    """The maximum-demand snapshots (``reading_billing``) taken within ``tolerance`` of ``month_end`` by meters
    installed on the account at some time in [month_start, month_end), with a recorded demand; oldest first."""
    statement = (
        select(
            BillingReading.meter_id,
            BillingReading.billing_at,
            BillingReading.max_demand_w,
            BillingReading.max_demand_at,
            MeterInstallation.installed_at,
            MeterInstallation.removed_at,
        )
        .join(MeterInstallation, MeterInstallation.meter_id == BillingReading.meter_id)
        .where(
            MeterInstallation.account_id == account_id,
            MeterInstallation.installed_at < month_end,
            (MeterInstallation.removed_at.is_(None)) | (MeterInstallation.removed_at > month_start),
            BillingReading.billing_at >= month_end - tolerance,
            BillingReading.billing_at <= month_end + tolerance,
            BillingReading.max_demand_w.is_not(None),
        )
        .order_by(BillingReading.billing_at, BillingReading.meter_id, MeterInstallation.installed_at)
    )
    return [
        BillingDemandRow(meter_id, billing_at, demand_w, demand_at, installed_at, removed_at)
        for meter_id, billing_at, demand_w, demand_at, installed_at, removed_at in session.execute(statement)
        if demand_w is not None
    ]
