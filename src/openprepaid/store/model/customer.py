"""Consumers, their verified contacts, and their supply accounts."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import CheckConstraint, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from openprepaid.store.model.base import Base, BigId, id_column, str_enum


class Consumer(Base):
    __tablename__ = "consumer"
    __table_args__ = (UniqueConstraint("utility_id", "consumer_no"),)

    id: Mapped[int] = id_column()
    utility_id: Mapped[int] = mapped_column(ForeignKey("utility.id"), index=True)
    consumer_no: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(200))
    address: Mapped[str] = mapped_column(String(500), default="")
    created_at: Mapped[datetime]


class ContactKind(StrEnum):
    PHONE = "phone"
    EMAIL = "email"


class ConsumerContact(Base):
    """A phone or e-mail; notices go only to contacts with ``verified_at`` set."""

    __tablename__ = "consumer_contact"
    __table_args__ = (UniqueConstraint("consumer_id", "kind", "value"),)

    id: Mapped[int] = id_column()
    consumer_id: Mapped[int] = mapped_column(ForeignKey("consumer.id"), index=True)
    kind: Mapped[ContactKind] = mapped_column(str_enum(ContactKind, "contact_kind"))
    value: Mapped[str] = mapped_column(String(254))
    is_primary: Mapped[bool] = mapped_column(default=False)
    verified_at: Mapped[datetime | None]


class PaymentMode(StrEnum):
    PREPAID = "prepaid"
    POSTPAID = "postpaid"


class AccountStatus(StrEnum):
    ACTIVE = "active"
    CLOSED = "closed"


class Account(Base):
    """A supply account: what is billed. Category keys the tariff and the prepaid rules."""

    __tablename__ = "account"
    __table_args__ = (
        UniqueConstraint("utility_id", "account_no"),
        CheckConstraint("sanctioned_load_w > 0", name="sanctioned_load_positive"),
    )

    id: Mapped[int] = id_column()
    utility_id: Mapped[int] = mapped_column(ForeignKey("utility.id"), index=True)
    consumer_id: Mapped[int] = mapped_column(ForeignKey("consumer.id"), index=True)
    account_no: Mapped[str] = mapped_column(String(64))
    category: Mapped[str] = mapped_column(String(32), index=True)
    sanctioned_load_w: Mapped[int]
    payment_mode: Mapped[PaymentMode] = mapped_column(str_enum(PaymentMode, "payment_mode"))
    # Protection from automatic disconnection (domain.md §2): by category or per account.
    protected: Mapped[bool] = mapped_column(default=False)
    protection_reason: Mapped[str] = mapped_column(String(200), default="")
    supply_node_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("supply_node.id"), index=True)
    tariff_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("tariff.id"), index=True)
    status: Mapped[AccountStatus] = mapped_column(
        str_enum(AccountStatus, "account_status"), default=AccountStatus.ACTIVE
    )
    opened_at: Mapped[datetime]
    # Start of prepaid service; grace periods after a postpaid -> prepaid conversion count from here.
    prepaid_since_at: Mapped[datetime | None]
    closed_at: Mapped[datetime | None]
