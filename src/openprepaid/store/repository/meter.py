"""Meters and their sealed credentials. Sealing and opening happen outside the store (openprepaid.keyvault)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from openprepaid.store.model import CredentialKind, Meter, MeterCredential


class UnknownCredentialError(LookupError):
    """No credential of that kind is stored for the meter and association."""


def put_credential(
    session: Session, meter_id: int, client_sap: int, kind: CredentialKind, *, sealed: bytes, now: datetime
) -> None:
    """Store (or replace) an already sealed secret for one association of one meter."""
    existing = session.execute(
        select(MeterCredential).where(
            MeterCredential.meter_id == meter_id,
            MeterCredential.client_sap == client_sap,
            MeterCredential.kind == kind,
        )
    ).scalar_one_or_none()
    if existing is None:
        session.add(MeterCredential(meter_id=meter_id, client_sap=client_sap, kind=kind, sealed=sealed, updated_at=now))
    else:
        existing.sealed = sealed
        existing.updated_at = now
    session.flush()


def get_credential(session: Session, meter_id: int, client_sap: int, kind: CredentialKind) -> bytes:
    sealed = session.execute(
        select(MeterCredential.sealed).where(
            MeterCredential.meter_id == meter_id,
            MeterCredential.client_sap == client_sap,
            MeterCredential.kind == kind,
        )
    ).scalar_one_or_none()
    if sealed is None:
        raise UnknownCredentialError(f"meter {meter_id} has no {kind.value} for client {client_sap}")
    return sealed


def get_credentials(
    session: Session, meter_id: int, client_sap: int, kinds: Sequence[CredentialKind]
) -> dict[CredentialKind, bytes]:
    """The sealed secrets of ``kinds`` for one association, in one query; any missing one is an error."""
    if not kinds:
        return {}
    rows = session.execute(_CREDENTIALS, {"meter_id": meter_id, "client_sap": client_sap, "kinds": list(kinds)})
    found = {CredentialKind(kind): sealed for kind, sealed in rows}
    for kind in kinds:
        if kind not in found:
            raise UnknownCredentialError(f"meter {meter_id} has no {kind.value} for client {client_sap}")
    return found


_CREDENTIALS = select(MeterCredential.kind, MeterCredential.sealed).where(
    MeterCredential.meter_id == bindparam("meter_id"),
    MeterCredential.client_sap == bindparam("client_sap"),
    MeterCredential.kind.in_(bindparam("kinds", expanding=True)),
)


def meter_by_system_title(session: Session, system_title: bytes) -> Meter | None:
    return session.execute(select(Meter).where(Meter.system_title == system_title)).scalar_one_or_none()


def meter_by_serial(session: Session, manufacturer_code: str, serial: str) -> Meter | None:
    return session.execute(
        select(Meter).where(Meter.manufacturer_code == manufacturer_code, Meter.serial == serial)
    ).scalar_one_or_none()
