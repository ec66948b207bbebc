"""The command state machine as a transition table with an explicit ERROR (style.md rule 2).

    queued --send--> sent --confirm--> confirmed      (only with a read-back that shows the effect)
                     sent --fail-----> failed         (non-retryable, or attempts exhausted)
                     sent --retry----> queued         (retryable; next attempt not before back-off)
    queued|sent --expire--> expired                   (deadline passed)
    queued --cancel--> cancelled                      (operator, kill switch, superseded)

Every other (state, event) pair is ERROR: the terminal states accept nothing, and a command in
flight cannot be cancelled (the meter may already have obeyed it; it must be verified instead).
"""

from __future__ import annotations

from enum import StrEnum
from typing import Final, Literal

from openprepaid.hes.retry import NonRetryableError
from openprepaid.store.model import CommandState


class CommandEvent(StrEnum):
    SEND = "send"
    CONFIRM = "confirm"
    RETRY = "retry"
    FAIL = "fail"
    EXPIRE = "expire"
    CANCEL = "cancel"


ERROR: Final = "ERROR"
Target = CommandState | Literal["ERROR"]

_ALLOWED: Final[dict[tuple[CommandState, CommandEvent], CommandState]] = {
    (CommandState.QUEUED, CommandEvent.SEND): CommandState.SENT,
    (CommandState.QUEUED, CommandEvent.EXPIRE): CommandState.EXPIRED,
    (CommandState.QUEUED, CommandEvent.CANCEL): CommandState.CANCELLED,
    (CommandState.SENT, CommandEvent.CONFIRM): CommandState.CONFIRMED,
    (CommandState.SENT, CommandEvent.FAIL): CommandState.FAILED,
    (CommandState.SENT, CommandEvent.RETRY): CommandState.QUEUED,
    (CommandState.SENT, CommandEvent.EXPIRE): CommandState.EXPIRED,
}

# The complete table: every pair has an entry, ERROR where the transition is illegal.
TRANSITIONS: Final[dict[tuple[CommandState, CommandEvent], Target]] = {
    (state, event): _ALLOWED.get((state, event), ERROR) for state in CommandState for event in CommandEvent
}

TERMINAL_STATES: Final = frozenset(
    {CommandState.CONFIRMED, CommandState.FAILED, CommandState.EXPIRED, CommandState.CANCELLED}
)


class IllegalTransitionError(NonRetryableError):
    """An event that the command's current state does not accept."""

    def __init__(self, state: CommandState, event: CommandEvent) -> None:
        super().__init__(f"command in state {state.value!r} cannot take event {event.value!r}")
        self.state = state
        self.event = event


def next_state(state: CommandState, event: CommandEvent) -> CommandState:
    target = TRANSITIONS[(state, event)]
    if target == ERROR:
        raise IllegalTransitionError(state, event)
    assert isinstance(target, CommandState)
    return target
