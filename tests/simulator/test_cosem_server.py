"""The COSEM application of one virtual meter (simulator/cosem_server.py), without sockets.

GET / SET / ACTION go to the model and come back as A-XDR Data or the Data-Access-Result the model
chose; selective access becomes the model's selections; the association and invocation-counter
objects belong to the server. The last tests run our client association against the meter's
association in memory, including the envelope a general-glo-ciphering client gets back.
"""

from __future__ import annotations

import asyncio
from datetime import datetime

import pytest

from openprepaid.cosem.association_events import (
    AssociationAccepted,
    Authentication,
    ClientSettings,
    GetListResult,
    GetResult,
    SetResult,
)
from openprepaid.cosem.axdr import DoubleLongUnsigned, Integer, LongUnsigned, decode_data, encode_data
from openprepaid.cosem.client_association import ClientAssociation
from openprepaid.cosem.date_time import CosemDateTime
from openprepaid.cosem.obis import OBIS
from openprepaid.cosem.security import AUTHENTICATED_ENCRYPTED
from openprepaid.cosem.security_apdu import GENERAL_GLO_CIPHERING_TAG, Protection, protect, unprotect
from openprepaid.cosem.security_counter import ReplayGuard
from openprepaid.cosem.xdlms import decode_xdlms_apdu
from openprepaid.cosem.xdlms_common import (
    ActionResult,
    CosemAttributeDescriptor,
    CosemAttributeDescriptorWithSelection,
    DataAccessResult,
    SelectiveAccess,
)
from openprepaid.cosem.xdlms_get import GetRequestNormal, GetResponseNormal
from openprepaid.cosem.xdlms_selective import CaptureObjectDefinition, EntryDescriptor, RangeDescriptor
from openprepaid.meters.meter_types import THREE_PHASE_LT_CT
from openprepaid.simulator.cosem_server import MeterApplication, ServerStats, encoded_object_list
from openprepaid.simulator.meter_association import new_association
from openprepaid.simulator.meter_security import TEST_CREDENTIALS, TEST_KEYS, MeterSecurity, system_title_for
from openprepaid.simulator.virtual_meter import VirtualMeter
from tests.simulator.conftest import IST, ist, make_meter

NOW = ist(2025, 3, 9, 12, 0)
ENERGY = OBIS.parse("1.0.1.8.0.255")
CLOCK = OBIS.parse("0.0.1.0.0.255")
BLOCK_LOAD = OBIS.parse("1.0.99.1.0.255")
RELAY = OBIS.parse("0.0.96.3.10.255")
LIMITER = OBIS.parse("0.0.17.0.0.255")
ASSOCIATION = OBIS.parse("0.0.40.0.0.255")
COUNTER = OBIS.parse("0.0.43.1.0.255")
CLIENT_TITLE = b"OPHES001"
UTILITY = ClientSettings(
    authentication=Authentication.HLS_GMAC,
    system_title=CLIENT_TITLE,
    keys=TEST_KEYS,
    protection=AUTHENTICATED_ENCRYPTED,
)


@pytest.fixture
def app() -> MeterApplication:
    meter = make_meter()
    meter.advance(NOW)
    return MeterApplication(meter, lambda: NOW, MeterSecurity(), ServerStats())


def value(answer: bytes | DataAccessResult) -> object:
    assert isinstance(answer, bytes), answer
    return decode_data(answer)


def range_access(start: datetime, end: datetime, *columns: CaptureObjectDefinition) -> SelectiveAccess:
    return RangeDescriptor(
        CosemDateTime.from_datetime(start), CosemDateTime.from_datetime(end), selected_values=columns
    ).to_access()


def test_a_register_and_its_scaler_come_from_the_model(app: MeterApplication) -> None:
    assert value(app.get(3, ENERGY, 2, None, 32)) == app.meter.registers()[0]
    assert value(app.get(3, ENERGY, 3, None, 32)) == (0, 30)  # scaler 0, unit Wh


def test_the_clock_reads_the_meter_time_in_its_offset(app: MeterApplication) -> None:
    octets = value(app.get(8, CLOCK, 2, None, 16))
    assert isinstance(octets, bytes)
    assert CosemDateTime.from_bytes(octets).to_datetime() == datetime(2025, 3, 9, 12, 0, tzinfo=IST)


