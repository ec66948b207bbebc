"""``openprepaid dlms``: read, write and act on one meter, for engineers in the field and on the bench.

openprepaid dlms get 10.1.2.3:4059 1.0.1.8.0.255 --client 32 --password 12345678
openprepaid dlms get HOST:PORT 1.0.99.1.0.255 --from 2026-11-23T00:00+05:30 --to 2026-11-24T00:00+05:30
openprepaid dlms action HOST:PORT 0.0.96.3.10.255 --method 1 --client 48 --ek HEX --ak HEX
"""

from __future__ import annotations

import asyncio
import functools
import inspect
import json
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any, TypeVar

import typer

from openprepaid.cli.dlms_values import ValueSyntaxError, parse_typed_value, to_json
from openprepaid.cosem.association_events import Authentication, ClientSettings
from openprepaid.cosem.axdr import decode_data, encode_data
from openprepaid.cosem.axdr_types import Integer
from openprepaid.cosem.date_time import CosemDateTime
from openprepaid.cosem.errors import CosemError
from openprepaid.cosem.obis import OBIS
from openprepaid.cosem.security import AUTHENTICATED_ENCRYPTED, SecurityKeys
from openprepaid.cosem.security_counter import InvocationCounter
from openprepaid.cosem.xdlms_common import CosemAttributeDescriptor, CosemMethodDescriptor, DataAccessResult
from openprepaid.cosem.xdlms_selective import RangeDescriptor
from openprepaid.meters.catalogue import lookup
from openprepaid.meters.errors import UnknownObjectError
from openprepaid.transport.dlms_client import DlmsClient, Endpoint
from openprepaid.transport.errors import TransportError

app = typer.Typer(help="Talk DLMS/COSEM to one meter: get, set, action.", no_args_is_help=True)
T = TypeVar("T")
DEFAULT_CLIENT_TITLE = "4F50434C49000001"  # "OPCLI" + 000001


class Connection:
    """The meter and association every subcommand talks to, from the options they share (``meter_command``)."""

    def __init__(
        self,
        target: str,
        client: int,
        password: str | None,
        ek: str | None,
        ak: str | None,
        system_title: str,
        hdlc: bool,
        server: int,
        timeout: float,
        invocation_counter: int | None = None,
    ) -> None:
        host, _, port = target.rpartition(":")
        if not host or not port.isdigit():
            raise typer.BadParameter(f"{target!r}: write HOST:PORT", param_hint="target")
        self.endpoint = Endpoint(
            host, int(port), client_sap=client, server_address=server, framing="hdlc" if hdlc else "wrapper"
        )
        self.settings = _settings(client, password, ek, ak, system_title)
        self.timeout = timeout
        self.invocation_counter = invocation_counter


def _hex(value: str, name: str, length: int) -> bytes:
    try:
        raw = bytes.fromhex(value)
    except ValueError:
        raise typer.BadParameter(f"{name} must be hex") from None
    if len(raw) != length:
        raise typer.BadParameter(f"{name} must be {length} bytes ({2 * length} hex digits)")
    return raw


def _settings(client: int, password: str | None, ek: str | None, ak: str | None, title: str) -> ClientSettings:
    if client == 16:
        return ClientSettings()
    if client == 32:
        if not password:
            raise typer.BadParameter("client 32 (meter reader, LLS) needs --password")
        return ClientSettings(authentication=Authentication.LOW, password=password.encode())
    if client == 48:
        if not ek or not ak:
            raise typer.BadParameter("client 48 (utility settings, HLS-GMAC) needs --ek and --ak")
        keys = SecurityKeys(global_unicast=_hex(ek, "--ek", 16), authentication=_hex(ak, "--ak", 16))
        return ClientSettings(
            authentication=Authentication.HLS_GMAC,
            system_title=_hex(title, "--system-title", 8),
            keys=keys,
            protection=AUTHENTICATED_ENCRYPTED,
        )
    raise typer.BadParameter("--client must be 16 (public), 32 (meter reader) or 48 (utility settings)")


def _class_of(obis: OBIS, explicit: int | None) -> int:
    if explicit is not None:
        return explicit
    try:
        return lookup(str(obis)).class_id
    except UnknownObjectError:
        raise typer.BadParameter(f"{obis} is not in the IS 15959 catalogue: give --class") from None


def _obis(text: str) -> OBIS:
    try:
        return OBIS.parse(text)
    except CosemError as exc:
        raise typer.BadParameter(str(exc), param_hint="obis") from exc


