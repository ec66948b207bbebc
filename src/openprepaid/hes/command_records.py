"""What goes into the command queue and what comes out: requests, snapshots of command rows, results."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from openprepaid.store.model import Command, CommandKind, CommandState


@dataclass(frozen=True, slots=True)
class CommandRequest:
    meter_id: int
    kind: CommandKind
    actor: str
    reason: str
    params: Mapping[str, Any] = field(default_factory=dict)
    decision: Mapping[str, Any] = field(default_factory=dict)
    priority: int | None = None
    correlation_id: str | None = None
    idempotency_key: str | None = None
    account_id: int | None = None
    not_before_at: datetime | None = None
    deadline_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class CommandView:
    """A snapshot of one command row."""

    id: int
    meter_id: int
    account_id: int | None
    kind: CommandKind
    params: Mapping[str, Any]
    state: CommandState
    priority: int
    actor: str
    reason: str
    decision: Mapping[str, Any]
    correlation_id: str
    idempotency_key: str | None
    attempts: int
    last_error: str
    readback: Mapping[str, Any] | None
    created_at: datetime
    not_before_at: datetime | None
    deadline_at: datetime | None
    sent_at: datetime | None
    completed_at: datetime | None

    @classmethod
    def of(cls, row: Command) -> CommandView:
        return cls(
            id=row.id,
            meter_id=row.meter_id,
            account_id=row.account_id,
            kind=CommandKind(row.kind),
            params=dict(row.params or {}),
            state=CommandState(row.state),
            priority=row.priority,
            actor=row.actor,
            reason=row.reason,
            decision=dict(row.decision or {}),
            correlation_id=row.correlation_id,
            idempotency_key=row.idempotency_key,
            attempts=row.attempts,
            last_error=row.last_error,
            readback=None if row.readback is None else dict(row.readback),
            created_at=row.created_at,
            not_before_at=row.not_before_at,
            deadline_at=row.deadline_at,
            sent_at=row.sent_at,
            completed_at=row.completed_at,
        )

    def outcome(self) -> dict[str, Any]:
        return {
            "command_id": self.id,
            "meter_id": self.meter_id,
            "account_id": self.account_id,
            "kind": self.kind.value,
            "state": self.state.value,
            "attempts": self.attempts,
            "last_error": self.last_error,
            "readback": self.readback,
            "actor": self.actor,
            "reason": self.reason,
            "decision": self.decision,
            "correlation_id": self.correlation_id,
            "created_at": self.created_at.isoformat(),
            "completed_at": None if self.completed_at is None else self.completed_at.isoformat(),
            "not_before_at": None if self.not_before_at is None else self.not_before_at.isoformat(),
        }


@dataclass(frozen=True, slots=True)
class EnqueueResult:
    command: CommandView
    created: bool
    superseded: tuple[int, ...] = ()
