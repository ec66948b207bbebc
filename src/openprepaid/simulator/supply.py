"""When a meter's load was supplied: spans of outage, open relay and clock gaps on its timeline.

A slot's measured energy is its full-supply energy (``load_model``) times the share of the slot
that was supplied, rounded down to a whole Wh; registers and profiles both use
``scaled`` below, so they agree to the Wh. Spans are only ever opened at the meter's present
time, so the past never changes once lived. Times are the meter's local seconds.
"""

from __future__ import annotations

OUTAGE = 1  # no mains voltage: no consumption, meter unpowered
RELAY = 2  # load switch open: no consumption, meter powered
CLOCK_GAP = 4  # the meter clock jumped forward over this span: nothing was measured in it
UNPOWERED = OUTAGE | CLOCK_GAP
ANY = OUTAGE | RELAY | CLOCK_GAP
OPEN_END = 1 << 62


class SupplyTimeline:
    """Spans [start, end) of interruption of each kind; ``end`` is ``OPEN_END`` while ongoing."""

    __slots__ = ("spans",)

    def __init__(self) -> None:
        self.spans: list[list[int]] = []  # [start, end, kind], in order of start

    def open(self, kind: int, at: int) -> None:
        if not self.is_open(kind):
            self.spans.append([at, OPEN_END, kind])

    def close(self, kind: int, at: int) -> None:
        for span in self.spans:
            if span[2] == kind and span[1] == OPEN_END:
                span[1] = at
                if span[1] <= span[0]:
                    self.spans.remove(span)
                return

    def is_open(self, kind: int) -> bool:
        return any(s[2] & kind and s[1] == OPEN_END for s in self.spans)

    def quiet(self, start: int, end: int) -> bool:
        """No interruption of any kind overlaps [start, end)."""
        return not any(s[0] < end and s[1] > start for s in self.spans)

    def touched(self, start: int, end: int, slot_s: int) -> tuple[int, int]:
        """The slot-aligned part [lo, hi) of [start, end) that interruptions overlap (lo == hi if none).

        ``start`` and ``end`` are slot boundaries; slots outside [lo, hi) were fully supplied.
        """
        lo, hi = end, start
        for s in self.spans:
            if s[0] < end and s[1] > start:
                lo = min(lo, max(s[0], start))
                hi = max(hi, min(s[1], end))
        if hi <= lo:
            return start, start
        lo -= (lo - start) % slot_s
        hi += -(hi - start) % slot_s
        return lo, hi

    def covered(self, start: int, end: int, kinds: int = ANY) -> int:
        """Seconds of [start, end) inside the union of spans of ``kinds``."""
        parts = sorted(
            (max(s[0], start), min(s[1], end)) for s in self.spans if s[2] & kinds and s[0] < end and s[1] > start
        )
        total = 0
        cursor = start
        for lo, hi in parts:
            begin = max(lo, cursor)
            if hi > begin:
                total += hi - begin
                cursor = hi
        return total

    def prune(self, before: int) -> None:
        """Forget spans that ended before ``before`` (older than any buffer still derived from them)."""
        self.spans = [s for s in self.spans if s[1] >= before]


def scaled(full: int, supplied_s: int, slot_s: int) -> int:
    """A slot's measured energy when ``supplied_s`` of its ``slot_s`` seconds were supplied."""
    return full if supplied_s == slot_s else full * supplied_s // slot_s
