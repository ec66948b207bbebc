"""Double-entry ledger: append-only, balanced, idempotent by caller-chosen key (TigerBeetle's model).

Invariants, checked here before anything is written and by ``audit`` afterwards:
1. Every ledger transaction has at least two postings, none zero, and its postings sum to zero.
2. Postings are never updated or deleted; a mistake is corrected by a reversing transaction
   (``reverse``), and a transaction is reversed at most once.
3. A ledger account's balance is the sum of its postings; ``balance_paise`` caches it and is moved
   in the same database transaction as the postings, by ``balance = balance + delta``.
4. The sum of all postings (and so of all balances) is zero.
5. All legs of a transaction belong to one utility's books.
6. An idempotency key names one transaction forever: posting it again with the same content is
   a success that returns the first one (``Outcome.EXISTS``); with other content it is an error.

Amounts are integer paise (``openprepaid.wallet.money``); positive = debit, negative = credit
(``chart_of_accounts`` and docs/ledger.md). Nothing here commits: the caller's unit of work does.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from enum import StrEnum

from sqlalchemy.orm import Session

from openprepaid.store.repository import bulk_write
from openprepaid.store.repository import ledger as ledger_repo
from openprepaid.store.repository.ledger import NewLedgerTransaction, StoredLedgerTransaction, StoredLeg
from openprepaid.wallet.errors import WalletError

# A sanity bound, far above any real movement (₹10 lakh crore), far below BIGINT overflow.
MAX_LEG_PAISE = 10**15


class LedgerError(WalletError):
    """Base of the ledger's errors."""


class InvalidLedgerTransactionError(LedgerError):
    code = "invalid_ledger_transaction"


class UnbalancedLedgerTransactionError(InvalidLedgerTransactionError):
    code = "unbalanced_ledger_transaction"


class UnknownLedgerAccountError(LedgerError):
    code = "unknown_ledger_account"
    http_status = 404


class IdempotencyConflictError(LedgerError):
    """The idempotency key is taken by a transaction with different content."""

    code = "idempotency_conflict"
    http_status = 409


class AlreadyReversedError(LedgerError):
    code = "already_reversed"
    http_status = 409


class LedgerTransactionNotFoundError(LedgerError):
    code = "ledger_transaction_not_found"
    http_status = 404


class LedgerTransactionKind(StrEnum):
    RECHARGE = "recharge"
    RECHARGE_REVERSAL = "recharge_reversal"
    INTERVAL_CHARGE = "interval_charge"
    FIXED_CHARGE = "fixed_charge"
    TRUE_UP = "true_up"
    OVERDRAWL_PENALTY = "overdrawl_penalty"
    SETTLEMENT = "settlement"
    FINAL_BILL = "final_bill"
    REFUND = "refund"
    ADJUSTMENT = "adjustment"
    SECURITY_DEPOSIT = "security_deposit"
    OPENING_BALANCE = "opening_balance"
    REVERSAL = "reversal"


@dataclass(frozen=True, slots=True)
class Leg:
    """One posting to be made: positive debits ``ledger_account_id``, negative credits it."""

    ledger_account_id: int
    amount_paise: int
    component: str = ""


@dataclass(frozen=True, slots=True)
class LedgerEntry:
    """A ledger transaction to post. ``idempotency_key`` is chosen by the caller, deterministically."""

    idempotency_key: str
    kind: LedgerTransactionKind | str
    legs: tuple[Leg, ...]
    effective_at: datetime
    account_id: int | None = None
    value_date: date | None = None
    actor: str = "system"
    memo: str = ""
    reverses_id: int | None = None


class Outcome(StrEnum):
    CREATED = "created"
    EXISTS = "exists"  # the same key with the same content was posted before: success, no new money


@dataclass(frozen=True, slots=True)
class Posted:
    ledger_transaction_id: int
    outcome: Outcome


