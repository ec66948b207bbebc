"""When each collection job is due for a meter: a pure function of its facts, its policy and the time.

Defaults (docs/hes.md): block load every 4 h and as soon as a meter is back after an outage or a
silence (backfill, domain.md §6: 100 % of intervals); event logs with it; daily profile once the
midnight snapshot exists (after 00:05 local time); billing profile after the billing date; a clock
check daily (a drift above 30 s queues a verified clock sync); the name plate at first contact.
Policies can be overridden per group (e.g. ``type:<meter type code>``) and per meter. A job that
was just attempted is not attempted again within ``min_attempt_gap`` unless the meter came back.
Times: ``now`` is an argument; daily and billing boundaries are local to the utility's zone.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields, replace
from datetime import date, datetime, time, timedelta
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo


class CollectionJob(StrEnum):
    """In the order one session runs them."""

    NAME_PLATE = "name_plate"
    CLOCK_CHECK = "clock_check"
    BLOCK_LOAD = "block_load"
    EVENTS = "events"
    DAILY = "daily"
    BILLING = "billing"
    INSTANT = "instant"
    RELAY_STATE = "relay_state"  # on demand only (a relay-change push, an operator's question)


JOB_ORDER = tuple(CollectionJob)
DAILY_TOLERANCE = timedelta(minutes=30)  # a snapshot stamped 23:59:59 still counts for midnight
BILLING_TOLERANCE = timedelta(hours=1)


class PolicyError(ValueError):
    """A schedule setting that cannot be used."""


@dataclass(frozen=True, slots=True)
class CollectionPolicy:
    block_load_every: timedelta = timedelta(hours=4)
    block_load_on_reconnect: bool = True
    events_every: timedelta | None = timedelta(hours=4)
    instant_every: timedelta | None = None
    daily_after: time = time(0, 5)
    billing_day: int = 1
    billing_after: time = time(0, 5)
    clock_check_every: timedelta = timedelta(days=1)
    clock_drift_max_s: int = 30
    min_attempt_gap: timedelta = timedelta(minutes=15)
    enabled: bool = True

    def __post_init__(self) -> None:
        if not 1 <= self.billing_day <= 31:
            raise PolicyError("billing_day must be 1..31 (31: the month's last day)")
        for name in ("block_load_every", "events_every", "instant_every", "clock_check_every", "min_attempt_gap"):
            value = getattr(self, name)
            if value is not None and value <= timedelta(0):
                raise PolicyError(f"{name} must be positive")
        if self.clock_drift_max_s < 1:
            raise PolicyError("clock_drift_max_s must be at least 1")


@dataclass(frozen=True, slots=True)
class CollectionFacts:
    """What is known about one meter's collection so far."""

    meter_id: int
    has_name_plate: bool = False
    last_block_end_at: datetime | None = None
    block_read_to: datetime | None = None  # block load read up to here, also where the meter held nothing
    last_block_collected_at: datetime | None = None
    last_events_at: datetime | None = None
    last_instant_at: datetime | None = None
    last_daily_at: datetime | None = None
    last_billing_at: datetime | None = None
    last_clock_check_at: datetime | None = None
    reconnected_at: datetime | None = None
    last_attempt_at: Mapping[CollectionJob, datetime] = field(default_factory=dict)


def _local_midnight(day: date, zone: ZoneInfo) -> datetime:
    return datetime.combine(day, time(0), tzinfo=zone)


def expected_daily_capture_at(now: datetime, policy: CollectionPolicy, zone: ZoneInfo) -> datetime:
    """The newest midnight snapshot that should exist now (as UTC-comparable aware datetime)."""
    local = now.astimezone(zone)
    day = local.date() if local.time() >= policy.daily_after else local.date() - timedelta(days=1)
    return _local_midnight(day, zone)


