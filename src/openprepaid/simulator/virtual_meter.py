"""One living virtual IS 15959 meter: registers, profiles, relay, limiter, events and pushes.

The meter lives on its own clock, in local seconds (``lt``: meter UTC seconds + its offset).
``advance(true_s)`` brings it up to a simulated true time: it closes every 15-minute slot on the
way (adding the slot's measured energy to the cumulative registers, tracking maximum demand per
demand integration period), takes the daily snapshot at local midnight and the billing snapshot
at 00:00 on the 1st (IS 15959 daily load and billing profiles), and fires its own timed events
(limiter trips, local and manual reconnection). Whole quiet days take a fast path. The block load
profile is not stored: ``readings`` recomputes any interval from the load model and the supply
timeline, the same integers the registers summed (domain.md §2: sum of block intervals between
two midnights == daily register delta).

Known simplification: when the clock is set backwards, the span the meter lives again is not
measured a second time (registers and profiles stay consistent; that energy is lost).
"""

from __future__ import annotations

import heapq
import math
from array import array
from collections.abc import Callable, Sequence
from itertools import accumulate

from openprepaid.meters import event_codes as ec
from openprepaid.meters.catalogue import ALERT_PUSH_OBIS
from openprepaid.meters.event_codes import ESW_LENGTH, EswBit, EventLog
from openprepaid.meters.meter_types import MeterType
from openprepaid.meters.profiles import SNAPSHOT_LOGS
from openprepaid.meters.values import BitString, obis_to_bytes
from openprepaid.simulator import supply as sp
from openprepaid.simulator.clock import IST_OFFSET_S, MeterClock, to_datetime
from openprepaid.simulator.disconnect_control import ControlState, Trigger, next_state
from openprepaid.simulator.event_log import EventLogs
from openprepaid.simulator.limiter import LimiterState
from openprepaid.simulator.load_model import DAY_S, SLOT_S, DayEnergy, LoadParams, day_energy
from openprepaid.simulator.object_access import ObjectDescriptor, get_attribute, object_list
from openprepaid.simulator.object_write import invoke_method, set_attribute
from openprepaid.simulator.profile_buffer import Selection
from openprepaid.simulator.push import Outbox, PushConfig, PushKind, PushNotification
from openprepaid.simulator.readings import event_snapshot

DAILY_STRIDE = 6  # lt, import Wh, import VAh, export Wh, export VAh, lag varh
_NEVER = 1 << 62
_DEFAULT_ESW_FILTER = frozenset(int(b) for b in EswBit)
_TRANSACTION_CODES = range(151, 200)

Action = Callable[["VirtualMeter", int], None]


def _esw_mask(bit: int) -> int:
    return 1 << (ESW_LENGTH - 1 - bit)


def _month_start(lt: int) -> bool:
    return to_datetime(lt).day == 1