@dataclass(frozen=True, slots=True)
class LedgerAudit:
    unbalanced: list[tuple[int, int]] = field(default_factory=list)
    too_few_postings: list[int] = field(default_factory=list)
    balance_mismatches: list[tuple[int, int, int]] = field(default_factory=list)
    orphan_postings: list[tuple[int, int]] = field(default_factory=list)
    postings_total_paise: int = 0
    balances_total_paise: int = 0

    @property
    def ok(self) -> bool:
        return not (
            self.unbalanced
            or self.too_few_postings
            or self.balance_mismatches
            or self.orphan_postings
            or self.postings_total_paise
            or self.balances_total_paise
        )


def validate(entry: LedgerEntry) -> None:
    """Raise ``InvalidLedgerTransactionError`` / ``UnbalancedLedgerTransactionError`` for a malformed entry."""
    if not entry.idempotency_key or len(entry.idempotency_key) > 200:
        raise InvalidLedgerTransactionError(f"idempotency key must be 1..200 characters: {entry.idempotency_key!r}")
    if entry.effective_at.tzinfo is None or entry.effective_at.utcoffset() is None:
        raise InvalidLedgerTransactionError("effective_at must be an aware datetime")
    if len(entry.legs) < 2:
        raise InvalidLedgerTransactionError(f"{entry.idempotency_key}: a transaction needs at least two legs")
    for leg in entry.legs:
        amount = leg.amount_paise
        if type(amount) is not int or type(leg.ledger_account_id) is not int:
            raise InvalidLedgerTransactionError(f"{entry.idempotency_key}: amounts and accounts are integers: {leg!r}")
        if amount == 0 or abs(amount) > MAX_LEG_PAISE:
            raise InvalidLedgerTransactionError(f"{entry.idempotency_key}: leg amount out of range: {leg!r}")
    total = sum(leg.amount_paise for leg in entry.legs)
    if total != 0:
        raise UnbalancedLedgerTransactionError(f"{entry.idempotency_key}: postings sum to {total} paise, not 0")


def _content(entry: LedgerEntry) -> tuple[object, ...]:
    legs = tuple(StoredLeg(leg.ledger_account_id, leg.amount_paise, leg.component) for leg in entry.legs)
    return (str(entry.kind), entry.account_id, entry.effective_at, entry.value_date, entry.reverses_id, legs)


def same_content(entry: LedgerEntry, stored: StoredLedgerTransaction) -> bool:
    """Does a stored transaction say what ``entry`` says? (actor, memo and creation time may differ)."""
    return _content(entry) == (
        stored.kind,
        stored.account_id,
        stored.effective_at,
        stored.value_date,
        stored.reverses_id,
        stored.legs,
    )


def _new_row(entry: LedgerEntry, now: datetime) -> NewLedgerTransaction:
    return NewLedgerTransaction(
        idempotency_key=entry.idempotency_key,
        kind=str(entry.kind),
        account_id=entry.account_id,
        effective_at=entry.effective_at,
        value_date=entry.value_date,
        created_at=now,
        actor=entry.actor[:100],
        memo=entry.memo[:500],
        reverses_id=entry.reverses_id,
        legs=tuple(StoredLeg(leg.ledger_account_id, leg.amount_paise, leg.component) for leg in entry.legs),
    )


def _existing_outcome(entry: LedgerEntry, stored: StoredLedgerTransaction) -> Posted:
    if not same_content(entry, stored):
        raise IdempotencyConflictError(f"idempotency key {entry.idempotency_key!r} was used for different content")
    return Posted(stored.id, Outcome.EXISTS)


def _check_accounts(session: Session, entries: Sequence[LedgerEntry]) -> dict[str, LedgerError]:
    """Per idempotency key, the error of an entry whose legs name unknown or mixed-utility accounts."""
    ids = {leg.ledger_account_id for entry in entries for leg in entry.legs}
    known = ledger_repo.ledger_accounts(session, ids)
    errors: dict[str, LedgerError] = {}
    for entry in entries:
        missing = sorted({leg.ledger_account_id for leg in entry.legs} - known.keys())
        if missing:
            errors[entry.idempotency_key] = UnknownLedgerAccountError(
                f"{entry.idempotency_key}: no ledger account {missing}"
            )
            continue
        utilities = {known[leg.ledger_account_id].utility_id for leg in entry.legs}
        if len(utilities) > 1:
            errors[entry.idempotency_key] = InvalidLedgerTransactionError(
                f"{entry.idempotency_key}: legs span the books of utilities {sorted(utilities)}"
            )
    return errors


