"""Prepaid rules service: time of one ``run_rules`` over a utility's accounts, as the demo calls it
every simulated 15 minutes, and of the ``enforcement_gap`` report.

    python bench/rules_service.py [--accounts 200] [--days 8] [--backend sqlite|postgres]

A fresh database (SQLite file in a temp dir, or a scratch PostgreSQL database on 127.0.0.1:5432
dropped afterwards) migrated with Alembic: one utility, the demo tariff, N consumers with a meter
each, a recharge each (varied so that some run out), ``--days`` of 15-minute block-load charges
posted batch by batch as the demo does (one ledger transaction per batch, account and day), and
the daily fixed charges. Then ``run_rules`` steps over one more day (96 steps, 15 minutes apart,
each its own committed unit of work, consumption charged before each, untimed) without
emergency credit; relay commands returned are inserted as queued commands (as the HES queue
would) and confirmed with a read-back once their ``not_before_at`` has come, so disconnected
accounts are part of the later steps. Reported: the
first step (stored states created), the first step of a new local day (a spend mark added for
every account), and the median / p95 / max of the other steps, wall time and CPU time (the
process's: SQLite runs in it; less sensitive to a loaded machine). Last line: JSON.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import or_, select, text
from sqlalchemy.orm import Session

from openprepaid.store import migrate
from openprepaid.store.engine import make_engine
from openprepaid.store.model import Command, CommandKind, CommandState
from openprepaid.wallet.charging import ChargingPolicy, MeterIntervals, charge_intervals
from openprepaid.wallet.fixed_charge import charge_daily_fixed
from openprepaid.wallet.recharge import RechargePolicy, RechargeRequest, recharge
from openprepaid.wallet.rules import EmergencyCreditConfig, RelayAction, RulesConfig
from openprepaid.wallet.rules_service import RelayCommandRequest, enforcement_gap, run_rules
from openprepaid.wallet.tariff_store import TariffCatalog

sys.path.insert(0, str(Path(__file__).resolve().parent))
from wallet_throughput import day_profile, scratch_database, seed, tariff_source

IST = ZoneInfo("Asia/Kolkata")
START = datetime(2026, 3, 1, 18, 30, tzinfo=UTC)  # 2 March 2026 00:00 IST


def _utility_id(session: Session) -> int:
    return int(session.execute(text("SELECT max(id) FROM utility")).scalar_one())


def _enqueue(session: Session, requests: list[RelayCommandRequest], now: datetime) -> None:
    for request in requests:
        kind = CommandKind.RELAY_DISCONNECT if request.action is RelayAction.DISCONNECT else CommandKind.RELAY_RECONNECT
        session.add(
            Command(
                meter_id=request.meter_id,
                account_id=request.account_id,
                kind=kind,
                params={},
                state=CommandState.QUEUED,
                priority=100,
                actor=request.actor,
                reason=request.reason,
                decision=request.decision,
                correlation_id=uuid.uuid4().hex,
                idempotency_key=request.idempotency_key,
                attempts=0,
                last_error="",
                readback=None,
                created_at=now,
                not_before_at=request.not_before_at,
                deadline_at=None,
                sent_at=None,
                completed_at=None,
            )
        )


def _confirm_due(session: Session, now: datetime) -> None:
    """The HES's part, in short: queued relay commands whose time has come are confirmed by read-back."""
    due = session.execute(
        select(Command).where(
            Command.state == CommandState.QUEUED,
            or_(Command.not_before_at.is_(None), Command.not_before_at <= now),
        )
    ).scalars()
    for command in due:
        closed = command.kind is CommandKind.RELAY_RECONNECT
        command.state = CommandState.CONFIRMED
        command.sent_at = command.completed_at = now
        command.readback = {"obis": "0.0.96.3.10.255", "class_id": 70, "values": {"output_state": closed}}


