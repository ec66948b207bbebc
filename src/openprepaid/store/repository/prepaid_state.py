"""SQL of the prepaid rules service: the facts of many accounts in a few set-based reads, and the
writes of the rules' own state and notices (domain.md §2; wallet/rules_service.py decides).

Every read takes a whole batch of accounts or meters (IN lists chunked by ``chunked``) so one run
over a utility costs a handful of statements whatever the number of accounts. Writes: the state
rows are upserted, notices inserted once by their unique ``dedup_key`` (a re-run inserts nothing).
Nothing here commits.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Any

from sqlalchemy import Select, and_, bindparam, func, select, text, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from openprepaid.store.model import (
    Account,
    AccountStatus,
    Command,
    CommandKind,
    CommandState,
    LedgerAccount,
    LedgerTransaction,
    Meter,
    MeterInstallation,
    MeterType,
    Notice,
    Payment,
    PaymentMode,
    PaymentStatus,
    Posting,
    PrepaidRulesState,
)
from openprepaid.store.repository.ledger import chunked

RELAY_KINDS = (CommandKind.RELAY_DISCONNECT, CommandKind.RELAY_RECONNECT)
OPEN_STATES = (CommandState.QUEUED, CommandState.SENT)


def _rows(session: Session, statement: Any, **params: Any) -> Sequence[Any]:
    """Core execution (no ORM layer: these are plain column reads) within the session's transaction."""
    return session.connection().execute(statement, params).all()


@dataclass(frozen=True, slots=True)
class RulesAccountRow:
    """One active prepaid account with its current meter, wallet balance and stored rules state."""

    account_id: int
    account_no: str
    category: str
    sanctioned_load_w: int
    protected: bool
    protection_reason: str
    prepaid_since_at: datetime | None
    meter_id: int | None
    meter_has_relay: bool | None
    meter_last_seen_at: datetime | None
    installed_at: datetime | None
    wallet_ledger_balance_paise: int | None  # ledger sign: credit in the wallet is negative
    emergency_credit: dict[str, Any] | None  # None: never evaluated
    notice_state: dict[str, Any] | None
    last_balance_paise: int | None
    evaluated_at: datetime | None
    spend_marks: list[Any] | None
    average_daily_spend_paise: int | None
    disconnection: dict[str, Any] | None  # cached {"command_id", "balance_paise"}


@cache
def _accounts_statement(*, by_ids: bool) -> Select[*tuple[Any, ...]]:
    installation = and_(MeterInstallation.account_id == Account.id, MeterInstallation.removed_at.is_(None))
    wallet = and_(LedgerAccount.account_id == Account.id, LedgerAccount.code == bindparam("wallet_code"))
    statement = (
        select(
            Account.id,
            Account.account_no,
            Account.category,
            Account.sanctioned_load_w,
            Account.protected,
            Account.protection_reason,
            Account.prepaid_since_at,
            MeterInstallation.meter_id,
            MeterType.has_relay,
            Meter.last_seen_at,
            MeterInstallation.installed_at,
            LedgerAccount.balance_paise,
            PrepaidRulesState.emergency_credit,
            PrepaidRulesState.notice_state,
            PrepaidRulesState.last_balance_paise,
            PrepaidRulesState.evaluated_at,
            PrepaidRulesState.spend_marks,
            PrepaidRulesState.average_daily_spend_paise,
            PrepaidRulesState.disconnection,
        )
        .outerjoin(MeterInstallation, installation)
        .outerjoin(Meter, Meter.id == MeterInstallation.meter_id)
        .outerjoin(MeterType, MeterType.id == Meter.meter_type_id)
        .outerjoin(LedgerAccount, wallet)
        .outerjoin(PrepaidRulesState, PrepaidRulesState.account_id == Account.id)
        .where(
            Account.utility_id == bindparam("utility_id"),
            Account.status == AccountStatus.ACTIVE,
            Account.payment_mode == PaymentMode.PREPAID,
        )
    )
    return statement.where(Account.id.in_(bindparam("ids", expanding=True))) if by_ids else statement