class VirtualMeter:
    """A virtual meter; see the module docstring. All ``*_lt`` values are local meter seconds."""

    __slots__ = (
        "_agenda",
        "_day_cache",
        "_seq",
        "_true_s",
        "balance_paise",
        "bill_powered0",
        "bill_vah0",
        "bill_wh0",
        "billing",
        "billing_count",
        "block_start_lt",
        "born_lt",
        "capture_period_s",
        "clock",
        "control_mode",
        "control_state",
        "daily",
        "dip_s",
        "dip_vah",
        "dip_wh",
        "esw",
        "esw_filter",
        "events",
        "exp_vah",
        "exp_wh",
        "imp_vah",
        "imp_wh",
        "index",
        "lag_varh",
        "last_billing_lt",
        "limiter",
        "lived_lt",
        "manual_at",
        "manual_reconnect_delay_s",
        "md_va",
        "md_va_lt",
        "md_w",
        "md_w_lt",
        "meter_type",
        "outbox",
        "params",
        "payment_mode",
        "powered",
        "powered_s",
        "programming_count",
        "push_config",
        "relay_stuck",
        "serial",
        "slot_lt",
        "supply",
        "tamper_count",
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
        tz_offset_s: int = IST_OFFSET_S,
        clock: MeterClock | None = None,
        outbox: Outbox | None = None,
        initial_import_wh: int = 0,
        control_mode: int = 4,
        limiter_w: int = 0,
        manual_reconnect_delay_s: int | None = None,
    ) -> None:
        if tz_offset_s % SLOT_S:
            raise ValueError("the meter's UTC offset must be a whole number of 15-minute slots")
        self.index = index
        self.serial = serial
        self.meter_type = meter_type
        self.params = params
        self.tz_s = tz_offset_s
        self.clock = clock if clock is not None else MeterClock(anchor_true_s=born_true_s)
        self.outbox = outbox if outbox is not None else Outbox(1000)
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
        self.billing: list[tuple[int, ...]] = []
        self._day_cache: DayEnergy | None = None
        self.supply = sp.SupplyTimeline()
        self.control_mode = control_mode if meter_type.has_relay else 0
        self.control_state = ControlState.CONNECTED
        self.relay_stuck: bool | None = None
        self.limiter = LimiterState(limiter_w) if meter_type.has_relay else None
        self.manual_reconnect_delay_s = manual_reconnect_delay_s
        self.manual_at: int | None = None
        self.powered = True
        self.esw = 0
        self.esw_filter = BitString.from_bits(ESW_LENGTH, _DEFAULT_ESW_FILTER).value
        self.tamper_count = self.billing_count = self.programming_count = 0
        self.payment_mode = 1
        self.balance_paise = 0
        self.events: EventLogs | None = None
        self.push_config: dict[str, PushConfig] | None = None
        self._agenda: list[tuple[int, int, Action]] | None = None
        self._seq = 0
        if born % DAY_S == 0:
            self.daily.extend((born, self.imp_wh, self.imp_vah, self.exp_wh, self.exp_vah, self.lag_varh))

    # -- time -----------------------------------------------------------------------------------

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

    def schedule(self, true_s: int, action: Action) -> None:
        """Run ``action(meter, true_s)`` when the meter is advanced past ``true_s`` (fault injection)."""
        if self._agenda is None:
            self._agenda = []
        self._seq += 1
        heapq.heappush(self._agenda, (true_s, self._seq, action))

    def advance(self, true_s: int) -> None:
        """Live up to simulated true time ``true_s`` (earlier times are ignored)."""
        agenda = self._agenda
        while agenda and agenda[0][0] <= true_s:
            at, _, action = heapq.heappop(agenda)
            self._true_s = max(self._true_s, at)
            self._live_until(self.local_time(self._true_s))
            action(self, at)
        self._true_s = max(self._true_s, true_s)
        self._live_until(self.local_time(self._true_s))

    def next_due_true_s(self) -> int | None:
        """The true time of the next scheduled fault or internal event (for a fleet scheduler)."""
        internal = self._next_internal_lt()
        candidates = [self.true_time_of(internal)] if internal < _NEVER else []
        if self._agenda:
            candidates.append(self._agenda[0][0])
        return min(candidates) if candidates else None

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

    def _next_internal_lt(self) -> int:
        nxt = self.manual_at if self.manual_at is not None else _NEVER
        lim = self.limiter
        if lim is not None:
            for t in (lim.trip_at, lim.reconnect_at, lim.next_emergency_edge(self.lived_lt)):
                if t is not None and t < nxt:
                    nxt = t
        return nxt

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

    def _limiter_idle(self, lt: int) -> bool:
        """The limiter cannot act for the rest of ``lt``'s day (no need to watch it slot by slot)."""
        lim = self.limiter
        if lim is None or not (self.powered and self.output_state):
            return True
        if lim.tripped:
            return False
        threshold = lim.threshold_active(lt)
        return threshold <= 0 or max(self.day(lt // DAY_S).import_wh) * 3600 // SLOT_S <= threshold

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
        three_phase = self.meter_type.phases == 3
        if self.supply.quiet(start, start + n * SLOT_S):
            imp: Sequence[int] = energy.import_wh[j0 : j0 + n]
            exp: Sequence[int] = energy.export_wh[j0 : j0 + n]
            vah: Sequence[int] = energy.import_vah[j0 : j0 + n]
            lag = sum(energy.lag_varh(j) for j in range(j0, j0 + n)) if three_phase else 0
            powered = n * SLOT_S
        else:
            rows = [self.slot_measured(start + k * SLOT_S, energy) for k in range(n)]
            imp, exp, vah = [r[0] for r in rows], [r[1] for r in rows], [r[2] for r in rows]
            lag = sum(r[3] for r in rows)
            powered = sum(r[4] for r in rows)
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
        end = start + n * SLOT_S
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
        self.billing.append(
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
        if len(self.billing) > self.meter_type.billing_entries:
            del self.billing[0]
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

    # -- relay and limiter --------------------------------------------------------------------------

    @property
    def output_state(self) -> bool:
        if self.relay_stuck is not None:
            return self.relay_stuck
        return self.control_state == ControlState.CONNECTED

    def slot_power_w(self, lt: int) -> int:
        """Import power the load draws at ``lt`` when supplied (W), constant within a slot."""
        energy = self.day(lt // DAY_S)
        return energy.import_wh[(lt % DAY_S) // SLOT_S] * 3600 // SLOT_S

    def observe_power(self) -> None:
        """Re-evaluate the limiter now (after its settings changed)."""
        self._observe_power(self.lived_lt)

    def _observe_power(self, lt: int) -> None:
        """Feed the limiter the power measured from ``lt`` on; end a latched overload once under threshold."""
        lim = self.limiter
        if lim is None:
            return
        if not (self.powered and self.output_state):
            lim.clear_over()
            return
        power = self.slot_power_w(lt)
        if lim.tripped and power <= lim.threshold_active(lt):
            lim.tripped = False
            self.log_event(ec.OVERLOAD_RESTORATION)
        if not lim.tripped:
            lim.observe(power, lt)

    def apply_trigger(self, trigger: Trigger) -> bool:
        """Run a class 70 trigger now; True if it caused a transition."""
        if not self.meter_type.has_relay:
            return False
        result = next_state(self.control_mode, ControlState(self.control_state), trigger)
        if result is None:
            return False
        was_closed = self.output_state
        self.control_state = result[1]
        self.manual_at = None
        if self.control_state == ControlState.READY_FOR_RECONNECTION and self.manual_reconnect_delay_s is not None:
            self.manual_at = self.lived_lt + self.manual_reconnect_delay_s
        self.sync_output(was_closed)
        return True

    def sync_output(self, was_closed: bool) -> None:
        """Record the consequences of the relay output changing from ``was_closed``."""
        lt = self.lived_lt
        closed = self.output_state
        if closed == was_closed:
            return
        lim = self.limiter
        if closed:
            self.supply.close(sp.RELAY, lt)
            self.log_event(ec.RELAY_CONNECTED)
            if lim is not None:
                lim.reconnect_at = None
                if lim.tripped:
                    lim.tripped = False
                    self.log_event(ec.OVERLOAD_RESTORATION)
        else:
            self.supply.open(sp.RELAY, lt)
            self.log_event(ec.RELAY_DISCONNECTED)
        self.push(PushKind.RELAY_CHANGE, EswBit.RELAY_CHANGE)
        self._observe_power(lt)

    def _fire_internal(self, lt: int) -> None:
        lim = self.limiter
        if self.manual_at is not None and self.manual_at <= lt:
            self.manual_at = None
            self.apply_trigger(Trigger.MANUAL_RECONNECT)
        if lim is None:
            return
        if lim.reconnect_at is not None and lim.reconnect_at <= lt:
            lim.reconnect_at = None
            self.apply_trigger(Trigger.LOCAL_RECONNECT)
        if lim.trip_at is not None and lim.trip_at <= lt:
            lim.clear_over()
            if self.powered and self.output_state:
                lim.tripped = True
                self.log_event(ec.OVERLOAD_OCCURRENCE)
                if self.apply_trigger(Trigger.LOCAL_DISCONNECT) and self.control_mode in (5, 6):
                    lim.reconnect_at = lt + lim.min_under_s
        self._observe_power(lt)

    # -- events, status word, pushes ------------------------------------------------------------------

    def log_event(self, code: int) -> None:
        """Append ``code`` to its IS 15959 event log at the present time, with its snapshot."""
        entry = ec.lookup(code)
        if self.events is None:
            self.events = EventLogs()
        snapshot: tuple[int, ...] = ()
        if entry.log in SNAPSHOT_LOGS:
            snapshot = event_snapshot(self)
        self.events.append(entry.log, (self.stamp_lt(), code, snapshot), self.meter_type.event_log_depth(entry.log))
        if code in _TRANSACTION_CODES:
            self.programming_count += 1
        bit = entry.esw_bit
        if bit in (EswBit.MAGNET, EswBit.NEUTRAL_DISTURBANCE, EswBit.COVER_OPEN):
            if entry.restores is None:
                self.esw |= _esw_mask(bit)
                self.tamper_count += 1
                self.push(PushKind.TAMPER, bit)
            else:
                self.esw &= ~_esw_mask(bit)

    def event_codes(self, log: EventLog) -> list[int]:
        return self.events.codes(log) if self.events is not None else []

    def esw_bits(self) -> BitString:
        return BitString(self.esw, ESW_LENGTH)

    def push(self, kind: PushKind, bit: int | None, push_obis: str = ALERT_PUSH_OBIS) -> None:
        """Queue an alert push (if ``bit`` passes the ESW filter) with the push object list values."""
        if bit is not None and not self.esw_filter & _esw_mask(bit):
            return
        esw = self.esw | (_esw_mask(bit) if bit is not None else 0)
        word = BitString(esw, ESW_LENGTH)
        stamp = self.stamp_lt()
        at = to_datetime(stamp - self.tz_s, self.tz_s)
        config = self.push_config.get(push_obis) if self.push_config else None
        destination = config.destination if config is not None else self.outbox.default_destination
        values = (self.serial, obis_to_bytes(push_obis), at, word)
        self.outbox.put(
            PushNotification(
                self.index,
                self.serial,
                kind,
                push_obis,
                at,
                self.true_time_of(stamp),
                word,
                values,
                destination,
            )
        )

    # -- supply, tamper and clock faults ---------------------------------------------------------------

    def power_fail(self) -> None:
        if not self.powered:
            return
        self.log_event(ec.POWER_FAIL)
        self.push(PushKind.LAST_GASP, EswBit.LAST_GASP)
        self.powered = False
        self.supply.open(sp.OUTAGE, self.lived_lt)
        self._observe_power(self.lived_lt)

    def power_restore(self) -> None:
        if self.powered:
            return
        self.powered = True
        self.supply.close(sp.OUTAGE, self.lived_lt)
        self.log_event(ec.POWER_RESTORE)
        self.push(PushKind.FIRST_BREATH, EswBit.FIRST_BREATH)
        self._observe_power(self.lived_lt)

    def set_clock(self, meter_utc_s: int, *, log: bool = True) -> None:
        """Set the clock (time synchronisation logs RTC change 151 at the old time; a fault does not).

        Forward, the skipped span becomes a clock gap (nothing measured); backward, the meter waits
        until its clock passes what it has already lived.
        """
        if log:
            self.log_event(ec.RTC_CHANGE)
        self.clock.set(meter_utc_s, self._true_s)
        new_lt = meter_utc_s + self.tz_s
        if new_lt > self.lived_lt:
            self.supply.open(sp.CLOCK_GAP, self.lived_lt)
            self.supply.close(sp.CLOCK_GAP, new_lt)
            self._live_until(new_lt)

    def set_relay_stuck(self, stuck: bool | None) -> None:
        """Hardware fault: the load switch stays closed (True) or open (False) whatever control_state says."""
        was_closed = self.output_state
        self.relay_stuck = stuck
        self.sync_output(was_closed)

    # -- the COSEM object surface (see object_access / object_write) -------------------------------------

    def get(
        self,
        class_id: int,
        obis: str,
        attribute: int,
        selection: Selection | None = None,
        *,
        client_sap: int | None = None,
    ) -> object:
        """GET one attribute (call ``advance`` to the present first)."""
        return get_attribute(self, class_id, obis, attribute, selection=selection, client_sap=client_sap)

    def set(self, class_id: int, obis: str, attribute: int, value: object, *, client_sap: int | None = None) -> None:
        """SET one attribute (call ``advance`` to the present first)."""
        set_attribute(self, class_id, obis, attribute, value, client_sap=client_sap)

    def action(
        self, class_id: int, obis: str, method: int, params: object = None, *, client_sap: int | None = None
    ) -> object:
        """ACTION on one method (call ``advance`` to the present first); returns its return data."""
        return invoke_method(self, class_id, obis, method, params, client_sap=client_sap)

    def object_list(self) -> tuple[ObjectDescriptor, ...]:
        return object_list(self.meter_type)
