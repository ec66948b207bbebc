# Licence note: shared by the peer scripts in this folder, which import GPL/BSL DLMS libraries in their
# own process (see tests/interop/LICENSE-NOTE.md); this module itself imports none of them.
"""The JSON-lines loop every codec peer runs: one request per stdin line, one reply per stdout line."""

from __future__ import annotations

import json
import sys
import traceback


def serve(ops):
    for line in sys.stdin:
        if not line.strip():
            continue
        request = json.loads(line)
        try:
            reply = {"ok": True, **ops[request["op"]](request)}
        except Exception as exc:  # a peer reports every failure as data, one reply per request
            reply = {"ok": False, "error": f"{type(exc).__name__}: {exc}", "trace": traceback.format_exc()[-1500:]}
        sys.stdout.write(json.dumps(reply) + "\n")
        sys.stdout.flush()
