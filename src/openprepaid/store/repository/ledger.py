"""Ledger SQL: ledger accounts, append-only transactions and postings, the balance cache, the audit.

Nothing here decides anything about money; ``openprepaid.wallet.ledger`` validates and calls in.
Invariants the queries serve (docs/ledger.md): postings are only inserted, never updated or
deleted; ``ledger_account.balance_paise`` moves only by ``apply_balance_deltas`` in the same
database transaction that inserted the postings, always by an atomic ``balance = balance + delta``
(never read-modify-write), with rows locked in ascending id order so that two writers never deadlock.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, fields
from datetime import date, datetime
from typing import Any, TypeVar

from sqlalchemy import ColumnElement, String, any_, bindparam, func, insert, literal, select, update
from sqlalchemy.dialects import postgresql
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from openprepaid.store.model import LedgerAccount, LedgerTransaction, Posting

# Well under SQLite's 32766 bound parameters and PostgreSQL's 65535 per statement.
IN_LIST_CHUNK = 5_000

T = TypeVar("T")


def chunked(items: Sequence[T], size: int = IN_LIST_CHUNK) -> Iterator[Sequence[T]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def among(session: Session, column: Any, values: Sequence[Any]) -> ColumnElement[bool]:
    """``column IN values`` with one parameter for the whole list: an array on PostgreSQL
    (``= ANY(:values)``), whose driver spends more time rewriting thousands of placeholders than the
    server spends on the query; a JSON array on SQLite (``IN (SELECT value FROM json_each(:values))``),
    where compiling thousands of ``IN`` placeholders cost more than the query (ints and strings only)."""
    result: ColumnElement[bool]
    if session.get_bind().dialect.name == "postgresql":
        result = column == any_(bindparam(None, list(values), type_=postgresql.ARRAY(column.type)))
    else:
        listed = func.json_each(bindparam(None, json.dumps(list(values)), type_=String)).table_valued("value")
        result = column.in_(select(listed.c.value))
    return result


class DuplicateLedgerKeyError(Exception):
    """An insert hit a unique key (idempotency key or ``reverses_id``) already taken."""


@dataclass(frozen=True, slots=True)
class LedgerAccountRow:
    id: int
    utility_id: int
    key: str
    account_id: int | None
    code: str
    balance_paise: int


@dataclass(frozen=True, slots=True)
class StoredLeg:
    ledger_account_id: int
    amount_paise: int
    component: str


@dataclass(frozen=True, slots=True)
class NewLedgerTransaction:
    idempotency_key: str
    kind: str
    account_id: int | None
    effective_at: datetime
    value_date: date | None
    created_at: datetime
    actor: str
    memo: str
    reverses_id: int | None
    legs: tuple[StoredLeg, ...]


@dataclass(frozen=True, slots=True)
class StoredLedgerTransaction(NewLedgerTransaction):
    id: int


# --- ledger accounts -------------------------------------------------------------------------------


def ensure_ledger_accounts(session: Session, rows: Sequence[Mapping[str, Any]]) -> dict[str, int]:
    """Create the ledger accounts named by ``key`` that do not exist yet; return key -> id for all.

    ``rows`` carry ``utility_id, key, account_id, code``. Concurrent creators are harmless: each
    insert runs in a savepoint and a lost race re-reads the winner's row.
    """
    keys = [str(row["key"]) for row in rows]
    found = ledger_account_ids_by_key(session, keys)
    for row in rows:
        if row["key"] in found:
            continue
        try:
            with session.begin_nested():
                session.execute(insert(LedgerAccount).values(balance_paise=0, version=0, **row))
        except IntegrityError:
            pass  # created by a concurrent unit of work: read below
    missing = [key for key in keys if key not in found]
    found.update(ledger_account_ids_by_key(session, missing))
    return found


def ledger_account_ids_by_key(session: Session, keys: Sequence[str]) -> dict[str, int]:
    result: dict[str, int] = {}
    for chunk in chunked(keys):
        statement = select(LedgerAccount.key, LedgerAccount.id).where(among(session, LedgerAccount.key, chunk))
        result.update({str(key): int(value) for key, value in session.execute(statement)})
    return result


_ACCOUNT_COLUMNS = [getattr(LedgerAccount, field.name) for field in fields(LedgerAccountRow)]


def ledger_accounts(session: Session, ledger_account_ids: Iterable[int]) -> dict[int, LedgerAccountRow]:
    ids = sorted(set(ledger_account_ids))
    result: dict[int, LedgerAccountRow] = {}
    for chunk in chunked(ids):
        statement = select(*_ACCOUNT_COLUMNS).where(among(session, LedgerAccount.id, chunk))
        for row in session.execute(statement):
            result[row.id] = LedgerAccountRow(*row)
    return result


def ledger_accounts_of(session: Session, account_ids: Sequence[int]) -> list[LedgerAccountRow]:
    """The ledger accounts of consumer accounts (wallet, arrears, deposit)."""
    result: list[LedgerAccountRow] = []
    for chunk in chunked(account_ids):
        statement = select(*_ACCOUNT_COLUMNS).where(among(session, LedgerAccount.account_id, chunk))
        result.extend(LedgerAccountRow(*row) for row in session.execute(statement))
    return result


def lock_ledger_accounts(session: Session, ledger_account_ids: Iterable[int]) -> dict[int, int]:
    """Lock rows in ascending id order (PostgreSQL ``FOR NO KEY UPDATE``, the lock an UPDATE takes, which
    does not wait for the key-share locks of other writers' posting foreign keys; SQLite holds the
    write lock already).

    Returns id -> cached balance as of the lock.
    """
    ids = sorted(set(ledger_account_ids))
    result: dict[int, int] = {}
    for chunk in chunked(ids):
        statement = (
            select(LedgerAccount.id, LedgerAccount.balance_paise)
            .where(among(session, LedgerAccount.id, chunk))
            .order_by(LedgerAccount.id)
            .with_for_update(key_share=True)
        )
        result.update({int(key): int(value) for key, value in session.execute(statement)})
    return result


def apply_balance_deltas(session: Session, deltas: Mapping[int, int]) -> None:
    """``balance_paise += delta`` for each ledger account, in ascending id order (no lost updates)."""
    params = [{"target_id": key, "delta": delta} for key, delta in sorted(deltas.items()) if delta]
    if not params:
        return
    statement = (
        update(LedgerAccount)
        .where(LedgerAccount.id == bindparam("target_id"))
        .values(
            balance_paise=LedgerAccount.balance_paise + bindparam("delta"),
            version=LedgerAccount.version + 1,
        )
    )
    session.connection().execute(statement, params)


def cached_balances(session: Session, ledger_account_ids: Iterable[int]) -> dict[int, int]:
    return {key: row.balance_paise for key, row in ledger_accounts(session, ledger_account_ids).items()}


def derived_balance(session: Session, ledger_account_id: int) -> int:
    statement = select(func.coalesce(func.sum(Posting.amount_paise), 0)).where(
        Posting.ledger_account_id == ledger_account_id
    )
    return int(session.execute(statement).scalar_one())


# --- ledger transactions ---------------------------------------------------------------------------


def transactions_by_key(session: Session, keys: Sequence[str]) -> dict[str, StoredLedgerTransaction]:
    headers: dict[int, Any] = {}
    for chunk in chunked(keys):
        statement = select(LedgerTransaction).where(among(session, LedgerTransaction.idempotency_key, chunk))
        for row in session.execute(statement).scalars():
            headers[row.id] = row
    legs = _legs_of(session, list(headers))
    return {row.idempotency_key: _stored(row, legs.get(ledger_id, ())) for ledger_id, row in headers.items()}


def transaction_by_id(session: Session, ledger_transaction_id: int) -> StoredLedgerTransaction | None:
    row = session.get(LedgerTransaction, ledger_transaction_id)
    if row is None:
        return None
    return _stored(row, _legs_of(session, [row.id]).get(row.id, ()))


def reversal_of(session: Session, ledger_transaction_id: int) -> StoredLedgerTransaction | None:
    statement = select(LedgerTransaction).where(LedgerTransaction.reverses_id == ledger_transaction_id)
    row = session.execute(statement).scalar_one_or_none()
    if row is None:
        return None
    return _stored(row, _legs_of(session, [row.id]).get(row.id, ()))


def _legs_of(session: Session, ledger_transaction_ids: Sequence[int]) -> dict[int, tuple[StoredLeg, ...]]:
    result: dict[int, list[StoredLeg]] = {}
    for chunk in chunked(ledger_transaction_ids):
        statement = (
            select(Posting.ledger_transaction_id, Posting.ledger_account_id, Posting.amount_paise, Posting.component)
            .where(among(session, Posting.ledger_transaction_id, chunk))
            .order_by(Posting.ledger_transaction_id, Posting.line_no)
        )
        for ledger_id, account, amount, component in session.execute(statement):
            result.setdefault(ledger_id, []).append(StoredLeg(account, amount, component))
    return {key: tuple(legs) for key, legs in result.items()}


def _stored(row: LedgerTransaction, legs: tuple[StoredLeg, ...]) -> StoredLedgerTransaction:
    return StoredLedgerTransaction(
        id=row.id,
        idempotency_key=row.idempotency_key,
        kind=row.kind,
        account_id=row.account_id,
        effective_at=row.effective_at,
        value_date=row.value_date,
        created_at=row.created_at,
        actor=row.actor,
        memo=row.memo,
        reverses_id=row.reverses_id,
        legs=legs,
    )


def insert_transactions(session: Session, items: Sequence[NewLedgerTransaction]) -> list[int]:
    """Insert headers and postings; returns the new ids in order. The caller moves the balances.

    Raises ``DuplicateLedgerKeyError`` when a unique key is taken (the statement ran in a savepoint,
    rolled back: nothing of ``items`` is left behind).
    """
    if not items:
        return []
    headers = [
        {
            "idempotency_key": item.idempotency_key,
            "kind": item.kind,
            "account_id": item.account_id,
            "effective_at": item.effective_at,
            "value_date": item.value_date,
            "created_at": item.created_at,
            "actor": item.actor,
            "memo": item.memo,
            "reverses_id": item.reverses_id,
        }
        for item in items
    ]
    try:
        with session.begin_nested():
            statement = insert(LedgerTransaction).returning(LedgerTransaction.id, sort_by_parameter_order=True)
            ids = [int(value) for value in session.execute(statement, headers).scalars()]
            postings = [
                {
                    "ledger_transaction_id": ledger_id,
                    "line_no": line_no,
                    "ledger_account_id": leg.ledger_account_id,
                    "amount_paise": leg.amount_paise,
                    "component": leg.component,
                }
                for ledger_id, item in zip(ids, items, strict=True)
                for line_no, leg in enumerate(item.legs, start=1)
            ]
            session.connection().execute(insert(Posting), postings)
    except IntegrityError as exc:
        raise DuplicateLedgerKeyError(str(exc.orig)) from exc
    return ids


# --- audit -----------------------------------------------------------------------------------------


def unbalanced_transactions(session: Session, limit: int = 100) -> list[tuple[int, int]]:
    """(ledger_transaction id, sum of its postings) for transactions whose postings do not sum to zero."""
    total = func.sum(Posting.amount_paise)
    statement = (
        select(Posting.ledger_transaction_id, total)
        .group_by(Posting.ledger_transaction_id)
        .having(total != 0)
        .order_by(Posting.ledger_transaction_id)
        .limit(limit)
    )
    return [(int(key), int(value)) for key, value in session.execute(statement)]


def transactions_with_fewer_than_two_postings(session: Session, limit: int = 100) -> list[int]:
    count = func.count(Posting.line_no)
    statement = (
        select(LedgerTransaction.id)
        .outerjoin(Posting, Posting.ledger_transaction_id == LedgerTransaction.id)
        .group_by(LedgerTransaction.id)
        .having(count < 2)
        .order_by(LedgerTransaction.id)
        .limit(limit)
    )
    return [int(value) for value in session.execute(statement).scalars()]


def postings_total(session: Session) -> int:
    return int(session.execute(select(func.coalesce(func.sum(Posting.amount_paise), literal(0)))).scalar_one())


def balance_mismatches(session: Session, limit: int = 100) -> list[tuple[int, int, int]]:
    """(ledger account id, cached balance, sum of its postings) where the two differ."""
    derived = (
        select(Posting.ledger_account_id.label("ledger_account_id"), func.sum(Posting.amount_paise).label("total"))
        .group_by(Posting.ledger_account_id)
        .subquery()
    )
    derived_total = func.coalesce(derived.c.total, 0)
    statement = (
        select(LedgerAccount.id, LedgerAccount.balance_paise, derived_total)
        .outerjoin(derived, derived.c.ledger_account_id == LedgerAccount.id)
        .where(LedgerAccount.balance_paise != derived_total)
        .order_by(LedgerAccount.id)
        .limit(limit)
    )
    return [(int(a), int(b), int(c)) for a, b, c in session.execute(statement)]


def ledger_account_balances_total(session: Session) -> int:
    return int(session.execute(select(func.coalesce(func.sum(LedgerAccount.balance_paise), 0))).scalar_one())


def orphan_postings(session: Session, limit: int = 100) -> list[tuple[int, int]]:
    """(ledger transaction id, line) of postings whose transaction or ledger account does not exist
    (postings carry no foreign keys: see the model)."""
    statement = (
        select(Posting.ledger_transaction_id, Posting.line_no)
        .outerjoin(LedgerTransaction, LedgerTransaction.id == Posting.ledger_transaction_id)
        .outerjoin(LedgerAccount, LedgerAccount.id == Posting.ledger_account_id)
        .where((LedgerTransaction.id.is_(None)) | (LedgerAccount.id.is_(None)))
        .order_by(Posting.ledger_transaction_id, Posting.line_no)
        .limit(limit)
    )
    return [(int(a), int(b)) for a, b in session.execute(statement)]


def ledger_ids_of_accounts(session: Session, account_ids: Sequence[int], code: str) -> dict[int, int]:
    """Consumer account -> id of its ledger account with ``code`` (e.g. every wallet of a batch)."""
    result: dict[int, int] = {}
    for chunk in chunked(sorted(set(account_ids))):
        statement = select(LedgerAccount.account_id, LedgerAccount.id).where(
            among(session, LedgerAccount.account_id, chunk), LedgerAccount.code == code
        )
        result.update({int(account): int(ledger_id) for account, ledger_id in session.execute(statement) if account})
    return result
