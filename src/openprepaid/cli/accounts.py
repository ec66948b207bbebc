"""``openprepaid accounts``: the wallet from the command line — list accounts, show one (balances,
statement, notices, relay), take a recharge, reverse a bounced payment, correct a wallet (adjust), the
enforcement-gap report, settlement statements.

Exit codes: 0 done (a repeated recharge, reversal or adjustment too: all are idempotent), 1 the database
cannot be opened, 2 invalid input, 3 not found (utility, account, payment reference), 4 refused by the
wallet (recharge policy, a payment or adjustment reference used for another account or amount, the
adjustment limit, a closed account, nothing to reverse). Errors go to stderr; with ``--json`` an
``{"error": ...}`` object also goes to stdout. Docs: docs/accounts-cli.md.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import typer
from sqlalchemy.orm import Session, sessionmaker

from openprepaid.cli import accounts_query as query
from openprepaid.cli import accounts_text as text
from openprepaid.cli.accounts_adjust import adjust_account
from openprepaid.cli.accounts_common import (
    EXIT_INPUT,
    account_named,
    emit,
    fail,
    json_option,
    moment,
    read_with,
    rules_config,
    run,
    utility_named,
    utility_option,
)
from openprepaid.cli.accounts_payments import recharge_account, reverse_payment
from openprepaid.cli.context import settings_of
from openprepaid.store.repository import account_detail as detail_repo
from openprepaid.store.repository import account_overview as overview
from openprepaid.wallet.rules_service import enforcement_gap

app = typer.Typer(
    help="Prepaid accounts: balances, ledger statements, recharges, reversals, adjustments, the enforcement gap.",
    no_args_is_help=True,
)


# --- list, show -------------------------------------------------------------------------------------------


@app.command("list")
def list_accounts(
    ctx: typer.Context,
    utility: str | None = typer.Option(None, "--utility", help="only this utility's accounts"),
    status: query.StatusFilter = typer.Option(query.StatusFilter.ALL, "--status", help="only accounts in this state"),
    limit: int = typer.Option(1000, "--limit", min=1, max=1_000_000, help="at most this many accounts"),
    rules_file: Path | None = typer.Option(None, "--rules", help="rules file (YAML/JSON) for --status low"),
    json_out: bool = json_option(),
) -> None:
    """One line per account: balance, emergency credit, relay, pending command, last recharge."""
    settings = settings_of(ctx)

    def work(sessions: sessionmaker[Session]) -> list[dict[str, Any]]:
        def read(session: Session) -> list[dict[str, Any]]:
            row = utility_named(session, utility)
            return query.account_list(
                session,
                config=rules_config(settings, rules_file),
                utility_id=None if row is None else row.id,
                status=status,
                limit=limit,
            )

        return read_with(sessions, read)

    items = run(settings, json_out, work)
    emit(
        json_out,
        {"count": len(items), "accounts": items},
        lambda: [
            *text.list_lines(items),
            f"{len(items)} accounts" + ("" if status is query.StatusFilter.ALL else f" ({status.value})"),
        ],
    )


@app.command("show")
def show_account(
    ctx: typer.Context,
    account_no: str = typer.Argument(..., help="account number"),
    utility: str | None = utility_option(),
    json_out: bool = json_option(),
) -> None:
    """One account: consumer, tariff, meters, balances, emergency credit, relay, statement, notices, recharges."""
    settings = settings_of(ctx)

    def work(sessions: sessionmaker[Session]) -> dict[str, Any]:
        def read(session: Session) -> dict[str, Any]:
            ref = account_named(session, account_no, utility)
            return query.account_detail(session, ref.account_id, now=datetime.now(UTC))

        return read_with(sessions, read)

    detail = run(settings, json_out, work)
    emit(json_out, detail, lambda: text.detail_lines(detail))


# --- recharge, reverse (accounts_payments.py), adjust (accounts_adjust.py) ---------------------------------

# A negative amount must reach the amount check (a clear refusal), not be taken for an option.
app.command("recharge", context_settings={"ignore_unknown_options": True})(recharge_account)
app.command("reverse")(reverse_payment)
# A debit ("-99.50") must reach the amount parser, not be taken for an option.
app.command("adjust", context_settings={"ignore_unknown_options": True})(adjust_account)


# --- the enforcement gap, settlement statements ----------------------------------------------------------


@app.command("gap")
def gap_report(
    ctx: typer.Context,
    utility: str | None = typer.Option(None, "--utility", help="only this utility (default: every utility)"),
    at: str | None = typer.Option(None, "--at", help="evaluate at this time (ISO with offset) (default: now)"),
    offline_hours: float = typer.Option(24.0, "--offline-hours", min=0.0, help="a meter unheard this long is offline"),
    rules_file: Path | None = typer.Option(
        None, "--rules", help="rules file (YAML/JSON) (default: the built-in rules)"
    ),
    json_out: bool = json_option(),
) -> None:
    """Accounts due for disconnection but still connected, with why (the enforcement-gap report)."""
    settings = settings_of(ctx)

    def work(sessions: sessionmaker[Session]) -> tuple[datetime, list[dict[str, Any]]]:
        now = moment(at, "--at")
        config = rules_config(settings, rules_file)

        def read(session: Session) -> list[dict[str, Any]]:
            chosen = utility_named(session, utility)
            items: list[dict[str, Any]] = []
            for row in [chosen] if chosen is not None else overview.utilities(session):
                context = query.GapContext(row.code, row.timezone)
                rows = enforcement_gap(
                    session, utility_id=row.id, config=config, now=now, offline_after=timedelta(hours=offline_hours)
                )
                items.extend(query.gap_item(gap_row, context) for gap_row in rows)
            return items

        return now, read_with(sessions, read)

    now, items = run(settings, json_out, work)
    emit(
        json_out,
        {"at": now.isoformat(), "count": len(items), "accounts": items},
        lambda: text.gap_lines(items, f"{now.astimezone(settings.zone):%Y-%m-%d %H:%M} {settings.timezone}"),
    )


@app.command("statements")
def settlement_statements(
    ctx: typer.Context,
    account_no: str = typer.Argument(..., help="account number"),
    month: str | None = typer.Option(None, "--month", help="only this local month, YYYY-MM"),
    utility: str | None = utility_option(),
    json_out: bool = json_option(),
) -> None:
    """The account's monthly settlement statements: charged vs billed per component, the difference posted."""
    settings = settings_of(ctx)

    def work(sessions: sessionmaker[Session]) -> dict[str, Any]:
        month_date = _month(month)

        def read(session: Session) -> dict[str, Any]:
            ref = account_named(session, account_no, utility)
            rows = detail_repo.settlement_statements(session, ref.account_id, month_date=month_date)
            zone = next((u.timezone for u in overview.utilities(session) if u.id == ref.utility_id), "UTC")
            return {
                "account_no": ref.account_no,
                "utility": ref.utility_code,
                "statements": [query.settlement_item(r) for r in rows],
                "timezone": zone,
            }

        return read_with(sessions, read)

    document = run(settings, json_out, work)
    emit(json_out, document, lambda: text.settlement_lines(document))


def _month(value: str | None) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(f"{value}-01")
    except ValueError:
        fail(f"--month {value!r}: expected YYYY-MM", EXIT_INPUT, "bad_month")
