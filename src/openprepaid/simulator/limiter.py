"""The limiter (IEC 62056-6-2 §4.5.9, interface class 71) of a whole-current meter.

The limiter watches the active power (1.0.1.7.0.255). When it stays above threshold_active for
min_over_threshold_duration, action_over_threshold runs: here, a local disconnect of the
disconnect control (transition g), logged as overload (215) and relay disconnected (301). After a
trip, the local reconnection (transition h, control modes 5 and 6 only) follows
min_under_threshold_duration later, the relay being open and the measured power zero.
threshold_active is threshold_emergency while the emergency profile is active (its id is in the
group list and the time is inside its window), else threshold_normal. A threshold of 0 disables
the function (IS 15959 events 159 enabled / 160 disabled). Thresholds are in W.
"""

from __future__ import annotations

LIMITER_MONITORED_OBIS = "1.0.1.7.0.255"


class LimiterState:
    __slots__ = (
        "emergency_activation_lt",
        "emergency_duration_s",
        "emergency_id",
        "group_ids",
        "min_over_s",
        "min_under_s",
        "over_since",
        "reconnect_at",
        "threshold_emergency_w",
        "threshold_normal_w",
        "trip_at",
        "tripped",
    )

    def __init__(self, threshold_normal_w: int = 0, min_over_s: int = 60, min_under_s: int = 300) -> None:
        self.threshold_normal_w = threshold_normal_w
        self.threshold_emergency_w = 0
        self.min_over_s = min_over_s
        self.min_under_s = min_under_s
        self.emergency_id = 0
        self.emergency_activation_lt: int | None = None
        self.emergency_duration_s = 0
        self.group_ids: tuple[int, ...] = ()
        self.over_since: int | None = None
        self.trip_at: int | None = None
        self.reconnect_at: int | None = None
        self.tripped = False

    def emergency_active(self, lt: int) -> bool:
        start = self.emergency_activation_lt
        return (
            start is not None
            and self.emergency_id in self.group_ids
            and start <= lt < start + self.emergency_duration_s
        )

    def threshold_active(self, lt: int) -> int:
        return self.threshold_emergency_w if self.emergency_active(lt) else self.threshold_normal_w

    def next_emergency_edge(self, lt: int) -> int | None:
        """The next start or end of the emergency window after ``lt`` (a moment to re-evaluate)."""
        start = self.emergency_activation_lt
        if start is None or self.emergency_id not in self.group_ids:
            return None
        for edge in (start, start + self.emergency_duration_s):
            if edge > lt:
                return edge
        return None

    def clear_over(self) -> None:
        self.over_since = None
        self.trip_at = None

    def observe(self, power_w: int, lt: int) -> None:
        """The measured power from ``lt`` on is ``power_w``: start, keep or end an over-threshold run."""
        threshold = self.threshold_active(lt)
        if threshold <= 0 or power_w <= threshold:
            self.clear_over()
            return
        if self.over_since is None:
            self.over_since = lt
        self.trip_at = max(self.over_since + self.min_over_s, lt)
