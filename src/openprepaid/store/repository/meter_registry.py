"""Meter registry SQL for bulk import, listing and showing meters: look-ups by natural key, installations."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Row, Select, select
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
    has_relay: bool = False
    # The relay as last read back from the meter (migration 0010); all None until read once.
    relay_connected: bool | None = None
    relay_control_state: int | None = None
    relay_read_at: datetime | None = None
    timezone: str = "Asia/Kolkata"  # the utility's


def _meter_rows() -> Select[*tuple[Any, ...]]:
    return (
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
            MeterType.has_relay,
            Meter.relay_connected,
            Meter.relay_control_state,
            Meter.relay_read_at,
            Utility.timezone,
        )
        .join(MeterType, MeterType.id == Meter.meter_type_id)
        .join(Utility, Utility.id == Meter.utility_id)
        .outerjoin(
            MeterInstallation,
            (MeterInstallation.meter_id == Meter.id) & MeterInstallation.removed_at.is_(None),
        )
        .outerjoin(Account, Account.id == MeterInstallation.account_id)
    )


def _list_row(row: Row[*tuple[Any, ...]]) -> MeterListRow:
    (mid, serial, manufacturer, type_code, mode, host, port, state, last_seen, account_no, *relay, zone) = row
    has_relay, connected, control_state, read_at = relay
    return MeterListRow(
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
        bool(has_relay),
        connected,
        control_state,
        read_at,
        zone,
    )


def list_meters(
    session: Session, *, utility_id: int | None, status: MeterStatus | None, limit: int
) -> list[MeterListRow]:
    statement = _meter_rows().order_by(Meter.manufacturer_code, Meter.serial).limit(limit)
    if utility_id is not None:
        statement = statement.where(Meter.utility_id == utility_id)
    if status is not None:
        statement = statement.where(Meter.status == status)
    return [_list_row(row) for row in session.execute(statement)]


def meter_row(session: Session, meter_id: int) -> MeterListRow | None:
    """One meter as ``list_meters`` shows it; ``None`` for an unknown id."""
    row = session.execute(_meter_rows().where(Meter.id == meter_id)).first()
    return None if row is None else _list_row(row)


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
