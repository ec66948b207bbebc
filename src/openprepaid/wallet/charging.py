"""Provisional charging from block-load intervals as they arrive (domain.md §2 "Charging", C1, C2).

Invariants:
- Exactly once: each (meter, interval end) sets its bit in its meter-day's ``charge_day.taken_mask``
  once, ever, in the same database transaction as the money it moves (and the batch's ``charge_take``
  row records it). Re-delivered, re-read or re-pushed intervals are no-ops; a crash before commit
  leaves nothing, so the retry charges them once. An interval is identified by its end's minute.
- Each interval is charged to the account the meter served at that time, at the tariff version
  in force when it was consumed (catch-up data included), in the utility's time zone.
- Negative or implausible energies, and intervals no account or tariff can take, are held for
  review (``charge_hold``, and a ``held_mask`` bit), never billed silently; intervals of a day already
  trued up by the daily register are recorded as ``covered`` and not billed again.
- Money moves in balanced ledger transactions, one per (batch, account, local day).

Concurrency: inside a savepoint the batch reads the meter-days it touches (``FOR UPDATE`` in key
order on PostgreSQL), inserts the new ones and updates the others under a guard on the masks it
read; if another unit of work created or changed one meanwhile (unique violation, guard missed), the
savepoint is rolled back and the batch is re-sorted against what is now committed (bounded
attempts). Nothing here commits.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from itertools import islice
from operator import attrgetter, itemgetter, lt
from typing import Protocol
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from openprepaid.store.repository import charge as charge_repo
from openprepaid.store.repository import charge_bulk, charge_day
from openprepaid.store.repository.bulk_write import DuplicateKeyError
from openprepaid.store.repository.charge_day import DayMasks
from openprepaid.wallet import ledger
from openprepaid.wallet.charge_context import NO_INSTALLATION, ChargeableAccount, ChargeContext, Route
from openprepaid.wallet.errors import WalletError
from openprepaid.wallet.interval_rating import Collected, Interval, rate, usage_rows
from openprepaid.wallet.tariff import interval_local_date
from openprepaid.wallet.tariff_store import TariffCatalog

CAPTURE_PERIODS_S = (900, 1800, 3600)
_END = itemgetter(0)
_WH = itemgetter(1)
MAX_ATTEMPTS = 3


class ChargingError(WalletError):
    code = "charging_refused"


class ChargingConflictError(ChargingError):
    """Other units of work kept taking the same intervals; retry the batch later."""

    code = "charging_conflict"
    http_status = 409
    retryable = True


@dataclass(frozen=True, slots=True)
class ChargingPolicy:
    """Per utility settings (domain.md §2: each a setting, not a constant)."""

    max_load_factor_percent: int = 200  # hold an interval above 2 × sanctioned load × its length
    actor: str = "charging"
    public_holidays: frozenset[date] = frozenset()  # ToD day type ``holiday`` (wallet.utility_holidays)

    def __post_init__(self) -> None:
        if self.max_load_factor_percent < 100:
            raise ValueError("max_load_factor_percent must be at least 100")


@dataclass(frozen=True, slots=True)
class MeterIntervals:
    """One meter's block-load intervals: ``(interval end (aware), import Wh)``, any order."""

    meter_id: int
    capture_period_s: int
    intervals: Sequence[Interval]


class BlockReadingLike(Protocol):
    @property
    def meter_id(self) -> int: ...
    @property
    def interval_end_at(self) -> datetime: ...
    @property
    def import_wh(self) -> int: ...
    @property
    def capture_period_s(self) -> int: ...


@dataclass(frozen=True, slots=True)
class ChargeResult:
    batch_id: int
    charged: int  # intervals billed now
    held: int  # intervals held for review (a charge row without money)
    covered: int  # intervals of days already trued up (a charge row without money)
    unmapped: int  # intervals no installation covers (held, no charge row)
    duplicates: int  # intervals taken before: nothing done
    ledger_transactions: int
    amount_paise: int  # net debited to wallets


def group_readings(readings: Iterable[BlockReadingLike]) -> list[MeterIntervals]:
    """Flat reading rows (e.g. ``BlockReading``) -> one ``MeterIntervals`` per meter and capture period."""
    by_meter: dict[tuple[int, int], list[Interval]] = {}
    for reading in readings:
        key = (reading.meter_id, reading.capture_period_s)
        by_meter.setdefault(key, []).append((reading.interval_end_at, reading.import_wh))
    return [MeterIntervals(meter, period, intervals) for (meter, period), intervals in by_meter.items()]


Run = tuple[int, tuple[datetime, ...], list[int]]  # capture period, sorted distinct ends, their Wh
_TZINFO = attrgetter("tzinfo")


