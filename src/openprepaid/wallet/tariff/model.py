"""The tariff model: frozen dataclasses, validated when built (domain.md §2 and §5).

A ``TariffSpec`` is one immutable version of a tariff. Building it checks every invariant the
rating relies on and precompiles integer tables (``TariffSpec.compiled``) so rating does no
Decimal work. Errors are ``TariffSpecError`` whose message starts with the offending field's path.

Invariants checked here:
- slab and band upper bounds strictly increase, the last one is open-ended, rates are >= 0;
  energy bounds are whole Wh (3 decimals of kWh), load bounds whole W;
- all-units bands never get cheaper; a later category never costs less than an earlier one for
  the month's units so far, so re-rating ("catch-up") never credits and a month's charge never
  falls as units rise;
- every ToD schedule covers the 24 hours exactly once; at most one schedule applies to a given
  (month, day type); a zone name means one adjustment everywhere;
- percentages are within 0..100 and each percentage's base names only components applied before it
  (order: energy, fixed, minimum, penalty, surcharge, duty, rebate, subsidy);
- a ToD rebate (negative ₹/kWh) is at most the cheapest energy rate, and subsidies are not combined
  with ToD, so no interval's charge is ever negative.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import TYPE_CHECKING

from openprepaid.wallet.tariff.errors import TariffSpecError

if TYPE_CHECKING:
    from openprepaid.wallet.tariff.compiled import CompiledTariff

MAX_RATE_DECIMALS = 6
_HUNDRED = Decimal(100)


class SlabMode(StrEnum):
    TELESCOPIC = "telescopic"  # each band at its own rate
    ALL_UNITS = "all_units"  # the whole month at the rate of the band reached


class DayType(StrEnum):
    WEEKDAY = "weekday"
    WEEKEND = "weekend"
    HOLIDAY = "holiday"


class Group(StrEnum):
    """Component groups in the order they are applied; a percentage's base names earlier groups."""

    ENERGY = "energy"
    FIXED = "fixed"
    MINIMUM = "minimum"
    PENALTY = "penalty"
    SURCHARGE = "surcharge"
    DUTY = "duty"
    REBATE = "rebate"
    SUBSIDY = "subsidy"


GROUP_ORDER: tuple[Group, ...] = tuple(Group)


class OverdrawlPolicy(StrEnum):
    TRIP = "trip"  # the meter's limiter disconnects; no money line
    PENALTY = "penalty"  # supply continues; a penalty is charged on the excess demand


def fail(path: str, message: str) -> TariffSpecError:
    return TariffSpecError(path, message)


def check_decimal(value: Decimal, path: str, *, places: int = MAX_RATE_DECIMALS, lo: Decimal | None = Decimal(0),
                  hi: Decimal | None = None) -> None:
    if not isinstance(value, Decimal) or not value.is_finite():
        raise fail(path, f"must be a finite decimal number, got {value!r}")
    if lo is not None and value < lo:
        raise fail(path, f"must be >= {lo}, got {value}")
    if hi is not None and value > hi:
        raise fail(path, f"must be <= {hi}, got {value}")
    exponent = value.normalize().as_tuple().exponent
    assert isinstance(exponent, int)  # finite, checked above
    if -exponent > places:
        raise fail(path, f"at most {places} decimal places, got {value}")


def _check_bounds(bounds: list[Decimal | None], path: str, key: str, places: int) -> None:
    """Upper bounds strictly increase, only the last is open (``None``)."""
    if not bounds:
        raise fail(path, "needs at least one entry")
    previous = Decimal(0)
    for i, bound in enumerate(bounds):
        last = i == len(bounds) - 1
        if bound is None:
            if not last:
                raise fail(f"{path}[{i}].{key}", "only the last entry may be open-ended")
            continue
        if last:
            raise fail(f"{path}[{i}].{key}", "the last entry must be open-ended (no upper bound)")
        check_decimal(bound, f"{path}[{i}].{key}", places=places)
        if bound <= previous:
            raise fail(f"{path}[{i}].{key}", f"must be greater than {previous} (bounds overlap or are unsorted)")
        previous = bound


@dataclass(frozen=True)
class Slab:
    """One band: units of the month above the previous bound and up to ``up_to_kwh`` (None = no limit)."""

    rate_per_kwh: Decimal
    up_to_kwh: Decimal | None = None


