"""The block-load units of work added for clocks running ahead and re-reads, under group commit.

As ``test_group_commit_works.py``: the scenario runs once over a plain ``Database`` and once batched
with a neighbour that fails after each unit (so each unit runs, is rolled back and runs again), on
SQLite and PostgreSQL; tables, messages and results must be the same. Units covered: the session
start with rows stored stamped ahead (``sane_resume``: an alert written), a span with rows set aside
(``record_block_ahead``, insert then merge), and the last span of a re-read (``clear_reread``).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import insert

from openprepaid.hes.collection_policy import CollectionJob
from openprepaid.hes.collector import Collector
from openprepaid.hes.database import Database
from openprepaid.hes.targets import TargetDirectory
from openprepaid.store.model import BlockReading
from openprepaid.store.repository import block_marks
from tests.hes.fakes import T0
from tests.hes.group_commit_support import FAILURES
from tests.hes.test_collector_clock_ahead import BufferMeter, BufferSession
from tests.hes.test_group_commit_works import Env, alone_and_split

H = timedelta(hours=1)
PERIOD = timedelta(minutes=15)


async def clock_ahead_and_reread(db: Database, env: Env) -> Any:
    syncs: list[tuple[int, float]] = []

    async def clock_sync(meter_id: int, drift_s: float) -> None:
        syncs.append((meter_id, drift_s))

    collector = Collector(db, env.bus, env.clock, max_backfill=timedelta(days=1), request_clock_sync=clock_sync)
    meter = env.factory.add(env.relay_meter, serial="SIM00000042")
    buffer = BufferMeter(meter)
    buffer.record(T0 - 6 * H, 12, raw_import=10)  # right up to T0 - 3 h 15 min
    meter.clock_offset_s = 2 * H.total_seconds()
    buffer.record(T0 - 3 * H, 12, raw_import=20)  # stamped T0 - 1 h .. T0 + 1 h 45 min
    with env.sessions.begin() as session:  # stored ahead by an earlier version, and a re-read asked for
        session.execute(
            insert(BlockReading),
            [
                {
                    "meter_id": env.relay_meter,
                    "interval_end_at": T0 + 3 * H,
                    "capture_period_s": 900,
                    "import_wh": 5,
                    "received_at": T0,
                }
            ],
        )
        block_marks.request_reread(session, env.relay_meter, T0 - 8 * H, T0 - 5 * H)
    target = await TargetDirectory(db).get(env.relay_meter)
    first = await collector.collect(BufferSession(meter, buffer), target, [CollectionJob.BLOCK_LOAD])
    meter.clock_offset_s = 0
    env.clock.set(T0 + 2 * H)
    buffer.record(T0 + PERIOD, 8, raw_import=30)
    second = await collector.collect(BufferSession(meter, buffer), target, [CollectionJob.BLOCK_LOAD])
    return [first, second, syncs]


@pytest.mark.parametrize("failure", FAILURES)
async def test_block_ahead_and_reread_units_batch_and_rerun_like_alone(migrated_engine, hes_sessions, failure):
    alone, batched, db = await alone_and_split(clock_ahead_and_reread, migrated_engine, hes_sessions, failure)
    assert db.stats.batches > 0 and db.stats.split_batches == db.stats.batches
    assert batched.tables == alone.tables
    assert batched.published == alone.published
    assert batched.result == alone.result
    assert sorted(row["dedup_key"].split(":")[2] for row in alone.tables["alert"]) == ["read", "stored"]
    assert [row["block_load_reread_from"] for row in alone.tables["meter"]] == [None, None]  # read and cleared
