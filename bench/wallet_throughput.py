"""Wallet charging throughput: rate and post one day of 96 block-load intervals per account.

    python bench/wallet_throughput.py --accounts 100000 [--batch-meters 5000] [--backends sqlite,postgres]
        [--sqlite-processes 1] [--postgres-processes 2]

For each backend: a fresh database (SQLite file in a temp dir; a scratch PostgreSQL database on
127.0.0.1:5432 as user postgres, dropped afterwards) migrated with Alembic, seeded with one utility,
the demo tariff ``examples/tariffs/demo-slab-tod-duty-rebate.yaml`` (slabs + ToD + fixed + duty
+ rebate), N consumers with one meter
each. Timed: ``charge_intervals`` over all meters in batches (one unit of work each, committed), by
worker processes each with its own engine and connection, as a deployment runs charging workers
(PostgreSQL: 2 by default; SQLite: 1, its writer lock serialises units of work anyway), then the
day's fixed charge for every account; the ledger audit runs afterwards (untimed) and must pass.
Also reported: the CPU seconds of the benchmark and its worker processes (the machine is shared:
wall-clock figures depend on what else runs), of the PostgreSQL backends serving them (read from
/proc: the server runs on this machine), the fixed charge's share of both, and the load average.
Last line: JSON ``{"accounts", "intervals", "sqlite_intervals_per_s", "postgres_intervals_per_s", ...}``.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import resource
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, insert, text
from sqlalchemy.orm import Session

from openprepaid.store import migrate
from openprepaid.store.engine import make_engine, make_session_factory
from openprepaid.store.model import (
    Account,
    Consumer,
    LedgerAccount,
    Meter,
    MeterInstallation,
    MeterType,
    Utility,
)
from openprepaid.store.repository import tariff as tariff_repo
from openprepaid.wallet import ledger
from openprepaid.wallet.charging import ChargingPolicy, MeterIntervals, charge_intervals
from openprepaid.wallet.chart_of_accounts import ConsumerLedger, consumer_ledger_key, open_utility_ledgers
from openprepaid.wallet.fixed_charge import charge_daily_fixed
from openprepaid.wallet.tariff_store import TariffCatalog, add_version
from openprepaid.wallet.unit_of_work import run_unit_of_work

ROOT = Path(__file__).resolve().parents[1]
PG_ADMIN = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
DAY = date(2026, 11, 3)
SEEDED_AT = datetime(2026, 1, 1, tzinfo=UTC)
NOW = datetime(2026, 11, 4, 1, 0, tzinfo=UTC)


DEMO_TARIFF = ROOT / "examples" / "tariffs" / "demo-slab-tod-duty-rebate.yaml"


@contextmanager
def scratch_database(backend: str) -> Iterator[str]:
    """URL of an empty database for one run: a SQLite file in a temp dir, or a PostgreSQL database on
    127.0.0.1:5432 created for the run and dropped afterwards."""
    if backend == "sqlite":
        with tempfile.TemporaryDirectory() as tmp:
            yield f"sqlite:///{tmp}/bench.sqlite3"
        return
    name = f"openprepaid_bench_{uuid.uuid4().hex[:8]}"
    admin = create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield PG_ADMIN.rsplit("/", 1)[0] + f"/{name}"
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def tariff_source() -> tuple[str, Callable[[str], Any], str]:
    """(document, parser, where from): the tariff helper's demo file, parsed by its YAML loader."""
    from openprepaid.wallet.tariff_document import parse_tariff  # noqa: PLC0415

    return DEMO_TARIFF.read_text(encoding="utf-8"), parse_tariff, str(DEMO_TARIFF.relative_to(ROOT))


