"""``openprepaid accounts recharge`` and ``reverse``: money in through the wallet's recharge (its policy,
arrears recovery, idempotent by payment reference) and out again through its reversal (a bounced
payment). Each is one unit of work, retried on a lock conflict; a repeat changes nothing and prints the
first receipt.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, NoReturn

import typer
from sqlalchemy.orm import Session, sessionmaker

from openprepaid.app import recharge_policy
from openprepaid.cli import accounts_query as query
from openprepaid.cli import accounts_text as text
from openprepaid.cli.accounts_common import (
    EXIT_INPUT,
    EXIT_NOT_FOUND,
    EXIT_REFUSED,
    account_named,
    commit_work,
    default_actor,
    emit,
    fail,
    json_option,
    moment,
    parse_rupees,
    payment_reference,
    read_with,
    reason_text,
    run,
    utility_named,
    utility_option,
)
from openprepaid.cli.context import settings_of
from openprepaid.store.repository import account_detail as detail_repo
from openprepaid.store.repository import account_overview as overview
from openprepaid.store.repository import payment as payment_repo
from openprepaid.wallet import ledger
from openprepaid.wallet.chart_of_accounts import ConsumerLedger, consumer_balance_paise, consumer_ledgers
from openprepaid.wallet.errors import WalletError
from openprepaid.wallet.money import format_inr
from openprepaid.wallet.recharge import (
    InvalidRechargeError,
    PaymentRefConflictError,
    Receipt,
    RechargePolicy,
    RechargeRequest,
    recharge,
    reverse_recharge,
)


def _receipt_document(session: Session, ref: overview.AccountRef, receipt: Receipt, name: str) -> dict[str, Any]:
    row = payment_repo.payment_by_ref(session, ref.utility_id, receipt.payment_ref)
    zone = next((u.timezone for u in overview.utilities(session) if u.id == ref.utility_id), "UTC")
    return {
        "payment_ref": receipt.payment_ref,
        "utility": ref.utility_code,
        "account_no": ref.account_no,
        "consumer_name": name,
        "amount_paise": receipt.amount_paise,
        "amount": format_inr(receipt.amount_paise),
        "wallet_credit_paise": receipt.wallet_credit_paise,
        "arrears_recovered_paise": receipt.arrears_recovered_paise,
        "wallet_balance_after_paise": receipt.wallet_balance_after_paise,
        "received_at": receipt.received_at.isoformat(),
        "channel": "" if row is None else row.channel,
        "actor": "" if row is None else row.actor,
        "state": receipt.status.value,
        "reversed_at": query.iso(receipt.reversed_at),
        "ledger_transaction_id": receipt.ledger_transaction_id,
        "replayed": receipt.replayed,
        "relay": query.relay_now(session, ref.account_id),
        "timezone": zone,
    }


def _policy_text(policy: RechargePolicy) -> str:
    return (
        f"recharges from {format_inr(policy.minimum_paise)} to {format_inr(policy.maximum_paise)} "
        f"in multiples of {format_inr(policy.multiple_of_paise)}"
    )


def _conflict(sessions: sessionmaker[Session], ref: overview.AccountRef, payment_ref: str) -> NoReturn:
    """Say which account and amount the reference was used for (numbers a user knows, not ids)."""

    def read(session: Session) -> str:
        used = payment_repo.payment_by_ref(session, ref.utility_id, payment_ref)
        if used is None:
            return f"payment reference {payment_ref!r} is taken"
        header = detail_repo.account_header(session, used.account_id)
        number = "?" if header is None else header.account_no
        return (
            f"payment reference {payment_ref!r} was already used for account {number}, "
            f"{format_inr(used.amount_paise)} on {used.received_at:%Y-%m-%d %H:%M} UTC: "
            "a new payment needs a new reference"
        )

    fail(read_with(sessions, read), EXIT_REFUSED, PaymentRefConflictError.code)


def recharge_account(
    ctx: typer.Context,
    account_no: str = typer.Argument(..., help="account number"),
    amount: str = typer.Argument(..., help="rupees, e.g. 500 or 499.50 (exact; at most 2 decimals)"),
    ref: str = typer.Option(..., "--ref", help="payment reference: a repeat with the same one credits nothing more"),
    channel: str = typer.Option("cli", "--channel", help="how the money came: cli, counter, portal, gateway:<name>"),
    actor: str | None = typer.Option(None, "--actor", help="who is recording it (default: cli:<login>)"),
    received_at: str | None = typer.Option(
        None, "--at", help="when the payment was received (ISO with offset) (default: now)"
    ),
    utility: str | None = utility_option(),
    json_out: bool = json_option(),
) -> None:
    """Credit a payment to the account's wallet (less arrears recovery), once per payment reference."""
    settings = settings_of(ctx)
    policy = recharge_policy(settings)

    def work(sessions: sessionmaker[Session]) -> dict[str, Any]:
        paise = parse_rupees(amount)
        reference = payment_reference(ref)
        at = moment(received_at, "--at")
        ref_account = read_with(sessions, lambda session: account_named(session, account_no, utility))
        request = RechargeRequest(
            account_id=ref_account.account_id,
            payment_ref=reference,
            amount_paise=paise,
            channel=channel,
            received_at=at,
            actor=actor or default_actor(),
        )

        def credit(session: Session) -> dict[str, Any]:
            receipt = recharge(session, request, policy=policy, now=datetime.now(UTC))
            header = detail_repo.account_header(session, ref_account.account_id)
            return _receipt_document(session, ref_account, receipt, "" if header is None else header.consumer_name)

        def refused(exc: WalletError) -> None:
            if isinstance(exc, PaymentRefConflictError):
                _conflict(sessions, ref_account, request.payment_ref)
            if isinstance(exc, InvalidRechargeError):
                fail(f"{format_inr(paise)} refused: {exc} ({_policy_text(policy)})", EXIT_REFUSED, exc.code)

        return commit_work(sessions, credit, "recharge", refused)

    document = run(settings, json_out, work)
    emit(json_out, document, lambda: text.receipt_lines(document))