def test_the_block_load_profile_by_clock_range(app: MeterApplication) -> None:
    rows = value(
        app.get(
            7,
            BLOCK_LOAD,
            2,
            range_access(datetime(2025, 3, 9, 6, 0, tzinfo=IST), datetime(2025, 3, 9, 9, 0, tzinfo=IST)),
            32,
        )
    )
    assert isinstance(rows, list) and len(rows) == 13  # 06:00 .. 09:00 inclusive, every 15 minutes
    stamps = [CosemDateTime.from_bytes(row[0]).to_datetime() for row in rows]
    assert stamps[0] == datetime(2025, 3, 9, 6, 0, tzinfo=IST)
    assert stamps[-1] == datetime(2025, 3, 9, 9, 0, tzinfo=IST)
    model = app.meter.get(7, "1.0.99.1.0.255", 2)
    assert isinstance(model, list)
    by_time = {row[0]: row for row in model}  # type: ignore[index]
    assert [tuple(row[1:]) for row in rows] == [tuple(int(v) for v in by_time[t][1:]) for t in stamps]  # type: ignore[index]


def test_a_range_with_selected_columns_and_an_entry_range(app: MeterApplication) -> None:
    clock = CaptureObjectDefinition(8, CLOCK, 2)
    block_wh = CaptureObjectDefinition(3, OBIS.parse("1.0.1.29.0.255"), 2)
    start, end = datetime(2025, 3, 9, 6, 0, tzinfo=IST), datetime(2025, 3, 9, 7, 0, tzinfo=IST)
    rows = value(app.get(7, BLOCK_LOAD, 2, range_access(start, end, clock, block_wh), 32))
    assert isinstance(rows, list) and len(rows) == 5 and all(len(row) == 2 for row in rows)
    entries = value(app.get(7, BLOCK_LOAD, 2, EntryDescriptor(1, 3, 2, 3).to_access(), 32))
    assert isinstance(entries, list) and len(entries) == 3 and all(len(row) == 2 for row in entries)


@pytest.mark.parametrize(
    ("access", "expected"),
    [
        (SelectiveAccess(3, b"\x00"), DataAccessResult.OTHER_REASON),  # profile generic has selectors 1 and 2
        (SelectiveAccess(1, b"\x02\x01\x00"), DataAccessResult.OTHER_REASON),  # a range of 1 element
        (  # restricted on a column that is not the buffer's time
            RangeDescriptor(
                LongUnsigned(1), LongUnsigned(2), CaptureObjectDefinition(3, OBIS.parse("1.0.1.29.0.255"), 2)
            ).to_access(),
            DataAccessResult.OBJECT_UNAVAILABLE,
        ),
        (  # a time column but numbers as bounds
            RangeDescriptor(LongUnsigned(1), LongUnsigned(2)).to_access(),
            DataAccessResult.TYPE_UNMATCHED,
        ),
    ],
)
def test_bad_selective_access_is_refused(
    app: MeterApplication, access: SelectiveAccess, expected: DataAccessResult
) -> None:
    assert app.get(7, BLOCK_LOAD, 2, access, 32) is expected


def test_an_unspecified_range_bound_leaves_that_side_open(app: MeterApplication) -> None:
    wildcard = CosemDateTime(None, None, None, None, None)
    access = RangeDescriptor(wildcard, CosemDateTime.from_datetime(datetime(2025, 3, 2, 1, 0, tzinfo=IST))).to_access()
    rows = value(app.get(7, BLOCK_LOAD, 2, access, 32))
    assert isinstance(rows, list) and 1 <= len(rows) <= 4  # from the first interval of the meter's life


@pytest.mark.parametrize(
    ("class_id", "obis", "attribute", "client", "expected"),
    [
        (3, ENERGY, 2, 16, DataAccessResult.READ_WRITE_DENIED),  # the public client reads a few objects only
        (3, OBIS.parse("1.0.1.8.9.255"), 2, 32, DataAccessResult.OBJECT_UNDEFINED),
        (1, ENERGY, 2, 32, DataAccessResult.OBJECT_CLASS_INCONSISTENT),
        (3, ENERGY, 9, 32, DataAccessResult.OBJECT_UNDEFINED),
    ],
)
def test_refusals_carry_the_model_result(
    app: MeterApplication, class_id: int, obis: OBIS, attribute: int, client: int, expected: DataAccessResult
) -> None:
    assert app.get(class_id, obis, attribute, None, client) is expected
    assert app.stats.refusals == 1


