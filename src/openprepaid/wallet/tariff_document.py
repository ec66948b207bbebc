"""Tariff files: the documented YAML format (docs/tariff-format.md) -> ``TariffSpec``, strictly checked.

Every error is a ``TariffDocumentError`` whose message names the offending field by its path in the
file (``energy.slabs[2].up_to_kwh: must be greater than 400``). Strict: unknown or duplicate keys,
floats parsed as binary numbers, negative rates, unsorted or overlapping slabs, ToD zones that do
not cover 24 h and percentages outside 0..100 are all refused. Numbers are read as ``Decimal``
straight from the YAML text (a custom loader), so no float ever holds a rate. Each file is one
version of a tariff (``code``, ``name``, ``category``, ``version``, ``effective_from`` with its zone).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Collection, Iterator, Mapping
from contextlib import contextmanager
from datetime import datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any, TypeVar

import yaml

from openprepaid.wallet.tariff import (
    DayType,
    EnergyCategory,
    EnergyCharge,
    FreeUnits,
    Group,
    LoadBand,
    MinimumCharge,
    MonthlyAmount,
    Overdrawl,
    OverdrawlPolicy,
    PercentCharge,
    PercentSubsidy,
    Slab,
    SlabMode,
    SlabTable,
    Subsidy,
    TariffError,
    TariffSpec,
    TariffSpecError,
    TimeOfDay,
    TodSchedule,
    TodZone,
)

T = TypeVar("T")
_TIME = re.compile(r"^([01]\d|2[0-4]):([0-5]\d)$")
_MONTHS = re.compile(r"^\s*(\d{1,2})\s*(?:-\s*(\d{1,2})\s*)?$")
MAX_DOCUMENT_BYTES = 1_000_000


class TariffDocumentError(TariffError):
    """A tariff file is not valid; ``path`` names the field (``""`` for the document itself)."""

    def __init__(self, path: str, reason: str) -> None:
        self.path = path
        self.reason = reason
        super().__init__(f"{path}: {reason}" if path else reason)


class _Loader(yaml.SafeLoader):
    """Safe YAML with decimals for numbers, timestamps kept as text, and duplicate keys refused."""


def _decimal_scalar(loader: _Loader, node: yaml.ScalarNode) -> Decimal:
    text = str(loader.construct_scalar(node)).replace("_", "")
    try:
        value = Decimal(text)
    except InvalidOperation:
        value = Decimal("NaN")
    if not value.is_finite():
        raise yaml.constructor.ConstructorError(None, None, f"not a finite number: {text}", node.start_mark)
    return value


def _text_scalar(loader: _Loader, node: yaml.ScalarNode) -> str:
    return str(loader.construct_scalar(node))


def _unique_mapping(loader: _Loader, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
    seen: set[Any] = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)
        if key in seen:
            raise yaml.constructor.ConstructorError(None, None, f"duplicate key {key!r}", key_node.start_mark)
        seen.add(key)
    return loader.construct_mapping(node, deep=deep)


_Loader.add_constructor("tag:yaml.org,2002:float", _decimal_scalar)
_Loader.add_constructor("tag:yaml.org,2002:timestamp", _text_scalar)
_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _unique_mapping)


@contextmanager
def _at(path: str) -> Iterator[None]:
    """Turn a model error raised while building the object at ``path`` into a document error."""
    try:
        yield
    except TariffSpecError as exc:
        inner = f"{path}.{exc.path}" if path and exc.path else (path or exc.path)
        raise TariffDocumentError(inner, exc.reason) from exc


def _join(path: str, key: str | int) -> str:
    if isinstance(key, int):
        return f"{path}[{key}]"
    return f"{path}.{key}" if path else key


def _mapping(value: object, path: str, required: set[str], optional: Collection[str] = ()) -> dict[str, Any]:
    if not isinstance(value, Mapping):
        raise TariffDocumentError(path, f"must be a mapping, got {type(value).__name__}")
    allowed = required | set(optional)
    for key in value:
        if key not in allowed:
            raise TariffDocumentError(_join(path, str(key)), f"unknown key (allowed: {', '.join(sorted(allowed))})")
    for key in sorted(required):
        if key not in value:
            raise TariffDocumentError(_join(path, key), "is required")
    return dict(value)


def _list(value: object, path: str, item: Callable[[object, str], T]) -> tuple[T, ...]:
    if not isinstance(value, list) or not value:
        raise TariffDocumentError(path, "must be a non-empty list")
    return tuple(item(v, _join(path, i)) for i, v in enumerate(value))


def _number(value: object, path: str) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, int | Decimal | str):
        raise TariffDocumentError(path, f"must be a number, got {value!r}")
    try:
        number = Decimal(value)
    except InvalidOperation:
        raise TariffDocumentError(path, f"must be a number, got {value!r}") from None
    if not number.is_finite():
        raise TariffDocumentError(path, f"must be a finite number, got {value!r}")
    return number


def _optional_number(data: Mapping[str, Any], key: str, path: str) -> Decimal | None:
    return None if data.get(key) is None else _number(data[key], _join(path, key))


def _text(value: object, path: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise TariffDocumentError(path, f"must be non-empty text, got {value!r}")
    return value


def _choice(value: object, path: str, kind: Callable[[str], T], options: list[str]) -> T:
    if not isinstance(value, str) or value not in options:
        raise TariffDocumentError(path, f"must be one of {', '.join(options)}, got {value!r}")
    return kind(value)


def _groups(value: object, path: str) -> frozenset[Group]:
    names = [g.value for g in Group]
    return frozenset(_list(value, path, lambda v, p: _choice(v, p, Group, names)))


def _slab(value: object, path: str) -> Slab:
    data = _mapping(value, path, {"rate_per_kwh"}, {"up_to_kwh"})
    return Slab(_number(data["rate_per_kwh"], _join(path, "rate_per_kwh")), _optional_number(data, "up_to_kwh", path))


def _table(data: Mapping[str, Any], path: str) -> SlabTable:
    mode = _choice(data["mode"], _join(path, "mode"), SlabMode, [m.value for m in SlabMode])
    slabs = _list(data["slabs"], _join(path, "slabs"), _slab)
    with _at(path):
        return SlabTable(mode, slabs)


def _category(value: object, path: str) -> EnergyCategory:
    data = _mapping(value, path, {"mode", "slabs"}, {"up_to_kwh"})
    return EnergyCategory(_table(data, path), _optional_number(data, "up_to_kwh", path))


def _energy(value: object) -> EnergyCharge:
    if isinstance(value, Mapping) and "categories" in value:
        data = _mapping(value, "energy", {"categories"})
        categories = _list(data["categories"], "energy.categories", _category)
    else:
        data = _mapping(value, "energy", {"mode", "slabs"})
        categories = (EnergyCategory(_table(data, "energy")),)
    with _at("energy"):
        return EnergyCharge(categories)


def _minute(value: object, path: str) -> int:
    match = _TIME.match(value) if isinstance(value, str) else None
    if match is None or (match.group(1) == "24" and match.group(2) != "00"):
        raise TariffDocumentError(path, f"must be a time \"HH:MM\" between 00:00 and 24:00, got {value!r}")
    return int(match.group(1)) * 60 + int(match.group(2))


def _zone(value: object, path: str) -> TodZone:
    data = _mapping(value, path, {"name", "start", "end"}, {"multiplier", "delta_per_kwh"})
    start = _minute(data["start"], _join(path, "start"))
    if start == 1440:
        raise TariffDocumentError(_join(path, "start"), "must be before 24:00")
    with _at(path):
        return TodZone(_text(data["name"], _join(path, "name")), start, _minute(data["end"], _join(path, "end")),
                       _optional_number(data, "multiplier", path), _optional_number(data, "delta_per_kwh", path))


def _months(value: object, path: str) -> frozenset[int]:
    """``"4-9"`` (April to September), ``"10-3"`` (wraps the year end) or one month ``7``."""
    match = _MONTHS.match(str(value)) if isinstance(value, int | str) and not isinstance(value, bool) else None
    first, last = (int(match.group(1)), int(match.group(2) or match.group(1))) if match else (0, 0)
    if not (1 <= first <= 12 and 1 <= last <= 12):
        raise TariffDocumentError(path, f"must be a month range like \"4-9\" or \"10-3\" (1-12), got {value!r}")
    if first <= last:
        return frozenset(range(first, last + 1))
    return frozenset(range(first, 13)) | frozenset(range(1, last + 1))


def _schedule(value: object, path: str) -> TodSchedule:
    data = _mapping(value, path, {"name", "zones"}, {"months", "day_types"})
    months = _months(data.get("months", "1-12"), _join(path, "months"))
    day_types = frozenset(DayType) if "day_types" not in data else frozenset(
        _list(data["day_types"], _join(path, "day_types"), lambda v, p: _choice(v, p, DayType, list(DayType))))
    zones = _list(data["zones"], _join(path, "zones"), _zone)
    with _at(path):
        return TodSchedule(_text(data["name"], _join(path, "name")), months, day_types, zones)


def _tod(value: object) -> TimeOfDay:
    data = _mapping(value, "tod", {"schedules"})
    schedules = _list(data["schedules"], "tod.schedules", _schedule)
    with _at("tod"):
        return TimeOfDay(schedules)


def _band(value: object, path: str) -> LoadBand:
    data = _mapping(value, path, {"rate_per_kw_month"}, {"up_to_kw"})
    return LoadBand(_number(data["rate_per_kw_month"], _join(path, "rate_per_kw_month")),
                    _optional_number(data, "up_to_kw", path))


def _monthly(data: Mapping[str, Any], path: str) -> MonthlyAmount:
    bands = () if "per_kw_bands" not in data else _list(data["per_kw_bands"], _join(path, "per_kw_bands"), _band)
    with _at(path):
        return MonthlyAmount(bands, _optional_number(data, "flat_per_month", path))


def _percent(value: object, path: str) -> PercentCharge:
    data = _mapping(value, path, {"name", "percent", "base"})
    return PercentCharge(_text(data["name"], _join(path, "name")), _number(data["percent"], _join(path, "percent")),
                         _groups(data["base"], _join(path, "base")))


def _subsidy(value: object) -> Subsidy:
    data = _mapping(value, "subsidy", set(), {"free_units", "percent"})
    free = percent = None
    if data.get("free_units") is not None:
        f = _mapping(data["free_units"], "subsidy.free_units", {"kwh"}, {"max_month_kwh"})
        with _at("subsidy.free_units"):
            free = FreeUnits(_number(f["kwh"], "subsidy.free_units.kwh"),
                             _optional_number(f, "max_month_kwh", "subsidy.free_units"))
    if data.get("percent") is not None:
        path = "subsidy.percent"
        p = _mapping(data["percent"], path, {"name", "percent"}, {"base", "cap_per_month"})
        base = _groups(p["base"], _join(path, "base")) if "base" in p else frozenset({Group.ENERGY})
        with _at(path):
            percent = PercentSubsidy(_text(p["name"], _join(path, "name")),
                                     _number(p["percent"], _join(path, "percent")),
                                     base, _optional_number(p, "cap_per_month", path))
    return Subsidy(free, percent)


def _overdrawl(value: object) -> Overdrawl:
    path = "overdrawl"
    data = _mapping(value, path, {"policy"}, {"per_kw_month", "percent_of_fixed", "tolerance_percent"})
    policy = _choice(data["policy"], _join(path, "policy"), OverdrawlPolicy, [p.value for p in OverdrawlPolicy])
    with _at(path):
        return Overdrawl(policy, _optional_number(data, "per_kw_month", path),
                         _optional_number(data, "percent_of_fixed", path),
                         _optional_number(data, "tolerance_percent", path) or Decimal(0))


def _effective_from(value: object) -> datetime:
    try:
        moment = datetime.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        moment = None
    if moment is None or moment.tzinfo is None:
        raise TariffDocumentError("effective_from", f"must be an ISO date-time with its zone, e.g. "
                                  f"\"2019-08-01T00:00:00+05:30\", got {value!r}")
    return moment


_TOP_REQUIRED = {"code", "name", "category", "version", "effective_from", "energy"}
_TOP_OPTIONAL = {"tod", "fixed", "minimum", "surcharges", "duties", "rebate", "subsidy", "overdrawl", "source"}


def tariff_from_mapping(document: object) -> TariffSpec:
    """Build the tariff from an already parsed document (a mapping as in docs/tariff-format.md)."""
    data = _mapping(document, "", _TOP_REQUIRED, _TOP_OPTIONAL)
    version = data["version"]
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise TariffDocumentError("version", f"must be a whole number >= 1, got {version!r}")
    minimum = None
    if data.get("minimum") is not None:
        m = _mapping(data["minimum"], "minimum", set(), {"per_kw_bands", "flat_per_month", "base"})
        amount = _monthly(m, "minimum")
        with _at("minimum"):
            base = _groups(m["base"], "minimum.base") if "base" in m else frozenset({Group.ENERGY, Group.FIXED})
            minimum = MinimumCharge(amount, base)
    fixed = None
    if data.get("fixed") is not None:
        fixed = _monthly(_mapping(data["fixed"], "fixed", set(), {"per_kw_bands", "flat_per_month"}), "fixed")
    with _at(""):
        return TariffSpec(
            code=_text(data["code"], "code"),
            name=_text(data["name"], "name"),
            category=_text(data["category"], "category"),
            version=version,
            effective_from=_effective_from(data["effective_from"]),
            energy=_energy(data["energy"]),
            tod=None if data.get("tod") is None else _tod(data["tod"]),
            fixed=fixed,
            minimum=minimum,
            surcharges=() if data.get("surcharges") is None else _list(data["surcharges"], "surcharges", _percent),
            duties=() if data.get("duties") is None else _list(data["duties"], "duties", _percent),
            rebate=None if data.get("rebate") is None else _percent(data["rebate"], "rebate"),
            subsidy=None if data.get("subsidy") is None else _subsidy(data["subsidy"]),
            overdrawl=None if data.get("overdrawl") is None else _overdrawl(data["overdrawl"]),
        )


def parse_tariff(text: str) -> TariffSpec:
    """Parse and validate a tariff document."""
    if len(text.encode()) > MAX_DOCUMENT_BYTES:
        raise TariffDocumentError("", f"document larger than {MAX_DOCUMENT_BYTES} bytes")
    try:
        document = yaml.load(text, Loader=_Loader)  # noqa: S506 - _Loader is a SafeLoader subclass
    except yaml.YAMLError as exc:
        raise TariffDocumentError("", f"not valid YAML: {exc}") from None
    return tariff_from_mapping(document)


def load_tariff(path: Path) -> TariffSpec:
    """Read, parse and validate a tariff file."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise TariffDocumentError("", f"cannot read {path}: {exc}") from None
    return parse_tariff(text)


def document_sha256(text: str) -> str:
    """The digest stored with a tariff version (``tariff_version.document_sha256``)."""
    return hashlib.sha256(text.encode()).hexdigest()
