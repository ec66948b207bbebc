"""The master key: generated once in embedded mode, required in production; sealing is authenticated."""

from __future__ import annotations

import base64
import stat

import pytest

from openprepaid.keyvault import (
    KeyVault,
    KeyVaultError,
    MasterKeyRequiredError,
    generate_master_key,
    load_master_key,
    parse_master_key,
)
from openprepaid.settings import Mode, Settings


def test_embedded_mode_generates_the_key_once_with_private_permissions(tmp_path):
    settings = Settings(data_dir=tmp_path / "data")
    first = load_master_key(settings)
    second = load_master_key(settings)
    assert first == second and len(first) == 32
    mode = (tmp_path / "data" / "master.key").stat().st_mode
    assert stat.S_IMODE(mode) == 0o600


def test_production_requires_a_configured_key(tmp_path):
    with pytest.raises(MasterKeyRequiredError, match="OPENPREPAID_MASTER_KEY"):
        load_master_key(Settings(data_dir=tmp_path, mode=Mode.PRODUCTION))
    key = generate_master_key()
    settings = Settings(data_dir=tmp_path, mode=Mode.PRODUCTION, master_key=key)
    assert load_master_key(settings) == base64.b64decode(key)
    assert not (tmp_path / "master.key").exists()


@pytest.mark.parametrize("text", ["not base64!", base64.b64encode(b"short").decode(), ""])
def test_malformed_keys_are_refused(text):
    with pytest.raises(KeyVaultError):
        parse_master_key(text)


def test_tampering_is_detected():
    vault = KeyVault(bytes(32))
    sealed = bytearray(vault.seal(b"secret", "ctx"))
    sealed[-1] ^= 1
    with pytest.raises(KeyVaultError, match="does not open"):
        vault.open(bytes(sealed), "ctx")
    with pytest.raises(KeyVaultError, match="not a sealed value"):
        vault.open(b"op1", "ctx")


def test_two_seals_of_one_secret_differ():
    vault = KeyVault(bytes(32))
    assert vault.seal(b"secret", "ctx") != vault.seal(b"secret", "ctx")
