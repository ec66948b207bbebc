"""Bulk registration of meters from CSV (domain.md C14: import consumers/meters in bulk).

Columns (header row required, order free; see docs/hes.md): serial, manufacturer_code, system_title
(16 hex digits: 3 ASCII manufacturer bytes + 5), meter_type (a meter type code), comm_mode (dial |
dial_in), host, port (required for dial), framing (wrapper | hdlc, default wrapper), server_address
(default 1), lls_password (client 32), ek and ak (32 hex digits each, client 48, both or neither),
account_no (optional: install on that account), utility (code; or --utility), status (installed |
in_store, default installed).

Every row is validated and every problem reported with its line number; by default nothing is
written unless every row is valid (``partial=True`` writes the valid rows). Re-importing the same
file changes nothing. Secrets are sealed with the key vault (bound to meter, client and kind) before
they reach the database, and never appear in messages or reprs.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from openprepaid.keyvault import KeyVault, KeyVaultError, credential_context
from openprepaid.store.model import CommMode, CredentialKind, Framing, Meter, MeterStatus
from openprepaid.store.repository import meter as meter_repo
from openprepaid.store.repository import meter_registry as registry

REQUIRED_COLUMNS = ("serial", "manufacturer_code", "system_title", "meter_type", "comm_mode")
OPTIONAL_COLUMNS = (
    "host",
    "port",
    "framing",
    "server_address",
    "lls_password",
    "ek",
    "ak",
    "account_no",
    "utility",
    "status",
)
MAX_ROWS = 100_000
SERIAL = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,31}$")
MANUFACTURER = re.compile(r"^[A-Z]{3}$")
HOST = re.compile(r"^[A-Za-z0-9.:_-]{1,255}$")
LLS_MAX_BYTES = 64
SECRET_COLUMNS = ("lls_password", "ek", "ak")
IMPORTABLE_STATUSES = {MeterStatus.INSTALLED, MeterStatus.IN_STORE}


@dataclass(frozen=True, slots=True)
class RowError:
    line: int
    column: str
    message: str

    def __str__(self) -> str:
        where = f"line {self.line}" if self.line else "file"
        return f"{where}: {self.column}: {self.message}" if self.column else f"{where}: {self.message}"


@dataclass(frozen=True, slots=True)
class MeterRow:
    line: int
    serial: str
    manufacturer_code: str
    system_title: bytes
    meter_type: str
    comm_mode: CommMode
    host: str | None
    port: int | None
    framing: Framing
    server_address: int
    status: MeterStatus
    account_no: str | None
    utility: str | None
    lls_password: bytes | None = field(default=None, repr=False)
    ek: bytes | None = field(default=None, repr=False)
    ak: bytes | None = field(default=None, repr=False)

    def secrets(self) -> list[tuple[int, CredentialKind, bytes]]:
        found = []
        if self.lls_password is not None:
            found.append((32, CredentialKind.LLS_PASSWORD, self.lls_password))
        if self.ek is not None:
            found.append((48, CredentialKind.GLOBAL_ENCRYPTION_KEY, self.ek))
        if self.ak is not None:
            found.append((48, CredentialKind.AUTHENTICATION_KEY, self.ak))
        return found


@dataclass
class ImportReport:
    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)
    applied: bool = False


class _Row:
    """One CSV record being validated: collects errors instead of stopping at the first."""

    def __init__(self, line: int, values: Mapping[str, str | None], errors: list[RowError]) -> None:
        self.line = line
        self.values = {key: (value or "").strip() for key, value in values.items() if key is not None}
        self.errors = errors

    def fail(self, column: str, message: str) -> None:
        self.errors.append(RowError(self.line, column, message))

    def text(self, column: str) -> str:
        return self.values.get(column, "")

    def matching(self, column: str, pattern: re.Pattern[str], what: str) -> str:
        value = self.text(column)
        if not pattern.match(value):
            self.fail(column, f"{what} expected, got {value!r}" if value else "required")
        return value

    def number(self, column: str, low: int, high: int, default: int | None) -> int | None:
        value = self.text(column)
        if not value:
            return default
        if not value.isdigit() or not low <= int(value) <= high:
            self.fail(column, f"must be an integer {low}..{high}, got {value!r}")
            return default
        return int(value)

    def choice(self, column: str, enum: Any, default: Any) -> Any:
        value = self.text(column).lower()
        if not value:
            if default is None:
                self.fail(column, "required")
            return default
        try:
            return enum(value)
        except ValueError:
            self.fail(column, f"must be one of {', '.join(member.value for member in enum)}, got {value!r}")
            return default

    def hex_bytes(self, column: str, size: int, *, secret: bool) -> bytes | None:
        value = self.text(column)
        if not value:
            return None
        try:
            data = bytes.fromhex(value)
        except ValueError:
            data = b""
        if len(data) != size:
            # A secret is never echoed back, not even a malformed one.
            shown = "the value" if secret else repr(value)
            self.fail(column, f"{shown} is not {size * 2} hex digits")
            return None
        return data


def _parse_row(line: int, values: Mapping[str, str | None], errors: list[RowError]) -> MeterRow | None:
    row = _Row(line, values, errors)
    before = len(errors)
    serial = row.matching("serial", SERIAL, "1-32 letters, digits, '-' or '_'")
    manufacturer = row.matching("manufacturer_code", MANUFACTURER, "three capital letters")
    system_title = row.hex_bytes("system_title", 8, secret=False)
    if system_title is None and not row.text("system_title"):
        row.fail("system_title", "required")
    elif system_title is not None and MANUFACTURER.match(manufacturer) and system_title[:3] != manufacturer.encode():
        row.fail(
            "system_title", f"must start with the manufacturer code {manufacturer!r} ({manufacturer.encode().hex()})"
        )
    meter_type = row.text("meter_type")
    if not meter_type:
        row.fail("meter_type", "required")
    comm_mode = row.choice("comm_mode", CommMode, None)
    host = row.text("host") or None
    if host is not None and not HOST.match(host):
        row.fail("host", f"not a host name or address: {host!r}")
    port = row.number("port", 1, 65535, None)
    if comm_mode is CommMode.DIAL and not (row.text("host") and row.text("port")):
        row.fail("host", "dial meters need host and port")
    framing = row.choice("framing", Framing, Framing.WRAPPER)
    server_address = row.number("server_address", 1, 0x3FFF, 1)
    status = row.choice("status", MeterStatus, MeterStatus.INSTALLED)
    if status is not None and status not in IMPORTABLE_STATUSES:
        row.fail("status", "only installed or in_store can be imported")
    password = row.text("lls_password")
    lls = password.encode("utf-8") if password else None
    if lls is not None and (len(lls) > LLS_MAX_BYTES or not password.isprintable()):
        row.fail("lls_password", f"must be 1-{LLS_MAX_BYTES} printable characters")
    ek = row.hex_bytes("ek", 16, secret=True)
    ak = row.hex_bytes("ak", 16, secret=True)
    if (row.text("ek") == "") != (row.text("ak") == ""):
        row.fail("ek", "ek and ak go together (client 48 needs both)")
    if len(errors) > before:
        return None
    return MeterRow(
        line=line,
        serial=serial,
        manufacturer_code=manufacturer,
        system_title=system_title or b"",
        meter_type=meter_type,
        comm_mode=comm_mode,
        host=host,
        port=port,
        framing=framing,
        server_address=server_address or 1,
        status=status,
        account_no=row.text("account_no") or None,
        utility=row.text("utility") or None,
        lls_password=lls,
        ek=ek,
        ak=ak,
    )


def parse_csv(text: str) -> tuple[list[MeterRow], list[RowError]]:
    """Rows that are valid on their own, and line-numbered errors for the others."""
    errors: list[RowError] = []
    reader = csv.DictReader(io.StringIO(text.removeprefix("\ufeff")), strict=True)
    try:
        header = [name.strip() for name in reader.fieldnames or []]
    except csv.Error as exc:
        return [], [RowError(1, "", f"not CSV: {exc}")]
    missing = [name for name in REQUIRED_COLUMNS if name not in header]
    unknown = [name for name in header if name not in REQUIRED_COLUMNS + OPTIONAL_COLUMNS]
    if missing or unknown or len(set(header)) != len(header):
        problems = [f"missing columns: {', '.join(missing)}"] if missing else []
        problems += [f"unknown columns: {', '.join(unknown)}"] if unknown else []
        problems += ["a column appears twice"] if len(set(header)) != len(header) else []
        return [], [RowError(1, "", "; ".join(problems))]
    reader.fieldnames = header
    rows: list[MeterRow] = []
    try:
        for record in reader:
            line = reader.line_num
            if None in record:
                errors.append(RowError(line, "", f"{len(header) + len(record[None])} fields, header has {len(header)}"))
                continue
            if len(rows) + len(errors) >= MAX_ROWS:
                errors.append(RowError(line, "", f"more than {MAX_ROWS} rows: split the file"))
                break
            parsed = _parse_row(line, record, errors)
            if parsed is not None:
                rows.append(parsed)
    except csv.Error as exc:
        errors.append(RowError(reader.line_num, "", f"not CSV: {exc}"))
    return rows, errors


@dataclass(frozen=True, slots=True)
class _Checked:
    row: MeterRow
    utility_id: int
    meter_type_id: int
    account_id: int | None


def _check_account(
    session: Session,
    row: MeterRow,
    utility_id: int,
    current: Meter | None,
    *,
    seen: dict[tuple[int, str], int],
    errors: list[RowError],
) -> int | None:
    assert row.account_no is not None
    account_id = registry.account_ids_by_number(session, utility_id, [row.account_no]).get(row.account_no)
    if account_id is None:
        errors.append(RowError(row.line, "account_no", f"no account {row.account_no!r} in the utility"))
        return None
    if (utility_id, row.account_no) in seen:
        errors.append(RowError(row.line, "account_no", f"also given on line {seen[(utility_id, row.account_no)]}"))
    seen.setdefault((utility_id, row.account_no), row.line)
    installed = registry.account_has_open_meter(session, account_id)
    if installed is not None and (current is None or installed != current.id):
        errors.append(RowError(row.line, "account_no", "the account already has another meter installed"))
    if current is not None:
        installation = registry.open_installation(session, current.id)
        if installation is not None and installation.account_id != account_id:
            errors.append(RowError(row.line, "account_no", "the meter is installed on another account"))
    return account_id


def _check_against_store(
    session: Session, rows: list[MeterRow], default_utility: str | None, errors: list[RowError]
) -> list[_Checked]:
    """Rows that pass every cross-check with the store and with the other rows of the file."""
    utilities = registry.utility_ids_by_code(session)
    types = registry.meter_type_ids_by_code(session)
    existing = registry.meters_by_serial(session, [(row.manufacturer_code, row.serial) for row in rows])
    titles = registry.meters_by_system_title(session, [row.system_title for row in rows])
    seen_keys: dict[tuple[str, str], int] = {}
    seen_titles: dict[bytes, int] = {}
    seen_accounts: dict[tuple[int, str], int] = {}
    checked = []
    for row in rows:
        before = len(errors)
        key = (row.manufacturer_code, row.serial)
        utility_code = row.utility or default_utility or (next(iter(utilities)) if len(utilities) == 1 else None)
        utility_id = utilities.get(utility_code or "")
        if utility_id is None:
            why = f"unknown utility {utility_code!r}" if utility_code else "several utilities: give --utility"
            errors.append(RowError(row.line, "utility", why))
        type_id = types.get(row.meter_type)
        if type_id is None:
            errors.append(RowError(row.line, "meter_type", f"unknown meter type {row.meter_type!r}"))
        if key in seen_keys:
            errors.append(RowError(row.line, "serial", f"same meter as line {seen_keys[key]}"))
        if row.system_title in seen_titles:
            errors.append(RowError(row.line, "system_title", f"same as line {seen_titles[row.system_title]}"))
        owner = titles.get(row.system_title)
        if owner is not None and (owner.manufacturer_code, owner.serial) != key:
            errors.append(RowError(row.line, "system_title", f"already used by meter {owner.serial}"))
        current = existing.get(key)
        if current is not None and utility_id is not None and current.utility_id != utility_id:
            errors.append(RowError(row.line, "utility", "the meter is registered with another utility"))
        account_id = None
        if row.account_no and utility_id is not None:
            account_id = _check_account(session, row, utility_id, current, seen=seen_accounts, errors=errors)
        seen_keys.setdefault(key, row.line)
        seen_titles.setdefault(row.system_title, row.line)
        if len(errors) == before and utility_id is not None and type_id is not None:
            checked.append(_Checked(row, utility_id, type_id, account_id))
    return checked


def _apply(session: Session, vault: KeyVault, item: _Checked, *, now: datetime, report: ImportReport) -> None:
    row = item.row
    fields = {
        "utility_id": item.utility_id,
        "meter_type_id": item.meter_type_id,
        "system_title": row.system_title,
        "comm_mode": row.comm_mode,
        "host": row.host,
        "port": row.port,
        "framing": row.framing,
        "server_address": row.server_address,
        "status": row.status,
    }
    meter = meter_repo.meter_by_serial(session, row.manufacturer_code, row.serial)
    created = meter is None
    changed = False
    if meter is None:
        meter = Meter(serial=row.serial, manufacturer_code=row.manufacturer_code, created_at=now, **fields)
        session.add(meter)
        session.flush()
    else:
        for name, value in fields.items():
            if getattr(meter, name) != value:
                setattr(meter, name, value)
                changed = True
        session.flush()
    for client_sap, kind, secret in row.secrets():
        context = credential_context(meter.id, client_sap, kind.value)
        try:
            same = vault.open(meter_repo.get_credential(session, meter.id, client_sap, kind), context) == secret
        except (meter_repo.UnknownCredentialError, KeyVaultError):
            same = False
        if not same:
            meter_repo.put_credential(session, meter.id, client_sap, kind, sealed=vault.seal(secret, context), now=now)
            changed = True
    if item.account_id is not None and registry.open_installation(session, meter.id) is None:
        registry.install(session, meter.id, item.account_id, now)
        changed = True
    label = f"{row.manufacturer_code}/{row.serial}"
    (report.created if created else report.updated if changed else report.unchanged).append(label)


def import_meters(
    session: Session,
    vault: KeyVault,
    rows: list[MeterRow],
    parse_errors: list[RowError],
    *,
    default_utility: str | None,
    now: datetime,
    partial: bool = False,
    dry_run: bool = False,
) -> ImportReport:
    """Validate against the store and write. The caller commits only if ``report.applied``."""
    report = ImportReport(errors=list(parse_errors))
    checked = _check_against_store(session, rows, default_utility, report.errors)
    if dry_run or (report.errors and not partial):
        report.errors.sort(key=lambda error: error.line)
        return report
    for item in checked:
        _apply(session, vault, item, now=now, report=report)
    report.errors.sort(key=lambda error: error.line)
    report.applied = True
    return report
