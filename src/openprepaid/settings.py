"""Process settings: environment variables (``OPENPREPAID_*``) over a TOML config file over defaults.

Every setting is documented in ``docs/configuration.md``; keep the two in step (a test checks it).
Settings are built once at the composition root (``cli`` / ``app``) and passed down, never read at
import time.
"""

from __future__ import annotations

import os
import tomllib
from decimal import Decimal
from enum import StrEnum
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

CONFIG_ENV = "OPENPREPAID_CONFIG"


class Mode(StrEnum):
    """Deployment mode (architecture.md, "Deployment modes")."""

    EMBEDDED = "embedded"
    PRODUCTION = "production"


class BusKind(StrEnum):
    IN_PROCESS = "in-process"
    NATS = "nats"


class ConfigFileError(ValueError):
    """The configuration file is missing, unreadable or not valid TOML."""


class Settings(BaseSettings):
    """All of openprepaid's settings, one flat namespace (``OPENPREPAID_<NAME>`` in the environment)."""

    model_config = SettingsConfigDict(env_prefix="OPENPREPAID_", extra="forbid", frozen=True)

    mode: Mode = Field(Mode.EMBEDDED, description="embedded (one process, SQLite) or production")
    data_dir: Path = Field(Path("data"), description="where the SQLite file and generated keys live")
    database_url: str | None = Field(
        None, description="SQLAlchemy URL; default sqlite file <data_dir>/openprepaid.sqlite3"
    )
    master_key: SecretStr | None = Field(
        None,
        description="base64 of 32 random bytes; encrypts meter secrets at rest. Generated into "
        "<data_dir>/master.key in embedded mode when absent; required in production",
    )
    timezone: str = Field("Asia/Kolkata", description="IANA zone in which the utility's rules are evaluated")
    bus: BusKind = Field(BusKind.IN_PROCESS, description="in-process or nats")
    nats_url: str = Field("nats://127.0.0.1:4222", description="NATS server when bus = nats")
    rules_file: Path | None = Field(
        None, description="prepaid rules (YAML or JSON, docs/prepaid-rules.md); default: the built-in rules"
    )
    recharge_minimum_paise: int = Field(100, ge=1, description="smallest recharge accepted, in paise")
    recharge_maximum_paise: int = Field(100_000_000, ge=1, description="largest recharge accepted, in paise")
    recharge_multiple_of_paise: int = Field(1, ge=1, description="a recharge must be a multiple of this, in paise")
    arrears_recovery_percent: Decimal = Field(
        Decimal(0), ge=0, le=100, description="share of each recharge that pays off arrears first"
    )
    log_level: str = Field("INFO", description="Python logging level name")
    sql_echo: bool = Field(False, description="log every SQL statement (debugging only)")

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r}") from exc
        return value

    @field_validator("log_level")
    @classmethod
    def _known_level(cls, value: str) -> str:
        upper = value.upper()
        if upper not in {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"}:
            raise ValueError(f"unknown log level {value!r}")
        return upper

    @model_validator(mode="after")
    def _recharge_bounds(self) -> Settings:
        if self.recharge_minimum_paise > self.recharge_maximum_paise:
            raise ValueError("recharge_minimum_paise is above recharge_maximum_paise")
        return self

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'openprepaid.sqlite3').resolve()}"

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # Precedence: explicit arguments > environment > config file > defaults.
        return (init_settings, env_settings, _TomlSource(settings_cls))


class _TomlSource(PydanticBaseSettingsSource):
    """Reads the ``[openprepaid]`` table (or the top level) of the file named by $OPENPREPAID_CONFIG."""

    def __init__(self, settings_cls: type[BaseSettings]) -> None:
        super().__init__(settings_cls)
        self._values = _read_config_file(os.environ.get(CONFIG_ENV))

    def get_field_value(self, field: Any, field_name: str) -> tuple[Any, str, bool]:
        return self._values.get(field_name), field_name, False

    def __call__(self) -> dict[str, Any]:
        return {name: value for name, value in self._values.items() if value is not None}


def _read_config_file(path_text: str | None) -> dict[str, Any]:
    if not path_text:
        return {}
    path = Path(path_text)
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise ConfigFileError(f"config file {path} does not exist") from exc
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ConfigFileError(f"config file {path} is not readable TOML: {exc}") from exc
    table = raw.get("openprepaid", raw)
    if not isinstance(table, dict):
        raise ConfigFileError(f"config file {path}: [openprepaid] must be a table")
    return {key.replace("-", "_"): value for key, value in table.items()}


def load_settings(config_file: Path | None = None, **overrides: Any) -> Settings:
    """Build settings; ``config_file`` takes the place of $OPENPREPAID_CONFIG when given."""
    if config_file is not None:
        values = _read_config_file(str(config_file))
        env_names = {name for name in Settings.model_fields if f"OPENPREPAID_{name.upper()}" in os.environ}
        merged = {k: v for k, v in values.items() if k not in env_names}
        merged.update({k: v for k, v in overrides.items() if v is not None})
        return Settings(**merged)
    return Settings(**{k: v for k, v in overrides.items() if v is not None})
