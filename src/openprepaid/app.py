"""The composition root: builds one process's parts from settings and hands them down.

Nothing in openprepaid wires itself by import side effects; commands (``cli``), the web app's
lifespan and the demo call ``build_runtime`` and pass what they need to the parts they run.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from openprepaid.bus.base import Bus
from openprepaid.bus.in_process import InProcessBus
from openprepaid.bus.jetstream import JetStreamBus
from openprepaid.keyvault import KeyVault, load_master_key
from openprepaid.settings import BusKind, Settings
from openprepaid.store import migrate
from openprepaid.store.engine import make_engine, make_session_factory


@dataclass(frozen=True)
class Runtime:
    settings: Settings
    engine: Engine
    sessions: sessionmaker[Session]
    vault: KeyVault
    bus: Bus


def build_store(settings: Settings, *, upgrade: bool = True) -> tuple[Engine, sessionmaker[Session]]:
    """Engine and session factory; in embedded mode the schema is migrated to head on start."""
    url = settings.resolved_database_url
    if upgrade:
        migrate.upgrade(url)
    engine = make_engine(url, echo=settings.sql_echo)
    return engine, make_session_factory(engine)


async def build_bus(settings: Settings) -> Bus:
    if settings.bus is BusKind.NATS:
        return await JetStreamBus.connect(settings.nats_url)
    return InProcessBus()


@contextlib.asynccontextmanager
async def runtime(settings: Settings, *, upgrade: bool = True) -> AsyncIterator[Runtime]:
    """Build every shared part, and close them in reverse order on the way out."""
    engine, sessions = build_store(settings, upgrade=upgrade)
    vault = KeyVault(load_master_key(settings))
    bus = await build_bus(settings)
    try:
        yield Runtime(settings=settings, engine=engine, sessions=sessions, vault=vault, bus=bus)
    finally:
        await bus.close()
        engine.dispose()
