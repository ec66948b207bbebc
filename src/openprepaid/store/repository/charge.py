"""Charging SQL (reads and small writes): installations, what was charged per meter-day and account-month,
batches, holds, true-ups. The interval masks live in ``charge_day``, the hot bulk writes in ``charge_bulk``."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, fields
from datetime import date, datetime
from typing import Any

from sqlalchemy import Integer, and_, cast, func, insert, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from openprepaid.store.model import (
    Account,
    BlockReading,
    ChargeBatch,
    ChargeHold,
    ChargeTrueUp,
    DailyReading,
    HoldSource,
    HoldState,
    MeterInstallation,
    TrueUpStatus,
    UsageDay,
    UsageDayZone,
    UsageMonth,
)
from openprepaid.store.repository.charge_day import taken_condition
from openprepaid.store.repository.ledger import among, chunked
from openprepaid.store.repository.natural_key import insert_ignoring_duplicates


@dataclass(frozen=True, slots=True)
class InstallationRow:
    meter_id: int
    account_id: int
    installed_at: datetime
    removed_at: datetime | None
    initial_import_wh: int
    final_import_wh: int | None


def installations_of_meters(session: Session, meter_ids: Iterable[int]) -> dict[int, list[InstallationRow]]:
    """Installation history per meter, oldest first."""
    result: dict[int, list[InstallationRow]] = {}
    for chunk in chunked(sorted(set(meter_ids))):
        statement = (
            select(
                MeterInstallation.meter_id,
                MeterInstallation.account_id,
                MeterInstallation.installed_at,
                MeterInstallation.removed_at,
                MeterInstallation.initial_import_wh,
                MeterInstallation.final_import_wh,
            )
            .where(among(session, MeterInstallation.meter_id, chunk))
            .order_by(MeterInstallation.meter_id, MeterInstallation.installed_at)
        )
        for row in session.execute(statement):
            result.setdefault(row.meter_id, []).append(InstallationRow(*row))
    return result


def seen_meter_days(
    session: Session, meter_ids: Sequence[int], first: date, last: date
) -> dict[tuple[int, date], bool]:
    """(meter, local day) -> trued_up, for the meter-days in the window that already have usage."""
    result: dict[tuple[int, date], bool] = {}
    for chunk in chunked(sorted(set(meter_ids))):
        statement = select(UsageDay.meter_id, UsageDay.local_date, UsageDay.trued_up).where(
            among(session, UsageDay.meter_id, chunk), UsageDay.local_date >= first, UsageDay.local_date <= last
        )
        for meter_id, local_date, trued_up in session.execute(statement):
            key = (int(meter_id), local_date)
            result[key] = result.get(key, False) or bool(trued_up)
    return result


def month_to_date(session: Session, account_ids: Sequence[int], months: Sequence[date]) -> dict[tuple[int, date], int]:
    """(account, month) -> Wh billed so far (all zones)."""
    result: dict[tuple[int, date], int] = {}
    if not months:
        return result
    for chunk in chunked(sorted(set(account_ids))):
        statement = (
            select(UsageMonth.account_id, UsageMonth.month_date, func.sum(UsageMonth.billed_energy_wh))
            .where(among(session, UsageMonth.account_id, chunk), UsageMonth.month_date.in_(sorted(set(months))))
            .group_by(UsageMonth.account_id, UsageMonth.month_date)
        )
        for account_id, month_date, total in session.execute(statement):
            result[(int(account_id), month_date)] = int(total)
    return result


def zone_energy_of_month(session: Session, account_id: int, month_date: date) -> dict[tuple[int, str], int]:
    """(tariff version, ToD zone) -> Wh billed in the account's month (intervals and true-ups)."""
    statement = select(UsageMonth.tariff_version_id, UsageMonth.tod_zone, UsageMonth.billed_energy_wh).where(
        UsageMonth.account_id == account_id, UsageMonth.month_date == month_date
    )
    return {(int(version), str(zone)): int(wh) for version, zone, wh in session.execute(statement)}


def zone_energy_of_day(session: Session, account_id: int, local_date: date) -> dict[tuple[int, str], int]:
    """(tariff version, ToD zone) -> interval Wh billed for the account's local day (``usage_day_zone``)."""
    statement = select(UsageDayZone.tariff_version_id, UsageDayZone.tod_zone, UsageDayZone.interval_energy_wh).where(
        UsageDayZone.account_id == account_id, UsageDayZone.local_date == local_date
    )
    return {(int(version), str(zone)): int(wh) for version, zone, wh in session.execute(statement)}


