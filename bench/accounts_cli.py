"""``openprepaid accounts list`` and ``show`` over many accounts: statements sent and time taken.

    python bench/accounts_cli.py [--accounts 5000] [--backend sqlite|postgres]

A fresh database (SQLite file in a temp dir, or a scratch PostgreSQL database on 127.0.0.1:5432
dropped afterwards) migrated with Alembic: one utility, N consumers with an account, its ledgers and a
meter each (wallet_throughput's seed), one recharge each through the wallet (``recharge``), a confirmed relay
command for every 10th meter and a queued one for every 7th, and one ``run_rules`` pass (so every
account has a stored rules state). Then, each 5 times: the list of all accounts (the query and the
text rendering, as ``accounts list --limit N`` does), the list filtered to ``--status low``, and
``show`` of one account. Reported: SQL statements sent, median wall and process CPU seconds (the
process's: SQLite runs in it), and the load average. The tables are analysed after seeding (as
autovacuum would do). Last line: JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import event, insert, text
from sqlalchemy.orm import Session, sessionmaker

from openprepaid.cli import accounts_query as query
from openprepaid.cli import accounts_text as render
from openprepaid.store import migrate
from openprepaid.store.engine import make_engine, make_session_factory
from openprepaid.store.model import Command
from openprepaid.wallet.recharge import RechargePolicy, RechargeRequest, recharge
from openprepaid.wallet.rules import RulesConfig
from openprepaid.wallet.rules_service import run_rules
from openprepaid.wallet.tariff_store import TariffCatalog

sys.path.insert(0, str(Path(__file__).resolve().parent))
from wallet_throughput import SEEDED_AT, scratch_database, tariff_source
from wallet_throughput import seed as seed_accounts

RULES = RulesConfig(zone="Asia/Kolkata")
REPEATS = 5


def _commands(session: Session, account_ids: list[int], meter_ids: list[int]) -> None:
    rows: list[dict[str, Any]] = []
    for index, (account_id, meter_id) in enumerate(zip(account_ids, meter_ids, strict=True)):
        if index % 10 == 0:
            state, readback = "confirmed", {"values": {"output_state": False}}
        elif index % 7 == 0:
            state, readback = "queued", None
        else:
            continue
        rows.append(
            {
                "meter_id": meter_id,
                "account_id": account_id,
                "kind": "relay_disconnect",
                "params": {},
                "state": state,
                "priority": 100,
                "actor": "operator",
                "reason": "bench",
                "decision": {},
                "correlation_id": uuid.uuid4().hex,
                "attempts": 1,
                "last_error": "",
                "readback": readback,
                "created_at": SEEDED_AT,
                "completed_at": SEEDED_AT + timedelta(minutes=1) if state == "confirmed" else None,
            }
        )
    session.connection().execute(insert(Command), rows)


def seed(sessions: sessionmaker[Session], accounts: int) -> tuple[int, int]:
    document, parser, _ = tariff_source()
    with sessions.begin() as session:
        meter_ids = seed_accounts(session, accounts, document, TariffCatalog(parser))  # wallet_throughput's
        utility_id = int(session.execute(text("SELECT max(id) FROM utility")).scalar_one())
        account_ids = [int(row[0]) for row in session.execute(text("SELECT id FROM account ORDER BY id"))]
    with sessions.begin() as session:
        for index, account_id in enumerate(account_ids):
            amount = 10_000 + 100 * (index % 97)
            request = RechargeRequest(account_id, f"PAY-{index}", amount, "bench", SEEDED_AT, "bench")
            recharge(session, request, policy=RechargePolicy(), now=SEEDED_AT)
        _commands(session, account_ids, meter_ids)
    with sessions.begin() as session:
        run_rules(session, utility_id=utility_id, config=RULES, now=SEEDED_AT + timedelta(hours=1))
    with sessions.begin() as session:
        # Table statistics, as autovacuum would gather them after a bulk load: without them PostgreSQL
        # plans the freshly filled tables as nearly empty (a nested loop: 3 s instead of 35 ms at 6,000).
        session.execute(text("ANALYZE"))
    return utility_id, account_ids[len(account_ids) // 2]


def _timed(sessions: sessionmaker[Session], work: Callable[[Session], object]) -> dict[str, float]:
    walls, cpus, statements = [], [], []
    for _ in range(REPEATS):
        with sessions() as session:
            sent: list[int] = []

            def count(*_args: object, sent: list[int] = sent) -> None:
                sent.append(1)

            event.listen(session.connection(), "before_cursor_execute", count)
            wall, cpu = time.perf_counter(), time.process_time()
            work(session)
            walls.append(time.perf_counter() - wall)
            cpus.append(time.process_time() - cpu)
            statements.append(len(sent))
    return {
        "statements": max(statements),
        "wall_s": round(statistics.median(walls), 4),
        "cpu_s": round(statistics.median(cpus), 4),
    }


def measure(url: str, accounts: int) -> dict[str, Any]:
    migrate.upgrade(url)
    engine = make_engine(url)
    sessions = make_session_factory(engine)
    try:
        started = time.perf_counter()
        utility_id, shown = seed(sessions, accounts)
        seeded_s = time.perf_counter() - started

        def listing(status: query.StatusFilter) -> Callable[[Session], object]:
            def work(session: Session) -> object:
                items = query.account_list(session, config=RULES, utility_id=utility_id, status=status, limit=accounts)
                return render.list_lines(items)

            return work

        def show(session: Session) -> object:
            return render.detail_lines(query.account_detail(session, shown, now=datetime.now(UTC)))

        return {
            "seed_s": round(seeded_s, 1),
            "list_all": _timed(sessions, listing(query.StatusFilter.ALL)),
            "list_low": _timed(sessions, listing(query.StatusFilter.LOW)),
            "show": _timed(sessions, show),
        }
    finally:
        engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, default=5000)
    parser.add_argument("--backend", choices=("sqlite", "postgres"), default="sqlite")
    args = parser.parse_args()
    with scratch_database(args.backend) as url:
        result = measure(url, args.accounts)
    result = {"accounts": args.accounts, "backend": args.backend, **result, "load_average": os.getloadavg()[0]}
    for name in ("list_all", "list_low", "show"):
        figures = result[name]
        print(
            f"{name:<9} {figures['statements']:>3} statements, wall {figures['wall_s']:.3f} s, "
            f"CPU {figures['cpu_s']:.3f} s (median of {REPEATS})"
        )
    print(f"seeded in {result['seed_s']} s; load average {result['load_average']:.2f}")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