def _deltas(entries: Sequence[LedgerEntry]) -> dict[int, int]:
    deltas: dict[int, int] = {}
    for entry in entries:
        for leg in entry.legs:
            deltas[leg.ledger_account_id] = deltas.get(leg.ledger_account_id, 0) + leg.amount_paise
    return deltas


def post(session: Session, entry: LedgerEntry, *, now: datetime) -> Posted:
    """Post one balanced transaction, or find it posted before under the same key."""
    result = post_batch(session, [entry], now=now)[0]
    if isinstance(result, LedgerError):
        raise result
    return result


def post_batch(session: Session, entries: Sequence[LedgerEntry], *, now: datetime) -> list[Posted | LedgerError]:
    """Post many transactions with few round trips; one result per entry, in order.

    An invalid entry gets its error in its slot and does not stop the others. A key repeated
    within the batch behaves like a retry of its first occurrence.
    """
    results: list[Posted | LedgerError | None] = [None] * len(entries)
    first_index = _validate_all(entries, results)
    fresh = _settle_known_keys(session, entries, list(first_index.values()), results)
    account_errors = _check_accounts(session, [entries[i] for i in fresh])
    for index in fresh:
        results[index] = account_errors.get(entries[index].idempotency_key)
    fresh = [index for index in fresh if results[index] is None]
    if fresh:
        _insert_fresh(session, entries, fresh, results, now)
    for index, entry in enumerate(entries):
        if results[index] is None:
            first = first_index[entry.idempotency_key]
            posted = results[first]
            results[index] = (
                _repeat_within_batch(entries[first], entry, posted) if isinstance(posted, Posted) else posted
            )
    done = [result for result in results if result is not None]
    assert len(done) == len(entries)
    return done


def _validate_all(entries: Sequence[LedgerEntry], results: list[Posted | LedgerError | None]) -> dict[str, int]:
    """Validate each entry (errors into ``results``); return key -> index of its first valid occurrence."""
    first_index: dict[str, int] = {}
    for index, entry in enumerate(entries):
        try:
            validate(entry)
        except LedgerError as exc:
            results[index] = exc
            continue
        first_index.setdefault(entry.idempotency_key, index)
    return first_index


def _settle_known_keys(
    session: Session, entries: Sequence[LedgerEntry], candidates: list[int], results: list[Posted | LedgerError | None]
) -> list[int]:
    """Resolve entries whose key is already stored (EXISTS or conflict); return the others."""
    stored = ledger_repo.transactions_by_key(session, [entries[i].idempotency_key for i in candidates])
    fresh: list[int] = []
    for index in candidates:
        previous = stored.get(entries[index].idempotency_key)
        if previous is None:
            fresh.append(index)
            continue
        try:
            results[index] = _existing_outcome(entries[index], previous)
        except LedgerError as exc:
            results[index] = exc
    return fresh


def _repeat_within_batch(first: LedgerEntry, repeat: LedgerEntry, posted: Posted) -> Posted | LedgerError:
    if _content(first) == _content(repeat):
        return Posted(posted.ledger_transaction_id, Outcome.EXISTS)
    return IdempotencyConflictError(f"idempotency key {repeat.idempotency_key!r} was used for different content")


