"""The session layer: ``MeterSession`` over a real DLMS/COSEM association (openprepaid.transport).

``DlmsSessionFactory.open(target, association)`` fetches the association's credentials (decrypted
only in memory, by the ``CredentialSource``), reserves a block of client invocation counters from
the database before the first ciphered APDU leaves, dials the meter (or takes the connection a
dial-in meter opened), associates, and yields a ``DlmsMeterSession``. Leaving releases the
association. Every transport or protocol failure is translated here into the ``hes.retry`` family.

Values: COSEM date-times come back as aware UTC datetimes; writes keep the A-XDR type the meter
reports for the attribute (read first), since meters refuse a value of another type.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from openprepaid.cosem.acse_initiate import Conformance
from openprepaid.cosem.association_events import Authentication, ClientSettings
from openprepaid.cosem.axdr import decode_data, encode_data
from openprepaid.cosem.axdr_types import DataTag, Integer
from openprepaid.cosem.date_time import DATE_TIME_LENGTH, CosemDateTime
from openprepaid.cosem.errors import CosemError
from openprepaid.cosem.obis import OBIS
from openprepaid.cosem.security import AUTHENTICATED_ENCRYPTED, SecurityKeys
from openprepaid.cosem.security_counter import InvocationCounter, ReplayGuard
from openprepaid.cosem.xdlms_common import (
    ActionResult,
    CosemAttributeDescriptor,
    CosemAttributeDescriptorWithSelection,
    CosemMethodDescriptor,
    DataAccessResult,
    SelectiveAccess,
)
from openprepaid.cosem.xdlms_selective import CaptureObjectDefinition, RangeDescriptor
from openprepaid.hes import session as s
from openprepaid.hes.cosem_values import native_value, retyped
from openprepaid.hes.credentials import CredentialStore
from openprepaid.hes.dlms_boundary import access_error as _access_error
from openprepaid.hes.dlms_boundary import guarded as _guarded
from openprepaid.hes.dlms_boundary import raise_access as _raise_access
from openprepaid.hes.dlms_boundary import utc_stamp as _utc_stamp
from openprepaid.hes.invocation_counters import BoundedInvocationCounter, InvocationCounterStore
from openprepaid.hes.retry import (
    AccessRefusedError,
    HesError,
    MeterNotConnectedError,
    ObjectUnavailableError,
    ProtocolFaultError,
    UnsupportedOperationError,
)
from openprepaid.store.model import CommMode, Framing
from openprepaid.transport.channel import ApduChannel
from openprepaid.transport.dlms_client import DlmsClient, Endpoint
from openprepaid.transport.errors import AssociationRefusedError, TransportError

PROFILE_CLASS = 7
CLOCK_CLASS = 8
DATA_CLASS = 1
DISCONNECT_CLASS = 70
LIMITER_CLASS = 71
THRESHOLD_NORMAL = 4
COUNTERS_PER_SESSION = 4096


class CredentialSource(Protocol):
    """Client settings (keys, password, our system title) for one meter and association, in memory only."""

    async def client_settings(self, target: s.MeterTarget, association: s.Association) -> ClientSettings: ...


class DialInChannels(Protocol):
    """Connections that dial-in meters opened to the head-end, by system title."""

    async def take(self, system_title: bytes) -> ApduChannel | None: ...

    def give_back(self, system_title: bytes, channel: ApduChannel) -> None: ...


class DlmsSessionFactory:
    def __init__(
        self,
        credentials: CredentialSource,
        counters: InvocationCounterStore,
        *,
        zone: ZoneInfo,
        dial_in: DialInChannels | None = None,
        connect_timeout_s: float = 20.0,
        response_timeout_s: float = 30.0,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._credentials = credentials
        self._counters = counters
        self._zone = zone
        self._dial_in = dial_in
        self._connect_timeout_s = connect_timeout_s
        self._response_timeout_s = response_timeout_s
        self._now = now
        # The meters' own counters: a reply older than the last accepted one is a replay.
        self._meter_guards: dict[tuple[int, int], ReplayGuard] = {}
        # A profile's capture objects are fixed by the meter type: read once, not in every session.
        self._columns_by_type: dict[int, dict[str, tuple[s.CaptureColumn, ...]]] = {}

    @contextlib.asynccontextmanager
    async def open(self, target: s.MeterTarget, association: s.Association) -> AsyncIterator[s.MeterSession]:
        settings = await self._credentials.client_settings(target, association)
        counter = None
        if settings.protection is not None or settings.keys is not None:
            reserved = await self._counters.reserve(target.meter_id, int(association), COUNTERS_PER_SESSION)
            counter = BoundedInvocationCounter(reserved)
        guard = self._meter_guards.setdefault((target.meter_id, int(association)), ReplayGuard())
        client = await _guarded(self._connect(target, association, settings, counter, guard))
        columns = self._columns_by_type.setdefault(target.meter_type_id, {})
        session = DlmsMeterSession(client, target, self._zone, self._now, columns=columns)
        try:
            yield session
        finally:
            await self._finish(target, client)

    async def _connect(
        self,
        target: s.MeterTarget,
        association: s.Association,
        settings: ClientSettings,
        counter: InvocationCounter | None,
        guard: ReplayGuard,
    ) -> DlmsClient:
        if target.comm_mode is CommMode.DIAL_IN:
            channel = await self._dial_in.take(target.system_title) if self._dial_in else None
            if channel is None:
                raise MeterNotConnectedError(f"meter {target.serial} has no open dial-in connection")
            try:
                return await DlmsClient.over(
                    channel,
                    settings,
                    response_timeout_s=self._response_timeout_s,
                    invocation_counter=counter,
                    server_replay_guard=guard,
                )
            except AssociationRefusedError:
                # The meter answered (AARE rejected): the line is sane, the next session may use it.
                if self._dial_in is not None and not channel.closed:
                    self._dial_in.give_back(target.system_title, channel)
                raise
            except BaseException:
                # No answer, or one we could not read: the line's state is unknown; hang up, the meter redials.
                await channel.close()
                raise
        if target.host is None or target.port is None:
            raise MeterNotConnectedError(f"meter {target.serial} has no address to dial")
        endpoint = Endpoint(
            target.host,
            target.port,
            client_sap=int(association),
            server_address=target.server_address,
            framing="hdlc" if target.framing is Framing.HDLC else "wrapper",
        )
        return await DlmsClient.connect(
            endpoint,
            settings,
            connect_timeout_s=self._connect_timeout_s,
            response_timeout_s=self._response_timeout_s,
            invocation_counter=counter,
            server_replay_guard=guard,
        )

    async def _finish(self, target: s.MeterTarget, client: DlmsClient) -> None:
        if target.comm_mode is CommMode.DIAL_IN and self._dial_in is not None:
            with contextlib.suppress(TransportError, CosemError):
                await client.release_association_only()
            if not client.channel.closed:
                self._dial_in.give_back(target.system_title, client.channel)
            return
        with contextlib.suppress(TransportError, CosemError):
            await client.release()
        await client.close()


class DlmsMeterSession:
    """One association with one meter, speaking the operations of ``hes.session.MeterSession``."""

    def __init__(
        self,
        client: DlmsClient,
        target: s.MeterTarget,
        zone: ZoneInfo,
        now: Callable[[], datetime],
        *,
        columns: dict[str, tuple[s.CaptureColumn, ...]] | None = None,
    ) -> None:
        self._client = client
        self._target = target
        self._zone = zone
        self._now = now
        self._columns = columns if columns is not None else {}

    @property
    def bytes_sent(self) -> int:
        return self._client.channel.stats.bytes_sent

    @property
    def bytes_received(self) -> int:
        return self._client.channel.stats.bytes_received

    # --- plumbing ------------------------------------------------------------------------------------

    async def _get_raw(self, class_id: int, obis: str, attribute: int, access: SelectiveAccess | None = None) -> bytes:
        descriptor = CosemAttributeDescriptor(class_id, OBIS.parse(obis), attribute)
        result = await _guarded(self._client.get(descriptor, access))
        if isinstance(result, DataAccessResult):
            _raise_access(result, f"GET {class_id}/{obis}/{attribute}")
        assert isinstance(result, bytes)
        return result

    async def _get(self, class_id: int, obis: str, attribute: int, access: SelectiveAccess | None = None) -> Any:
        raw = await self._get_raw(class_id, obis, attribute, access)
        try:
            return decode_data(raw)
        except CosemError as exc:
            raise ProtocolFaultError(f"undecodable {obis}/{attribute}: {exc}") from exc

    async def _set_raw(self, class_id: int, obis: str, attribute: int, value: bytes) -> None:
        descriptor = CosemAttributeDescriptor(class_id, OBIS.parse(obis), attribute)
        result = await _guarded(self._client.set(descriptor, value))
        if result is not DataAccessResult.SUCCESS:
            _raise_access(result, f"SET {class_id}/{obis}/{attribute}")

    async def _set_keeping_type(self, class_id: int, obis: str, attribute: int, value: Any) -> None:
        current = await self._get_raw(class_id, obis, attribute)
        await self._set_raw(class_id, obis, attribute, retyped(current, value))

    async def _action(self, class_id: int, obis: str, method: int, argument: bytes | None) -> bytes | None:
        descriptor = CosemMethodDescriptor(class_id, OBIS.parse(obis), method)
        outcome = await _guarded(self._client.action(descriptor, argument))
        if outcome.result is not ActionResult.SUCCESS:
            raise AccessRefusedError(f"ACTION {class_id}/{obis}/{method}: {outcome.result.name.lower()}")
        data = outcome.return_data
        return data if isinstance(data, bytes) else None

    def _to_utc(self, value: Any) -> Any:
        kind = type(value)
        if kind is int or kind is float or value is None:  # the common case: plain numbers of a profile row
            return value
        if kind is bytes and len(value) == DATE_TIME_LENGTH:
            return _utc_stamp(value, self._zone)
        return native_value(value)

    def _range(self, from_at: datetime, to_at: datetime, restricting: s.CaptureColumn | None = None) -> SelectiveAccess:
        """A range on the profile's first capture object (the clock, or the billing date for billing)."""
        low = CosemDateTime.from_datetime(from_at.astimezone(self._zone))
        high = CosemDateTime.from_datetime(to_at.astimezone(self._zone))
        if restricting is None:
            return RangeDescriptor(low, high).to_access()
        column = CaptureObjectDefinition(restricting.class_id, OBIS.parse(restricting.obis), restricting.attribute)
        return RangeDescriptor(low, high, restricting_object=column).to_access()

    async def _profile_range(self, obis: str, from_at: datetime, to_at: datetime) -> s.ProfileCapture:
        columns = await self._capture_columns(obis)
        return await self._profile(obis, self._range(from_at, to_at, columns[0] if columns else None))

    async def _capture_columns(self, obis: str) -> tuple[s.CaptureColumn, ...]:
        if obis not in self._columns:
            objects = await self._get(PROFILE_CLASS, obis, 3)
            self._columns[obis] = tuple(
                s.CaptureColumn(int(item[0]), str(OBIS.from_bytes(item[1])), int(item[2])) for item in objects
            )
        return self._columns[obis]

    async def _profile(self, obis: str, access: SelectiveAccess | None) -> s.ProfileCapture:
        columns = await self._capture_columns(obis)
        rows = await self._get(PROFILE_CLASS, obis, 2, access)
        to_utc = self._to_utc
        converted = tuple(tuple(map(to_utc, row)) for row in rows)
        return s.ProfileCapture(columns=columns, rows=converted)

    # --- MeterSession ----------------------------------------------------------------------------------

    async def read_name_plate(self) -> s.NamePlate:
        capture = await self._profile(s.NAME_PLATE, None)
        if not capture.rows:
            raise ObjectUnavailableError("the name plate profile is empty")
        values = {column.obis: value for column, value in zip(capture.columns, capture.rows[0], strict=False)}
        text = {key: _text(value) for key, value in values.items()}
        year = values.get("0.0.96.1.4.255")
        return s.NamePlate(
            serial=text.get("0.0.96.1.0.255", self._target.serial),
            manufacturer=text.get("0.0.96.1.1.255", ""),
            firmware=text.get("1.0.0.2.0.255", ""),
            meter_type=text.get("0.0.94.91.9.255", ""),
            category=text.get("0.0.94.91.11.255", ""),
            year_of_manufacture=int(year) if isinstance(year, int) else None,
        )

    async def read_clock(self) -> s.ClockReading:
        raw = await self._get(CLOCK_CLASS, s.CLOCK, 2)
        read_at = self._now()
        meter_time = self._to_utc(raw)
        if not isinstance(meter_time, datetime):
            raise ProtocolFaultError(f"the meter clock is not a date-time: {raw!r}")
        return s.ClockReading(meter_time_at=meter_time, read_at=read_at)

    async def sync_clock(self, now: datetime) -> None:
        stamp = CosemDateTime.from_datetime(now.astimezone(self._zone)).to_bytes()
        await self._set_raw(CLOCK_CLASS, s.CLOCK, 2, encode_data(stamp))

    async def read_scalers(self, profile: s.ProfileKind) -> Mapping[str, s.ScalerUnit]:
        _, scaler_obis = s.PROFILE_OBJECTS[profile]
        capture = await self._profile(scaler_obis, None)
        if not capture.rows:
            return {}
        scalers: dict[str, s.ScalerUnit] = {}
        for column, value in zip(capture.columns, capture.rows[0], strict=False):
            if isinstance(value, tuple) and len(value) == 2:
                scalers[column.obis] = s.ScalerUnit(scaler=int(value[0]), unit=int(value[1]))
        return scalers

    async def read_block_load(self, from_at: datetime, to_at: datetime) -> s.ProfileCapture:
        return await self._profile_range(s.PROFILE_OBJECTS[s.ProfileKind.BLOCK_LOAD][0], from_at, to_at)

    async def read_daily(self, from_at: datetime, to_at: datetime) -> s.ProfileCapture:
        return await self._profile_range(s.PROFILE_OBJECTS[s.ProfileKind.DAILY][0], from_at, to_at)

    async def read_billing(self, from_at: datetime, to_at: datetime) -> s.ProfileCapture:
        return await self._profile_range(s.PROFILE_OBJECTS[s.ProfileKind.BILLING][0], from_at, to_at)

    async def read_instant(self) -> s.ProfileCapture:
        return await self._profile(s.PROFILE_OBJECTS[s.ProfileKind.INSTANT][0], None)

    async def read_events(self, log: int, since: datetime | None) -> s.ProfileCapture:
        if since is None:
            return await self._profile(s.event_log_obis(log), None)
        return await self._profile_range(s.event_log_obis(log), since, self._now())

    async def read_profiles(self, reads: Sequence[s.ProfileRead]) -> list[s.ProfileCapture | HesError]:
        """The profiles in one GET-with-list (selective access per profile) when the meter negotiated
        multiple references; one GET each otherwise. A refused profile is its error in the list."""
        accepted = self._client.accepted
        if len(reads) < 2 or accepted is None or not accepted.conformance & Conformance.MULTIPLE_REFERENCES:
            return [await self._read_alone(read) for read in reads]
        captures: list[s.ProfileCapture | HesError] = []
        asked: list[tuple[int, s.ProfileRead, tuple[s.CaptureColumn, ...]]] = []
        items = []
        for read in reads:
            try:
                capture_columns = await self._capture_columns(read.obis)
            except HesError as exc:
                if exc.retryable:
                    raise
                captures.append(exc)  # e.g. no such profile: that read's error, the others go on
                continue
            access = None
            if read.from_at is not None:
                restricting = capture_columns[0] if capture_columns else None
                access = self._range(read.from_at, read.to_at or self._now(), restricting)
            descriptor = CosemAttributeDescriptor(PROFILE_CLASS, OBIS.parse(read.obis), 2)
            items.append(CosemAttributeDescriptorWithSelection(descriptor, access))
            asked.append((len(captures), read, capture_columns))
            captures.append(ObjectUnavailableError("not read"))  # replaced below
        results = await _guarded(self._client.get_many(items)) if items else ()
        to_utc = self._to_utc
        for (position, read, capture_columns), result in zip(asked, results, strict=True):
            if isinstance(result, DataAccessResult):
                captures[position] = _access_error(result, f"GET {PROFILE_CLASS}/{read.obis}/2")
                continue
            try:
                rows = decode_data(result)
            except CosemError as exc:
                raise ProtocolFaultError(f"undecodable {read.obis}/2: {exc}") from exc
            captures[position] = s.ProfileCapture(capture_columns, tuple(tuple(map(to_utc, row)) for row in rows))
        return captures

    async def _read_alone(self, read: s.ProfileRead) -> s.ProfileCapture | HesError:
        try:
            if read.from_at is None:
                return await self._profile(read.obis, None)
            return await self._profile_range(read.obis, read.from_at, read.to_at or self._now())
        except HesError as exc:
            if exc.retryable:
                raise  # the session is in trouble, not this profile
            return exc

    async def read_relay_state(self) -> s.RelayState:
        obis = OBIS.parse(s.DISCONNECT_CONTROL)
        items = [
            CosemAttributeDescriptorWithSelection(CosemAttributeDescriptor(DISCONNECT_CLASS, obis, attribute))
            for attribute in (2, 3, 4)
        ]
        results = await _guarded(self._client.get_many(items))
        values = []
        for result in results:
            if isinstance(result, DataAccessResult):
                _raise_access(result, f"GET disconnect control {s.DISCONNECT_CONTROL}")
            assert isinstance(result, bytes)
            values.append(decode_data(result))
        return s.RelayState(
            output_state=bool(values[0]),
            control_state=s.RelayControlState(int(values[1])),
            control_mode=int(values[2]) if values[2] is not None else None,
            read_at=self._now(),
        )

    async def disconnect(self) -> None:
        await self._action(DISCONNECT_CLASS, s.DISCONNECT_CONTROL, 1, encode_data(Integer(0)))

    async def reconnect(self) -> None:
        await self._action(DISCONNECT_CLASS, s.DISCONNECT_CONTROL, 2, encode_data(Integer(0)))

    async def read_limiter(self) -> s.LimiterState:
        threshold = await self._get(LIMITER_CLASS, s.LIMITER, THRESHOLD_NORMAL)
        return s.LimiterState(threshold_w=int(threshold), enabled=None, read_at=self._now())

    async def set_limiter(self, threshold_w: int) -> None:
        await self._set_keeping_type(LIMITER_CLASS, s.LIMITER, THRESHOLD_NORMAL, threshold_w)

    async def set_limiter_enabled(self, enabled: bool) -> None:
        # Class 71 has no enable flag: IS 15959 meters disable limiting with the maximum threshold;
        # enabling again means writing a real threshold (set_limiter), so enabling alone changes nothing.
        if not enabled:
            current = await self._get_raw(LIMITER_CLASS, s.LIMITER, THRESHOLD_NORMAL)
            maximum = {DataTag.LONG_UNSIGNED: 0xFFFF, DataTag.DOUBLE_LONG_UNSIGNED: 0xFFFFFFFF}.get(
                DataTag(current[0]), 0x7FFFFFFF
            )
            await self._set_raw(LIMITER_CLASS, s.LIMITER, THRESHOLD_NORMAL, retyped(current, maximum))

    async def read_payment_mode(self) -> bool:
        return int(await self._get(DATA_CLASS, s.PAYMENT_MODE, 2)) == 1

    async def write_payment_mode(self, prepaid: bool) -> None:
        await self._set_keeping_type(DATA_CLASS, s.PAYMENT_MODE, 2, 1 if prepaid else 0)

    async def read_balance(self) -> int:
        return int(await self._get(DATA_CLASS, s.CURRENT_BALANCE, 2))

    async def write_balance(self, amount_paise: int) -> None:
        await self._set_keeping_type(DATA_CLASS, s.CURRENT_BALANCE, 2, amount_paise)

    async def get_attribute(self, class_id: int, obis: str, attribute: int) -> s.CosemValue:
        value = self._to_utc(await self._get(class_id, obis, attribute))
        if isinstance(value, list | tuple):
            raise ObjectUnavailableError(f"{obis}/{attribute} is structured; read it with a profile call")
        return value  # type: ignore[no-any-return]

    async def set_attribute(self, class_id: int, obis: str, attribute: int, value: s.CosemValue) -> None:
        if isinstance(value, datetime):
            await self._set_raw(
                class_id,
                obis,
                attribute,
                encode_data(CosemDateTime.from_datetime(value.astimezone(self._zone)).to_bytes()),
            )
            return
        await self._set_keeping_type(class_id, obis, attribute, value)

    async def invoke_method(self, class_id: int, obis: str, method: int, argument: s.CosemValue) -> s.CosemValue:
        if argument is not None and not isinstance(argument, int):
            raise UnsupportedOperationError("method arguments other than integers are not supported here")
        data = await self._action(class_id, obis, method, encode_data(Integer(argument or 0)))
        return None if data is None else self._to_utc(decode_data(data))


