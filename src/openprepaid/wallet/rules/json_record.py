"""JSON-shaped values for the decision record stored with every relay command (domain.md §3).

Everything a rule reports is built from these: str, int, bool, None, lists and string-keyed
objects; datetimes become ISO 8601 text with their offset (``iso``); money stays integer paise
next to its formatted rupee text. ``json.dumps`` takes every value without a custom encoder.
"""

from __future__ import annotations

from datetime import datetime
from typing import TypeAlias

JsonValue: TypeAlias = "str | int | bool | list[JsonValue] | dict[str, JsonValue] | None"
JsonObject: TypeAlias = "dict[str, JsonValue]"


def iso(value: datetime) -> str:
    """An aware datetime as ISO 8601 with its UTC offset (``2026-03-01T08:00:00+00:00``)."""
    return value.isoformat()


def iso_or_none(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()
