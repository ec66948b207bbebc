"""Property test of the ledger against a model: random postings, retries (same or other content) and
reversals keep every invariant, and each balance equals the model's sum of accepted legs."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from openprepaid.wallet import ledger
from openprepaid.wallet.chart_of_accounts import UtilityLedger
from openprepaid.wallet.ledger import LedgerEntry, LedgerTransactionKind, Leg, Outcome
from tests.wallet.test_ledger_world import NOW, assert_ledger_invariants, make_books, make_consumer

_amount = st.integers(min_value=1, max_value=5_000_000)
_operation = st.one_of(
    st.tuples(st.just("post"), st.integers(0, 5), st.integers(0, 3), st.integers(0, 3), _amount),
    st.tuples(st.just("reverse"), st.integers(0, 5), st.integers(0, 3), st.integers(0, 3), _amount),
)


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(operations=st.lists(_operation, min_size=1, max_size=15))
def test_ledger_matches_its_model(db_session, operations):
    books = make_books(db_session)
    consumers = [make_consumer(db_session, books) for _ in range(2)]
    accounts = [c.wallet for c in consumers] + [
        books.ledgers[UtilityLedger.PAYMENT_CLEARING],
        books.ledgers[UtilityLedger.ADJUSTMENTS],
    ]
    expected = dict.fromkeys(accounts, 0)
    posted: dict[str, tuple[LedgerEntry, int]] = {}
    reversed_ids: set[int] = set()
    prefix = f"p{books.utility.id}"
    for action, key_no, debit, credit, amount in operations:
        if action == "post":
            target = credit if credit != debit else (credit + 1) % len(accounts)
            entry = LedgerEntry(
                idempotency_key=f"{prefix}:{key_no}",
                kind=LedgerTransactionKind.ADJUSTMENT,
                effective_at=NOW,
                legs=(Leg(accounts[debit], amount), Leg(accounts[target], -amount)),
            )
            known = posted.get(entry.idempotency_key)
            if known is not None and known[0].legs != entry.legs:
                try:
                    ledger.post(db_session, entry, now=NOW)
                except ledger.IdempotencyConflictError:
                    continue
                raise AssertionError("a reused key with other content was accepted")
            result = ledger.post(db_session, entry, now=NOW)
            if known is None:
                assert result.outcome is Outcome.CREATED
                posted[entry.idempotency_key] = (entry, result.ledger_transaction_id)
                expected[accounts[debit]] += amount
                expected[accounts[target]] -= amount
            else:
                assert result == ledger.Posted(known[1], Outcome.EXISTS)
        else:
            if not posted:
                continue
            entry, ledger_id = list(posted.values())[key_no % len(posted)]
            key = f"{prefix}:rev:{ledger_id}"
            result = ledger.reverse(db_session, ledger_id, idempotency_key=key, effective_at=NOW, now=NOW, actor="t")
            if ledger_id in reversed_ids:
                assert result.outcome is Outcome.EXISTS
                continue
            reversed_ids.add(ledger_id)
            for leg in entry.legs:
                expected[leg.ledger_account_id] -= leg.amount_paise
    assert {a: ledger.balance_paise(db_session, a) for a in accounts} == expected
    assert_ledger_invariants(db_session)
