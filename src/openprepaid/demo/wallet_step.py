"""The wallet's part of each demo step: charge what was collected, daily charges, recharges, rules.

Each part is one unit of work (committed here, at the edge). Everything it calls is idempotent by
key, so a step run twice (a rerun after Ctrl-C, a crash) changes nothing the second time.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session, sessionmaker

from openprepaid.store.repository.reading import uncharged_block_readings
from openprepaid.wallet.account_books import open_books
from openprepaid.wallet.charging import ChargingPolicy, charge_intervals, group_readings
from openprepaid.wallet.fixed_charge import charge_daily_fixed
from openprepaid.wallet.recharge import Receipt, RechargePolicy, RechargeRequest, recharge
from openprepaid.wallet.rules import RulesConfig
from openprepaid.wallet.rules_service import RulesRunResult, run_rules
from openprepaid.wallet.tariff_document import parse_tariff
from openprepaid.wallet.tariff_store import TariffCatalog
from openprepaid.wallet.trueup import TrueUpPolicy, true_up_utility_day
from openprepaid.wallet.utility_holidays import utility_holidays

CHARGE_BATCH = 20_000


@dataclass(frozen=True)
class PlannedRecharge:
    at: datetime
    account_id: int
    amount_paise: int
    payment_ref: str
    channel: str = "portal"


@dataclass
class WalletStep:
    sessions: sessionmaker[Session]
    utility_id: int
    zone: ZoneInfo
    rules_config: RulesConfig
    catalog: TariffCatalog = field(default_factory=lambda: TariffCatalog(parse_tariff))
    charging: ChargingPolicy = field(default_factory=ChargingPolicy)
    trueup: TrueUpPolicy = field(default_factory=TrueUpPolicy)
    recharge_policy: RechargePolicy = field(default_factory=RechargePolicy)

    def __post_init__(self) -> None:
        # One holiday calendar: the rules' public holidays are the ToD holidays of charging and the true-up.
        holidays = utility_holidays(self.rules_config)
        self.charging = replace(self.charging, public_holidays=holidays)
        self.trueup = replace(self.trueup, public_holidays=holidays)

    def charge_collected(self, now: datetime, meter_ids: Collection[int] | None = None) -> int:
        """Charge every stored interval not charged yet (of ``meter_ids``, when given); returns how many."""
        if meter_ids is not None and not meter_ids:
            return 0
        taken = 0
        while True:
            with self.sessions.begin() as session:
                rows = uncharged_block_readings(
                    session, meter_ids=None if meter_ids is None else list(meter_ids), limit=CHARGE_BATCH
                )
                if not rows:
                    return taken
                result = charge_intervals(
                    session, group_readings(rows), catalog=self.catalog, policy=self.charging, now=now
                )
                taken += result.charged + result.held + result.covered
            if len(rows) < CHARGE_BATCH:
                return taken

    def close_day(self, local_date: date, now: datetime) -> None:
        """The day's fixed charge and the true-up against the midnight register (both once per day)."""
        with self.sessions.begin() as session:
            charge_daily_fixed(
                session, utility_id=self.utility_id, local_date=local_date, catalog=self.catalog, now=now
            )
        with self.sessions.begin() as session:
            true_up_utility_day(
                session,
                utility_id=self.utility_id,
                local_date=local_date,
                catalog=self.catalog,
                policy=self.trueup,
                now=now,
            )

    def open_books(self, account_ids: list[int]) -> None:
        """Each account's wallet, arrears and deposit ledgers, and the utility's (idempotent)."""
        with self.sessions.begin() as session:
            open_books(session, account_ids)

    def pay(self, planned: PlannedRecharge) -> Receipt:
        with self.sessions.begin() as session:
            return recharge(
                session,
                RechargeRequest(
                    account_id=planned.account_id,
                    payment_ref=planned.payment_ref,
                    amount_paise=self._acceptable(planned.amount_paise),
                    channel=planned.channel,
                    received_at=planned.at,
                    actor=f"demo:{planned.channel}",
                ),
                policy=self.recharge_policy,
                now=planned.at,
            )

    def _acceptable(self, amount_paise: int) -> int:
        """The simulated consumers pay what the utility accepts: a multiple of it, within its limits."""
        policy = self.recharge_policy
        multiple = -(-amount_paise // policy.multiple_of_paise) * policy.multiple_of_paise
        return min(
            max(multiple, policy.minimum_paise),
            policy.maximum_paise // policy.multiple_of_paise * policy.multiple_of_paise,
        )

    def apply_rules(self, now: datetime) -> RulesRunResult:
        with self.sessions.begin() as session:
            return run_rules(session, utility_id=self.utility_id, config=self.rules_config, now=now)
