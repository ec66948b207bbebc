# Licence note: shared by the benchmark peers in this folder, which import GPL/BSL DLMS libraries in
# their own process (see bench/peers/LICENSE-NOTE.md); this module itself imports none of them.
"""How each benchmark peer times its loop: calls per second over at least ``seconds``."""

from __future__ import annotations

import time


def rate(work, seconds):
    count, started = 0, time.perf_counter()
    while True:
        work()
        count += 1
        elapsed = time.perf_counter() - started
        if elapsed >= seconds and count >= 3:
            return count / elapsed
