"""The persistent command queue: enqueue once, claim by priority, confirm only by read-back.

State machine: ``openprepaid.hes.command_state`` (queued -> sent -> confirmed | failed | expired;
queued -> cancelled | expired; sent -> queued on a retryable failure). Rules kept here:

- enqueue is idempotent by ``idempotency_key`` (a retried request finds its command, not a twin);
- a relay command supersedes older queued relay commands of the same meter (the newest intent wins,
  so a late retry of a disconnect can never overtake a reconnect after a recharge);
- claim takes the best command per meter (priority, then age), never for a meter with a command in
  flight, honouring ``not_before_at`` and ``deadline_at``; claiming is the ``send`` transition;
- ``confirm`` refuses unless the read-back proves the effect (``command_verification``);
- failures retry with bounded exponential back-off and jitter, then fail; past the deadline, expire;
- after a crash, commands left ``sent`` are *in doubt*: the worker re-verifies them by reading back,
  never assumes them done (``in_doubt``).

Each method is one unit of work; outcomes are published on ``op.commands.outcome.<meter_id>``
after the commit, with a message id that makes re-publishing harmless.
"""

from __future__ import annotations

import logging
import random
import uuid
from collections.abc import Callable, Collection, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from openprepaid.bus import subjects
from openprepaid.bus.base import Bus
from openprepaid.hes.clock import Clock
from openprepaid.hes.command_records import CommandRequest, CommandView, EnqueueResult
from openprepaid.hes.command_state import TERMINAL_STATES, CommandEvent, next_state
from openprepaid.hes.command_verification import (
    RELAY_KINDS,
    InvalidCommandError,
    ReadBack,
    default_priority,
    validate_params,
    verify_readback,
)
from openprepaid.hes.database import Database
from openprepaid.hes.metrics import HesMetrics
from openprepaid.hes.retry import (
    NonRetryableError,
    ReadbackMismatchError,
    RetryableError,
    RetryPolicy,
    describe,
    is_retryable,
)
from openprepaid.store.model import Command, CommandKind, CommandState
from openprepaid.store.repository import command as repo

log = logging.getLogger(__name__)

MAX_OPEN_PER_METER = 50
CLAIM_SCAN_FACTOR = 4


class ConfirmationRefusedError(NonRetryableError):
    """``confirm`` without a read-back that proves the command took effect."""


class CommandChangedError(RetryableError):
    """The command moved under us (another worker or an operator); re-read and decide again."""


class UnknownCommandError(NonRetryableError):
    """No command with that id."""


class IdempotencyConflictError(NonRetryableError):
    """The idempotency key is taken by a different command (other meter, kind or parameters)."""


class QueueFullError(RetryableError):
    """The meter already has the maximum number of open commands."""


