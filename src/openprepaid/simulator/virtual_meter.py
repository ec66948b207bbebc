"""One living virtual IS 15959 meter: relay, limiter, event logs, status word, pushes, faults, objects.

``VirtualMeter`` adds to the metrology of ``metering.MeterCore`` what a smart meter does: the
disconnect control (class 70) and limiter (class 71) of whole-current meters, the seven event
logs, the event status word and alert pushes, supply and tamper conditions, time setting, and the
generic COSEM object surface (``get`` / ``set`` / ``action``). ``advance(true_s)`` brings it up to
a simulated true time, running scheduled faults (``faults``) on the way.

Known simplification: when the clock is set backwards, the span the meter lives again is not
measured a second time (registers and profiles stay consistent; that energy is lost).
"""

from __future__ import annotations

import heapq
from collections.abc import Callable

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
from openprepaid.simulator.load_model import DAY_S, SLOT_S, LoadParams
from openprepaid.simulator.metering import NEVER, MeterCore
from openprepaid.simulator.object_access import ObjectDescriptor, get_attribute, object_list
from openprepaid.simulator.object_write import invoke_method, set_attribute
from openprepaid.simulator.profile_buffer import Selection
from openprepaid.simulator.push import Outbox, PushConfig, PushKind, PushNotification
from openprepaid.simulator.readings import event_snapshot

_DEFAULT_ESW_FILTER = frozenset(int(b) for b in EswBit)
_TRANSACTION_CODES = range(151, 200)

Action = Callable[["VirtualMeter", int], None]


def _esw_mask(bit: int) -> int:
    return 1 << (ESW_LENGTH - 1 - bit)


class VirtualMeter(MeterCore):
    """A virtual meter; see the module docstring. All ``*_lt`` values are local meter seconds."""

    __slots__ = (
        "_agenda",
        "_seq",
        "balance_paise",
        "control_mode",
        "control_state",
        "esw",
        "esw_filter",
        "events",
        "limiter",
        "manual_at",
        "manual_reconnect_delay_s",
        "outbox",
        "payment_mode",
        "powered",
        "programming_count",
        "push_config",
        "relay_stuck",
        "tamper_count",
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
        super().__init__(
            index,
            serial,
            meter_type,
            params,
            born_true_s,
            tz_offset_s=tz_offset_s,
            clock=clock,
            initial_import_wh=initial_import_wh,
        )
        self.outbox = outbox if outbox is not None else Outbox(1000)
        self.control_mode = control_mode if meter_type.has_relay else 0
        self.control_state = ControlState.CONNECTED
        self.relay_stuck: bool | None = None
        self.limiter = LimiterState(limiter_w) if meter_type.has_relay else None
        self.manual_reconnect_delay_s = manual_reconnect_delay_s
        self.manual_at: int | None = None
        self.powered = True
        self.esw = 0
        self.esw_filter = BitString.from_bits(ESW_LENGTH, _DEFAULT_ESW_FILTER).value
        self.tamper_count = self.programming_count = 0
        self.payment_mode = 1
        self.balance_paise = 0
        self.events: EventLogs | None = None
        self.push_config: dict[str, PushConfig] | None = None
        self._agenda: list[tuple[int, int, Action]] | None = None
        self._seq = 0

    # -- time and timed events -------------------------------------------------------------------

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
        candidates = [self.true_time_of(internal)] if internal < NEVER else []
        if self._agenda:
            candidates.append(self._agenda[0][0])
        return min(candidates) if candidates else None

    def _next_internal_lt(self) -> int:
        nxt = self.manual_at if self.manual_at is not None else NEVER
        lim = self.limiter
        if lim is not None:
            for t in (lim.trip_at, lim.reconnect_at, lim.next_emergency_edge(self.lived_lt)):
                if t is not None and t < nxt:
                    nxt = t
        return nxt

    def _limiter_idle(self, lt: int) -> bool:
        """The limiter cannot act for the rest of ``lt``'s day (no need to watch it slot by slot)."""
        lim = self.limiter
        if lim is None or not (self.powered and self.output_state):
            return True
        if lim.tripped:
            return False
        threshold = lim.threshold_active(lt)
        return threshold <= 0 or max(self.day(lt // DAY_S).import_wh) * 3600 // SLOT_S <= threshold

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
        """The readable event status word: conditions present now (magnet, neutral disturbance) and the
        latched cover opening. Relay change, last gasp and first breath are momentary: they are set
        only in the word carried by the push they cause."""
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
