"""Tariffs: pure functions from consumption and a tariff version to itemised charge lines.

Implements domain.md §2 (charging, fixed charge, slabs, money) and §5 (published tariffs); C2/C3
of §1 (versions, duties, rebates, subsidies). Stdlib only (import-linter contract): no clock, no
I/O, no settings; times, consumption and the tariff version are arguments.

Public API
----------
Model (frozen dataclasses, validated on construction, ``TariffSpecError`` naming the field):
``TariffSpec`` (code, name, category, version, effective_from, energy, tod, fixed, minimum,
surcharges, duties, rebate, subsidy, overdrawl), ``EnergyCharge``/``EnergyCategory``/``SlabTable``/
``Slab``/``SlabMode``, ``TimeOfDay``/``TodSchedule``/``TodZone``/``DayType``, ``MonthlyAmount``/
``LoadBand``, ``MinimumCharge``, ``PercentCharge``, ``Subsidy``/``FreeUnits``/``PercentSubsidy``,
``Overdrawl``/``OverdrawlPolicy``, ``Group``. Files: ``openprepaid.wallet.tariff_document``.

Rating (each returns ``list[ChargeLine]``; zero lines are omitted):

- ``rate_interval(spec, *, energy_wh, interval_end_local, month_to_date_wh_before, day_type=None)``
  — one block-load interval, given the month's Wh already rated; ``rate_zone_energy(spec, *,
  energy_wh, tod_zone, month_to_date_wh_before)`` — the same for energy of a known ToD zone.
- ``daily_fixed_charge(spec, *, sanctioned_load_w, local_date)`` — one day of the fixed charge
  (monthly / days in that month) with the percentages whose base includes ``fixed``.
- ``overdrawl_penalty(spec, *, max_demand_w, sanctioned_load_w, previous_max_demand_w=0)`` — the
  rise of the month's penalty when its maximum demand rises; ``penalty_paise`` gives the amount.
- ``interval_local_date(interval_end_local) -> date`` — the date (and so month and day type) an
  interval belongs to; ``tod_zone_of(spec, interval_end_local, day_type=None) -> str | None``;
  ``day_type_on(local_date, holidays) -> DayType | None`` (``HOLIDAY`` on a public holiday).

Bills (``Bill``: ``lines``, ``total_paise``, ``amount_of(prefix)``):

- ``month_bill(spec, *, month_wh, sanctioned_load_w, days_in_month, zone_wh=None,
  max_demand_w=None, first_fixed_day=1, last_fixed_day=None) -> Bill`` — the exact month, for the
  monthly reconciliation against the sum of the month's lines (and where the minimum charge lives).
- ``month_bill_by_version(parts, *, sanctioned_load_w, days_in_month) -> (Bill, parts' Bills)`` — a
  month whose tariff changed: per-version parts (``VersionPart``; the one in force at the month's maximum
  demand carries it), slabs, free units and percentages continuing across the change, one subsidy cap
  for the month.
- ``quote_period(spec, *, kwh, sanctioned_kw, days, zone_kwh=None, max_demand_kw=None) -> Bill``.

``ChargeLine(component, amount_paise, quantity, unit, rate)``: components are ``energy.slabN``,
``energy.catchup``, ``energy.tod.<zone>``, ``fixed.load``/``fixed.flat``, ``minimum.monthly``,
``penalty.overdrawl``, ``surcharge.<name>``, ``duty.<name>``, ``rebate.<name>``,
``subsidy.free_units``, ``subsidy.<name>``.

Rounding: integer paise per line, half-up (``money.round_paise``, here in integer form
``round_paise_ratio``). Lines fixed by month-to-date units, day of month or month maximum demand
are differences of rounded month-to-date amounts, so they add up to the month bill exactly; ToD
lines are rounded once per interval. See ``rating`` and docs/tariff-format.md.
"""

from __future__ import annotations

from openprepaid.wallet.tariff.bill import VersionPart, month_bill, month_bill_by_version, quote_period
from openprepaid.wallet.tariff.errors import RatingInputError, TariffError, TariffSpecError
from openprepaid.wallet.tariff.line import Bill, ChargeLine, round_paise_ratio
from openprepaid.wallet.tariff.model import (
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
    TariffSpec,
    TimeOfDay,
    TodSchedule,
    TodZone,
)
from openprepaid.wallet.tariff.rating import (
    daily_fixed_charge,
    day_type_on,
    interval_local_date,
    overdrawl_penalty,
    penalty_paise,
    rate_interval,
    rate_zone_energy,
    tod_zone_of,
)

__all__ = [
    "Bill",
    "ChargeLine",
    "DayType",
    "EnergyCategory",
    "EnergyCharge",
    "FreeUnits",
    "Group",
    "LoadBand",
    "MinimumCharge",
    "MonthlyAmount",
    "Overdrawl",
    "OverdrawlPolicy",
    "PercentCharge",
    "PercentSubsidy",
    "RatingInputError",
    "Slab",
    "SlabMode",
    "SlabTable",
    "Subsidy",
    "TariffError",
    "TariffSpec",
    "TariffSpecError",
    "TimeOfDay",
    "TodSchedule",
    "TodZone",
    "VersionPart",
    "daily_fixed_charge",
    "day_type_on",
    "interval_local_date",
    "month_bill",
    "month_bill_by_version",
    "overdrawl_penalty",
    "penalty_paise",
    "quote_period",
    "rate_interval",
    "rate_zone_energy",
    "round_paise_ratio",
    "tod_zone_of",
]
