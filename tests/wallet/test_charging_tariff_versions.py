"""Tariff versions: immutable, numbered, effective from a time; "the version in force at T"."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from openprepaid.store.repository import tariff as tariff_repo
from openprepaid.wallet.tariff_document import parse_tariff
from openprepaid.wallet.tariff_store import (
    NoTariffInForceError,
    TariffCatalog,
    TariffStoreError,
    UnknownTariffError,
    add_version,
    timelines,
    version_in_force,
)
from tests.wallet.test_ledger_world import ROOT, SpecRegistry, demo_spec, local, make_books

NOW = datetime(2026, 11, 24, tzinfo=UTC)


@pytest.fixture
def setting(db_session):
    books = make_books(db_session)
    registry = SpecRegistry()
    catalog = TariffCatalog(registry.parse)
    tariff_id = tariff_repo.insert_tariff(
        db_session, utility_id=books.utility.id, code="DEMO-DOM", name="d", category="domestic"
    )
    return registry, catalog, tariff_id


def add(session, setting, spec, now=NOW):
    registry, catalog, tariff_id = setting
    return add_version(session, catalog, tariff_id=tariff_id, document=registry.document(spec), created_by="t", now=now)


def test_versions_take_effect_at_their_time(db_session, setting):
    first = add(db_session, setting, demo_spec(effective_from=local(2025, 4, 1)))
    second = add(db_session, setting, demo_spec(version=2, effective_from=local(2026, 12, 1)))
    tariff_id = setting[2]
    assert version_in_force(db_session, tariff_id, local(2026, 11, 30, 23, 59)).id == first.id
    assert version_in_force(db_session, tariff_id, local(2026, 12, 1)).id == second.id
    with pytest.raises(NoTariffInForceError):
        version_in_force(db_session, tariff_id, local(2025, 3, 31))
    timeline = timelines(db_session, [tariff_id])[tariff_id]
    assert timeline.next_change_after(local(2026, 1, 1)) == local(2026, 12, 1)
    assert timeline.next_change_after(local(2026, 12, 1)) is None
    assert len(first.document_sha256) == 64


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        (lambda: demo_spec(version=3, effective_from=local(2026, 12, 1)), "next version"),
        (lambda: demo_spec(version=2, effective_from=local(2026, 11, 1)), "in the past"),
        (lambda: demo_spec(version=2, effective_from=local(2026, 12, 1), code="OTHER"), "is for tariff"),
    ],
)
def test_bad_versions_are_refused(db_session, setting, spec, message):
    add(db_session, setting, demo_spec(effective_from=local(2025, 4, 1)))
    with pytest.raises(TariffStoreError, match=message):
        add(db_session, setting, spec())


def test_same_effective_time_twice_is_refused(db_session, setting):
    add(db_session, setting, demo_spec(effective_from=local(2025, 4, 1)))
    add(db_session, setting, demo_spec(version=2, effective_from=local(2026, 12, 1)))
    with pytest.raises(TariffStoreError, match="already has"):
        add(db_session, setting, demo_spec(version=3, effective_from=local(2026, 12, 1)))


def test_unknown_tariff_and_bad_documents_are_refused(db_session, setting):
    catalog = TariffCatalog(parse_tariff)
    with pytest.raises(UnknownTariffError):
        add_version(db_session, catalog, tariff_id=999_999, document="", created_by="t", now=NOW)
    with pytest.raises(TariffStoreError, match="refused"):
        add_version(db_session, catalog, tariff_id=setting[2], document="code: [unclosed", created_by="t", now=NOW)


def test_the_demo_file_parses_and_is_cached_by_version(db_session):
    books = make_books(db_session)
    document = (ROOT / "examples" / "tariffs" / "demo-slab-tod-duty-rebate.yaml").read_text(encoding="utf-8")
    catalog = TariffCatalog(parse_tariff)
    spec = catalog.parse(document)
    tariff_id = tariff_repo.insert_tariff(
        db_session, utility_id=books.utility.id, code=spec.code, name="demo", category="domestic"
    )
    row = add_version(
        db_session, catalog, tariff_id=tariff_id, document=document, created_by="t", now=NOW + timedelta(days=1)
    )
    assert catalog.spec(row) is catalog.spec(row)
