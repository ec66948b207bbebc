"""Reads of supply accounts as the wallet needs them (utility, status, load, tariff, time zone)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from openprepaid.store.model import Account, AccountStatus, LedgerAccount, Utility
from openprepaid.store.repository.ledger import among, chunked


@dataclass(frozen=True, slots=True)
class WalletAccount:
    id: int
    utility_id: int
    category: str
    sanctioned_load_w: int
    tariff_id: int | None
    status: AccountStatus
    protected: bool
    timezone: str
    closed_at: datetime | None
    opened_at: datetime


def _columns() -> tuple[object, ...]:
    return (
        Account.id,
        Account.utility_id,
        Account.category,
        Account.sanctioned_load_w,
        Account.tariff_id,
        Account.status,
        Account.protected,
        Utility.timezone,
        Account.closed_at,
        Account.opened_at,
    )


def wallet_accounts(session: Session, account_ids: Sequence[int]) -> dict[int, WalletAccount]:
    result: dict[int, WalletAccount] = {}
    for chunk in chunked(sorted(set(account_ids))):
        statement = (
            select(*_columns())  # type: ignore[call-overload]
            .join(Utility, Utility.id == Account.utility_id)
            .where(among(session, Account.id, chunk))
        )
        for row in session.execute(statement):
            result[row[0]] = WalletAccount(*row)
    return result


def wallet_account(session: Session, account_id: int) -> WalletAccount | None:
    return wallet_accounts(session, [account_id]).get(account_id)


def active_accounts_of_utility(session: Session, utility_id: int) -> list[WalletAccount]:
    statement = (
        select(*_columns())  # type: ignore[call-overload]
        .join(Utility, Utility.id == Account.utility_id)
        .where(Account.utility_id == utility_id, Account.status == AccountStatus.ACTIVE)
        .order_by(Account.id)
    )
    return [WalletAccount(*row) for row in session.execute(statement)]


def mark_account_closed(session: Session, account_id: int, closed_at: datetime) -> None:
    session.execute(
        update(Account)
        .where(Account.id == account_id, Account.status == AccountStatus.ACTIVE)
        .values(status=AccountStatus.CLOSED, closed_at=closed_at)
        .execution_options(synchronize_session=False)
    )


@dataclass(frozen=True, slots=True)
class AccountBalanceRow:
    account_id: int
    utility_id: int
    ledger_balance_paise: int
    protected: bool
    category: str


def accounts_with_wallet_above(
    session: Session, *, utility_id: int, wallet_code: str, ledger_balance_above_paise: int, limit: int, after_id: int
) -> list[AccountBalanceRow]:
    """Active accounts whose wallet ledger balance is > the bound (debit-positive: > 0 means owing),
    by account id after ``after_id`` (keyset paging)."""
    statement = (
        select(Account.id, Account.utility_id, LedgerAccount.balance_paise, Account.protected, Account.category)
        .join(LedgerAccount, LedgerAccount.account_id == Account.id)
        .where(
            Account.utility_id == utility_id,
            Account.status == AccountStatus.ACTIVE,
            LedgerAccount.code == wallet_code,
            LedgerAccount.balance_paise > ledger_balance_above_paise,
            Account.id > after_id,
        )
        .order_by(Account.id)
        .limit(limit)
    )
    return [AccountBalanceRow(*row) for row in session.execute(statement)]


def utility_zone(session: Session, utility_id: int) -> str:
    zone = session.execute(select(Utility.timezone).where(Utility.id == utility_id)).scalar_one_or_none()
    if zone is None:
        raise LookupError(f"no utility {utility_id}")
    return str(zone)


@dataclass(frozen=True, slots=True)
class FixedChargeAccount:
    """What the daily fixed charge needs of an account."""

    account_id: int
    wallet_ledger_id: int | None
    tariff_id: int
    sanctioned_load_w: int
    opened: bool  # opened before the bound given


def accounts_for_fixed_charge(
    session: Session, *, utility_id: int, wallet_code: str, opened_before: datetime
) -> list[FixedChargeAccount]:
    """Active accounts of the utility with a tariff, by id, with their wallet ledger (one query)."""
    opened = Account.opened_at < opened_before
    statement = (
        select(Account.id, LedgerAccount.id, Account.tariff_id, Account.sanctioned_load_w, opened)
        .outerjoin(LedgerAccount, (LedgerAccount.account_id == Account.id) & (LedgerAccount.code == wallet_code))
        .where(
            Account.utility_id == utility_id,
            Account.status == AccountStatus.ACTIVE,
            Account.tariff_id.is_not(None),
        )
        .order_by(Account.id)
    )
    return [
        FixedChargeAccount(a, wallet, tariff or 0, load, bool(is_open))  # tariff: not NULL here
        for a, wallet, tariff, load, is_open in session.execute(statement)
    ]
