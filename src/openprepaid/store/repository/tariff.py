"""Tariffs and their immutable versions (documents); the wallet parses and picks the one in force."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from openprepaid.store.model import Tariff, TariffVersion
from openprepaid.store.repository.ledger import among, chunked


class DuplicateTariffVersionError(Exception):
    """The tariff already has a version with that number or that effective time."""


@dataclass(frozen=True, slots=True)
class TariffRow:
    id: int
    utility_id: int
    code: str
    name: str
    category: str


@dataclass(frozen=True, slots=True)
class TariffVersionRow:
    id: int
    tariff_id: int
    version: int
    effective_from_at: datetime
    document: str
    document_sha256: str
    created_at: datetime
    created_by: str


_VERSION_COLUMNS = (
    TariffVersion.id,
    TariffVersion.tariff_id,
    TariffVersion.version,
    TariffVersion.effective_from_at,
    TariffVersion.document,
    TariffVersion.document_sha256,
    TariffVersion.created_at,
    TariffVersion.created_by,
)


def tariff(session: Session, tariff_id: int) -> TariffRow | None:
    statement = select(Tariff.id, Tariff.utility_id, Tariff.code, Tariff.name, Tariff.category).where(
        Tariff.id == tariff_id
    )
    row = session.execute(statement).one_or_none()
    return None if row is None else TariffRow(*row)


def insert_tariff(session: Session, *, utility_id: int, code: str, name: str, category: str) -> int:
    statement = (
        insert(Tariff).values(utility_id=utility_id, code=code, name=name, category=category).returning(Tariff.id)
    )
    return int(session.execute(statement).scalar_one())


def latest_version_number(session: Session, tariff_id: int) -> int:
    statement = select(func.coalesce(func.max(TariffVersion.version), 0)).where(TariffVersion.tariff_id == tariff_id)
    return int(session.execute(statement).scalar_one())


def insert_version(
    session: Session,
    *,
    tariff_id: int,
    version: int,
    effective_from_at: datetime,
    document: str,
    document_sha256: str,
    created_at: datetime,
    created_by: str,
) -> int:
    try:
        with session.begin_nested():
            statement = (
                insert(TariffVersion)
                .values(
                    tariff_id=tariff_id,
                    version=version,
                    effective_from_at=effective_from_at,
                    document=document,
                    document_sha256=document_sha256,
                    created_at=created_at,
                    created_by=created_by,
                )
                .returning(TariffVersion.id)
            )
            return int(session.execute(statement).scalar_one())
    except IntegrityError as exc:
        raise DuplicateTariffVersionError(str(exc.orig)) from exc


def versions_of(session: Session, tariff_ids: Sequence[int]) -> dict[int, list[TariffVersionRow]]:
    """Every version of each tariff, oldest effective time first."""
    result: dict[int, list[TariffVersionRow]] = {tariff_id: [] for tariff_id in tariff_ids}
    for chunk in chunked(sorted(set(tariff_ids))):
        statement = (
            select(*_VERSION_COLUMNS)
            .where(among(session, TariffVersion.tariff_id, chunk))
            .order_by(TariffVersion.tariff_id, TariffVersion.effective_from_at)
        )
        for row in session.execute(statement):
            result[row.tariff_id].append(TariffVersionRow(*row))
    return result
