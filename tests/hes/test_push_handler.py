"""Pushes: last gasp / first breath outages, tamper events, relay changes, dial-in; deduplicated with log reads."""

from __future__ import annotations

from datetime import timedelta

import pytest
from prometheus_client import CollectorRegistry
from sqlalchemy import select

from openprepaid.hes.collection_policy import CollectionJob
from openprepaid.hes.collector import Collector
from openprepaid.hes.metrics import HesMetrics
from openprepaid.hes.push_handler import AlertPush, DialIn, EventPush, MeterIdentity, PushHandler
from openprepaid.hes.targets import TargetDirectory
from openprepaid.store.model import Meter, MeterEvent, Outage
from tests.hes.conftest import add_meter
from tests.hes.fakes import T0, FakeSession, FakeSessionFactory

SYSTEM_TITLE = b"OPP" + (42).to_bytes(5, "big")


@pytest.fixture
def handler(db, bus, clock):
    calls = {"relay": [], "back": []}

    async def relay(meter_id, at):
        calls["relay"].append((meter_id, at))

    async def back(meter_id, at):
        calls["back"].append((meter_id, at))

    metrics = HesMetrics(CollectorRegistry())
    push_handler = PushHandler(db, bus, clock, on_relay_change=relay, on_meter_back=back, metrics=metrics)
    return push_handler, calls, metrics


def rows(sessions, model, meter_id):
    with sessions() as session:
        return session.execute(select(model).where(model.meter_id == meter_id)).scalars().all()


async def test_last_gasp_and_first_breath_then_the_log_read_adds_nothing(
    handler, hes_sessions, db, bus, clock, outcomes
):
    push_handler, calls, _ = handler
    meter_id = add_meter(hes_sessions, serial="SIM00000042")
    identity = MeterIdentity(system_title=SYSTEM_TITLE)
    down_at, up_at = T0, T0 + timedelta(minutes=47, seconds=12, microseconds=300_000)

    outcome = await push_handler.handle_alert(AlertPush(identity, frozenset({85}), down_at, down_at))
    assert outcome.meter_id == meter_id and outcome.events_stored == 1
    assert outcome.outages[0].ended_at is None
    outcome = await push_handler.handle_alert(AlertPush(identity, frozenset({86}), up_at, up_at))
    assert outcome.outages[0].ended_at == up_at.replace(microsecond=0)
    assert calls["back"] == [(meter_id, up_at.replace(microsecond=0))]
    [outage] = rows(hes_sessions, Outage, meter_id)
    assert (outage.started_at, outage.ended_at) == (down_at, up_at.replace(microsecond=0))

    # The same events read from the power log later: same natural keys, nothing new, no second outage.
    factory = FakeSessionFactory(clock)
    meter = factory.add(meter_id, serial="SIM00000042")
    meter.events = {2: [(down_at, 101), (up_at, 102)]}
    target = await TargetDirectory(db).get(meter_id)
    report = await Collector(db, bus, clock).collect(FakeSession(meter), target, [CollectionJob.EVENTS])
    assert report.stored == {"events": 0}
    events = rows(hes_sessions, MeterEvent, meter_id)
    assert sorted((e.code, e.source.value) for e in events) == [(101, "push"), (102, "push")]
    assert len(rows(hes_sessions, Outage, meter_id)) == 1
    await bus.drain()
    published = [p["code"] for s, p in outcomes.messages if s == f"op.events.meter.{meter_id}"]
    assert sorted(published) == [101, 102]  # each event published once despite two sources


async def test_a_repeated_push_is_idempotent(handler, hes_sessions):
    push_handler, _, _ = handler
    meter_id = add_meter(hes_sessions, serial="SIM00000042")
    push = AlertPush(MeterIdentity(system_title=SYSTEM_TITLE), frozenset({85, 82}), T0, T0)
    first = await push_handler.handle_alert(push)
    second = await push_handler.handle_alert(push)
    assert (first.events_stored, second.events_stored) == (2, 0)
    assert second.outages == ()
    assert {(e.log, e.code) for e in rows(hes_sessions, MeterEvent, meter_id)} == {(2, 101), (5, 251)}


async def test_tamper_and_relay_change_bits(handler, hes_sessions, bus, outcomes):
    push_handler, calls, _ = handler
    meter_id = add_meter(hes_sessions, serial="SIM00000042")
    outcome = await push_handler.handle_alert(
        AlertPush(MeterIdentity(device_id="OPPSIM00000042"), frozenset({80, 84, 99}), None, T0)
    )
    assert outcome.meter_id == meter_id and outcome.relay_check_requested
    assert outcome.unmapped_bits == frozenset({84, 99})
    assert calls["relay"] == [(meter_id, T0)]
    assert [(e.log, e.code) for e in rows(hes_sessions, MeterEvent, meter_id)] == [(4, 201)]
    await bus.drain()
    status = [p for s, p in outcomes.messages if p.get("kind") == "status_word"]
    assert status[0]["status_bits"] == [80, 84, 99]
    with hes_sessions() as session:
        assert session.get(Meter, meter_id).last_seen_at == T0


async def test_unknown_meters_are_refused(handler, hes_sessions):
    push_handler, calls, metrics = handler
    add_meter(hes_sessions, serial="SIM00000042")
    outcome = await push_handler.handle_alert(
        AlertPush(MeterIdentity(system_title=b"XYZ\x00\x00\x00\x00\x01"), frozenset({85}), T0, T0)
    )
    assert outcome.meter_id is None
    assert await push_handler.handle_dial_in(DialIn(MeterIdentity(device_id="nobody"), "10.0.0.9:5000", T0)) is None
    assert await push_handler.handle_alert(AlertPush(MeterIdentity(), frozenset({85}), T0, T0)) == outcome
    with hes_sessions() as session:
        assert session.execute(select(Outage)).first() is None
    assert (
        metrics.registry.get_sample_value("openprepaid_hes_pushes_total", {"kind": "alert", "outcome": "unknown_meter"})
        == 2
    )
    assert calls == {"relay": [], "back": []}


async def test_event_notification_and_dial_in(handler, hes_sessions):
    push_handler, calls, _ = handler
    meter_id = add_meter(hes_sessions, serial="SIM00000042")
    identity = MeterIdentity(system_title=SYSTEM_TITLE)
    outcome = await push_handler.handle_event(EventPush(identity, 6, 301, T0, T0, {"note": "relay opened"}))
    assert outcome.events_stored == 1 and outcome.relay_check_requested
    refused = await push_handler.handle_event(EventPush(identity, 9, 1, T0, T0))
    assert refused.events_stored == 0
    later = T0 + timedelta(minutes=5)
    assert await push_handler.handle_dial_in(DialIn(identity, "10.0.0.9:5000", later)) == meter_id
    assert calls["back"] == [(meter_id, later)]
    with hes_sessions() as session:
        assert session.get(Meter, meter_id).last_seen_at == later
