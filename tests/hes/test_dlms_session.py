"""The session layer (``hes.dlms_session``) against simulated IS 15959 meters over loopback TCP.

Every ``MeterSession`` method, in the meter-reader (LLS, client 32) and utility-settings (HLS-GMAC,
client 48) associations, over the wrapper and HDLC; values are checked against the virtual meter's
own model (``VirtualMeter``), not against what our client sent. Failures reach the head-end as the
``hes.retry`` family: refused associations, timeouts, resets, offline modems, missing objects.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from openprepaid.cosem.association_events import Authentication, ClientSettings
from openprepaid.cosem.security import AUTHENTICATED_ENCRYPTED, SecurityKeys
from openprepaid.hes.clock import SystemClock
from openprepaid.hes.credentials import CredentialStore
from openprepaid.hes.dlms_session import DlmsSessionFactory, VaultCredentials
from openprepaid.hes.invocation_counters import InvocationCounterStore
from openprepaid.hes.retry import (
    AccessRefusedError,
    NetworkError,
    ObjectUnavailableError,
    SessionTimeoutError,
)
from openprepaid.hes.session import (
    DISCONNECT_CONTROL,
    PROFILE_OBJECTS,
    Association,
    MeterTarget,
    ProfileKind,
    ProfileRead,
    RelayControlState,
    event_log_obis,
)
from openprepaid.hes.targets import TargetDirectory
from openprepaid.keyvault import KeyVault
from openprepaid.simulator.faults import NetworkFaults
from openprepaid.simulator.meter_security import TEST_KEYS
from openprepaid.simulator.runner import Simulation, SimulationConfig, start_simulation
from openprepaid.store.model import Framing
from tests.hes.simulated_meters import HES_SYSTEM_TITLE, fleet_meters, register_fleet, sqlite_engine

ZONE = ZoneInfo("Asia/Kolkata")
VAULT = KeyVault(bytes(range(32)))
# The session layer does not depend on the database backend (its queries run on both backends
# in test_push_listener.py and test_hes_end_to_end.py): SQLite only, to keep the suite short.
migrated_engine = pytest.fixture(scope="module")(sqlite_engine)
SEED = 3  # meter 0 is a CT meter (no relay), meter 3 a one-phase whole-current meter
CT_METER, RELAY_METER = 0, 3
ENERGY = "1.0.1.8.0.255"


class Bench:
    def __init__(self, simulation: Simulation, db, ids: list[int], *, response_timeout_s: float = 5.0) -> None:
        self.simulation = simulation
        self.db = db
        self.ids = ids
        clock = SystemClock()
        self.counters = InvocationCounterStore(db, clock)
        self.factory = DlmsSessionFactory(
            VaultCredentials(CredentialStore(db, VAULT), client_system_title=HES_SYSTEM_TITLE),
            self.counters,
            zone=ZONE,
            connect_timeout_s=2,
            response_timeout_s=response_timeout_s,
        )
        self.targets = TargetDirectory(db)

    async def target(self, index: int) -> MeterTarget:
        return await self.targets.get(self.ids[index])

    def meter(self, index: int):  # type: ignore[no-untyped-def]
        meter = self.simulation.fleet.meter(index)
        meter.advance(self.simulation.server.now_s())
        return meter


async def start(db, hes_sessions, *, framing: str = "wrapper", meters: int = 4) -> Bench:
    for _ in range(30):
        port = random.randrange(20_000, 31_000)
        try:
            simulation = await start_simulation(
                SimulationConfig(
                    meters=meters, start=datetime.now(UTC), port=port, framing=framing, history_days=2, seed=SEED
                )
            )
        except Exception:  # a port in the range was taken: draw another range
            continue
        ids = register_fleet(
            hes_sessions,
            VAULT,
            fleet_meters(simulation.fleet),
            first_port=port,
            framing=Framing.HDLC if framing == "hdlc" else Framing.WRAPPER,
        )
        return Bench(simulation, db, ids)
    raise RuntimeError("no free port range")


@pytest.fixture
async def bench(db, hes_sessions):
    b = await start(db, hes_sessions)
    yield b
    await b.simulation.close()


@pytest.mark.parametrize("framing", ["wrapper", "hdlc"])
@pytest.mark.parametrize("association", [Association.METER_READER, Association.UTILITY_SETTINGS])
async def test_every_read_in_each_association_and_framing(db, hes_sessions, framing, association):
    bench = await start(db, hes_sessions, framing=framing)
    try:
        target = await bench.target(RELAY_METER)
        now = datetime.now(UTC)
        async with bench.factory.open(target, association) as session:
            plate = await session.read_name_plate()
            assert plate.serial == target.serial and plate.firmware == bench.meter(RELAY_METER).meter_type.firmware
            reading = await session.read_clock()
            assert abs(reading.meter_time_at - reading.read_at) < timedelta(seconds=5)
            for profile in ProfileKind:
                scalers = await session.read_scalers(profile)
                assert scalers, profile
            assert scalers_energy_is_wh(await session.read_scalers(ProfileKind.INSTANT))
            blocks = await session.read_block_load(now - timedelta(hours=6), now)
            assert 23 <= len(blocks.rows) <= 25  # 15-minute intervals in six hours
            assert blocks.columns[0].obis == "0.0.1.0.0.255"
            stamps = [row[0] for row in blocks.rows]
            assert stamps == sorted(stamps) and all(now - timedelta(hours=6.3) <= t <= now for t in stamps)
            daily = await session.read_daily(now - timedelta(days=3), now)
            assert 1 <= len(daily.rows) <= 3
            instant = await session.read_instant()
            energy_column = [c.obis for c in instant.columns].index(ENERGY)
            meter_energy = bench.meter(RELAY_METER).get(3, ENERGY, 2)
            assert abs(instant.rows[0][energy_column] - meter_energy) < 1_000  # Wh, read a moment apart
            events = await session.read_events(2, None)
            assert events.columns[0].obis == "0.0.1.0.0.255"
            relay = await session.read_relay_state()
            assert relay.output_state is True and relay.control_state is RelayControlState.CONNECTED
            limiter = await session.read_limiter()
            assert limiter.threshold_w == bench.meter(RELAY_METER).limiter.threshold_normal_w
            assert await session.read_payment_mode() is True
            assert await session.read_balance() == 0
            assert await session.get_attribute(3, ENERGY, 2) == pytest.approx(meter_energy, abs=1_000)
            assert session.bytes_sent > 0 and session.bytes_received > session.bytes_sent
    finally:
        await bench.simulation.close()


def scalers_energy_is_wh(scalers) -> bool:  # type: ignore[no-untyped-def]
    return scalers[ENERGY].unit == 30  # IEC 62056-6-2 unit 30: Wh


async def test_billing_profile_by_range(bench):
    target = await bench.target(RELAY_METER)
    now = datetime.now(UTC)
    async with bench.factory.open(target, Association.METER_READER) as session:
        billing = await session.read_billing(now - timedelta(days=400), now)
    assert billing.rows


async def test_profiles_in_one_request_read_what_one_request_each_reads(bench):
    target = await bench.target(RELAY_METER)
    now = datetime.now(UTC)
    since = {0: None, 1: now - timedelta(days=2), 2: None, 4: now - timedelta(hours=1)}
    reads = [ProfileRead(event_log_obis(log), at, None if at is None else now) for log, at in since.items()]
    reads += [
        ProfileRead(PROFILE_OBJECTS[ProfileKind.BLOCK_LOAD][0], now - timedelta(hours=6), now),
        ProfileRead(PROFILE_OBJECTS[ProfileKind.DAILY][0], now - timedelta(days=3), now),
        ProfileRead("0.0.99.98.9.255"),  # no such log: its error, the others still read
    ]
    async with bench.factory.open(target, Association.METER_READER) as session:
        together = await session.read_profiles(reads)
        alone = [await session.read_events(log, at) for log, at in since.items()]
        alone += [await session.read_block_load(now - timedelta(hours=6), now)]
        alone += [await session.read_daily(now - timedelta(days=3), now)]
    assert together[:-1] == alone and 23 <= len(together[4].rows) <= 25
    assert isinstance(together[-1], ObjectUnavailableError)


async def test_writes_and_actions_in_utility_settings_are_read_back(bench):
    target = await bench.target(RELAY_METER)
    meter = bench.meter(RELAY_METER)
    async with bench.factory.open(target, Association.UTILITY_SETTINGS) as session:
        await session.disconnect()
        relay = await session.read_relay_state()
        assert (relay.output_state, relay.control_state) == (False, RelayControlState.DISCONNECTED)
        assert int(meter.control_state) == 0
        await session.reconnect()
        assert (await session.read_relay_state()).control_state is RelayControlState.CONNECTED
        await session.set_limiter(4_000)
        assert (await session.read_limiter()).threshold_w == 4_000 == meter.limiter.threshold_normal_w
        await session.set_limiter_enabled(False)
        assert (await session.read_limiter()).threshold_w > 1_000_000
        await session.write_payment_mode(False)
        assert await session.read_payment_mode() is False and meter.payment_mode == 0
        await session.write_balance(12_345)
        assert await session.read_balance() == 12_345 == meter.balance_paise
        moved = datetime.now(UTC) + timedelta(minutes=7)
        await session.sync_clock(moved)
        assert abs((await session.read_clock()).meter_time_at - moved) < timedelta(seconds=5)
        await session.set_attribute(1, "0.0.94.96.24.255", 2, 500)
        assert await session.get_attribute(1, "0.0.94.96.24.255", 2) == 500
        assert await session.invoke_method(70, DISCONNECT_CONTROL, 1, 0) is None
        assert int(meter.control_state) == 0


async def test_the_meter_reader_may_not_write_or_act(bench):
    target = await bench.target(RELAY_METER)
    async with bench.factory.open(target, Association.METER_READER) as session:
        with pytest.raises(AccessRefusedError):
            await session.disconnect()
        with pytest.raises(AccessRefusedError):
            await session.write_balance(1)
        # The association is still usable after a refusal.
        assert (await session.read_relay_state()).output_state is True


async def test_missing_objects_are_unavailable_not_protocol_faults(bench):
    ct_target = await bench.target(CT_METER)
    async with bench.factory.open(ct_target, Association.METER_READER) as session:
        with pytest.raises(ObjectUnavailableError):
            await session.read_relay_state()  # a CT meter has no disconnect control
        with pytest.raises(ObjectUnavailableError):
            await session.get_attribute(3, "1.0.99.99.99.255", 2)
        with pytest.raises(ObjectUnavailableError, match="structured"):
            await session.get_attribute(7, "1.0.99.1.0.255", 3)


class WrongSecrets:
    """A credential source that gets the password or the keys wrong."""

    def __init__(self, association: Association) -> None:
        self.association = association

    async def client_settings(self, target, association):  # type: ignore[no-untyped-def]
        if association is Association.METER_READER:
            return ClientSettings(authentication=Authentication.LOW, password=b"wrong-password")
        keys = SecurityKeys(global_unicast=TEST_KEYS.global_unicast, authentication=bytes(16))
        return ClientSettings(
            authentication=Authentication.HLS_GMAC,
            system_title=HES_SYSTEM_TITLE,
            keys=keys,
            protection=AUTHENTICATED_ENCRYPTED,
        )


@pytest.mark.parametrize("association", [Association.METER_READER, Association.UTILITY_SETTINGS])
async def test_wrong_secrets_are_a_refused_association_not_retried(bench, association):
    factory = DlmsSessionFactory(WrongSecrets(association), bench.counters, zone=ZONE, response_timeout_s=3)
    target = await bench.target(RELAY_METER)
    with pytest.raises(AccessRefusedError) as caught:
        async with factory.open(target, association):
            pass
    assert caught.value.retryable is False


async def test_a_silent_meter_is_a_timeout(bench):
    target = await bench.target(RELAY_METER)
    bench.simulation.fleet.faults.set_network(RELAY_METER, NetworkFaults(drop_rate=1.0))
    quick = DlmsSessionFactory(
        VaultCredentials(CredentialStore(bench.db, VAULT), client_system_title=HES_SYSTEM_TITLE),
        bench.counters,
        zone=ZONE,
        response_timeout_s=0.3,
    )
    with pytest.raises(SessionTimeoutError) as caught:
        async with quick.open(target, Association.METER_READER):
            pass
    assert caught.value.retryable
    # Mid-session: the association opened, then the link goes quiet.
    bench.simulation.fleet.faults.set_network(RELAY_METER, None)
    with pytest.raises(SessionTimeoutError):
        async with quick.open(target, Association.UTILITY_SETTINGS) as session:
            bench.simulation.fleet.faults.set_network(RELAY_METER, NetworkFaults(drop_rate=1.0))
            await session.read_clock()


async def test_resets_offline_modems_and_closed_ports_are_network_errors(bench):
    target = await bench.target(RELAY_METER)
    bench.simulation.fleet.faults.set_network(RELAY_METER, NetworkFaults(reset_rate=1.0))
    with pytest.raises(NetworkError):
        async with bench.factory.open(target, Association.METER_READER):
            pass
    bench.simulation.fleet.faults.set_network(RELAY_METER, None)
    now_s = bench.simulation.server.now_s()
    bench.simulation.fleet.faults.add_offline(RELAY_METER, now_s - 1, 3_600)
    with pytest.raises(NetworkError):
        async with bench.factory.open(target, Association.UTILITY_SETTINGS):
            pass
    nowhere = MeterTarget(**_fields(target, port=1))  # nothing listens on port 1
    with pytest.raises(NetworkError):
        async with bench.factory.open(nowhere, Association.METER_READER):
            pass


def _fields(target: MeterTarget, **changes: object) -> dict[str, object]:
    values = {name: getattr(target, name) for name in MeterTarget.__dataclass_fields__}
    values.update(changes)
    return values


async def test_hls_sessions_never_reuse_an_invocation_counter(bench, db):
    target = await bench.target(RELAY_METER)
    for _ in range(3):
        async with bench.factory.open(target, Association.UTILITY_SETTINGS) as session:
            await session.read_clock()
    # A second factory (a restarted head-end) on the same database reserves above what was used.
    restarted = Bench(bench.simulation, db, bench.ids)
    async with restarted.factory.open(target, Association.UTILITY_SETTINGS) as session:
        assert (await session.read_relay_state()).output_state is True
    security = bench.simulation.server.security_of(RELAY_METER)
    accepted = security.next_client_counter(48)
    assert accepted > 3 * 4096  # each session reserved its own block; the meter saw them rise
