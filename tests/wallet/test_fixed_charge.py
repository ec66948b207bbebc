"""The daily fixed charge posted for a whole utility in bulk: once per account and day, priced per
(tariff version, load), accounts not open yet or without a version in force skipped.

Runs on SQLite and the real PostgreSQL; ledger invariants are checked after each scenario.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

from sqlalchemy import text

from openprepaid.wallet import ledger
from openprepaid.wallet.chart_of_accounts import UtilityLedger
from openprepaid.wallet.fixed_charge import charge_daily_fixed, fixed_charge_key
from openprepaid.wallet.ledger import LedgerEntry, LedgerTransactionKind, Leg
from tests.wallet.test_charging import component_totals
from tests.wallet.test_ledger_world import (
    IST,
    NOW,
    assert_ledger_invariants,
    demo_spec,
    make_metered_consumer,
    make_world,
    wallet_balance,
)

DAY = date(2026, 11, 3)


def fixed(session, world, day=DAY):
    return charge_daily_fixed(
        session, utility_id=world.books.utility.id, local_date=day, catalog=world.catalog, now=NOW
    )


def test_bulk_fixed_charge_prices_per_load_and_skips_what_it_must(db_session):
    world = make_world(db_session)
    small = [make_metered_consumer(db_session, world, sanctioned_load_w=3000)[0] for _ in range(3)]
    large = [make_metered_consumer(db_session, world, sanctioned_load_w=5000)[0] for _ in range(2)]
    later, _ = make_metered_consumer(db_session, world)
    later.account.opened_at = datetime.combine(DAY + timedelta(days=1), datetime.min.time(), tzinfo=IST)
    opened_that_day, _ = make_metered_consumer(db_session, world)
    opened_that_day.account.opened_at = datetime.combine(DAY, datetime.min.time(), tzinfo=IST) + timedelta(hours=23)
    db_session.flush()

    first = fixed(db_session, world)
    assert (first.posted, first.already_posted, first.skipped) == (6, 0, 1)
    for consumer in [*small, opened_that_day]:
        assert component_totals(db_session, consumer.account.id) == {"fixed.load": 500, "duty.electricity": 25}
        assert wallet_balance(db_session, consumer) == -525
    large_totals = [component_totals(db_session, c.account.id) for c in large]
    assert large_totals[0] == large_totals[1] and large_totals[0]["fixed.load"] > 500
    assert first.amount_paise == 4 * 525 + 2 * sum(large_totals[0].values())
    assert component_totals(db_session, later.account.id) == {}
    keys = {row[0] for row in db_session.execute(text("SELECT idempotency_key FROM ledger_transaction"))}
    assert {fixed_charge_key(c.account.id, DAY) for c in [*small, *large, opened_that_day]} <= keys

    again = fixed(db_session, world)
    assert (again.posted, again.already_posted, again.skipped, again.amount_paise) == (0, 6, 1, 0)
    assert wallet_balance(db_session, small[0]) == -525
    assert_ledger_invariants(db_session)


def test_a_day_posted_before_under_its_key_is_not_charged_again(db_session):
    world = make_world(db_session)
    done, _ = make_metered_consumer(db_session, world)
    fresh, _ = make_metered_consumer(db_session, world)
    ledger.post(
        db_session,
        LedgerEntry(
            idempotency_key=fixed_charge_key(done.account.id, DAY),
            kind=LedgerTransactionKind.FIXED_CHARGE,
            legs=(Leg(done.wallet, 1), Leg(world.books.ledgers[UtilityLedger.FIXED_CHARGE_REVENUE], -1, "fixed.load")),
            effective_at=NOW,
            account_id=done.account.id,
        ),
        now=NOW,
    )
    result = fixed(db_session, world)
    assert (result.posted, result.already_posted, result.amount_paise) == (1, 1, 525)
    assert wallet_balance(db_session, done) == -1
    assert wallet_balance(db_session, fresh) == -525
    assert_ledger_invariants(db_session)


def test_no_version_in_force_on_the_day_is_skipped(db_session):
    world = make_world(db_session, demo_spec(effective_from=datetime(2026, 12, 1, tzinfo=IST)))
    consumer, _ = make_metered_consumer(db_session, world)
    result = fixed(db_session, world)
    assert (result.posted, result.already_posted, result.skipped) == (0, 0, 1)
    assert wallet_balance(db_session, consumer) == 0
    assert_ledger_invariants(db_session)
