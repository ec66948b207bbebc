"""The over-drawl penalty in the month bill (domain.md §2 "Load above sanctioned load", docs/ledger.md):
from the meter's billing-profile maximum demand, priced at the version in force when it occurred, its own
ledger transaction once per account-month, reconciled by the settlement; both backends."""

from __future__ import annotations

import dataclasses
import json
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from sqlalchemy import text

from openprepaid.store.model import BillingReading
from openprepaid.wallet.overdrawl import PenaltyOutcome, charge_overdrawl_penalty, penalty_key
from openprepaid.wallet.settlement import settle_month
from openprepaid.wallet.tariff import Group, Overdrawl, OverdrawlPolicy, PercentCharge, TariffSpec
from tests.wallet.test_ledger_world import (
    NOW,
    assert_ledger_invariants,
    demo_spec,
    local,
    make_metered_consumer,
    make_world,
    wallet_balance,
)
from tests.wallet.test_settlement import AFTER_NOVEMBER, NOVEMBER, charge_days

MONTH_END = local(2026, 12, 1)  # the billing snapshot closing November
PENALTY = Overdrawl(OverdrawlPolicy.PENALTY, per_kw_month=Decimal(100), tolerance_percent=Decimal(10))


def penal_spec(*, version: int = 1, effective_from: datetime | None = None, per_kw: int = 100) -> TariffSpec:
    """The demo tariff with a penalty of ₹``per_kw``/kW of excess demand (10 % tolerance) and 5 % duty on it."""
    spec = demo_spec(version=version, effective_from=effective_from)
    duty = PercentCharge("electricity", Decimal(5), frozenset({Group.ENERGY, Group.FIXED, Group.PENALTY}))
    return dataclasses.replace(
        spec, overdrawl=dataclasses.replace(PENALTY, per_kw_month=Decimal(per_kw)), duties=(duty,)
    )


def billing_snapshot(session, meter, *, demand_w, demand_at, billing_at=MONTH_END):
    session.add(
        BillingReading(
            meter_id=meter.id,
            billing_at=billing_at.astimezone(UTC),
            import_wh_total=1_000_000,
            max_demand_w=demand_w,
            max_demand_at=None if demand_at is None else demand_at.astimezone(UTC),
            extra={},
            received_at=NOW,
        )
    )
    session.flush()


def settle(session, world, consumer):
    return settle_month(
        session, account_id=consumer.account.id, month_date=NOVEMBER, catalog=world.catalog, now=AFTER_NOVEMBER
    )


def penalty(session, world, consumer):
    return charge_overdrawl_penalty(
        session, account_id=consumer.account.id, month_date=NOVEMBER, catalog=world.catalog, now=AFTER_NOVEMBER
    )


def penalty_postings(session, account_id):
    rows = session.execute(
        text(
            "SELECT p.component, p.amount_paise FROM posting p "
            "JOIN ledger_transaction t ON t.id = p.ledger_transaction_id "
            "WHERE t.account_id = :a AND t.kind = 'overdrawl_penalty' ORDER BY p.component"
        ),
        {"a": account_id},
    )
    return dict(rows.all())


def statement_difference(session, account_id):
    row = session.execute(
        text("SELECT lines FROM settlement_statement WHERE account_id = :a"), {"a": account_id}
    ).scalar_one()
    return (row if isinstance(row, dict) else json.loads(row))["difference"]


def test_the_months_penalty_is_posted_once_and_in_the_month_bill(db_session):
    world = make_world(db_session, penal_spec())
    consumer, meter = make_metered_consumer(db_session, world)  # 3 kW sanctioned
    charge_days(db_session, world, meter, range(1, 31))
    billing_snapshot(db_session, meter, demand_w=4_200, demand_at=local(2026, 11, 12, 19, 30))
    before = wallet_balance(db_session, consumer)
    statement = settle(db_session, world, consumer)
    # 1.2 kW above 3 kW (beyond the 10 % tolerance) × ₹100 = ₹120; 5 % duty on it ₹6
    assert penalty_postings(db_session, consumer.account.id) == {
        "duty.electricity": -600,
        "penalty.overdrawl": -12_000,
        "total": 12_600,
    }
    assert statement.billed["penalty.overdrawl"] == statement.charged["penalty.overdrawl"] == 12_000
    assert "penalty.overdrawl" not in statement_difference(db_session, consumer.account.id)
    assert statement.max_demand is not None
    assert (statement.max_demand["max_demand_w"], statement.max_demand["status"]) == (4_200, "posted")
    assert wallet_balance(db_session, consumer) == before - 12_600 - statement.difference_paise
    # Settling or charging again posts nothing.
    assert settle(db_session, world, consumer).replayed
    again = penalty(db_session, world, consumer)
    assert (again.outcome, again.amount_paise) == (PenaltyOutcome.POSTED_BEFORE, 12_600)
    count = "SELECT count(*) FROM ledger_transaction WHERE idempotency_key = :k"
    assert db_session.execute(text(count), {"k": penalty_key(consumer.account.id, NOVEMBER)}).scalar_one() == 1
    memo = db_session.execute(text("SELECT memo FROM ledger_transaction WHERE kind = 'overdrawl_penalty'"))
    assert memo.scalar_one().startswith("over-drawl penalty 2026-11: maximum demand 4.200 kW at 2026-11-12 19:30")
    assert_ledger_invariants(db_session)