def rules_accounts(
    session: Session, *, utility_id: int, wallet_code: str, account_ids: Sequence[int] | None = None
) -> list[RulesAccountRow]:
    """Active prepaid accounts of the utility (or those of ``account_ids`` among them), by id.

    An account with two open installations (a replacement half recorded) gets the newest one.
    """
    params = {"utility_id": utility_id, "wallet_code": wallet_code}
    rows: list[Any] = []
    if account_ids is None:
        rows.extend(_rows(session, _accounts_statement(by_ids=False), **params))
    else:
        for chunk in chunked(sorted(set(account_ids))):
            rows.extend(_rows(session, _accounts_statement(by_ids=True), ids=list(chunk), **params))
    by_account: dict[int, RulesAccountRow] = {}
    for row in rows:
        item = RulesAccountRow(*row)
        seen = by_account.get(item.account_id)
        if seen is None or _newer(item.installed_at, seen.installed_at):
            by_account[item.account_id] = item
    return [by_account[key] for key in sorted(by_account)]


def _newer(candidate: datetime | None, current: datetime | None) -> bool:
    return candidate is not None and (current is None or candidate > current)


# --- payments ----------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CreditedPayment:
    account_id: int
    payment_ref: str
    received_at: datetime
    amount_paise: int
    wallet_credit_paise: int
    wallet_balance_after_paise: int  # consumer's view right after the credit


@cache
def _latest_payments_statement() -> Select[*tuple[Any, ...]]:
    order = (Payment.received_at.desc(), Payment.id.desc())
    ranked = (
        select(
            Payment.account_id,
            Payment.payment_ref,
            Payment.received_at,
            Payment.amount_paise,
            Payment.wallet_credit_paise,
            Payment.wallet_balance_after_paise,
            func.row_number().over(partition_by=Payment.account_id, order_by=order).label("rank"),
        )
        .where(Payment.account_id.in_(bindparam("ids", expanding=True)), Payment.status == PaymentStatus.CREDITED)
        .subquery()
    )
    return select(*(ranked.c[name] for name in CreditedPayment.__slots__)).where(ranked.c.rank == 1)


def latest_credited_payments(session: Session, account_ids: Sequence[int]) -> dict[int, CreditedPayment]:
    """Each account's latest payment still credited (not reversed), by received time then id."""
    result: dict[int, CreditedPayment] = {}
    for chunk in chunked(sorted(set(account_ids))):
        for row in _rows(session, _latest_payments_statement(), ids=list(chunk)):
            result[row[0]] = CreditedPayment(*row)
    return result


def wallet_credited_since(session: Session, since: Mapping[int, datetime]) -> dict[int, int]:
    """Per account: wallet credit of payments still credited, received after that account's time."""
    if not since:
        return {}
    start = min(since.values())
    totals: dict[int, int] = dict.fromkeys(since, 0)
    for chunk in chunked(sorted(since)):
        statement = select(Payment.account_id, Payment.received_at, Payment.wallet_credit_paise).where(
            Payment.account_id.in_(chunk), Payment.status == PaymentStatus.CREDITED, Payment.received_at > start
        )
        for account_id, received_at, credit in session.execute(statement):
            if received_at > since[account_id]:
                totals[account_id] += int(credit)
    return totals


def credited_totals(session: Session, account_ids: Sequence[int]) -> dict[int, int]:
    """Per account: the wallet credit of every payment still credited (reversed ones drop out)."""
    result: dict[int, int] = dict.fromkeys(account_ids, 0)
    for chunk in chunked(sorted(set(account_ids))):
        statement = (
            select(Payment.account_id, func.sum(Payment.wallet_credit_paise))
            .where(Payment.account_id.in_(chunk), Payment.status == PaymentStatus.CREDITED)
            .group_by(Payment.account_id)
        )
        rows: Sequence[Any] = session.execute(statement).all()
        for account_id, total in rows:
            result[int(account_id)] = int(total)
    return result


# --- ledger ------------------------------------------------------------------------------------------


def wallet_movement_since(session: Session, since: Mapping[int, datetime], *, wallet_code: str) -> dict[int, int]:
    """Per account: the sum of wallet postings (ledger sign) effective after that account's time."""
    if not since:
        return {}
    start = min(since.values())
    totals: dict[int, int] = dict.fromkeys(since, 0)
    for chunk in chunked(sorted(since)):
        statement = (
            select(LedgerAccount.account_id, LedgerTransaction.effective_at, Posting.amount_paise)
            .join(Posting, Posting.ledger_account_id == LedgerAccount.id)
            .join(LedgerTransaction, LedgerTransaction.id == Posting.ledger_transaction_id)
            .where(
                LedgerAccount.account_id.in_(chunk),
                LedgerAccount.code == wallet_code,
                LedgerTransaction.effective_at > start,
            )
        )
        rows: Sequence[Any] = session.execute(statement).all()
        for account_id, effective_at, amount in rows:
            if effective_at > since[account_id]:
                totals[account_id] += int(amount)
    return totals