def test_a_meter_without_supply_answers_temporary_failure(app: MeterApplication) -> None:
    app.meter.power_fail()
    assert app.get(3, ENERGY, 2, None, 32) is DataAccessResult.TEMPORARY_FAILURE


def test_an_unexpected_model_failure_is_other_reason_and_counted(
    app: MeterApplication, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*_args: object, **_kwargs: object) -> object:
        raise RuntimeError("bug")

    monkeypatch.setattr(VirtualMeter, "get", broken)
    assert app.get(3, ENERGY, 2, None, 32) is DataAccessResult.OTHER_REASON
    assert app.stats.failures == 1


def test_set_the_clock_with_a_date_time(app: MeterApplication) -> None:
    later = CosemDateTime.from_datetime(datetime(2025, 3, 9, 12, 5, tzinfo=IST)).to_bytes()
    assert app.set(8, CLOCK, 2, encode_data(later), 48) is DataAccessResult.SUCCESS
    octets = value(app.get(8, CLOCK, 2, None, 48))
    assert isinstance(octets, bytes)
    assert CosemDateTime.from_bytes(octets).to_datetime() == datetime(2025, 3, 9, 12, 5, tzinfo=IST)
    assert 151 in app.meter.event_codes(3)  # RTC change in the transaction log


@pytest.mark.parametrize(
    ("client", "data", "expected"),
    [
        (48, encode_data(DoubleLongUnsigned(2000)), DataAccessResult.SUCCESS),
        (32, encode_data(DoubleLongUnsigned(2000)), DataAccessResult.READ_WRITE_DENIED),  # the reader writes nothing
        (48, encode_data("2000"), DataAccessResult.TYPE_UNMATCHED),
        (48, b"\x06\x00", DataAccessResult.TYPE_UNMATCHED),  # truncated Data
    ],
)
def test_set_the_limiter_threshold(app: MeterApplication, client: int, data: bytes, expected: DataAccessResult) -> None:
    assert app.set(71, LIMITER, 4, data, client) is expected
    if expected is DataAccessResult.SUCCESS:
        assert value(app.get(71, LIMITER, 4, None, 48)) == 2000


def test_disconnect_and_reconnect(app: MeterApplication) -> None:
    assert app.action(70, RELAY, 1, encode_data(Integer(0)), 48) == (ActionResult.SUCCESS, None)
    assert value(app.get(70, RELAY, 2, None, 48)) is False
    assert value(app.get(70, RELAY, 3, None, 48)) == 0
    assert app.action(70, RELAY, 2, encode_data(Integer(0)), 48) == (ActionResult.SUCCESS, None)
    assert value(app.get(70, RELAY, 2, None, 48)) is True
    assert value(app.get(70, RELAY, 3, None, 48)) == 1
    assert app.meter.event_codes(6)[-2:] == [301, 302]


def test_actions_refused(app: MeterApplication) -> None:
    assert app.action(70, RELAY, 1, encode_data(Integer(0)), 32)[0] is ActionResult.READ_WRITE_DENIED
    assert app.action(70, RELAY, 3, None, 48)[0] is ActionResult.OBJECT_UNDEFINED
    assert app.action(8, CLOCK, 6, encode_data("60"), 48)[0] is ActionResult.TYPE_UNMATCHED  # shift is a number
    assert app.action(8, CLOCK, 6, b"\xff", 48)[0] is ActionResult.TYPE_UNMATCHED
    ct = MeterApplication(make_meter(meter_type=THREE_PHASE_LT_CT), lambda: NOW, MeterSecurity())
    assert ct.action(70, RELAY, 1, encode_data(Integer(0)), 48)[0] is ActionResult.OBJECT_UNDEFINED  # no relay


