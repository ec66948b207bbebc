"""Builders shared by the wallet money tests (no tests in this module): a utility with its books,
consumer accounts with their ledgers, meters installed on them, and the ledger invariant check."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from openprepaid.store.model import Account, MeterInstallation, Utility
from openprepaid.store.repository import tariff as tariff_repo
from openprepaid.wallet import chart_of_accounts as chart
from openprepaid.wallet import ledger
from openprepaid.wallet.chart_of_accounts import ConsumerLedger, UtilityLedger
from openprepaid.wallet.tariff import (
    DayType,
    EnergyCharge,
    Group,
    LoadBand,
    MonthlyAmount,
    PercentCharge,
    Slab,
    SlabMode,
    TariffSpec,
    TimeOfDay,
    TodSchedule,
    TodZone,
)
from openprepaid.wallet.tariff_store import TariffCatalog, add_version
from tests.store.factories import make_account, make_meter, make_utility

NOW = datetime(2026, 11, 24, 6, 0, tzinfo=UTC)
ROOT = Path(__file__).resolve().parents[2]
_numbers = itertools.count(1)


@dataclass
class Books:
    utility: Utility
    ledgers: dict[UtilityLedger, int]


@dataclass
class Consumer:
    account: Account
    ledgers: dict[ConsumerLedger, int]

    @property
    def wallet(self) -> int:
        return self.ledgers[ConsumerLedger.PREPAID_WALLET]

    @property
    def arrears(self) -> int:
        return self.ledgers[ConsumerLedger.ARREARS]


def make_books(session: Session) -> Books:
    utility = make_utility(session, code=f"WU{next(_numbers)}")
    return Books(utility, chart.open_utility_ledgers(session, utility.id))


def make_consumer(session: Session, books: Books, *, sanctioned_load_w: int = 3000, category: str = "domestic"):
    account = make_account(session, books.utility, category=category)
    account.sanctioned_load_w = sanctioned_load_w
    session.flush()
    ledgers = chart.open_consumer_ledgers(session, utility_id=books.utility.id, account_ids=[account.id])
    return Consumer(account, ledgers[account.id])


def install_meter(session: Session, books: Books, consumer: Consumer, *, at: datetime = NOW, initial_import_wh=0):
    meter = make_meter(session, books.utility)
    session.add(
        MeterInstallation(
            meter_id=meter.id, account_id=consumer.account.id, installed_at=at, initial_import_wh=initial_import_wh
        )
    )
    session.flush()
    return meter


def assert_ledger_invariants(session: Session) -> None:
    """Every ledger transaction balanced, all postings sum to zero, cached balances == derived ones."""
    session.flush()
    report = ledger.audit(session)
    assert report.ok, report


def wallet_balance(session: Session, consumer: Consumer) -> int:
    """The consumer's view: positive = credit in the wallet."""
    return chart.consumer_balance_paise(ledger.balance_paise(session, consumer.wallet))


# --- tariffs -------------------------------------------------------------------------------------------

IST = ZoneInfo("Asia/Kolkata")


def demo_spec(
    *, version: int = 1, effective_from: datetime | None = None, slab1: str = "3.00", code: str = "DEMO-DOM"
) -> TariffSpec:
    """Slabs (DERC-like telescopic), Kerala-like ToD, fixed per kW, 5 % duty on energy+fixed, 4 % prepaid rebate."""
    return TariffSpec(
        code=code,
        name="Demo domestic",
        category="domestic",
        version=version,
        effective_from=effective_from or datetime(2026, 1, 1, tzinfo=IST),
        energy=EnergyCharge.single(
            SlabMode.TELESCOPIC,
            (
                Slab(Decimal(slab1), Decimal(200)),
                Slab(Decimal("4.50"), Decimal(400)),
                Slab(Decimal("6.50")),
            ),
        ),
        tod=TimeOfDay(
            (
                TodSchedule(
                    "all-year",
                    frozenset(range(1, 13)),
                    frozenset(DayType),
                    (
                        TodZone("offpeak", 22 * 60, 6 * 60, multiplier=Decimal("0.90")),
                        TodZone("normal", 6 * 60, 18 * 60, multiplier=Decimal("1.00")),
                        TodZone("peak", 18 * 60, 22 * 60, multiplier=Decimal("1.20")),
                    ),
                ),
            )
        ),
        fixed=MonthlyAmount(
            per_kw_bands=(LoadBand(Decimal(20), Decimal(2)), LoadBand(Decimal(50), Decimal(5)), LoadBand(Decimal(100)))
        ),
        duties=(PercentCharge("electricity", Decimal(5), frozenset({Group.ENERGY, Group.FIXED})),),
        rebate=PercentCharge("prepaid", Decimal(4), frozenset({Group.ENERGY})),
    )


class SpecRegistry:
    """Tariff documents for tests: the document text is a name for a spec built in Python."""

    def __init__(self) -> None:
        self.specs: dict[str, TariffSpec] = {}

    def document(self, spec: TariffSpec) -> str:
        name = f"{spec.code}@v{spec.version}@{spec.effective_from.isoformat()}"
        self.specs[name] = spec
        return name

    def parse(self, document: str) -> TariffSpec:
        return self.specs[document]


def make_tariff(
    session: Session, books: Books, registry: SpecRegistry, catalog: TariffCatalog, *specs: TariffSpec
) -> int:
    tariff_id = tariff_repo.insert_tariff(
        session, utility_id=books.utility.id, code=specs[0].code, name=specs[0].name, category=specs[0].category
    )
    for spec in specs:
        add_version(
            session,
            catalog,
            tariff_id=tariff_id,
            document=registry.document(spec),
            created_by="test",
            now=datetime(2025, 1, 1, tzinfo=UTC),
        )
    return tariff_id


@dataclass
class World:
    """One utility, its tariff, consumers with one meter each."""

    books: Books
    registry: SpecRegistry
    catalog: TariffCatalog
    tariff_id: int


def make_world(session: Session, *specs: TariffSpec) -> World:
    books = make_books(session)
    registry = SpecRegistry()
    catalog = TariffCatalog(registry.parse)
    tariff_id = make_tariff(session, books, registry, catalog, *(specs or (demo_spec(),)))
    return World(books, registry, catalog, tariff_id)


def make_metered_consumer(
    session: Session, world: World, *, installed_at: datetime | None = None, sanctioned_load_w: int = 3000
):
    consumer = make_consumer(session, world.books, sanctioned_load_w=sanctioned_load_w)
    consumer.account.tariff_id = world.tariff_id
    consumer.account.opened_at = datetime(2026, 1, 1, tzinfo=UTC)
    session.flush()
    meter = install_meter(session, world.books, consumer, at=installed_at or datetime(2026, 1, 1, tzinfo=UTC))
    return consumer, meter


def local(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    """An aware time in the utility's zone (IST)."""
    return datetime(year, month, day, hour, minute, tzinfo=IST)


def day_of_intervals(day_start_local: datetime, wh, *, period_min: int = 15) -> list[tuple[datetime, int]]:
    """One local day of interval ends (00:15 ... 24:00), energy from ``wh(i)`` or a constant."""
    count = 24 * 60 // period_min
    return [
        (day_start_local + timedelta(minutes=period_min * (i + 1)), wh(i) if callable(wh) else wh) for i in range(count)
    ]
