"""The wired head-end: credentials opened in memory, metrics per registry, pushes and drift connected."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
from prometheus_client import CollectorRegistry

from openprepaid.hes.collection_policy import CollectionJob
from openprepaid.hes.credentials import CredentialStore, MissingCredentialError
from openprepaid.hes.group_commit import GroupCommitDatabase
from openprepaid.hes.head_end import HeadEndConfig, build_head_end
from openprepaid.hes.metrics import HesMetrics
from openprepaid.hes.push_handler import AlertPush, MeterIdentity
from openprepaid.hes.session import Association
from openprepaid.keyvault import KeyVault, credential_context
from openprepaid.store.model import CommandState, CredentialKind
from openprepaid.store.repository.meter import put_credential
from tests.hes.conftest import add_meter
from tests.hes.fakes import T0, FakeSessionFactory

VAULT = KeyVault(bytes(range(32)))
EK, AK = bytes(range(16)), bytes(range(16, 32))


def seal(sessions, meter_id, sap, kind, secret):
    with sessions.begin() as session:
        sealed = VAULT.seal(secret, credential_context(meter_id, sap, kind.value))
        put_credential(session, meter_id, sap, kind, sealed=sealed, now=T0)


async def test_credentials_open_only_for_their_meter(db, hes_sessions):
    meter_id = add_meter(hes_sessions, serial="SIM00000001")
    other = add_meter(hes_sessions, serial="SIM00000002")
    seal(hes_sessions, meter_id, 48, CredentialKind.GLOBAL_ENCRYPTION_KEY, EK)
    seal(hes_sessions, meter_id, 48, CredentialKind.AUTHENTICATION_KEY, AK)
    store = CredentialStore(db, VAULT)
    secrets = await store.secrets_for(meter_id, Association.UTILITY_SETTINGS)
    assert (secrets.encryption_key, secrets.authentication_key) == (EK, AK)
    assert EK.hex() not in repr(secrets) and "encryption_key" not in repr(secrets)
    assert (await store.secrets_for(meter_id, Association.PUBLIC)).lls_password is None
    with pytest.raises(MissingCredentialError, match="lls_password"):
        await store.secrets_for(meter_id, Association.METER_READER)
    # A sealed value copied to another meter's row does not open there.
    with hes_sessions.begin() as session:
        sealed = VAULT.seal(EK, credential_context(meter_id, 48, "ek"))
        put_credential(session, other, 48, CredentialKind.GLOBAL_ENCRYPTION_KEY, sealed=sealed, now=T0)
        put_credential(session, other, 48, CredentialKind.AUTHENTICATION_KEY, sealed=sealed, now=T0)
    with pytest.raises(MissingCredentialError, match="does not open"):
        await store.secrets_for(other, Association.UTILITY_SETTINGS)


def test_metrics_live_in_the_registry_they_are_given():
    first, second = HesMetrics(CollectorRegistry()), HesMetrics(CollectorRegistry())
    first.pushes.labels(kind="alert", outcome="ok").inc()
    assert first.registry.get_sample_value("openprepaid_hes_pushes_total", {"kind": "alert", "outcome": "ok"}) == 1
    assert second.registry.get_sample_value("openprepaid_hes_pushes_total", {"kind": "alert", "outcome": "ok"}) is None


@pytest.mark.parametrize("group_commit", [1, 64])
async def test_wiring_drift_to_clock_sync_and_relay_push_to_a_read(hes_sessions, bus, clock, group_commit):
    meter_id = add_meter(hes_sessions, serial="SIM00000042")
    fakes = FakeSessionFactory(clock)
    meter = fakes.add(meter_id, serial="SIM00000042", clock_offset_s=-75)
    meter.fill_blocks(T0 - timedelta(hours=1), 5)
    head_end = build_head_end(
        sessions=hes_sessions,
        bus=bus,
        vault=VAULT,
        clock=clock,
        zone=ZoneInfo("Asia/Kolkata"),
        session_factory=lambda deps: fakes,
        registry=CollectorRegistry(),
        config=HeadEndConfig(seed=3, command_poll_s=1, tick_s=30, group_commit=group_commit),
        offload=False,
    )
    assert isinstance(head_end.db, GroupCommitDatabase) == (group_commit > 1)
    stop = asyncio.Event()
    task = asyncio.create_task(head_end.run(stop))
    for _ in range(20):
        await clock.advance(1)
    # The first collection found the clock 75 s slow; a verified clock sync followed.
    assert head_end.scheduler.facts[meter_id].has_name_plate
    assert "sync_clock" in meter.calls and abs(meter.clock_offset_s) < 1
    depth = await head_end.queue.depth()
    assert depth == {CommandState.CONFIRMED: 1}
    # A relay-change push asks for the relay state, read at relay priority.
    await head_end.push_handler.handle_alert(
        AlertPush(MeterIdentity(device_id="SIM00000042"), frozenset({84}), clock.now(), clock.now())
    )
    for _ in range(5):
        await clock.advance(1)
    assert meter.calls.count("read_relay_state") == 1
    stop.set()
    await clock.advance(1)
    await asyncio.wait_for(task, timeout=5)
    assert (
        head_end.metrics.registry.get_sample_value(
            "openprepaid_hes_collection_jobs_total", {"job": CollectionJob.RELAY_STATE.value, "outcome": "ok"}
        )
        == 1
    )
