"""The prepaid rules' settings: one ``RulesConfig`` per utility, with per-category overrides.

Every number is a setting whose default is the published rule quoted in domain.md §2 (sources in
docs/prepaid-rules.md): low-balance notices at 30 %, 10 % and 0 % of the last recharge; emergency
credit of 3 days once the balance is ≤ ₹0; the no-disconnection calendar (calendar_config.py);
reconnection when the balance is above ₹0 (or optionally once a % of the dues is paid); protected
categories; and a kill switch that stops every automatic disconnection (domain.md §3).

All classes are frozen and validated when built: a bad value raises ``InvalidConfigError`` naming
the field. Money is integer paise; percentages and day counts are ``Decimal`` (ints accepted).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from types import MappingProxyType
from typing import TypeVar

from openprepaid.wallet.money import Paise
from openprepaid.wallet.rules.calendar_config import DisconnectionCalendar
from openprepaid.wallet.rules.calendar_search import DEFAULT_HORIZON_DAYS, resolve_zone
from openprepaid.wallet.rules.errors import InvalidConfigError
from openprepaid.wallet.rules.validation import require_decimal, require_int, require_percent

_T = TypeVar("_T")
_ZERO_PAISE = Paise(0)

DEFAULT_ZONE = "Asia/Kolkata"
DEFAULT_PROTECTED_CATEGORIES = frozenset({"lifeline", "hospital", "government", "vip"})


def _sequence(field_name: str, value: object) -> tuple[object, ...]:
    if isinstance(value, str | bytes) or not isinstance(value, Iterable):
        raise InvalidConfigError(f"{field_name}: expected a sequence, got {value!r}")
    return tuple(value)


def _distinct(field_name: str, values: tuple[_T, ...]) -> tuple[_T, ...]:
    if len(set(values)) != len(values):
        raise InvalidConfigError(f"{field_name}: the same threshold is listed twice")
    return values


@dataclass(frozen=True)
class NoticeConfig:
    """Low-balance notice thresholds; each notice is sent once per downward crossing.

    * ``percent_of_last_recharge``: fire when the balance falls to or below that % of the last
      recharge amount (default 30, 10, 0);
    * ``amounts_paise``: fire at fixed balances (default none);
    * ``days_of_credit_left``: fire when balance / average daily spend falls to or below that many
      days (default none; needs the average daily spend among the facts).
    """

    percent_of_last_recharge: tuple[Decimal, ...] = (Decimal(30), Decimal(10), Decimal(0))
    amounts_paise: tuple[Paise, ...] = ()
    days_of_credit_left: tuple[Decimal, ...] = ()

    def __post_init__(self) -> None:
        percents = tuple(
            require_percent("notices.percent_of_last_recharge", value)
            for value in _sequence("notices.percent_of_last_recharge", self.percent_of_last_recharge)
        )
        amounts = tuple(
            Paise(require_int("notices.amounts_paise", value))
            for value in _sequence("notices.amounts_paise", self.amounts_paise)
        )
        days = tuple(
            require_decimal(
                "notices.days_of_credit_left", value, low=Decimal(0), high=Decimal(366), low_inclusive=False
            )
            for value in _sequence("notices.days_of_credit_left", self.days_of_credit_left)
        )
        object.__setattr__(self, "percent_of_last_recharge", _distinct("notices.percent_of_last_recharge", percents))
        object.__setattr__(self, "amounts_paise", _distinct("notices.amounts_paise", amounts))
        object.__setattr__(self, "days_of_credit_left", _distinct("notices.days_of_credit_left", days))


@dataclass(frozen=True)
class EmergencyCreditConfig:
    """Emergency credit granted when the balance falls to or below ``starts_at_or_below_paise``.

    It lasts ``days`` (default 3, counted as 24-hour days from the start) and/or ``amount_paise``
    of further consumption below the balance it started at; whichever ends first. With both
    ``None`` there is no emergency credit: disconnection is due as soon as the balance is ≤ ₹0.
    """

    starts_at_or_below_paise: Paise = _ZERO_PAISE
    days: int | None = 3
    amount_paise: Paise | None = None

    def __post_init__(self) -> None:
        require_int("emergency_credit.starts_at_or_below_paise", self.starts_at_or_below_paise)
        if self.days is not None:
            require_int("emergency_credit.days", self.days, low=0, high=365)
        if self.amount_paise is not None:
            require_int("emergency_credit.amount_paise", self.amount_paise, low=0)

    @property
    def enabled(self) -> bool:
        return self.days is not None or self.amount_paise is not None


@dataclass(frozen=True)
class ReconnectConfig:
    """When an account disconnected by these rules is reconnected automatically.

    Reconnect when the balance rises above ``balance_above_paise`` (default ₹0), or — when
    ``dues_paid_percent`` is set (e.g. 50) — when a recharge made after the disconnection paid at
    least that % of the dues (the negative balance just before that recharge).
    """

    balance_above_paise: Paise = _ZERO_PAISE
    dues_paid_percent: Decimal | None = None

    def __post_init__(self) -> None:
        require_int("reconnect.balance_above_paise", self.balance_above_paise)
        if self.dues_paid_percent is not None:
            percent = require_percent("reconnect.dues_paid_percent", self.dues_paid_percent, allow_zero=False)
            object.__setattr__(self, "dues_paid_percent", percent)


@dataclass(frozen=True)
class ProtectionConfig:
    """Consumers never disconnected automatically: by category, or by small sanctioned load.

    ``protect_sanctioned_load_w_at_most`` (default off) protects every account whose sanctioned
    load is at most that many watts (1000 gives the "≤ 1 kW lifeline" rule). Per-account
    protection (a court order, a life-support case) is a fact of the account, not configuration.
    """

    protected_categories: frozenset[str] = DEFAULT_PROTECTED_CATEGORIES
    protect_sanctioned_load_w_at_most: int | None = None

    def __post_init__(self) -> None:
        categories = _sequence("protection.protected_categories", self.protected_categories)
        for category in categories:
            if not isinstance(category, str) or not category:
                raise InvalidConfigError(f"protection.protected_categories: expected names, got {category!r}")
        object.__setattr__(self, "protected_categories", frozenset(str(c) for c in categories))
        if self.protect_sanctioned_load_w_at_most is not None:
            require_int("protection.protect_sanctioned_load_w_at_most", self.protect_sanctioned_load_w_at_most, low=0)


@dataclass(frozen=True)
class CategoryOverride:
    """Sections that replace the utility's ones for one consumer category (``None`` keeps them)."""

    notices: NoticeConfig | None = None
    emergency_credit: EmergencyCreditConfig | None = None
    calendar: DisconnectionCalendar | None = None
    reconnect: ReconnectConfig | None = None

    def __post_init__(self) -> None:
        for name, kind in (
            ("notices", NoticeConfig),
            ("emergency_credit", EmergencyCreditConfig),
            ("calendar", DisconnectionCalendar),
            ("reconnect", ReconnectConfig),
        ):
            value = getattr(self, name)
            if value is not None and not isinstance(value, kind):
                raise InvalidConfigError(f"category override {name}: expected {kind.__name__}, got {value!r}")