@dataclass(frozen=True)
class SlabTable:
    mode: SlabMode
    slabs: tuple[Slab, ...]

    def __post_init__(self) -> None:
        _check_bounds([s.up_to_kwh for s in self.slabs], "slabs", "up_to_kwh", 3)
        for i, slab in enumerate(self.slabs):
            check_decimal(slab.rate_per_kwh, f"slabs[{i}].rate_per_kwh")
        if self.mode is SlabMode.ALL_UNITS:
            for i in range(1, len(self.slabs)):
                if self.slabs[i].rate_per_kwh < self.slabs[i - 1].rate_per_kwh:
                    raise fail(f"slabs[{i}].rate_per_kwh", "all-units bands may not get cheaper as units rise")


@dataclass(frozen=True)
class EnergyCategory:
    """The slab table used when the month's units are at most ``up_to_kwh`` (Haryana-style categories)."""

    table: SlabTable
    up_to_kwh: Decimal | None = None


@dataclass(frozen=True)
class EnergyCharge:
    categories: tuple[EnergyCategory, ...]

    def __post_init__(self) -> None:
        _check_bounds([c.up_to_kwh for c in self.categories], "categories", "up_to_kwh", 3)

    @classmethod
    def single(cls, mode: SlabMode, slabs: tuple[Slab, ...]) -> EnergyCharge:
        return cls((EnergyCategory(SlabTable(mode, slabs)),))


@dataclass(frozen=True)
class TodZone:
    """A time-of-day zone ``[start, end)`` in local minutes of the day; ``end <= start`` wraps midnight.

    Exactly one of ``multiplier`` (1.20 = +20 % of the interval's slab energy charge) and
    ``delta_per_kwh`` (₹/kWh added, negative for a rebate) is set.
    """

    name: str
    start_minute: int
    end_minute: int
    multiplier: Decimal | None = None
    delta_per_kwh: Decimal | None = None

    def minutes(self) -> range | tuple[range, range]:
        if self.end_minute > self.start_minute:
            return range(self.start_minute, self.end_minute)
        return (range(self.start_minute, 1440), range(0, self.end_minute))

    def adjustment(self) -> tuple[str, Decimal]:
        if self.multiplier is not None:
            return ("multiplier", self.multiplier)
        assert self.delta_per_kwh is not None
        return ("delta", self.delta_per_kwh)


@dataclass(frozen=True)
class TodSchedule:
    """Zones in force in ``months`` (1-12) on ``day_types``; they cover the day exactly once."""

    name: str
    months: frozenset[int]
    day_types: frozenset[DayType]
    zones: tuple[TodZone, ...]

    def __post_init__(self) -> None:
        if not self.months or not self.months <= set(range(1, 13)):
            raise fail("months", f"must be months 1-12, got {sorted(self.months)}")
        if not self.day_types:
            raise fail("day_types", "needs at least one day type")
        if not self.zones:
            raise fail("zones", "needs at least one zone")
        owner: list[str | None] = [None] * 1440
        for i, zone in enumerate(self.zones):
            _check_zone(zone, f"zones[{i}]")
            parts = zone.minutes()
            for part in parts if isinstance(parts, tuple) else (parts,):
                for minute in part:
                    if owner[minute] is not None:
                        raise fail(f"zones[{i}]", f"'{zone.name}' overlaps '{owner[minute]}' at {_hhmm(minute)}")
                    owner[minute] = zone.name
        gaps = [m for m, name in enumerate(owner) if name is None]
        if gaps:
            raise fail("zones", f"do not cover 24 h: nothing from {_hhmm(gaps[0])}")


def _hhmm(minute: int) -> str:
    return f"{minute // 60:02d}:{minute % 60:02d}"


def _check_zone(zone: TodZone, path: str) -> None:
    if not zone.name:
        raise fail(f"{path}.name", "must not be empty")
    if not 0 <= zone.start_minute < 1440 or not 0 <= zone.end_minute <= 1440:
        raise fail(path, "start must be within 00:00-23:59 and end within 00:00-24:00")
    if zone.start_minute == zone.end_minute:
        raise fail(path, "start and end are equal; use 00:00-24:00 for a whole day")
    if (zone.multiplier is None) == (zone.delta_per_kwh is None):
        raise fail(path, "needs exactly one of multiplier and delta_per_kwh")
    if zone.multiplier is not None:
        check_decimal(zone.multiplier, f"{path}.multiplier", hi=Decimal(10))
    if zone.delta_per_kwh is not None:
        check_decimal(zone.delta_per_kwh, f"{path}.delta_per_kwh", lo=None)


