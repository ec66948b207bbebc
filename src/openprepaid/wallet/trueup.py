"""Daily true-up against the daily-profile cumulative register (domain.md §2 "Charging").

For one (meter, local day): register delta = import register at the day's end − at its start (the
midnight daily-profile snapshots; on the day a meter is installed or removed, its installation's
initial/final register stands in). The difference between that delta and the interval energy
billed for the day is billed (or credited) once.

Invariants:
- Once per (meter, local day): ``charge_trueup`` primary key and ledger key
  ``trueup:<meter>:<local day>``, written in one database transaction with the money.
- Register rollover: when the register went down and ``register_modulus_wh`` is set, the delta is
  ``end + modulus − start`` (the register wrapped). A negative delta otherwise, or one above
  ``max_load_factor_percent`` × sanctioned load × 24 h, is held for review, not billed.
- After the true-up the day is closed: intervals of it arriving later are recorded ``covered``.
  The true-up closes the day under the charging guard: before reading what the intervals billed, it
  locks (PostgreSQL ``FOR UPDATE``) or creates the meter's ``charge_day`` rows of the day, in the same
  database transaction as its money. A batch that read them first finishes first (its intervals are
  in the usage the true-up reads); a later one waits, then reads the day as trued up (covered). A
  batch that read "no row" and inserts it meets the true-up's row (unique violation) and looks again.
  So each interval's energy is billed once: as an interval or inside the register difference.
- The difference is priced as a utility would: split across the day's (tariff version, ToD zone) in
  proportion to the interval energy billed in each that day (``usage_day_zone``; exact integer Wh,
  largest remainder), or, with no intervals billed that day, all in the neutral zone of the version
  in force at ``rating_time``. A positive difference is rated on top of the month's units; a negative
  one reverses the month's last units (rated at ``month-to-date − |d|`` and negated), so slabs unwind
  exactly.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from typing import TypeVar
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from openprepaid.store.model import HoldSource, HoldState, TrueUpStatus
from openprepaid.store.repository import charge as charge_repo
from openprepaid.store.repository import charge_bulk, charge_day
from openprepaid.store.repository.bulk_write import DuplicateKeyError
from openprepaid.store.repository.charge import InstallationRow
from openprepaid.store.repository.wallet_account import utility_zone
from openprepaid.wallet import ledger
from openprepaid.wallet.charge_context import ChargeableAccount, ChargeContext
from openprepaid.wallet.charge_lines import add_lines, charge_entry
from openprepaid.wallet.errors import WalletError
from openprepaid.wallet.ledger import LedgerTransactionKind
from openprepaid.wallet.tariff import ChargeLine, rate_zone_energy
from openprepaid.wallet.tariff_store import TariffCatalog

MAX_ATTEMPTS = 3
_K = TypeVar("_K", bound=tuple[int, str])


class TrueUpError(WalletError):
    code = "trueup_refused"


class TrueUpConflictError(TrueUpError):
    """Charging batches kept creating the day's meter-days while it was being closed; retry later."""

    code = "trueup_conflict"
    http_status = 409
    retryable = True


@dataclass(frozen=True, slots=True)
class TrueUpPolicy:
    register_modulus_wh: int | None = None  # e.g. 10**9: the register wraps to 0 there
    max_load_factor_percent: int = 200
    rating_time: time = time(12, 0)  # local time at which a day's difference is rated (its ToD zone)
    actor: str = "trueup"
    public_holidays: frozenset[date] = frozenset()  # ToD day type ``holiday`` (wallet.utility_holidays)


class TrueUpOutcome(StrEnum):
    BILLED = "billed"  # difference billed or credited (possibly zero)
    HELD = "held"  # register delta implausible: held for review
    DONE_BEFORE = "done_before"  # the day was trued up already: nothing done
    NO_REGISTER = "no_register"  # a daily register snapshot is missing: try again later
    NOT_CHARGEABLE = "not_chargeable"  # no single chargeable installation for the day