def billing_date_in(year: int, month: int, billing_day: int) -> date:
    next_month = date(year + month // 12, month % 12 + 1, 1)
    return date(year, month, min(billing_day, (next_month - timedelta(days=1)).day))


def expected_billing_capture_at(now: datetime, policy: CollectionPolicy, zone: ZoneInfo) -> datetime:
    """Midnight of the newest billing date whose snapshot should exist now."""
    local = now.astimezone(zone)
    candidate = billing_date_in(local.year, local.month, policy.billing_day)
    if local < datetime.combine(candidate, policy.billing_after, tzinfo=zone):
        year, month = (local.year, local.month - 1) if local.month > 1 else (local.year - 1, 12)
        candidate = billing_date_in(year, month, policy.billing_day)
    return _local_midnight(candidate, zone)


def _elapsed(last: datetime | None, every: timedelta, now: datetime) -> bool:
    return last is None or now - last >= every


def _reconnected_since(facts: CollectionFacts, since: datetime | None) -> bool:
    return facts.reconnected_at is not None and (since is None or facts.reconnected_at > since)


def _wanted(facts: CollectionFacts, policy: CollectionPolicy, now: datetime, zone: ZoneInfo) -> set[CollectionJob]:
    wanted: set[CollectionJob] = set()
    if not facts.has_name_plate:
        wanted.add(CollectionJob.NAME_PLATE)
    # When block load was last collected: known from this process, else from what the store says
    # (the newest stored interval, or the read progress of a meter that had nothing to give). A mark
    # later than now (intervals stored stamped ahead by a meter whose clock ran ahead) says nothing.
    block_marks = (facts.last_block_collected_at, facts.last_block_end_at, facts.block_read_to)
    block_base = max((t for t in block_marks if t and t <= now), default=None)
    if _elapsed(block_base, policy.block_load_every, now) or (
        policy.block_load_on_reconnect and _reconnected_since(facts, block_base)
    ):
        wanted.add(CollectionJob.BLOCK_LOAD)
    if policy.events_every is not None and (
        _elapsed(facts.last_events_at, policy.events_every, now) or _reconnected_since(facts, facts.last_events_at)
    ):
        wanted.add(CollectionJob.EVENTS)
    if policy.instant_every is not None and _elapsed(facts.last_instant_at, policy.instant_every, now):
        wanted.add(CollectionJob.INSTANT)
    daily_at = expected_daily_capture_at(now, policy, zone)
    if facts.last_daily_at is None or facts.last_daily_at < daily_at - DAILY_TOLERANCE:
        wanted.add(CollectionJob.DAILY)
    billing_at = expected_billing_capture_at(now, policy, zone)
    if facts.last_billing_at is None or facts.last_billing_at < billing_at - BILLING_TOLERANCE:
        wanted.add(CollectionJob.BILLING)
    if _elapsed(facts.last_clock_check_at, policy.clock_check_every, now):
        wanted.add(CollectionJob.CLOCK_CHECK)
    return wanted


def due_jobs(
    facts: CollectionFacts, policy: CollectionPolicy, now: datetime, zone: ZoneInfo
) -> tuple[CollectionJob, ...]:
    """The jobs due for this meter at ``now``, in session order."""
    if not policy.enabled:
        return ()
    due = []
    for job in _wanted(facts, policy, now, zone):
        attempted = facts.last_attempt_at.get(job)
        recent = attempted is not None and now - attempted < policy.min_attempt_gap
        if recent and not _reconnected_since(facts, attempted):
            continue
        due.append(job)
    return tuple(sorted(due, key=JOB_ORDER.index))


# --- overrides -------------------------------------------------------------------------------------

_DURATION = re.compile(r"^\s*(\d+)\s*([smhd])\s*$")
_UNIT_S = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_duration(value: Any) -> timedelta:
    """``"90s"``, ``"15m"``, ``"4h"``, ``"1d"`` or a number of seconds."""
    if isinstance(value, timedelta):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        return timedelta(seconds=value)
    match = _DURATION.match(str(value))
    if match is None:
        raise PolicyError(f"not a duration: {value!r} (use e.g. 90s, 15m, 4h, 1d)")
    return timedelta(seconds=int(match.group(1)) * _UNIT_S[match.group(2)])


_OPTIONAL_JOBS = frozenset({"events_every", "instant_every"})


def _parse_field(name: str, value: Any) -> Any:
    if value is None or value == "off":
        if name in _OPTIONAL_JOBS:
            return None  # that job is switched off
        raise PolicyError(f"{name} cannot be switched off")
    if name in {"daily_after", "billing_after"}:
        if isinstance(value, time):
            return value
        try:
            return time.fromisoformat(str(value))
        except ValueError as exc:
            raise PolicyError(f"{name}: not a time of day: {value!r}") from exc
    if name.endswith(("_every", "_gap")):
        return parse_duration(value)
    if name in {"billing_day", "clock_drift_max_s"}:
        if not isinstance(value, int) or isinstance(value, bool):
            raise PolicyError(f"{name} must be an integer")
        return value
    if name in {"block_load_on_reconnect", "enabled"}:
        if not isinstance(value, bool):
            raise PolicyError(f"{name} must be true or false")
        return value
    raise PolicyError(f"unknown schedule setting {name!r}")


_POLICY_FIELDS = frozenset(f.name for f in fields(CollectionPolicy))


def override(policy: CollectionPolicy, changes: Mapping[str, Any]) -> CollectionPolicy:
    """A copy of ``policy`` with ``changes`` (setting name -> value, strings parsed) applied."""
    unknown = set(changes) - _POLICY_FIELDS
    if unknown:
        raise PolicyError(f"unknown schedule settings: {', '.join(sorted(unknown))}")
    parsed = {name: _parse_field(name, value) for name, value in changes.items()}
    return replace(policy, **parsed)


@dataclass(frozen=True, slots=True)
class ScheduleConfig:
    """The default policy, overrides by group name, then by meter id (the most specific wins)."""

    default: CollectionPolicy = field(default_factory=CollectionPolicy)
    groups: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    meters: Mapping[int, Mapping[str, Any]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for changes in (*self.groups.values(), *self.meters.values()):
            override(self.default, changes)  # validate once, at configuration time

    def policy_for(self, meter_id: int, groups: Sequence[str] = ()) -> CollectionPolicy:
        policy = self.default
        for group in groups:
            if group in self.groups:
                policy = override(policy, self.groups[group])
        if meter_id in self.meters:
            policy = override(policy, self.meters[meter_id])
        return policy
