"""The request loop shared by the ACSE/security test peers (imports no DLMS library itself).

Reads one JSON request per line from stdin and writes one JSON reply per line to the real stdout:
``{"ok": true, ...}`` from the operation, or ``{"ok": false, "error": ...}`` for any exception.
The libraries may print, so while serving ``sys.stdout`` points at stderr.
"""

from __future__ import annotations

import json
import sys
import traceback
from collections.abc import Callable, Mapping
from typing import Any

Operation = Callable[[dict[str, Any]], dict[str, Any]]


def serve(operations: Mapping[str, Operation]) -> None:
    out = sys.stdout
    sys.stdout = sys.stderr
    for line in sys.stdin:
        if not line.strip():
            continue
        request = json.loads(line)
        try:
            reply = {"ok": True, **operations[request["op"]](request)}
        except Exception as exc:  # a peer reports every failure as data for the test to judge
            reply = {"ok": False, "error": f"{type(exc).__name__}: {exc}", "trace": traceback.format_exc(limit=3)}
        out.write(json.dumps(reply) + "\n")
        out.flush()


def to_hex(value: bytes | bytearray | None) -> str | None:
    return None if value is None else bytes(value).hex().upper()


def from_hex(value: str | None) -> bytes | None:
    return None if value is None else bytes.fromhex(value)
