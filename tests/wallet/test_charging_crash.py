"""Crash safety: the worker (charging, true-ups, recharges, reversals, fixed charges) is SIGKILLed at random
points and restarted; nothing is lost or doubled.

One seeded trial on SQLite here (the soak, on either backend, is
``bench/wallet_crash_soak.py --runs 200 [--backend postgres]``), and a check that the harness does
notice a doubled charge, a day billed twice, a moved balance or a lost payment.
"""

from __future__ import annotations

from sqlalchemy import text

from openprepaid.store.engine import make_engine
from tests.wallet.crash_harness import build_workload, check, crash_trial, prepare, run_workload

TRUE = "1"  # SQLite's boolean


def test_sqlite_worker_killed_and_restarted(tmp_path):
    result = crash_trial(
        f"sqlite:///{tmp_path}/crashed.sqlite3",
        f"sqlite:///{tmp_path}/reference.sqlite3",
        tmp_path,
        seed=11,
        kills=3,
        accounts=4,
        days=1,
    )
    assert result.ok, result.problems
    assert result.kills == result.checks_after_kill == 3


def test_the_check_notices_a_doubled_charge_a_day_billed_twice_a_moved_balance_and_a_lost_payment(tmp_path):
    urls = [f"sqlite:///{tmp_path}/{name}.sqlite3" for name in ("damaged", "reference")]
    worlds = [prepare(url, 3) for url in urls]
    assert worlds[0] == worlds[1]
    world = worlds[0]
    workload = build_workload(5, world, days=1)
    engines = [make_engine(url) for url in urls]
    damages = [
        (  # a second batch taking a meter-day's intervals again
            "INSERT INTO charge_take SELECT 999999, meter_id, utc_date, taken_mask, held_mask, covered_mask, "
            "released_mask, interval_count, billed_energy_wh FROM charge_take ORDER BY batch_id LIMIT 1",
            "DELETE FROM charge_take WHERE batch_id = 999999",
        ),
        (  # an interval taken that the workload never delivered
            "INSERT INTO charge_day VALUES (999999, '2026-11-03', X'01', X'', X'', 1, 1)",
            "DELETE FROM charge_day WHERE meter_id = 999999",
        ),
        (
            "UPDATE ledger_account SET balance_paise = balance_paise + 1 WHERE id = 1",
            "UPDATE ledger_account SET balance_paise = balance_paise - 1 WHERE id = 1",
        ),
        (  # an interval of a trued-up day billed after its true-up (in the register difference too)
            "UPDATE usage_day SET interval_energy_wh = interval_energy_wh + 100 WHERE trued_up = "
            + TRUE
            + " AND meter_id = (SELECT min(meter_id) FROM charge_trueup)",
            "UPDATE usage_day SET interval_energy_wh = interval_energy_wh - 100 WHERE trued_up = "
            + TRUE
            + " AND meter_id = (SELECT min(meter_id) FROM charge_trueup)",
        ),
        (  # a true-up transaction whose day does not name it (the day's money posted twice, say)
            "UPDATE charge_trueup SET ledger_transaction_id = NULL WHERE meter_id = (SELECT min(meter_id) FROM "
            "charge_trueup WHERE ledger_transaction_id IS NOT NULL)",
            None,
        ),
        ("DELETE FROM payment WHERE id = (SELECT min(id) FROM payment)", None),
    ]
    try:
        for engine in engines:
            run_workload(engine, workload, world)
        assert check(urls[0], engines[1], workload) == []
        assert any(op["type"] == "trueup" for op in workload)
        for damage, repair in damages:
            with engines[0].begin() as connection:
                connection.execute(text(damage))
            assert check(urls[0], engines[1], workload), damage
            if repair:
                with engines[0].begin() as connection:
                    connection.execute(text(repair))
                assert check(urls[0], engines[1], workload) == []
    finally:
        for engine in engines:
            engine.dispose()
