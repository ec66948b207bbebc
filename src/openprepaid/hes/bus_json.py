"""The bus's JSON for head-end messages: compact, date-times in ISO 8601, readings rows converted fast."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any


def _json_value(value: Any) -> Any:
    return value.isoformat() if isinstance(value, datetime) else str(value)


def json_bytes(payload: Any) -> bytes:
    """The bus's JSON, with date-times in ISO 8601 (any left in ``payload`` are converted by the encoder)."""
    return json.dumps(payload, separators=(",", ":"), default=_json_value).encode()


_ISO: dict[datetime, str] = {}
_ISO_LIMIT = 8_192


def iso_rows(rows: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Copies of ``rows`` with their date-times as ISO 8601 text, memoised (bounded): a fleet's rows repeat
    the same interval stamps, and the encoder's fallback costs a Python call per value."""
    keys = [key for key, value in rows[0].items() if isinstance(value, datetime)]
    copies = []
    for row in rows:
        copy = dict(row)
        for key in keys:
            value = copy.get(key)
            if isinstance(value, datetime):
                # equal instants in other zones print differently: only UTC ones are memoised
                text = _ISO.get(value) if value.tzinfo is UTC else value.isoformat()
                if text is None:
                    if len(_ISO) >= _ISO_LIMIT:
                        _ISO.clear()
                    text = _ISO[value] = value.isoformat()
                copy[key] = text
        copies.append(copy)
    return copies
