"""Interop tests need the peer environment; without network to the package index they skip (fail in CI)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.interop.peer_env import PeerUnavailableError, peer_python


@pytest.fixture(scope="session")
def peers() -> Path:
    try:
        return peer_python()
    except PeerUnavailableError as exc:
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI must run the interop tests: {exc}")
        pytest.skip(f"test peers unavailable: {exc}")