def seed(session: Session, accounts: int, document: str, catalog: TariffCatalog) -> list[int]:
    """Utility, tariff, N accounts with ledgers and one installed meter each; returns meter ids."""
    utility = Utility(code=f"B{uuid.uuid4().hex[:6]}", name="Bench", timezone="Asia/Kolkata", created_at=SEEDED_AT)
    session.add(utility)
    meter_type = MeterType(
        code=f"T{uuid.uuid4().hex[:6]}",
        manufacturer="B",
        model="1P",
        phases=1,
        connection="whole_current",
        has_relay=True,
        capture_period_s=900,
        object_profile={},
    )
    session.add(meter_type)
    session.flush()
    open_utility_ledgers(session, utility.id)
    tariff_id = tariff_repo.insert_tariff(
        session, utility_id=utility.id, code=catalog.parse(document).code, name="demo", category="domestic"
    )
    add_version(session, catalog, tariff_id=tariff_id, document=document, created_by="bench", now=SEEDED_AT)
    connection = session.connection()
    connection.execute(
        insert(Consumer),
        [
            {"utility_id": utility.id, "consumer_no": f"C{i}", "name": "c", "address": "", "created_at": SEEDED_AT}
            for i in range(accounts)
        ],
    )
    consumer_ids = [row[0] for row in connection.execute(text("SELECT id FROM consumer ORDER BY id"))]
    connection.execute(
        insert(Account),
        [
            {
                "utility_id": utility.id,
                "consumer_id": cid,
                "account_no": f"A{i}",
                "category": "domestic",
                "sanctioned_load_w": 3000 + 1000 * (i % 4),
                "payment_mode": "prepaid",
                "protected": False,
                "protection_reason": "",
                "tariff_id": tariff_id,
                "status": "active",
                "opened_at": SEEDED_AT,
            }
            for i, cid in enumerate(consumer_ids)
        ],
    )
    account_ids = [row[0] for row in connection.execute(text("SELECT id FROM account ORDER BY id"))]
    connection.execute(
        insert(Meter),
        [
            {
                "utility_id": utility.id,
                "meter_type_id": meter_type.id,
                "serial": f"S{i:09d}",
                "manufacturer_code": "OPP",
                "system_title": b"OPP" + i.to_bytes(5, "big"),
                "comm_mode": "dial",
                "host": None,
                "port": None,
                "framing": "wrapper",
                "server_address": 1,
                "status": "installed",
                "firmware": "",
                "created_at": SEEDED_AT,
            }
            for i in range(accounts)
        ],
    )
    meter_ids = [row[0] for row in connection.execute(text("SELECT id FROM meter ORDER BY id"))]
    connection.execute(
        insert(MeterInstallation),
        [
            {
                "meter_id": m,
                "account_id": a,
                "installed_at": SEEDED_AT,
                "initial_import_wh": 0,
                "removed_at": None,
                "final_import_wh": None,
                "removal_reason": "",
            }
            for m, a in zip(meter_ids, account_ids, strict=True)
        ],
    )
    connection.execute(
        insert(LedgerAccount),
        [
            {
                "utility_id": utility.id,
                "key": consumer_ledger_key(a, code),
                "account_id": a,
                "code": code.value,
                "balance_paise": 0,
                "version": 0,
            }
            for a in account_ids
            for code in ConsumerLedger
        ],
    )
    return meter_ids


def day_profile(meter_index: int) -> list[int]:
    """96 interval energies (Wh): a daily shape with an evening peak, varied per meter."""
    base = 40 + meter_index % 60
    return [base + (60 if 72 <= i < 88 else 0) + (i * 7 + meter_index) % 25 for i in range(96)]


def day_ends() -> list[datetime]:
    """The 96 interval ends of DAY in IST (00:15 ... 24:00), as aware UTC datetimes."""
    midnight_ist = datetime(DAY.year, DAY.month, DAY.day, tzinfo=UTC) - timedelta(hours=5, minutes=30)
    return [midnight_ist + timedelta(minutes=15 * (i + 1)) for i in range(96)]


class ServerCpu:
    """CPU seconds of the PostgreSQL backends serving our sessions, read from /proc (the server runs on
    this machine in the benchmark; ``None`` elsewhere or on SQLite)."""

    def __init__(self) -> None:
        self.first: dict[int, float] = {}

    def see(self, session: Session) -> None:
        if session.get_bind().dialect.name != "postgresql":
            return
        pid = int(session.execute(text("SELECT pg_backend_pid()")).scalar_one())
        if pid not in self.first:
            self.first[pid] = _process_cpu(pid) or 0.0

    def seconds(self) -> float | None:
        if not self.first:
            return None
        now = [_process_cpu(pid) for pid in self.first]
        if None in now:
            return None
        return sum(n or 0.0 for n in now) - sum(self.first.values())


def _process_cpu(pid: int) -> float | None:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _charge_share(url: str, batches: list[list[MeterIntervals]], start: Any, done: Any) -> None:
    """A charging worker process: its own engine and connection, its share of the batches."""
    _, parser, _ = tariff_source()
    engine = make_engine(url)
    catalog = TariffCatalog(parser)
    factory = make_session_factory(engine)
    policy = ChargingPolicy()
    server = ServerCpu()
    with factory() as session:
        server.see(session)
    start.wait()
    charged = 0
    for batch in batches:

        def work(session: Session, batch: list[MeterIntervals] = batch) -> Any:
            server.see(session)
            return charge_intervals(session, batch, catalog=catalog, policy=policy, now=NOW)

        charged += run_unit_of_work(factory, work).charged
    done.put((charged, server.seconds()))
    engine.dispose()


