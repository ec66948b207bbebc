"""What a virtual meter reads: instantaneous values, block intervals, daily and billing entries.

Values are raw integers in the catalogue's scaler and unit (IS 15959 scaler profiles): volts with
scaler -2 (centivolts), amperes -3 (milliamperes), power factor -3, frequency -2, power in W,
energy in Wh / VAh / varh, durations in minutes; times are local meter seconds. Rows are dicts
keyed by ``column_key`` so that any profile's capture columns can be filled from them.

Instantaneous power is constant within a 15-minute slot (the slot's energy over its length), so
the limiter, the registers and the block profile see the same load. Signed power factor is
negative while exporting and 1.000 with no load. A block interval's average voltage is taken
over the time the meter was powered; its average current is the interval's average apparent
power over that voltage.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

from openprepaid.meters.catalogue import CLOCK, DISCONNECT_CONTROL, EXTENDED_REGISTER, LIMITER, lookup
from openprepaid.meters.profiles import CaptureColumn, event_snapshot_quantities
from openprepaid.simulator.load_model import DAY_S, SLOT_S, DayEnergy, frequency_chz, slot_voltage_cv

if TYPE_CHECKING:
    from openprepaid.simulator.virtual_meter import VirtualMeter

_PHASES = ("_r", "_y", "_b")


def column_key(column: CaptureColumn) -> str:
    """The key under which a row dict holds the value of a capture column."""
    if column.class_id == CLOCK:
        return "clock"
    if column.obis.startswith("0.0.96.11."):
        return "event_code"
    if column.class_id == DISCONNECT_CONTROL:
        return "relay_output"
    if column.class_id == LIMITER:
        return "limiter_threshold"
    quantity = lookup(column.obis).quantity
    if column.class_id == EXTENDED_REGISTER and column.attribute == 5:
        return f"{quantity}_time"
    return quantity


@dataclass(frozen=True, slots=True)
class Instant:
    voltage_cv: tuple[int, ...]  # per phase
    current_ma: tuple[int, ...]  # per phase
    pf_milli: tuple[int, ...]  # per phase, signed
    pf_total: int
    frequency_chz: int
    apparent_va: int
    active_w: int


def _per_phase_current(meter: VirtualMeter, apparent_va: int, voltages: tuple[int, ...]) -> tuple[int, ...]:
    if len(voltages) == 1:
        return (apparent_va * 100_000 // voltages[0] if voltages[0] else 0,)
    return tuple(
        int(apparent_va * share * 100_000 / v) if v else 0
        for share, v in zip(meter.params.phase_shares, voltages, strict=True)
    )


def _voltages(meter: VirtualMeter, slot_lt: int) -> tuple[int, ...]:
    base = slot_voltage_cv(meter.params, slot_lt // SLOT_S, (slot_lt % DAY_S) / 3600)
    if meter.meter_type.phases == 1:
        return (base,)
    return tuple(base + off for off in meter.params.phase_offsets_cv)


def instant(meter: VirtualMeter) -> Instant:
    """The meter's instantaneous values at its present time."""
    lt = meter.lived_lt
    phases = meter.meter_type.phases
    if not meter.powered:
        zeros = (0,) * phases
        return Instant(zeros, zeros, (1000,) * phases, 1000, 0, 0, 0)
    slot_lt = lt - lt % SLOT_S
    voltages = _voltages(meter, slot_lt)
    if meter.output_state:
        energy = meter.day(lt // DAY_S)
        j = (lt % DAY_S) // SLOT_S
        per_hour = 3600 // SLOT_S
        p_import = energy.import_wh[j] * per_hour
        p_export = energy.export_wh[j] * per_hour
        apparent = energy.import_vah[j] * per_hour + p_export
        pf = energy.pf_milli(j) if p_import else (-1000 if p_export else 1000)
    else:
        p_import = p_export = apparent = 0
        pf = 1000
    return Instant(
        voltages,
        _per_phase_current(meter, apparent, voltages),
        (pf,) * phases,
        pf,
        frequency_chz(lt // 60),
        apparent,
        p_import - p_export,
    )


def _phase_values(prefix: str, values: tuple[int, ...]) -> dict[str, int]:
    if len(values) == 1:
        return {prefix: values[0]}
    return {prefix + suffix: v for suffix, v in zip(_PHASES, values, strict=True)}


def present_values(meter: VirtualMeter, *, with_block: bool = True) -> dict[str, int]:
    """Every register and counter quantity at the present time, raw (see module docstring).

    ``with_block`` adds the block-load quantities of the last completed capture period.
    """
    now = instant(meter)
    imp, exp, vah, exp_vah, lag, powered_s = meter.registers()
    values = {
        **_phase_values("voltage", now.voltage_cv),
        **_phase_values("current", now.current_ma),
        **_phase_values("pf", now.pf_milli),
        "pf": now.pf_total,
        "neutral_current": now.current_ma[0],
        "frequency": now.frequency_chz,
        "apparent_power": now.apparent_va,
        "active_power": now.active_w,
        "import_wh": imp,
        "export_wh": exp,
        "import_vah": vah,
        "export_vah": exp_vah,
        "lag_varh": lag,
        "lead_varh": 0,
        "md_w": meter.md_w,
        "md_w_time": meter.md_w_lt,
        "md_va": meter.md_va,
        "md_va_time": meter.md_va_lt,
        "power_on_minutes": powered_s // 60,
        "billing_power_on_minutes": (powered_s - meter.bill_powered0) // 60,
        "billing_date": meter.last_billing_lt,
        "billing_avg_pf": _avg_pf(imp - meter.bill_wh0, vah - meter.bill_vah0),
        "tamper_count": meter.tamper_count,
        "billing_count": meter.billing_count,
        "programming_count": meter.programming_count,
        "clock": meter.clock_now_lt(),
        "relay_output": int(meter.output_state),
        "limiter_threshold": meter.limiter.threshold_normal_w if meter.limiter is not None else 0,
    }
    last_block = last_block_end(meter) if with_block else None
    if last_block is not None:
        values.update(block_values(meter, last_block))
    return values


def _avg_pf(wh: int, vah: int) -> int:
    return wh * 1000 // vah if vah else 1000


def event_snapshot(meter: VirtualMeter) -> tuple[int, ...]:
    """Raw values of the event-log snapshot columns (current, voltage, PF, kWh, tamper count) now."""
    now = instant(meter)
    return (*now.current_ma, *now.voltage_cv, *now.pf_milli, meter.registers()[0], meter.tamper_count)


def event_snapshot_keys(phases: int) -> tuple[str, ...]:
    return event_snapshot_quantities(phases)


# -- block load ------------------------------------------------------------------------------------


def block_first_end(meter: VirtualMeter) -> int:
    """The end of the first interval the block load buffer can hold (after a reset or the start)."""
    period = meter.capture_period_s
    return (meter.block_start_lt // period + 1) * period


def last_block_end(meter: VirtualMeter) -> int | None:
    period = meter.capture_period_s
    last = meter.slot_lt - meter.slot_lt % period
    return last if last >= block_first_end(meter) else None


def block_values(meter: VirtualMeter, end_lt: int, cache: dict[int, DayEnergy] | None = None) -> dict[str, int]:
    """The block-load quantities of the interval ending at ``end_lt`` (which must be committed)."""
    period = meter.capture_period_s
    imp = exp = vah = lag = 0
    powered_total = 0
    weighted = [0, 0, 0]
    for slot in range(end_lt - period, end_lt, SLOT_S):
        day = slot // DAY_S
        energy = cache.get(day) if cache is not None else None
        if energy is None:
            energy = meter.day(day)
            if cache is not None:
                cache[day] = energy
        s_imp, s_exp, s_vah, s_lag, powered = meter.slot_measured(slot, energy)
        imp += s_imp
        exp += s_exp
        vah += s_vah
        lag += s_lag
        if powered:
            powered_total += powered
            for k, v in enumerate(_voltages(meter, slot)):
                weighted[k] += v * powered
    phases = meter.meter_type.phases
    voltages = tuple(w // powered_total if powered_total else 0 for w in weighted[:phases])
    average_va = (vah + exp) * 3600 // period
    currents = _per_phase_current(meter, average_va, voltages)
    return {
        **_phase_values("block_voltage", voltages),
        **_phase_values("block_current", currents),
        "block_import_wh": imp,
        "block_export_wh": exp,
        "block_import_vah": vah,
        "block_export_vah": exp,
        "block_lag_varh": lag,
        "block_lead_varh": 0,
        "clock": end_lt,
    }


def block_rows(meter: VirtualMeter, first_end: int, last_end: int) -> Iterator[dict[str, int]]:
    """Block-load rows for interval ends first_end..last_end (inclusive), computing each day once."""
    cache: dict[int, DayEnergy] = {}
    for end in range(first_end, last_end + 1, meter.capture_period_s):
        yield block_values(meter, end, cache)
        if len(cache) > 2:
            cache.pop(min(cache))


# -- daily load and billing ------------------------------------------------------------------------

DAILY_KEYS = ("clock", "import_wh", "import_vah", "export_wh", "export_vah", "lag_varh")
BILLING_KEYS = (
    "billing_date",
    "billing_avg_pf",
    "import_wh",
    "import_vah",
    "md_w",
    "md_w_time",
    "md_va",
    "md_va_time",
    "billing_power_on_minutes",
    "export_wh",
    "export_vah",
    "lag_varh",
    "lead_varh",
)


def daily_row(meter: VirtualMeter, i: int) -> dict[str, int]:
    """The i-th (0-based) daily snapshot."""
    stride = len(DAILY_KEYS)
    values = dict(zip(DAILY_KEYS, meter.daily[i * stride : (i + 1) * stride], strict=True))
    values["lead_varh"] = 0
    return values


def billing_row(meter: VirtualMeter, i: int) -> dict[str, int]:
    stride = len(BILLING_KEYS)
    return dict(zip(BILLING_KEYS, meter.billing[i * stride : (i + 1) * stride], strict=True))