class CommandQueue:
    def __init__(
        self,
        db: Database,
        bus: Bus,
        clock: Clock,
        *,
        rng: random.Random,
        retry_policy: RetryPolicy | None = None,
        policies: Mapping[CommandKind, RetryPolicy] | None = None,
        max_open_per_meter: int = MAX_OPEN_PER_METER,
        metrics: HesMetrics | None = None,
    ) -> None:
        self._db = db
        self._bus = bus
        self._clock = clock
        self._rng = rng
        self._default_policy = retry_policy or RetryPolicy()
        self._policies = dict(policies or {})
        self._max_open = max_open_per_meter
        self._metrics = metrics

    def policy_for(self, kind: CommandKind) -> RetryPolicy:
        return self._policies.get(kind, self._default_policy)

    # --- enqueue -----------------------------------------------------------------------------------

    async def enqueue(self, request: CommandRequest) -> EnqueueResult:
        now = self._clock.now()
        result = await self._db.run(lambda session: self._enqueue(session, request, now))
        if result.created:  # logged once committed: a rolled-back run of the work names no command
            log.info(
                "command %d queued: meter=%d kind=%s actor=%s correlation=%s",
                result.command.id,
                request.meter_id,
                request.kind.value,
                request.actor,
                result.command.correlation_id,
            )
        for command_id in result.superseded:
            view = await self.get(command_id)
            if view is not None:
                await self._publish(view)
        return result

    def _enqueue(self, session: Session, request: CommandRequest, now: datetime) -> EnqueueResult:
        if not request.actor or not request.reason:
            raise InvalidCommandError("a command needs an actor and a reason")
        has_relay = repo.meter_has_relay(session, request.meter_id)
        if has_relay is None:
            raise InvalidCommandError(f"unknown meter {request.meter_id}")
        validate_params(request.kind, request.params, has_relay=has_relay)
        if request.deadline_at is not None and request.deadline_at <= now:
            raise InvalidCommandError("deadline_at is already past")
        if request.idempotency_key is not None:
            existing = repo.command_by_idempotency_key(session, request.idempotency_key)
            if existing is not None:
                return EnqueueResult(self._same_or_conflict(existing, request), created=False)
        if repo.count_open_commands(session, request.meter_id) >= self._max_open:
            raise QueueFullError(f"meter {request.meter_id} has {self._max_open} open commands")
        priority = request.priority if request.priority is not None else int(default_priority(request.kind))
        correlation_id = request.correlation_id or uuid.uuid4().hex
        values = {
            "meter_id": request.meter_id,
            "account_id": request.account_id,
            "kind": request.kind,
            "params": dict(request.params),
            "state": CommandState.QUEUED,
            "priority": priority,
            "actor": request.actor[:100],
            "reason": request.reason[:500],
            "decision": dict(request.decision),
            "correlation_id": correlation_id[:64],
            "idempotency_key": request.idempotency_key,
            "attempts": 0,
            "last_error": "",
            "readback": None,
            "created_at": now,
            "not_before_at": request.not_before_at,
            "deadline_at": request.deadline_at,
            "sent_at": None,
            "completed_at": None,
        }
        new_id = repo.insert_command(session, values)
        if new_id is None:  # a concurrent enqueue with the same key won the insert
            assert request.idempotency_key is not None
            existing = repo.command_by_idempotency_key(session, request.idempotency_key)
            assert existing is not None
            return EnqueueResult(self._same_or_conflict(existing, request), created=False)
        superseded: list[int] = []
        if request.kind in RELAY_KINDS:
            older = repo.open_commands_of_kinds(session, request.meter_id, RELAY_KINDS, [CommandState.QUEUED])
            for row in older:
                if row.id == new_id:
                    continue
                # A worker may have claimed it since it was read: then it is in flight (it cannot be
                # cancelled, its read-back will tell) and the new command simply runs after it.
                moved = self._move(
                    session,
                    row,
                    CommandEvent.CANCEL,
                    now,
                    error=f"superseded by command {new_id}",
                    note={"superseded_by": new_id},
                    raise_on_race=False,
                )
                if moved:
                    superseded.append(row.id)
        created = repo.command_by_id(session, new_id)
        assert created is not None
        return EnqueueResult(CommandView.of(created), created=True, superseded=tuple(superseded))

    @staticmethod
    def _same_or_conflict(existing: Command, request: CommandRequest) -> CommandView:
        if (existing.meter_id, CommandKind(existing.kind), dict(existing.params or {})) != (
            request.meter_id,
            request.kind,
            dict(request.params),
        ):
            raise IdempotencyConflictError(f"idempotency key {request.idempotency_key!r} names another command")
        return CommandView.of(existing)

    # --- claim -------------------------------------------------------------------------------------

    async def claim(self, *, limit: int, busy_meter_ids: Collection[int] = ()) -> list[CommandView]:
        """Take up to ``limit`` commands (at most one per meter) and mark them ``sent``."""
        if limit <= 0:
            return []
        now = self._clock.now()
        return await self._db.run(lambda session: self._claim(session, now, limit, busy_meter_ids))

    def _claim(self, session: Session, now: datetime, limit: int, busy: Collection[int]) -> list[CommandView]:
        candidates = repo.claim_candidates(session, now, busy, limit * CLAIM_SCAN_FACTOR)
        claimed: list[CommandView] = []
        meters: set[int] = set()
        for row in candidates:
            if len(claimed) >= limit:
                break
            if row.meter_id in meters:
                continue
            if self._move(session, row, CommandEvent.SEND, now, sent=True, raise_on_race=False):
                meters.add(row.meter_id)
                moved = repo.command_by_id(session, row.id)
                assert moved is not None
                claimed.append(CommandView.of(moved))
        return claimed

    # --- outcomes ----------------------------------------------------------------------------------

    async def confirm(self, command_id: int, readback: ReadBack | None) -> CommandView:
        """Confirm a sent command; refused (nothing changes) unless ``readback`` proves the effect."""
        now = self._clock.now()
        view = await self._db.run(lambda session: self._confirm(session, command_id, readback, now))
        await self._publish(view)
        return view

    def _confirm(self, session: Session, command_id: int, readback: ReadBack | None, now: datetime) -> CommandView:
        row = self._load(session, command_id)
        verdict = verify_readback(CommandKind(row.kind), row.params or {}, readback)
        if not verdict.ok:
            raise ConfirmationRefusedError(f"command {command_id} not confirmed: {verdict.detail}")
        assert readback is not None
        self._move(
            session,
            row,
            CommandEvent.CONFIRM,
            now,
            readback=readback,
            completed=True,
            note={"verified": verdict.detail},
        )
        return self._view(session, command_id)

    async def complete(self, command_id: int, readback: ReadBack) -> CommandView:
        """The executor's read-back: confirm if it matches, otherwise a failed attempt (retry or fail)."""
        view = await self.get(command_id)
        if view is None:
            raise UnknownCommandError(f"no command {command_id}")
        verdict = verify_readback(view.kind, view.params, readback)
        if verdict.ok:
            return await self.confirm(command_id, readback)
        return await self.attempt_failed(command_id, ReadbackMismatchError(verdict.detail), readback)

    async def attempt_failed(
        self, command_id: int, error: BaseException, readback: ReadBack | None = None
    ) -> CommandView:
        """One attempt failed: retry after back-off, fail (non-retryable or exhausted) or expire."""
        now = self._clock.now()
        # The back-off's jitter is drawn once, outside the unit of work: a batch re-run (group commit)
        # must not draw again and move a seeded head-end's retries.
        jitter_seed = self._rng.getrandbits(64)
        view = await self._db.run(
            lambda session: self._attempt_failed(session, command_id, error, readback, now=now, jitter_seed=jitter_seed)
        )
        await self._publish(view)
        return view

    def _attempt_failed(
        self,
        session: Session,
        command_id: int,
        error: BaseException,
        readback: ReadBack | None,
        *,
        now: datetime,
        jitter_seed: int,
    ) -> CommandView:
        row = self._load(session, command_id)
        kind = CommandKind(row.kind)
        policy = self.policy_for(kind)
        message = describe(error)
        if not is_retryable(error) or not policy.may_retry(row.attempts):
            why = "non-retryable" if not is_retryable(error) else f"gave up after {row.attempts} attempts"
            self._move(
                session,
                row,
                CommandEvent.FAIL,
                now,
                error=message,
                readback=readback,
                completed=True,
                note={"failure": why},
            )
            return self._view(session, command_id)
        retry_at = now + policy.delay(row.attempts, random.Random(jitter_seed))
        if row.deadline_at is not None and retry_at >= row.deadline_at:
            self._move(
                session,
                row,
                CommandEvent.EXPIRE,
                now,
                error=message,
                readback=readback,
                completed=True,
                note={"expiry": "deadline passes before the next attempt"},
            )
            return self._view(session, command_id)
        self._move(session, row, CommandEvent.RETRY, now, error=message, readback=readback, not_before=retry_at)
        newer = kind in RELAY_KINDS and repo.newer_command_exists(
            session, row.meter_id, RELAY_KINDS, row.id, row.created_at
        )
        if newer:
            requeued = self._load(session, command_id)
            self._move(
                session,
                requeued,
                CommandEvent.CANCEL,
                now,
                error=f"superseded after: {message}",
                completed=True,
                note={"superseded": "a newer relay command exists"},
            )
        return self._view(session, command_id)

    async def cancel(self, command_id: int, *, actor: str, reason: str) -> CommandView:
        now = self._clock.now()

        def work(session: Session) -> CommandView:
            row = self._load(session, command_id)
            self._move(
                session,
                row,
                CommandEvent.CANCEL,
                now,
                error=f"cancelled by {actor}: {reason}",
                completed=True,
                note={"cancelled_by": actor, "cancel_reason": reason},
            )
            return self._view(session, command_id)

        view = await self._db.run(work)
        await self._publish(view)
        return view

    async def cancel_matching(
        self,
        kinds: Collection[CommandKind],
        *,
        actor: str,
        reason: str,
        actor_prefix: str | None = None,
        meter_ids: Sequence[int] | None = None,
        limit: int = 10_000,
    ) -> list[CommandView]:
        """Cancel queued commands in bulk (the kill switch for pending automatic disconnections)."""
        return await self._move_many(
            lambda session, _now: repo.queued_matching(
                session, kinds, actor_prefix=actor_prefix, meter_ids=meter_ids, limit=limit
            ),
            CommandEvent.CANCEL,
            f"cancelled by {actor}: {reason}",
            {"cancelled_by": actor, "cancel_reason": reason},
        )

    async def expire_due(self, *, limit: int = 1_000) -> list[CommandView]:
        """Queued commands whose deadline has passed become ``expired``."""
        return await self._move_many(
            lambda session, now: repo.queued_past_deadline(session, now, limit),
            CommandEvent.EXPIRE,
            "deadline passed while queued",
            None,
        )

    async def _move_many(
        self,
        select_rows: Callable[[Session, datetime], list[Command]],
        event: CommandEvent,
        error: str,
        note: Mapping[str, Any] | None,
    ) -> list[CommandView]:
        """One event for many commands in one unit of work; a command that moved meanwhile is skipped."""
        now = self._clock.now()

        def work(session: Session) -> list[CommandView]:
            return [
                self._view(session, row.id)
                for row in select_rows(session, now)
                if self._move(session, row, event, now, error=error, completed=True, note=note, raise_on_race=False)
            ]

        views = await self._db.run(work)
        for view in views:
            await self._publish(view)
        return views

    async def in_doubt(self, *, stale_after: timedelta = timedelta(0), limit: int = 1_000) -> list[CommandView]:
        """Commands ``sent`` for at least ``stale_after``: after a restart, all of them (stale_after=0)."""
        cutoff = self._clock.now() - stale_after
        return await self._db.run(lambda session: [CommandView.of(r) for r in repo.sent_before(session, cutoff, limit)])

    async def get(self, command_id: int) -> CommandView | None:
        def work(session: Session) -> CommandView | None:
            row = repo.command_by_id(session, command_id)
            return None if row is None else CommandView.of(row)

        return await self._db.run(work)

    async def depth(self) -> dict[CommandState, int]:
        depth = await self._db.run(repo.depth_by_state)
        if self._metrics is not None:
            for state in CommandState:
                self._metrics.command_queue_depth.labels(state=state.value).set(depth.get(state, 0))
        return depth

    # --- internals ---------------------------------------------------------------------------------

    @staticmethod
    def _load(session: Session, command_id: int) -> Command:
        row = repo.command_by_id(session, command_id)
        if row is None:
            raise UnknownCommandError(f"no command {command_id}")
        return row

    def _view(self, session: Session, command_id: int) -> CommandView:
        return CommandView.of(self._load(session, command_id))

    @staticmethod
    def _move(
        session: Session,
        row: Command,
        event: CommandEvent,
        now: datetime,
        *,
        error: str | None = None,
        readback: ReadBack | None = None,
        not_before: datetime | None = None,
        sent: bool = False,
        completed: bool = False,
        note: Mapping[str, Any] | None = None,
        raise_on_race: bool = True,
    ) -> bool:
        current = CommandState(row.state)
        target = next_state(current, event)  # IllegalTransitionError for a pair the table refuses
        values: dict[str, Any] = {"state": target}
        if error is not None:
            values["last_error"] = error[:500]
        if readback is not None:
            values["readback"] = readback.to_json()
        if event is CommandEvent.RETRY:
            values["not_before_at"] = not_before
        if sent:
            values["sent_at"] = now
        if completed or target in TERMINAL_STATES:
            values["completed_at"] = now
        if note:
            history = list((row.decision or {}).get("history", []))[-20:]
            history.append({"at": now.isoformat(), "event": event.value, **note})
            values["decision"] = {**(row.decision or {}), "history": history}
        moved = repo.change_state(session, row.id, current, values, count_attempt=event is CommandEvent.SEND)
        if not moved and raise_on_race:
            raise CommandChangedError(f"command {row.id} is no longer {current.value}")
        return moved

    async def _publish(self, view: CommandView) -> None:
        if self._metrics is not None:
            self._metrics.command_outcomes.labels(kind=view.kind.value, state=view.state.value).inc()
            if view.state in TERMINAL_STATES and view.completed_at is not None:
                elapsed = (view.completed_at - view.created_at).total_seconds()
                self._metrics.command_seconds.labels(kind=view.kind.value, state=view.state.value).observe(elapsed)
        msg_id = f"command-outcome:{view.id}:{view.state.value}:{view.attempts}"
        await self._bus.publish_json(
            subjects.for_meter(subjects.COMMAND_OUTCOMES, view.meter_id), view.outcome(), msg_id=msg_id
        )
