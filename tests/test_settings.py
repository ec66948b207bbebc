"""Settings: precedence (arguments > environment > config file > defaults), validation, documentation."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from pydantic import ValidationError

from openprepaid.settings import BusKind, ConfigFileError, Mode, Settings, load_settings

DOCS = Path(__file__).resolve().parents[1] / "docs" / "configuration.md"


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch):
    for name in list(__import__("os").environ):
        if name.startswith("OPENPREPAID_"):
            monkeypatch.delenv(name)


def test_defaults_are_embedded_sqlite_in_data_dir():
    settings = Settings()
    assert settings.mode is Mode.EMBEDDED
    assert settings.bus is BusKind.IN_PROCESS
    assert settings.timezone == "Asia/Kolkata"
    assert settings.resolved_database_url.startswith("sqlite:///")
    assert settings.resolved_database_url.endswith("data/openprepaid.sqlite3")


def test_config_file_then_environment_then_arguments(tmp_path, monkeypatch):
    config = tmp_path / "openprepaid.toml"
    config.write_text('[openprepaid]\ntimezone = "Asia/Dubai"\nlog-level = "debug"\ndata_dir = "/srv/op"\n')
    settings = load_settings(config)
    assert (settings.timezone, settings.log_level, settings.data_dir) == ("Asia/Dubai", "DEBUG", Path("/srv/op"))
    monkeypatch.setenv("OPENPREPAID_TIMEZONE", "UTC")
    assert load_settings(config).timezone == "UTC"
    assert load_settings(config, data_dir=Path("/x")).data_dir == Path("/x")


def test_config_file_named_by_environment(tmp_path, monkeypatch):
    config = tmp_path / "c.toml"
    config.write_text('mode = "production"\n')
    monkeypatch.setenv("OPENPREPAID_CONFIG", str(config))
    assert Settings().mode is Mode.PRODUCTION


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("timezone = 'Mars/Olympus'", "unknown time zone"),
        ("log_level = 'LOUD'", "unknown log level"),
        ("no_such_setting = 1", "Extra inputs are not permitted"),
        ("mode = 'cluster'", "Input should be"),
    ],
)
def test_bad_values_are_refused_with_the_reason(tmp_path, content, message):
    config = tmp_path / "c.toml"
    config.write_text(content + "\n")
    with pytest.raises(ValidationError, match=message):
        load_settings(config)


def test_unreadable_config_file(tmp_path):
    with pytest.raises(ConfigFileError, match="does not exist"):
        load_settings(tmp_path / "missing.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("this is = = not toml")
    with pytest.raises(ConfigFileError, match="not readable TOML"):
        load_settings(bad)


def test_every_setting_is_documented():
    documented = set(re.findall(r"^\| `OPENPREPAID_([A-Z_]+)` \|", DOCS.read_text(), flags=re.MULTILINE))
    fields = {name.upper() for name in Settings.model_fields}
    assert fields <= documented, f"undocumented settings: {sorted(fields - documented)}"
    assert documented - {"CONFIG"} <= fields, f"documented but unknown: {sorted(documented - fields - {'CONFIG'})}"


def test_prepaid_rules_and_recharge_policy_come_from_the_settings(tmp_path):
    from decimal import Decimal  # noqa: PLC0415

    from openprepaid.app import prepaid_rules, recharge_policy  # noqa: PLC0415

    assert prepaid_rules(Settings(timezone="Asia/Dubai")).zone == "Asia/Dubai"  # the built-in rules
    rules = tmp_path / "rules.yaml"
    rules.write_text("emergency_credit: {days: 5}\n", encoding="utf-8")
    configured = prepaid_rules(Settings(rules_file=rules, timezone="Asia/Dubai"))
    assert configured.emergency_credit.days == 5 and configured.zone == "Asia/Dubai"  # the zone defaults
    rules.write_text("zone: Asia/Kolkata\n", encoding="utf-8")
    assert prepaid_rules(Settings(rules_file=rules, timezone="Asia/Dubai")).zone == "Asia/Kolkata"
    for broken in ("emergency_credit: [", "unknown_section: {}\n", "- a list\n"):
        rules.write_text(broken, encoding="utf-8")
        with pytest.raises(ConfigFileError, match="rules file"):
            prepaid_rules(Settings(rules_file=rules))
    with pytest.raises(ConfigFileError, match="rules file"):
        prepaid_rules(Settings(rules_file=tmp_path / "missing.yaml"))

    policy = recharge_policy(Settings(recharge_multiple_of_paise=100, arrears_recovery_percent=Decimal("12.5")))
    assert (policy.minimum_paise, policy.multiple_of_paise, policy.arrears_recovery_percent) == (
        100, 100, Decimal("12.5"))
    for bad in ({"recharge_minimum_paise": 0}, {"arrears_recovery_percent": 101},
                {"recharge_minimum_paise": 500, "recharge_maximum_paise": 100}):
        with pytest.raises(ValueError):  # pydantic's ValidationError is a ValueError
            Settings(**bad)