def test_the_association_object(app: MeterApplication) -> None:
    assert value(app.get(15, ASSOCIATION, 1, None, 16)) == bytes(ASSOCIATION)
    assert value(app.get(15, ASSOCIATION, 3, None, 32)) == (32, 1)
    assert value(app.get(15, ASSOCIATION, 8, None, 32)) == 2
    assert app.get(15, ASSOCIATION, 5, None, 32) is DataAccessResult.READ_WRITE_DENIED
    assert app.get(15, ASSOCIATION, 12, None, 32) is DataAccessResult.OBJECT_UNDEFINED
    assert app.get(1, ASSOCIATION, 2, None, 32) is DataAccessResult.OBJECT_CLASS_INCONSISTENT
    assert app.set(15, ASSOCIATION, 2, encode_data(None), 48) is DataAccessResult.READ_WRITE_DENIED


def test_the_object_list_carries_each_client_s_rights() -> None:
    meter = make_meter()
    listing = {bytes(item[2]): item for item in decode_data(encoded_object_list(meter.meter_type, 48))}
    energy = listing[bytes(ENERGY)]
    assert energy[0] == 3 and energy[3][0][1] == (2, 1, None)  # attribute 2 read-only
    limiter = listing[bytes(LIMITER)][3]
    assert limiter[0][3] == (4, 3, None)  # threshold_normal read-write for utility settings
    assert listing[bytes(BLOCK_LOAD)][3][0][1] == (2, 1, [1, 2])  # buffer with both access selectors
    assert listing[bytes(RELAY)][3][1] == [(1, 1), (2, 1)]
    public = {bytes(item[2]): item for item in decode_data(encoded_object_list(meter.meter_type, 16))}
    assert public[bytes(ENERGY)][3][0][1] == (2, 0, None)
    assert public[bytes(RELAY)][3][1] == [(1, 0), (2, 0)]
    assert bytes(ASSOCIATION) in listing and bytes(COUNTER) in listing


def test_the_invocation_counter_object_tells_the_next_acceptable_counter(app: MeterApplication) -> None:
    assert value(app.get(1, COUNTER, 2, None, 16)) == 0
    app.security.replay_guards[48] = ReplayGuard(41)
    assert value(app.get(1, COUNTER, 2, None, 16)) == 42
    assert app.get(3, COUNTER, 2, None, 16) is DataAccessResult.OBJECT_CLASS_INCONSISTENT


# --- the whole association in memory --------------------------------------------------------------------


class Meter:
    """One meter connection: its association and application, fed APDUs by hand."""

    def __init__(self, app: MeterApplication) -> None:
        self.app = app
        self.association = new_association(app.meter.serial, TEST_CREDENTIALS, app.security)

    def request(self, apdu: bytes, sap: int) -> list[bytes]:
        event = self.association.receive_apdu(apdu, client_sap=sap)
        if event is not None and type(event).__name__.endswith("Requested"):
            asyncio.run(self.app.handle(event, self.association))  # type: ignore[arg-type]
        elif event is not None:
            self.app.observe(event)
        return self.association.data_to_send()


def associate(meter: Meter, client: ClientAssociation, sap: int) -> None:
    pending = [client.associate()]
    while pending:
        for reply in meter.request(pending.pop(0), sap):
            event = client.receive_apdu(reply)
            pending.extend(client.data_to_send())
            if isinstance(event, AssociationAccepted):
                return
    raise AssertionError("not associated")


def test_hls_gmac_association_reads_and_writes_through_the_meter(app: MeterApplication) -> None:
    meter = Meter(app)
    client = ClientAssociation(UTILITY)
    associate(meter, client, 48)
    [reply] = meter.request(client.get(CosemAttributeDescriptor(3, ENERGY, 2)), 48)
    assert reply[0] == 0xCC  # glo-get-response: the client used service-specific ciphering
    event = client.receive_apdu(reply)
    assert isinstance(event, GetResult) and decode_data(event.result) == app.meter.registers()[0]
    [reply] = meter.request(
        client.set(CosemAttributeDescriptor(71, LIMITER, 4), encode_data(DoubleLongUnsigned(1234))), 48
    )
    event = client.receive_apdu(reply)
    assert isinstance(event, SetResult) and event.results == (DataAccessResult.SUCCESS,)
    assert app.meter.limiter is not None and app.meter.limiter.threshold_normal_w == 1234
    assert app.stats.associations == 1