def reverse_payment(
    ctx: typer.Context,
    payment_ref: str = typer.Argument(..., help="payment reference of the recharge to reverse"),
    reason: str = typer.Option(..., "--reason", help="why (e.g. 'cheque bounced'), kept with the payment"),
    actor: str | None = typer.Option(None, "--actor", help="who is reversing it (default: cli:<login>)"),
    utility: str | None = utility_option(),
    json_out: bool = json_option(),
) -> None:
    """Reverse a credited recharge (bounced payment): the wallet is debited back, recovered arrears owed again."""
    settings = settings_of(ctx)

    def work(sessions: sessionmaker[Session]) -> dict[str, Any]:
        reference = payment_reference(payment_ref)
        why = reason_text(reason, 200)

        def find(session: Session) -> overview.PaymentRef:
            row = utility_named(session, utility)
            found = overview.find_payments(session, reference, utility_id=None if row is None else row.id)
            if not found:
                fail(
                    f"no payment {reference!r}" + (f" in utility {utility}" if utility else ""),
                    EXIT_NOT_FOUND,
                    "payment_not_found",
                )
            if len(found) > 1:
                codes = ", ".join(item.utility_code for item in found)
                fail(
                    f"payment {reference!r} exists in utilities {codes}: name one with --utility",
                    EXIT_INPUT,
                    "ambiguous",
                )
            return found[0]

        payment = read_with(sessions, find)
        who = actor or default_actor()

        def undo(session: Session) -> dict[str, Any]:
            now = datetime.now(UTC)
            receipt = reverse_recharge(
                session,
                utility_id=payment.utility_id,
                payment_ref=reference,
                reason=why,
                reversed_at=now,
                actor=who,
                now=now,
            )
            return _reversal_document(session, payment, receipt)

        return commit_work(sessions, undo, "reversal")

    document = run(settings, json_out, work)
    emit(json_out, document, lambda: text.reversal_lines(document))


def _reversal_document(session: Session, payment: overview.PaymentRef, receipt: Receipt) -> dict[str, Any]:
    row = payment_repo.payment_by_ref(session, payment.utility_id, receipt.payment_ref)
    wallet = (
        consumer_ledgers(session, [payment.account_id]).get(payment.account_id, {}).get(ConsumerLedger.PREPAID_WALLET)
    )
    balance = 0 if wallet is None else consumer_balance_paise(ledger.balance_paise(session, wallet))
    zone = next((u.timezone for u in overview.utilities(session) if u.id == payment.utility_id), "UTC")
    return {
        "payment_ref": receipt.payment_ref,
        "utility": payment.utility_code,
        "account_no": payment.account_no,
        "amount_paise": receipt.amount_paise,
        "amount": format_inr(receipt.amount_paise),
        "wallet_credit_paise": receipt.wallet_credit_paise,
        "arrears_recovered_paise": receipt.arrears_recovered_paise,
        "received_at": receipt.received_at.isoformat(),
        "reversed_at": query.iso(receipt.reversed_at),
        "reversed_by": "" if row is None else row.reversed_by,
        "reason": "" if row is None else row.reversal_reason,
        "reversal_ledger_transaction_id": receipt.reversal_ledger_transaction_id,
        "wallet_balance_paise": balance,
        "wallet_balance": format_inr(balance),
        "replayed": receipt.replayed,
        "timezone": zone,
    }
