"""A meter's seven IS 15959 event logs: bounded, oldest entry dropped first, except non-rollover.

IS 15959: each event log (0.0.99.98.x.255) is a FIFO of fixed depth; the non-rollover log
(x = 5, cover opening) keeps its first entries and records nothing once full. An entry is
(local meter time, event code, snapshot) where the snapshot holds the raw values of the log's
snapshot columns at the event (``openprepaid.meters.profiles.event_snapshot_quantities``) or is
empty for logs without one. Logs are created on first use so that quiet meters cost nothing.
"""

from __future__ import annotations

from openprepaid.meters.event_codes import EventLog

EventEntry = tuple[int, int, tuple[int, ...]]


class EventLogs:
    __slots__ = ("_logs",)

    def __init__(self) -> None:
        self._logs: list[list[EventEntry] | None] = [None] * len(EventLog)

    def append(self, log: EventLog, entry: EventEntry, depth: int) -> bool:
        """Record ``entry``; False if the non-rollover log was full and the entry was not kept."""
        entries = self._logs[log]
        if entries is None:
            entries = self._logs[log] = []
        if len(entries) >= depth:
            if log is EventLog.NON_ROLLOVER:
                return False
            del entries[: len(entries) - depth + 1]
        entries.append(entry)
        return True

    def entries(self, log: EventLog) -> list[EventEntry]:
        return self._logs[log] or []

    def last_code(self, log: EventLog) -> int:
        entries = self._logs[log]
        return entries[-1][1] if entries else 0

    def codes(self, log: EventLog) -> list[int]:
        return [e[1] for e in self.entries(log)]