def test_a_general_glo_ciphered_request_gets_a_general_glo_ciphered_answer(app: MeterApplication) -> None:
    meter = Meter(app)
    associate(meter, ClientAssociation(UTILITY), 48)
    plain = GetRequestNormal(attribute=CosemAttributeDescriptor(70, RELAY, 3)).encode()
    request = protect(
        plain,
        protection=Protection.GENERAL_GLOBAL,
        security_control=AUTHENTICATED_ENCRYPTED,
        system_title=CLIENT_TITLE,
        invocation_counter=1000,
        keys=TEST_KEYS,
    )
    [reply] = meter.request(request, 48)
    assert reply[0] == GENERAL_GLO_CIPHERING_TAG
    opened = unprotect(reply, keys=TEST_KEYS, peer_system_title=system_title_for(app.meter.serial))
    response = decode_xdlms_apdu(opened.apdu)
    assert isinstance(response, GetResponseNormal) and decode_data(response.result) == 1  # type: ignore[arg-type]
    # the counter the meter now expects is past the one it accepted
    assert value(app.get(1, COUNTER, 2, None, 16)) == 1001


def test_the_system_title_is_manufacturer_code_and_serial() -> None:
    assert system_title_for("OPS00000042") == b"OPS\x00\x00\x00\x00\x2a"
    assert system_title_for("T000001") == b"OPS\x00\x00\x00\x00\x01"
    with pytest.raises(Exception, match="no system title"):
        system_title_for("NODIGITS")


def test_the_wrong_password_is_refused_and_observed(app: MeterApplication) -> None:
    meter = Meter(app)
    client = ClientAssociation(ClientSettings(authentication=Authentication.LOW, password=b"00000000"))
    [reply] = meter.request(client.associate(), 32)
    assert type(client.receive_apdu(reply)).__name__ == "AssociationRejected"
    assert app.stats.refused == 1


def test_get_and_set_with_list(app: MeterApplication) -> None:
    meter = Meter(app)
    client = ClientAssociation(UTILITY)
    associate(meter, client, 48)
    items = [
        CosemAttributeDescriptorWithSelection(CosemAttributeDescriptor(3, ENERGY, 2)),
        CosemAttributeDescriptorWithSelection(CosemAttributeDescriptor(3, OBIS.parse("9.9.9.9.9.9"), 2)),
        CosemAttributeDescriptorWithSelection(
            CosemAttributeDescriptor(7, BLOCK_LOAD, 2), EntryDescriptor(1, 2).to_access()
        ),
    ]
    [reply] = meter.request(client.get_with_list(items), 48)
    event = client.receive_apdu(reply)
    assert isinstance(event, GetListResult)
    energy, missing, rows = event.results
    assert decode_data(energy) == app.meter.registers()[0]  # type: ignore[arg-type]
    assert missing is DataAccessResult.OBJECT_UNDEFINED
    assert isinstance(rows, bytes) and len(decode_data(rows)) == 2
    targets = [
        CosemAttributeDescriptorWithSelection(CosemAttributeDescriptor(71, LIMITER, 4)),
        CosemAttributeDescriptorWithSelection(CosemAttributeDescriptor(3, ENERGY, 2)),
    ]
    values = [encode_data(DoubleLongUnsigned(5000)), encode_data(DoubleLongUnsigned(0))]
    [reply] = meter.request(client.set_with_list(targets, values), 48)
    event = client.receive_apdu(reply)
    assert isinstance(event, SetResult)
    assert event.results == (DataAccessResult.SUCCESS, DataAccessResult.READ_WRITE_DENIED)


def test_a_long_profile_goes_out_in_blocks_of_the_client_s_pdu_size(app: MeterApplication) -> None:
    meter = Meter(app)
    client = ClientAssociation(
        ClientSettings(authentication=Authentication.LOW, password=b"12345678", max_receive_pdu_size=256)
    )
    associate(meter, client, 32)
    pending = [client.get(CosemAttributeDescriptor(7, BLOCK_LOAD, 2))]
    blocks = 0
    while pending:
        for reply in meter.request(pending.pop(), 32):
            assert len(reply) <= 256
            blocks += 1
            event = client.receive_apdu(reply)
            pending.extend(client.data_to_send())
    assert isinstance(event, GetResult) and isinstance(event.result, bytes)
    rows = decode_data(event.result)
    assert blocks > 10 and len(rows) == len(app.meter.get(7, "1.0.99.1.0.255", 2))  # type: ignore[arg-type]
