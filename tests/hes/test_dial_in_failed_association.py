"""A dial-in meter's line after a session that could not associate: a refusal (the meter answered) gives
the connection back for the next session; no answer hangs it up (its state is unknown; the meter dials
again), where before either left the line lent out until the meter hung up itself."""

from __future__ import annotations

import asyncio

import pytest

from openprepaid.cosem.association_events import Authentication, ClientSettings
from openprepaid.hes.credentials import CredentialStore
from openprepaid.hes.dlms_session import DlmsSessionFactory, VaultCredentials
from openprepaid.hes.invocation_counters import InvocationCounterStore
from openprepaid.hes.retry import AccessRefusedError, HesError
from openprepaid.hes.session import Association
from openprepaid.simulator.meter_security import system_title_for
from openprepaid.store.model import CommMode
from tests.hes.simulated_meters import HES_SYSTEM_TITLE, SimulatedMeter, fleet_meters, register_fleet, sqlite_engine
from tests.hes.test_dial_in import VAULT, ZONE, announcement, dialling_fleet, raw_dial, until
from tests.hes.test_dial_in import harness as dial_in_harness

# As test_dial_in.py: SQLite only (dial-in does not depend on the backend).
migrated_engine = pytest.fixture(scope="module")(sqlite_engine)
harness = dial_in_harness


class WrongPassword:
    """Credentials that get the meter reader's password wrong (the meter refuses the association)."""

    async def client_settings(self, target, association):  # type: ignore[no-untyped-def]
        return ClientSettings(authentication=Authentication.LOW, password=b"wrong-password")


async def _one_dialled_meter(harness, hes_sessions):  # type: ignore[no-untyped-def]
    simulation = await dialling_fleet(harness, 1)
    [meter_id] = register_fleet(
        hes_sessions, VAULT, fleet_meters(simulation.fleet), first_port=None, comm_mode=CommMode.DIAL_IN
    )
    await until(lambda: harness.listener.connected == 1)
    return simulation, await harness.targets.get(meter_id)


async def test_a_refused_association_gives_the_line_back(harness, hes_sessions):
    simulation, target = await _one_dialled_meter(harness, hes_sessions)
    try:
        counters = InvocationCounterStore(harness.db, harness.clock)
        wrong = DlmsSessionFactory(WrongPassword(), counters, zone=ZONE, dial_in=harness.listener)
        with pytest.raises(AccessRefusedError):
            async with wrong.open(target, Association.METER_READER):
                pass
        # The same connection serves the next session at once (not busy until the meter redials).
        async with harness.factory.open(target, Association.METER_READER) as session:
            assert (await session.read_name_plate()).serial == target.serial
        assert harness.listener.stats.connections == 1
    finally:
        await simulation.close()


async def test_no_answer_to_the_association_hangs_the_line_up(harness, hes_sessions):
    [meter_id] = register_fleet(
        hes_sessions, VAULT, [SimulatedMeter("OPS00000001", "1P-WC")], first_port=None, comm_mode=CommMode.DIAL_IN
    )
    title = system_title_for("OPS00000001")
    reader, writer = await raw_dial(harness, announcement("OPS00000001", title))  # announces, then silent
    try:
        await until(lambda: harness.listener.is_connected(title))
        quick = DlmsSessionFactory(
            VaultCredentials(CredentialStore(harness.db, VAULT), client_system_title=HES_SYSTEM_TITLE),
            InvocationCounterStore(harness.db, harness.clock),
            zone=ZONE,
            dial_in=harness.listener,
            response_timeout_s=0.3,
        )
        target = await harness.targets.get(meter_id)
        with pytest.raises(HesError):
            async with quick.open(target, Association.METER_READER):
                pass
        await until(lambda: not harness.listener.is_connected(title))  # hung up: the meter must dial again
        await asyncio.wait_for(reader.read(), 5)  # the unanswered AARQ, then the end of the connection
        assert reader.at_eof()
    finally:
        writer.close()