@dataclass(frozen=True, slots=True)
class TrueUpResult:
    outcome: TrueUpOutcome
    register_delta_wh: int = 0
    intervals_wh: int = 0
    difference_wh: int = 0
    amount_paise: int = 0


def register_delta(start_wh: int, end_wh: int, modulus_wh: int | None) -> int:
    """End − start, allowing one wrap of the register at ``modulus_wh``; negative if it went backwards."""
    if end_wh >= start_wh or modulus_wh is None or start_wh >= modulus_wh:
        return end_wh - start_wh
    return end_wh + modulus_wh - start_wh


def _day_bounds(local_date: date, zone: ZoneInfo) -> tuple[datetime, datetime]:
    start = datetime.combine(local_date, time(0), tzinfo=zone).astimezone(UTC)
    end = datetime.combine(local_date + timedelta(days=1), time(0), tzinfo=zone).astimezone(UTC)
    return start, end


def _registers(
    session: Session, meter_id: int, installation: InstallationRow, start: datetime, end: datetime
) -> tuple[int, int] | None:
    """(start, end) register for the part of the day the installation covers, or None if one is missing."""
    wanted = [t for t in (start, end) if not (t == start and installation.installed_at > start)]
    removed_in_day = installation.removed_at is not None and installation.removed_at < end
    snapshots = charge_repo.daily_registers(session, meter_id, wanted)
    first = installation.initial_import_wh if installation.installed_at > start else snapshots.get(start)
    last = installation.final_import_wh if removed_in_day else snapshots.get(end)
    if first is None or last is None:
        return None
    return first, last


@dataclass(slots=True)
class _Day:
    """The ``charge_trueup`` row being written."""

    meter_id: int
    local_date: date
    account_id: int
    register_start_wh: int
    register_end_wh: int
    register_delta_wh: int
    intervals_wh: int
    difference_wh: int
    status: TrueUpStatus
    ledger_transaction_id: int | None
    created_at: datetime


def true_up_day(
    session: Session,
    *,
    meter_id: int,
    local_date: date,
    catalog: TariffCatalog,
    policy: TrueUpPolicy,
    now: datetime,
    confirmed_delta_wh: int | None = None,
) -> TrueUpResult:
    """True up one meter-day. ``confirmed_delta_wh`` (an operator releasing a held day) replaces the
    register delta and skips the plausibility check."""
    context = ChargeContext(session, catalog, [meter_id], holidays=policy.public_holidays)
    found = _serving(context, meter_id, local_date)
    if found is None:
        return TrueUpResult(TrueUpOutcome.NOT_CHARGEABLE)
    target, installation, zone = found
    start, end = _day_bounds(local_date, zone)
    for _ in range(MAX_ATTEMPTS):
        try:
            with session.begin_nested():
                # Close the day under the charging guard first: a batch that read this meter's days before
                # commits before we read what it billed; one that comes later sees the day trued up.
                charge_day.lock_meter_days(session, meter_id, start.date(), end.date())
                return _true_up_locked(
                    session,
                    target,
                    installation,
                    local_date=local_date,
                    bounds=(start, end),
                    zone=zone,
                    policy=policy,
                    now=now,
                    confirmed_delta_wh=confirmed_delta_wh,
                )
        except DuplicateKeyError:
            continue  # a batch created one of the meter-days meanwhile: look again
        except charge_repo.DuplicateTrueUpError:
            return TrueUpResult(TrueUpOutcome.DONE_BEFORE)
    raise TrueUpConflictError(f"meter {meter_id}, {local_date}: its days kept changing; retry later")


