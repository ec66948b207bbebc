"""Invocation counters of security suite 0: the sender's counter and the receiver's replay guard.

IEC 62056-5-3 (Green Book 9.2.3.3.7.4 and 9.2.7.2.4): the IV of AES-GCM is system title || IC, so
an (key, system title, IC) triple must never be used twice. The sender's IC is incremented for every
protected APDU and must not wrap: when it reaches 2^32 - 1 the key has to be renewed. The receiver
rejects an APDU whose IC is not greater than the last one it accepted.

Both are pure: persistence is the caller's job, and these objects say exactly what to persist.

- :class:`InvocationCounter` (sender): ``take()`` hands out strictly increasing values. To survive
  a crash without reusing a counter, the caller persists a *restart point* before a protected APDU
  leaves; ``persist_due()`` says which value to store (with ``persist_block`` > 1 one write covers
  that many APDUs, at the cost of skipping up to that many values after a restart), and
  ``persisted()`` acknowledges the write. After a restart: ``InvocationCounter(stored_value)``.
- :class:`ReplayGuard` (receiver, either role): ``check()`` refuses a stale counter with
  :class:`~openprepaid.cosem.errors.ReplayError`; ``accept()`` records a counter *after* its APDU
  authenticated, so a forged APDU cannot move the guard. ``last_accepted`` is what to persist.
"""

from __future__ import annotations

from openprepaid.cosem.errors import ReplayError, SecurityError
from openprepaid.cosem.security import MAX_INVOCATION_COUNTER

_COUNTER_SPACE = MAX_INVOCATION_COUNTER + 1


class InvocationCounter:
    """The sending side's invocation counter: strictly increasing, never wraps, persistable."""

    __slots__ = ("_block", "_covered_until", "_due", "_next")

    def __init__(self, start: int = 0, *, persist_block: int = 1) -> None:
        if not 0 <= start <= _COUNTER_SPACE:
            raise SecurityError(f"invocation counter start {start} is outside 0..2^32")
        if persist_block < 1:
            raise SecurityError("persist_block must be at least 1")
        self._next = start
        self._block = persist_block
        self._covered_until = start  # values below this are covered by the stored restart point
        self._due: int | None = None

    @property
    def next_value(self) -> int:
        """The value the next ``take()`` returns (2^32 when the counter is exhausted)."""
        return self._next

    @property
    def exhausted(self) -> bool:
        return self._next > MAX_INVOCATION_COUNTER

    def take(self) -> int:
        """The counter for the next protected APDU. Persist ``persist_due()`` before it is sent."""
        if self._next > MAX_INVOCATION_COUNTER:
            raise SecurityError("invocation counter exhausted: the key must be renewed before sending more")
        value = self._next
        self._next += 1
        if value >= self._covered_until:
            self._due = min(value + self._block, _COUNTER_SPACE)
            self._covered_until = self._due
        return value

    def persist_due(self) -> int | None:
        """The restart point to store before the APDU that used the last value leaves, or None."""
        return self._due

    def persisted(self, value: int) -> None:
        """The caller stored ``value`` as the restart point."""
        if self._due is not None and value >= self._due:
            self._due = None

    def __repr__(self) -> str:
        return f"InvocationCounter(next_value={self._next}, persist_due={self._due})"


class ReplayGuard:
    """The receiving side's record of the peer's last accepted invocation counter."""

    __slots__ = ("_last",)

    def __init__(self, last_accepted: int | None = None) -> None:
        if last_accepted is not None and not 0 <= last_accepted <= MAX_INVOCATION_COUNTER:
            raise SecurityError(f"last accepted counter {last_accepted} is outside 0..2^32-1")
        self._last = last_accepted

    @property
    def last_accepted(self) -> int | None:
        """The value to persist (None: nothing accepted yet)."""
        return self._last

    def check(self, invocation_counter: int) -> None:
        """Raise ReplayError unless ``invocation_counter`` is greater than the last accepted one."""
        if self._last is not None and invocation_counter <= self._last:
            raise ReplayError(
                f"invocation counter {invocation_counter} is not greater than the last accepted {self._last}"
            )

    def accept(self, invocation_counter: int) -> None:
        """Record a counter whose APDU authenticated (checks it again first)."""
        self.check(invocation_counter)
        self._last = invocation_counter

    def __repr__(self) -> str:
        return f"ReplayGuard(last_accepted={self._last})"
