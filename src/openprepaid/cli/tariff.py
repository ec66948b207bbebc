"""``openprepaid tariff``: check tariff files and quote itemised bills from them (docs/tariff-format.md)."""

from __future__ import annotations

import json
from decimal import Decimal, InvalidOperation
from pathlib import Path

import typer

from openprepaid.wallet.money import format_inr
from openprepaid.wallet.tariff import Bill, ChargeLine, LoadBand, RatingInputError, TariffSpec, quote_period
from openprepaid.wallet.tariff_document import TariffDocumentError, load_tariff

app = typer.Typer(help="Check tariff files and quote bills from them.", no_args_is_help=True)

USAGE_ERROR = 2


def _fail(message: str) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(USAGE_ERROR)


def _load(path: Path) -> TariffSpec:
    try:
        return load_tariff(path)
    except TariffDocumentError as exc:
        raise _fail(f"{path}: {exc}") from exc


def _decimal(text: str, option: str) -> Decimal:
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise _fail(f"{option} must be a number, got {text!r}") from None
    if not value.is_finite() or value < 0:
        raise _fail(f"{option} must be a non-negative number, got {text!r}")
    return value


def _zones(items: list[str]) -> dict[str, Decimal]:
    zones: dict[str, Decimal] = {}
    for item in items:
        name, sep, kwh = item.partition("=")
        if not sep or not name:
            raise _fail(f"--zone-kwh takes ZONE=KWH, got {item!r}")
        zones[name] = _decimal(kwh, f"--zone-kwh {name}")
    return zones


def _quantity(line: ChargeLine) -> str:
    if line.unit == "Wh":
        return f"{Decimal(line.quantity).scaleb(-3):.3f} kWh"
    if line.unit == "W":
        return f"{Decimal(line.quantity).scaleb(-3):.3f} kW"
    return ""


def _rate(line: ChargeLine, multipliers: set[str], *, penalty_percent: bool) -> str:
    if line.rate is None:
        return ""
    if line.unit == "%":
        return f"{line.rate}%"
    if line.component.startswith("energy.tod."):
        return f"×{line.rate}" if line.component.removeprefix("energy.tod.") in multipliers else f"₹{line.rate}/kWh"
    if line.component.startswith("energy."):
        return f"₹{line.rate}/kWh"
    if line.component.startswith("penalty.") and penalty_percent:
        return f"{line.rate}% of fixed"
    return f"₹{line.rate}/kW/month" if line.unit == "W" else f"₹{line.rate}"


def _table(spec: TariffSpec, bill: Bill, header: str) -> str:
    multipliers = set() if spec.tod is None else {
        z.name for s in spec.tod.schedules for z in s.zones if z.multiplier is not None
    }
    penalty_percent = spec.overdrawl is not None and spec.overdrawl.percent_of_fixed is not None
    rows = [(line.component, _quantity(line), _rate(line, multipliers, penalty_percent=penalty_percent),
             format_inr(line.amount_paise)) for line in bill.lines]
    rows.append(("total", "", "", format_inr(bill.total_paise)))
    titles = ("component", "quantity", "rate", "amount")
    widths = [max(len(r[i]) for r in [titles, *rows]) for i in range(4)]
    out = [f"{spec.name} ({spec.code} v{spec.version}, effective {spec.effective_from.isoformat()})", header, ""]
    for i, row in enumerate([titles, *rows]):
        if i == len(rows):
            out.append("-" * (sum(widths) + 6))
        out.append(f"{row[0]:<{widths[0]}}  {row[1]:>{widths[1]}}  {row[2]:>{widths[2]}}  {row[3]:>{widths[3]}}")
    return "\n".join(out)


def bill_json(bill: Bill) -> dict[str, object]:
    """The CLI's JSON form of a bill: ``{"lines": [{"component", "amount_paise", ...}], "total_paise"}``."""
    return {
        "lines": [
            {
                "component": line.component,
                "amount_paise": line.amount_paise,
                "quantity": line.quantity,
                "unit": line.unit,
                "rate": None if line.rate is None else str(line.rate),
            }
            for line in bill.lines
        ],
        "total_paise": bill.total_paise,
    }


