"""What every ``openprepaid accounts`` command shares: opening the store, errors as exit codes, looking
up utilities and accounts by their codes and numbers, the rules configuration, times and amounts.

Exit codes: 0 done (a repeated recharge, reversal or adjustment too: all are idempotent), 1 the database
cannot be opened, 2 invalid input, 3 not found (utility, account, payment reference), 4 refused by the
wallet (recharge policy, a payment or adjustment reference used for another account or amount, the
adjustment limit, a closed account, nothing to reverse). Errors go to stderr; with ``--json`` an
``{"error": ...}`` object also goes to stdout.
"""

from __future__ import annotations

import getpass
import json
import re
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any, NoReturn, TypeVar

import typer
from sqlalchemy import Engine
from sqlalchemy.exc import OperationalError, SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from openprepaid.app import build_store, prepaid_rules
from openprepaid.settings import ConfigFileError, Mode, Settings
from openprepaid.store.engine import DatabaseURLError
from openprepaid.store.repository import account_overview as overview
from openprepaid.wallet.errors import WalletError
from openprepaid.wallet.rules import RulesConfig
from openprepaid.wallet.unit_of_work import run_unit_of_work

EXIT_DATABASE, EXIT_INPUT, EXIT_NOT_FOUND, EXIT_REFUSED = 1, 2, 3, 4
T = TypeVar("T")


class CommandError(Exception):
    def __init__(self, message: str, exit_code: int, code: str) -> None:
        super().__init__(message)
        self.exit_code = exit_code
        self.code = code


def fail(message: str, exit_code: int, code: str) -> NoReturn:
    raise CommandError(message, exit_code, code)


def emit(json_out: bool, document: dict[str, Any], lines: Callable[[], list[str]]) -> None:
    if json_out:
        typer.echo(json.dumps(document, indent=2, ensure_ascii=False, default=str))
    else:
        typer.echo("\n".join(lines()))


def run(settings: Settings, json_out: bool, work: Callable[[sessionmaker[Session]], T]) -> T:
    """Open the store, run ``work``, turn failures into a message and an exit code."""
    try:
        engine, sessions = open_store(settings)
        try:
            return work(sessions)
        finally:
            engine.dispose()
    except CommandError as exc:
        typer.echo(f"error: {exc}", err=True)
        if json_out:
            typer.echo(json.dumps({"error": {"code": exc.code, "message": str(exc)}}, ensure_ascii=False))
        raise typer.Exit(exc.exit_code) from exc


def open_store(settings: Settings) -> tuple[Engine, sessionmaker[Session]]:
    try:
        return build_store(settings, upgrade=settings.mode is Mode.EMBEDDED)
    except (DatabaseURLError, OperationalError) as exc:
        fail(f"cannot open the database: {exc}", EXIT_DATABASE, "database_unavailable")


def read_with(sessions: sessionmaker[Session], work: Callable[[Session], T]) -> T:
    try:
        with sessions() as session:
            return work(session)
    except OperationalError as exc:
        fail(f"cannot read the database: {exc.orig}", EXIT_DATABASE, "database_unavailable")


def utility_named(session: Session, code: str | None) -> overview.UtilityRow | None:
    if code is None:
        return None
    for row in overview.utilities(session):
        if row.code == code:
            return row
    fail(f"unknown utility {code!r}", EXIT_NOT_FOUND, "unknown_utility")


def account_named(session: Session, account_no: str, utility_code: str | None) -> overview.AccountRef:
    utility = utility_named(session, utility_code)
    found = overview.find_accounts(session, account_no, utility_id=None if utility is None else utility.id)
    if not found:
        where = f" in utility {utility_code}" if utility_code else ""
        fail(f"no account {account_no!r}{where}", EXIT_NOT_FOUND, "unknown_account")
    if len(found) > 1:
        codes = ", ".join(ref.utility_code for ref in found)
        fail(f"account {account_no!r} exists in utilities {codes}: name one with --utility", EXIT_INPUT, "ambiguous")
    return found[0]


def rules_config(settings: Settings, rules_file: Path | None) -> RulesConfig:
    """The rules service's configuration, as the composition root builds it: the ``rules_file`` setting
    (or ``--rules FILE`` instead), else the built-in rules in the configured time zone."""
    chosen = settings if rules_file is None else settings.model_copy(update={"rules_file": rules_file})
    try:
        return prepaid_rules(chosen)
    except ConfigFileError as exc:
        fail(str(exc), EXIT_INPUT, "invalid_rules")


