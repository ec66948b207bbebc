"""Final bill on closure and refund of what remains (domain.md C5); operator adjustments: ``adjustment``.

Invariants:
- Closing settles the closing month up to the closure day (a ``final`` statement), then in one
  ledger transaction ``closure:<account>``: the security deposit is applied to the wallet, the
  wallet pays the arrears it can, what is left is refunded (wallet -> refunds payable), and a
  remaining debt is carried to arrears. Afterwards the wallet and the deposit are zero; only
  arrears (a debt still owed) may remain. Closing twice returns the first result.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from openprepaid.store.model import AccountStatus, SettlementKind
from openprepaid.store.repository import ledger as ledger_repo
from openprepaid.store.repository import wallet_account as account_repo
from openprepaid.store.repository.wallet_account import WalletAccount
from openprepaid.wallet import ledger
from openprepaid.wallet.chart_of_accounts import (
    ConsumerLedger,
    UtilityLedger,
    consumer_balance_paise,
    consumer_ledgers,
    utility_ledgers,
)
from openprepaid.wallet.errors import UnknownAccountError, WalletError
from openprepaid.wallet.ledger import LedgerEntry, LedgerTransactionKind, Leg, Posted
from openprepaid.wallet.settlement import Statement, settle_month
from openprepaid.wallet.tariff_store import TariffCatalog


class ClosureError(WalletError):
    code = "closure_refused"


@dataclass(frozen=True, slots=True)
class FinalBill:
    statement: Statement
    deposit_applied_paise: int
    arrears_recovered_paise: int
    refund_paise: int  # owed to the consumer (refunds payable)
    carried_to_arrears_paise: int  # still owed by the consumer
    ledger_transaction_id: int | None


def close_account(
    session: Session, *, account_id: int, closed_at: datetime, catalog: TariffCatalog, actor: str, now: datetime
) -> FinalBill:
    """Final bill and refund; marks the account closed."""
    account = account_repo.wallet_account(session, account_id)
    if account is None:
        raise UnknownAccountError(f"no account {account_id}")
    if account.status is not AccountStatus.ACTIVE:
        if account.closed_at != closed_at:
            raise ClosureError(f"account {account_id} was closed at {account.closed_at}")
        return _replay(session, account_id, catalog, closed_at, now)
    own = consumer_ledgers(session, [account_id]).get(account_id, {})
    books = utility_ledgers(session, account.utility_id)
    if len(own) < len(ConsumerLedger) or not books:
        raise ClosureError(f"account {account_id} has no ledger accounts opened")
    closing_day, statement = _final_statement(session, account, closed_at, catalog, actor=actor, now=now)
    balances = ledger_repo.lock_ledger_accounts(session, own.values())
    wallet = consumer_balance_paise(balances[own[ConsumerLedger.PREPAID_WALLET]])
    deposit = consumer_balance_paise(balances[own[ConsumerLedger.SECURITY_DEPOSIT]])
    arrears = balances[own[ConsumerLedger.ARREARS]]
    funds = wallet + deposit
    recovered = max(0, min(funds, arrears))
    refund = max(0, funds - recovered)
    carried = max(0, -funds)
    legs = [
        Leg(own[ConsumerLedger.SECURITY_DEPOSIT], deposit, "deposit_applied"),
        Leg(own[ConsumerLedger.PREPAID_WALLET], -deposit, "deposit_applied"),
        Leg(own[ConsumerLedger.PREPAID_WALLET], recovered, "arrears_recovered"),
        Leg(own[ConsumerLedger.ARREARS], -recovered, "arrears_recovered"),
        Leg(own[ConsumerLedger.PREPAID_WALLET], refund, "refund"),
        Leg(books[UtilityLedger.REFUNDS_PAYABLE], -refund, "refund"),
        Leg(own[ConsumerLedger.ARREARS], carried, "debt_carried"),
        Leg(own[ConsumerLedger.PREPAID_WALLET], -carried, "debt_carried"),
    ]
    legs = [leg for leg in legs if leg.amount_paise]
    posted: Posted | None = None
    if legs:
        entry = LedgerEntry(
            idempotency_key=f"closure:{account_id}",
            kind=LedgerTransactionKind.FINAL_BILL,
            legs=tuple(legs),
            effective_at=closed_at,
            account_id=account_id,
            value_date=closing_day,
            actor=actor,
            memo=f"final bill: deposit {deposit}, arrears recovered {recovered}, refund {refund}, carried {carried}",
        )
        posted = ledger.post(session, entry, now=now)
    account_repo.mark_account_closed(session, account_id, closed_at)
    return FinalBill(statement, deposit, recovered, refund, carried, posted.ledger_transaction_id if posted else None)


def _final_statement(
    session: Session, account: WalletAccount, closed_at: datetime, catalog: TariffCatalog, *, actor: str, now: datetime
) -> tuple[date, Statement]:
    """The closing month settled up to the closure day (or that statement, when it exists)."""
    closing_day = closed_at.astimezone(ZoneInfo(account.timezone)).date()
    statement = settle_month(
        session,
        account_id=account.id,
        month_date=closing_day,
        catalog=catalog,
        now=now,
        actor=actor,
        kind=SettlementKind.FINAL,
        last_day=closing_day,
    )
    return closing_day, statement


def _replay(session: Session, account_id: int, catalog: TariffCatalog, closed_at: datetime, now: datetime) -> FinalBill:
    """The result of a closure done before, read back from its statement and ledger transaction."""
    account = account_repo.wallet_account(session, account_id)
    assert account is not None
    _, statement = _final_statement(session, account, closed_at, catalog, actor="settlement", now=now)
    stored = ledger_repo.transactions_by_key(session, [f"closure:{account_id}"]).get(f"closure:{account_id}")
    if stored is None:
        return FinalBill(statement, 0, 0, 0, 0, None)
    debits = {leg.component: leg.amount_paise for leg in stored.legs if leg.amount_paise > 0}
    return FinalBill(
        statement,
        debits.get("deposit_applied", 0),
        debits.get("arrears_recovered", 0),
        debits.get("refund", 0),
        debits.get("debt_carried", 0),
        stored.id,
    )
