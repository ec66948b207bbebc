"""Commands to meters: a persistent queue with the state machine queued -> sent -> confirmed|failed|expired.

A relay command becomes ``confirmed`` only after the disconnect-control object (0.0.96.3.10.255)
was read back in the expected state; ``readback`` records what was read.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from openprepaid.store.model.base import Base, BigId, id_column, str_enum


class CommandKind(StrEnum):
    RELAY_DISCONNECT = "relay_disconnect"
    RELAY_RECONNECT = "relay_reconnect"
    LOAD_LIMIT_SET = "load_limit_set"
    LOAD_LIMIT_ENABLE = "load_limit_enable"
    LOAD_LIMIT_DISABLE = "load_limit_disable"
    CLOCK_SYNC = "clock_sync"
    PAYMENT_MODE = "payment_mode"
    BALANCE_DISPLAY = "balance_display"
    GENERIC_SET = "generic_set"
    GENERIC_ACTION = "generic_action"
    METER_READ = "meter_read"  # on-demand read by whichever head-end reaches the meter; result in readback


class CommandState(StrEnum):
    QUEUED = "queued"
    SENT = "sent"
    CONFIRMED = "confirmed"
    FAILED = "failed"
    EXPIRED = "expired"
    CANCELLED = "cancelled"


class Command(Base):
    __tablename__ = "command"
    __table_args__ = (Index("ix_command_state_priority", "state", "priority", "created_at"),)

    id: Mapped[int] = id_column()
    meter_id: Mapped[int] = mapped_column(ForeignKey("meter.id"), index=True)
    account_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("account.id"), index=True)
    kind: Mapped[CommandKind] = mapped_column(str_enum(CommandKind, "command_kind"))
    params: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    state: Mapped[CommandState] = mapped_column(str_enum(CommandState, "command_state"))
    priority: Mapped[int] = mapped_column(default=0)  # higher first: relay > on-demand > scheduled
    # Who asked and why (rule, balance, calendar decision for automatic disconnections).
    actor: Mapped[str] = mapped_column(String(100))
    reason: Mapped[str] = mapped_column(String(500))
    decision: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    correlation_id: Mapped[str] = mapped_column(String(64), index=True)
    idempotency_key: Mapped[str | None] = mapped_column(String(200), unique=True)
    attempts: Mapped[int] = mapped_column(default=0)
    last_error: Mapped[str] = mapped_column(String(500), default="")
    readback: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    created_at: Mapped[datetime]
    not_before_at: Mapped[datetime | None]
    deadline_at: Mapped[datetime | None]
    sent_at: Mapped[datetime | None]
    completed_at: Mapped[datetime | None]