# --- relay commands ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RelayCommandRow:
    id: int
    meter_id: int
    account_id: int | None
    kind: CommandKind
    state: CommandState
    actor: str
    idempotency_key: str | None
    readback: dict[str, Any] | None
    created_at: datetime
    sent_at: datetime | None
    completed_at: datetime | None


_COMMAND_COLUMNS = (
    Command.id,
    Command.meter_id,
    Command.account_id,
    Command.kind,
    Command.state,
    Command.actor,
    Command.idempotency_key,
    Command.readback,
    Command.created_at,
    Command.sent_at,
    Command.completed_at,
)


@cache
def _latest_per_meter_statement(
    kinds: tuple[CommandKind, ...], states: tuple[CommandState, ...]
) -> Select[*tuple[Any, ...]]:
    order = (func.coalesce(Command.completed_at, Command.created_at).desc(), Command.id.desc())
    ranked = (
        select(*_COMMAND_COLUMNS, func.row_number().over(partition_by=Command.meter_id, order_by=order).label("rank"))
        .where(
            Command.meter_id.in_(bindparam("ids", expanding=True)),
            Command.kind.in_(kinds),
            Command.state.in_(states),
        )
        .subquery()
    )
    return select(*(ranked.c[column.key] for column in _COMMAND_COLUMNS)).where(ranked.c.rank == 1)


def _latest_per_meter(
    session: Session, meter_ids: Sequence[int], kinds: tuple[CommandKind, ...], states: tuple[CommandState, ...]
) -> dict[int, RelayCommandRow]:
    result: dict[int, RelayCommandRow] = {}
    statement = _latest_per_meter_statement(kinds, states)
    for chunk in chunked(sorted(set(meter_ids))):
        for row in _rows(session, statement, ids=list(chunk)):
            result[row[1]] = RelayCommandRow(*row)
    return result


def last_confirmed_relay_commands(session: Session, meter_ids: Sequence[int]) -> dict[int, RelayCommandRow]:
    """Per meter: the relay command confirmed last (its read-back is the relay's known state)."""
    return _latest_per_meter(session, meter_ids, RELAY_KINDS, (CommandState.CONFIRMED,))


_OPEN_RELAY_COMMANDS = (
    select(*_COMMAND_COLUMNS)
    .where(
        Command.meter_id.in_(bindparam("ids", expanding=True)),
        Command.kind.in_(RELAY_KINDS),
        Command.state.in_(OPEN_STATES),
    )
    .order_by(Command.created_at, Command.id)
)


def open_relay_commands(session: Session, meter_ids: Sequence[int]) -> dict[int, RelayCommandRow]:
    """Per meter: the newest relay command still queued or sent."""
    result: dict[int, RelayCommandRow] = {}
    for chunk in chunked(sorted(set(meter_ids))):
        for row in _rows(session, _OPEN_RELAY_COMMANDS, ids=list(chunk)):
            result[row[1]] = RelayCommandRow(*row)  # the newest wins
    return result


def last_disconnect_commands(session: Session, meter_ids: Sequence[int]) -> dict[int, RelayCommandRow]:
    """Per meter: the newest disconnect command that was not cancelled (its state explains a gap)."""
    states = tuple(state for state in CommandState if state is not CommandState.CANCELLED)
    return _latest_per_meter(session, meter_ids, (CommandKind.RELAY_DISCONNECT,), states)


def command_keys_of_accounts(session: Session, account_ids: Sequence[int], *, actor: str) -> dict[int, set[str]]:
    """Idempotency keys of the relay commands ``actor`` issued for these accounts (any state)."""
    result: dict[int, set[str]] = {}
    for chunk in chunked(sorted(set(account_ids))):
        statement = select(Command.account_id, Command.idempotency_key).where(
            Command.account_id.in_(chunk),
            Command.actor == actor,
            Command.kind.in_(RELAY_KINDS),
            Command.idempotency_key.is_not(None),
        )
        rows: Sequence[Any] = session.execute(statement).all()
        for account_id, key in rows:
            result.setdefault(int(account_id), set()).add(str(key))
    return result


