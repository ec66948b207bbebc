"""Review of readings held instead of billed: release (bill, possibly with a corrected energy) or reject.

Invariants: a hold is resolved once (``open -> released | rejected``, guarded in the UPDATE);
releasing a block interval bills it exactly once (its ``charge_day.held_mask`` bit is cleared, under
the mask guard, in the same database transaction as the money, and the releasing batch's
``charge_take`` row names it in ``released_mask``); a rejected interval keeps its held bit and can
never be billed. A held interval of a day already trued up is not released (the register difference
billed its energy): ``DayTruedUpError``. Released daily holds are trued up with the confirmed register
delta. The operator
and the note are recorded on the hold.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from openprepaid.store.model import HoldSource, HoldState
from openprepaid.store.repository import charge as charge_repo
from openprepaid.store.repository import charge_bulk, charge_day
from openprepaid.store.repository.bulk_write import DuplicateKeyError
from openprepaid.wallet import ledger
from openprepaid.wallet.charge_context import ChargeableAccount, ChargeContext
from openprepaid.wallet.charging import ChargingConflictError, ChargingError
from openprepaid.wallet.interval_rating import Collected, rate, usage_rows
from openprepaid.wallet.tariff_store import TariffCatalog
from openprepaid.wallet.trueup import TrueUpOutcome, TrueUpPolicy, true_up_day


class HoldNotOpenError(ChargingError):
    code = "hold_not_open"
    http_status = 409


class DayTruedUpError(ChargingError):
    """The held interval's day was settled by the register (its energy is in the true-up): not billed again."""

    code = "hold_day_trued_up"
    http_status = 409


@dataclass(frozen=True, slots=True)
class Released:
    amount_paise: int
    ledger_transaction_id: int | None


def reject_hold(
    session: Session,
    *,
    meter_id: int,
    source: HoldSource,
    period_end_at: datetime,
    actor: str,
    note: str,
    now: datetime,
) -> None:
    if not charge_repo.resolve_hold(
        session, (meter_id, source, period_end_at), state=HoldState.REJECTED, at=now, by=actor, note=note
    ):
        raise HoldNotOpenError(f"hold ({meter_id}, {source.value}, {period_end_at.isoformat()}) is not open")
    # A rejected block interval keeps its held bit: taken, never billed.


def release_hold(
    session: Session,
    *,
    meter_id: int,
    source: HoldSource,
    period_end_at: datetime,
    catalog: TariffCatalog,
    actor: str,
    note: str,
    now: datetime,
    energy_wh: int | None = None,
    public_holidays: frozenset[date] = frozenset(),
) -> Released:
    """Bill a held reading: as read, or with the operator's ``energy_wh`` (the day's delta for daily holds).
    ``public_holidays``: the utility's (``wallet.utility_holidays``), for the ToD day type."""
    held = charge_repo.hold(session, meter_id, source, period_end_at)
    if held is None or held.state is not HoldState.OPEN:
        raise HoldNotOpenError(f"hold ({meter_id}, {source.value}, {period_end_at.isoformat()}) is not open")
    wh = held.energy_wh if energy_wh is None else energy_wh
    if wh < 0:
        raise ChargingError("a released reading needs a non-negative energy")
    if source is HoldSource.DAILY:
        released = _release_day(
            session,
            account_id=held.account_id,
            meter_id=meter_id,
            day_end=period_end_at,
            wh=wh,
            catalog=catalog,
            now=now,
            holidays=public_holidays,
        )
    else:
        released = _release_interval(
            session,
            meter_id=meter_id,
            end_at=period_end_at,
            wh=wh,
            held_account_id=held.account_id,
            catalog=catalog,
            actor=actor,
            now=now,
            holidays=public_holidays,
        )
    if not charge_repo.resolve_hold(
        session, (meter_id, source, period_end_at), state=HoldState.RELEASED, at=now, by=actor, note=note
    ):
        raise HoldNotOpenError("the hold was resolved concurrently")
    return released


