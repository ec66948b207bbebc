"""Emergency credit as a state machine (domain.md §2 "Emergency credit"; style.md rule 2).

    NORMAL ──balance ≤ start threshold──► EMERGENCY_CREDIT ──days over / amount used──► EXHAUSTED
      ▲                                         │                                         │
      └──────────── balance > start threshold ──┴──────── (re-armed) ◄────────────────────┘

* An *episode* starts when the balance falls to or below ``starts_at_or_below_paise`` (₹0): it
  records its start, ``expires_at = start + days`` (24-hour days) and/or ``floor_paise = min(balance
  at start, threshold) − amount``; whichever limit is reached first makes it EXHAUSTED — the
  account is then due for disconnection. Limits are fixed when the episode starts, so a
  configuration change applies from the next episode.
* EXHAUSTED is sticky: a small top-up that leaves the balance ≤ ₹0 does not restore credit.
* Re-arming: a balance above the start threshold returns to NORMAL from any state; a recharge that
  meets the reconnect rule's "% of dues" branch (``rearm=True``, decided by the caller) starts a
  fresh episode from EXHAUSTED (or NORMAL/ERROR).
* ERROR is reached when time runs backwards against the stored episode (``now`` before its start);
  it is left only by a positive balance or a re-arm, and blocks automatic action meanwhile.

The table ``TRANSITIONS`` covers every (phase, input) pair; ``advance_emergency_credit`` classifies
the facts into an input, looks the pair up, and applies the effect. Pure: ``now`` is an argument.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import ClassVar

from openprepaid.wallet.money import Paise
from openprepaid.wallet.rules.config import EmergencyCreditConfig
from openprepaid.wallet.rules.errors import InvalidFactsError
from openprepaid.wallet.rules.json_record import JsonObject, JsonValue, iso_or_none
from openprepaid.wallet.rules.validation import require_aware, require_paise


class EmergencyPhase(StrEnum):
    NORMAL = "normal"
    EMERGENCY_CREDIT = "emergency_credit"
    EXHAUSTED = "exhausted"
    ERROR = "error"


class EmergencyInput(StrEnum):
    """What the facts amount to, for the current phase."""

    ABOVE_START = "above_start"  # balance > start threshold
    REARM = "rearm"  # a recharge met the reconnect rule ("% of dues" branch)
    WITHIN_CREDIT = "within_credit"  # balance ≤ threshold, the episode (or one starting now) has credit left
    CREDIT_USED = "credit_used"  # balance ≤ threshold, days over or amount used
    CLOCK_BEHIND = "clock_behind"  # ``now`` is before the stored episode's start


class EmergencyEffect(StrEnum):
    RESET = "reset"  # -> NORMAL, episode cleared
    KEEP = "keep"  # same phase, same episode
    START = "start"  # new episode from now (-> EMERGENCY_CREDIT, or EXHAUSTED if it has no credit)
    EXHAUST = "exhaust"  # episode's credit is over -> EXHAUSTED
    FAIL = "fail"  # -> ERROR


class ExhaustedBy(StrEnum):
    DAYS = "days"
    AMOUNT = "amount"
    NO_EMERGENCY_CREDIT = "no_emergency_credit"


_P, _I, _E = EmergencyPhase, EmergencyInput, EmergencyEffect
TRANSITIONS: dict[tuple[EmergencyPhase, EmergencyInput], EmergencyEffect] = {
    (_P.NORMAL, _I.ABOVE_START): _E.RESET,
    (_P.NORMAL, _I.REARM): _E.START,
    (_P.NORMAL, _I.WITHIN_CREDIT): _E.START,
    (_P.NORMAL, _I.CREDIT_USED): _E.START,
    (_P.NORMAL, _I.CLOCK_BEHIND): _E.FAIL,
    (_P.EMERGENCY_CREDIT, _I.ABOVE_START): _E.RESET,
    (_P.EMERGENCY_CREDIT, _I.REARM): _E.KEEP,  # already in credit: re-arming again would move the expiry
    (_P.EMERGENCY_CREDIT, _I.WITHIN_CREDIT): _E.KEEP,
    (_P.EMERGENCY_CREDIT, _I.CREDIT_USED): _E.EXHAUST,
    (_P.EMERGENCY_CREDIT, _I.CLOCK_BEHIND): _E.FAIL,
    (_P.EXHAUSTED, _I.ABOVE_START): _E.RESET,
    (_P.EXHAUSTED, _I.REARM): _E.START,
    (_P.EXHAUSTED, _I.WITHIN_CREDIT): _E.KEEP,  # sticky: a partial top-up does not restore credit
    (_P.EXHAUSTED, _I.CREDIT_USED): _E.KEEP,
    (_P.EXHAUSTED, _I.CLOCK_BEHIND): _E.FAIL,
    (_P.ERROR, _I.ABOVE_START): _E.RESET,
    (_P.ERROR, _I.REARM): _E.START,
    (_P.ERROR, _I.WITHIN_CREDIT): _E.KEEP,
    (_P.ERROR, _I.CREDIT_USED): _E.KEEP,
    (_P.ERROR, _I.CLOCK_BEHIND): _E.KEEP,
}


@dataclass(frozen=True)
class EmergencyCreditState:
    """The persisted emergency-credit state of one account (the caller stores ``to_dict()``)."""

    phase: EmergencyPhase = EmergencyPhase.NORMAL
    started_at: datetime | None = None
    started_balance_paise: Paise | None = None
    expires_at: datetime | None = None
    floor_paise: Paise | None = None
    exhausted_at: datetime | None = None
    exhausted_by: ExhaustedBy | None = None
    error: str | None = None

    _EPISODE: ClassVar[frozenset[EmergencyPhase]] = frozenset(
        {EmergencyPhase.EMERGENCY_CREDIT, EmergencyPhase.EXHAUSTED}
    )

    def __post_init__(self) -> None:
        if not isinstance(self.phase, EmergencyPhase):
            raise InvalidFactsError(f"emergency credit phase: expected EmergencyPhase, got {self.phase!r}")
        for name in ("started_at", "expires_at", "exhausted_at"):
            value = getattr(self, name)
            if value is not None:
                object.__setattr__(self, name, require_aware(f"emergency credit {name}", value).astimezone(UTC))
        for name in ("started_balance_paise", "floor_paise"):
            if getattr(self, name) is not None:
                require_paise(f"emergency credit {name}", getattr(self, name))
        in_episode = self.phase in self._EPISODE
        if in_episode != (self.started_at is not None and self.started_balance_paise is not None):
            raise InvalidFactsError(
                f"emergency credit {self.phase}: episode start and balance must be set exactly then"
            )
        if (self.phase is EmergencyPhase.EXHAUSTED) != (
            self.exhausted_at is not None and self.exhausted_by is not None
        ):
            raise InvalidFactsError("emergency credit: exhausted_at/exhausted_by belong to the EXHAUSTED phase only")
        if (self.phase is EmergencyPhase.ERROR) != (self.error is not None):
            raise InvalidFactsError("emergency credit: an error text belongs to the ERROR phase only")
        if not in_episode and (self.expires_at is not None or self.floor_paise is not None):
            raise InvalidFactsError(f"emergency credit {self.phase}: no expiry or floor outside an episode")

    def to_dict(self) -> JsonObject:
        return {
            "phase": self.phase.value,
            "started_at": iso_or_none(self.started_at),
            "started_balance_paise": None if self.started_balance_paise is None else int(self.started_balance_paise),
            "expires_at": iso_or_none(self.expires_at),
            "floor_paise": None if self.floor_paise is None else int(self.floor_paise),
            "exhausted_at": iso_or_none(self.exhausted_at),
            "exhausted_by": None if self.exhausted_by is None else self.exhausted_by.value,
            "error": self.error,
        }

    @classmethod
    def from_dict(cls, data: dict[str, JsonValue]) -> EmergencyCreditState:
        """Rebuild a stored state; malformed data raises ``InvalidFactsError``."""
        try:
            return cls(
                phase=EmergencyPhase(_parse_text(data["phase"]) or ""),
                started_at=_parse_time(data.get("started_at")),
                started_balance_paise=_parse_paise(data.get("started_balance_paise")),
                expires_at=_parse_time(data.get("expires_at")),
                floor_paise=_parse_paise(data.get("floor_paise")),
                exhausted_at=_parse_time(data.get("exhausted_at")),
                exhausted_by=_parse_enum(ExhaustedBy, data.get("exhausted_by")),
                error=_parse_text(data.get("error")),
            )
        except (KeyError, ValueError, TypeError, AttributeError) as exc:
            raise InvalidFactsError(f"emergency credit state {data!r}: {exc}") from None


def _parse_time(value: JsonValue) -> datetime | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise TypeError(f"expected ISO 8601 text, got {value!r}")
    return datetime.fromisoformat(value)


def _parse_paise(value: JsonValue) -> Paise | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"expected whole paise, got {value!r}")
    return Paise(value)


def _parse_enum(kind: type[ExhaustedBy], value: JsonValue) -> ExhaustedBy | None:
    text = _parse_text(value)
    return None if text is None else kind(text)


def _parse_text(value: JsonValue) -> str | None:
    if value is not None and not isinstance(value, str):
        raise TypeError(f"expected text, got {value!r}")
    return value


@dataclass(frozen=True)
class EmergencyCreditStep:
    """One evaluation: the input it saw, the effect applied, and the state to persist."""

    previous: EmergencyCreditState
    state: EmergencyCreditState
    input: EmergencyInput
    effect: EmergencyEffect

    @property
    def started(self) -> bool:
        """A new episode began in this step (send the "emergency credit started" notice)."""
        return self.effect is EmergencyEffect.START

    @property
    def became_exhausted(self) -> bool:
        """The account became due for disconnection in this step."""
        return self.state.phase is EmergencyPhase.EXHAUSTED and self.previous.phase is not EmergencyPhase.EXHAUSTED

    def to_dict(self) -> JsonObject:
        return {
            "input": self.input.value,
            "effect": self.effect.value,
            "before": self.previous.to_dict(),
            "after": self.state.to_dict(),
        }


def _episode_start(now: datetime, balance_paise: Paise, config: EmergencyCreditConfig) -> EmergencyCreditState:
    floor = None
    if config.amount_paise is not None:
        floor = Paise(min(balance_paise, config.starts_at_or_below_paise) - config.amount_paise)
    expires = None if config.days is None else now + timedelta(days=config.days)
    return EmergencyCreditState(
        phase=EmergencyPhase.EMERGENCY_CREDIT,
        started_at=now,
        started_balance_paise=balance_paise,
        expires_at=expires,
        floor_paise=floor,
    )


def _used_by(state: EmergencyCreditState, now: datetime, balance_paise: Paise) -> ExhaustedBy | None:
    """Which limit of the episode ``state`` is reached at ``now`` (None while credit remains)."""
    if state.expires_at is None and state.floor_paise is None:
        return ExhaustedBy.NO_EMERGENCY_CREDIT
    if state.expires_at is not None and now >= state.expires_at:
        return ExhaustedBy.DAYS
    if state.floor_paise is not None and balance_paise <= state.floor_paise:
        return ExhaustedBy.AMOUNT
    return None


def _classify(
    state: EmergencyCreditState, now: datetime, balance_paise: Paise, config: EmergencyCreditConfig, *, rearm: bool
) -> EmergencyInput:
    if balance_paise > config.starts_at_or_below_paise:
        return EmergencyInput.ABOVE_START
    if state.started_at is not None and now < state.started_at:
        return EmergencyInput.CLOCK_BEHIND
    if rearm:
        return EmergencyInput.REARM
    episode = state if state.started_at is not None else _episode_start(now, balance_paise, config)
    return EmergencyInput.WITHIN_CREDIT if _used_by(episode, now, balance_paise) is None else EmergencyInput.CREDIT_USED


def _exhaust(episode: EmergencyCreditState, now: datetime, by: ExhaustedBy) -> EmergencyCreditState:
    return EmergencyCreditState(
        phase=EmergencyPhase.EXHAUSTED,
        started_at=episode.started_at,
        started_balance_paise=episode.started_balance_paise,
        expires_at=episode.expires_at,
        floor_paise=episode.floor_paise,
        exhausted_at=now,
        exhausted_by=by,
    )


def advance_emergency_credit(
    state: EmergencyCreditState,
    *,
    balance_paise: Paise,
    now_utc: datetime,
    config: EmergencyCreditConfig,
    rearm: bool = False,
) -> EmergencyCreditStep:
    """One step of the machine for the current balance at ``now_utc``."""
    now = require_aware("now_utc", now_utc).astimezone(UTC)
    require_paise("balance_paise", balance_paise)
    symbol = _classify(state, now, balance_paise, config, rearm=rearm)
    effect = TRANSITIONS[(state.phase, symbol)]
    if effect is EmergencyEffect.RESET:
        nxt = EmergencyCreditState()
    elif effect is EmergencyEffect.KEEP:
        nxt = state
    elif effect is EmergencyEffect.START:
        nxt = _episode_start(now, balance_paise, config)
        used = _used_by(nxt, now, balance_paise)
        if used is not None:
            nxt = _exhaust(nxt, now, used)
    elif effect is EmergencyEffect.EXHAUST:
        nxt = _exhaust(state, now, _used_by(state, now, balance_paise) or ExhaustedBy.NO_EMERGENCY_CREDIT)
    else:
        started = state.started_at.isoformat() if state.started_at else "?"
        nxt = EmergencyCreditState(
            phase=EmergencyPhase.ERROR, error=f"evaluated at {now.isoformat()}, before the episode start {started}"
        )
    return EmergencyCreditStep(previous=state, state=nxt, input=symbol, effect=effect)