# --- writes ------------------------------------------------------------------------------------------


def _insert_for(session: Session) -> Any:
    return postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert


def save_states(session: Session, rows: Sequence[Mapping[str, Any]]) -> None:
    """Upsert ``prepaid_rules_state`` rows (every column given), in account order."""
    if not rows:
        return
    insert = _insert_for(session)
    statement = insert(PrepaidRulesState.__table__)
    columns = [name for name in rows[0] if name != "account_id"]
    statement = statement.on_conflict_do_update(
        index_elements=["account_id"], set_={name: statement.excluded[name] for name in columns}
    )
    session.connection().execute(statement, sorted(rows, key=lambda row: int(row["account_id"])))


_TOUCH_STATE = (
    update(PrepaidRulesState)
    .where(PrepaidRulesState.account_id == bindparam("target_id"))
    .values(last_balance_paise=bindparam("balance"), evaluated_at=bindparam("at"))
)


# PostgreSQL: one statement over arrays instead of a round trip per row.
_TOUCH_STATE_PG = text(
    "UPDATE prepaid_rules_state AS s SET last_balance_paise = d.balance, evaluated_at = d.at "
    "FROM (SELECT unnest(CAST(:ids AS bigint[])) AS id, unnest(CAST(:balances AS bigint[])) AS balance, "
    "unnest(CAST(:ats AS timestamptz[])) AS at) AS d WHERE s.account_id = d.id"
)


def touch_states(session: Session, rows: Sequence[Mapping[str, Any]]) -> None:
    """Move only ``last_balance_paise`` and ``evaluated_at`` of existing state rows (no JSON rewritten)."""
    if not rows:
        return
    ordered = sorted(rows, key=lambda row: int(row["account_id"]))
    if session.get_bind().dialect.name == "postgresql":
        arrays = {
            "ids": [int(row["account_id"]) for row in ordered],
            "balances": [int(row["last_balance_paise"]) for row in ordered],
            "ats": [row["evaluated_at"] for row in ordered],
        }
        session.connection().execute(_TOUCH_STATE_PG, arrays)
        return
    params = [
        {"target_id": row["account_id"], "balance": row["last_balance_paise"], "at": row["evaluated_at"]}
        for row in ordered
    ]
    session.connection().execute(_TOUCH_STATE, params)


def insert_notices(session: Session, rows: Sequence[Mapping[str, Any]]) -> int:
    """Insert the notices whose ``dedup_key`` is new; returns how many were new."""
    keys = [str(row["dedup_key"]) for row in rows]
    existing: set[str] = set()
    for chunk in chunked(keys):
        existing.update(session.execute(select(Notice.dedup_key).where(Notice.dedup_key.in_(chunk))).scalars())
    fresh = [row for row in rows if row["dedup_key"] not in existing]
    if fresh:
        statement = _insert_for(session)(Notice.__table__).on_conflict_do_nothing(index_elements=["dedup_key"])
        session.connection().execute(statement, list(fresh))
    return len(fresh)


@dataclass(frozen=True, slots=True)
class NoticeRow:
    id: int
    account_id: int
    kind: str
    notice_key: str
    threshold_paise: int | None
    balance_paise: int
    detail: dict[str, Any]
    created_at: datetime
    dedup_key: str


def notices_of(session: Session, account_id: int) -> list[NoticeRow]:
    statement = (
        select(*(getattr(Notice, name) for name in NoticeRow.__slots__))
        .where(Notice.account_id == account_id)
        .order_by(Notice.created_at, Notice.id)
    )
    return [NoticeRow(*row) for row in session.execute(statement)]


def emergency_phase_counts(session: Session) -> dict[str, int]:
    """Accounts per emergency-credit phase at their last evaluation (``normal``, ``emergency_credit``, …)."""
    phase = PrepaidRulesState.emergency_credit["phase"].as_string()
    rows = session.execute(select(phase, func.count()).group_by(phase))
    return {str(name): int(count) for name, count in rows}