INVOCATION_COUNTER = CosemAttributeDescriptor(1, OBIS.parse("0.0.43.1.0.255"), 2)


async def _next_invocation_counter(connection: Connection) -> int:
    """The counter the meter expects next, read over the public association (IS 15959 meters publish the
    utility-settings client's invocation counter in 0.0.43.1.0.255); a reused counter is refused."""
    public = Endpoint(
        connection.endpoint.host,
        connection.endpoint.port,
        client_sap=16,
        server_address=connection.endpoint.server_address,
        framing=connection.endpoint.framing,
    )
    async with await DlmsClient.connect(
        public, ClientSettings(), connect_timeout_s=connection.timeout, response_timeout_s=connection.timeout
    ) as meter:
        value = await meter.get_value(INVOCATION_COUNTER)
    if not isinstance(value, int):
        raise TransportError(f"the meter's invocation counter is not a number: {value!r}")
    return int(value) + 1


def _run(connection: Connection, work: Callable[[DlmsClient], Awaitable[T]]) -> T:
    async def go() -> T:
        counter = None
        if connection.settings.protection is not None:
            start = connection.invocation_counter
            if start is None:
                start = await _next_invocation_counter(connection)
            counter = InvocationCounter(start)
        async with await DlmsClient.connect(
            connection.endpoint,
            connection.settings,
            connect_timeout_s=connection.timeout,
            response_timeout_s=connection.timeout,
            invocation_counter=counter,
        ) as meter:
            return await work(meter)

    try:
        return asyncio.run(go())
    except (TransportError, CosemError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from exc


def _emit(value: Any, as_json: bool) -> None:
    if as_json:
        typer.echo(json.dumps(to_json(value)))
    elif isinstance(value, list):
        for row in value:
            typer.echo(" ".join(str(to_json(item)) for item in row) if isinstance(row, tuple) else str(to_json(row)))
    else:
        typer.echo(str(to_json(value)))


TARGET = typer.Argument(..., help="meter address HOST:PORT")
OBIS_ARG = typer.Argument(..., help="logical name, e.g. 1.0.1.8.0.255")
CLIENT = typer.Option(16, "--client", help="16 public, 32 meter reader (LLS), 48 utility settings (HLS-GMAC)")
PASSWORD = typer.Option(None, "--password", help="LLS password (client 32)")
EK = typer.Option(None, "--ek", help="global encryption key, hex (client 48)")
AK = typer.Option(None, "--ak", help="authentication key, hex (client 48)")
TITLE = typer.Option(DEFAULT_CLIENT_TITLE, "--system-title", help="our system title, 8 bytes hex (client 48)")
HDLC = typer.Option(False, "--hdlc", help="HDLC framing instead of the TCP wrapper")
SERVER = typer.Option(1, "--server", help="server logical device address")
TIMEOUT = typer.Option(30.0, "--timeout", help="seconds to wait for each answer")
JSON = typer.Option(False, "--json", help="print JSON")
COUNTER = typer.Option(
    None, "--invocation-counter", min=0, help="client 48: first invocation counter (default: read it from the meter)"
)
_SHARED_OPTIONS: tuple[tuple[str, Any, Any], ...] = (
    ("client", int, CLIENT),
    ("password", str | None, PASSWORD),
    ("ek", str | None, EK),
    ("ak", str | None, AK),
    ("system_title", str, TITLE),
    ("hdlc", bool, HDLC),
    ("server", int, SERVER),
    ("timeout", float, TIMEOUT),
    ("as_json", bool, JSON),
    ("invocation_counter", int | None, COUNTER),
)
"""The options every subcommand takes after its own, in the order ``--help`` lists them."""
_CONNECTION_PARAMETERS = tuple(inspect.signature(Connection.__init__).parameters)[1:]  # target, client ...


def meter_command(command: Callable[..., None]) -> Callable[..., None]:
    """The subcommand ``command(connection, *own arguments and options*, as_json)`` as Typer sees it:
    TARGET first, then its own parameters, then the shared options; the wrapper turns TARGET and the
    connection options into the ``Connection`` the command receives (their errors come first, as
    they did when every command built it)."""
    own = [
        parameter
        for parameter in inspect.signature(command, eval_str=True).parameters.values()
        if parameter.name not in ("connection", "as_json")
    ]
    target = inspect.Parameter("target", inspect.Parameter.POSITIONAL_OR_KEYWORD, default=TARGET, annotation=str)
    shared = [
        inspect.Parameter(name, inspect.Parameter.POSITIONAL_OR_KEYWORD, default=default, annotation=annotation)
        for name, annotation, default in _SHARED_OPTIONS
    ]
    parameters = [target, *own, *shared]

    @functools.wraps(command)
    def run(**values: Any) -> None:
        as_json = values.pop("as_json")
        connection = Connection(**{name: values.pop(name) for name in _CONNECTION_PARAMETERS})
        command(connection, **values, as_json=as_json)

    run.__signature__ = inspect.Signature(parameters, return_annotation=None)  # type: ignore[attr-defined]
    run.__annotations__ = {parameter.name: parameter.annotation for parameter in parameters} | {"return": None}
    return run


@app.command()
@meter_command
def get(
    connection: Connection,
    obis: str = OBIS_ARG,
    class_id: int | None = typer.Option(None, "--class", help="interface class (inferred from the catalogue)"),
    attribute: int = typer.Option(2, "--attr", help="attribute number"),
    from_: datetime | None = typer.Option(None, "--from", help="profile range start, ISO with offset"),
    to: datetime | None = typer.Option(None, "--to", help="profile range end, ISO with offset"),
    *,
    as_json: bool,
) -> None:
    """Read one attribute (a profile by time range with --from/--to)."""
    logical_name = _obis(obis)
    descriptor = CosemAttributeDescriptor(_class_of(logical_name, class_id), logical_name, attribute)
    access = None
    if from_ is not None or to is not None:
        if from_ is None or to is None or from_.tzinfo is None or to.tzinfo is None:
            raise typer.BadParameter("--from and --to go together, each with a UTC offset")
        access = RangeDescriptor(CosemDateTime.from_datetime(from_), CosemDateTime.from_datetime(to)).to_access()

    async def work(meter: DlmsClient) -> Any:
        result = await meter.get(descriptor, access)
        if isinstance(result, DataAccessResult):
            typer.echo(f"error: the meter refused: {result.name.lower()}", err=True)
            raise typer.Exit(1)
        return decode_data(result)

    _emit(_run(connection, work), as_json)


@app.command("set")
@meter_command
def set_(
    connection: Connection,
    obis: str = OBIS_ARG,
    value: str = typer.Option(..., "--value", help="TYPE:VALUE, e.g. long-unsigned:5000 or date-time:ISO"),
    class_id: int | None = typer.Option(None, "--class", help="interface class (inferred from the catalogue)"),
    attribute: int = typer.Option(2, "--attr", help="attribute number"),
    *,
    as_json: bool,
) -> None:
    """Write one attribute."""
    logical_name = _obis(obis)
    descriptor = CosemAttributeDescriptor(_class_of(logical_name, class_id), logical_name, attribute)
    try:
        encoded = encode_data(parse_typed_value(value))
    except ValueSyntaxError as exc:
        raise typer.BadParameter(str(exc), param_hint="--value") from exc

    async def work(meter: DlmsClient) -> DataAccessResult:
        return await meter.set(descriptor, encoded)

    result = _run(connection, work)
    _emit(result.name.lower(), as_json)
    if result is not DataAccessResult.SUCCESS:
        raise typer.Exit(1)


@app.command()
@meter_command
def action(
    connection: Connection,
    obis: str = OBIS_ARG,
    method: int = typer.Option(..., "--method", help="method number, e.g. 1 remote_disconnect, 2 remote_reconnect"),
    param: str | None = typer.Option(None, "--param", help="TYPE:VALUE parameter (default integer:0)"),
    class_id: int | None = typer.Option(None, "--class", help="interface class (inferred from the catalogue)"),
    *,
    as_json: bool,
) -> None:
    """Invoke a method (e.g. disconnect control 0.0.96.3.10.255 method 1 or 2)."""
    logical_name = _obis(obis)
    descriptor = CosemMethodDescriptor(_class_of(logical_name, class_id), logical_name, method)
    try:
        parameters = encode_data(parse_typed_value(param) if param else Integer(0))
    except ValueSyntaxError as exc:
        raise typer.BadParameter(str(exc), param_hint="--param") from exc

    async def work(meter: DlmsClient) -> Any:
        return await meter.action(descriptor, parameters)

    outcome = _run(connection, work)
    data = outcome.return_data
    shown: dict[str, Any] = {"result": outcome.result.name.lower()}
    if isinstance(data, bytes):
        shown["return"] = to_json(decode_data(data))
    if as_json:
        typer.echo(json.dumps(shown))
    else:
        typer.echo(outcome.result.name.lower())
    if outcome.result.value != 0:
        raise typer.Exit(1)
