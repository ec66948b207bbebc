"""Meter types, meters, their sealed credentials, installation history and invocation counters."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, CheckConstraint, ForeignKey, LargeBinary, SmallInteger, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from openprepaid.store.model.base import Base, BigId, id_column, str_enum


class MeterConnection(StrEnum):
    WHOLE_CURRENT = "whole_current"  # IS 16444-1: has a relay
    CT = "ct"  # IS 15959-3 CT / CT-PT: no relay
    CT_PT = "ct_pt"


class MeterType(Base):
    """What a make and model can do; ``object_profile`` lists its profiles' capture columns (OBIS)."""

    __tablename__ = "meter_type"
    __table_args__ = (
        CheckConstraint("phases IN (1, 3)", name="phases_1_or_3"),
        CheckConstraint("capture_period_s IN (900, 1800, 3600)", name="capture_period"),
    )

    id: Mapped[int] = id_column()
    code: Mapped[str] = mapped_column(String(64), unique=True)
    manufacturer: Mapped[str] = mapped_column(String(100))
    model: Mapped[str] = mapped_column(String(100))
    phases: Mapped[int]
    connection: Mapped[MeterConnection] = mapped_column(str_enum(MeterConnection, "meter_connection"))
    has_relay: Mapped[bool]
    capture_period_s: Mapped[int] = mapped_column(default=900)
    object_profile: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # Scalers read once per meter type (domain.md §4), cached here by the HES.
    scalers: Mapped[dict[str, Any] | None] = mapped_column(JSON)


class CommMode(StrEnum):
    DIAL = "dial"  # the HES opens TCP to the meter's modem
    DIAL_IN = "dial_in"  # the meter connects to the HES listener


class Framing(StrEnum):
    WRAPPER = "wrapper"  # IEC 62056-47
    HDLC = "hdlc"  # IEC 62056-46


class MeterStatus(StrEnum):
    IN_STORE = "in_store"
    INSTALLED = "installed"
    REMOVED = "removed"
    FAULTY = "faulty"


class Meter(Base):
    __tablename__ = "meter"
    __table_args__ = (
        UniqueConstraint("manufacturer_code", "serial"),
        CheckConstraint("port IS NULL OR (port > 0 AND port < 65536)", name="port_range"),
    )

    id: Mapped[int] = id_column()
    utility_id: Mapped[int] = mapped_column(ForeignKey("utility.id"), index=True)
    meter_type_id: Mapped[int] = mapped_column(ForeignKey("meter_type.id"), index=True)
    serial: Mapped[str] = mapped_column(String(32))
    manufacturer_code: Mapped[str] = mapped_column(String(3))  # FLAG id, the first 3 system-title bytes
    system_title: Mapped[bytes] = mapped_column(LargeBinary(8), unique=True)
    comm_mode: Mapped[CommMode] = mapped_column(str_enum(CommMode, "comm_mode"))
    host: Mapped[str | None] = mapped_column(String(255))
    port: Mapped[int | None]
    framing: Mapped[Framing] = mapped_column(str_enum(Framing, "framing"), default=Framing.WRAPPER)
    server_address: Mapped[int] = mapped_column(default=1)  # logical device (SAP) 1
    status: Mapped[MeterStatus] = mapped_column(str_enum(MeterStatus, "meter_status"))
    firmware: Mapped[str] = mapped_column(String(64), default="")
    first_seen_at: Mapped[datetime | None]
    last_seen_at: Mapped[datetime | None]
    created_at: Mapped[datetime]
    # The relay as last read back from the meter (never what a command asked for; migration 0010):
    # disconnect control output_state, control_state (0 disconnected, 1 connected, 2 ready), when read.
    relay_connected: Mapped[bool | None]
    relay_control_state: Mapped[int | None] = mapped_column(SmallInteger)
    relay_read_at: Mapped[datetime | None]
    # Block load read up to here, also where the meter held no intervals (migration 0010).
    block_load_read_to: Mapped[datetime | None]
    # A block-load range to read again at the next collection (``meters reread``; migration 0011).
    block_load_reread_from: Mapped[datetime | None]
    block_load_reread_to: Mapped[datetime | None]  # None: up to that collection's time


class CredentialKind(StrEnum):
    LLS_PASSWORD = "lls_password"  # noqa: S105 - a kind name, not a password
    GLOBAL_ENCRYPTION_KEY = "ek"
    AUTHENTICATION_KEY = "ak"
    HLS_SECRET = "hls_secret"  # noqa: S105 - a kind name, not a secret


class MeterCredential(Base):
    """A secret for one association of one meter, sealed by ``openprepaid.keyvault`` (never clear text)."""

    __tablename__ = "meter_credential"
    __table_args__ = (UniqueConstraint("meter_id", "client_sap", "kind"),)

    id: Mapped[int] = id_column()
    meter_id: Mapped[int] = mapped_column(ForeignKey("meter.id"), index=True)
    client_sap: Mapped[int]
    kind: Mapped[CredentialKind] = mapped_column(str_enum(CredentialKind, "credential_kind"))
    sealed: Mapped[bytes] = mapped_column(LargeBinary(256))
    updated_at: Mapped[datetime]


class MeterInstallation(Base):
    """Which meter served which account when; a replacement closes one row and opens another."""

    __tablename__ = "meter_installation"

    id: Mapped[int] = id_column()
    meter_id: Mapped[int] = mapped_column(ForeignKey("meter.id"), index=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("account.id"), index=True)
    installed_at: Mapped[datetime]
    initial_import_wh: Mapped[int] = mapped_column(default=0)
    removed_at: Mapped[datetime | None]
    final_import_wh: Mapped[int | None]
    removal_reason: Mapped[str] = mapped_column(String(200), default="")


class InvocationCounter(Base):
    """Next client invocation counter per meter and association; only ever moves forward."""

    __tablename__ = "invocation_counter"
    __table_args__ = (CheckConstraint("next_value >= 0", name="non_negative"),)

    meter_id: Mapped[int] = mapped_column(BigId, ForeignKey("meter.id"), primary_key=True)
    client_sap: Mapped[int] = mapped_column(BigId, primary_key=True)
    next_value: Mapped[int]
    updated_at: Mapped[datetime]