def _true_up_locked(
    session: Session,
    target: ChargeableAccount,
    installation: InstallationRow,
    *,
    local_date: date,
    bounds: tuple[datetime, datetime],
    zone: ZoneInfo,
    policy: TrueUpPolicy,
    now: datetime,
    confirmed_delta_wh: int | None,
) -> TrueUpResult:
    meter_id = installation.meter_id
    start, end = bounds
    previous = charge_repo.trueup_status(session, meter_id, local_date)
    releasing = previous is TrueUpStatus.HELD and confirmed_delta_wh is not None
    if previous is not None and not releasing:
        return TrueUpResult(TrueUpOutcome.DONE_BEFORE)
    registers = _registers(session, meter_id, installation, start, end)
    if registers is None and confirmed_delta_wh is None:
        return TrueUpResult(TrueUpOutcome.NO_REGISTER)
    first, last = registers if registers is not None else (0, 0)
    delta = (
        confirmed_delta_wh
        if confirmed_delta_wh is not None
        else register_delta(first, last, policy.register_modulus_wh)
    )
    account_id = target.account.id
    intervals_wh = charge_repo.usage_of_meter_day(session, meter_id, local_date).get(account_id, (0, 0, False))[1]
    day = _Day(
        meter_id,
        local_date,
        account_id,
        first,
        last,
        delta,
        intervals_wh,
        delta - intervals_wh,
        TrueUpStatus.BILLED,
        None,
        now,
    )
    limit = target.account.sanctioned_load_w * 24 * policy.max_load_factor_percent // 100
    implausible = delta < 0 or delta > limit
    if implausible and confirmed_delta_wh is None:
        day.status = TrueUpStatus.HELD
    # Claim the day first: a concurrent true-up of it stops here, before any money moves.
    if releasing:
        charge_repo.update_trueup(session, meter_id, local_date, asdict(day))
    else:
        charge_repo.insert_trueup(session, asdict(day))
    if day.status is TrueUpStatus.HELD:
        _hold(session, day, end, limit, "negative register delta" if delta < 0 else "register delta too high")
        return TrueUpResult(TrueUpOutcome.HELD, delta, intervals_wh)
    amount = _bill(session, target, day, zone=zone, policy=policy, now=now)
    charge_repo.update_trueup(session, meter_id, local_date, {"ledger_transaction_id": day.ledger_transaction_id})
    charge_repo.mark_trued_up(session, meter_id=meter_id, local_date=local_date, account_id=account_id)
    return TrueUpResult(TrueUpOutcome.BILLED, delta, intervals_wh, day.difference_wh, amount)


def _serving(
    context: ChargeContext, meter_id: int, local_date: date
) -> tuple[ChargeableAccount, InstallationRow, ZoneInfo] | None:
    """The one chargeable installation of the meter during the day (None: none, or a replacement that day
    moved it between accounts)."""
    routes = context.routes(meter_id)
    if not routes:
        return None
    zone = ZoneInfo(context.accounts[routes[0].account_id].timezone)
    start, end = _day_bounds(local_date, zone)
    serving = [
        (route, row)
        for route, row in zip(routes, context.installations[meter_id], strict=True)
        if route.installed_at < end and (route.removed_at is None or route.removed_at > start)
    ]
    if len(serving) != 1 or not isinstance(serving[0][0].target, ChargeableAccount):
        return None
    return serving[0][0].target, serving[0][1], zone


def _hold(session: Session, day: _Day, day_end: datetime, limit: int, reason: str) -> None:
    charge_repo.insert_holds(
        session,
        [
            {
                "meter_id": day.meter_id,
                "source": HoldSource.DAILY,
                "period_end_at": day_end,
                "account_id": day.account_id,
                "energy_wh": day.register_delta_wh,
                "limit_wh": limit,
                "reason": reason,
                "state": HoldState.OPEN,
                "created_at": day.created_at,
                "resolved_at": None,
                "resolved_by": "",
                "resolution_note": "",
            }
        ],
    )


