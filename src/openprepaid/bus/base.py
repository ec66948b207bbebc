"""The bus interface every part uses: publish a message on a subject, subscribe a handler to a pattern.

Semantics, the same on both implementations (in-process and NATS JetStream):
- at-least-once delivery to each subscription group; a handler that returns acknowledges, one that
  raises gets the message again (bounded attempts, then it is logged as dead and dropped);
- ``msg_id`` deduplicates publishes within a window (retrying a publish does not duplicate it);
- patterns use NATS wildcards: ``*`` one token, ``>`` the rest (``op.readings.>``);
- every queue is bounded: publish waits (back-pressure) rather than growing memory.
Consumers must therefore be idempotent, which they are by natural keys and idempotency keys.
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any


class BusError(Exception):
    """The bus could not publish or subscribe (connection lost, stream missing, closed)."""


@dataclass(frozen=True, slots=True)
class BusMessage:
    subject: str
    data: bytes
    msg_id: str | None = None
    headers: dict[str, str] = field(default_factory=dict)
    delivery_attempt: int = 1

    def json(self) -> Any:
        return json.loads(self.data)


Handler = Callable[[BusMessage], Awaitable[None]]


class Subscription(ABC):
    @abstractmethod
    async def stop(self) -> None:
        """Stop delivering; messages not yet handled stay for the group's next subscriber (JetStream)."""


class Bus(ABC):
    @abstractmethod
    async def publish(self, subject: str, data: bytes, *, msg_id: str | None = None) -> None: ...

    async def publish_json(self, subject: str, payload: Any, *, msg_id: str | None = None) -> None:
        await self.publish(subject, json.dumps(payload, separators=(",", ":"), default=str).encode(), msg_id=msg_id)

    @abstractmethod
    async def subscribe(self, pattern: str, handler: Handler, *, group: str, max_attempts: int = 5) -> Subscription:
        """Deliver messages matching ``pattern`` to ``handler``; one delivery per ``group``."""

    @abstractmethod
    async def close(self) -> None: ...


def subject_matches(pattern: str, subject: str) -> bool:
    """NATS wildcard matching: ``*`` matches one token, a final ``>`` one or more tokens."""
    pattern_tokens = pattern.split(".")
    subject_tokens = subject.split(".")
    for index, part in enumerate(pattern_tokens):
        if part == ">":
            return index == len(pattern_tokens) - 1 and len(subject_tokens) > index
        if index >= len(subject_tokens):
            return False
        if part not in {"*", subject_tokens[index]}:
            return False
    return len(pattern_tokens) == len(subject_tokens)


def validate_subject(subject: str, *, wildcards: bool) -> None:
    tokens = subject.split(".")
    if not subject or any(not token for token in tokens) or any(ch.isspace() for ch in subject):
        raise BusError(f"invalid subject {subject!r}")
    if not wildcards and any(token in {"*", ">"} for token in tokens):
        raise BusError(f"wildcards are not allowed when publishing: {subject!r}")
    if wildcards and ">" in tokens[:-1]:
        raise BusError(f"'>' may only be the last token: {subject!r}")
