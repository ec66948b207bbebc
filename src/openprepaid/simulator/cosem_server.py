"""The COSEM application of one virtual meter: GET / SET / ACTION requests answered from the model.

IEC 62056-5-3 xDLMS services on top of the sans-IO association (``openprepaid.cosem``), with the
IEC 62056-6-2 objects of ``openprepaid.simulator.virtual_meter``:

* GET (normal and with-list): ``VirtualMeter.get``; a profile's buffer with selective access
  (clause 4.3.6.2: access-selector 1 range_descriptor, 2 entry_descriptor) becomes the model's
  ``RangeSelection`` / ``EntrySelection``;
* SET (normal, with-list, and long SETs the association reassembles): ``VirtualMeter.set``;
* ACTION: ``VirtualMeter.action`` (e.g. disconnect control 0.0.96.3.10.255 methods 1 and 2).

The model refuses with ``DataAccessError`` subclasses carrying the Data-Access-Result code; they
are answered with that code (Action-Result uses the same numbers). Before every request the meter
is brought up to the simulated present (``now_s``). Two objects belong to the server rather than
to the meter model: the current association (class 15, 0.0.40.0.0.255: logical name, object_list,
associated_partners_id, association_status) and the invocation counter the meter expects next from
the utility-settings client (class 1, 0.0.43.1.0.255, readable by every client as in most Indian
meters, so a head-end that lost its counter can resynchronise).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from functools import cache
from typing import TypeVar, cast

from openprepaid.cosem import axdr
from openprepaid.cosem.association_events import (
    ActionRequested,
    AssociationEstablished,
    AssociationRefused,
    GetListRequested,
    GetRequested,
    ServerEvent,
    SetListRequested,
    SetRequested,
)
from openprepaid.cosem.date_time import CosemDateTime
from openprepaid.cosem.errors import CosemError, DecodeError
from openprepaid.cosem.obis import OBIS
from openprepaid.cosem.server_association import ServerAssociation
from openprepaid.cosem.xdlms_common import ActionResult, DataAccessResult, SelectiveAccess
from openprepaid.cosem.xdlms_selective import CaptureObjectDefinition, RangeDescriptor, profile_access
from openprepaid.meters import access
from openprepaid.meters.catalogue import CLOCK, LIMITER, PROFILE_GENERIC
from openprepaid.meters.meter_types import MeterType
from openprepaid.meters.profiles import CaptureColumn
from openprepaid.simulator.cosem_values import ValueConversionError, decode_value, encode_value, to_model
from openprepaid.simulator.errors import DataAccessError
from openprepaid.simulator.meter_security import MeterSecurity
from openprepaid.simulator.object_access import object_list
from openprepaid.simulator.profile_buffer import EntrySelection, RangeSelection, Selection
from openprepaid.simulator.virtual_meter import VirtualMeter

log = logging.getLogger(__name__)

ASSOCIATION_CLASS = 15
ASSOCIATION_VERSION = 1
CURRENT_ASSOCIATION = OBIS.parse("0.0.40.0.0.255")
INVOCATION_COUNTER = OBIS.parse("0.0.43.1.0.255")
SERVER_OBJECTS = frozenset({CURRENT_ASSOCIATION, INVOCATION_COUNTER})
SERVER_SAP = 1
ASSOCIATED = 2  # association_status enum: non-associated (0), association-pending (1), associated (2)
#: Attributes whose value holds date-times (written as 12-octet octet-strings): clock time, emergency profile.
DATE_TIME_ATTRIBUTES = frozenset({(CLOCK, 2), (LIMITER, 8)})

Answer = bytes | DataAccessResult
ResultT = TypeVar("ResultT", DataAccessResult, ActionResult)


@dataclass(slots=True)
class ServerStats:
    """Counters shared by every meter of a fleet server (one object, not one per meter)."""

    associations: int = 0
    refused: int = 0
    requests: int = 0
    refusals: int = 0
    failures: int = 0


class MeterApplication:
    """``transport.dlms_server.CosemApplication`` for one connection to one virtual meter."""

    __slots__ = ("meter", "now_s", "security", "stats")

    def __init__(
        self,
        meter: VirtualMeter,
        now_s: Callable[[], int],
        security: MeterSecurity,
        stats: ServerStats | None = None,
    ) -> None:
        self.meter = meter
        self.now_s = now_s
        self.security = security
        self.stats = stats if stats is not None else ServerStats()

    async def handle(
        self,
        request: GetRequested | GetListRequested | SetRequested | SetListRequested | ActionRequested,
        association: ServerAssociation,
    ) -> None:
        """Answer one request; the association is always answered, whatever goes wrong."""
        self.stats.requests += 1
        client_sap = association.client_sap
        self.meter.advance(self.now_s())
        if isinstance(request, GetRequested):
            association.respond_get(
                self.get(
                    request.attribute.class_id,
                    request.attribute.instance_id,
                    request.attribute.attribute_id,
                    request.access,
                    client_sap,
                )
            )
        elif isinstance(request, GetListRequested):
            answers: list[bytes | DataAccessResult] = [
                self.get(
                    item.attribute.class_id,
                    item.attribute.instance_id,
                    item.attribute.attribute_id,
                    item.access,
                    client_sap,
                )
                for item in request.items
            ]
            association.respond_get(answers)
        elif isinstance(request, SetRequested):
            attribute = request.attribute
            association.respond_set(
                self.set(attribute.class_id, attribute.instance_id, attribute.attribute_id, request.value, client_sap)
            )
        elif isinstance(request, SetListRequested):
            association.respond_set(
                [
                    self.set(
                        item.attribute.class_id,
                        item.attribute.instance_id,
                        item.attribute.attribute_id,
                        value,
                        client_sap,
                    )
                    for item, value in zip(request.items, request.values, strict=True)
                ]
            )
        else:
            result, data = self.action(
                request.method.class_id,
                request.method.instance_id,
                request.method.method_id,
                request.parameters,
                client_sap,
            )
            association.respond_action(result, data)

    def observe(self, event: ServerEvent) -> None:
        if isinstance(event, AssociationEstablished):
            self.stats.associations += 1
        elif isinstance(event, AssociationRefused):
            self.stats.refused += 1
            log.info("meter %s refused client %d: %s", self.meter.serial, event.client_sap, event.reason)

    # --- the three services, synchronous and testable without a connection ----------------------------

    def get(
        self, class_id: int, obis: OBIS, attribute: int, selective: SelectiveAccess | None, client_sap: int | None
    ) -> Answer:
        try:
            if obis in SERVER_OBJECTS:
                return self._server_object(class_id, obis, attribute, client_sap)
            selection = selection_of(selective, self.meter.tz_s) if selective is not None else None
            value = self.meter.get(class_id, str(obis), attribute, selection, client_sap=client_sap)
            return encode_value(value)
        except DataAccessError as exc:
            return self._refused(DataAccessResult(exc.result_code), exc)
        except (ValueConversionError, CosemError) as exc:
            return self._refused(DataAccessResult.OTHER_REASON, exc)
        except Exception:  # task boundary: one request of one meter
            return self._failed(DataAccessResult.OTHER_REASON, "GET", obis, attribute)

    def set(self, class_id: int, obis: OBIS, attribute: int, data: bytes, client_sap: int | None) -> DataAccessResult:
        try:
            value = decode_value(data, date_times=(class_id, attribute) in DATE_TIME_ATTRIBUTES)
            if obis in SERVER_OBJECTS:
                return self._refused(DataAccessResult.READ_WRITE_DENIED, "server objects are read-only")
            self.meter.set(class_id, str(obis), attribute, value, client_sap=client_sap)
        except DataAccessError as exc:
            return self._refused(DataAccessResult(exc.result_code), exc)
        except ValueConversionError as exc:
            return self._refused(DataAccessResult.TYPE_UNMATCHED, exc)
        except Exception:  # task boundary: one request of one meter
            return self._failed(DataAccessResult.OTHER_REASON, "SET", obis, attribute)
        return DataAccessResult.SUCCESS

    def action(
        self, class_id: int, obis: OBIS, method: int, parameters: bytes | None, client_sap: int | None
    ) -> tuple[ActionResult, bytes | None]:
        try:
            params = decode_value(parameters) if parameters is not None else None
            returned = self.meter.action(class_id, str(obis), method, params, client_sap=client_sap)
            return ActionResult.SUCCESS, None if returned is None else encode_value(returned)
        except DataAccessError as exc:
            return self._refused(ActionResult(exc.result_code), exc), None
        except ValueConversionError as exc:
            return self._refused(ActionResult.TYPE_UNMATCHED, exc), None
        except Exception:  # task boundary: one request of one meter
            return self._failed(ActionResult.OTHER_REASON, "ACTION", obis, method), None

    def _refused(self, result: ResultT, why: object) -> ResultT:
        self.stats.refusals += 1
        log.debug("meter %s: %s (%s)", self.meter.serial, result.name.lower(), why)
        return result

    def _failed(self, result: ResultT, service: str, obis: OBIS, number: int) -> ResultT:
        self.stats.failures += 1
        log.exception("meter %s: %s %s/%d failed; answered %s", self.meter.serial, service, obis, number, result.name)
        return result

    def _server_object(self, class_id: int, obis: OBIS, attribute: int, client_sap: int | None) -> Answer:
        expected_class = 1 if obis == INVOCATION_COUNTER else ASSOCIATION_CLASS
        if class_id != expected_class:
            return DataAccessResult.OBJECT_CLASS_INCONSISTENT
        if attribute == 1:
            return axdr.encode_data(bytes(obis))
        if obis == INVOCATION_COUNTER:
            counter = axdr.DoubleLongUnsigned(self.security.next_client_counter())
            return axdr.encode_data(counter) if attribute == 2 else DataAccessResult.OBJECT_UNDEFINED
        sap = client_sap or 0
        values = {
            2: lambda: encoded_object_list(self.meter.meter_type, sap),
            3: lambda: axdr.encode_data((axdr.Integer(sap), axdr.LongUnsigned(SERVER_SAP))),
            8: lambda: axdr.encode_data(axdr.Enum(ASSOCIATED)),
        }
        value = values.get(attribute)
        if value is not None:
            return value()
        return DataAccessResult.READ_WRITE_DENIED if attribute <= 9 else DataAccessResult.OBJECT_UNDEFINED


def _bound(value: object, tz: timezone) -> datetime | None:
    """A range bound as an instant; a date-time with unspecified fields leaves that side open.

    Anything else goes to the model as it is, which refuses it (type-unmatched) once it has checked
    the restricting column (object-unavailable comes first).
    """
    if isinstance(value, bytes):
        value = to_model(value, date_times=True)
    if isinstance(value, CosemDateTime):
        try:
            return value.to_datetime(tz)
        except DecodeError:
            return None
    return cast(datetime, value)


def _column(definition: CaptureObjectDefinition) -> CaptureColumn:
    return CaptureColumn(
        definition.class_id, str(definition.logical_name), definition.attribute_index, definition.data_index
    )


def selection_of(selective: SelectiveAccess, tz_offset_s: int) -> Selection:
    """The model's selection for a profile-generic access selector (bounds without deviation: meter time)."""
    try:
        descriptor = profile_access(selective)
    except DecodeError as exc:
        raise ValueConversionError(f"selective access: {exc}") from exc
    if isinstance(descriptor, RangeDescriptor):
        tz = timezone(timedelta(seconds=tz_offset_s))
        return RangeSelection(
            _column(descriptor.restricting_object),
            _bound(descriptor.from_value, tz),
            _bound(descriptor.to_value, tz),
            tuple(_column(item) for item in descriptor.selected_values),
        )
    return EntrySelection(
        descriptor.from_entry, descriptor.to_entry, descriptor.from_selected_value, descriptor.to_selected_value
    )


