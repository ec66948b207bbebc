"""Seed a reproducible township: a supply hierarchy with 2 feeders and 4 transformers, consumers of
several categories (one protected), their accounts, meters with sealed test credentials, and tariffs.

Seeding is idempotent: it runs once per database (keyed by the utility code); a rerun resumes.
The meters' credentials are the simulator's documented TEST credentials, sealed with the
deployment's master key like any production secret.
"""

from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import select
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
from openprepaid.store.repository.meter import put_credential

UTILITY_CODE = "DEMO"
MANUFACTURER = "OPS"  # three-letter FLAG-style manufacturer code of the simulated meters
TEST_LLS_PASSWORD = b"12345678"  # documented TEST credentials of the simulator, never for real meters
TEST_EK = bytes.fromhex("000102030405060708090A0B0C0D0E0F")
TEST_AK = bytes.fromhex("D0D1D2D3D4D5D6D7D8D9DADBDCDDDEDF")

# (category, share of the township, phases, sanctioned load W, protected reason)
CATEGORY_MIX: tuple[tuple[str, float, int, int, str], ...] = (
    ("domestic", 0.70, 1, 3_000, ""),
    ("commercial", 0.20, 1, 5_000, ""),
    ("industrial", 0.07, 3, 20_000, ""),
    ("hospital", 0.03, 3, 15_000, "essential service: never disconnected automatically"),
)
TARIFF_FILE_BY_CATEGORY = {
    "domestic": "delhi-domestic-2019-20.yaml",
    "commercial": "demo-slab-tod-duty-rebate.yaml",
    "industrial": "demo-slab-tod-duty-rebate.yaml",
    "hospital": "delhi-domestic-2019-20.yaml",
}


@dataclass(frozen=True)
class SeededMeter:
    meter_id: int
    account_id: int
    serial: str
    system_title: bytes
    category: str
    port: int | None


def system_title_for(serial_number: int) -> bytes:
    """Manufacturer code (3 ASCII bytes) + the serial number in 5 bytes, as IS 15959 meters do."""
    return MANUFACTURER.encode("ascii") + serial_number.to_bytes(5, "big")


def seed_township(
    session: Session,
    vault: KeyVault,
    *,
    meters: int,
    seed: int,
    now: datetime,
    tariffs_dir: Path,
    first_port: int | None,
    comm_mode: CommMode = CommMode.DIAL,
) -> list[SeededMeter]:
    """Create the township unless it exists; return its meters in serial order either way."""
    existing = session.execute(select(Utility).where(Utility.code == UTILITY_CODE)).scalar_one_or_none()
    if existing is not None:
        return _load(session, existing.id)
    rng = random.Random(seed)
    utility = Utility(code=UTILITY_CODE, name="Demo Township Power", timezone="Asia/Kolkata", created_at=now)
    session.add(utility)
    session.flush()
    transformers = _seed_hierarchy(session, utility.id)
    tariffs = _seed_tariffs(session, utility.id, tariffs_dir, now)
    types = _seed_meter_types(session)
    seeded = []
    for index in range(meters):
        category, phases, load_w, protected = _pick_category(index, meters, rng)
        serial_number = 10_000_001 + index
        consumer = Consumer(
            utility_id=utility.id,
            consumer_no=f"C{serial_number}",
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
                value=f"+9190000{serial_number % 100000:05d}",
                is_primary=True,
                verified_at=now,
            )
        )
        account = Account(
            utility_id=utility.id,
            consumer_id=consumer.id,
            account_no=f"A{serial_number}",
            category=category,
            sanctioned_load_w=load_w,
            payment_mode=PaymentMode.PREPAID,
            protected=bool(protected),
            protection_reason=protected,
            supply_node_id=transformers[index % len(transformers)],
            tariff_id=tariffs.get(category),
            opened_at=now - timedelta(days=60),
            prepaid_since_at=now - timedelta(days=60),
        )
        serial = f"{serial_number:08d}"
        meter = Meter(
            utility_id=utility.id,
            meter_type_id=types[phases],
            serial=serial,
            manufacturer_code=MANUFACTURER,
            system_title=system_title_for(serial_number),
            comm_mode=comm_mode,
            host="127.0.0.1" if first_port is not None else None,
            port=first_port + index if first_port is not None else None,
            framing=Framing.WRAPPER,
            status=MeterStatus.INSTALLED,
            created_at=now,
        )
        session.add_all([account, meter])
        session.flush()
        session.add(MeterInstallation(meter_id=meter.id, account_id=account.id, installed_at=now - timedelta(days=60)))
        _seal_test_credentials(session, vault, meter.id, now)
        seeded.append(SeededMeter(meter.id, account.id, serial, meter.system_title, category, meter.port))
    session.flush()
    return seeded


def _pick_category(index: int, total: int, rng: random.Random) -> tuple[str, int, int, str]:
    # The last meter is always the protected one, so even a tiny demo shows protection.
    if index == total - 1:
        name, _, phases, load_w, reason = CATEGORY_MIX[-1]
        return name, phases, load_w, reason
    roll = rng.random() * sum(share for _, share, *_ in CATEGORY_MIX[:-1])
    for name, share, phases, load_w, reason in CATEGORY_MIX[:-1]:
        if roll < share:
            return name, phases, load_w, reason
        roll -= share
    name, _, phases, load_w, reason = CATEGORY_MIX[0]
    return name, phases, load_w, reason


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


def _seed_meter_types(session: Session) -> dict[int, int]:
    types = {}
    for phases in (1, 3):
        code = f"SIM-{phases}P-WC"
        meter_type = session.execute(select(MeterType).where(MeterType.code == code)).scalar_one_or_none()
        if meter_type is None:
            meter_type = MeterType(
                code=code,
                manufacturer="openprepaid simulator",
                model=f"{phases}-phase whole current",
                phases=phases,
                connection=MeterConnection.WHOLE_CURRENT,
                has_relay=True,
                capture_period_s=900,
                object_profile={},
            )
            session.add(meter_type)
            session.flush()
        types[phases] = meter_type.id
    return types


def _seal_test_credentials(session: Session, vault: KeyVault, meter_id: int, now: datetime) -> None:
    for client_sap, kind, secret in (
        (32, CredentialKind.LLS_PASSWORD, TEST_LLS_PASSWORD),
        (48, CredentialKind.GLOBAL_ENCRYPTION_KEY, TEST_EK),
        (48, CredentialKind.AUTHENTICATION_KEY, TEST_AK),
    ):
        sealed = vault.seal(secret, credential_context(meter_id, client_sap, kind.value))
        put_credential(session, meter_id, client_sap, kind, sealed=sealed, now=now)


def _load(session: Session, utility_id: int) -> list[SeededMeter]:
    rows = session.execute(
        select(Meter, MeterInstallation.account_id, Account.category)
        .join(MeterInstallation, MeterInstallation.meter_id == Meter.id)
        .join(Account, Account.id == MeterInstallation.account_id)
        .where(Meter.utility_id == utility_id, MeterInstallation.removed_at.is_(None))
        .order_by(Meter.serial)
    ).all()
    return [
        SeededMeter(m.id, account_id, m.serial, m.system_title, category, m.port) for m, account_id, category in rows
    ]
