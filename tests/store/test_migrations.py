"""Migrations create the schema from empty, round-trip down and up, and match the models exactly."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect

from openprepaid.store import migrate
from openprepaid.store.engine import make_engine
from openprepaid.store.model import Base

DOMAIN_TABLES = {
    "utility",
    "supply_node",
    "consumer",
    "consumer_contact",
    "account",
    "meter_type",
    "meter",
    "meter_credential",
    "meter_installation",
    "invocation_counter",
    "tariff",
    "tariff_version",
    "ledger_account",
    "ledger_transaction",
    "posting",
    "reading_block",
    "reading_daily",
    "reading_billing",
    "reading_instant",
    "meter_event",
    "outage",
    "alert",
    "command",
    "payment",
}


def _tables(url: str) -> set[str]:
    engine = make_engine(url)
    try:
        return set(inspect(engine).get_table_names()) - {"alembic_version"}
    finally:
        engine.dispose()


def test_upgrade_from_empty_creates_every_domain_table(empty_database_url):
    migrate.upgrade(empty_database_url)
    assert _tables(empty_database_url) >= DOMAIN_TABLES
    engine = make_engine(empty_database_url)
    assert migrate.current_revision(engine) == migrate.head_revision()
    engine.dispose()


def test_downgrade_to_base_and_upgrade_again(empty_database_url):
    migrate.upgrade(empty_database_url)
    migrate.downgrade(empty_database_url, "base")
    assert _tables(empty_database_url) == set()
    migrate.upgrade(empty_database_url)
    assert _tables(empty_database_url) >= DOMAIN_TABLES


def test_upgrade_is_idempotent(empty_database_url):
    migrate.upgrade(empty_database_url)
    migrate.upgrade(empty_database_url)
    assert _tables(empty_database_url) >= DOMAIN_TABLES


def test_models_and_migrations_agree(empty_database_url):
    """A model change without a migration (or the reverse) fails here, on both backends."""
    migrate.upgrade(empty_database_url)
    engine = make_engine(empty_database_url)
    try:
        with engine.connect() as connection:
            context = MigrationContext.configure(connection, opts={"compare_type": False})
            differences = compare_metadata(context, Base.metadata)
    finally:
        engine.dispose()
    assert differences == []