@cache
def encoded_object_list(meter_type: MeterType, client_sap: int) -> bytes:
    """Class 15 attribute 2 for one client: every object with the access rights that client has."""
    entries: list[object] = []
    for item in object_list(meter_type):
        attributes: list[object] = [
            (
                axdr.Integer(number),
                axdr.Enum(access.attribute_access(client_sap, item.class_id, item.obis, number)),
                [axdr.Integer(1), axdr.Integer(2)] if item.class_id == PROFILE_GENERIC and number == 2 else None,
            )
            for number in range(1, item.attributes + 1)
        ]
        methods = [
            (axdr.Integer(number), axdr.Enum(int(access.method_access(client_sap, item.class_id, item.obis, number))))
            for number in range(1, item.methods + 1)
        ]
        entries.append(
            (
                axdr.LongUnsigned(item.class_id),
                axdr.Unsigned(item.version),
                bytes(OBIS.parse(item.obis)),
                (attributes, methods),
            )
        )
    for class_id, version, obis, attribute_count in (
        (ASSOCIATION_CLASS, ASSOCIATION_VERSION, CURRENT_ASSOCIATION, 9),
        (1, 0, INVOCATION_COUNTER, 2),
    ):
        readable = [(axdr.Integer(n), axdr.Enum(1), None) for n in range(1, attribute_count + 1)]
        entries.append((axdr.LongUnsigned(class_id), axdr.Unsigned(version), bytes(obis), (readable, [])))
    return axdr.encode_data(entries)
