"""Register a simulated fleet's meters in the head-end's database (tests and benches).

The simulator's meters (``openprepaid.simulator``) carry the documented TEST credentials; here they
become registry rows like any imported meter: serial, system title (manufacturer code + serial
number, as the simulator derives it), meter type by code (created from ``openprepaid.meters`` when
missing), address (meter i on ``first_port + i``, or dial-in), and the secrets sealed by the vault.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

import pytest
from sqlalchemy import Engine, insert, select
from sqlalchemy.orm import Session, sessionmaker

from openprepaid.keyvault import KeyVault, credential_context
from openprepaid.meters.meter_types import METER_TYPES
from openprepaid.simulator.meter_security import TEST_KEYS, TEST_PASSWORD, system_title_for
from openprepaid.store import migrate
from openprepaid.store.engine import make_engine
from openprepaid.store.model import (
    CommMode,
    CredentialKind,
    Framing,
    Meter,
    MeterConnection,
    MeterCredential,
    MeterStatus,
    MeterType,
    Utility,
)

HES_SYSTEM_TITLE = b"OPHES001"
T_REGISTERED = datetime(2025, 1, 1, tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class SimulatedMeter:
    """What the registry needs to know of one simulated meter: its serial and meter type code."""

    serial: str
    type_code: str


def fleet_meters(fleet: object) -> list[SimulatedMeter]:
    """The (serial, type) of every meter of an ``openprepaid.simulator.fleet.Fleet``."""
    return [SimulatedMeter(m.serial, m.meter_type.code) for m in fleet]  # type: ignore[attr-defined]


def _meter_type_ids(session: Session, codes: set[str]) -> dict[str, int]:
    found = {code: id_ for id_, code in session.execute(select(MeterType.id, MeterType.code))}
    for code in sorted(codes - set(found)):
        model = METER_TYPES[code]
        row = MeterType(
            code=code,
            manufacturer=model.manufacturer,
            model=model.description,
            phases=model.phases,
            connection=MeterConnection(model.connection.value),
            has_relay=model.has_relay,
            capture_period_s=model.capture_period_s,
            object_profile={},
        )
        session.add(row)
        session.flush()
        found[code] = row.id
    return found


def register_fleet(
    sessions: sessionmaker[Session],
    vault: KeyVault,
    meters: Sequence[SimulatedMeter],
    *,
    first_port: int | None,
    host: str = "127.0.0.1",
    comm_mode: CommMode = CommMode.DIAL,
    framing: Framing = Framing.WRAPPER,
    utility_code: str = "SIM",
    status: MeterStatus = MeterStatus.INSTALLED,
) -> list[int]:
    """Insert the meters (bulk) with sealed TEST credentials; returns their ids in fleet order."""
    with sessions.begin() as session:
        utility_id = session.execute(select(Utility.id).where(Utility.code == utility_code)).scalar_one_or_none()
        if utility_id is None:
            utility = Utility(code=utility_code, name="Simulated fleet", created_at=T_REGISTERED)
            session.add(utility)
            session.flush()
            utility_id = utility.id
        type_ids = _meter_type_ids(session, {meter.type_code for meter in meters})
        rows = [
            {
                "utility_id": utility_id,
                "meter_type_id": type_ids[meter.type_code],
                "serial": meter.serial,
                "manufacturer_code": meter.serial[:3],
                "system_title": system_title_for(meter.serial, meter.serial[:3]),
                "comm_mode": comm_mode,
                "host": host if comm_mode is CommMode.DIAL else None,
                "port": first_port + index if comm_mode is CommMode.DIAL and first_port is not None else None,
                "framing": framing,
                "server_address": 1,
                "status": status,
                "firmware": "",
                "created_at": T_REGISTERED,
            }
            for index, meter in enumerate(meters)
        ]
        session.execute(insert(Meter), rows)
        serials = [meter.serial for meter in meters]
        by_serial = dict(session.execute(select(Meter.serial, Meter.id).where(Meter.utility_id == utility_id)).all())
        ids = [int(by_serial[serial]) for serial in serials]
        secrets = (
            (32, CredentialKind.LLS_PASSWORD, TEST_PASSWORD),
            (48, CredentialKind.GLOBAL_ENCRYPTION_KEY, TEST_KEYS.global_unicast),
            (48, CredentialKind.AUTHENTICATION_KEY, TEST_KEYS.authentication),
        )
        credentials = [
            {
                "meter_id": meter_id,
                "client_sap": sap,
                "kind": kind,
                "sealed": vault.seal(secret, credential_context(meter_id, sap, kind.value)),
                "updated_at": T_REGISTERED,
            }
            for meter_id in ids
            for sap, kind, secret in secrets
        ]
        session.execute(insert(MeterCredential), credentials)
    return ids


def sqlite_engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    """A migrated SQLite database for a module whose subject does not depend on the backend.

    Use as ``migrated_engine = pytest.fixture(scope="module")(sqlite_engine)`` to run that module's
    ``hes_sessions`` tests on SQLite only (the database paths run on both backends elsewhere).
    """
    url = f"sqlite:///{tmp_path_factory.mktemp('db') / 'hes.sqlite3'}"
    migrate.upgrade(url)
    engine = make_engine(url)
    try:
        yield engine
    finally:
        engine.dispose()
