"""Monthly reconciliation against the tariff's exact month bill, final bill and refund."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import text

from openprepaid.store.model import AccountStatus, SettlementKind
from openprepaid.wallet import ledger
from openprepaid.wallet.account_books import record_opening_arrears, record_security_deposit
from openprepaid.wallet.charging import ChargingPolicy, MeterIntervals, charge_intervals
from openprepaid.wallet.chart_of_accounts import ConsumerLedger, UtilityLedger
from openprepaid.wallet.closure import ClosureError, close_account
from openprepaid.wallet.fixed_charge import charge_daily_fixed
from openprepaid.wallet.recharge import RechargePolicy, RechargeRequest, recharge
from openprepaid.wallet.settlement import SettlementError, settle_month
from openprepaid.wallet.tariff import (
    EnergyCharge,
    LoadBand,
    MinimumCharge,
    MonthlyAmount,
    Slab,
    SlabMode,
    TariffSpec,
    month_bill,
)
from tests.wallet.test_charging import component_totals
from tests.wallet.test_ledger_world import (
    IST,
    NOW,
    assert_ledger_invariants,
    day_of_intervals,
    demo_spec,
    local,
    make_metered_consumer,
    make_world,
    wallet_balance,
)

NOVEMBER = date(2026, 11, 1)
AFTER_NOVEMBER = datetime(2026, 12, 2, tzinfo=UTC)


def charge_days(session, world, meter, days, wh=lambda i: 80 + (i * 37) % 90, fixed=True):
    for day in days:
        start = local(2026, 11, day)
        charge_intervals(
            session,
            [MeterIntervals(meter.id, 900, day_of_intervals(start, wh))],
            catalog=world.catalog,
            policy=ChargingPolicy(),
            now=NOW,
        )
        if fixed:
            charge_daily_fixed(
                session, utility_id=world.books.utility.id, local_date=start.date(), catalog=world.catalog, now=NOW
            )


def settled_totals(session, account_id):
    """Per component: the month's daily deductions plus the settlement's difference."""
    totals = component_totals(session, account_id)
    rows = session.execute(
        text(
            "SELECT p.component, -sum(p.amount_paise) FROM posting p JOIN ledger_transaction t ON t.id = "
            "p.ledger_transaction_id WHERE t.account_id = :a AND t.kind = 'settlement' AND p.component <> 'total' "
            "GROUP BY p.component"
        ),
        {"a": account_id},
    )
    for component, amount in rows:
        totals[component] = totals.get(component, 0) + int(amount)
    return {c: a for c, a in totals.items() if a}


def test_settlement_makes_the_month_equal_the_exact_bill(db_session):
    world = make_world(db_session)
    consumer, meter = make_metered_consumer(db_session, world)
    charge_days(db_session, world, meter, range(1, 31))
    before = wallet_balance(db_session, consumer)
    statement = settle_month(
        db_session, account_id=consumer.account.id, month_date=NOVEMBER, catalog=world.catalog, now=AFTER_NOVEMBER
    )
    zones = dict(
        db_session.execute(
            text("SELECT tod_zone, billed_energy_wh FROM usage_month WHERE account_id = :a"), {"a": consumer.account.id}
        ).all()
    )
    exact = month_bill(
        demo_spec(),
        month_wh=sum(zones.values()),
        sanctioned_load_w=3000,
        days_in_month=30,
        zone_wh={z: wh for z, wh in zones.items() if z},
    )
    assert statement.billed == {line.component: line.amount_paise for line in exact.lines}
    assert settled_totals(db_session, consumer.account.id) == statement.billed
    assert statement.billed_paise == exact.total_paise
    assert wallet_balance(db_session, consumer) == before - statement.difference_paise
    assert abs(statement.difference_paise) < 200  # daily rounding and per-group ToD: paise, not rupees
    again = settle_month(
        db_session,
        account_id=consumer.account.id,
        month_date=NOVEMBER,
        catalog=world.catalog,
        now=AFTER_NOVEMBER + timedelta(days=1),
    )
    assert again.replayed and again.difference_paise == statement.difference_paise
    assert wallet_balance(db_session, consumer) == before - statement.difference_paise
    assert_ledger_invariants(db_session)


def test_missed_fixed_charge_days_are_debited_at_settlement(db_session):
    world = make_world(db_session)
    consumer, meter = make_metered_consumer(db_session, world)
    charge_days(db_session, world, meter, range(1, 26))  # the daily job did not run on Nov 26-30
    charge_days(db_session, world, meter, range(26, 31), fixed=False)
    statement = settle_month(
        db_session, account_id=consumer.account.id, month_date=NOVEMBER, catalog=world.catalog, now=AFTER_NOVEMBER
    )
    fixed_diff = statement.billed["fixed.load"] - statement.charged["fixed.load"]
    assert fixed_diff == 5 * 500  # five days of ₹5.00
    assert settled_totals(db_session, consumer.account.id) == statement.billed
    assert_ledger_invariants(db_session)


def test_minimum_charge_comes_in_at_settlement(db_session):
    """Haryana domestic (HERC 2015): minimum monthly charge ₹120/kW for loads up to 2 kW."""
    spec = TariffSpec(
        code="HERC-MIN",
        name="Haryana minimum",
        category="domestic",
        version=1,
        effective_from=datetime(2015, 4, 1, tzinfo=IST),
        energy=EnergyCharge.single(SlabMode.TELESCOPIC, (Slab(Decimal("2.70"), Decimal(50)), Slab(Decimal("4.50")))),
        minimum=MinimumCharge(MonthlyAmount(per_kw_bands=(LoadBand(Decimal(120)),))),
    )
    world = make_world(db_session, spec)
    consumer, meter = make_metered_consumer(db_session, world, sanctioned_load_w=2000)
    charge_days(db_session, world, meter, [3], wh=10)  # 0.96 kWh in the month
    statement = settle_month(
        db_session, account_id=consumer.account.id, month_date=NOVEMBER, catalog=world.catalog, now=AFTER_NOVEMBER
    )
    assert statement.billed_paise == 24_000  # ₹120 × 2 kW
    assert statement.billed["minimum.monthly"] == 24_000 - 259
    assert wallet_balance(db_session, consumer) == -24_000
    assert_ledger_invariants(db_session)


def test_open_month_is_not_settled_and_a_mid_month_tariff_change_is_billed_by_version(db_session):
    world = make_world(db_session, demo_spec(), demo_spec(version=2, effective_from=local(2026, 11, 15), slab1="3.20"))
    consumer, meter = make_metered_consumer(db_session, world)
    charge_days(db_session, world, meter, [10, 20])
    with pytest.raises(SettlementError, match="not over"):
        settle_month(
            db_session,
            account_id=consumer.account.id,
            month_date=NOVEMBER,
            catalog=world.catalog,
            now=datetime(2026, 11, 30, tzinfo=UTC),
        )
    before = wallet_balance(db_session, consumer)
    statement = settle_month(
        db_session, account_id=consumer.account.id, month_date=NOVEMBER, catalog=world.catalog, now=AFTER_NOVEMBER
    )
    # Reconciled as per-version parts (tests/wallet/test_settlement_versions.py): the month's other days'
    # fixed charge was never charged here, so the difference is debited.
    assert statement.multi_version and [part["version"] for part in statement.versions] == [1, 2]
    assert statement.difference_paise == statement.billed_paise - statement.charged_paise > 0
    assert wallet_balance(db_session, consumer) == before - statement.difference_paise


def test_final_bill_refunds_wallet_and_deposit_after_arrears(db_session):
    world = make_world(db_session)
    consumer, meter = make_metered_consumer(db_session, world)
    account_id = consumer.account.id
    record_opening_arrears(db_session, account_id=account_id, amount_paise=30_000, effective_at=NOW, actor="t", now=NOW)
    record_security_deposit(
        db_session,
        account_id=account_id,
        payment_ref="DEP-9",
        amount_paise=100_000,
        received_at=NOW,
        actor="t",
        now=NOW,
    )
    recharge(
        db_session, RechargeRequest(account_id, "PAY-F", 50_000, "api", NOW, "t"), policy=RechargePolicy(), now=NOW
    )
    charge_days(db_session, world, meter, range(1, 11))
    closed_at = local(2026, 11, 10, 18, 0)
    wallet_before = wallet_balance(db_session, consumer)
    final = close_account(
        db_session, account_id=account_id, closed_at=closed_at, catalog=world.catalog, actor="operator:5", now=NOW
    )
    assert final.statement.kind is SettlementKind.FINAL
    wallet_after_settlement = wallet_before - final.statement.difference_paise
    assert final.deposit_applied_paise == 100_000
    assert final.arrears_recovered_paise == 30_000
    assert final.refund_paise == wallet_after_settlement + 100_000 - 30_000
    assert final.carried_to_arrears_paise == 0
    for code in (ConsumerLedger.PREPAID_WALLET, ConsumerLedger.SECURITY_DEPOSIT, ConsumerLedger.ARREARS):
        assert ledger.balance_paise(db_session, consumer.ledgers[code]) == 0
    refunds = ledger.balance_paise(db_session, world.books.ledgers[UtilityLedger.REFUNDS_PAYABLE])
    assert refunds == -final.refund_paise
    db_session.refresh(consumer.account)
    assert consumer.account.status is AccountStatus.CLOSED
    replay = close_account(
        db_session, account_id=account_id, closed_at=closed_at, catalog=world.catalog, actor="operator:5", now=NOW
    )
    assert (replay.refund_paise, replay.ledger_transaction_id) == (final.refund_paise, final.ledger_transaction_id)
    with pytest.raises(ClosureError, match="was closed"):
        close_account(
            db_session,
            account_id=account_id,
            closed_at=closed_at + timedelta(days=1),
            catalog=world.catalog,
            actor="operator:5",
            now=NOW,
        )
    # The monthly job later finds the month settled by the final bill.
    monthly = settle_month(
        db_session, account_id=account_id, month_date=NOVEMBER, catalog=world.catalog, now=AFTER_NOVEMBER
    )
    assert monthly.replayed and monthly.kind is SettlementKind.FINAL
    assert_ledger_invariants(db_session)


def test_final_bill_carries_a_debt_to_arrears(db_session):
    world = make_world(db_session)
    consumer, meter = make_metered_consumer(db_session, world)
    charge_days(db_session, world, meter, range(1, 6))
    final = close_account(
        db_session,
        account_id=consumer.account.id,
        closed_at=local(2026, 11, 5, 20),
        catalog=world.catalog,
        actor="operator:5",
        now=NOW,
    )
    assert final.refund_paise == 0 and final.carried_to_arrears_paise > 0
    assert wallet_balance(db_session, consumer) == 0
    assert ledger.balance_paise(db_session, consumer.arrears) == final.carried_to_arrears_paise
    assert_ledger_invariants(db_session)

