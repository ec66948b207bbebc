"""The collection loop on simulated time: due work is fed through a bounded queue and the throttle."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
from prometheus_client import CollectorRegistry

from openprepaid.hes.collection_policy import CollectionJob, CollectionPolicy, ScheduleConfig
from openprepaid.hes.collector import Collector
from openprepaid.hes.metrics import HesMetrics
from openprepaid.hes.priority import Priority
from openprepaid.hes.scheduler import CollectionScheduler
from openprepaid.hes.targets import TargetDirectory
from openprepaid.hes.throttle import Throttle, ThrottleLimits
from tests.hes.conftest import add_meter
from tests.hes.fakes import T0, FakeSessionFactory

IST = ZoneInfo("Asia/Kolkata")
J = CollectionJob


def build(db, bus, clock, factory, *, workers=4, queue_size=100, max_sessions=2, config=None, metrics=None):
    throttle = Throttle(ThrottleLimits(max_sessions=max_sessions, connections_per_s=50, burst=50, min_gap_s=0), clock)
    collector = Collector(db, bus, clock, max_backfill=timedelta(hours=2))
    return CollectionScheduler(
        db,
        TargetDirectory(db),
        factory,
        collector,
        clock,
        throttle=throttle,
        config=config or ScheduleConfig(),
        zone=IST,
        workers=workers,
        queue_size=queue_size,
        tick_s=60,
        metrics=metrics,
    )


def meters(sessions, factory, count):
    ids = []
    for index in range(count):
        serial = f"SIM{index + 1:08d}"
        meter_id = add_meter(sessions, serial=serial)
        factory.add(meter_id, serial=serial).fill_blocks(T0 - timedelta(hours=1), 5)
        ids.append(meter_id)
    return ids


async def run_for(scheduler, clock, seconds, step=1):
    stop = asyncio.Event()
    task = asyncio.create_task(scheduler.run(stop))
    for _ in range(int(seconds // step)):
        await clock.advance(step)
    stop.set()
    await clock.advance(1)
    await task


async def test_due_meters_are_collected_through_the_throttle(db, bus, clock, hes_sessions):
    factory = FakeSessionFactory(clock, session_s=5)
    ids = meters(hes_sessions, factory, 6)
    metrics = HesMetrics(CollectorRegistry())
    scheduler = build(db, bus, clock, factory, metrics=metrics)
    await run_for(scheduler, clock, 40)
    assert scheduler.reports == 6
    assert factory.max_concurrent == 2  # the throttle, not the 4 workers, bounds sessions
    for meter_id in ids:
        facts = scheduler.facts[meter_id]
        assert facts.has_name_plate and facts.last_block_end_at == T0
        assert factory.meters[meter_id].calls[0] == "read_name_plate"
    # Nothing is due a minute later: a tick adds nothing.
    assert await scheduler.tick() == 0
    sample = metrics.registry.get_sample_value
    assert sample("openprepaid_hes_sessions_total", {"association": "meter_reader", "outcome": "ok"}) == 6
    calls = sum(len(meter.calls) for meter in factory.meters.values())
    assert sample("openprepaid_hes_bytes_total", {"direction": "sent"}) == 20 * calls
    assert sample("openprepaid_hes_bytes_total", {"direction": "received"}) == 40 * calls


async def test_the_queue_is_bounded_and_the_rest_waits_for_the_next_tick(db, bus, clock, hes_sessions):
    factory = FakeSessionFactory(clock)
    meters(hes_sessions, factory, 5)
    scheduler = build(db, bus, clock, factory, queue_size=2)
    assert await scheduler.tick() == 2
    assert await scheduler.tick() == 0  # still full; the queued meters are not added twice
    assert not scheduler.request(1_000_000, [J.INSTANT])  # no room for on-demand either
    await run_for(scheduler, clock, 200, step=20)  # the loop's own ticks pick up the rest
    assert scheduler.reports == 5


async def test_a_failed_meter_waits_then_is_collected_when_it_comes_back(db, bus, clock, hes_sessions):
    factory = FakeSessionFactory(clock)
    [meter_id] = meters(hes_sessions, factory, 1)
    factory.offline.add(meter_id)
    scheduler = build(db, bus, clock, factory)
    await run_for(scheduler, clock, 5)
    assert factory.opened == [(meter_id, factory.opened[0][1])]
    assert scheduler.facts[meter_id].last_attempt_at[J.BLOCK_LOAD] == T0
    await run_for(scheduler, clock, 300, step=30)  # within min_attempt_gap: not tried again
    assert len(factory.opened) == 1
    factory.offline.clear()
    await scheduler.notify_meter_back(meter_id, clock.now())
    await run_for(scheduler, clock, 2)
    assert len(factory.opened) == 2 and scheduler.facts[meter_id].last_block_end_at == T0


async def test_on_demand_reads_go_before_scheduled_ones(db, bus, clock, hes_sessions):
    factory = FakeSessionFactory(clock)
    ids = meters(hes_sessions, factory, 3)
    scheduler = build(db, bus, clock, factory, workers=1, max_sessions=1)
    await scheduler.tick()
    extra = add_meter(hes_sessions, serial="SIM00000099")
    factory.add(extra, serial="SIM00000099")
    assert scheduler.request(extra, [J.INSTANT, J.BLOCK_LOAD], priority=Priority.ON_DEMAND)
    assert not scheduler.request(extra, [J.INSTANT])  # already queued
    await run_for(scheduler, clock, 10)
    order = [meter_id for meter_id, _ in factory.opened]
    assert order[0] == extra and sorted(order[1:]) == sorted(ids)
    assert factory.meters[extra].calls[:2] == ["read_scalers:block_load", "read_block_load"]


async def test_group_and_meter_overrides_apply(db, bus, clock, hes_sessions):
    factory = FakeSessionFactory(clock)
    first, second = meters(hes_sessions, factory, 2)
    config = ScheduleConfig(
        default=CollectionPolicy(events_every=None),
        groups={"type:1P-WC": {"instant_every": "1h"}},
        meters={second: {"enabled": False}},
    )
    scheduler = build(db, bus, clock, factory, config=config)
    await scheduler.load_facts()
    [request] = scheduler.due(clock.now())
    assert request.meter_id == first
    assert J.INSTANT in request.jobs and J.EVENTS not in request.jobs


def test_configuration_is_validated(clock):
    with pytest.raises(ValueError, match="at least 1"):
        build(None, None, clock, FakeSessionFactory(clock), workers=0)


async def test_a_meter_with_nothing_to_give_is_not_due_again_after_a_restart(db, bus, clock, hes_sessions):
    factory = FakeSessionFactory(clock)
    meter_id = add_meter(hes_sessions, serial="SIM00000001")
    factory.add(meter_id, serial="SIM00000001")  # a new installation: no intervals yet
    scheduler = build(db, bus, clock, factory)
    await run_for(scheduler, clock, 5)
    facts = scheduler.facts[meter_id]
    assert facts.last_block_end_at is None and facts.block_read_to is not None
    assert facts.block_read_to <= T0 - timedelta(minutes=20)  # a capture period and the clock tolerance
    # A restarted head-end knows the meter's block load was read up to there: not due until 4 h later.
    restarted = build(db, bus, clock, factory)
    await restarted.load_facts()
    assert restarted.facts[meter_id].block_read_to == facts.block_read_to
    due_now = {request.meter_id: request.jobs for request in restarted.due(clock.now())}
    assert J.BLOCK_LOAD not in due_now.get(meter_id, ())
    later = {request.meter_id: request.jobs for request in restarted.due(facts.block_read_to + timedelta(hours=4))}
    assert J.BLOCK_LOAD in later[meter_id]
