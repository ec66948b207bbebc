"""Meter secrets at rest: sealed with AES-256-GCM under the deployment's master key.

A sealed value is ``b"op1" || key_id(4) || nonce(12) || ciphertext+tag``. The associated data binds
a ciphertext to its place (e.g. ``meter:42:client:48:ek``), so a value copied to another meter or
another field does not open. Plaintext secrets exist only in memory, for the duration of a session.

The master key is 32 random bytes, given base64-encoded in ``OPENPREPAID_MASTER_KEY``. In embedded
mode, when absent, it is generated once into ``<data_dir>/master.key`` (mode 0600); production mode
refuses to start without it.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
import secrets
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from openprepaid.settings import Mode, Settings

MAGIC = b"op1"
KEY_BYTES = 32
NONCE_BYTES = 12
KEY_FILE_NAME = "master.key"


class KeyVaultError(Exception):
    """A master key is missing or malformed, or a sealed value does not open."""


class MasterKeyRequiredError(KeyVaultError):
    """Production mode without OPENPREPAID_MASTER_KEY."""


def parse_master_key(text: str) -> bytes:
    try:
        key = base64.b64decode(text.strip(), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise KeyVaultError("master key is not valid base64") from exc
    if len(key) != KEY_BYTES:
        raise KeyVaultError(f"master key must be {KEY_BYTES} bytes, got {len(key)}")
    return key


def generate_master_key() -> str:
    return base64.b64encode(secrets.token_bytes(KEY_BYTES)).decode("ascii")


def load_master_key(settings: Settings) -> bytes:
    """The configured key; in embedded mode the one in the data directory, created on first use."""
    if settings.master_key is not None:
        return parse_master_key(settings.master_key.get_secret_value())
    if settings.mode is Mode.PRODUCTION:
        raise MasterKeyRequiredError("production mode requires OPENPREPAID_MASTER_KEY (base64 of 32 bytes)")
    path = settings.data_dir / KEY_FILE_NAME
    if path.exists():
        return parse_master_key(path.read_text(encoding="ascii"))
    return parse_master_key(_create_key_file(path))


def _create_key_file(path: Path) -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    text = generate_master_key()
    # O_EXCL: two processes starting at once must not each write a different key.
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text(encoding="ascii")
    with os.fdopen(fd, "w", encoding="ascii") as handle:
        handle.write(text + "\n")
    return text


class KeyVault:
    """Seals and opens small secrets (passwords, AES keys) under one master key."""

    def __init__(self, master_key: bytes) -> None:
        if len(master_key) != KEY_BYTES:
            raise KeyVaultError(f"master key must be {KEY_BYTES} bytes")
        self._aead = AESGCM(master_key)
        self.key_id = hashlib.sha256(b"openprepaid-key-id" + master_key).digest()[:4]

    def seal(self, plaintext: bytes, context: str) -> bytes:
        nonce = secrets.token_bytes(NONCE_BYTES)
        sealed = self._aead.encrypt(nonce, plaintext, context.encode("utf-8"))
        return MAGIC + self.key_id + nonce + sealed

    def open(self, sealed: bytes, context: str) -> bytes:
        header = len(MAGIC) + len(self.key_id)
        if len(sealed) < header + NONCE_BYTES + 16 or not sealed.startswith(MAGIC):
            raise KeyVaultError("not a sealed value")
        if sealed[len(MAGIC) : header] != self.key_id:
            raise KeyVaultError("sealed under a different master key")
        nonce = sealed[header : header + NONCE_BYTES]
        try:
            return self._aead.decrypt(nonce, sealed[header + NONCE_BYTES :], context.encode("utf-8"))
        except InvalidTag as exc:
            raise KeyVaultError(f"sealed value does not open for {context!r} (tampered or moved)") from exc


def credential_context(meter_id: int, client_sap: int, kind: str) -> str:
    """The associated data that binds a meter credential to its row."""
    return f"meter:{meter_id}:client:{client_sap}:{kind}"
