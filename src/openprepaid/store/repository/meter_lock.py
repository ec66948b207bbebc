"""A meter's row as a lock: units of work that read and then change state derived per meter run one
after the other on PostgreSQL.

``FOR NO KEY UPDATE`` is the lock ``UPDATE meter ...`` (``mark_seen``) takes itself, so a unit of work
that marks the meter seen first takes nothing new, and inserts that reference the meter (their
``KEY SHARE`` locks) neither block it nor deadlock with it. SQLite has no row locks and needs none:
its writing transactions (``BEGIN IMMEDIATE``) already run one at a time.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from openprepaid.store.model import Meter


def lock_meter(session: Session, meter_id: int) -> bool:
    """Lock the meter's row until the transaction ends (waiting for a transaction holding it); False if
    there is no such meter."""
    statement = select(Meter.id).where(Meter.id == meter_id).with_for_update(key_share=True)
    return session.execute(statement).scalar_one_or_none() is not None