def _charge_step(engine: Any, catalog: TariffCatalog, meter_ids: list[int], end: datetime) -> None:
    """Charge every meter's interval ending at ``end`` (and the fixed charge after a local midnight)."""
    local_end = end.astimezone(IST)
    batch = [
        MeterIntervals(m, 900, [(end, day_profile(i)[(local_end.hour * 4 + local_end.minute // 15 - 1) % 96])])
        for i, m in enumerate(meter_ids)
    ]
    with Session(engine) as session:
        charge_intervals(session, batch, catalog=catalog, policy=ChargingPolicy(), now=end)
        if local_end.hour == 0 and local_end.minute == 0:
            local_date = (local_end - timedelta(minutes=1)).date()
            utility_id = _utility_id(session)
            charge_daily_fixed(session, utility_id=utility_id, local_date=local_date, catalog=catalog, now=end)
        session.commit()


def prepare(url: str, accounts: int, days: int) -> tuple[Any, int, TariffCatalog, list[int]]:
    document, parser, _ = tariff_source()
    migrate.upgrade(url)
    engine = make_engine(url)
    catalog = TariffCatalog(parser)
    with Session(engine) as session:
        meter_ids = seed(session, accounts, document, catalog)
        session.commit()
    with Session(engine) as session:
        utility_id = _utility_id(session)
        account_ids = [row[0] for row in session.execute(text("SELECT id FROM account ORDER BY id"))]
        for index, account_id in enumerate(account_ids):
            amount = 15_000 + 30_000 * (index % 10)  # ₹150 .. ₹2,850: some run out
            request = RechargeRequest(account_id, f"B-{account_id}", amount, "bench", START, "bench")
            recharge(session, request, policy=RechargePolicy(), now=START)
        session.commit()
    start = START - timedelta(days=days)
    for step in range(days * 96):
        _charge_step(engine, catalog, meter_ids, start + timedelta(minutes=15 * (step + 1)))
    return engine, utility_id, catalog, meter_ids


def measure(engine: Any, utility_id: int, catalog: TariffCatalog, meter_ids: list[int]) -> dict[str, Any]:
    config = RulesConfig(emergency_credit=EmergencyCreditConfig(days=None, amount_paise=None))
    timings: list[float] = []
    cpu: list[float] = []
    commands = notices = 0
    for step in range(97):
        now = START + timedelta(minutes=15 * step)
        if step:
            _charge_step(engine, catalog, meter_ids, now)  # consumption goes on (untimed)
        with Session(engine) as session:
            started, started_cpu = time.perf_counter(), time.process_time()
            result = run_rules(session, utility_id=utility_id, config=config, now=now)
            session.commit()
            timings.append(time.perf_counter() - started)
            cpu.append(time.process_time() - started_cpu)
            _enqueue(session, result.commands, now)
            session.flush()
            _confirm_due(session, now + timedelta(minutes=5))
            session.commit()
        commands += len(result.commands)
        notices += result.notices
    with Session(engine) as session:
        disconnected = session.execute(
            text("SELECT count(*) FROM command WHERE state = 'confirmed' AND kind = 'relay_disconnect'")
        ).scalar_one()
        started = time.perf_counter()
        gap = enforcement_gap(session, utility_id=utility_id, config=config, now=START + timedelta(days=1))
        gap_s = time.perf_counter() - started
    steady = timings[1:96]
    return {
        "first_run_ms": round(timings[0] * 1000, 1),
        "new_day_run_ms": round(timings[96] * 1000, 1),
        "steady_median_ms": round(statistics.median(steady) * 1000, 1),
        "steady_p95_ms": round(sorted(steady)[int(len(steady) * 0.95)] * 1000, 1),
        "steady_max_ms": round(max(steady) * 1000, 1),
        "steady_cpu_median_ms": round(statistics.median(cpu[1:96]) * 1000, 1),
        "new_day_cpu_ms": round(cpu[96] * 1000, 1),
        "enforcement_gap_ms": round(gap_s * 1000, 1),
        "commands": commands,
        "disconnected_at_end": disconnected,
        "notices": notices,
        "gap_accounts": len(gap),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, default=200)
    parser.add_argument("--days", type=int, default=8)
    parser.add_argument("--backend", choices=("sqlite", "postgres"), default="sqlite")
    args = parser.parse_args()
    result: dict[str, Any] = {"accounts": args.accounts, "days_of_charges": args.days, "backend": args.backend}
    with scratch_database(args.backend) as url:
        engine, utility_id, catalog, meter_ids = prepare(url, args.accounts, args.days)
        result.update(measure(engine, utility_id, catalog, meter_ids))
        engine.dispose()
    print(json.dumps(result))


if __name__ == "__main__":
    main()
