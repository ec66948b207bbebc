"""Provisional charging from block-load intervals as they arrive (domain.md §2 "Charging", C1, C2).

Invariants:
- Exactly once: each (meter, interval end) gets one ``charge_interval`` row, ever, written in the
  same database transaction as the money it moves. Re-delivered, re-read or re-pushed intervals
  are no-ops; a crash before commit leaves nothing, so the retry charges them once.
- Each interval is charged to the account the meter served at that time, at the tariff version
  in force when it was consumed (catch-up data included), in the utility's time zone.
- Negative or implausible energies, and intervals no account or tariff can take, are held for
  review (``charge_hold``), never billed silently; intervals of a day already trued up by the daily
  register are recorded as ``covered`` and not billed again.
- Money moves in balanced ledger transactions, one per (batch, account, local day).

Concurrency: the batch takes its keys optimistically inside a savepoint; if another unit of work
took one of them meanwhile (unique violation), the savepoint is rolled back and the batch is
re-sorted against what is now committed (bounded attempts). Nothing here commits.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from operator import itemgetter
from typing import Protocol
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from openprepaid.store.repository import charge as charge_repo
from openprepaid.store.repository import charge_bulk
from openprepaid.store.repository.bulk_write import DuplicateKeyError
from openprepaid.wallet import ledger
from openprepaid.wallet.charge_context import NO_INSTALLATION, ChargeableAccount, ChargeContext, Route
from openprepaid.wallet.errors import WalletError
from openprepaid.wallet.interval_rating import Collected, Interval, rate, usage_rows
from openprepaid.wallet.tariff import interval_local_date
from openprepaid.wallet.tariff_store import TariffCatalog

CAPTURE_PERIODS_S = (900, 1800, 3600)
_END = itemgetter(0)
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


def _merged(batch: Sequence[MeterIntervals]) -> dict[int, tuple[int, list[Interval]]]:
    """Per meter: capture period and its intervals, the first of repeated interval ends kept."""
    merged: dict[int, tuple[int, list[Interval]]] = {}
    for item in batch:
        if item.capture_period_s not in CAPTURE_PERIODS_S:
            raise ChargingError(f"meter {item.meter_id}: capture period {item.capture_period_s} s is not supported")
        for end_at, wh in item.intervals:
            if end_at.tzinfo is None or type(wh) is not int:
                raise ChargingError(
                    f"meter {item.meter_id}: interval ({end_at!r}, {wh!r}) needs an aware end and int Wh"
                )
        known = merged.get(item.meter_id)
        if known is None:
            merged[item.meter_id] = (item.capture_period_s, list(item.intervals))
        elif known[0] != item.capture_period_s:
            raise ChargingError(f"meter {item.meter_id}: two capture periods in one batch")
        else:
            known[1].extend(item.intervals)
    for meter_id, (period, given) in merged.items():
        intervals = given
        if len(set(map(_END, given))) != len(given):
            first: dict[datetime, int] = {}
            for end_at, wh in given:
                first.setdefault(end_at, wh)
            intervals = list(first.items())
        intervals.sort(key=_END)  # (already sorted: linear) key order keeps concurrent batches deadlock-free
        merged[meter_id] = (period, intervals)
    # Charge rows are inserted in (meter, interval end) order: two batches taking overlapping keys wait
    # for each other in one direction only, never in a cycle.
    return {meter_id: merged[meter_id] for meter_id in sorted(merged)}


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
    context = ChargeContext(session, catalog, merged)
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
    merged: dict[int, tuple[int, list[Interval]]],
    *,
    context: ChargeContext,
    policy: ChargingPolicy,
    batch_id: int,
    now: datetime,
) -> ChargeResult:
    seen, existing = _already_taken(session, merged)
    collected = Collected(batch_id, now)
    for meter_id, (period, intervals) in merged.items():
        _collect_meter(
            collected,
            context,
            meter_id=meter_id,
            period=period,
            intervals=intervals,
            seen=seen.get(meter_id),
            existing=existing,
            policy=policy,
        )
    charge_bulk.insert_charge_intervals(session, collected.rows)
    if collected.holds:
        charge_repo.insert_holds(session, collected.holds)
    month_to_date = charge_repo.month_to_date(
        session, [a for a, _ in collected.months()], [m for _, m in collected.months()]
    )
    rated = rate(collected, month_to_date, actor=policy.actor)
    ledger.append_fresh(session, rated.entries, now=now)
    charge_bulk.add_usage_days(session, usage_rows(collected))
    charge_bulk.add_usage_months(session, rated.usage_months)
    charged = len(collected.rows) - collected.held - collected.covered
    return ChargeResult(
        batch_id=batch_id,
        charged=charged,
        held=collected.held,
        covered=collected.covered,
        unmapped=collected.unmapped,
        duplicates=collected.duplicates,
        ledger_transactions=len(rated.entries),
        amount_paise=rated.amount_paise,
    )


def _already_taken(
    session: Session, merged: dict[int, tuple[int, list[Interval]]]
) -> tuple[dict[int, dict[date, bool]], set[tuple[int, datetime]]]:
    """Meter-days that already have charge rows (with their trued-up flag) and, for those meters only,
    the interval keys taken: a first delivery of a day costs one cheap query, not a lookup per interval."""
    spans = [(intervals[0][0], intervals[-1][0]) for _, intervals in merged.values() if intervals]
    if not spans:
        return {}, set()
    first, last = min(span[0] for span in spans), max(span[1] for span in spans)
    days = charge_repo.seen_meter_days(
        session, list(merged), (first - timedelta(days=1)).date(), (last + timedelta(days=1)).date()
    )
    seen: dict[int, dict[date, bool]] = {}
    for (meter_id, local_date), trued_up in days.items():
        seen.setdefault(meter_id, {})[local_date] = trued_up
    existing = (
        charge_repo.existing_interval_keys(session, list(seen), first - timedelta(seconds=1), last) if seen else set()
    )
    return seen, existing


def _collect_meter(
    collected: Collected,
    context: ChargeContext,
    *,
    meter_id: int,
    period: int,
    intervals: list[Interval],
    seen: dict[date, bool] | None,
    existing: set[tuple[int, datetime]],
    policy: ChargingPolicy,
) -> None:
    routes = context.routes(meter_id)
    first, last = intervals[0][0], intervals[-1][0]  # sorted by ``_merged``
    if len(routes) == 1 and routes[0].covers(first) and routes[0].covers(last):
        parts: list[tuple[Route | None, list[Interval]]] = [(routes[0], intervals)]
    else:
        buckets: dict[int, list[Interval]] = {}
        for interval in intervals:
            index = next((i for i, route in enumerate(routes) if route.covers(interval[0])), -1)
            buckets.setdefault(index, []).append(interval)
        parts = [(routes[i] if i >= 0 else None, part) for i, part in buckets.items()]
    for route, part in parts:
        target = route.target if route is not None else NO_INSTALLATION
        if isinstance(target, ChargeableAccount):
            limit = target.limit_wh(period, policy.max_load_factor_percent)
            collected.take(meter_id, part, target=target, limit_wh=limit, seen=seen, existing=existing)
            continue
        account_id = route.account_id if route is not None else None
        zone = ZoneInfo(context.accounts[account_id].timezone) if account_id in context.accounts else None
        local_dates = [interval_local_date(end.astimezone(zone)) if zone else end.date() for end, _ in part]
        collected.hold_all(
            meter_id,
            part,
            account_id=account_id,
            reason=target,
            local_dates=local_dates,
            existing=existing,
            encode_end=context.encode_end,
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
