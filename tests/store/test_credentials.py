"""Meter secrets are stored sealed: the clear text is nowhere in the database, and it opens only in place."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from openprepaid.keyvault import KeyVault, KeyVaultError, credential_context
from openprepaid.store import migrate
from openprepaid.store.engine import make_engine, make_session_factory
from openprepaid.store.model import CredentialKind
from openprepaid.store.repository.meter import UnknownCredentialError, get_credential, put_credential
from tests.store.factories import NOW, make_meter

MASTER_KEY = bytes(range(32))
EK = bytes.fromhex("000102030405060708090A0B0C0D0E0F")
LLS_PASSWORD = b"12345678"


def test_credentials_are_sealed_and_open_only_for_their_row(db_session):
    vault = KeyVault(MASTER_KEY)
    meter = make_meter(db_session)
    context = credential_context(meter.id, 48, CredentialKind.GLOBAL_ENCRYPTION_KEY.value)
    put_credential(
        db_session, meter.id, 48, CredentialKind.GLOBAL_ENCRYPTION_KEY, sealed=vault.seal(EK, context), now=NOW
    )
    put_credential(
        db_session,
        meter.id,
        32,
        CredentialKind.LLS_PASSWORD,
        sealed=vault.seal(LLS_PASSWORD, credential_context(meter.id, 32, "lls_password")),
        now=NOW,
    )

    raw_rows = db_session.execute(text("SELECT sealed FROM meter_credential")).scalars().all()
    assert len(raw_rows) == 2
    for raw in raw_rows:
        assert EK not in bytes(raw)
        assert LLS_PASSWORD not in bytes(raw)
        assert EK.hex().encode() not in bytes(raw).lower()

    sealed = get_credential(db_session, meter.id, 48, CredentialKind.GLOBAL_ENCRYPTION_KEY)
    assert vault.open(sealed, context) == EK
    # Moved to another meter's row (or another field), the value does not open.
    with pytest.raises(KeyVaultError, match="does not open"):
        vault.open(sealed, credential_context(meter.id + 1, 48, "ek"))
    with pytest.raises(KeyVaultError, match="different master key"):
        KeyVault(bytes(32)).open(sealed, context)


def test_replacing_a_credential_keeps_one_row(db_session):
    vault = KeyVault(MASTER_KEY)
    meter = make_meter(db_session)
    ctx = credential_context(meter.id, 32, "lls_password")
    put_credential(db_session, meter.id, 32, CredentialKind.LLS_PASSWORD, sealed=vault.seal(b"old", ctx), now=NOW)
    put_credential(db_session, meter.id, 32, CredentialKind.LLS_PASSWORD, sealed=vault.seal(b"new", ctx), now=NOW)
    assert vault.open(get_credential(db_session, meter.id, 32, CredentialKind.LLS_PASSWORD), ctx) == b"new"
    count = db_session.execute(text("SELECT count(*) FROM meter_credential")).scalar_one()
    assert count == 1


def test_missing_credential_is_a_clear_error(db_session):
    meter = make_meter(db_session)
    with pytest.raises(UnknownCredentialError, match="no ak for client 48"):
        get_credential(db_session, meter.id, 48, CredentialKind.AUTHENTICATION_KEY)


def test_sqlite_file_holds_no_clear_text(tmp_path):
    url = f"sqlite:///{tmp_path / 'secrets.sqlite3'}"
    migrate.upgrade(url)
    engine = make_engine(url)
    vault = KeyVault(MASTER_KEY)
    with make_session_factory(engine)() as session, session.begin():
        meter = make_meter(session)
        put_credential(
            session,
            meter.id,
            48,
            CredentialKind.GLOBAL_ENCRYPTION_KEY,
            sealed=vault.seal(EK, credential_context(meter.id, 48, "ek")),
            now=NOW,
        )
    engine.dispose()
    data = b"".join(p.read_bytes() for p in tmp_path.iterdir() if p.name.startswith("secrets.sqlite3"))
    assert b"meter_credential" in data
    assert EK not in data
