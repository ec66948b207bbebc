"""``openprepaid accounts adjust`` end to end (the town of test_accounts_cli.py, SQLite and PostgreSQL): an
operator's correction once per reference — a retried command (a new "now") changes nothing — refused for
another amount or account, bounded, shown in the statement; and the over-drawl penalty in ``accounts show``."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime

import pytest
from sqlalchemy import func, select

from openprepaid.store.engine import make_engine, make_session_factory
from openprepaid.store.model import Account, BillingReading, LedgerTransaction, MeterInstallation, SettlementKind
from openprepaid.store.repository import settlement as settlement_repo
from openprepaid.store.repository import tariff as tariff_repo
from openprepaid.wallet.overdrawl import PenaltyOutcome, charge_overdrawl_penalty
from openprepaid.wallet.tariff_document import parse_tariff
from openprepaid.wallet.tariff_store import TariffCatalog, add_version
from tests.cli import test_accounts_cli as town_cli
from tests.cli.test_accounts_cli import EXAMPLES, IST, as_json, audit_ok, run

# The town's fixtures (a seeded SQLite file copied per test; the town on each backend).
seeded_sqlite = town_cli.seeded_sqlite
sqlite_town = town_cli.sqlite_town
town = town_cli.town


def adjustment_count(url: str) -> int:
    engine = make_engine(url)
    try:
        with make_session_factory(engine)() as session:
            query = select(func.count()).select_from(LedgerTransaction).where(LedgerTransaction.kind == "adjustment")
            return int(session.execute(query).scalar_one())
    finally:
        engine.dispose()


def test_adjust_credits_once_per_reference_and_shows_in_the_statement(town):
    before = adjustment_count(town.url)
    first = as_json(
        run(town, "adjust", town.normal, "+123.45", "--reason", "meter misread, ticket 4411", "--ref", "T-4411",
            "--actor", "desk:7", "--json")
    )  # fmt: skip
    assert (first["amount_paise"], first["direction"], first["replayed"]) == (12_345, "credit", False)
    assert (first["amount"], first["actor"], first["reason"]) == ("+₹123.45", "desk:7", "meter misread, ticket 4411")
    assert first["wallet_balance_paise"] == 40_000 + 12_345
    # The operator's retry: a new "now", another actor; the reference says it was done.
    again = run(town, "adjust", town.normal, "+123.45", "--reason", "meter misread, ticket 4411", "--ref", "T-4411")
    assert again.exit_code == 0, again.output
    assert "Already adjusted: reference T-4411 was posted before; nothing changed." in again.stdout
    assert f"ledger transaction #{first['ledger_transaction_id']}" in again.stdout
    assert adjustment_count(town.url) == before + 1
    detail = as_json(run(town, "show", town.normal, "--json"))
    assert detail["ledgers"]["prepaid_wallet"]["balance_paise"] == 52_345
    last = detail["statement"][-1]
    assert (last["kind"], last["memo"], last["amount_paise"], last["actor"]) == (
        "adjustment",
        "meter misread, ticket 4411",
        12_345,
        "desk:7",
    )
    assert "meter misread, ticket 4411" in run(town, "show", town.normal).stdout
    audit_ok(town.url)


def test_adjust_debits_with_a_minus_and_keeps_the_effective_time(sqlite_town):
    town = sqlite_town
    result = as_json(
        run(town, "adjust", town.normal, "-99.50", "--reason", "double credit reversed", "--ref", "T-9",
            "--at", "2026-03-07T09:00+05:30", "--json")
    )  # fmt: skip
    assert (result["amount_paise"], result["direction"], result["amount"]) == (-9_950, "debit", "-₹99.50")
    assert result["effective_at"] == "2026-03-07T03:30:00+00:00" and result["wallet_balance_paise"] == 30_050
    text = run(town, "adjust", town.normal, "-99.50", "--reason", "double credit reversed", "--ref", "T-9")
    assert "-₹99.50 debited from the wallet" in text.stdout and "₹300.50 now" in text.stdout
    assert "effective       2026-03-07 09:00:00 Asia/Kolkata" in text.stdout  # the first adjustment's time


def test_the_same_reference_for_another_amount_or_account_is_refused(sqlite_town):
    town = sqlite_town
    assert run(town, "adjust", town.normal, "+50", "--reason", "goodwill", "--ref", "T-5").exit_code == 0
    other_amount = run(town, "adjust", town.normal, "-50", "--reason", "goodwill", "--ref", "T-5")
    assert other_amount.exit_code == 4
    assert f"adjustment reference 'T-5' was already used for account {town.normal}, +₹50.00" in other_amount.output
    other_account = run(town, "adjust", town.low, "+50", "--reason", "goodwill", "--ref", "T-5", "--json")
    assert other_account.exit_code == 4
    assert json.loads(other_account.stdout)["error"]["code"] == "adjustment_conflict"
    assert as_json(run(town, "show", town.low, "--json"))["ledgers"]["prepaid_wallet"]["balance_paise"] == 5_000


@pytest.mark.parametrize(
    ("amount", "more", "message"),
    [
        ("250", [], "give the direction"),
        ("+-5", [], "give the direction"),
        ("+0", [], "zero"),
        ("-0.00", [], "zero"),
        ("+1.234", [], "3 decimals"),
        ("+1,000", [], "thousands separators"),
        ("+1e3", [], "not a number"),
        ("+5", ["--reason", "  "], "--reason must be"),
        ("+5", ["--reason", "x" * 201], "--reason must be"),
        ("+5", ["--ref", "tab\there"], "adjustment reference"),
        ("+5", ["--at", "2026-03-07 09:00"], "UTC offset"),
    ],
)
def test_bad_input_is_refused_and_nothing_is_posted(sqlite_town, amount, more, message):
    town = sqlite_town
    options = {"--reason": "fix", "--ref": "BAD-1"}
    for name, value in zip(more[::2], more[1::2], strict=True):
        options[name] = value
    before = adjustment_count(town.url)
    result = run(town, "adjust", town.normal, amount, *[item for pair in options.items() for item in pair])
    assert result.exit_code == 2 and message in result.output, result.output
    assert adjustment_count(town.url) == before


def test_the_limit_is_the_recharge_maximum_and_unknown_accounts_are_not_found(sqlite_town, monkeypatch):
    town = sqlite_town
    monkeypatch.setenv("OPENPREPAID_RECHARGE_MAXIMUM_PAISE", "10000")
    refused = run(town, "adjust", town.normal, "-100.01", "--reason", "typo?", "--ref", "BIG")
    assert refused.exit_code == 4 and "at most ₹100.00 either way" in refused.output
    assert run(town, "adjust", town.normal, "+100", "--reason", "ok", "--ref", "BIG").exit_code == 0
    missing = run(town, "adjust", "NOPE", "+1", "--reason", "x", "--ref", "R", "--json")
    assert missing.exit_code == 3 and json.loads(missing.stdout)["error"]["code"] == "unknown_account"


def test_show_lists_the_over_drawl_penalty(sqlite_town):
    """The normal account moved to the demo tariff (over-drawl penalty ₹100/kW, 10 % tolerance); its meter's
    March billing snapshot says 4.5 kW at 19:30 on the 10th: the penalty is a line of its wallet statement."""
    town = sqlite_town
    engine = make_engine(town.url)
    try:
        with make_session_factory(engine).begin() as session:
            account = session.execute(select(Account).where(Account.account_no == town.normal)).scalar_one()
            catalog = TariffCatalog(parse_tariff)
            document = (EXAMPLES / "demo-slab-tod-duty-rebate.yaml").read_text(encoding="utf-8")
            tariff_id = tariff_repo.insert_tariff(
                session, utility_id=account.utility_id, code="DEMO-SLAB-TOD", name="demo", category="domestic"
            )
            now = datetime(2026, 4, 1, 6, 0, tzinfo=UTC)
            add_version(session, catalog, tariff_id=tariff_id, document=document, created_by="test", now=now)
            account.tariff_id = tariff_id
            meter_id = session.execute(
                select(MeterInstallation.meter_id).where(MeterInstallation.account_id == account.id)
            ).scalar_one()
            session.add(
                BillingReading(
                    meter_id=meter_id,
                    billing_at=datetime(2026, 4, 1, tzinfo=IST).astimezone(UTC),
                    import_wh_total=500_000,
                    max_demand_w=4_500,
                    max_demand_at=datetime(2026, 3, 10, 19, 30, tzinfo=IST).astimezone(UTC),
                    extra={},
                    received_at=now,
                )
            )
            session.flush()
            result = charge_overdrawl_penalty(
                session, account_id=account.id, month_date=date(2026, 3, 1), catalog=catalog, now=now
            )
            assert result.outcome is PenaltyOutcome.POSTED
    finally:
        engine.dispose()
    detail = as_json(run(town, "show", town.normal, "--json"))
    last = detail["statement"][-1]
    # 1.5 kW above 3 kW × ₹100 = ₹150 (the demo tariff's duty is on energy and fixed only)
    assert (last["kind"], last["amount_paise"], last["value_date"]) == ("overdrawl_penalty", -15_000, "2026-03-31")
    assert last["memo"].startswith("over-drawl penalty 2026-03: maximum demand 4.500 kW at 2026-03-10 19:30")
    text = run(town, "show", town.normal).stdout
    assert "overdrawl_penalty over-drawl penalty 2026-03" in text and "-₹150.00" in text
    audit_ok(town.url)


def test_statements_show_the_months_maximum_demand(sqlite_town):
    town = sqlite_town
    engine = make_engine(town.url)
    try:
        with make_session_factory(engine).begin() as session:
            account_id = session.execute(select(Account.id).where(Account.account_no == town.normal)).scalar_one()
            for month, demand in ((date(2026, 1, 1), None), (date(2026, 2, 1), {"status": "no_demand"})):
                record = demand or {
                    "meter_id": 7,
                    "max_demand_w": 4_200,
                    "max_demand_at": "2026-01-12T14:00:00+00:00",
                    "billing_at": "2026-01-31T18:30:00+00:00",
                    "status": "posted",
                    "penalty_ledger_transaction_id": 1,
                }
                settlement_repo.insert_statement(
                    session,
                    {
                        "account_id": account_id,
                        "month_date": month,
                        "kind": SettlementKind.MONTHLY,
                        "energy_wh": 0,
                        "charged_paise": 12_000,
                        "billed_paise": 12_000,
                        "difference_paise": 0,
                        "lines": {
                            "charged": {"penalty.overdrawl": 12_000},
                            "billed": {"penalty.overdrawl": 12_000},
                            "max_demand": record,
                        },
                        "ledger_transaction_id": None,
                        "created_at": datetime(2026, 3, 1, tzinfo=UTC),
                        "created_by": "settlement",
                    },
                )
    finally:
        engine.dispose()
    january = run(town, "statements", town.normal, "--month", "2026-01").stdout
    assert "maximum demand 4.2 kW at 2026-01-12 19:30 (billing snapshot of meter #7): over-drawl penalty posted" in (
        january
    )
    february = run(town, "statements", town.normal, "--month", "2026-02").stdout
    assert "maximum demand: no billing snapshot at the month's end" in february
    document = as_json(run(town, "statements", town.normal, "--json"))
    assert document["timezone"] == "Asia/Kolkata"
    assert [item["max_demand"]["status"] for item in document["statements"]] == ["posted", "no_demand"]