@dataclass(frozen=True)
class CategoryRules:
    """The resolved rules for one consumer category (utility settings + that category's override)."""

    category: str
    zone: str
    notices: NoticeConfig
    emergency_credit: EmergencyCreditConfig
    calendar: DisconnectionCalendar
    reconnect: ReconnectConfig
    category_protected: bool


@dataclass(frozen=True)
class RulesConfig:
    """One utility's prepaid rules; ``for_category`` resolves the overrides for a consumer category."""

    utility: str = "default"
    zone: str = DEFAULT_ZONE
    notices: NoticeConfig = field(default_factory=NoticeConfig)
    emergency_credit: EmergencyCreditConfig = field(default_factory=EmergencyCreditConfig)
    calendar: DisconnectionCalendar = field(default_factory=DisconnectionCalendar)
    reconnect: ReconnectConfig = field(default_factory=ReconnectConfig)
    protection: ProtectionConfig = field(default_factory=ProtectionConfig)
    category_overrides: Mapping[str, CategoryOverride] = field(default_factory=dict)
    kill_switch_engaged: bool = False
    calendar_horizon_days: int = DEFAULT_HORIZON_DAYS

    def __post_init__(self) -> None:
        if not isinstance(self.utility, str) or not self.utility:
            raise InvalidConfigError(f"utility: expected a name, got {self.utility!r}")
        resolve_zone(self.zone)
        for name, kind in (
            ("notices", NoticeConfig),
            ("emergency_credit", EmergencyCreditConfig),
            ("calendar", DisconnectionCalendar),
            ("reconnect", ReconnectConfig),
            ("protection", ProtectionConfig),
        ):
            if not isinstance(getattr(self, name), kind):
                raise InvalidConfigError(f"{name}: expected {kind.__name__}, got {getattr(self, name)!r}")
        if not isinstance(self.category_overrides, Mapping):
            raise InvalidConfigError("category_overrides: expected a mapping of category -> CategoryOverride")
        for category, override in self.category_overrides.items():
            if not isinstance(category, str) or not category:
                raise InvalidConfigError(f"category_overrides: expected category names, got {category!r}")
            if not isinstance(override, CategoryOverride):
                raise InvalidConfigError(f"category_overrides[{category!r}]: expected CategoryOverride")
        object.__setattr__(self, "category_overrides", MappingProxyType(dict(self.category_overrides)))
        if not isinstance(self.kill_switch_engaged, bool):
            raise InvalidConfigError(f"kill_switch_engaged: expected true/false, got {self.kill_switch_engaged!r}")
        require_int("calendar_horizon_days", self.calendar_horizon_days, low=1, high=3660)
        for category in ("", *self.category_overrides):
            rules = self.for_category(category)
            credit = rules.emergency_credit
            grants_credit = (credit.days or 0) > 0 or (credit.amount_paise or 0) > 0
            if rules.reconnect.dues_paid_percent is not None and not grants_credit:
                where = f"category {category!r}" if category else "utility"
                raise InvalidConfigError(
                    f"{where}: reconnect.dues_paid_percent reconnects with a balance still ≤ ₹0, which needs "
                    "emergency credit (days or amount > 0) or the account is disconnected again at once"
                )

    def for_category(self, category: str) -> CategoryRules:
        """The rules that apply to ``category``: its override where given, else the utility's."""
        override = self.category_overrides.get(category, CategoryOverride())
        return CategoryRules(
            category=category,
            zone=self.zone,
            notices=override.notices or self.notices,
            emergency_credit=override.emergency_credit or self.emergency_credit,
            calendar=override.calendar or self.calendar,
            reconnect=override.reconnect or self.reconnect,
            category_protected=category in self.protection.protected_categories,
        )
