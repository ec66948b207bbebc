"""Unbilled exposure (days and intervals without data) and the enforcement-gap balance query."""

from __future__ import annotations

from datetime import UTC, date, timedelta

from openprepaid.store.model import AccountStatus, DailyReading
from openprepaid.wallet.adjustment import adjust
from openprepaid.wallet.charging import ChargingPolicy, MeterIntervals, charge_intervals
from openprepaid.wallet.enforcement import accounts_below
from openprepaid.wallet.exposure import unbilled_exposure
from openprepaid.wallet.trueup import TrueUpPolicy, true_up_day
from tests.wallet.test_ledger_world import NOW, day_of_intervals, local, make_metered_consumer, make_world


def test_exposure_counts_missing_intervals_and_silent_days(db_session):
    world = make_world(db_session)
    consumer, meter = make_metered_consumer(db_session, world)
    quiet, _ = make_metered_consumer(db_session, world)
    batch = [
        MeterIntervals(meter.id, 900, day_of_intervals(local(2026, 11, 3), 100)[:90]),
        MeterIntervals(meter.id, 900, day_of_intervals(local(2026, 11, 4), 100)),
    ]
    charge_intervals(db_session, batch, catalog=world.catalog, policy=ChargingPolicy(), now=NOW)
    exposure = unbilled_exposure(
        db_session, account_ids=[consumer.account.id, quiet.account.id], first=date(2026, 11, 3), last=date(2026, 11, 5)
    )
    mine = exposure[consumer.account.id]
    assert [(d.local_date.day, d.intervals_missing) for d in mine.days] == [(3, 6), (5, 96)]
    assert (mine.intervals_missing, mine.days_without_data, mine.estimated_unbilled_wh) == (102, 1, 10_200)
    assert mine.last_interval_end_at == local(2026, 11, 5).astimezone(UTC)
    assert exposure[quiet.account.id].intervals_missing == 3 * 96
    # The register trues up Nov 3: what is missing there is billed, no longer exposure.
    for offset, value in ((0, 0), (1, 9_600)):
        db_session.add(
            DailyReading(
                meter_id=meter.id,
                captured_at=(local(2026, 11, 3) + timedelta(days=offset)).astimezone(UTC),
                import_wh_total=value,
                received_at=NOW,
            )
        )
    db_session.flush()
    true_up_day(
        db_session,
        meter_id=meter.id,
        local_date=date(2026, 11, 3),
        catalog=world.catalog,
        policy=TrueUpPolicy(),
        now=NOW,
    )
    after = unbilled_exposure(
        db_session, account_ids=[consumer.account.id], first=date(2026, 11, 3), last=date(2026, 11, 5)
    )[consumer.account.id]
    assert [d.local_date.day for d in after.days] == [5]


def test_accounts_below_zero_pages_by_account_id(db_session):
    world = make_world(db_session)
    consumers = [make_metered_consumer(db_session, world)[0] for _ in range(4)]
    for index, (consumer, amount) in enumerate(zip(consumers, (-500, 700, -1, 0), strict=True)):
        if amount:
            adjust(
                db_session,
                account_id=consumer.account.id,
                amount_paise=amount,
                reason="test",
                actor="t",
                reference=f"E{index}",
                effective_at=NOW,
                now=NOW,
            )
    consumers[0].account.protected = True
    db_session.flush()
    below = accounts_below(db_session, utility_id=world.books.utility.id)
    assert [(row.account_id, row.balance_paise, row.protected) for row in below] == [
        (consumers[0].account.id, -500, True),
        (consumers[2].account.id, -1, False),
    ]
    first_page = accounts_below(db_session, utility_id=world.books.utility.id, page_size=1)
    second_page = accounts_below(
        db_session, utility_id=world.books.utility.id, page_size=1, after_account_id=first_page[-1].account_id
    )
    assert [r.account_id for r in first_page + second_page] == [r.account_id for r in below]
    assert [
        r.account_id for r in accounts_below(db_session, utility_id=world.books.utility.id, threshold_paise=100)
    ] == [consumers[0].account.id, consumers[2].account.id, consumers[3].account.id]
    consumers[2].account.status = AccountStatus.CLOSED
    db_session.flush()
    assert [r.account_id for r in accounts_below(db_session, utility_id=world.books.utility.id)] == [
        consumers[0].account.id
    ]