def _release_day(
    session: Session,
    *,
    account_id: int | None,
    meter_id: int,
    day_end: datetime,
    wh: int,
    catalog: TariffCatalog,
    now: datetime,
    holidays: frozenset[date],
) -> Released:
    context = ChargeContext(session, catalog, [meter_id], holidays=holidays)
    zone = ZoneInfo(context.accounts[account_id].timezone) if account_id in context.accounts else None
    if zone is None:
        raise ChargingError(f"held day of meter {meter_id} has no account")
    local_date: date = (day_end.astimezone(zone) - timedelta(days=1)).date()
    result = true_up_day(
        session,
        meter_id=meter_id,
        local_date=local_date,
        catalog=catalog,
        policy=TrueUpPolicy(public_holidays=holidays),
        now=now,
        confirmed_delta_wh=wh,
    )
    if result.outcome is not TrueUpOutcome.BILLED:
        raise ChargingError(f"the held day could not be trued up: {result.outcome.value}")
    return Released(result.amount_paise, None)


def _release_interval(
    session: Session,
    *,
    meter_id: int,
    end_at: datetime,
    wh: int,
    held_account_id: int | None,
    catalog: TariffCatalog,
    actor: str,
    now: datetime,
    holidays: frozenset[date],
) -> Released:
    context = ChargeContext(session, catalog, [meter_id], holidays=holidays)
    route = next((r for r in context.routes(meter_id) if r.covers(end_at)), None)
    if route is None or not isinstance(route.target, ChargeableAccount):
        reason = "no installation" if route is None else route.target
        raise ChargingError(f"interval ({meter_id}, {end_at.isoformat()}) still cannot be charged: {reason}")
    batch_id = charge_repo.new_batch(session, created_at=now, actor=actor)
    utc_date, bit = charge_day.day_and_bit(end_at)
    key = (meter_id, utc_date)
    stored = charge_day.day_masks(session, [meter_id], utc_date, utc_date, lock=True).get(key)
    if stored is not None and stored.taken & bit and not stored.held & bit:
        raise HoldNotOpenError(f"interval ({meter_id}, {end_at.isoformat()}) was taken and is not held")
    local_date = route.target.slots.slot(end_at).local_date  # the meter-day is locked: a true-up waits for us
    if any(trued_up for _, _, trued_up in charge_repo.usage_of_meter_day(session, meter_id, local_date).values()):
        raise DayTruedUpError(
            f"interval ({meter_id}, {end_at.isoformat()}): its day {local_date} was trued up by the register, "
            "which billed its energy; reject the hold instead"
        )
    collected = Collected(batch_id, now)  # nothing stored: the interval is taken as new, then released
    no_limit = 2**62
    collected.take(meter_id, (end_at,), [wh], target=route.target, limit_wh=no_limit)
    if collected.held:
        raise ChargingError(f"interval ({meter_id}, {end_at.isoformat()}) has no tariff version in force")
    take = collected.days[key]
    if stored is not None and stored.taken & bit:  # held when it arrived: release its bit, count it once
        take.taken = 0
        take.released = bit
        if held_account_id == route.target.account.id:
            for usage in collected.usage.values():
                usage[0] = 0
    try:
        charge_day.write_takes(session, batch_id, {key: take}, {key: stored} if stored is not None else {})
    except DuplicateKeyError as exc:
        raise ChargingConflictError(f"interval ({meter_id}, {end_at.isoformat()}) changed meanwhile; retry") from exc
    months = collected.months()
    mtd = charge_repo.month_to_date(session, [a for a, _ in months], [m for _, m in months])
    rated = rate(collected, mtd, actor=actor)
    ids = ledger.append_fresh(session, rated.entries, now=now)
    charge_bulk.add_usage_days(session, usage_rows(collected))
    charge_bulk.add_usage_months(session, rated.usage_months)
    charge_bulk.add_usage_day_zones(session, rated.usage_day_zones)
    charge_repo.finish_batch(
        session, batch_id, charged_count=1, ledger_transaction_count=len(ids), amount_paise=rated.amount_paise
    )
    return Released(rated.amount_paise, ids[0] if ids else None)
