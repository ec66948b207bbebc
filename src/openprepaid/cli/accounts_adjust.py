"""``openprepaid accounts adjust``: an operator's correction credited to or debited from a wallet, through the
wallet's ``adjustment.adjust`` (one balanced ledger transaction, idempotent by the correction's reference).

The reference decides: the same reference, account and amount again prints the first adjustment and changes
nothing (exit 0), whatever "now" the retry has; the same reference with another account or amount is refused
(exit 4). The amount must carry its direction (``+250`` credits, ``-99.50`` debits) and is bounded by the
recharge maximum (setting ``recharge_maximum_paise``) in either direction.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import typer
from sqlalchemy.orm import Session, sessionmaker

from openprepaid.app import recharge_policy
from openprepaid.cli import accounts_text as text
from openprepaid.cli.accounts_common import (
    EXIT_REFUSED,
    account_named,
    commit_work,
    default_actor,
    emit,
    fail,
    json_option,
    moment,
    parse_signed_rupees,
    read_with,
    reason_text,
    reference_text,
    run,
    utility_option,
)
from openprepaid.cli.context import settings_of
from openprepaid.store.repository import account_detail as detail_repo
from openprepaid.store.repository import account_overview as overview
from openprepaid.wallet import ledger
from openprepaid.wallet.adjustment import (
    REASON_MAX,
    Adjustment,
    AdjustmentConflictError,
    InvalidAdjustmentError,
    adjust,
)
from openprepaid.wallet.chart_of_accounts import ConsumerLedger, consumer_balance_paise, consumer_ledgers
from openprepaid.wallet.errors import WalletError
from openprepaid.wallet.money import format_inr


def signed_inr(paise: int) -> str:
    """``+₹250.00`` for a credit, ``-₹99.50`` for a debit."""
    return f"+{format_inr(paise)}" if paise > 0 else format_inr(paise)


def _document(session: Session, ref: overview.AccountRef, made: Adjustment) -> dict[str, Any]:
    header = detail_repo.account_header(session, ref.account_id)
    wallet = consumer_ledgers(session, [ref.account_id]).get(ref.account_id, {}).get(ConsumerLedger.PREPAID_WALLET)
    balance = 0 if wallet is None else consumer_balance_paise(ledger.balance_paise(session, wallet))
    return {
        "reference": made.reference,
        "utility": ref.utility_code,
        "account_no": ref.account_no,
        "consumer_name": "" if header is None else header.consumer_name,
        "amount_paise": made.amount_paise,
        "amount": signed_inr(made.amount_paise),
        "direction": "credit" if made.amount_paise > 0 else "debit",
        "reason": made.reason,
        "actor": made.actor,
        "effective_at": made.effective_at.isoformat(),
        "posted_at": made.posted_at.isoformat(),
        "ledger_transaction_id": made.ledger_transaction_id,
        "replayed": made.replayed,
        "wallet_balance_paise": balance,
        "wallet_balance": format_inr(balance),
        "timezone": "UTC" if header is None else header.timezone,
    }


def _conflict_text(sessions: sessionmaker[Session], reference: str, exc: AdjustmentConflictError) -> str:
    """Which account and amount the reference was used for, as a user knows them (numbers, rupees)."""
    used = exc.existing

    def read(session: Session) -> str:
        header = detail_repo.account_header(session, used.account_id)
        return "?" if header is None else header.account_no

    return (
        f"adjustment reference {reference!r} was already used for account {read_with(sessions, read)}, "
        f"{signed_inr(used.amount_paise)} on {used.posted_at:%Y-%m-%d %H:%M} UTC ({used.reason}): "
        "a new correction needs a new reference"
    )


def adjust_account(
    ctx: typer.Context,
    account_no: str = typer.Argument(..., help="account number"),
    amount: str = typer.Argument(..., help="rupees with the direction: +250 credits the wallet, -99.50 debits it"),
    reason: str = typer.Option(..., "--reason", help=f"why (1..{REASON_MAX} characters), shown in the statement"),
    ref: str = typer.Option(..., "--ref", help="the correction's reference (ticket no.): a repeat posts nothing"),
    actor: str | None = typer.Option(None, "--actor", help="who makes the correction (default: cli:<login>)"),
    effective: str | None = typer.Option(
        None, "--at", help="when the correction takes effect (ISO with offset) (default: now)"
    ),
    utility: str | None = utility_option(),
    json_out: bool = json_option(),
) -> None:
    """Correct a wallet by an exact amount, with a reason, once per reference."""
    settings = settings_of(ctx)
    maximum = recharge_policy(settings).maximum_paise

    def work(sessions: sessionmaker[Session]) -> dict[str, Any]:
        paise = parse_signed_rupees(amount)
        reference = reference_text(ref, "adjustment reference")
        why = reason_text(reason, REASON_MAX)
        at = moment(effective, "--at")
        account = read_with(sessions, lambda session: account_named(session, account_no, utility))
        who = actor or default_actor()

        def post(session: Session) -> dict[str, Any]:
            now = datetime.now(UTC)
            made = adjust(
                session,
                account_id=account.account_id,
                amount_paise=paise,
                reason=why,
                actor=who,
                reference=reference,
                effective_at=at if effective is not None else now,
                now=now,
                maximum_paise=maximum,
            )
            return _document(session, account, made)

        def refused(exc: WalletError) -> None:
            if isinstance(exc, AdjustmentConflictError):
                fail(_conflict_text(sessions, reference, exc), EXIT_REFUSED, exc.code)
            if isinstance(exc, InvalidAdjustmentError) and abs(paise) > maximum:
                fail(
                    f"{signed_inr(paise)} refused: an adjustment is at most {format_inr(maximum)} either way "
                    "(the recharge maximum, setting recharge_maximum_paise)",
                    EXIT_REFUSED,
                    exc.code,
                )

        return commit_work(sessions, post, "adjustment", refused)

    document = run(settings, json_out, work)
    emit(json_out, document, lambda: text.adjustment_lines(document))
