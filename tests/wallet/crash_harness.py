"""Crash harness for the wallet: run charging and recharges in a subprocess, SIGKILL it at random
moments, restart it (it replays everything, as an at-least-once delivery would), and check that
money was neither lost nor doubled.

A trial: one database (SQLite file or PostgreSQL), a seeded world (the demo tariff, N consumers
with a meter each) and a seeded workload of operations (interval batches, including re-deliveries
and overlapping catch-up; recharges, repeated; reversals; daily fixed charges), each operation one
unit of work. The worker is killed ``kills`` times at random points after it starts working, then
run to completion. The same workload run once, uninterrupted, in a second database is the
reference. Checked afterwards:
- the ledger audit (every transaction balanced, postings sum to zero, cached == derived balances);
- every interval of the workload is taken exactly once (its meter-day mask bit; no bit in two
  batches' take rows), and no other interval is taken;
- every recharge reference has exactly one payment row and one ledger transaction, every reversal one;
- every ledger account's balance equals the reference run's (so each operation took effect once).

``python -m tests.wallet.crash_harness worker URL WORKLOAD`` is the worker's entry point.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, insert, text
from sqlalchemy.orm import Session

from openprepaid.store import migrate
from openprepaid.store.engine import make_engine
from openprepaid.store.model import Account, Consumer, Meter, MeterInstallation, MeterType, Utility
from openprepaid.store.repository import tariff as tariff_repo
from openprepaid.store.repository.charge_day import bits_to_ends, mask_int, taken_once_and_twice
from openprepaid.wallet import ledger
from openprepaid.wallet.account_books import open_books
from openprepaid.wallet.charging import ChargingPolicy, MeterIntervals, charge_intervals
from openprepaid.wallet.fixed_charge import charge_daily_fixed
from openprepaid.wallet.recharge import RechargePolicy, RechargeRequest, recharge, reverse_recharge
from openprepaid.wallet.tariff_document import parse_tariff
from openprepaid.wallet.tariff_store import TariffCatalog, add_version

ROOT = Path(__file__).resolve().parents[2]
TARIFF_FILE = ROOT / "examples" / "tariffs" / "demo-slab-tod-duty-rebate.yaml"
SEEDED_AT = datetime(2026, 1, 1, tzinfo=UTC)
NOW = datetime(2026, 11, 20, tzinfo=UTC)
FIRST_DAY = date(2026, 11, 3)
IST_OFFSET = timedelta(hours=5, minutes=30)


def _catalog() -> TariffCatalog:
    return TariffCatalog(parse_tariff)


def prepare(url: str, accounts: int) -> dict[str, Any]:
    """Migrate and seed a world; returns its ids."""
    migrate.upgrade(url)
    engine = make_engine(url)
    try:
        with Session(engine) as session:
            utility = Utility(code="CRASH", name="Crash harness", timezone="Asia/Kolkata", created_at=SEEDED_AT)
            meter_type = MeterType(
                code="CRASH-1P",
                manufacturer="T",
                model="1P",
                phases=1,
                connection="whole_current",
                has_relay=True,
                capture_period_s=900,
                object_profile={},
            )
            session.add_all([utility, meter_type])
            session.flush()
            document = TARIFF_FILE.read_text(encoding="utf-8")
            catalog = _catalog()
            tariff_id = tariff_repo.insert_tariff(
                session, utility_id=utility.id, code=catalog.parse(document).code, name="demo", category="domestic"
            )
            add_version(session, catalog, tariff_id=tariff_id, document=document, created_by="harness", now=SEEDED_AT)
            account_ids, meter_ids = [], []
            for i in range(accounts):
                consumer = Consumer(utility_id=utility.id, consumer_no=f"C{i}", name="c", created_at=SEEDED_AT)
                session.add(consumer)
                session.flush()
                account = Account(
                    utility_id=utility.id,
                    consumer_id=consumer.id,
                    account_no=f"A{i}",
                    category="domestic",
                    sanctioned_load_w=3000,
                    payment_mode="prepaid",
                    tariff_id=tariff_id,
                    opened_at=SEEDED_AT,
                )
                meter = Meter(
                    utility_id=utility.id,
                    meter_type_id=meter_type.id,
                    serial=f"S{i}",
                    manufacturer_code="OPP",
                    system_title=b"CRS" + i.to_bytes(5, "big"),
                    comm_mode="dial",
                    status="installed",
                    created_at=SEEDED_AT,
                )
                session.add_all([account, meter])
                session.flush()
                session.execute(
                    insert(MeterInstallation).values(
                        meter_id=meter.id,
                        account_id=account.id,
                        installed_at=SEEDED_AT,
                        initial_import_wh=0,
                        removal_reason="",
                    )
                )
                account_ids.append(account.id)
                meter_ids.append(meter.id)
            open_books(session, account_ids)
            session.commit()
            return {"utility_id": utility.id, "account_ids": account_ids, "meter_ids": meter_ids}
    finally:
        engine.dispose()


def build_workload(seed: int, world: dict[str, Any], days: int = 3) -> list[dict[str, Any]]:
    """A seeded sequence of operations, with re-deliveries and repeated recharges mixed in."""
    rng = random.Random(seed)
    ops: list[dict[str, Any]] = []
    meters, accounts = world["meter_ids"], world["account_ids"]
    for day in range(days):
        local_day = FIRST_DAY + timedelta(days=day)
        midnight_utc = datetime(local_day.year, local_day.month, local_day.day, tzinfo=UTC) - IST_OFFSET
        ends = [(midnight_utc + timedelta(minutes=15 * (i + 1))).isoformat() for i in range(96)]
        for half in (ends[:48], ends[48:]):
            batch = [[m, [[end, rng.randint(0, 300)] for end in half]] for m in meters]
            ops.append({"type": "charge", "meters": batch})
            if rng.random() < 0.5:  # a re-delivery overlapping what was charged before
                ops.append({"type": "charge", "meters": rng.sample(batch, k=max(1, len(batch) // 2))})
        for account in rng.sample(accounts, k=max(1, len(accounts) // 2)):
            op = {
                "type": "recharge",
                "account_id": account,
                "ref": f"PAY-{seed}-{day}-{account}",
                "amount": rng.choice([10_000, 25_000, 50_000]),
            }
            ops.append(op)
            if rng.random() < 0.4:
                ops.append(dict(op))  # the gateway retries
            if rng.random() < 0.15:
                ops.append({"type": "reverse", "ref": op["ref"]})
        ops.append({"type": "fixed", "date": local_day.isoformat()})
    return ops


def apply(session: Session, op: dict[str, Any], world: dict[str, Any], catalog: TariffCatalog) -> None:
    kind = op["type"]
    if kind == "charge":
        batch = [
            MeterIntervals(m, 900, [(datetime.fromisoformat(e), wh) for e, wh in intervals])
            for m, intervals in op["meters"]
        ]
        charge_intervals(session, batch, catalog=catalog, policy=ChargingPolicy(), now=NOW)
    elif kind == "recharge":
        request = RechargeRequest(op["account_id"], op["ref"], op["amount"], "gateway", NOW, "harness")
        recharge(session, request, policy=RechargePolicy(), now=NOW)
    elif kind == "reverse":
        reverse_recharge(
            session,
            utility_id=world["utility_id"],
            payment_ref=op["ref"],
            reason="bounced",
            reversed_at=NOW,
            actor="harness",
            now=NOW,
        )
    elif kind == "fixed":
        charge_daily_fixed(
            session, utility_id=world["utility_id"], local_date=date.fromisoformat(op["date"]), catalog=catalog, now=NOW
        )
    else:  # pragma: no cover
        raise ValueError(kind)


def run_workload(engine: Engine, workload: list[dict[str, Any]], world: dict[str, Any], *, ready: bool = False) -> None:
    catalog = _catalog()
    if ready:
        print("ready", flush=True)
    for op in workload:
        with Session(engine) as session:
            apply(session, op, world, catalog)
            session.commit()


def worker(url: str, workload_path: str) -> None:
    payload = json.loads(Path(workload_path).read_text(encoding="utf-8"))
    engine = make_engine(url)
    run_workload(engine, payload["workload"], payload["world"], ready=True)
    engine.dispose()


@dataclass
class TrialResult:
    kills: int = 0
    killed_while_working: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def _spawn(url: str, workload_path: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "tests.wallet.crash_harness", "worker", url, str(workload_path)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )


def crash_trial(
    url: str, reference_url: str, work_dir: Path, *, seed: int, kills: int, accounts: int = 6, days: int = 2
) -> TrialResult:
    """One trial (both databases must be empty): kill the worker ``kills`` times, finish, compare.

    The reference run goes first and is timed; each kill lands at a uniformly random moment within
    that time after the worker reports ready (so most kills hit it while it works).
    """
    rng = random.Random(seed * 7919)
    world = prepare(url, accounts)
    reference_world = prepare(reference_url, accounts)
    assert world == reference_world, "both databases must be seeded identically"
    workload = build_workload(seed, world, days)
    workload_path = work_dir / f"workload-{seed}.json"
    workload_path.write_text(json.dumps({"world": world, "workload": workload}), encoding="utf-8")
    reference = make_engine(reference_url)
    try:
        started = time.monotonic()
        run_workload(reference, workload, world)
        work_s = time.monotonic() - started
        result = TrialResult()
        for _ in range(kills):
            process = _spawn(url, workload_path)
            assert process.stdout is not None
            line = process.stdout.readline()  # "ready": imports done, the workload starts now
            time.sleep(rng.uniform(0.0, work_s))
            if process.poll() is None:
                process.send_signal(signal.SIGKILL)
                result.killed_while_working += 1
            process.wait()
            result.kills += 1
            if line.strip() != "ready" and process.returncode not in (0, -signal.SIGKILL):
                result.problems.append(f"worker failed: {process.stderr.read() if process.stderr else ''}")
                return result
        final = _spawn(url, workload_path)
        _, stderr = final.communicate(timeout=600)
        if final.returncode != 0:
            result.problems.append(f"final worker run failed: {stderr[-2000:]}")
            return result
        result.problems.extend(check(url, reference, workload))
    finally:
        reference.dispose()
    return result


def _interval_problems(session: Session, keys: set[tuple[int, datetime]]) -> list[str]:
    """Every interval of the workload taken exactly once: the meter-day masks hold exactly those keys,
    and no bit is in two batches' take masks (nor billed twice)."""
    taken = set()
    for meter_id, utc_date, mask in session.execute(text("SELECT meter_id, utc_date, taken_mask FROM charge_day")):
        day = utc_date if isinstance(utc_date, date) else date.fromisoformat(utc_date)
        taken.update((int(meter_id), end_at) for end_at in bits_to_ends(day, mask_int(mask)))
    problems = []
    if taken != keys:
        problems.append(f"{len(taken)} intervals taken for {len(keys)} distinct intervals ({len(taken ^ keys)} differ)")
    everything = (datetime(2000, 1, 1, tzinfo=UTC), datetime(2100, 1, 1, tzinfo=UTC))
    once, twice = taken_once_and_twice(session, *everything)
    if twice or once != len(keys):
        problems.append(f"take rows: {once} intervals taken, {twice} of them more than once")
    return problems


