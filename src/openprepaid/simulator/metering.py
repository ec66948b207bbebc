"""The metrology of a virtual IS 15959 meter: its clock, cumulative registers and snapshots.

A meter lives on its own clock, in local seconds (``lt``: meter UTC seconds + its offset).
``_live_until`` closes every 15-minute slot on the way to a time: it adds the slot's measured
energy (``supply.scaled`` of the load model's full-supply energy) to the cumulative registers,
tracks maximum demand per demand integration period, takes the daily snapshot at local midnight
and the billing snapshot at 00:00 on the 1st (IS 15959 daily load and billing profiles). Runs of
slots without anything to watch (no limiter that could act, no timed event) are closed in one
batch per day. The block load profile is not stored: ``readings`` recomputes any interval from
the same integers the registers summed, so the sum of block intervals between two midnights
equals the daily register delta (domain.md §2).

``MeterCore`` has hooks a meter with a relay overrides: the next timed event (``_next_internal_lt``),
firing it (``_fire_internal``), whether slots must be watched one by one (``_limiter_idle``) and
what the limiter sees at a slot boundary (``_observe_power``).
"""

from __future__ import annotations

import math
from array import array
from itertools import accumulate

from openprepaid.meters.meter_types import MeterType
from openprepaid.simulator import supply as sp
from openprepaid.simulator.clock import MeterClock, to_datetime
from openprepaid.simulator.load_model import DAY_S, SLOT_S, DayEnergy, LoadParams, day_energy

DAILY_STRIDE = 6  # lt, import Wh, import VAh, export Wh, export VAh, lag varh
#: billing date, avg PF, import Wh, import VAh, MD W, its time, MD VA, its time, power-on min, export Wh,
#: export VAh, lag varh, lead varh
BILLING_STRIDE = 13
NEVER = 1 << 62


def _month_start(lt: int) -> bool:
    return to_datetime(lt).day == 1