def _insert_fresh(
    session: Session,
    entries: Sequence[LedgerEntry],
    fresh: list[int],
    results: list[Posted | LedgerError | None],
    now: datetime,
) -> None:
    try:
        ids = ledger_repo.insert_transactions(session, [_new_row(entries[i], now) for i in fresh])
    except ledger_repo.DuplicateLedgerKeyError:
        # A concurrent unit of work took one of the keys (or reversed the same transaction) since we
        # looked: settle each entry on its own, where the lost race turns into EXISTS or an error.
        for index in fresh:
            results[index] = _post_one_after_race(session, entries[index], now)
        return
    ledger_repo.apply_balance_deltas(session, _deltas([entries[i] for i in fresh]))
    for index, ledger_id in zip(fresh, ids, strict=True):
        results[index] = Posted(ledger_id, Outcome.CREATED)


def _post_one_after_race(session: Session, entry: LedgerEntry, now: datetime) -> Posted | LedgerError:
    try:
        (ledger_id,) = ledger_repo.insert_transactions(session, [_new_row(entry, now)])
    except ledger_repo.DuplicateLedgerKeyError as exc:
        previous = ledger_repo.transactions_by_key(session, [entry.idempotency_key]).get(entry.idempotency_key)
        if previous is not None:
            try:
                return _existing_outcome(entry, previous)
            except LedgerError as conflict:
                return conflict
        if entry.reverses_id is not None:
            return AlreadyReversedError(f"ledger transaction {entry.reverses_id} is already reversed")
        return InvalidLedgerTransactionError(f"{entry.idempotency_key}: refused by the database: {exc}")
    ledger_repo.apply_balance_deltas(session, _deltas([entry]))
    return Posted(ledger_id, Outcome.CREATED)


def reverse(
    session: Session,
    ledger_transaction_id: int,
    *,
    idempotency_key: str,
    effective_at: datetime,
    now: datetime,
    actor: str,
    memo: str = "",
    kind: LedgerTransactionKind | str = LedgerTransactionKind.REVERSAL,
) -> Posted:
    """Post the exact negation of a transaction (the only way to undo one). Reversing twice is refused,
    unless it is a retry with the same key, which returns the first reversal."""
    original = ledger_repo.transaction_by_id(session, ledger_transaction_id)
    if original is None:
        raise LedgerTransactionNotFoundError(f"no ledger transaction {ledger_transaction_id}")
    if original.reverses_id is not None:
        raise InvalidLedgerTransactionError(f"ledger transaction {ledger_transaction_id} is itself a reversal")
    entry = LedgerEntry(
        idempotency_key=idempotency_key,
        kind=kind,
        effective_at=effective_at,
        account_id=original.account_id,
        value_date=original.value_date,
        actor=actor,
        memo=memo,
        reverses_id=original.id,
        legs=tuple(Leg(leg.ledger_account_id, -leg.amount_paise, leg.component) for leg in original.legs),
    )
    earlier = ledger_repo.reversal_of(session, original.id)
    if earlier is not None and earlier.idempotency_key != idempotency_key:
        raise AlreadyReversedError(f"ledger transaction {original.id} was reversed by {earlier.idempotency_key!r}")
    return post(session, entry, now=now)


def balance_paise(session: Session, ledger_account_id: int) -> int:
    """The cached balance (sum of postings, debit positive)."""
    balances = ledger_repo.cached_balances(session, [ledger_account_id])
    if ledger_account_id not in balances:
        raise UnknownLedgerAccountError(f"no ledger account {ledger_account_id}")
    return balances[ledger_account_id]


def audit(session: Session, *, limit: int = 100) -> LedgerAudit:
    """Check invariants 1, 3 and 4 and that every posting's transaction and account exist (read-only;
    run it after every test scenario)."""
    return LedgerAudit(
        unbalanced=ledger_repo.unbalanced_transactions(session, limit),
        too_few_postings=ledger_repo.transactions_with_fewer_than_two_postings(session, limit),
        balance_mismatches=ledger_repo.balance_mismatches(session, limit),
        orphan_postings=ledger_repo.orphan_postings(session, limit),
        postings_total_paise=ledger_repo.postings_total(session),
        balances_total_paise=ledger_repo.ledger_account_balances_total(session),
    )