def _check(item: MeterIntervals, whs: Sequence[int]) -> None:
    if item.capture_period_s not in CAPTURE_PERIODS_S:
        raise ChargingError(f"meter {item.meter_id}: capture period {item.capture_period_s} s is not supported")
    if set(map(type, whs)) - {int}:
        bad = next(interval for interval in item.intervals if type(interval[1]) is not int)
        raise ChargingError(f"meter {item.meter_id}: interval {bad!r} needs an aware end and int Wh")


def _check_aware(meter_id: int, ends: Sequence[datetime], whs: Sequence[int]) -> None:
    if None in map(_TZINFO, ends):
        bad = next((end_at, wh) for end_at, wh in zip(ends, whs, strict=True) if end_at.tzinfo is None)
        raise ChargingError(f"meter {meter_id}: interval {bad!r} needs an aware end and int Wh")


def _merged(batch: Sequence[MeterIntervals]) -> dict[int, Run]:
    """Per meter: capture period, sorted distinct ends (the first of repeated ends kept) and their Wh.

    Meters of a batch mostly deliver the same ends (a day's intervals): a run equal to the last one
    checked (aware, strictly increasing) shares its tuple and is not checked again."""
    given: dict[int, tuple[int, list[datetime], list[int]]] = {}
    for item in batch:
        ends, whs = list(map(_END, item.intervals)), list(map(_WH, item.intervals))
        _check(item, whs)
        known = given.get(item.meter_id)
        if known is None:
            given[item.meter_id] = (item.capture_period_s, ends, whs)
        elif known[0] != item.capture_period_s:
            raise ChargingError(f"meter {item.meter_id}: two capture periods in one batch")
        else:
            known[1].extend(ends)
            known[2].extend(whs)
    merged: dict[int, Run] = {}
    last_ends: list[datetime] = []
    last_run: tuple[datetime, ...] = ()
    # Meters in id order, ends in time order: the meter-days are locked and written in key order, so two
    # batches taking overlapping meter-days wait for each other in one direction only, never in a cycle.
    for meter_id in sorted(given):
        period, ends, whs = given[meter_id]
        if not ends:
            continue
        if ends == last_ends:
            merged[meter_id] = (period, last_run, whs)
            continue
        _check_aware(meter_id, ends, whs)
        if all(map(lt, ends, islice(ends, 1, None))):
            last_ends, last_run = ends, tuple(ends)
            merged[meter_id] = (period, last_run, whs)
            continue
        first: dict[datetime, int] = {}
        for end_at, wh in zip(ends, whs, strict=True):
            first.setdefault(end_at, wh)
        pairs = sorted(first.items(), key=_END)
        merged[meter_id] = (period, tuple(end_at for end_at, _ in pairs), [wh for _, wh in pairs])
    return merged


def charge_intervals(
    session: Session,
    batch: Sequence[MeterIntervals],
    *,
    catalog: TariffCatalog,
    policy: ChargingPolicy,
    now: datetime,
) -> ChargeResult:
    """Charge a batch of block-load intervals (many meters, any days) with few round trips."""
    merged = _merged(batch)
    batch_id = charge_repo.new_batch(session, created_at=now, actor=policy.actor)
    context = ChargeContext(session, catalog, merged, holidays=policy.public_holidays)
    for _ in range(MAX_ATTEMPTS):
        try:
            with session.begin_nested():
                result = _charge(session, merged, context=context, policy=policy, batch_id=batch_id, now=now)
        except DuplicateKeyError:
            continue  # another unit of work took some of these keys since we looked: look again
        charge_repo.finish_batch(
            session,
            batch_id,
            charged_count=result.charged,
            held_count=result.held,
            covered_count=result.covered,
            ledger_transaction_count=result.ledger_transactions,
            amount_paise=result.amount_paise,
        )
        return result
    raise ChargingConflictError(f"batch {batch_id}: intervals kept being taken concurrently; retry later")


