"""Tariffs and their versions: a version takes effect at ``effective_from_at`` for every account on it."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from openprepaid.store.model.base import Base, id_column


class Tariff(Base):
    __tablename__ = "tariff"
    __table_args__ = (UniqueConstraint("utility_id", "code"),)

    id: Mapped[int] = id_column()
    utility_id: Mapped[int] = mapped_column(ForeignKey("utility.id"), index=True)
    code: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(200))
    category: Mapped[str] = mapped_column(String(32))


class TariffVersion(Base):
    """An immutable tariff document; corrections are new versions, never edits."""

    __tablename__ = "tariff_version"
    __table_args__ = (
        UniqueConstraint("tariff_id", "version"),
        UniqueConstraint("tariff_id", "effective_from_at"),
    )

    id: Mapped[int] = id_column()
    tariff_id: Mapped[int] = mapped_column(ForeignKey("tariff.id"), index=True)
    version: Mapped[int]
    effective_from_at: Mapped[datetime]
    # The document as written (YAML), and its digest for audit.
    document: Mapped[str] = mapped_column(Text)
    document_sha256: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime]
    created_by: Mapped[str] = mapped_column(String(100))
