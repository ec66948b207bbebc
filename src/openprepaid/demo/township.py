"""Seed a township: a supply hierarchy with 2 feeders and 4 transformers, consumers of several
categories (one protected), their accounts, the given meters with sealed test credentials, and tariffs.

Seeding is idempotent: it runs once per database (keyed by the utility code); a rerun resumes.
The meters' credentials are the simulator's documented TEST credentials, sealed with the
deployment's master key like any production secret.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy.orm import Session

from openprepaid.keyvault import KeyVault, credential_context
from openprepaid.store.model import (
    Account,
    CommMode,
    Consumer,
    ConsumerContact,
    ContactKind,
    CredentialKind,
    Framing,
    Meter,
    MeterConnection,
    MeterInstallation,
    MeterStatus,
    MeterType,
    PaymentMode,
    SupplyLevel,
    SupplyNode,
    Tariff,
    TariffVersion,
    Utility,
)
from openprepaid.store.repository import meter_registry
from openprepaid.store.repository.meter import put_credential

UTILITY_CODE = "DEMO"
TEST_LLS_PASSWORD = b"12345678"  # documented TEST credentials of the simulator, never for real meters
TEST_EK = bytes.fromhex("000102030405060708090A0B0C0D0E0F")
TEST_AK = bytes.fromhex("D0D1D2D3D4D5D6D7D8D9DADBDCDDDEDF")
PROTECTED_CATEGORY = "hospital"
TARIFF_FILE_BY_CATEGORY = {
    "domestic": "delhi-domestic-2019-20.yaml",
    "commercial": "demo-slab-tod-duty-rebate.yaml",
    "industrial": "demo-slab-tod-duty-rebate.yaml",
    PROTECTED_CATEGORY: "delhi-domestic-2019-20.yaml",
}


@dataclass(frozen=True)
class MeterSpec:
    """One simulated meter as the township registers it (taken from the simulator's fleet)."""

    serial: str
    manufacturer_code: str
    system_title: bytes
    category: str
    phases: int
    has_relay: bool
    connection: str
    capture_period_s: int
    sanctioned_load_w: int
    port: int | None


@dataclass(frozen=True)
class SeededMeter:
    meter_id: int
    account_id: int
    serial: str
    system_title: bytes
    category: str
    port: int | None


def seed_township(
    session: Session,
    vault: KeyVault,
    *,
    meters: Sequence[MeterSpec],
    now: datetime,
    tariffs_dir: Path,
    comm_mode: CommMode = CommMode.DIAL,
) -> list[SeededMeter]:
    """Create the township unless it exists; return its meters in serial order either way."""
    existing = meter_registry.utility_ids_by_code(session).get(UTILITY_CODE)
    if existing is not None:
        return [SeededMeter(*row) for row in meter_registry.installed_meters_of_utility(session, existing)]
    utility = Utility(code=UTILITY_CODE, name="Demo Township Power", timezone="Asia/Kolkata", created_at=now)
    session.add(utility)
    session.flush()
    transformers = _seed_hierarchy(session, utility.id)
    tariffs = _seed_tariffs(session, utility.id, tariffs_dir, now)
    types: dict[tuple[int, bool, str, int], int] = {}
    seeded = []
    opened_at = now - timedelta(days=60)
    for index, spec in enumerate(meters):
        type_key = (spec.phases, spec.has_relay, spec.connection, spec.capture_period_s)
        if type_key not in types:
            types[type_key] = _meter_type(session, *type_key)
        consumer = Consumer(
            utility_id=utility.id,
            consumer_no=f"C{index + 1:06d}",
            name=f"Consumer {index + 1}",
            address=f"House {index + 1}, Demo Township",
            created_at=now,
        )
        session.add(consumer)
        session.flush()
        session.add(
            ConsumerContact(
                consumer_id=consumer.id,
                kind=ContactKind.PHONE,
                value=f"+9190000{index + 1:05d}",
                is_primary=True,
                verified_at=now,
            )
        )
        protected = spec.category == PROTECTED_CATEGORY
        account = Account(
            utility_id=utility.id,
            consumer_id=consumer.id,
            account_no=f"A{index + 1:06d}",
            category=spec.category,
            sanctioned_load_w=spec.sanctioned_load_w,
            payment_mode=PaymentMode.PREPAID,
            protected=protected,
            protection_reason="essential service: never disconnected automatically" if protected else "",
            supply_node_id=transformers[index % len(transformers)],
            tariff_id=tariffs.get(spec.category),
            opened_at=opened_at,
            prepaid_since_at=opened_at,
        )
        meter = Meter(
            utility_id=utility.id,
            meter_type_id=types[type_key],
            serial=spec.serial,
            manufacturer_code=spec.manufacturer_code,
            system_title=spec.system_title,
            comm_mode=comm_mode,
            host="127.0.0.1" if spec.port is not None else None,
            port=spec.port,
            framing=Framing.WRAPPER,
            status=MeterStatus.INSTALLED,
            created_at=now,
        )
        session.add_all([account, meter])
        session.flush()
        session.add(MeterInstallation(meter_id=meter.id, account_id=account.id, installed_at=opened_at))
        _seal_test_credentials(session, vault, meter.id, now)
        seeded.append(SeededMeter(meter.id, account.id, spec.serial, spec.system_title, spec.category, spec.port))
    session.flush()
    return seeded


def _seed_hierarchy(session: Session, utility_id: int) -> list[int]:
    """zone > circle > division > subdivision > substation > 2 feeders > 2 transformers each."""
    parent: int | None = None
    for level in list(SupplyLevel)[:5]:
        node = SupplyNode(
            utility_id=utility_id,
            level=level,
            code=f"{level.value.upper()}-1",
            name=f"Demo {level.value}",
            parent_id=parent,
        )
        session.add(node)
        session.flush()
        parent = node.id
    transformers = []
    for feeder_no in (1, 2):
        feeder = SupplyNode(
            utility_id=utility_id,
            level=SupplyLevel.FEEDER,
            code=f"FDR-{feeder_no}",
            name=f"11 kV feeder {feeder_no}",
            parent_id=parent,
        )
        session.add(feeder)
        session.flush()
        for dt_no in (1, 2):
            dt = SupplyNode(
                utility_id=utility_id,
                level=SupplyLevel.DISTRIBUTION_TRANSFORMER,
                code=f"DT-{feeder_no}{dt_no}",
                name=f"DT {feeder_no}.{dt_no} (250 kVA)",
                parent_id=feeder.id,
            )
            session.add(dt)
            session.flush()
            transformers.append(dt.id)
    return transformers


def _seed_tariffs(session: Session, utility_id: int, tariffs_dir: Path, now: datetime) -> dict[str, int]:
    by_file: dict[str, int] = {}
    by_category: dict[str, int] = {}
    for category, file_name in TARIFF_FILE_BY_CATEGORY.items():
        path = tariffs_dir / file_name
        if not path.exists():
            continue
        if file_name not in by_file:
            document = path.read_text(encoding="utf-8")
            tariff = Tariff(utility_id=utility_id, code=path.stem, name=path.stem.replace("-", " "), category=category)
            session.add(tariff)
            session.flush()
            session.add(
                TariffVersion(
                    tariff_id=tariff.id,
                    version=1,
                    effective_from_at=now - timedelta(days=365),
                    document=document,
                    document_sha256=hashlib.sha256(document.encode()).hexdigest(),
                    created_at=now,
                    created_by="demo-seed",
                )
            )
            by_file[file_name] = tariff.id
        by_category[category] = by_file[file_name]
    return by_category


def _meter_type(session: Session, phases: int, has_relay: bool, connection: str, capture_period_s: int) -> int:
    code = f"SIM-{phases}P-{connection.upper()}-{capture_period_s // 60}M"
    known = meter_registry.meter_type_ids_by_code(session).get(code)
    if known is not None:
        return known
    meter_type = MeterType(
        code=code,
        manufacturer="openprepaid simulator",
        model=f"{phases}-phase {connection.replace('_', ' ')}",
        phases=phases,
        connection=MeterConnection(connection),
        has_relay=has_relay,
        capture_period_s=capture_period_s,
        object_profile={},
    )
    session.add(meter_type)
    session.flush()
    return meter_type.id


def _seal_test_credentials(session: Session, vault: KeyVault, meter_id: int, now: datetime) -> None:
    for client_sap, kind, secret in (
        (32, CredentialKind.LLS_PASSWORD, TEST_LLS_PASSWORD),
        (48, CredentialKind.GLOBAL_ENCRYPTION_KEY, TEST_EK),
        (48, CredentialKind.AUTHENTICATION_KEY, TEST_AK),
    ):
        sealed = vault.seal(secret, credential_context(meter_id, client_sap, kind.value))
        put_credential(session, meter_id, client_sap, kind, sealed=sealed, now=now)
