"""Retry policy of the head-end: which failures are worth another attempt, and when.

The session layer translates every fault at its boundary into one of the ``HesError`` subclasses
below (style.md rule 9): a timeout, a network fault, a garbled or refused exchange. Each class says
whether trying again can help (``retryable``). Retries are bounded (``RetryPolicy.max_attempts``)
and spaced by exponential back-off with jitter from a seeded generator, so that a feeder coming
back after an outage does not reconnect thousands of meters in the same second.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import timedelta
from typing import ClassVar


class HesError(Exception):
    """Base of every error raised by openprepaid.hes and by the session layer it drives."""

    retryable: ClassVar[bool] = False


class RetryableError(HesError):
    """A failure that may not happen next time (the meter was busy, the link dropped)."""

    retryable: ClassVar[bool] = True


class NonRetryableError(HesError):
    """A failure that will happen again until someone changes something (keys, configuration)."""

    retryable: ClassVar[bool] = False


class SessionTimeoutError(RetryableError):
    """The meter did not answer in time (connect, association or a request)."""


class NetworkError(RetryableError):
    """The connection could not be opened or was lost (modem offline, reset, refused port)."""


class ProtocolFaultError(RetryableError):
    """The meter's answer was malformed or out of sequence; a fresh association usually recovers."""


class MeterNotConnectedError(RetryableError):
    """A dial-in meter has no open connection to the head-end right now."""


class MeterBusyError(RetryableError):
    """The meter refused because it is busy (temporary failure, another association open)."""


class ReadbackMismatchError(RetryableError):
    """The command was sent but reading the object back shows it did not take effect."""


class AccessRefusedError(NonRetryableError):
    """The association or the operation was refused: wrong password or keys, access rights."""


class ObjectUnavailableError(NonRetryableError):
    """The meter does not have the object or attribute (wrong meter type configuration)."""


class MeterIdentityError(NonRetryableError):
    """The meter that answered is not the meter we meant (serial or system title differs)."""


class UnsupportedOperationError(NonRetryableError):
    """The operation does not exist for this meter (e.g. a relay command for a CT meter)."""


def is_retryable(error: BaseException) -> bool:
    """Classified errors say so themselves; anything unclassified is retried (bounded) and logged."""
    if isinstance(error, HesError):
        return error.retryable
    return True


def describe(error: BaseException) -> str:
    """A one-line description for ``command.last_error`` and logs (bounded length)."""
    text = f"{type(error).__name__}: {error}" if str(error) else type(error).__name__
    return text[:480]


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Bounded retries with exponential back-off: attempt n waits ``base * factor**(n-1)``, capped.

    ``jitter`` is the fraction of each delay that is randomised (0.2: the delay is drawn uniformly
    from [0.8 d, d]), so retries spread out instead of arriving together.
    """

    max_attempts: int = 6
    base_delay_s: float = 15.0
    factor: float = 2.0
    max_delay_s: float = 600.0
    jitter: float = 0.2

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        if self.base_delay_s < 0 or self.max_delay_s < self.base_delay_s:
            raise ValueError("need 0 <= base_delay_s <= max_delay_s")
        if self.factor < 1:
            raise ValueError("factor must be at least 1")
        if not 0 <= self.jitter <= 1:
            raise ValueError("jitter must be within [0, 1]")

    def may_retry(self, attempts_made: int) -> bool:
        return attempts_made < self.max_attempts

    def delay(self, attempts_made: int, rng: random.Random) -> timedelta:
        """How long to wait after the ``attempts_made``-th failed attempt (1-based)."""
        exponent = max(0, attempts_made - 1)
        # Cap the exponent before raising: factor**exponent must not overflow for large counts.
        nominal = self.base_delay_s * self.factor ** min(exponent, 64)
        capped = min(self.max_delay_s, nominal)
        drawn = capped * (1.0 - self.jitter * rng.random())
        return timedelta(seconds=drawn)
