"""Meter registry SQL for bulk import and listing: look-ups by natural key, installations."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from openprepaid.store.model import Account, Meter, MeterInstallation, MeterStatus, MeterType, Utility
from openprepaid.store.repository.ledger import chunked


def utility_ids_by_code(session: Session) -> dict[str, int]:
    return {str(code): int(uid) for code, uid in session.execute(select(Utility.code, Utility.id))}


def utility_timezone(session: Session, utility_id: int) -> str | None:
    return session.execute(select(Utility.timezone).where(Utility.id == utility_id)).scalar_one_or_none()


def meter_type_ids_by_code(session: Session) -> dict[str, int]:
    return {str(code): int(tid) for code, tid in session.execute(select(MeterType.code, MeterType.id))}


def account_ids_by_number(session: Session, utility_id: int, account_nos: Sequence[str]) -> dict[str, int]:
    result: dict[str, int] = {}
    for chunk in chunked(list(account_nos)):
        statement = select(Account.account_no, Account.id).where(
            Account.utility_id == utility_id, Account.account_no.in_(chunk)
        )
        result.update({str(no): int(aid) for no, aid in session.execute(statement)})
    return result


def meters_by_serial(session: Session, keys: Sequence[tuple[str, str]]) -> dict[tuple[str, str], Meter]:
    """Existing meters by (manufacturer code, serial)."""
    result: dict[tuple[str, str], Meter] = {}
    serials = sorted({serial for _, serial in keys})
    for chunk in chunked(serials):
        for meter in session.execute(select(Meter).where(Meter.serial.in_(chunk))).scalars():
            result[(meter.manufacturer_code, meter.serial)] = meter
    return {key: result[key] for key in keys if key in result}


def meters_by_system_title(session: Session, titles: Sequence[bytes]) -> dict[bytes, Meter]:
    result: dict[bytes, Meter] = {}
    for chunk in chunked(list(titles)):
        for meter in session.execute(select(Meter).where(Meter.system_title.in_(chunk))).scalars():
            result[bytes(meter.system_title)] = meter
    return result


def open_installation(session: Session, meter_id: int) -> MeterInstallation | None:
    statement = select(MeterInstallation).where(
        MeterInstallation.meter_id == meter_id, MeterInstallation.removed_at.is_(None)
    )
    return session.execute(statement).scalars().first()


def account_has_open_meter(session: Session, account_id: int) -> int | None:
    statement = select(MeterInstallation.meter_id).where(
        MeterInstallation.account_id == account_id, MeterInstallation.removed_at.is_(None)
    )
    found = session.execute(statement).scalars().first()
    return None if found is None else int(found)


def install(session: Session, meter_id: int, account_id: int, at: datetime) -> None:
    session.add(MeterInstallation(meter_id=meter_id, account_id=account_id, installed_at=at))
    session.flush()


@dataclass(frozen=True, slots=True)
class MeterListRow:
    meter_id: int
    serial: str
    manufacturer_code: str
    meter_type: str
    comm_mode: str
    host: str | None
    port: int | None
    status: str
    last_seen_at: datetime | None
    account_no: str | None


def list_meters(
    session: Session, *, utility_id: int | None, status: MeterStatus | None, limit: int
) -> list[MeterListRow]:
    statement = (
        select(
            Meter.id,
            Meter.serial,
            Meter.manufacturer_code,
            MeterType.code,
            Meter.comm_mode,
            Meter.host,
            Meter.port,
            Meter.status,
            Meter.last_seen_at,
            Account.account_no,
        )
        .join(MeterType, MeterType.id == Meter.meter_type_id)
        .outerjoin(
            MeterInstallation,
            (MeterInstallation.meter_id == Meter.id) & MeterInstallation.removed_at.is_(None),
        )
        .outerjoin(Account, Account.id == MeterInstallation.account_id)
        .order_by(Meter.manufacturer_code, Meter.serial)
        .limit(limit)
    )
    if utility_id is not None:
        statement = statement.where(Meter.utility_id == utility_id)
    if status is not None:
        statement = statement.where(Meter.status == status)
    return [
        MeterListRow(
            int(mid),
            serial,
            manufacturer,
            type_code,
            str(getattr(mode, "value", mode)),
            host,
            port,
            str(getattr(state, "value", state)),
            last_seen,
            account_no,
        )
        for mid, serial, manufacturer, type_code, mode, host, port, state, last_seen, account_no in session.execute(
            statement
        )
    ]


def installed_meters_of_utility(
    session: Session, utility_id: int
) -> list[tuple[int, int, str, bytes, str, int | None]]:
    """(meter id, account id, serial, system title, account category, port) of every installed meter, by serial."""
    statement = (
        select(Meter.id, MeterInstallation.account_id, Meter.serial, Meter.system_title, Account.category, Meter.port)
        .join(MeterInstallation, MeterInstallation.meter_id == Meter.id)
        .join(Account, Account.id == MeterInstallation.account_id)
        .where(Meter.utility_id == utility_id, MeterInstallation.removed_at.is_(None))
        .order_by(Meter.serial)
    )
    return [tuple(row) for row in session.execute(statement)]  # type: ignore[misc]