def append_fresh(session: Session, entries: Sequence[LedgerEntry], *, now: datetime) -> list[int]:
    """Bulk-post transactions whose keys are new by construction (they name a new charge batch).

    Each entry is validated (invariant 1) as in ``post``; keys are not looked up first and the
    accounts are the caller's (it resolved them in this unit of work; foreign keys still guard).
    A key that exists after all raises ``bulk_write.DuplicateKeyError``: the caller rolls back its
    savepoint. Returns the new ids in order. ``reverses_id`` is not supported here.
    """
    for entry in entries:
        validate(entry)
        if entry.reverses_id is not None:
            raise InvalidLedgerTransactionError("append_fresh does not post reversals")
    ids = bulk_write.allocate_ledger_transaction_ids(session, len(entries))
    headers = [
        (
            ledger_id,
            entry.idempotency_key,
            str(entry.kind),
            entry.account_id,
            entry.effective_at,
            entry.value_date,
            now,
            entry.actor[:100],
            entry.memo[:500],
        )
        for ledger_id, entry in zip(ids, entries, strict=True)
    ]
    postings = [
        (ledger_id, line_no, leg.ledger_account_id, leg.amount_paise, leg.component)
        for ledger_id, entry in zip(ids, entries, strict=True)
        for line_no, leg in enumerate(entry.legs, start=1)
    ]
    bulk_write.insert_ledger_bulk(session, headers, postings)
    bulk_write.add_to_balances(session, _deltas(entries))
    return ids


# In a template leg: the ledger account of the transaction's own consumer account (its wallet, say).
OWN_LEDGER = 0


@dataclass(frozen=True, slots=True)
class PerAccountPosting:
    """Many transactions alike but for their consumer account (a day's fixed charge to every account):
    ``kind, effective_at, value_date, actor`` shared; keys ``key_prefix + account id + key_suffix``;
    ``templates[t]`` the legs of template ``t``, ``OWN_LEDGER`` standing for the account's own ledger."""

    kind: LedgerTransactionKind
    key_prefix: str
    key_suffix: str
    effective_at: datetime
    value_date: date | None
    actor: str
    templates: Sequence[tuple[Leg, ...]]


def post_per_account_once(
    session: Session, posting: PerAccountPosting, accounts: Sequence[tuple[int, int, int]], *, now: datetime
) -> dict[int, int]:
    """Post ``posting`` once per ``(account id, its own ledger id, template index)``: an account whose key
    is stored already is skipped, whatever that transaction says (deterministic keys: the same movement).
    Each template is validated once (invariant 1); the ledgers are the caller's, resolved in this unit of
    work for one utility's accounts. Costs a few statements for any number of accounts: the keys are made
    by the database, postings go in bulk and balances move in one ordered update.
    Returns account id -> new ledger transaction id for the accounts posted now."""
    for legs in posting.templates:
        validate(
            LedgerEntry(f"{posting.key_prefix}{2**63}{posting.key_suffix}", posting.kind, legs, posting.effective_at)
        )
    if not accounts:
        return {}
    header = {
        "kind": str(posting.kind),
        "effective_at": posting.effective_at,
        "value_date": posting.value_date,
        "created_at": now,
        "actor": posting.actor[:100],
        "memo": "",
    }
    of_account = {account_id: (own, template) for account_id, own, template in accounts}
    created = bulk_write.insert_keyed_transactions(
        session, sorted(of_account), key_prefix=posting.key_prefix, key_suffix=posting.key_suffix, header=header
    )
    rows: list[tuple[int, int, int, int, str]] = []
    deltas: dict[int, int] = {}
    for ledger_id, account_id in created:
        own, template = of_account[account_id]
        for line_no, leg in enumerate(posting.templates[template], start=1):
            target = own if leg.ledger_account_id == OWN_LEDGER else leg.ledger_account_id
            rows.append((ledger_id, line_no, target, leg.amount_paise, leg.component))
            deltas[target] = deltas.get(target, 0) + leg.amount_paise
    bulk_write.insert_postings(session, rows)
    bulk_write.add_to_balances(session, deltas)
    return {account_id: ledger_id for ledger_id, account_id in created}
