"""Shared fixtures: the database on both backends, the real PostgreSQL server, the real NATS server.

Store tests take ``db_session`` (or ``migrated_engine``) and run twice: on a SQLite file and on the
real PostgreSQL server (127.0.0.1:5432, or $OPENPREPAID_TEST_PG_URL). Without a reachable server the
PostgreSQL variants skip with the reason; with CI=true they fail instead, so CI cannot skip them.
"""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from openprepaid.store import migrate
from openprepaid.store.engine import make_engine

# Property tests share two cores with the database servers in CI: no per-example deadline, and no
# failure just because generation was slow on a loaded machine.
settings.register_profile("openprepaid", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("openprepaid")

PG_ADMIN_URL = os.environ.get("OPENPREPAID_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
NATS_URL = os.environ.get("OPENPREPAID_TEST_NATS_URL", "nats://127.0.0.1:4222")
IN_CI = os.environ.get("CI") == "true"


def unavailable(what: str, reason: str) -> None:
    """Skip on a developer's machine; fail in CI, where every service must be there."""
    message = f"{what} not available: {reason}"
    if IN_CI:
        pytest.fail(f"CI must run this test, but {message}")
    pytest.skip(message)


def _reachable(host: str, port: int) -> str | None:
    try:
        with socket.create_connection((host, port), timeout=2):
            return None
    except OSError as exc:
        return f"{host}:{port}: {exc}"


@pytest.fixture(scope="session")
def postgres_admin_url() -> str:
    url = make_url(PG_ADMIN_URL)
    problem = _reachable(url.host or "127.0.0.1", url.port or 5432)
    if problem:
        unavailable("PostgreSQL", problem)
    return PG_ADMIN_URL


def create_postgres_database(admin_url: str) -> tuple[str, Engine]:
    """A fresh, uniquely named database; returns its URL and an admin engine to drop it with."""
    name = f"openprepaid_test_{uuid.uuid4().hex[:10]}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    return make_url(admin_url).set(database=name).render_as_string(hide_password=False), admin


def drop_postgres_database(admin: Engine, url: str) -> None:
    name = make_url(url).database
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture
def postgres_url(postgres_admin_url: str) -> Iterator[str]:
    """An empty PostgreSQL database of the test's own (dropped afterwards)."""
    url, admin = create_postgres_database(postgres_admin_url)
    try:
        yield url
    finally:
        drop_postgres_database(admin, url)


def _empty_database(backend: str, tmp_dir: Path, request: pytest.FixtureRequest) -> Iterator[str]:
    if backend == "sqlite":
        yield f"sqlite:///{tmp_dir / 'test.sqlite3'}"
        return
    admin_url = request.getfixturevalue("postgres_admin_url")
    url, admin = create_postgres_database(admin_url)
    try:
        yield url
    finally:
        drop_postgres_database(admin, url)


BACKENDS = ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]


@pytest.fixture(params=BACKENDS)
def empty_database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty database per test, on each backend (for migration tests)."""
    yield from _empty_database(request.param, tmp_path, request)


@pytest.fixture(scope="session", params=BACKENDS)
def migrated_engine(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    """One migrated database per backend for the whole session; tests isolate with ``db_session``."""
    for url in _empty_database(request.param, tmp_path_factory.mktemp("db"), request):
        migrate.upgrade(url)
        engine = make_engine(url)
        try:
            yield engine
        finally:
            engine.dispose()


@pytest.fixture
def db_session(migrated_engine: Engine) -> Iterator[Session]:
    """A session inside an outer transaction that is rolled back: each test sees a clean database."""
    connection = migrated_engine.connect()
    outer = connection.begin()
    session = Session(bind=connection, join_transaction_mode="create_savepoint", expire_on_commit=False)
    try:
        yield session
    finally:
        session.close()
        if outer.is_active:
            outer.rollback()
        connection.close()


@pytest.fixture(scope="session")
def nats_url() -> str:
    host_port = NATS_URL.removeprefix("nats://")
    host, _, port = host_port.partition(":")
    problem = _reachable(host, int(port or 4222))
    if problem:
        unavailable("NATS", problem)
    return NATS_URL


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """Say how many tests ran against the real PostgreSQL server (CI must show they ran, not skipped)."""
    counts: dict[str, int] = {}
    for outcome in ("passed", "failed", "skipped", "error"):
        for report in terminalreporter.stats.get(outcome, []):
            if getattr(report, "when", "call") in {"call", "setup"} and "postgresql" in getattr(report, "nodeid", ""):
                if outcome == "passed" and report.when != "call":
                    continue
                counts[outcome] = counts.get(outcome, 0) + 1
    if counts:
        summary = ", ".join(f"{count} {outcome}" for outcome, count in sorted(counts.items()))
        terminalreporter.write_line(f"PostgreSQL variants (real server): {summary}")