def new_batch(session: Session, *, created_at: datetime, actor: str) -> int:
    statement = (
        insert(ChargeBatch)
        .values(
            created_at=created_at,
            actor=actor[:100],
            charged_count=0,
            held_count=0,
            covered_count=0,
            ledger_transaction_count=0,
            amount_paise=0,
        )
        .returning(ChargeBatch.id)
    )
    return int(session.execute(statement).scalar_one())


def finish_batch(session: Session, batch_id: int, **counts: int) -> None:
    session.execute(update(ChargeBatch).where(ChargeBatch.id == batch_id).values(**counts))


def insert_holds(session: Session, rows: Sequence[Mapping[str, Any]]) -> int:
    """Hold rows keyed (meter, source, period end); an existing hold is left as it is."""
    return insert_ignoring_duplicates(session, ChargeHold.__table__, rows)  # type: ignore[arg-type]


@dataclass(frozen=True, slots=True)
class HoldRow:
    meter_id: int
    source: HoldSource
    period_end_at: datetime
    account_id: int | None
    energy_wh: int
    limit_wh: int | None
    reason: str
    state: HoldState


_HOLD_COLUMNS = [getattr(ChargeHold, field.name) for field in fields(HoldRow)]


def hold(session: Session, meter_id: int, source: HoldSource, period_end_at: datetime) -> HoldRow | None:
    statement = select(*_HOLD_COLUMNS).where(
        ChargeHold.meter_id == meter_id, ChargeHold.source == source, ChargeHold.period_end_at == period_end_at
    )
    row = session.execute(statement).one_or_none()
    return None if row is None else HoldRow(*row)


def open_holds(session: Session, *, account_id: int | None = None, limit: int = 1000) -> list[HoldRow]:
    statement = select(*_HOLD_COLUMNS).where(ChargeHold.state == HoldState.OPEN)
    if account_id is not None:
        statement = statement.where(ChargeHold.account_id == account_id)
    statement = statement.order_by(ChargeHold.period_end_at, ChargeHold.meter_id).limit(limit)
    return [HoldRow(*row) for row in session.execute(statement)]


def resolve_hold(
    session: Session, key: tuple[int, HoldSource, datetime], *, state: HoldState, at: datetime, by: str, note: str
) -> bool:
    """open -> released|rejected; False if the hold was not open (someone resolved it first)."""
    meter_id, source, period_end_at = key
    statement = (
        update(ChargeHold)
        .where(
            ChargeHold.meter_id == meter_id,
            ChargeHold.source == source,
            ChargeHold.period_end_at == period_end_at,
            ChargeHold.state == HoldState.OPEN,
        )
        .values(state=state, resolved_at=at, resolved_by=by[:100], resolution_note=note[:500])
        .execution_options(synchronize_session=False)
    )
    return bool(session.execute(statement).rowcount)  # type: ignore[attr-defined]


# --- true-up ----------------------------------------------------------------------------------------


def daily_registers(session: Session, meter_id: int, captured_at: Sequence[datetime]) -> dict[datetime, int]:
    """Midnight import registers of a meter at the given capture times (missing ones are absent)."""
    statement = select(DailyReading.captured_at, DailyReading.import_wh_total).where(
        DailyReading.meter_id == meter_id, DailyReading.captured_at.in_(list(captured_at))
    )
    return {captured: int(total) for captured, total in session.execute(statement)}


def usage_of_meter_day(session: Session, meter_id: int, local_date: date) -> dict[int, tuple[int, int, bool]]:
    """account -> (interval count, billed interval Wh, trued up) for one meter-day."""
    statement = select(
        UsageDay.account_id, UsageDay.interval_count, UsageDay.interval_energy_wh, UsageDay.trued_up
    ).where(UsageDay.meter_id == meter_id, UsageDay.local_date == local_date)
    return {int(a): (int(c), int(e), bool(t)) for a, c, e, t in session.execute(statement)}


class DuplicateTrueUpError(Exception):
    """The (meter, local day) was trued up (or held) already."""


def trueup_status(session: Session, meter_id: int, local_date: date) -> TrueUpStatus | None:
    statement = select(ChargeTrueUp.status).where(
        and_(ChargeTrueUp.meter_id == meter_id, ChargeTrueUp.local_date == local_date)
    )
    return session.execute(statement).scalar_one_or_none()