def _charge(
    session: Session,
    merged: dict[int, Run],
    *,
    context: ChargeContext,
    policy: ChargingPolicy,
    batch_id: int,
    now: datetime,
) -> ChargeResult:
    stored, trued_up = _already_taken(session, merged)
    collected = Collected(batch_id, now, stored=stored, trued_up=trued_up)
    for meter_id, (period, ends, whs) in merged.items():
        _collect_meter(collected, context, meter_id=meter_id, period=period, ends=ends, whs=whs, policy=policy)
    charge_day.write_takes(session, batch_id, collected.takes(), stored)
    if collected.holds:
        charge_repo.insert_holds(session, collected.holds)
    months = collected.months()
    month_to_date = charge_repo.month_to_date(session, [a for a, _ in months], [m for _, m in months])
    rated = rate(collected, month_to_date, actor=policy.actor)
    charge_bulk.add_usage_days(session, usage_rows(collected))
    charge_bulk.add_usage_months(session, rated.usage_months)
    charge_bulk.add_usage_day_zones(session, rated.usage_day_zones)
    # Last: the balances include the utility's few revenue and payable ledgers, which every batch locks;
    # locked just before the commit, they serialise concurrent batches for the shortest time.
    ledger.append_fresh(session, rated.entries, now=now)
    return ChargeResult(
        batch_id=batch_id,
        charged=collected.charged,
        held=collected.held,
        covered=collected.covered,
        unmapped=collected.unmapped,
        duplicates=collected.duplicates,
        ledger_transactions=len(rated.entries),
        amount_paise=rated.amount_paise,
    )


def _already_taken(
    session: Session, merged: dict[int, Run]
) -> tuple[dict[tuple[int, date], DayMasks], dict[int, dict[date, bool]]]:
    """The stored masks of the meter-days the batch touches (locked on PostgreSQL) and, per meter, the
    local days around them that already have usage (``True``: trued up, later intervals are covered)."""
    if not merged:
        return {}, {}
    first = min(ends[0] for _, ends, _ in merged.values())
    last = max(ends[-1] for _, ends, _ in merged.values())
    meters = list(merged)
    stored = charge_day.day_masks(session, meters, first.astimezone(UTC).date(), last.astimezone(UTC).date(), lock=True)
    days = charge_repo.seen_meter_days(
        session, meters, (first - timedelta(days=1)).date(), (last + timedelta(days=1)).date()
    )
    trued_up: dict[int, dict[date, bool]] = {}
    for (meter_id, local_date), closed in days.items():
        trued_up.setdefault(meter_id, {})[local_date] = closed
    return stored, trued_up


def _collect_meter(
    collected: Collected,
    context: ChargeContext,
    *,
    meter_id: int,
    period: int,
    ends: tuple[datetime, ...],
    whs: list[int],
    policy: ChargingPolicy,
) -> None:
    routes = context.routes(meter_id)
    if len(routes) == 1 and routes[0].covers(ends[0]) and routes[0].covers(ends[-1]):
        parts: list[tuple[Route | None, tuple[datetime, ...], list[int]]] = [(routes[0], ends, whs)]
    else:
        buckets: dict[int, tuple[list[datetime], list[int]]] = {}
        for end_at, wh in zip(ends, whs, strict=True):
            index = next((i for i, route in enumerate(routes) if route.covers(end_at)), -1)
            bucket = buckets.setdefault(index, ([], []))
            bucket[0].append(end_at)
            bucket[1].append(wh)
        parts = [(routes[i] if i >= 0 else None, tuple(e), w) for i, (e, w) in buckets.items()]
    for route, part_ends, part_whs in parts:
        target = route.target if route is not None else NO_INSTALLATION
        if isinstance(target, ChargeableAccount):
            limit = target.limit_wh(period, policy.max_load_factor_percent)
            collected.take(meter_id, part_ends, part_whs, target=target, limit_wh=limit)
            continue
        account_id = route.account_id if route is not None else None
        zone = ZoneInfo(context.accounts[account_id].timezone) if account_id in context.accounts else None
        local_dates = [interval_local_date(end.astimezone(zone)) if zone else end.date() for end in part_ends]
        collected.hold_all(
            meter_id,
            list(zip(part_ends, part_whs, strict=True)),
            account_id=account_id,
            reason=target,
            local_dates=local_dates,
        )


def charge_stored_readings(
    session: Session,
    *,
    catalog: TariffCatalog,
    policy: ChargingPolicy,
    now: datetime,
    after: datetime,
    until: datetime,
    limit: int = 100_000,
) -> ChargeResult | None:
    """The catch-up sweep: charge stored block-load readings (``reading_block``) that have neither a
    charge row nor a hold, e.g. after the wallet was down while the HES kept storing readings.
    ``None`` when there is nothing to charge; call again while it returns a full page."""
    rows = charge_repo.uncharged_block_readings(session, after=after, until=until, limit=limit)
    if not rows:
        return None
    by_meter: dict[tuple[int, int], list[Interval]] = {}
    for meter_id, end_at, wh, period in rows:
        by_meter.setdefault((meter_id, period), []).append((end_at, wh))
    batch = [MeterIntervals(meter, period, intervals) for (meter, period), intervals in by_meter.items()]
    return charge_intervals(session, batch, catalog=catalog, policy=policy, now=now)