def run_backend(url: str, accounts: int, batch_meters: int, processes: int) -> dict[str, Any]:
    document, parser, _ = tariff_source()
    migrate.upgrade(url)
    engine = make_engine(url)
    catalog = TariffCatalog(parser)
    with Session(engine) as session:
        meter_ids = seed(session, accounts, document, catalog)
        session.commit()
    engine.dispose()
    ends = day_ends()
    # Inputs are built before the clock starts (they are what the HES would hand over).
    batches = [
        [
            MeterIntervals(m, 900, list(zip(ends, day_profile(offset + i), strict=True)))
            for i, m in enumerate(meter_ids[offset : offset + batch_meters])
        ]
        for offset in range(0, len(meter_ids), batch_meters)
    ]
    context = multiprocessing.get_context("fork")
    start, done = context.Event(), context.Queue()
    workers = [
        context.Process(target=_charge_share, args=(url, batches[k::processes], start, done)) for k in range(processes)
    ]
    for worker in workers:
        worker.start()
    time.sleep(1.0)  # let the workers import and connect
    cpu_started = time.process_time()
    children_started = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    start.set()
    reports = [done.get() for _ in workers]
    intervals_s = time.perf_counter() - started
    charged = [count for count, _ in reports]
    worker_server = [seconds for _, seconds in reports]
    for worker in workers:
        worker.join()
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    engine = make_engine(url)
    factory = make_session_factory(engine)
    fixed_server = ServerCpu()
    with factory() as session:
        fixed_server.see(session)
    fixed_started = time.perf_counter()
    fixed_cpu_started = time.process_time()

    def fixed_work(session: Session) -> Any:
        fixed_server.see(session)
        return charge_daily_fixed(session, utility_id=_utility_of(session), local_date=DAY, catalog=catalog, now=NOW)

    fixed = run_unit_of_work(factory, fixed_work)
    fixed_s = time.perf_counter() - fixed_started
    fixed_cpu_s = time.process_time() - fixed_cpu_started
    cpu_s = time.process_time() - cpu_started
    worker_cpu_s = (children.ru_utime + children.ru_stime) - (children_started.ru_utime + children_started.ru_stime)
    with Session(engine) as session:
        audit = ledger.audit(session)
    engine.dispose()
    total = sum(charged)
    if not audit.ok or total != accounts * 96 or fixed.posted != accounts:
        raise SystemExit(f"audit failed or charges missing: intervals={total}, fixed={fixed.posted}, {audit}")
    total_s = intervals_s + fixed_s
    return {
        "intervals": total,
        "worker_processes": processes,
        "interval_seconds": round(intervals_s, 2),
        "fixed_charges": fixed.posted,
        "fixed_seconds": round(fixed_s, 2),
        "client_cpu_seconds": round(cpu_s + worker_cpu_s, 2),
        "fixed_client_cpu_seconds": round(fixed_cpu_s, 2),
        "server_cpu_seconds": _total([*worker_server, fixed_server.seconds()]),
        "fixed_server_cpu_seconds": _total([fixed_server.seconds()]),
        "load_average": [round(x, 2) for x in os.getloadavg()],
        "intervals_per_s": round(total / total_s),
    }


def _total(seconds: list[float | None]) -> float | None:
    return None if None in seconds else round(sum(s or 0.0 for s in seconds), 2)


def _utility_of(session: Session) -> int:
    return int(session.execute(text("SELECT max(id) FROM utility")).scalar_one())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, default=100_000)
    parser.add_argument("--batch-meters", type=int, default=5_000)
    parser.add_argument("--backends", default="sqlite,postgres")
    parser.add_argument("--sqlite-processes", type=int, default=1, help="charging worker processes on SQLite")
    parser.add_argument("--postgres-processes", type=int, default=2, help="charging worker processes on PostgreSQL")
    args = parser.parse_args()
    backends = args.backends.split(",")
    _, _, tariff_from = tariff_source()
    summary: dict[str, Any] = {
        "accounts": args.accounts,
        "intervals": args.accounts * 96,
        "tariff": tariff_from,
        "batch_meters": args.batch_meters,
    }
    for backend in ("sqlite", "postgres"):
        if backend not in backends:
            continue
        processes = args.sqlite_processes if backend == "sqlite" else args.postgres_processes
        with scratch_database(backend) as url:
            figures = run_backend(url, args.accounts, args.batch_meters, processes)
        print(backend, figures, flush=True)
        summary[f"{backend}_intervals_per_s"] = figures["intervals_per_s"]
        summary[backend] = figures
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