def insert_trueup(session: Session, values: Mapping[str, Any]) -> None:
    try:
        with session.begin_nested():
            session.execute(insert(ChargeTrueUp).values(**values))
    except IntegrityError as exc:
        raise DuplicateTrueUpError(str(exc.orig)) from exc


def update_trueup(session: Session, meter_id: int, local_date: date, values: Mapping[str, Any]) -> None:
    statement = (
        update(ChargeTrueUp)
        .where(ChargeTrueUp.meter_id == meter_id, ChargeTrueUp.local_date == local_date)
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    session.execute(statement)


def meters_to_true_up(
    session: Session, *, utility_id: int, day_start: datetime, day_end: datetime, local_date: date
) -> list[int]:
    """Meters installed (for an account of the utility) at some time of the day, not trued up for it."""
    done = select(ChargeTrueUp.meter_id).where(ChargeTrueUp.local_date == local_date)
    statement = (
        select(MeterInstallation.meter_id)
        .join(Account, Account.id == MeterInstallation.account_id)
        .where(
            Account.utility_id == utility_id,
            MeterInstallation.installed_at < day_end,
            or_(MeterInstallation.removed_at.is_(None), MeterInstallation.removed_at > day_start),
            MeterInstallation.meter_id.not_in(done),
        )
        .distinct()
        .order_by(MeterInstallation.meter_id)
    )
    return [int(value) for value in session.execute(statement).scalars()]


def mark_trued_up(session: Session, *, meter_id: int, local_date: date, account_id: int) -> None:
    """Create or flag the meter-day's usage row: later intervals of that day are covered by the register."""
    statement = (
        update(UsageDay)
        .where(UsageDay.meter_id == meter_id, UsageDay.local_date == local_date, UsageDay.account_id == account_id)
        .values(trued_up=True)
        .execution_options(synchronize_session=False)
    )
    if not session.execute(statement).rowcount:  # type: ignore[attr-defined]
        session.execute(
            insert(UsageDay).values(
                meter_id=meter_id,
                local_date=local_date,
                account_id=account_id,
                interval_count=0,
                interval_energy_wh=0,
                last_interval_end_at=None,
                trued_up=True,
            )
        )


def usage_days_of_accounts(
    session: Session, account_ids: Sequence[int], first: date, last: date
) -> list[tuple[int, date, int, int, bool, datetime | None]]:
    """(account, local day, intervals taken, billed Wh, trued up, last interval end) per account-day in
    [first, last], summed over the account's meters that day."""
    result: list[tuple[int, date, int, int, bool, datetime | None]] = []
    for chunk in chunked(sorted(set(account_ids))):
        statement = (
            select(
                UsageDay.account_id,
                UsageDay.local_date,
                func.sum(UsageDay.interval_count),
                func.sum(UsageDay.interval_energy_wh),
                func.max(cast(UsageDay.trued_up, Integer)),
                func.max(UsageDay.last_interval_end_at),
            )
            .where(
                among(session, UsageDay.account_id, chunk), UsageDay.local_date >= first, UsageDay.local_date <= last
            )
            .group_by(UsageDay.account_id, UsageDay.local_date)
        )
        for account_id, local_date, count, wh, trued_up, last_end in session.execute(statement):
            result.append((int(account_id), local_date, int(count), int(wh), bool(trued_up), last_end))
    return result


def uncharged_block_readings(
    session: Session, *, after: datetime, until: datetime, limit: int
) -> list[tuple[int, datetime, int, int]]:
    """Stored block-load readings not taken yet (no bit in their meter-day's ``taken_mask``; held ones are
    taken), ends in (after, until]: ``(meter, interval end, import Wh, capture period s)`` in key order
    (the catch-up sweep)."""
    statement = (
        select(
            BlockReading.meter_id, BlockReading.interval_end_at, BlockReading.import_wh, BlockReading.capture_period_s
        )
        .where(
            BlockReading.interval_end_at > after,
            BlockReading.interval_end_at <= until,
            ~taken_condition(session, BlockReading.meter_id, BlockReading.interval_end_at),
        )
        .order_by(BlockReading.meter_id, BlockReading.interval_end_at)
        .limit(limit)
    )
    return [(int(m), end, int(wh), int(period)) for m, end, wh, period in session.execute(statement)]