class MeterCore:
    """Clock, registers, demand, daily and billing snapshots of one meter (see the module docstring)."""

    __slots__ = (
        "_day_cache",
        "_true_s",
        "bill_powered0",
        "bill_vah0",
        "bill_wh0",
        "billing",
        "billing_count",
        "block_start_lt",
        "born_lt",
        "capture_period_s",
        "clock",
        "daily",
        "dip_s",
        "dip_vah",
        "dip_wh",
        "exp_vah",
        "exp_wh",
        "imp_vah",
        "imp_wh",
        "index",
        "lag_varh",
        "last_billing_lt",
        "lived_lt",
        "md_va",
        "md_va_lt",
        "md_w",
        "md_w_lt",
        "meter_type",
        "params",
        "powered_s",
        "serial",
        "slot_lt",
        "supply",
        "tz_s",
    )

    def __init__(
        self,
        index: int,
        serial: str,
        meter_type: MeterType,
        params: LoadParams,
        born_true_s: int,
        *,
        tz_offset_s: int,
        clock: MeterClock | None,
        initial_import_wh: int,
    ) -> None:
        if tz_offset_s % SLOT_S:
            raise ValueError("the meter's UTC offset must be a whole number of 15-minute slots")
        self.index = index
        self.serial = serial
        self.meter_type = meter_type
        self.params = params
        self.tz_s = tz_offset_s
        self.clock = clock if clock is not None else MeterClock(anchor_true_s=born_true_s)
        self._true_s = born_true_s
        born = self.clock.meter_time(born_true_s) + tz_offset_s
        born -= born % SLOT_S
        self.born_lt = self.lived_lt = self.slot_lt = self.block_start_lt = self.last_billing_lt = born
        self.capture_period_s = meter_type.capture_period_s
        self.dip_s = meter_type.demand_integration_period_s
        self.imp_wh = initial_import_wh
        self.imp_vah = initial_import_wh * 1000 // params.pf_milli
        self.lag_varh = math.isqrt(self.imp_vah**2 - self.imp_wh**2)
        self.exp_wh = self.exp_vah = 0
        self.powered_s = 0
        self.md_w = self.md_va = 0
        self.md_w_lt = self.md_va_lt = born
        self.dip_wh = self.dip_vah = 0
        self.bill_wh0, self.bill_vah0, self.bill_powered0 = self.imp_wh, self.imp_vah, 0
        self.daily = array("q")
        self.billing = array("q")  # flat, BILLING_STRIDE values per entry: a tuple of ints would cost 5x
        self.billing_count = 0
        self._day_cache: DayEnergy | None = None
        self.supply = sp.SupplyTimeline()
        if born % DAY_S == 0:
            self.daily.extend((born, self.imp_wh, self.imp_vah, self.exp_wh, self.exp_vah, self.lag_varh))

    # -- hooks ------------------------------------------------------------------------------------

    def _next_internal_lt(self) -> int:
        return NEVER

    def _fire_internal(self, lt: int) -> None:
        """Run the timed events due at ``lt``; each must clear itself or the loop would not end."""

    def _limiter_idle(self, lt: int) -> bool:
        return True

    def _observe_power(self, lt: int) -> None:
        """A slot starts at ``lt``."""

    # -- time -------------------------------------------------------------------------------------

    @property
    def true_s(self) -> int:
        """The simulated true time the meter was last advanced to."""
        return self._true_s

    def local_time(self, true_s: int) -> int:
        return self.clock.meter_time(true_s) + self.tz_s

    def true_time_of(self, lt: int) -> int:
        return self.clock.true_time(lt - self.tz_s)

    def clock_now_lt(self) -> int:
        """What the meter's clock reads now (may be behind ``lived_lt`` after a backward setting)."""
        return self.local_time(self._true_s)

    def stamp_lt(self) -> int:
        """The time an event happening now is recorded at: what the clock reads, which is the time
        lived except after the clock was set back (then the clock is behind what was lived)."""
        return min(self.lived_lt, self.clock_now_lt())

    # -- energy accounting ------------------------------------------------------------------------

    def day(self, day: int) -> DayEnergy:
        """Full-supply slot energies of a local day (the current day is cached)."""
        cached = self._day_cache
        if cached is not None and cached.day == day:
            return cached
        energy = day_energy(self.params, day)
        if self.slot_lt // DAY_S <= day:
            self._day_cache = energy
        return energy

    def _live_until(self, target: int) -> None:
        while True:
            start = self.slot_lt
            boundary = start + SLOT_S
            nxt = self._next_internal_lt()
            if boundary <= target and boundary <= nxt:
                if self._limiter_idle(start):
                    self._close_slots(min(target, nxt, start - start % DAY_S + DAY_S))
                else:
                    self._close_slots(boundary)
                continue
            if nxt <= target:
                self.lived_lt = max(self.lived_lt, nxt)
                self._fire_internal(nxt)
                continue
            self.lived_lt = max(self.lived_lt, target)
            return

    def slot_measured(self, slot_lt: int, energy: DayEnergy | None = None) -> tuple[int, int, int, int, int]:
        """(import Wh, export Wh, import VAh, lag varh, powered s) measured in the slot starting at ``slot_lt``.

        ``energy`` is that day's ``DayEnergy`` when the caller already has it.
        """
        if energy is None:
            energy = self.day(slot_lt // DAY_S)
        j = (slot_lt % DAY_S) // SLOT_S
        end = slot_lt + SLOT_S
        if self.supply.quiet(slot_lt, end):
            supplied = powered = SLOT_S
        else:
            supplied = SLOT_S - self.supply.covered(slot_lt, end)
            powered = SLOT_S - self.supply.covered(slot_lt, end, sp.UNPOWERED)
        lag = energy.lag_varh(j) if self.meter_type.phases == 3 else 0
        return (
            sp.scaled(energy.import_wh[j], supplied, SLOT_S),
            sp.scaled(energy.export_wh[j], supplied, SLOT_S),
            sp.scaled(energy.import_vah[j], supplied, SLOT_S),
            sp.scaled(lag, supplied, SLOT_S),
            powered,
        )

    def _close_slots(self, until: int) -> None:
        """Close every slot of the current day that ends at or before ``until``; commit its energy."""
        start = self.slot_lt
        n = (until - start) // SLOT_S
        energy = self.day(start // DAY_S)
        j0 = (start % DAY_S) // SLOT_S
        end = start + n * SLOT_S
        lo, hi = self.supply.touched(start, end, SLOT_S)  # only slots [lo, hi) need one-by-one measuring
        k_lo, k_hi = (lo - start) // SLOT_S, (hi - start) // SLOT_S
        imp: list[int] = list(energy.import_wh[j0 : j0 + k_lo])
        exp: list[int] = list(energy.export_wh[j0 : j0 + k_lo])
        vah: list[int] = list(energy.import_vah[j0 : j0 + k_lo])
        lag = powered = 0
        for slot in range(lo, hi, SLOT_S):
            s_imp, s_exp, s_vah, s_lag, s_powered = self.slot_measured(slot, energy)
            imp.append(s_imp)
            exp.append(s_exp)
            vah.append(s_vah)
            lag += s_lag
            powered += s_powered
        imp.extend(energy.import_wh[j0 + k_hi : j0 + n])
        exp.extend(energy.export_wh[j0 + k_hi : j0 + n])
        vah.extend(energy.import_vah[j0 + k_hi : j0 + n])
        powered += (n - (k_hi - k_lo)) * SLOT_S
        if self.meter_type.phases == 3:
            quiet_slots = [*range(j0, j0 + k_lo), *range(j0 + k_hi, j0 + n)]
            lag += sum(energy.lag_varh(j) for j in quiet_slots)
        acc_imp = [0, *accumulate(imp)]
        acc_app = [0, *accumulate(vah)]
        acc_exp = [0, *accumulate(exp)]
        self.imp_wh += acc_imp[-1]
        self.exp_wh += acc_exp[-1]
        self.imp_vah += acc_app[-1]
        self.exp_vah += acc_exp[-1]
        self.lag_varh += lag
        self.powered_s += powered
        self._integrate_demand(start - j0 * SLOT_S, j0, n, (acc_imp, acc_app, acc_exp))
        self.slot_lt = end
        self.lived_lt = max(self.lived_lt, end)
        if end % DAY_S == 0:
            self._midnight(end)
        self._observe_power(end)

    def _integrate_demand(self, day_start: int, j0: int, n: int, sums: tuple[list[int], list[int], list[int]]) -> None:
        """Add slots j0..j0+n of a day to the demand integration periods, closing those that end.

        ``sums`` are running totals (from 0) of import Wh, import VAh and export Wh over those slots.
        """
        acc_imp, acc_app, acc_exp = sums
        per = self.dip_s // SLOT_S
        k = min(n, -j0 % per)  # slots that complete the period already open
        if k:
            self.dip_wh += acc_imp[k]
            self.dip_vah += acc_app[k] + acc_exp[k]
            if (j0 + k) % per == 0:
                self._close_demand_periods(day_start + (j0 + k) * SLOT_S - self.dip_s, [self.dip_wh], [self.dip_vah])
                self.dip_wh = self.dip_vah = 0
        full_end = k + (n - k) // per * per
        if full_end > k:
            ends = range(k + per, full_end + 1, per)
            self._close_demand_periods(
                day_start + (j0 + k) * SLOT_S,
                [acc_imp[e] - acc_imp[e - per] for e in ends],
                [acc_app[e] - acc_app[e - per] + acc_exp[e] - acc_exp[e - per] for e in ends],
            )
        if full_end < n:
            self.dip_wh += acc_imp[n] - acc_imp[full_end]
            self.dip_vah += acc_app[n] - acc_app[full_end] + acc_exp[n] - acc_exp[full_end]

    def _close_demand_periods(self, first_start: int, wh: list[int], vah: list[int]) -> None:
        """Update maximum demand from consecutive whole periods starting at ``first_start``."""
        factor = 3600 // self.dip_s
        best_wh, best_vah = max(wh), max(vah)
        if best_wh * factor > self.md_w:
            self.md_w = best_wh * factor
            self.md_w_lt = first_start + (wh.index(best_wh) + 1) * self.dip_s
        if best_vah * factor > self.md_va:
            self.md_va = best_vah * factor
            self.md_va_lt = first_start + (vah.index(best_vah) + 1) * self.dip_s

    def _midnight(self, lt: int) -> None:
        self.daily.extend((lt, self.imp_wh, self.imp_vah, self.exp_wh, self.exp_vah, self.lag_varh))
        excess = len(self.daily) - self.meter_type.daily_entries * DAILY_STRIDE
        if excess > 0:
            del self.daily[:excess]
        if _month_start(lt):
            self._bill(lt)
        self.supply.prune(lt - (self.meter_type.block_load_days + 1) * DAY_S)

    def _bill(self, lt: int) -> None:
        wh = self.imp_wh - self.bill_wh0
        vah = self.imp_vah - self.bill_vah0
        avg_pf = wh * 1000 // vah if vah else 1000
        power_on_min = (self.powered_s - self.bill_powered0) // 60
        self.billing.extend(
            (
                lt,
                avg_pf,
                self.imp_wh,
                self.imp_vah,
                self.md_w,
                self.md_w_lt,
                self.md_va,
                self.md_va_lt,
                power_on_min,
                self.exp_wh,
                self.exp_vah,
                self.lag_varh,
                0,
            )
        )
        excess = len(self.billing) - self.meter_type.billing_entries * BILLING_STRIDE
        if excess > 0:
            del self.billing[:excess]
        self.billing_count += 1
        self.last_billing_lt = lt
        self.bill_wh0, self.bill_vah0, self.bill_powered0 = self.imp_wh, self.imp_vah, self.powered_s
        self.md_w = self.md_va = 0
        self.md_w_lt = self.md_va_lt = lt

    def partial_slot(self) -> tuple[int, int, int, int, int]:
        """What the open slot has measured so far (lived_lt inside it): added to committed registers."""
        start = self.slot_lt
        elapsed = self.lived_lt - start
        if elapsed <= 0:
            return 0, 0, 0, 0, 0
        energy = self.day(start // DAY_S)
        j = (start % DAY_S) // SLOT_S
        supplied = elapsed - self.supply.covered(start, self.lived_lt)
        powered = elapsed - self.supply.covered(start, self.lived_lt, sp.UNPOWERED)
        lag = energy.lag_varh(j) if self.meter_type.phases == 3 else 0
        return (
            energy.import_wh[j] * supplied // SLOT_S,
            energy.export_wh[j] * supplied // SLOT_S,
            energy.import_vah[j] * supplied // SLOT_S,
            lag * supplied // SLOT_S,
            powered,
        )

    def registers(self) -> tuple[int, int, int, int, int, int]:
        """Cumulative (import Wh, export Wh, import VAh, export VAh, lag varh, powered s) now."""
        imp, exp, vah, lag, powered = self.partial_slot()
        return (
            self.imp_wh + imp,
            self.exp_wh + exp,
            self.imp_vah + vah,
            self.exp_vah + exp,
            self.lag_varh + lag,
            self.powered_s + powered,
        )
