"""Scriptable faults for virtual meters: supply, tamper, clock, relay, communication and network.

Meter faults are scheduled on a meter's agenda at simulated true times and act when the meter is
advanced past them, so a fault in the past (e.g. during generated history) happens as if the
meter had lived it: an outage logs power failure 101 and pushes a last gasp at its start, and
logs 102 with a first-breath push at restoration, with no consumption between; a magnet logs
201/202, a neutral disturbance 203/204, a cover opening 251 (IS 15959 event codes; tamper bits in
the event status word and an alert push). Tamper other than cover opening needs supply to be
detected. Clock drift changes the rate of the meter's clock (parts per million) and can add a
silent offset (no RTC event: a failing clock, not a synchronisation).

Communication faults are parameters only: ``FaultRegistry`` holds offline windows (the modem is
unreachable) and network disturbance (latency range, drop rate, connection resets, garbled
frames) per meter or fleet-wide, for the network layer to read. Nothing here touches sockets.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

from openprepaid.meters import event_codes as ec
from openprepaid.simulator.errors import ConfigurationError
from openprepaid.simulator.load_model import unit_interval
from openprepaid.simulator.virtual_meter import VirtualMeter


def _check_span(start_s: int, duration_s: int) -> None:
    if duration_s <= 0:
        raise ConfigurationError(f"a fault needs a positive duration, got {duration_s} s")
    if start_s < 0:
        raise ConfigurationError("a fault cannot start before the epoch")


def outage(meter: VirtualMeter, start_s: int, duration_s: int) -> None:
    """Mains failure from ``start_s`` for ``duration_s`` (true seconds)."""
    _check_span(start_s, duration_s)
    meter.schedule(start_s, lambda m, _at: m.power_fail())
    meter.schedule(start_s + duration_s, lambda m, _at: m.power_restore())


def _condition(meter: VirtualMeter, start_s: int, duration_s: int, occurrence: int, restoration: int) -> None:
    _check_span(start_s, duration_s)

    def begin(m: VirtualMeter, _at: int) -> None:
        if m.powered:
            m.log_event(occurrence)

    def end(m: VirtualMeter, _at: int) -> None:
        if m.powered and m.esw_bits().bit(ec.lookup(occurrence).esw_bit or 0):
            m.log_event(restoration)

    meter.schedule(start_s, begin)
    meter.schedule(start_s + duration_s, end)


def magnet(meter: VirtualMeter, start_s: int, duration_s: int) -> None:
    """Abnormal magnetic influence (201 at the start, 202 at the end)."""
    _condition(meter, start_s, duration_s, ec.MAGNET_OCCURRENCE, ec.MAGNET_RESTORATION)


def neutral_disturbance(meter: VirtualMeter, start_s: int, duration_s: int) -> None:
    """Neutral disturbance, HF and DC (203 at the start, 204 at the end)."""
    _condition(meter, start_s, duration_s, ec.NEUTRAL_DISTURBANCE_OCCURRENCE, ec.NEUTRAL_DISTURBANCE_RESTORATION)


def cover_open(meter: VirtualMeter, at_s: int) -> None:
    """Meter cover opened (251, non-rollover log; detected without supply too)."""
    meter.schedule(at_s, lambda m, _at: m.log_event(ec.COVER_OPEN))


def clock_drift(meter: VirtualMeter, at_s: int, drift_ppm: float, offset_s: int = 0) -> None:
    """From ``at_s`` the meter's clock runs ``drift_ppm`` fast (negative: slow), after a silent jump of ``offset_s``."""

    def apply(m: VirtualMeter, at: int) -> None:
        if offset_s:
            m.set_clock(m.clock.meter_time(at) + offset_s, log=False)
        m.clock.set_drift(drift_ppm, at)

    meter.schedule(at_s, apply)


def relay_stuck(meter: VirtualMeter, at_s: int, stuck: bool | None) -> None:
    """From ``at_s`` the load switch is welded closed (True), stuck open (False) or healthy again (None)."""
    meter.schedule(at_s, lambda m, _at: m.set_relay_stuck(stuck))


def random_outages(
    meters: Iterable[VirtualMeter],
    seed: int,
    start_s: int,
    *,
    per_day: float,
    mean_duration_s: int,
    until_s: int | None = None,
) -> None:
    """Independent outages per meter from ``start_s`` (Poisson, ``per_day``, exponential durations).

    Each outage schedules the next when it ends, so a meter's agenda never holds more than one
    pending outage; the sequence is a function of (seed, meter index) only.
    """
    if per_day < 0 or mean_duration_s <= 0:
        raise ConfigurationError("outage rate must be >= 0 and mean duration > 0")
    if per_day == 0:
        return
    mean_gap_s = 86_400 / per_day

    def draw(index: int, k: int, salt: int, mean: float) -> int:
        return max(1, int(-mean * math.log(1.0 - unit_interval(seed, index, k, salt))))

    def schedule_next(meter: VirtualMeter, k: int, after_s: int) -> None:
        start = after_s + draw(meter.index, k, 1, mean_gap_s)
        if until_s is not None and start >= until_s:
            return
        duration = draw(meter.index, k, 2, mean_duration_s)
        meter.schedule(start, lambda m, _at: m.power_fail())

        def restore(m: VirtualMeter, at: int) -> None:
            m.power_restore()
            schedule_next(m, k + 1, at)

        meter.schedule(start + duration, restore)

    for meter in meters:
        schedule_next(meter, 0, start_s)


@dataclass(frozen=True, slots=True)
class NetworkFaults:
    """Disturbance the network layer applies to one meter's traffic."""

    latency_s: tuple[float, float] = (0.0, 0.0)
    drop_rate: float = 0.0  # share of frames silently lost
    reset_rate: float = 0.0  # share of requests answered by a connection reset
    garble_rate: float = 0.0  # share of frames with corrupted bytes

    def __post_init__(self) -> None:
        lo, hi = self.latency_s
        if not 0 <= lo <= hi:
            raise ConfigurationError(f"latency range {self.latency_s} is not 0 <= low <= high")
        for name in ("drop_rate", "reset_rate", "garble_rate"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ConfigurationError(f"{name} must be within 0..1")


class FaultRegistry:
    """Communication fault parameters, fleet-wide with per-meter overrides."""

    def __init__(self, default: NetworkFaults | None = None) -> None:
        self.default = default or NetworkFaults()
        self._network: dict[int, NetworkFaults] = {}
        self._offline: dict[int, list[tuple[int, int]]] = {}

    def set_network(self, meter_index: int, faults: NetworkFaults | None) -> None:
        if faults is None:
            self._network.pop(meter_index, None)
        else:
            self._network[meter_index] = faults

    def network(self, meter_index: int) -> NetworkFaults:
        return self._network.get(meter_index, self.default)

    def add_offline(self, meter_index: int, start_s: int, duration_s: int) -> None:
        """The meter's modem is unreachable during [start_s, start_s + duration_s)."""
        _check_span(start_s, duration_s)
        self._offline.setdefault(meter_index, []).append((start_s, start_s + duration_s))

    def offline(self, meter_index: int, true_s: int) -> bool:
        return any(start <= true_s < end for start, end in self._offline.get(meter_index, ()))

    def prune(self, before_s: int) -> None:
        """Forget offline windows that ended before ``before_s``."""
        for index in list(self._offline):
            kept = [(s, e) for s, e in self._offline[index] if e > before_s]
            if kept:
                self._offline[index] = kept
            else:
                del self._offline[index]
