"""Meter readings, each keyed by its natural key so that inserting it again is a no-op.

Energies are integer Wh (VAh) after the meter's scaler is applied; electrical quantities that are
not money or energy (volts, amps, power factor) are floats. All ``*_at`` are aware UTC.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey
from sqlalchemy.orm import Mapped, mapped_column

from openprepaid.store.model.base import Base, BigId


class BlockReading(Base):
    """One block-load interval (1.0.99.1.0.255): key (meter, interval end)."""

    __tablename__ = "reading_block"

    meter_id: Mapped[int] = mapped_column(BigId, ForeignKey("meter.id"), primary_key=True)
    interval_end_at: Mapped[datetime] = mapped_column(primary_key=True)
    capture_period_s: Mapped[int]
    import_wh: Mapped[int]
    export_wh: Mapped[int] = mapped_column(default=0)
    apparent_vah: Mapped[int] = mapped_column(default=0)
    avg_voltage_v: Mapped[float | None]
    avg_current_a: Mapped[float | None]
    received_at: Mapped[datetime]


class DailyReading(Base):
    """Midnight snapshot of the cumulative registers (1.0.99.2.0.255): key (meter, captured at)."""

    __tablename__ = "reading_daily"

    meter_id: Mapped[int] = mapped_column(BigId, ForeignKey("meter.id"), primary_key=True)
    captured_at: Mapped[datetime] = mapped_column(primary_key=True)
    import_wh_total: Mapped[int]
    export_wh_total: Mapped[int] = mapped_column(default=0)
    apparent_vah_total: Mapped[int] = mapped_column(default=0)
    received_at: Mapped[datetime]


class BillingReading(Base):
    """Monthly billing snapshot (1.0.98.1.0.255): key (meter, billing date)."""

    __tablename__ = "reading_billing"

    meter_id: Mapped[int] = mapped_column(BigId, ForeignKey("meter.id"), primary_key=True)
    billing_at: Mapped[datetime] = mapped_column(primary_key=True)
    import_wh_total: Mapped[int]
    export_wh_total: Mapped[int] = mapped_column(default=0)
    apparent_vah_total: Mapped[int] = mapped_column(default=0)
    max_demand_w: Mapped[int | None]
    max_demand_at: Mapped[datetime | None]
    # ToD-zone registers and anything else the profile carries, by OBIS code.
    extra: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    received_at: Mapped[datetime]


class InstantReading(Base):
    """Instantaneous profile snapshot (1.0.94.91.0.255): key (meter, meter clock at capture)."""

    __tablename__ = "reading_instant"

    meter_id: Mapped[int] = mapped_column(BigId, ForeignKey("meter.id"), primary_key=True)
    captured_at: Mapped[datetime] = mapped_column(primary_key=True)
    voltage_v: Mapped[float | None]
    current_a: Mapped[float | None]
    power_factor: Mapped[float | None]
    frequency_hz: Mapped[float | None]
    active_power_w: Mapped[float | None]
    import_wh_total: Mapped[int | None]
    values: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    received_at: Mapped[datetime]
