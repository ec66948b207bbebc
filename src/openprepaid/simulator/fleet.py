"""A fleet of virtual IS 15959 meters in one process, seeded, lean enough for ten thousand.

``Fleet(config, start_s)`` creates ``config.size`` meters whose category (domestic, commercial,
industrial), meter type, load size, sanctioned load (the limiter threshold of meters with a
relay) and initial register reading all follow from ``config.seed`` and the meter index; each
meter is born at local midnight ``history_days`` before ``start_s`` and lives up to ``start_s``,
so its profiles hold that much history. Random outages (``outages_per_day``) are scheduled over
history and the future. A meter stores only its registers, daily and billing snapshots, event
logs and interruptions; block load intervals are derived on read.

Pushes from every meter go to one bounded ``Outbox`` (emptied after the history is generated);
communication faults live in ``faults``.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TypeVar

from openprepaid.meters.meter_types import (
    SINGLE_PHASE_WHOLE_CURRENT,
    THREE_PHASE_HT_CT_PT,
    THREE_PHASE_LT_CT,
    THREE_PHASE_WHOLE_CURRENT,
    MeterType,
)
from openprepaid.simulator.clock import IST_OFFSET_S, MeterClock
from openprepaid.simulator.errors import ConfigurationError
from openprepaid.simulator.faults import FaultRegistry, NetworkFaults, random_outages
from openprepaid.simulator.history import synthesize_billing_history
from openprepaid.simulator.load_model import DAY_S, MODELS, Category, LoadParams, mix64
from openprepaid.simulator.push import Outbox, PushNotification
from openprepaid.simulator.virtual_meter import VirtualMeter

T = TypeVar("T")

#: Which meter types serve each category, with their share and a size factor on the category's median load.
TYPE_MIX: dict[Category, tuple[tuple[MeterType, float, float], ...]] = {
    Category.DOMESTIC: ((SINGLE_PHASE_WHOLE_CURRENT, 0.92, 1.0), (THREE_PHASE_WHOLE_CURRENT, 0.08, 2.5)),
    Category.COMMERCIAL: (
        (SINGLE_PHASE_WHOLE_CURRENT, 0.45, 0.6),
        (THREE_PHASE_WHOLE_CURRENT, 0.40, 1.5),
        (THREE_PHASE_LT_CT, 0.15, 4.0),
    ),
    Category.INDUSTRIAL: (
        (THREE_PHASE_WHOLE_CURRENT, 0.30, 0.3),
        (THREE_PHASE_LT_CT, 0.55, 1.0),
        (THREE_PHASE_HT_CT_PT, 0.15, 8.0),
    ),
}


@dataclass(frozen=True, slots=True)
class FleetConfig:
    size: int
    seed: int = 1
    history_days: int = 7
    category_mix: tuple[tuple[Category, float], ...] = (
        (Category.DOMESTIC, 0.80),
        (Category.COMMERCIAL, 0.15),
        (Category.INDUSTRIAL, 0.05),
    )
    tz_offset_s: int = IST_OFFSET_S
    control_mode: int = 4
    manual_reconnect_delay_s: int | None = 600  # a consumer presses the button after a limiter trip
    sanctioned_headroom: tuple[float, float] = (0.9, 1.8)  # limiter threshold / a rare evening peak
    limiter_min_over_s: int = 60
    outages_per_day: float = 0.0
    outage_mean_s: int = 1200
    outbox_capacity: int = 100_000
    push_destination: str = ""
    network: NetworkFaults = field(default_factory=NetworkFaults)
    serial_prefix: str = "OPS"
    billing_history: bool = True  # synthesise past monthly billing entries (``history``)

    def __post_init__(self) -> None:
        if self.size < 0 or self.history_days < 0:
            raise ConfigurationError("fleet size and history days must be >= 0")
        if abs(sum(share for _, share in self.category_mix) - 1) > 1e-9:
            raise ConfigurationError("category shares must add up to 1")
        if not 0 <= self.control_mode <= 6:
            raise ConfigurationError("control_mode must be 0..6")


def _pick(rng: random.Random, choices: tuple[tuple[T, float], ...]) -> T:
    r = rng.random()
    for item, share in choices:
        r -= share
        if r < 0:
            return item
    return choices[-1][0]


class Fleet:
    def __init__(self, config: FleetConfig, start_s: int) -> None:
        self.config = config
        self.outbox = Outbox(config.outbox_capacity, config.push_destination)
        self.faults = FaultRegistry(config.network)
        born = start_s + config.tz_offset_s
        born = born - born % DAY_S - config.history_days * DAY_S - config.tz_offset_s
        self.born_s = born
        self.meters: list[VirtualMeter] = [self._make_meter(i, born) for i in range(config.size)]
        if config.billing_history:
            for meter in self.meters:
                synthesize_billing_history(meter)
        self._by_serial = {m.serial: m for m in self.meters}
        if config.outages_per_day:
            random_outages(
                self.meters, config.seed, born, per_day=config.outages_per_day, mean_duration_s=config.outage_mean_s
            )
        self.advance(start_s)
        # pushes from generated history were sent before the simulation began: nobody is listening for them
        self.outbox.drain()
        self.outbox.dropped = 0

    def _make_meter(self, index: int, born_s: int) -> VirtualMeter:
        cfg = self.config
        rng = random.Random(mix64(cfg.seed, index, 0xF1EE7))
        category = _pick(rng, cfg.category_mix)
        mix = TYPE_MIX[category]
        meter_type, size = _pick(rng, tuple(((t, f), share) for t, share, f in mix))
        params = LoadParams.derive(cfg.seed, index, category, size, meter_type.nominal_voltage_v)
        limiter_w = 0
        if meter_type.has_relay:
            # the evening peak slot with high slot noise, an appliance burst and a heavy day
            peak_w = params.daily_wh * max(MODELS[category].weekday) * 4 * 1.3 * 2 * 1.2
            limiter_w = max(1000, math.ceil(peak_w * rng.uniform(*cfg.sanctioned_headroom) / 1000) * 1000)
        return VirtualMeter(
            index,
            f"{cfg.serial_prefix}{index + 1:08d}",
            meter_type,
            params,
            born_s,
            tz_offset_s=cfg.tz_offset_s,
            clock=MeterClock(anchor_true_s=born_s),
            outbox=self.outbox,
            initial_import_wh=int(params.daily_wh * rng.uniform(30, 1500)),
            control_mode=cfg.control_mode,
            limiter_w=limiter_w,
            manual_reconnect_delay_s=cfg.manual_reconnect_delay_s,
        )

    def __len__(self) -> int:
        return len(self.meters)

    def __iter__(self) -> Iterator[VirtualMeter]:
        return iter(self.meters)

    def meter(self, index: int) -> VirtualMeter:
        return self.meters[index]

    def by_serial(self, serial: str) -> VirtualMeter:
        try:
            return self._by_serial[serial]
        except KeyError:
            raise ConfigurationError(f"no meter with serial {serial!r} in the fleet") from None

    def advance(self, true_s: int) -> None:
        """Bring every meter up to ``true_s`` (a meter can also be advanced alone before serving it)."""
        for meter in self.meters:
            meter.advance(true_s)

    def is_reachable(self, index: int, true_s: int) -> bool:
        """Whether the network layer may talk to the meter now: supplied and not in an offline window."""
        meter = self.meters[index]
        meter.advance(true_s)
        return meter.powered and not self.faults.offline(index, true_s)

    def drain_pushes(self, limit: int | None = None) -> list[PushNotification]:
        return self.outbox.drain(limit)
