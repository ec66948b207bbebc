"""A meter's seven IS 15959 event logs: bounded, oldest entry dropped first, except non-rollover.

IS 15959: each event log (0.0.99.98.x.255) is a FIFO of fixed depth; the non-rollover log
(x = 5, cover opening) keeps its first entries and records nothing once full. An entry is
(local meter time, event code, snapshot) where the snapshot holds the raw values of the log's
snapshot columns at the event (``openprepaid.meters.profiles.event_snapshot_quantities``) or is
empty for logs without one. A log is a flat array of integers (all entries of a log have the same
length), created on first use, so that ten thousand meters with full logs stay small.
"""

from __future__ import annotations

from array import array

from openprepaid.meters.event_codes import EventLog

EventEntry = tuple[int, int, tuple[int, ...]]


class EventLogs:
    __slots__ = ("_logs", "_strides")

    def __init__(self) -> None:
        self._logs: list[array[int] | None] = [None] * len(EventLog)
        self._strides = [0] * len(EventLog)

    def append(self, log: EventLog, entry: EventEntry, depth: int) -> bool:
        """Record ``entry``; False if the non-rollover log was full and the entry was not kept."""
        at, code, snapshot = entry
        stride = 2 + len(snapshot)
        values = self._logs[log]
        if values is None:
            values = self._logs[log] = array("q")
            self._strides[log] = stride
        elif stride != self._strides[log]:
            raise ValueError(f"event log {log.name} holds entries of {self._strides[log] - 2} snapshot values")
        if len(values) >= depth * stride:
            if log is EventLog.NON_ROLLOVER:
                return False
            del values[: len(values) - (depth - 1) * stride]
        values.extend((at, code, *snapshot))
        return True

    def entries(self, log: EventLog) -> list[EventEntry]:
        values = self._logs[log]
        if values is None:
            return []
        stride = self._strides[log]
        return [(values[i], values[i + 1], tuple(values[i + 2 : i + stride])) for i in range(0, len(values), stride)]

    def count(self, log: EventLog) -> int:
        values = self._logs[log]
        return len(values) // self._strides[log] if values is not None else 0

    def last_code(self, log: EventLog) -> int:
        values = self._logs[log]
        return values[len(values) - self._strides[log] + 1] if values else 0

    def codes(self, log: EventLog) -> list[int]:
        values = self._logs[log]
        return list(values[1 :: self._strides[log]]) if values is not None else []