@dataclass(frozen=True)
class TimeOfDay:
    schedules: tuple[TodSchedule, ...]

    def __post_init__(self) -> None:
        if not self.schedules:
            raise fail("schedules", "needs at least one schedule")
        seen: dict[tuple[int, DayType], str] = {}
        adjustments: dict[str, tuple[str, Decimal]] = {}
        for i, schedule in enumerate(self.schedules):
            for month in schedule.months:
                for day_type in schedule.day_types:
                    other = seen.setdefault((month, day_type), schedule.name)
                    if other != schedule.name or sum(s.name == schedule.name for s in self.schedules) > 1:
                        raise fail(f"schedules[{i}]", f"'{schedule.name}' and '{other}' both apply to month "
                                   f"{month} on {day_type.value} days (or the name is repeated)")
            for zone in schedule.zones:
                known = adjustments.setdefault(zone.name, zone.adjustment())
                if known != zone.adjustment():
                    raise fail(f"schedules[{i}].zones", f"zone name '{zone.name}' is used with different rates; "
                               "give each rate its own zone name")


@dataclass(frozen=True)
class LoadBand:
    """Monthly ₹ per kW of sanctioned load, for loads up to ``up_to_kw`` (None = no limit)."""

    rate_per_kw_month: Decimal
    up_to_kw: Decimal | None = None


@dataclass(frozen=True)
class MonthlyAmount:
    """A monthly amount: the whole sanctioned load at its band's ₹/kW rate, or a flat ₹ amount."""

    per_kw_bands: tuple[LoadBand, ...] = ()
    flat_per_month: Decimal | None = None

    def __post_init__(self) -> None:
        if bool(self.per_kw_bands) == (self.flat_per_month is not None):
            raise fail("", "needs exactly one of per_kw_bands and flat_per_month")
        if self.flat_per_month is not None:
            check_decimal(self.flat_per_month, "flat_per_month")
        else:
            _check_bounds([b.up_to_kw for b in self.per_kw_bands], "per_kw_bands", "up_to_kw", 3)
            for i, band in enumerate(self.per_kw_bands):
                check_decimal(band.rate_per_kw_month, f"per_kw_bands[{i}].rate_per_kw_month")


@dataclass(frozen=True)
class MinimumCharge:
    """If the month's ``base`` groups total less than ``amount``, a ``minimum.monthly`` line makes up the rest."""

    amount: MonthlyAmount
    base: frozenset[Group] = frozenset({Group.ENERGY, Group.FIXED})

    def __post_init__(self) -> None:
        if not self.base or not self.base <= {Group.ENERGY, Group.FIXED}:
            raise fail("base", "must be a non-empty subset of [energy, fixed]")


@dataclass(frozen=True)
class PercentCharge:
    """A surcharge, duty or rebate: ``percent`` of the listed earlier groups' month-to-date amount."""

    name: str
    percent: Decimal
    base: frozenset[Group]


@dataclass(frozen=True)
class FreeUnits:
    """The energy charge of the month's first ``kwh`` units is waived, if the month stays <= ``max_month_kwh``."""

    kwh: Decimal
    max_month_kwh: Decimal | None = None

    def __post_init__(self) -> None:
        check_decimal(self.kwh, "kwh", places=3)
        if self.max_month_kwh is not None:
            check_decimal(self.max_month_kwh, "max_month_kwh", places=3)


@dataclass(frozen=True)
class PercentSubsidy:
    """``percent`` off the energy-side ``base`` (after free units), at most ``cap_per_month`` ₹ a month."""

    name: str
    percent: Decimal
    base: frozenset[Group] = frozenset({Group.ENERGY})
    cap_per_month: Decimal | None = None

    def __post_init__(self) -> None:
        if self.cap_per_month is not None:
            check_decimal(self.cap_per_month, "cap_per_month", places=2)
        if self.base & {Group.FIXED, Group.MINIMUM, Group.PENALTY}:
            raise fail("base", "a percentage subsidy applies to the energy side only (energy, surcharge, duty, "
                       "rebate); its monthly cap cannot be shared with fixed, minimum or penalty")


@dataclass(frozen=True)
class Subsidy:
    free_units: FreeUnits | None = None
    percent: PercentSubsidy | None = None