def check(url: str, reference: Engine, workload: list[dict[str, Any]]) -> list[str]:
    """What went wrong in the crashed database, compared with the workload and the reference."""
    problems: list[str] = []
    engine = make_engine(url)
    try:
        with Session(engine) as session:
            audit = ledger.audit(session)
            if not audit.ok:
                problems.append(f"ledger audit: {audit}")
            keys = {
                (m, datetime.fromisoformat(e))
                for op in workload
                if op["type"] == "charge"
                for m, intervals in op["meters"]
                for e, _ in intervals
            }
            problems.extend(_interval_problems(session, keys))
            refs = {op["ref"] for op in workload if op["type"] == "recharge"}
            payments = session.execute(text("SELECT count(*) FROM payment")).scalar_one()
            credited = session.execute(
                text("SELECT count(*) FROM ledger_transaction WHERE kind = 'recharge'")
            ).scalar_one()
            reversals = session.execute(
                text("SELECT count(*) FROM ledger_transaction WHERE kind = 'recharge_reversal'")
            ).scalar_one()
            reversed_refs = {op["ref"] for op in workload if op["type"] == "reverse"}
            if (payments, credited, reversals) != (len(refs), len(refs), len(reversed_refs)):
                problems.append(
                    f"payments {payments}, recharge transactions {credited}, reversals {reversals} "
                    f"for {len(refs)} references and {len(reversed_refs)} reversals"
                )
            balances = dict(session.execute(text("SELECT key, balance_paise FROM ledger_account")).all())
        with Session(reference) as session:
            expected = dict(session.execute(text("SELECT key, balance_paise FROM ledger_account")).all())
        differing = {key: (balances.get(key), value) for key, value in expected.items() if balances.get(key) != value}
        if differing or balances.keys() != expected.keys():
            problems.append(f"balances differ from the reference run: {dict(list(differing.items())[:5])}")
    finally:
        engine.dispose()
    return problems


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "worker":
        worker(sys.argv[2], sys.argv[3])
    else:
        raise SystemExit("usage: python -m tests.wallet.crash_harness worker URL WORKLOAD")
