"""Builders shared by the wallet money tests (no tests in this module): a utility with its books,
consumer accounts with their ledgers, meters installed on them, and the ledger invariant check."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy.orm import Session

from openprepaid.store.model import Account, MeterInstallation, Utility
from openprepaid.wallet import chart_of_accounts as chart
from openprepaid.wallet import ledger
from openprepaid.wallet.chart_of_accounts import ConsumerLedger, UtilityLedger
from tests.store.factories import make_account, make_meter, make_utility

NOW = datetime(2026, 11, 24, 6, 0, tzinfo=UTC)
_numbers = itertools.count(1)


@dataclass
class Books:
    utility: Utility
    ledgers: dict[UtilityLedger, int]


@dataclass
class Consumer:
    account: Account
    ledgers: dict[ConsumerLedger, int]

    @property
    def wallet(self) -> int:
        return self.ledgers[ConsumerLedger.PREPAID_WALLET]

    @property
    def arrears(self) -> int:
        return self.ledgers[ConsumerLedger.ARREARS]


def make_books(session: Session) -> Books:
    utility = make_utility(session, code=f"WU{next(_numbers)}")
    return Books(utility, chart.open_utility_ledgers(session, utility.id))


def make_consumer(session: Session, books: Books, *, sanctioned_load_w: int = 3000, category: str = "domestic"):
    account = make_account(session, books.utility, category=category)
    account.sanctioned_load_w = sanctioned_load_w
    session.flush()
    ledgers = chart.open_consumer_ledgers(session, utility_id=books.utility.id, account_ids=[account.id])
    return Consumer(account, ledgers[account.id])


def install_meter(session: Session, books: Books, consumer: Consumer, *, at: datetime = NOW, initial_import_wh=0):
    meter = make_meter(session, books.utility)
    session.add(
        MeterInstallation(
            meter_id=meter.id, account_id=consumer.account.id, installed_at=at, initial_import_wh=initial_import_wh
        )
    )
    session.flush()
    return meter


def assert_ledger_invariants(session: Session) -> None:
    """Every ledger transaction balanced, all postings sum to zero, cached balances == derived ones."""
    session.flush()
    report = ledger.audit(session)
    assert report.ok, report


def wallet_balance(session: Session, consumer: Consumer) -> int:
    """The consumer's view: positive = credit in the wallet."""
    return chart.consumer_balance_paise(ledger.balance_paise(session, consumer.wallet))