@dataclass(frozen=True)
class Overdrawl:
    """Load above sanctioned load: trip (limiter) or a monthly penalty on the excess kW of the month's maximum demand.

    ``tolerance_percent``: demand up to sanctioned × (1 + tolerance) is not over-drawl. The penalty
    is ``per_kw_month`` ₹ per excess kW, or ``percent_of_fixed`` % of the fixed charge's ₹/kW rate.
    """

    policy: OverdrawlPolicy
    per_kw_month: Decimal | None = None
    percent_of_fixed: Decimal | None = None
    tolerance_percent: Decimal = Decimal(0)

    def __post_init__(self) -> None:
        check_decimal(self.tolerance_percent, "tolerance_percent", hi=_HUNDRED)
        given = (self.per_kw_month is not None) + (self.percent_of_fixed is not None)
        if self.policy is OverdrawlPolicy.TRIP and given:
            raise fail("policy", "'trip' takes no penalty rate")
        if self.policy is OverdrawlPolicy.PENALTY and given != 1:
            raise fail("policy", "'penalty' needs exactly one of per_kw_month and percent_of_fixed")
        if self.per_kw_month is not None:
            check_decimal(self.per_kw_month, "per_kw_month")
        if self.percent_of_fixed is not None:
            check_decimal(self.percent_of_fixed, "percent_of_fixed", hi=Decimal(1000))


@dataclass(frozen=True)
class TariffSpec:
    """One version of a tariff. ``effective_from`` is aware; the rating itself works on local times."""

    code: str
    name: str
    category: str
    version: int
    effective_from: datetime
    energy: EnergyCharge
    tod: TimeOfDay | None = None
    fixed: MonthlyAmount | None = None
    minimum: MinimumCharge | None = None
    surcharges: tuple[PercentCharge, ...] = ()
    duties: tuple[PercentCharge, ...] = ()
    rebate: PercentCharge | None = None
    subsidy: Subsidy | None = None
    overdrawl: Overdrawl | None = None
    compiled: CompiledTariff = field(init=False, repr=False, compare=False, hash=False)

    def __post_init__(self) -> None:
        if not self.code:
            raise fail("code", "must not be empty")
        if self.version < 1:
            raise fail("version", f"must be >= 1, got {self.version}")
        if self.effective_from.tzinfo is None or self.effective_from.utcoffset() is None:
            raise fail("effective_from", "must carry a time zone (e.g. 2019-08-01T00:00:00+05:30)")
        self._check_percentages()
        if self.tod is not None and self.subsidy is not None and (self.subsidy.free_units or self.subsidy.percent):
            # A ToD credit on units already made free (or subsidised) would push the consumer's
            # charge below zero; no published tariff needs both, so the combination is refused.
            raise fail("subsidy", "subsidies cannot be combined with time-of-day zones")
        if self.overdrawl is not None and self.overdrawl.percent_of_fixed is not None and (
            self.fixed is None or not self.fixed.per_kw_bands
        ):
            raise fail("overdrawl.percent_of_fixed", "needs a per-kW fixed charge")
        from openprepaid.wallet.tariff.compiled import compile_tariff  # noqa: PLC0415 - compiled imports this module

        object.__setattr__(self, "compiled", compile_tariff(self))

    def _check_percentages(self) -> None:
        items: list[tuple[str, Group, PercentCharge | PercentSubsidy]] = [
            *((f"surcharges[{i}]", Group.SURCHARGE, p) for i, p in enumerate(self.surcharges)),
            *((f"duties[{i}]", Group.DUTY, p) for i, p in enumerate(self.duties)),
        ]
        if self.rebate is not None:
            items.append(("rebate", Group.REBATE, self.rebate))
        if self.subsidy is not None and self.subsidy.percent is not None:
            items.append(("subsidy.percent", Group.SUBSIDY, self.subsidy.percent))
        names: set[tuple[Group, str]] = set()
        for path, group, item in items:
            if not item.name or (group, item.name) in names:
                raise fail(f"{path}.name", f"must be non-empty and unique, got {item.name!r}")
            names.add((group, item.name))
            check_decimal(item.percent, f"{path}.percent", hi=_HUNDRED)
            earlier = set(GROUP_ORDER[: GROUP_ORDER.index(group)])
            if not item.base or not item.base <= earlier:
                allowed = ", ".join(g.value for g in GROUP_ORDER if g in earlier)
                raise fail(f"{path}.base", f"must be a non-empty subset of [{allowed}]")
