"""Migration 0008: usage_month gains the tariff version (existing rows get the version in force at the start
of their local month) and usage_day_zone appears; the downgrade sums the versions back."""

from __future__ import annotations

from datetime import date

from sqlalchemy import text
from sqlalchemy.orm import Session

from openprepaid.store import migrate
from openprepaid.store.engine import make_engine
from tests.wallet.test_ledger_world import demo_spec, local, make_metered_consumer, make_world


def test_usage_month_rows_get_the_version_in_force_at_their_month_start(empty_database_url):
    # The world is made by today's models (at head), then the schema goes back to 0007 under it.
    migrate.upgrade(empty_database_url)
    engine = make_engine(empty_database_url)
    with Session(engine, expire_on_commit=False) as session:
        world = make_world(session, demo_spec(), demo_spec(version=2, effective_from=local(2026, 12, 1)))
        consumer, _ = make_metered_consumer(session, world)
        account_id = consumer.account.id
        session.commit()
    engine.dispose()
    migrate.downgrade(empty_database_url, "0007")
    engine = make_engine(empty_database_url)
    with Session(engine, expire_on_commit=False) as session:
        for month, zone, wh in (
            (date(2026, 11, 1), "peak", 100),
            (date(2026, 11, 1), "", 500),
            (date(2026, 12, 1), "", 7),
        ):
            session.execute(
                text(
                    "INSERT INTO usage_month (account_id, month_date, tod_zone, billed_energy_wh) "
                    "VALUES (:a, :m, :z, :w)"
                ),
                {"a": account_id, "m": month, "z": zone, "w": wh},
            )
        session.commit()
        versions = dict(session.execute(text("SELECT version, id FROM tariff_version")).all())
    engine.dispose()
    migrate.upgrade(empty_database_url)
    engine = make_engine(empty_database_url)
    with engine.connect() as connection:
        rows = connection.execute(
            text("SELECT month_date, tariff_version_id, tod_zone, billed_energy_wh FROM usage_month ORDER BY 1, 3")
        ).all()
        assert connection.execute(text("SELECT count(*) FROM usage_day_zone")).scalar_one() == 0
    engine.dispose()
    assert [(str(m)[:10], v, z, w) for m, v, z, w in rows] == [
        ("2026-11-01", versions[1], "", 500),
        ("2026-11-01", versions[1], "peak", 100),
        ("2026-12-01", versions[2], "", 7),  # version 2 took effect at the start of December (IST)
    ]
    migrate.downgrade(empty_database_url, "0007")
    engine = make_engine(empty_database_url)
    with engine.connect() as connection:
        total = connection.execute(text("SELECT sum(billed_energy_wh), count(*) FROM usage_month")).one()
    engine.dispose()
    assert (int(total[0]), total[1]) == (607, 3)
