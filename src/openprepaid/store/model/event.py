"""Meter events (from event logs and pushes), outages, and operator-facing alerts."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, CheckConstraint, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from openprepaid.store.model.base import Base, BigId, id_column, str_enum


class EventSource(StrEnum):
    LOG = "log"  # read from an event log profile 0.0.99.98.x.255
    PUSH = "push"  # alert push / event notification


class MeterEvent(Base):
    """Natural key (meter, log, occurred_at, code): a push and a later log read store one row."""

    __tablename__ = "meter_event"
    __table_args__ = (CheckConstraint("log BETWEEN 0 AND 6", name="log_0_to_6"),)

    meter_id: Mapped[int] = mapped_column(BigId, ForeignKey("meter.id"), primary_key=True)
    log: Mapped[int] = mapped_column(BigId, primary_key=True)
    occurred_at: Mapped[datetime] = mapped_column(primary_key=True)
    code: Mapped[int] = mapped_column(BigId, primary_key=True)
    source: Mapped[EventSource] = mapped_column(str_enum(EventSource, "event_source"))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    received_at: Mapped[datetime]


class Outage(Base):
    """Opened by a last gasp (or event 101), closed by first breath / restore (event 102)."""

    __tablename__ = "outage"

    id: Mapped[int] = id_column()
    meter_id: Mapped[int] = mapped_column(ForeignKey("meter.id"), index=True)
    started_at: Mapped[datetime]
    ended_at: Mapped[datetime | None]
    source: Mapped[str] = mapped_column(String(40))


class AlertState(StrEnum):
    OPEN = "open"
    ACKNOWLEDGED = "acknowledged"
    CLOSED = "closed"


class Alert(Base):
    """An operator-facing alert; ``dedup_key`` makes raising the same condition twice a no-op."""

    __tablename__ = "alert"

    id: Mapped[int] = id_column()
    utility_id: Mapped[int] = mapped_column(ForeignKey("utility.id"), index=True)
    dedup_key: Mapped[str] = mapped_column(String(200), unique=True)
    kind: Mapped[str] = mapped_column(String(60), index=True)
    severity: Mapped[str] = mapped_column(String(16))
    meter_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("meter.id"), index=True)
    account_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("account.id"), index=True)
    state: Mapped[AlertState] = mapped_column(str_enum(AlertState, "alert_state"))
    message: Mapped[str] = mapped_column(String(500))
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    raised_at: Mapped[datetime]
    acknowledged_at: Mapped[datetime | None]
    acknowledged_by: Mapped[str | None] = mapped_column(String(100))
    closed_at: Mapped[datetime | None]
