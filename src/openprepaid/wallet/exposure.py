"""Unbilled exposure (domain.md §2 "Charging": a day with no data stays visible as unbilled exposure).

Per account and local day: how many block-load intervals were expected, how many arrived (charged,
held or covered), whether the daily register trued the day up (then nothing is unbilled), and an
estimate of the energy not yet billed (missing intervals × the account's average interval energy
in the window). Read-only.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from openprepaid.store.repository import charge as charge_repo
from openprepaid.store.repository.wallet_account import wallet_accounts


@dataclass(frozen=True, slots=True)
class DayExposure:
    local_date: date
    intervals_expected: int
    intervals_received: int
    trued_up: bool

    @property
    def intervals_missing(self) -> int:
        return 0 if self.trued_up else max(0, self.intervals_expected - self.intervals_received)


@dataclass(frozen=True, slots=True)
class AccountExposure:
    account_id: int
    days: tuple[DayExposure, ...]  # only days with something missing
    intervals_missing: int
    days_without_data: int
    estimated_unbilled_wh: int
    last_interval_end_at: datetime | None


def _intervals_in_day(local_date: date, zone: ZoneInfo, capture_period_s: int) -> int:
    start = datetime.combine(local_date, time(0), tzinfo=zone).astimezone(UTC)
    end = datetime.combine(local_date + timedelta(days=1), time(0), tzinfo=zone).astimezone(UTC)
    return int((end - start).total_seconds()) // capture_period_s


def unbilled_exposure(
    session: Session, *, account_ids: list[int], first: date, last: date, capture_period_s: int = 900
) -> dict[int, AccountExposure]:
    """Exposure of each account over the local days [first, last]."""
    accounts = wallet_accounts(session, account_ids)
    rows: dict[int, dict[date, tuple[int, int, bool, datetime | None]]] = {}
    for account_id, local_date, count, wh, trued_up, last_end in charge_repo.usage_days_of_accounts(
        session, account_ids, first, last
    ):
        rows.setdefault(account_id, {})[local_date] = (count, wh, trued_up, last_end)
    result: dict[int, AccountExposure] = {}
    for account_id, account in accounts.items():
        zone = ZoneInfo(account.timezone)
        seen = rows.get(account_id, {})
        days: list[DayExposure] = []
        received = billed = 0
        day = first
        while day <= last:
            count, wh, trued_up, _ = seen.get(day, (0, 0, False, None))
            exposure = DayExposure(day, _intervals_in_day(day, zone, capture_period_s), count, trued_up)
            received, billed = received + count, billed + wh
            if exposure.intervals_missing:
                days.append(exposure)
            day += timedelta(days=1)
        missing = sum(d.intervals_missing for d in days)
        average = billed // received if received else 0
        ends = [v[3] for v in seen.values() if v[3] is not None]
        result[account_id] = AccountExposure(
            account_id,
            tuple(days),
            missing,
            sum(1 for d in days if d.intervals_received == 0),
            missing * average,
            max(ends) if ends else None,
        )
    return result
