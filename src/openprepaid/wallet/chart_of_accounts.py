"""The chart of accounts: which ledger accounts exist, their keys, and what their sign means.

Sign convention (docs/ledger.md): a posting's ``amount_paise`` is positive for a debit and negative
for a credit; an account's balance is the sum of its postings. Asset and expense accounts therefore
carry positive balances when "full", liability and revenue accounts negative ones. The consumer's
prepaid wallet is a liability of the utility: credit in the wallet is a *negative* ledger balance,
and ``consumer_balance_paise`` (what the consumer sees) is its negation.

Per consumer account: ``prepaid_wallet`` (liability), ``arrears`` (asset: old dues receivable),
``security_deposit`` (liability). Per utility: revenue, payables, expenses and clearing accounts.
"""

from __future__ import annotations

from enum import StrEnum

from sqlalchemy.orm import Session

from openprepaid.store.repository import ledger as ledger_repo


class ConsumerLedger(StrEnum):
    PREPAID_WALLET = "prepaid_wallet"  # liability: the consumer's prepaid credit (credit-normal)
    ARREARS = "arrears"  # asset: old dues the consumer still owes (debit-normal)
    SECURITY_DEPOSIT = "security_deposit"  # liability: refundable deposit held (credit-normal)


class UtilityLedger(StrEnum):
    ENERGY_REVENUE = "energy_revenue"  # revenue (credit-normal)
    FIXED_CHARGE_REVENUE = "fixed_charge_revenue"  # revenue
    PENALTY_REVENUE = "penalty_revenue"  # revenue: over-drawl penalties and other charges
    DUTY_PAYABLE = "duty_payable"  # liability: electricity duty/tax owed to the state
    SURCHARGE_PAYABLE = "surcharge_payable"  # liability: surcharges (e.g. pension-trust) passed on
    REBATE_EXPENSE = "rebate_expense"  # expense: prepaid and ToD rebates (debit-normal)
    SUBSIDY_EXPENSE = "subsidy_expense"  # expense: subsidies (free units, % off)
    PAYMENT_CLEARING = "payment_clearing"  # asset: money received, not yet settled by the gateway/bank
    REFUNDS_PAYABLE = "refunds_payable"  # liability: refunds owed to consumers on closure
    ADJUSTMENTS = "adjustments"  # expense/income: operator adjustments (reason and actor on the transaction)
    OPENING_BALANCES = "opening_balances"  # equity: arrears and balances migrated from a previous system


_CONSUMER_CODES = frozenset(code.value for code in ConsumerLedger)


def consumer_ledger_key(account_id: int, code: ConsumerLedger) -> str:
    return f"acct:{account_id}:{code.value}"


def utility_ledger_key(utility_id: int, code: UtilityLedger) -> str:
    return f"utility:{utility_id}:{code.value}"


def consumer_balance_paise(ledger_balance_paise: int) -> int:
    """Credit-normal accounts (wallet, deposit) as the consumer sees them: positive = in credit."""
    return -ledger_balance_paise


def open_utility_ledgers(session: Session, utility_id: int) -> dict[UtilityLedger, int]:
    """Create (once) and return the utility's ledger accounts."""
    rows = [
        {"utility_id": utility_id, "key": utility_ledger_key(utility_id, code), "account_id": None, "code": code.value}
        for code in UtilityLedger
    ]
    ids = ledger_repo.ensure_ledger_accounts(session, rows)
    return {code: ids[utility_ledger_key(utility_id, code)] for code in UtilityLedger}


def open_consumer_ledgers(
    session: Session, *, utility_id: int, account_ids: list[int]
) -> dict[int, dict[ConsumerLedger, int]]:
    """Create (once) and return each consumer account's ledger accounts: account id -> code -> ledger id."""
    rows = [
        {
            "utility_id": utility_id,
            "key": consumer_ledger_key(account_id, code),
            "account_id": account_id,
            "code": code.value,
        }
        for account_id in account_ids
        for code in ConsumerLedger
    ]
    ids = ledger_repo.ensure_ledger_accounts(session, rows)
    return {
        account_id: {code: ids[consumer_ledger_key(account_id, code)] for code in ConsumerLedger}
        for account_id in account_ids
    }


def consumer_ledgers(session: Session, account_ids: list[int]) -> dict[int, dict[ConsumerLedger, int]]:
    """Existing ledger accounts of consumer accounts (no creation): account id -> code -> ledger id."""
    result: dict[int, dict[ConsumerLedger, int]] = {}
    for row in ledger_repo.ledger_accounts_of(session, account_ids):
        if row.account_id is not None and row.code in _CONSUMER_CODES:
            result.setdefault(row.account_id, {})[ConsumerLedger(row.code)] = row.id
    return result


def utility_ledgers(session: Session, utility_id: int) -> dict[UtilityLedger, int]:
    """Existing utility ledger accounts (no creation)."""
    keys = [utility_ledger_key(utility_id, code) for code in UtilityLedger]
    ids = ledger_repo.ledger_account_ids_by_key(session, keys)
    return {code: ids[key] for code, key in zip(UtilityLedger, keys, strict=True) if key in ids}


def wallet_ledgers(session: Session, account_ids: list[int]) -> dict[int, int]:
    """Consumer account -> its prepaid wallet's ledger account id (accounts without one are absent)."""
    return ledger_repo.ledger_ids_of_accounts(session, account_ids, ConsumerLedger.PREPAID_WALLET.value)