@pytest.mark.parametrize(("demand_day", "rate"), [(10, 100), (20, 150)])
def test_the_penalty_is_priced_at_the_version_in_force_when_the_maximum_occurred(db_session, demand_day, rate):
    change = local(2026, 11, 15)
    world = make_world(db_session, penal_spec(), penal_spec(version=2, effective_from=change, per_kw=150))
    consumer, meter = make_metered_consumer(db_session, world)
    charge_days(db_session, world, meter, range(1, 31))
    billing_snapshot(db_session, meter, demand_w=4_000, demand_at=local(2026, 11, demand_day, 18))
    statement = settle(db_session, world, consumer)
    assert statement.multi_version
    assert statement.billed["penalty.overdrawl"] == rate * 100  # 1 kW over
    assert penalty_postings(db_session, consumer.account.id)["penalty.overdrawl"] == -rate * 100
    on_part = [part["version"] for part in statement.versions if part["max_demand_w"] is not None]
    assert on_part == [1 if demand_day < 15 else 2]
    assert "penalty.overdrawl" not in statement_difference(db_session, consumer.account.id)
    assert_ledger_invariants(db_session)


def test_a_snapshot_after_the_settlement_is_charged_late_once(db_session):
    world = make_world(db_session, penal_spec())
    consumer, meter = make_metered_consumer(db_session, world)
    charge_days(db_session, world, meter, [3, 4])
    statement = settle(db_session, world, consumer)
    assert statement.max_demand == {"status": "no_demand"}
    assert "penalty.overdrawl" not in statement.billed
    billing_snapshot(db_session, meter, demand_w=5_000, demand_at=local(2026, 11, 4, 20))
    before = wallet_balance(db_session, consumer)
    late = penalty(db_session, world, consumer)
    assert (late.outcome, late.amount_paise) == (PenaltyOutcome.POSTED, 21_000)  # 2 kW × ₹100 + 5 % duty
    assert wallet_balance(db_session, consumer) == before - 21_000
    assert penalty(db_session, world, consumer).outcome is PenaltyOutcome.POSTED_BEFORE
    assert wallet_balance(db_session, consumer) == before - 21_000
    assert_ledger_invariants(db_session)


@pytest.mark.parametrize(
    ("demand_w", "demand_at", "billing_at", "outcome"),
    [
        (3_300, local(2026, 11, 12, 19), MONTH_END, PenaltyOutcome.NO_PENALTY),  # within the 10 % tolerance
        (6_000, local(2026, 10, 31, 19), MONTH_END, PenaltyOutcome.NO_DEMAND),  # October's demand (no MD reset)
        (6_000, local(2026, 11, 12, 19), local(2026, 11, 15), PenaltyOutcome.NO_DEMAND),  # not the month's end
        (6_000, None, MONTH_END, PenaltyOutcome.POSTED),  # no time: the meter served the whole month
    ],
)
def test_which_demand_is_the_months(db_session, demand_w, demand_at, billing_at, outcome):
    world = make_world(db_session, penal_spec())
    consumer, meter = make_metered_consumer(db_session, world)
    billing_snapshot(db_session, meter, demand_w=demand_w, demand_at=demand_at, billing_at=billing_at)
    result = penalty(db_session, world, consumer)
    assert result.outcome is outcome
    assert bool(penalty_postings(db_session, consumer.account.id)) is (outcome is PenaltyOutcome.POSTED)
    assert_ledger_invariants(db_session)


def test_no_penalty_under_the_trip_policy_or_without_a_rule(db_session):
    trip = dataclasses.replace(demo_spec(), overdrawl=Overdrawl(OverdrawlPolicy.TRIP))
    for spec in (trip, demo_spec()):
        world = make_world(db_session, spec)
        consumer, meter = make_metered_consumer(db_session, world)
        billing_snapshot(db_session, meter, demand_w=9_000, demand_at=local(2026, 11, 12, 19))
        assert penalty(db_session, world, consumer).outcome is PenaltyOutcome.NO_PENALTY
        statement = settle(db_session, world, consumer)
        assert "penalty.overdrawl" not in statement.billed
        assert statement.max_demand is not None and statement.max_demand["status"] == "no_penalty"
    assert_ledger_invariants(db_session)


def test_a_replaced_meters_demand_counts_only_while_it_served_the_account(db_session):
    world = make_world(db_session, penal_spec())
    consumer, meter = make_metered_consumer(db_session, world)
    # The meter served the account only from Nov 20 (a replacement): its maximum on Nov 12 was elsewhere.
    db_session.execute(
        text("UPDATE meter_installation SET installed_at = :t WHERE meter_id = :m"),
        {"t": local(2026, 11, 20).astimezone(UTC), "m": meter.id},
    )
    billing_snapshot(db_session, meter, demand_w=7_000, demand_at=local(2026, 11, 12, 19))
    assert penalty(db_session, world, consumer).outcome is PenaltyOutcome.NO_DEMAND
    assert_ledger_invariants(db_session)
