"""Command queue SQL: insert-once by idempotency key, claim by priority, guarded state changes.

Every state change is ``UPDATE ... WHERE id = :id AND state = :expected`` and reports whether it
happened, so two workers (or a worker and an operator) can never both move the same command: the
loser sees ``False`` and re-reads. The state machine itself lives in ``openprepaid.hes.command_state``.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import CursorResult, and_, exists, func, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session, aliased

from openprepaid.store.model import Command, CommandKind, CommandState, Meter, MeterType


def command_by_id(session: Session, command_id: int) -> Command | None:
    return session.get(Command, command_id, populate_existing=True)


def command_by_idempotency_key(session: Session, key: str) -> Command | None:
    statement = select(Command).where(Command.idempotency_key == key).execution_options(populate_existing=True)
    return session.execute(statement).scalar_one_or_none()


def insert_command(session: Session, values: Mapping[str, Any]) -> int | None:
    """Insert one command; ``None`` when its idempotency key is already taken (nothing inserted)."""
    dialect = session.get_bind().dialect.name
    insert: Any = postgresql.insert if dialect == "postgresql" else sqlite.insert
    statement = (
        insert(Command)
        .values(**values)
        .on_conflict_do_nothing(index_elements=["idempotency_key"])
        .returning(Command.id)
    )
    inserted = session.execute(statement).scalar_one_or_none()
    return None if inserted is None else int(inserted)


def meter_has_relay(session: Session, meter_id: int) -> bool | None:
    """Whether the meter's type has a relay; ``None`` for an unknown meter."""
    statement = select(MeterType.has_relay).join(Meter, Meter.meter_type_id == MeterType.id).where(Meter.id == meter_id)
    value = session.execute(statement).scalar_one_or_none()
    return None if value is None else bool(value)


def count_open_commands(session: Session, meter_id: int) -> int:
    statement = select(func.count()).where(
        Command.meter_id == meter_id, Command.state.in_([CommandState.QUEUED, CommandState.SENT])
    )
    return int(session.execute(statement).scalar_one())


def open_commands_of_kinds(
    session: Session, meter_id: int, kinds: Collection[CommandKind], states: Collection[CommandState]
) -> list[Command]:
    statement = (
        select(Command)
        .where(Command.meter_id == meter_id, Command.kind.in_(list(kinds)), Command.state.in_(list(states)))
        .order_by(Command.created_at, Command.id)
    )
    return list(session.execute(statement).scalars())


def newer_command_exists(
    session: Session, meter_id: int, kinds: Collection[CommandKind], than_id: int, created_at: datetime
) -> bool:
    """Is there a non-terminal command of ``kinds`` for the meter created after the given one?"""
    statement = select(
        exists().where(
            Command.meter_id == meter_id,
            Command.kind.in_(list(kinds)),
            Command.state.in_([CommandState.QUEUED, CommandState.SENT]),
            Command.id != than_id,
            or_(Command.created_at > created_at, and_(Command.created_at == created_at, Command.id > than_id)),
        )
    )
    return bool(session.execute(statement).scalar_one())


def claim_candidates(session: Session, now: datetime, exclude_meter_ids: Collection[int], limit: int) -> list[Command]:
    """Queued commands that may run now, best first; meters with a command in flight are left out."""
    in_flight = aliased(Command)
    busy_in_db = exists().where(in_flight.meter_id == Command.meter_id, in_flight.state == CommandState.SENT)
    statement = (
        select(Command)
        .where(
            Command.state == CommandState.QUEUED,
            or_(Command.not_before_at.is_(None), Command.not_before_at <= now),
            or_(Command.deadline_at.is_(None), Command.deadline_at > now),
            ~busy_in_db,
        )
        .order_by(Command.priority.desc(), Command.created_at, Command.id)
        .limit(limit)
    )
    if exclude_meter_ids:
        statement = statement.where(Command.meter_id.not_in(list(exclude_meter_ids)))
    return list(session.execute(statement).scalars())


def change_state(
    session: Session, command_id: int, expected: CommandState, values: Mapping[str, Any], *, count_attempt: bool = False
) -> bool:
    """Move one command if (and only if) it is still in ``expected``; True when it moved."""
    assignments = dict(values)
    if count_attempt:
        assignments["attempts"] = Command.attempts + 1
    statement = (
        update(Command)
        .where(Command.id == command_id, Command.state == expected)
        .values(**assignments)
        .execution_options(synchronize_session=False)
    )
    result: CursorResult[Any] = session.execute(statement)  # type: ignore[assignment]
    return int(result.rowcount) == 1


def queued_past_deadline(session: Session, now: datetime, limit: int) -> list[Command]:
    statement = (
        select(Command)
        .where(Command.state == CommandState.QUEUED, Command.deadline_at.is_not(None), Command.deadline_at <= now)
        .order_by(Command.deadline_at, Command.id)
        .limit(limit)
    )
    return list(session.execute(statement).scalars())


def sent_before(session: Session, sent_at_or_before: datetime, limit: int) -> list[Command]:
    """Commands in flight since at least the given time (a crashed or stuck worker's)."""
    statement = (
        select(Command)
        .where(Command.state == CommandState.SENT, Command.sent_at <= sent_at_or_before)
        .order_by(Command.priority.desc(), Command.sent_at, Command.id)
        .limit(limit)
    )
    return list(session.execute(statement).scalars())


def queued_matching(
    session: Session,
    kinds: Collection[CommandKind],
    *,
    actor_prefix: str | None,
    meter_ids: Sequence[int] | None,
    limit: int,
) -> list[Command]:
    statement = select(Command).where(Command.state == CommandState.QUEUED, Command.kind.in_(list(kinds)))
    if actor_prefix is not None:
        statement = statement.where(Command.actor.startswith(actor_prefix, autoescape=True))
    if meter_ids is not None:
        statement = statement.where(Command.meter_id.in_(list(meter_ids)))
    return list(session.execute(statement.order_by(Command.id).limit(limit)).scalars())


def depth_by_state(session: Session) -> dict[CommandState, int]:
    statement = select(Command.state, func.count()).group_by(Command.state)
    return {CommandState(state): int(count) for state, count in session.execute(statement)}
