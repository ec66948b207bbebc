"""The composition root: builds one process's parts from settings and hands them down.

Nothing in openprepaid wires itself by import side effects; commands (``cli``), the web app's
lifespan and the demo call ``build_runtime`` and pass what they need to the parts they run.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from openprepaid.bus.base import Bus
from openprepaid.bus.in_process import InProcessBus
from openprepaid.bus.jetstream import JetStreamBus
from openprepaid.keyvault import KeyVault, load_master_key
from openprepaid.settings import BusKind, ConfigFileError, Settings
from openprepaid.store import migrate
from openprepaid.store.engine import make_engine, make_session_factory

if TYPE_CHECKING:
    from openprepaid.wallet.recharge import RechargePolicy
    from openprepaid.wallet.rules import RulesConfig


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


def prepaid_rules(settings: Settings) -> RulesConfig:
    """The utility's prepaid rules: ``rules_file`` (its zone defaults to ``timezone``) or the built-in rules."""
    import yaml  # noqa: PLC0415 (the wallet's parts load only for the commands that use them)

    from openprepaid.wallet.rules import InvalidConfigError, RulesConfig  # noqa: PLC0415
    from openprepaid.wallet.rules.config_codec import rules_config_from_dict  # noqa: PLC0415

    if settings.rules_file is None:
        return RulesConfig(zone=settings.timezone)
    try:
        data = yaml.safe_load(settings.rules_file.read_text(encoding="utf-8"))
        data = {} if data is None else data
        if isinstance(data, dict) and "zone" not in data:
            data = {**data, "zone": settings.timezone}
        return rules_config_from_dict(data)
    except (OSError, UnicodeDecodeError, yaml.YAMLError, InvalidConfigError) as exc:
        raise ConfigFileError(f"rules file {settings.rules_file}: {exc}") from exc


def recharge_policy(settings: Settings) -> RechargePolicy:
    """Minimum, maximum, multiple and arrears recovery of recharges, from the settings."""
    from openprepaid.wallet.recharge import RechargePolicy  # noqa: PLC0415

    return RechargePolicy(
        minimum_paise=settings.recharge_minimum_paise,
        maximum_paise=settings.recharge_maximum_paise,
        multiple_of_paise=settings.recharge_multiple_of_paise,
        arrears_recovery_percent=settings.arrears_recovery_percent,
    )
