"""The push listener over TCP: IS 15959 alert pushes (plain and general-glo-ciphered), event
notifications, and everything that must be refused without stopping the listener.

The first alert push is a hand-assembled byte string following the layout of IEC 62056-47 (wrapper
header: version 0x0001, source and destination wPort, length), IEC 62056-5-3 9.3.10
(DataNotification: tag 0x0F, long-invoke-id-and-priority, date-time, notification-body) and the
IS 15959 alert push object list (device id, push setup LN 0.4.25.9.0.255, clock, 128-bit ESW), so
the decoder is checked against octets written from the standards, not only against our encoder.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
from prometheus_client import CollectorRegistry
from sqlalchemy import select

from openprepaid.cosem.axdr import encode_data
from openprepaid.cosem.axdr_types import BitString, LongUnsigned
from openprepaid.cosem.date_time import CosemDateTime
from openprepaid.cosem.obis import OBIS
from openprepaid.cosem.security import AUTHENTICATED_ENCRYPTED, SecurityKeys
from openprepaid.cosem.security_apdu import Protection, protect
from openprepaid.cosem.wrapper import encode_wrapper
from openprepaid.cosem.xdlms_common import CosemAttributeDescriptor
from openprepaid.cosem.xdlms_notification import DataNotification, EventNotificationRequest
from openprepaid.hes.credentials import CredentialStore
from openprepaid.hes.metrics import HesMetrics
from openprepaid.hes.push_handler import PushHandler
from openprepaid.hes.push_listener import PushListener, RegistryPushKeys, status_bits
from openprepaid.keyvault import KeyVault, credential_context
from openprepaid.store.model import CredentialKind, MeterEvent, Outage
from openprepaid.store.repository.meter import put_credential
from tests.hes.conftest import add_meter
from tests.hes.fakes import T0

ZONE = ZoneInfo("Asia/Kolkata")
VAULT = KeyVault(bytes(range(32)))
KEYS = SecurityKeys(global_unicast=bytes(range(16)), authentication=bytes(range(16, 32)))
TITLE = b"OPP" + (42).to_bytes(5, "big")  # add_meter's system title for serial ...00000042

# 2026-11-24 10:30:00 IST: year 07EA, month 0B, day 18, Tuesday 02, 10:30:00.00, deviation -330 (FEB6), status 00.
STAMP = bytes.fromhex("07EA0B18020A1E0000FEB600")
PUSH_AT = datetime(2026, 11, 24, 5, 0, tzinfo=UTC)
ESW_LAST_GASP = bytes(10) + b"\x04" + bytes(5)  # bit 85: octet 10, 0x80 >> 5
HAND_MADE_LAST_GASP = (
    bytes.fromhex("0001 0001 0001 004A")  # wrapper: version 1, wPort 1 -> 1, 74 octets
    + bytes.fromhex("0F 00000001 0C")
    + STAMP  # data-notification, invoke id 1, date-time
    + bytes.fromhex("02 04")  # structure of 4
    + bytes.fromhex("0A 0B")
    + b"SIM00000042"  # device id, visible-string
    + bytes.fromhex("09 06 0004190900FF")  # push setup 0.4.25.9.0.255
    + bytes.fromhex("09 0C")
    + STAMP  # clock
    + bytes.fromhex("04 8180")
    + ESW_LAST_GASP  # bit-string of 128 bits
)


def alert_apdu(device_id: str, bits: set[int], *, at: datetime = PUSH_AT, invoke_id: int = 7) -> bytes:
    word = "".join("1" if n in bits else "0" for n in range(128))
    stamp = CosemDateTime.from_datetime(at.astimezone(ZONE)).to_bytes()
    body = encode_data((device_id, OBIS.parse("0.4.25.9.0.255").to_bytes(), stamp, BitString(word)))
    return DataNotification(long_invoke_id_and_priority=invoke_id, date_time=None, body=body).encode()


def event_apdu(log: int, code: int, at: datetime) -> bytes:
    return EventNotificationRequest(
        time=CosemDateTime.from_datetime(at.astimezone(ZONE)),
        attribute=CosemAttributeDescriptor(1, OBIS.parse(f"0.0.96.11.{log}.255"), 2),
        value=encode_data(LongUnsigned(code)),
    ).encode()


def ciphered(apdu: bytes, counter: int, keys: SecurityKeys = KEYS, title: bytes = TITLE) -> bytes:
    return protect(
        apdu,
        protection=Protection.GENERAL_GLOBAL,
        security_control=AUTHENTICATED_ENCRYPTED,
        system_title=title,
        invocation_counter=counter,
        keys=keys,
    )


def seal_keys(sessions, meter_id: int) -> None:
    with sessions.begin() as session:
        for kind, secret in (
            (CredentialKind.GLOBAL_ENCRYPTION_KEY, KEYS.global_unicast),
            (CredentialKind.AUTHENTICATION_KEY, KEYS.authentication),
        ):
            sealed = VAULT.seal(secret, credential_context(meter_id, 48, kind.value))
            put_credential(session, meter_id, 48, kind, sealed=sealed, now=T0)


@pytest.fixture
async def listener(db, bus, clock):
    relays: list[int] = []

    async def relay_changed(meter_id, _at):
        relays.append(meter_id)

    metrics = HesMetrics(CollectorRegistry())
    handler = PushHandler(db, bus, clock, on_relay_change=relay_changed, metrics=metrics)
    push_listener = PushListener(
        handler,
        clock,
        zone=ZONE,
        keys=RegistryPushKeys(db, CredentialStore(db, VAULT)),
        metrics=metrics,
        max_connections=2,
        idle_timeout_s=0.5,
        max_frames_per_connection=8,
    )
    await push_listener.start("127.0.0.1", 0)
    push_listener.relays = relays  # type: ignore[attr-defined]
    push_listener.registry = metrics.registry  # type: ignore[attr-defined]
    yield push_listener
    await push_listener.close()


def count(metrics_registry: CollectorRegistry, kind: str, outcome: str) -> float:
    value = metrics_registry.get_sample_value("openprepaid_hes_pushes_total", {"kind": kind, "outcome": outcome})
    return value or 0.0


async def send(port: int, data: bytes, *, wait_close: bool = True) -> None:
    _, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(data)
    await writer.drain()
    writer.close()
    if wait_close:
        await writer.wait_closed()


async def until(condition, timeout_s: float = 5.0) -> None:
    async with asyncio.timeout(timeout_s):
        while not condition():
            await asyncio.sleep(0.01)


def rows(sessions, model, meter_id):
    with sessions() as session:
        return session.execute(select(model).where(model.meter_id == meter_id)).scalars().all()


def test_status_bits_number_from_the_top_bit_of_the_first_octet():
    assert status_bits(BitString.from_octets(ESW_LAST_GASP, 128)) == {85}
    assert status_bits(BitString.from_octets(bytes.fromhex("80") + bytes(15), 128)) == {0}
    assert status_bits(BitString("")) == frozenset()


async def test_a_hand_assembled_last_gasp_opens_an_outage_at_the_meter_time(listener, hes_sessions):
    meter_id = add_meter(hes_sessions, serial="SIM00000042")
    await send(listener.port, HAND_MADE_LAST_GASP)
    await until(lambda: listener.stats.alerts == 1)
    await until(lambda: bool(rows(hes_sessions, Outage, meter_id)))
    [outage] = rows(hes_sessions, Outage, meter_id)
    assert outage.started_at == PUSH_AT and outage.ended_at is None
    [event] = rows(hes_sessions, MeterEvent, meter_id)
    assert (event.log, event.code, event.source) == (2, 101, "push")


async def test_first_breath_closes_and_tamper_bits_become_events(listener, hes_sessions):
    meter_id = add_meter(hes_sessions, serial="SIM00000042")
    frames = encode_wrapper(1, 1, alert_apdu("SIM00000042", {85}, at=PUSH_AT)) + encode_wrapper(
        1, 1, alert_apdu("SIM00000042", {86, 80, 82, 84}, at=PUSH_AT.replace(minute=20))
    )
    await send(listener.port, frames)  # one burst, two frames, as a modem sends them
    await until(lambda: listener.stats.alerts == 2)
    await until(lambda: len(rows(hes_sessions, MeterEvent, meter_id)) == 4)
    [outage] = rows(hes_sessions, Outage, meter_id)
    assert outage.ended_at == PUSH_AT.replace(minute=20)
    assert sorted(e.code for e in rows(hes_sessions, MeterEvent, meter_id)) == [101, 102, 201, 251]
    assert listener.relays == [meter_id]  # bit 84: the relay is read back, the push carries no state


async def test_a_ciphered_push_opens_with_the_meters_keys_and_a_replay_is_refused(listener, hes_sessions, db):
    meter_id = add_meter(hes_sessions, serial="SIM00000042")
    seal_keys(hes_sessions, meter_id)
    registry = listener.registry
    # The device id is empty: the system title in the envelope names the meter.
    await send(listener.port, encode_wrapper(1, 1, ciphered(alert_apdu("", {82}), counter=10)))
    await until(lambda: listener.stats.alerts == 1)
    await until(lambda: len(rows(hes_sessions, MeterEvent, meter_id)) == 1)
    # The same counter again (a replay), then wrong keys, then a title nobody has: all refused.
    await send(listener.port, encode_wrapper(1, 1, ciphered(alert_apdu("", {80}), counter=10)))
    wrong = SecurityKeys(global_unicast=bytes(16), authentication=bytes(16))
    await send(listener.port, encode_wrapper(1, 1, ciphered(alert_apdu("", {80}), counter=11, keys=wrong)))
    stranger = b"XYZ" + bytes(5)
    await send(listener.port, encode_wrapper(1, 1, ciphered(alert_apdu("", {80}), counter=12, title=stranger)))
    await until(lambda: listener.stats.invalid == 3)
    assert len(rows(hes_sessions, MeterEvent, meter_id)) == 1
    assert count(registry, "alert", "invalid") == 3
    # A later counter with the right keys is accepted again.
    await send(listener.port, encode_wrapper(1, 1, ciphered(alert_apdu("", {80}), counter=13)))
    await until(lambda: len(rows(hes_sessions, MeterEvent, meter_id)) == 2)


async def test_plain_pushes_can_be_refused_when_ciphering_is_required(db, bus, clock, hes_sessions):
    add_meter(hes_sessions, serial="SIM00000042")
    handler = PushHandler(db, bus, clock)
    strict = PushListener(handler, clock, zone=ZONE, require_ciphering=True)
    outcome = await strict.receive_apdu(alert_apdu("SIM00000042", {85}))
    assert outcome is None and strict.stats.invalid == 1


async def test_event_notification_after_an_alert_push_on_the_same_connection(listener, hes_sessions):
    meter_id = add_meter(hes_sessions, serial="SIM00000042")
    relay_at = PUSH_AT.replace(minute=5)
    frames = encode_wrapper(1, 1, alert_apdu("SIM00000042", set())) + encode_wrapper(1, 1, event_apdu(6, 302, relay_at))
    await send(listener.port, frames)
    await until(lambda: listener.stats.events == 1)
    await until(lambda: bool(rows(hes_sessions, MeterEvent, meter_id)))
    [event] = rows(hes_sessions, MeterEvent, meter_id)
    assert (event.log, event.code, event.occurred_at) == (6, 302, relay_at)
    assert listener.relays == [meter_id]
    # Alone on a connection, an event notification names no meter: refused.
    await send(listener.port, encode_wrapper(1, 1, event_apdu(6, 301, relay_at)))
    await until(lambda: listener.stats.invalid == 1)


@pytest.mark.parametrize(
    "garbage",
    [
        pytest.param(b"\x00\x02\x00\x01\x00\x01\x00\x03abc", id="bad-wrapper-version"),
        pytest.param(encode_wrapper(1, 1, b"\x0f\x00"), id="truncated-notification"),
        pytest.param(encode_wrapper(1, 1, b"\xc0\x01\x81\x00\x08"), id="not-a-push"),
        pytest.param(
            encode_wrapper(1, 1, DataNotification(long_invoke_id_and_priority=1, body=b"\x11\x05").encode()),
            id="body-not-a-structure",
        ),
        pytest.param(
            encode_wrapper(
                1,
                1,
                DataNotification(
                    long_invoke_id_and_priority=1, body=encode_data(("SIM00000042", b"\x00" * 6, b"", "notbits"))
                ).encode(),
            ),
            id="esw-not-a-bit-string",
        ),
        pytest.param(
            encode_wrapper(1, 1, b"\xdb\x08OPP\x00\x00\x00\x00\x2a\x05\x30\x00\x00\x00\x01"), id="ciphered-truncated"
        ),
    ],
)
async def test_garbage_is_counted_and_the_listener_goes_on(listener, hes_sessions, garbage):
    meter_id = add_meter(hes_sessions, serial="SIM00000042")
    await send(listener.port, garbage)
    await until(lambda: listener.stats.invalid >= 1)
    await send(listener.port, encode_wrapper(1, 1, alert_apdu("SIM00000042", {85})))
    await until(lambda: bool(rows(hes_sessions, Outage, meter_id)))


async def test_unknown_meters_are_refused_and_counted(listener, hes_sessions):
    add_meter(hes_sessions, serial="SIM00000042")
    await send(listener.port, encode_wrapper(1, 1, alert_apdu("NOBODY99", {85})))
    registry = listener.registry
    await until(lambda: count(registry, "alert", "unknown_meter") == 1)


async def test_connections_are_bounded_in_number_time_and_frames(listener, hes_sessions):
    add_meter(hes_sessions, serial="SIM00000042")
    idle = [await asyncio.open_connection("127.0.0.1", listener.port) for _ in range(2)]
    await until(lambda: listener.stats.connections == 2)
    reader, writer = await asyncio.open_connection("127.0.0.1", listener.port)
    assert await asyncio.wait_for(reader.read(), 2) == b""  # a third is closed at once
    assert listener.rejected_connections == 1
    for idle_reader, _ in idle:  # the idle ones are closed after idle_timeout_s
        assert await asyncio.wait_for(idle_reader.read(), 3) == b""
    for _, idle_writer in idle:
        idle_writer.close()
    writer.close()
    # More frames on one connection than allowed: the rest is not read.
    frame = encode_wrapper(1, 1, alert_apdu("SIM00000042", set()))
    await send(listener.port, frame * 12)
    await until(lambda: listener.stats.invalid == 1)
    assert listener.stats.alerts == 8
