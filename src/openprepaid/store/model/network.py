"""The utility and its supply hierarchy: zone > circle > division > subdivision > substation > feeder > DT."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from openprepaid.store.model.base import Base, BigId, id_column, str_enum


class Utility(Base):
    """A DISCOM, township, industrial estate or complex operating prepaid meters."""

    __tablename__ = "utility"

    id: Mapped[int] = id_column()
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    timezone: Mapped[str] = mapped_column(String(64), default="Asia/Kolkata")
    created_at: Mapped[datetime]


class SupplyLevel(StrEnum):
    """Levels of the supply hierarchy, top to bottom."""

    ZONE = "zone"
    CIRCLE = "circle"
    DIVISION = "division"
    SUBDIVISION = "subdivision"
    SUBSTATION = "substation"
    FEEDER = "feeder"
    DISTRIBUTION_TRANSFORMER = "dt"

    @property
    def parent_level(self) -> SupplyLevel | None:
        order = list(SupplyLevel)
        index = order.index(self)
        return order[index - 1] if index else None


class SupplyNode(Base):
    """One node of the hierarchy; a node's parent is exactly one level above (checked by the repository)."""

    __tablename__ = "supply_node"
    __table_args__ = (UniqueConstraint("utility_id", "level", "code"),)

    id: Mapped[int] = id_column()
    utility_id: Mapped[int] = mapped_column(ForeignKey("utility.id"), index=True)
    level: Mapped[SupplyLevel] = mapped_column(str_enum(SupplyLevel, "supply_level"))
    code: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(200))
    parent_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("supply_node.id"), index=True)
