"""``RulesConfig`` to and from plain data (the shape of a utility's YAML/JSON settings file).

The composition root reads the file (YAML parsing stays outside this pure package) and hands the
mapping to ``rules_config_from_dict``. Unknown keys are refused (a typo must not silently fall
back to a default); windows are ``"HH:MM-HH:MM"`` text, weekdays names, dates ISO text,
percentages ints or decimal strings (never floats). A category override's section is merged
over the utility's section, so an override names only what differs. Errors are
``InvalidConfigError`` naming the path (``category_overrides.agri.calendar.blocked_windows``).

    utility: uppcl
    zone: Asia/Kolkata
    emergency_credit: {days: 3}
    calendar:
      blocked_windows: ["18:00-08:00"]
      blocked_weekdays: [sunday]
      blocked_nth_weekdays: [{weekday: saturday, n: 2}]
      public_holidays: [{date: "2026-03-04", name: Holi}]
    reconnect: {dues_paid_percent: 50}
    category_overrides:
      agriculture: {calendar: {allowed_windows: ["09:00-14:00"], blocked_windows: []}}
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import date
from decimal import Decimal
from typing import Any

from openprepaid.wallet.money import Paise
from openprepaid.wallet.rules.calendar_config import (
    DailyWindow,
    DisconnectionCalendar,
    NthWeekday,
    PublicHoliday,
    Weekday,
)
from openprepaid.wallet.rules.config import (
    CategoryOverride,
    EmergencyCreditConfig,
    NoticeConfig,
    ProtectionConfig,
    ReconnectConfig,
    RulesConfig,
)
from openprepaid.wallet.rules.errors import InvalidConfigError
from openprepaid.wallet.rules.json_record import JsonObject, JsonValue

_SECTIONS = ("notices", "emergency_credit", "calendar", "reconnect")


def _decimal_text(value: Decimal) -> JsonValue:
    return int(value) if value == value.to_integral_value() else f"{value.normalize():f}"


def _section_to_dict(name: str, section: object) -> JsonObject:
    if isinstance(section, NoticeConfig):
        return {
            "percent_of_last_recharge": [_decimal_text(p) for p in section.percent_of_last_recharge],
            "amounts_paise": [int(a) for a in section.amounts_paise],
            "days_of_credit_left": [_decimal_text(d) for d in section.days_of_credit_left],
        }
    if isinstance(section, EmergencyCreditConfig):
        return {
            "starts_at_or_below_paise": int(section.starts_at_or_below_paise),
            "days": section.days,
            "amount_paise": None if section.amount_paise is None else int(section.amount_paise),
        }
    if isinstance(section, DisconnectionCalendar):
        return {
            "blocked_windows": [w.label for w in section.blocked_windows],
            "allowed_windows": [w.label for w in section.allowed_windows],
            "blocked_weekdays": [day.name.lower() for day in sorted(section.blocked_weekdays)],
            "blocked_nth_weekdays": [
                {"weekday": rule.weekday.name.lower(), "n": rule.n} for rule in section.blocked_nth_weekdays
            ],
            "public_holidays": [{"date": h.on.isoformat(), "name": h.name} for h in section.public_holidays],
            "grace_after_conversion_days": section.grace_after_conversion_days,
        }
    if isinstance(section, ReconnectConfig):
        return {
            "balance_above_paise": int(section.balance_above_paise),
            "dues_paid_percent": None
            if section.dues_paid_percent is None
            else _decimal_text(section.dues_paid_percent),
        }
    if isinstance(section, ProtectionConfig):
        categories: list[JsonValue] = [*sorted(section.protected_categories)]
        return {
            "protected_categories": categories,
            "protect_sanctioned_load_w_at_most": section.protect_sanctioned_load_w_at_most,
        }
    raise InvalidConfigError(f"{name}: not a rules configuration section: {section!r}")


def rules_config_to_dict(config: RulesConfig) -> JsonObject:
    """The whole configuration as JSON-ready data; ``rules_config_from_dict`` reads it back equal."""
    overrides: JsonObject = {}
    for category, override in sorted(config.category_overrides.items()):
        overrides[category] = {
            name: _section_to_dict(name, getattr(override, name))
            for name in _SECTIONS
            if getattr(override, name) is not None
        }
    data: JsonObject = {"utility": config.utility, "zone": config.zone}
    for name in (*_SECTIONS, "protection"):
        data[name] = _section_to_dict(name, getattr(config, name))
    data["category_overrides"] = overrides
    data["kill_switch_engaged"] = config.kill_switch_engaged
    data["calendar_horizon_days"] = config.calendar_horizon_days
    return data


def _mapping(path: str, value: object) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise InvalidConfigError(f"{path}: expected a mapping, got {value!r}")
    return value


def _list(path: str, value: object) -> list[Any]:
    if not isinstance(value, list | tuple):
        raise InvalidConfigError(f"{path}: expected a list, got {value!r}")
    return list(value)


def _weekday(path: str, value: object) -> Weekday:
    if isinstance(value, str) and value.upper() in Weekday.__members__:
        return Weekday[value.upper()]
    raise InvalidConfigError(f"{path}: expected a weekday name (monday … sunday), got {value!r}")


def _window(path: str, value: object) -> DailyWindow:
    if not isinstance(value, str):
        raise InvalidConfigError(f"{path}: expected 'HH:MM-HH:MM', got {value!r}")
    return DailyWindow.parse(value)


def _nth(path: str, value: object) -> NthWeekday:
    item = _mapping(path, value)
    _only(path, item, ("weekday", "n"))
    return NthWeekday(_weekday(f"{path}.weekday", item.get("weekday")), item.get("n"))  # type: ignore[arg-type]


def _holiday(path: str, value: object) -> PublicHoliday:
    item = _mapping(path, value)
    _only(path, item, ("date", "name"))
    raw = item.get("date")
    if isinstance(raw, date):
        return PublicHoliday(raw, item.get("name", ""))
    try:
        return PublicHoliday(date.fromisoformat(raw), item.get("name", ""))  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise InvalidConfigError(f"{path}.date: expected an ISO date (YYYY-MM-DD), got {raw!r}") from None


def _only(path: str, data: Mapping[str, Any], allowed: tuple[str, ...]) -> None:
    unknown = sorted(set(data) - set(allowed))
    if unknown:
        raise InvalidConfigError(f"{path}: unknown setting(s) {', '.join(map(str, unknown))}")


def _section(name: str, path: str, data: Mapping[str, Any]) -> object:
    builders: dict[str, tuple[type, dict[str, Callable[[str, Any], Any]]]] = {
        "notices": (
            NoticeConfig,
            {
                "percent_of_last_recharge": lambda p, v: tuple(_list(p, v)),
                "amounts_paise": lambda p, v: tuple(Paise(a) for a in _list(p, v)),
                "days_of_credit_left": lambda p, v: tuple(_list(p, v)),
            },
        ),
        "emergency_credit": (
            EmergencyCreditConfig,
            {
                "starts_at_or_below_paise": lambda p, v: v,
                "days": lambda p, v: v,
                "amount_paise": lambda p, v: v,
            },
        ),
        "calendar": (
            DisconnectionCalendar,
            {
                "blocked_windows": lambda p, v: tuple(_window(f"{p}[{i}]", w) for i, w in enumerate(_list(p, v))),
                "allowed_windows": lambda p, v: tuple(_window(f"{p}[{i}]", w) for i, w in enumerate(_list(p, v))),
                "blocked_weekdays": lambda p, v: frozenset(_weekday(f"{p}[{i}]", d) for i, d in enumerate(_list(p, v))),
                "blocked_nth_weekdays": lambda p, v: tuple(_nth(f"{p}[{i}]", r) for i, r in enumerate(_list(p, v))),
                "public_holidays": lambda p, v: tuple(_holiday(f"{p}[{i}]", h) for i, h in enumerate(_list(p, v))),
                "grace_after_conversion_days": lambda p, v: v,
            },
        ),
        "reconnect": (ReconnectConfig, {"balance_above_paise": lambda p, v: v, "dues_paid_percent": lambda p, v: v}),
        "protection": (
            ProtectionConfig,
            {
                "protected_categories": lambda p, v: frozenset(_list(p, v)),
                "protect_sanctioned_load_w_at_most": lambda p, v: v,
            },
        ),
    }
    kind, fields = builders[name]
    _only(path, data, tuple(fields))
    arguments = {key: fields[key](f"{path}.{key}", value) for key, value in data.items()}
    try:
        return kind(**arguments)
    except InvalidConfigError as exc:
        raise InvalidConfigError(f"{path}: {exc}") from None


def rules_config_from_dict(data: Mapping[str, Any]) -> RulesConfig:
    """Build and validate a ``RulesConfig`` from plain data; missing keys take the published defaults."""
    root = _mapping("rules", data)
    _only(
        "rules",
        root,
        (
            "utility",
            "zone",
            *_SECTIONS,
            "protection",
            "category_overrides",
            "kill_switch_engaged",
            "calendar_horizon_days",
        ),
    )
    arguments: dict[str, Any] = {
        key: root[key] for key in ("utility", "zone", "kill_switch_engaged", "calendar_horizon_days") if key in root
    }
    for name in (*_SECTIONS, "protection"):
        if name in root:
            arguments[name] = _section(name, name, _mapping(name, root[name]))
    base = RulesConfig(**{k: v for k, v in arguments.items() if k in _SECTIONS or k == "zone"})
    overrides: dict[str, CategoryOverride] = {}
    for category, override in _mapping("category_overrides", root.get("category_overrides", {})).items():
        path = f"category_overrides.{category}"
        sections = _mapping(path, override)
        _only(path, sections, _SECTIONS)
        built = {}
        for name, section in sections.items():
            merged = {**_section_to_dict(name, getattr(base, name)), **_mapping(f"{path}.{name}", section)}
            built[name] = _section(name, f"{path}.{name}", merged)
        overrides[category] = CategoryOverride(**built)  # type: ignore[arg-type]
    return RulesConfig(**arguments, category_overrides=overrides)