def moment(value: str | None, option: str) -> datetime:
    if value is None:
        return datetime.now(UTC)
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        moment = None
    if moment is None or moment.tzinfo is None or moment.utcoffset() is None:
        fail(
            f"{option} {value!r}: expected ISO 8601 with a UTC offset, e.g. 2026-11-05T10:00+05:30",
            EXIT_INPUT,
            "bad_time",
        )
    return moment.astimezone(UTC)


_AMOUNT = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)")


def _exact_rupees(value: str, text: str) -> Decimal:
    """``text`` (``value`` without sign or ₹) as exact rupees: no thousands separators, exponents, more than two
    decimals or anything that is not a number (never a float)."""
    if "," in text:
        fail(f"amount {value!r}: write it without thousands separators, e.g. 1000.00", EXIT_INPUT, "bad_amount")
    if not _AMOUNT.fullmatch(text):
        fail(f"amount {value!r} is not a number of rupees (e.g. 500 or 499.50)", EXIT_INPUT, "bad_amount")
    decimals = len(text.partition(".")[2])
    if decimals > 2:
        fail(f"amount {value!r} has {decimals} decimals: rupees take at most 2 (paise)", EXIT_INPUT, "bad_amount")
    return Decimal(text)


def parse_rupees(value: str) -> int:
    """Rupees as text -> integer paise, exactly: ``500``, ``499.50``, ``₹1000``. Refuses more than two
    decimals, negative, zero, thousands separators, exponents and anything that is not a number."""
    rupees = _exact_rupees(value, value.strip().removeprefix("₹").strip())
    if rupees < 0:
        fail(
            f"amount {value!r} is negative: a recharge adds money (a bounced payment: accounts reverse)",
            EXIT_INPUT,
            "bad_amount",
        )
    if rupees == 0:
        fail(f"amount {value!r} is zero", EXIT_INPUT, "bad_amount")
    return int(rupees * 100)


def parse_signed_rupees(value: str) -> int:
    """A correction in rupees with its direction -> signed integer paise: ``+250`` (or ``+₹250``) credits the
    wallet, ``-99.50`` debits it. The sign is required, so a slip of direction cannot pass unnoticed; the
    amount is exact as in ``parse_rupees``, and not zero."""
    cleaned = value.strip()
    sign, rest = cleaned[:1], cleaned[1:].strip().removeprefix("₹").strip()
    if sign not in ("+", "-") or rest[:1] in ("+", "-"):
        fail(
            f"amount {value!r}: give the direction, e.g. +250 to credit the wallet or -99.50 to debit it",
            EXIT_INPUT,
            "bad_amount",
        )
    rupees = _exact_rupees(value, rest)
    if rupees == 0:
        fail(f"amount {value!r} is zero", EXIT_INPUT, "bad_amount")
    paise = int(rupees * 100)
    return paise if sign == "+" else -paise


def reference_text(value: str, what: str = "payment reference") -> str:
    """A reference as the wallet keys it: 1..100 printable characters (surrounding blanks dropped)."""
    reference = value.strip()
    if not reference or len(reference) > 100 or not reference.isprintable():
        fail(f"{what} {value!r}: 1..100 printable characters", EXIT_INPUT, "bad_reference")
    return reference


def reason_text(value: str, maximum: int) -> str:
    """A ``--reason`` as kept with the money movement: 1..``maximum`` characters (surrounding blanks dropped)."""
    reason = value.strip()
    if not reason or len(reason) > maximum:
        fail(f"--reason must be 1..{maximum} characters", EXIT_INPUT, "bad_reason")
    return reason


def payment_reference(value: str) -> str:
    """A payment reference as the wallet keys it: 1..100 printable characters (surrounding blanks dropped)."""
    return reference_text(value)


def commit_work(
    sessions: sessionmaker[Session],
    work: Callable[[Session], T],
    what: str,
    refused: Callable[[WalletError], None] | None = None,
) -> T:
    """One unit of work (retried on lock conflicts); a wallet refusal or a database failure becomes an exit
    code (``refused`` may say it better first)."""
    try:
        return run_unit_of_work(sessions, work)
    except WalletError as exc:
        if refused is not None:
            refused(exc)
        exit_code = EXIT_NOT_FOUND if exc.http_status == 404 else EXIT_REFUSED
        fail(f"{exc.code}: {exc}", exit_code, exc.code)
    except SQLAlchemyError as exc:
        fail(f"the {what} was not recorded: {exc}", EXIT_DATABASE, "database_error")


def default_actor() -> str:
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):
        return "cli"


def json_option() -> Any:
    return typer.Option(False, "--json", help="print JSON (money in integer paise, times in UTC)")


def utility_option() -> Any:
    return typer.Option(None, "--utility", help="utility code (needed only when a number exists in several)")
