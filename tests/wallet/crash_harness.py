"""Crash harness for the wallet: run charging, true-ups and recharges in a subprocess, SIGKILL it at random
moments, restart it (it replays everything, as an at-least-once delivery would), and check that money was
neither lost nor doubled.

A trial: one database (SQLite file or PostgreSQL), a seeded world (the demo tariff, N consumers with a
meter each) and a seeded workload of operations (interval batches, with some intervals never delivered,
re-deliveries and overlapping catch-up; the midnight register snapshots; the daily true-up, run either
after the whole day or after its first half, so that the rest of the day arrives late and is covered by
the register; recharges, repeated; reversals; daily fixed charges), each operation one unit of work. The
worker is killed ``kills`` times at random points after it starts working, then run to completion. The
same workload run once, uninterrupted, in a second database is the reference.

Checked after every kill (whatever was committed when the worker died) and at the end:
- the ledger audit (every transaction balanced, postings sum to zero, cached == derived balances);
- no interval taken or billed twice (no bit in two batches' take rows), none taken that the workload
  never delivered;
- no day billed twice: one ``charge_trueup`` row and at most one true-up transaction per meter-day, the
  transactions and rows naming each other, and no interval of a trued-up day billed after its true-up
  (the day's billed interval energy is still what the true-up read: else it would be in the register
  difference too);
- every account's month-to-date units are its billed interval energy plus its true-up differences.
At the end also:
- every interval of the workload is taken, every meter-day trued up (each has its registers);
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
from openprepaid.store.repository import reading as reading_repo
from openprepaid.store.repository import tariff as tariff_repo
from openprepaid.store.repository.charge_day import bits_to_ends, mask_int, taken_once_and_twice
from openprepaid.wallet import ledger
from openprepaid.wallet.account_books import open_books
from openprepaid.wallet.charging import ChargingPolicy, MeterIntervals, charge_intervals
from openprepaid.wallet.fixed_charge import charge_daily_fixed
from openprepaid.wallet.recharge import RechargePolicy, RechargeRequest, recharge, reverse_recharge
from openprepaid.wallet.tariff_document import parse_tariff
from openprepaid.wallet.tariff_store import TariffCatalog, add_version
from openprepaid.wallet.trueup import TrueUpPolicy, true_up_utility_day

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


def _midnight_utc(local_day: date) -> datetime:
    return datetime(local_day.year, local_day.month, local_day.day, tzinfo=UTC) - IST_OFFSET


def build_workload(seed: int, world: dict[str, Any], days: int = 3) -> list[dict[str, Any]]:
    """A seeded sequence of operations, with re-deliveries, repeated recharges and true-ups mixed in."""
    rng = random.Random(seed)
    ops: list[dict[str, Any]] = []
    meters, accounts = world["meter_ids"], world["account_ids"]
    registers = {m: 1_000_000 + 1_000 * i for i, m in enumerate(meters)}  # each meter's import register (Wh)
    ops.append(_registers_op(_midnight_utc(FIRST_DAY), registers))
    for day in range(days):
        local_day = FIRST_DAY + timedelta(days=day)
        midnight_utc = _midnight_utc(local_day)
        ends = [(midnight_utc + timedelta(minutes=15 * (i + 1))).isoformat() for i in range(96)]
        used = {m: [rng.randint(0, 300) for _ in ends] for m in meters}
        # What the meter measured: every interval, plus a few Wh of register/profile disagreement either way.
        for m in meters:
            registers[m] += sum(used[m]) + rng.choice([0, 0, rng.randint(-40, 40)])
        trueup_mid_day = rng.random() < 0.5  # the register comes before the day's second half (then covered)
        for half, span in enumerate((range(48), range(48, 96))):
            delivered = [i for i in span if rng.random() >= 0.03]  # a few intervals are never delivered
            batch = [[m, [[ends[i], used[m][i]] for i in delivered]] for m in meters]
            ops.append({"type": "charge", "meters": batch})
            if rng.random() < 0.5:  # a re-delivery overlapping what was charged before
                ops.append({"type": "charge", "meters": rng.sample(batch, k=max(1, len(batch) // 2))})
            if half == 0 and trueup_mid_day:
                ops.append(_registers_op(midnight_utc + timedelta(days=1), registers))
                ops.append({"type": "trueup", "date": local_day.isoformat()})
        if not trueup_mid_day:
            ops.append(_registers_op(midnight_utc + timedelta(days=1), registers))
            ops.append({"type": "trueup", "date": local_day.isoformat()})
        if rng.random() < 0.3:
            ops.append({"type": "trueup", "date": local_day.isoformat()})  # the job runs again: nothing to do
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


def _registers_op(captured_at: datetime, registers: dict[int, int]) -> dict[str, Any]:
    """The midnight daily-profile snapshots of every meter (stored as the head-end stores them: a repeat is a no-op)."""
    return {"type": "registers", "at": captured_at.isoformat(), "meters": sorted(registers.items())}


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
    elif kind == "registers":
        at = datetime.fromisoformat(op["at"])
        reading_repo.store_daily_readings(
            session,
            [{"meter_id": m, "captured_at": at, "import_wh_total": wh, "received_at": NOW} for m, wh in op["meters"]],
        )
    elif kind == "trueup":
        true_up_utility_day(
            session,
            utility_id=world["utility_id"],
            local_date=date.fromisoformat(op["date"]),
            catalog=catalog,
            policy=TrueUpPolicy(),
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
    checks_after_kill: int = 0
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
            # Whatever was committed when the worker died must already be consistent.
            result.checks_after_kill += 1
            found = consistency_problems(url, workload)
            if found:
                result.problems.extend(f"after kill {result.kills}: {problem}" for problem in found)
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


def _day(value: Any) -> date:
    return value if isinstance(value, date) else date.fromisoformat(str(value))


def _workload_intervals(workload: list[dict[str, Any]]) -> set[tuple[int, datetime]]:
    return {
        (m, datetime.fromisoformat(e))
        for op in workload
        if op["type"] == "charge"
        for m, intervals in op["meters"]
        for e, _ in intervals
    }


def _taken(session: Session) -> set[tuple[int, datetime]]:
    taken = set()
    for meter_id, utc_date, mask in session.execute(text("SELECT meter_id, utc_date, taken_mask FROM charge_day")):
        taken.update((int(meter_id), end_at) for end_at in bits_to_ends(_day(utc_date), mask_int(mask)))
    return taken


def _interval_problems(session: Session, keys: set[tuple[int, datetime]]) -> list[str]:
    """No interval taken that the workload never delivered, and none taken or billed by two batches."""
    problems = []
    stray = _taken(session) - keys
    if stray:
        problems.append(f"{len(stray)} intervals taken that the workload never delivered")
    everything = (datetime(2000, 1, 1, tzinfo=UTC), datetime(2100, 1, 1, tzinfo=UTC))
    _, twice = taken_once_and_twice(session, *everything)
    if twice:
        problems.append(f"take rows: {twice} intervals taken or billed by more than one batch")
    return problems


def _trueup_problems(session: Session) -> list[str]:
    """No day billed twice: a true-up transaction per trued-up day at most, naming its row and back, and no
    interval of a trued-up day billed after its true-up; month-to-date units = intervals + differences."""
    problems = []
    rows = {
        (int(m), _day(d)): (status, int(intervals_wh), int(difference_wh), ledger_id, int(account_id))
        for m, d, status, intervals_wh, difference_wh, ledger_id, account_id in session.execute(
            text(
                "SELECT meter_id, local_date, status, intervals_wh, difference_wh, ledger_transaction_id, account_id "
                "FROM charge_trueup"
            )
        )
    }
    posted = {
        str(key): int(ledger_id)
        for key, ledger_id in session.execute(
            text("SELECT idempotency_key, id FROM ledger_transaction WHERE kind = 'true_up'")
        )
    }
    for key, ledger_id in posted.items():
        _, meter, day = key.split(":")
        row = rows.get((int(meter), date.fromisoformat(day)))
        if row is None or row[3] != ledger_id:
            problems.append(f"true-up transaction {key} without its charge_trueup row")
    for (meter, day), (_, _, _, ledger_id, _) in rows.items():
        if ledger_id is not None and posted.get(f"trueup:{meter}:{day.isoformat()}") != ledger_id:
            problems.append(f"charge_trueup {meter} {day} names transaction {ledger_id}, not its own")
    usage = {
        (int(m), _day(d)): int(wh)
        for m, d, wh in session.execute(
            text("SELECT meter_id, local_date, sum(interval_energy_wh) FROM usage_day GROUP BY meter_id, local_date")
        )
    }
    for (meter, day), (status, intervals_wh, _, _, _) in rows.items():
        if status == "billed" and usage.get((meter, day), 0) != intervals_wh:
            problems.append(
                f"meter {meter} {day}: {usage.get((meter, day), 0)} Wh of intervals billed, the true-up read "
                f"{intervals_wh} Wh: an interval was billed after the day was trued up"
            )
    units = {
        int(account_id): int(wh)
        for account_id, wh in session.execute(
            text("SELECT account_id, sum(billed_energy_wh) FROM usage_month GROUP BY account_id")
        )
    }
    expected: dict[int, int] = {}
    for account_id, wh in session.execute(
        text("SELECT account_id, sum(interval_energy_wh) FROM usage_day GROUP BY account_id")
    ):
        expected[int(account_id)] = int(wh)
    for status, _, difference_wh, _, account_id in rows.values():
        if status == "billed":
            expected[account_id] = expected.get(account_id, 0) + difference_wh
    for account_id in units.keys() | expected.keys():
        if units.get(account_id, 0) != expected.get(account_id, 0):
            problems.append(
                f"account {account_id}: month-to-date {units.get(account_id)} Wh, intervals + true-ups "
                f"{expected.get(account_id, 0)} Wh"
            )
    return problems


def consistency_problems(url: str, workload: list[dict[str, Any]]) -> list[str]:
    """What must hold in the database at any moment, whatever was committed (after a kill, at the end)."""
    engine = make_engine(url)
    try:
        with Session(engine) as session:
            audit = ledger.audit(session)
            problems = [] if audit.ok else [f"ledger audit: {audit}"]
            problems.extend(_interval_problems(session, _workload_intervals(workload)))
            problems.extend(_trueup_problems(session))
            return problems
    finally:
        engine.dispose()


def check(url: str, reference: Engine, workload: list[dict[str, Any]]) -> list[str]:
    """What went wrong in the crashed database, compared with the workload and the reference."""
    problems = consistency_problems(url, workload)
    engine = make_engine(url)
    try:
        with Session(engine) as session:
            keys = _workload_intervals(workload)
            taken = _taken(session)
            if taken != keys:
                problems.append(
                    f"{len(taken)} intervals taken for {len(keys)} distinct intervals ({len(taken ^ keys)} differ)"
                )
            trued = session.execute(text("SELECT count(*) FROM charge_trueup WHERE status = 'billed'")).scalar_one()
            meters = {m for op in workload if op["type"] == "registers" for m, _ in op["meters"]}
            days = {op["date"] for op in workload if op["type"] == "trueup"}
            if trued != len(meters) * len(days):
                problems.append(f"{trued} meter-days trued up of {len(meters) * len(days)}")
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