def _text(value: Any) -> str:
    if isinstance(value, bytes):
        return value.decode("latin-1").strip("\x00 ")
    return "" if value is None else str(value)


class VaultCredentials:
    """``CredentialSource`` over the sealed credentials in the store (``hes.credentials``)."""

    def __init__(self, store: CredentialStore, *, client_system_title: bytes) -> None:
        if len(client_system_title) != 8:
            raise ValueError("the head-end's system title is 8 bytes")
        self._store = store
        self._title = client_system_title

    async def client_settings(self, target: s.MeterTarget, association: s.Association) -> ClientSettings:
        if association is s.Association.PUBLIC:
            return ClientSettings()
        secrets = await self._store.secrets_for(target.meter_id, association)
        if association is s.Association.METER_READER:
            return ClientSettings(authentication=Authentication.LOW, password=secrets.lls_password)
        if secrets.encryption_key is None or secrets.authentication_key is None:
            raise AccessRefusedError(f"meter {target.serial}: no keys for the utility-settings association")
        keys = SecurityKeys(global_unicast=secrets.encryption_key, authentication=secrets.authentication_key)
        return ClientSettings(
            authentication=Authentication.HLS_GMAC,
            system_title=self._title,
            keys=keys,
            protection=AUTHENTICATED_ENCRYPTED,
        )