@app.command()
def quote(
    *,
    tariff: Path = typer.Option(..., "--tariff", help="tariff file (YAML)", dir_okay=False),
    kwh: str = typer.Option(..., "--kwh", help="units consumed in the period (kWh)"),
    sanctioned_kw: str = typer.Option(..., "--sanctioned-kw", help="sanctioned load (kW)"),
    days: int = typer.Option(..., "--days", help="days in the billing month", min=1, max=366),
    zone_kwh: list[str] = typer.Option([], "--zone-kwh", help="ToD zone units, ZONE=KWH (repeatable)"),
    max_demand_kw: str | None = typer.Option(None, "--max-demand-kw", help="maximum demand (kW) for over-drawl"),
    as_json: bool = typer.Option(False, "--json", help="print JSON instead of a table"),
) -> None:
    """Quote an itemised bill for one billing month of DAYS days."""
    spec = _load(tariff)
    units = _decimal(kwh, "--kwh")
    load = _decimal(sanctioned_kw, "--sanctioned-kw")
    demand = None if max_demand_kw is None else _decimal(max_demand_kw, "--max-demand-kw")
    try:
        bill = quote_period(spec, kwh=units, sanctioned_kw=load, days=days, zone_kwh=_zones(zone_kwh),
                            max_demand_kw=demand)
    except RatingInputError as exc:
        raise _fail(str(exc)) from exc
    if as_json:
        typer.echo(json.dumps(bill_json(bill)))
    else:
        typer.echo(_table(spec, bill, f"{units} kWh, {load} kW sanctioned, {days} days"))


@app.command()
def check(tariff: Path = typer.Argument(..., help="tariff file (YAML)", dir_okay=False)) -> None:
    """Validate a tariff file and summarise what it charges."""
    spec = _load(tariff)
    typer.echo(f"ok: {spec.code} v{spec.version} '{spec.name}' ({spec.category}), "
               f"effective {spec.effective_from.isoformat()}")
    for category in spec.energy.categories:
        limit = "any month" if category.up_to_kwh is None else f"months up to {category.up_to_kwh} kWh"
        bands = ", ".join(
            f"{'≤' + str(s.up_to_kwh) if s.up_to_kwh is not None else 'rest'} @ ₹{s.rate_per_kwh}"
            for s in category.table.slabs
        )
        typer.echo(f"  energy ({category.table.mode.value}, {limit}): {bands}")
    if spec.tod is not None:
        for schedule in spec.tod.schedules:
            zones = ", ".join(z.name for z in schedule.zones)
            typer.echo(f"  ToD '{schedule.name}' months {sorted(schedule.months)}: {zones}")
    if spec.fixed is not None:
        typer.echo(f"  fixed: {_monthly(spec.fixed.flat_per_month, spec.fixed.per_kw_bands)}")
    if spec.minimum is not None:
        typer.echo(f"  minimum: {_monthly(spec.minimum.amount.flat_per_month, spec.minimum.amount.per_kw_bands)}")
    for kind, items in (("surcharge", spec.surcharges), ("duty", spec.duties),
                        ("rebate", (spec.rebate,) if spec.rebate else ())):
        for item in items:
            typer.echo(f"  {kind} {item.name}: {item.percent}% of {', '.join(sorted(g.value for g in item.base))}")
    if spec.subsidy is not None:
        typer.echo(f"  subsidy: free units {spec.subsidy.free_units}, percent {spec.subsidy.percent}")
    if spec.overdrawl is not None:
        typer.echo(f"  over-drawl: {spec.overdrawl.policy.value}")


def _monthly(flat: Decimal | None, bands: tuple[LoadBand, ...]) -> str:
    if flat is not None:
        return f"₹{flat}/month"
    if len(bands) == 1:
        return f"₹{bands[0].rate_per_kw_month}/kW/month"
    return "; ".join(
        f"{'≤' + str(b.up_to_kw) + ' kW' if b.up_to_kw is not None else 'above'} ₹{b.rate_per_kw_month}/kW/month"
        for b in bands
    )
