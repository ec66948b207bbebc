"""Checks shared by the rules' configuration and facts: typed errors, never a bare ValueError.

Money invariant kept here: amounts are whole paise (``int``, never ``bool`` or ``float``);
percentages and day counts that multiply money are ``Decimal`` (an ``int`` is accepted and
converted), so no float ever reaches ``round_paise``.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal, InvalidOperation

from openprepaid.wallet.rules.errors import InvalidConfigError, InvalidFactsError


def require_int(field: str, value: object, *, low: int | None = None, high: int | None = None) -> int:
    """``value`` as an int within [low, high]; ``bool`` and ``float`` are refused."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidConfigError(f"{field}: expected a whole number, got {value!r}")
    if low is not None and value < low:
        raise InvalidConfigError(f"{field}: {value} is below the minimum {low}")
    if high is not None and value > high:
        raise InvalidConfigError(f"{field}: {value} is above the maximum {high}")
    return value


def require_decimal(
    field: str, value: object, *, low: Decimal, high: Decimal | None = None, low_inclusive: bool = True
) -> Decimal:
    """``value`` (int, Decimal or a decimal string) as a finite Decimal within the bounds."""
    if isinstance(value, bool | float) or not isinstance(value, int | Decimal | str):
        raise InvalidConfigError(f"{field}: expected an int, Decimal or decimal string, got {value!r}")
    try:
        number = Decimal(value)
    except InvalidOperation:
        raise InvalidConfigError(f"{field}: {value!r} is not a number") from None
    if not number.is_finite():
        raise InvalidConfigError(f"{field}: {value!r} is not finite")
    if number < low or (not low_inclusive and number == low):
        raise InvalidConfigError(f"{field}: {number} is below the allowed range (minimum {low})")
    if high is not None and number > high:
        raise InvalidConfigError(f"{field}: {number} is above the maximum {high}")
    return number


def require_percent(field: str, value: object, *, allow_zero: bool = True) -> Decimal:
    """A percentage in [0, 100] (or (0, 100] when ``allow_zero`` is false)."""
    return require_decimal(field, value, low=Decimal(0), high=Decimal(100), low_inclusive=allow_zero)


def require_aware(field: str, value: object) -> datetime:
    """An aware ``datetime`` (any zone; rules convert to UTC/local themselves)."""
    if not isinstance(value, datetime):
        raise InvalidFactsError(f"{field}: expected a datetime, got {value!r}")
    if value.tzinfo is None or value.utcoffset() is None:
        raise InvalidFactsError(f"{field}: {value.isoformat()} is naive; pass an aware UTC datetime")
    return value


def require_paise(field: str, value: object) -> int:
    """A whole-paise amount for facts (``int``, not ``bool``/``float``)."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidFactsError(f"{field}: expected whole paise (int), got {value!r}")
    return value