def split_in_proportion(total: int, weights: Mapping[_K, int]) -> dict[_K, int]:
    """``total`` (>= 0) Wh split across ``weights`` (each > 0) in proportion, in whole Wh summing to ``total``.

    Each part gets ``floor(total × w / W)``; the Wh left over go one each to the parts with the largest
    remainders ``total × w mod W``, ties to the earlier key in sorted order (largest remainder method).
    So a part is never more than one Wh from its exact share, and never above its weight when ``total``
    is at most the sum of weights."""
    whole = sum(weights.values())
    keys = sorted(weights)
    parts = {key: total * weights[key] // whole for key in keys}
    left = total - sum(parts.values())
    for key in sorted(keys, key=lambda k: -(total * weights[k] % whole))[:left]:
        parts[key] += 1
    return parts


def _bill(
    session: Session, target: ChargeableAccount, day: _Day, *, zone: ZoneInfo, policy: TrueUpPolicy, now: datetime
) -> int:
    """Rate and post the day's difference; sets ``day.ledger_transaction_id``; returns the wallet debit.

    The difference is split across the day's (tariff version, ToD zone) in proportion to the interval energy
    billed in each (``split_in_proportion``); a day without billed intervals puts it all in the neutral zone
    ('': no ToD line) of the version in force at ``rating_time``. Parts are rated in (version, zone) order on
    top of the month's units (a credit un-rates the month's last units, part by part)."""
    difference = day.difference_wh
    if not difference:
        return 0
    account_id = target.account.id
    local_end = datetime.combine(day.local_date, policy.rating_time, tzinfo=zone)
    month_date = day.local_date.replace(day=1)
    weights = {
        key: wh for key, wh in charge_repo.zone_energy_of_day(session, account_id, day.local_date).items() if wh > 0
    }
    if not weights:
        slot = target.slots.slot(local_end.astimezone(UTC))
        if not slot.version_id:
            raise TrueUpError(f"no tariff version in force for account {account_id} on {day.local_date}")
        weights = {(slot.version_id, ""): 1}
    mtd = charge_repo.month_to_date(session, [account_id], [month_date]).get((account_id, month_date), 0)
    energy = difference if difference > 0 else min(-difference, mtd)
    components: dict[str, int] = {}
    usage: list[tuple[int, date, int, str, int]] = []
    for (version_id, tod_zone), wh in split_in_proportion(energy, weights).items():
        if not wh:
            continue
        spec = target.slots.spec_of(version_id)
        if difference > 0:
            lines = rate_zone_energy(spec, energy_wh=wh, tod_zone=tod_zone, month_to_date_wh_before=mtd)
            mtd += wh
        else:
            mtd -= wh
            unrated = rate_zone_energy(spec, energy_wh=wh, tod_zone=tod_zone, month_to_date_wh_before=mtd)
            lines = [ChargeLine(ln.component, -ln.amount_paise, -ln.quantity, ln.unit, ln.rate) for ln in unrated]
        add_lines(components, lines)
        usage.append((account_id, month_date, version_id, tod_zone, wh if difference > 0 else -wh))
    charge_bulk.add_usage_months(session, usage)
    entry = charge_entry(
        idempotency_key=f"trueup:{day.meter_id}:{day.local_date.isoformat()}",
        kind=LedgerTransactionKind.TRUE_UP,
        account_id=account_id,
        wallet_ledger_id=target.wallet_ledger_id,
        utility_ledgers=target.utility_ledgers,
        components=components,
        effective_at=local_end,
        value_date=day.local_date,
        actor=policy.actor,
        memo=f"register {day.register_start_wh} -> {day.register_end_wh} Wh, intervals {day.intervals_wh} Wh",
    )
    if entry is None:
        return 0
    day.ledger_transaction_id = ledger.post(session, entry, now=now).ledger_transaction_id
    return sum(components.values())


def true_up_utility_day(
    session: Session, *, utility_id: int, local_date: date, catalog: TariffCatalog, policy: TrueUpPolicy, now: datetime
) -> dict[TrueUpOutcome, int]:
    """True up every meter of the utility installed on ``local_date`` that is not trued up yet."""
    counts = dict.fromkeys(TrueUpOutcome, 0)
    zone = ZoneInfo(utility_zone(session, utility_id))
    start, end = _day_bounds(local_date, zone)
    meters = charge_repo.meters_to_true_up(
        session, utility_id=utility_id, day_start=start, day_end=end, local_date=local_date
    )
    for meter_id in meters:
        result = true_up_day(session, meter_id=meter_id, local_date=local_date, catalog=catalog, policy=policy, now=now)
        counts[result.outcome] += 1
    return counts
