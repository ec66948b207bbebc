"""``openprepaid accounts list|show|recharge|reverse|gap|statements`` end to end, on a real database file
(and on the real PostgreSQL server), seeded with the wallet's own functions: books, recharges,
adjustments as consumption, the rules service's runs, relay commands as the HES leaves them."""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import event, func, select
from typer.testing import CliRunner

from openprepaid.cli import app
from openprepaid.cli.accounts_query import StatusFilter, account_list
from openprepaid.store import migrate
from openprepaid.store.engine import make_engine, make_session_factory
from openprepaid.store.model import CommandKind, CommandState, Payment, SettlementKind
from openprepaid.store.repository import settlement as settlement_repo
from openprepaid.store.repository import tariff as tariff_repo
from openprepaid.wallet import chart_of_accounts as chart
from openprepaid.wallet import ledger
from openprepaid.wallet.account_books import record_opening_arrears
from openprepaid.wallet.rules import RulesConfig
from openprepaid.wallet.rules_service import run_rules
from openprepaid.wallet.tariff_document import parse_tariff
from openprepaid.wallet.tariff_store import TariffCatalog, add_version
from tests.conftest import BACKENDS
from tests.store.factories import make_utility
from tests.wallet.rules_service_world import IST, command_for, metered_consumer, pay, spend
from tests.wallet.test_ledger_world import Books, make_consumer

runner = CliRunner()
EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "tariffs"
SETUP_AT = datetime(2026, 3, 1, 6, 0, tzinfo=UTC)
MONDAY = datetime(2026, 3, 2, 10, 0, tzinfo=IST).astimezone(UTC)  # credit runs out, emergency credit starts
FRIDAY = datetime(2026, 3, 6, 10, 0, tzinfo=IST).astimezone(UTC)  # 3 days later: exhausted, disconnection allowed
RULES = RulesConfig(zone="Asia/Kolkata")


@dataclass
class Town:
    args: list[str]  # the root options naming the database
    url: str
    normal: str  # ₹400 in credit, an operator's disconnect command queued
    disconnected: str  # exhausted, relay opened by the rules (read back)
    protected: str  # hospital, exhausted, still connected: the enforcement gap
    low: str  # no meter, ₹50 left of a ₹500 recharge, arrears carried over


def _seed(url: str) -> dict[str, str]:
    migrate.upgrade(url)
    engine = make_engine(url)
    try:
        with make_session_factory(engine).begin() as session:
            utility = make_utility(session, code="TOWN")
            books = Books(utility, chart.open_utility_ledgers(session, utility.id))
            catalog = TariffCatalog(parse_tariff)
            tariff_id = tariff_repo.insert_tariff(
                session, utility_id=utility.id, code="DL-DOM", name="Delhi domestic", category="domestic"
            )
            document = (EXAMPLES / "delhi-domestic-2019-20.yaml").read_text(encoding="utf-8")
            add_version(session, catalog, tariff_id=tariff_id, document=document, created_by="test", now=SETUP_AT)

            normal, normal_meter = metered_consumer(session, books)
            normal.account.tariff_id = tariff_id
            pay(session, normal, 50_000, SETUP_AT, ref="PAY-N1")
            spend(session, normal, 10_000, SETUP_AT + timedelta(hours=2))
            command_for(session, normal, normal_meter, CommandState.QUEUED, at=FRIDAY, actor="operator:asha")

            cut, cut_meter = metered_consumer(session, books, category="commercial", seen_at=FRIDAY)
            pay(session, cut, 10_000, SETUP_AT, ref="PAY-D1")
            spend(session, cut, 15_000, SETUP_AT + timedelta(hours=2))

            hospital, _ = metered_consumer(session, books, category="hospital", seen_at=FRIDAY)
            hospital.account.protected = True
            hospital.account.protection_reason = "life support"
            pay(session, hospital, 10_000, SETUP_AT, ref="PAY-H1")
            spend(session, hospital, 20_000, SETUP_AT + timedelta(hours=2))

            low = make_consumer(session, books)
            record_opening_arrears(
                session,
                account_id=low.account.id,
                amount_paise=100_000,
                effective_at=SETUP_AT,
                actor="migration",
                now=SETUP_AT,
            )
            pay(session, low, 50_000, SETUP_AT, ref="PAY-L1")
            spend(session, low, 45_000, SETUP_AT + timedelta(hours=3))

            run_rules(session, utility_id=utility.id, config=RULES, now=MONDAY)
            result = run_rules(session, utility_id=utility.id, config=RULES, now=FRIDAY)
            assert [request.account_id for request in result.commands] == [cut.account.id]
            command_for(session, cut, cut_meter, CommandState.CONFIRMED, at=FRIDAY + timedelta(minutes=5))
            session.flush()
            return {
                "normal": normal.account.account_no,
                "disconnected": cut.account.account_no,
                "protected": hospital.account.account_no,
                "low": low.account.account_no,
            }
    finally:
        engine.dispose()


@pytest.fixture(scope="module")
def seeded_sqlite(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    """The town seeded once; each test gets a copy of the file."""
    path = tmp_path_factory.mktemp("town") / "openprepaid.sqlite3"
    return path, _seed(f"sqlite:///{path}")


@pytest.fixture
def sqlite_town(seeded_sqlite, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Town:
    monkeypatch.delenv("OPENPREPAID_CONFIG", raising=False)
    template, names = seeded_sqlite
    path = tmp_path / "openprepaid.sqlite3"
    shutil.copyfile(template, path)
    url = f"sqlite:///{path}"
    return Town(["--data-dir", str(tmp_path), "--database-url", url], url, **names)


@pytest.fixture(params=BACKENDS)
def town(request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Town:
    """The town on each backend (PostgreSQL: a database of the test's own, seeded afresh)."""
    if request.param == "sqlite":
        return request.getfixturevalue("sqlite_town")
    monkeypatch.delenv("OPENPREPAID_CONFIG", raising=False)
    url = request.getfixturevalue("postgres_url")
    return Town(["--data-dir", str(tmp_path), "--database-url", url], url, **_seed(url))


def run(town_or_args, *args: str):
    prefix = town_or_args.args if isinstance(town_or_args, Town) else town_or_args
    return runner.invoke(app, [*prefix, "accounts", *args])


def as_json(result) -> dict:
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def audit_ok(url: str) -> None:
    engine = make_engine(url)
    try:
        with make_session_factory(engine)() as session:
            report = ledger.audit(session)
            assert report.ok, report
    finally:
        engine.dispose()


def payment_count(url: str) -> int:
    engine = make_engine(url)
    try:
        with make_session_factory(engine)() as session:
            return int(session.execute(select(func.count()).select_from(Payment)).scalar_one())
    finally:
        engine.dispose()


# --- list ---------------------------------------------------------------------------------------------


def test_list_shows_balance_credit_phase_relay_pending_and_last_recharge(town):
    document = as_json(run(town, "list", "--json"))
    by_no = {item["account_no"]: item for item in document["accounts"]}
    assert document["count"] == 4 and set(by_no) == {town.normal, town.disconnected, town.protected, town.low}
    normal, cut, hospital, low = (by_no[n] for n in (town.normal, town.disconnected, town.protected, town.low))
    assert (normal["balance_paise"], normal["balance"], normal["emergency_credit"]) == (40_000, "₹400.00", "normal")
    assert normal["relay"]["state"] == "unknown"  # never commanded: no read-back
    assert normal["pending_command"]["action"] == "disconnect" and normal["pending_command"]["state"] == "queued"
    assert normal["last_recharge"] == {
        "payment_ref": "PAY-N1",
        "amount_paise": 50_000,
        "amount": "₹500.00",
        "received_at": SETUP_AT.isoformat(),
    }
    assert (cut["balance_paise"], cut["emergency_credit"], cut["relay"]["state"]) == (
        -5_000,
        "exhausted",
        "disconnected",
    )
    assert hospital["protected"] and hospital["emergency_credit"] == "exhausted"
    assert hospital["protected_by"] == ["category:hospital", "account:life support"]
    assert not normal["protected"] and normal["protected_by"] == []
    assert hospital["relay"]["state"] == "unknown" and hospital["meter_serial"]
    assert low["meter_serial"] is None and low["balance_paise"] == 5_000

    text = run(town, "list")
    assert text.exit_code == 0, text.output
    lines = text.stdout.splitlines()
    assert lines[0].split()[:4] == ["account", "consumer", "category", "prot"]
    assert any(town.disconnected in line and "-₹50.00" in line and "disconnected" in line for line in lines)
    assert any(
        town.normal in line and "disconnect queued" in line and "₹500.00 2026-03-01 11:30" in line for line in lines
    )
    assert lines[-1] == "4 accounts"


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        ("connected", {"normal", "protected", "low"}),
        ("disconnected", {"disconnected"}),
        ("exhausted", {"disconnected", "protected"}),
        ("emergency", set()),
        ("low", {"disconnected", "protected", "low"}),
    ],
)
def test_list_status_filters(sqlite_town, status, expected):
    town = sqlite_town
    document = as_json(run(town, "list", "--status", status, "--json"))
    assert {item["account_no"] for item in document["accounts"]} == {getattr(town, name) for name in expected}


def test_list_limit_and_utility(sqlite_town):
    town = sqlite_town
    assert as_json(run(town, "list", "--limit", "2", "--json"))["count"] == 2
    assert as_json(run(town, "list", "--utility", "TOWN", "--json"))["count"] == 4
    result = run(town, "list", "--utility", "NOPE")
    assert result.exit_code == 3 and "unknown utility 'NOPE'" in result.output


def test_list_reads_a_fixed_number_of_statements_whatever_the_number_of_accounts(tmp_path):
    url = f"sqlite:///{tmp_path / 'many.sqlite3'}"
    migrate.upgrade(url)
    engine = make_engine(url)
    sessions = make_session_factory(engine)
    counts = []
    with sessions.begin() as session:
        utility = make_utility(session, code="MANY")
        books = Books(utility, chart.open_utility_ledgers(session, utility.id))
    for batch in (3, 30):
        with sessions.begin() as session:
            for _ in range(batch):
                consumer, meter = metered_consumer(session, books)
                pay(session, consumer, 10_000, SETUP_AT)
                command_for(
                    session, consumer, meter, CommandState.CONFIRMED, at=FRIDAY, kind=CommandKind.RELAY_RECONNECT
                )
        with sessions() as session:
            sent: list[str] = []

            def record(*args: object, sent: list[str] = sent) -> None:
                sent.append(str(args[2]))

            event.listen(session.connection(), "before_cursor_execute", record)
            items = account_list(session, config=RULES, utility_id=utility.id, status=StatusFilter.ALL, limit=1000)
            counts.append(len(sent))
            assert all(item["relay"]["state"] == "connected" for item in items)
    engine.dispose()
    assert counts[0] == counts[1] <= 5


# --- show ---------------------------------------------------------------------------------------------


def test_show_gives_the_whole_account(town):
    detail = as_json(run(town, "show", town.disconnected, "--json"))
    assert detail["account_no"] == town.disconnected and detail["utility"]["code"] == "TOWN"
    assert detail["category"] == "commercial" and detail["sanctioned_load_w"] == 3000
    assert detail["meters"][0]["has_relay"] and detail["meters"][0]["removed_at"] is None
    assert detail["ledgers"]["prepaid_wallet"]["balance_paise"] == -5_000
    assert detail["ledgers"]["prepaid_wallet"]["matches_postings"]
    assert detail["emergency_credit"]["phase"] == "exhausted"
    assert detail["relay"]["state"] == "disconnected" and detail["open_commands"] == []
    statement = detail["statement"]
    assert [entry["amount_paise"] for entry in statement] == [10_000, -15_000]
    assert [entry["balance_after_paise"] for entry in statement] == [10_000, -5_000]
    assert statement[0]["kind"] == "recharge" and statement[1]["kind"] == "adjustment"
    kinds = {notice["kind"] for notice in detail["notices"]}
    assert {"emergency_credit_started", "emergency_credit_exhausted"} <= kinds
    assert [(r["payment_ref"], r["state"]) for r in detail["recharges"]] == [("PAY-D1", "credited")]

    text = run(town, "show", town.disconnected)
    assert text.exit_code == 0, text.output
    for expected in ("Wallet statement", "Relay       disconnected", "exhausted", "PAY-D1", "-₹50.00"):
        assert expected in text.stdout


def test_show_tariff_arrears_and_pending_command(sqlite_town):
    town = sqlite_town
    normal = as_json(run(town, "show", town.normal, "--json"))
    assert normal["tariff"]["code"] == "DL-DOM" and normal["tariff"]["version"] == 1
    assert [c["state"] for c in normal["open_commands"]] == ["queued"] and normal["relay"]["state"] == "unknown"
    low = as_json(run(town, "show", town.low, "--json"))
    assert low["ledgers"]["arrears"]["balance_paise"] == 100_000 and low["meters"] == []
    text = run(town, "show", town.low)
    assert "arrears owed ₹1,000.00" in text.stdout and "none installed" in text.stdout


def test_show_unknown_account(sqlite_town):
    town = sqlite_town
    result = run(town, "show", "NOPE")
    assert result.exit_code == 3 and "no account 'NOPE'" in result.output
    result = run(town, "show", "NOPE", "--json")
    assert result.exit_code == 3 and json.loads(result.stdout)["error"]["code"] == "unknown_account"


# --- recharge, reverse ----------------------------------------------------------------------------------


def test_recharge_prints_the_receipt_and_a_repeat_credits_nothing(town):
    first = as_json(run(town, "recharge", town.normal, "250.50", "--ref", "CLI-1", "--json", "--actor", "desk:1"))
    assert (first["amount_paise"], first["wallet_credit_paise"], first["replayed"]) == (25_050, 25_050, False)
    assert first["wallet_balance_after_paise"] == 65_050 and first["state"] == "credited"
    assert first["actor"] == "desk:1" and first["channel"] == "cli"

    again = run(town, "recharge", town.normal, "250.50", "--ref", "CLI-1")
    assert again.exit_code == 0, again.output
    assert "Already credited" in again.stdout and "nothing changed" in again.stdout
    detail = as_json(run(town, "show", town.normal, "--json"))
    assert detail["ledgers"]["prepaid_wallet"]["balance_paise"] == 65_050
    assert [r["payment_ref"] for r in detail["recharges"]] == ["CLI-1", "PAY-N1"]
    audit_ok(town.url)


def test_recharge_with_a_used_reference_is_refused(sqlite_town):
    town = sqlite_town
    assert run(town, "recharge", town.normal, "100", "--ref", "CLI-2").exit_code == 0
    other_amount = run(town, "recharge", town.normal, "101", "--ref", "CLI-2")
    assert other_amount.exit_code == 4 and f"already used for account {town.normal}, ₹100.00" in other_amount.output
    other_account = run(town, "recharge", town.low, "100", "--ref", "CLI-2", "--json")
    assert other_account.exit_code == 4
    assert json.loads(other_account.stdout)["error"]["code"] == "payment_ref_conflict"
    assert as_json(run(town, "show", town.low, "--json"))["ledgers"]["prepaid_wallet"]["balance_paise"] == 5_000


@pytest.mark.parametrize(
    ("amount", "message"),
    [
        ("-5", "negative"),
        ("0", "zero"),
        ("0.00", "zero"),
        ("1.234", "3 decimals"),
        ("12.5.0", "not a number"),
        ("abc", "not a number"),
        ("NaN", "not a number"),
        ("1e3", "not a number"),
        ("", "not a number"),
        ("1,000", "thousands separators"),
    ],
)
def test_bad_amounts_are_refused_and_nothing_is_written(sqlite_town, amount, message):
    town = sqlite_town
    before = payment_count(town.url)
    result = run(town, "recharge", town.normal, amount, "--ref", "BAD-1")
    assert result.exit_code == 2 and message in result.output
    assert payment_count(town.url) == before


def test_amount_below_the_policy_minimum_is_refused_in_rupees(sqlite_town):
    town = sqlite_town
    result = run(town, "recharge", town.normal, "0.50", "--ref", "SMALL")
    assert result.exit_code == 4 and "₹0.50 refused" in result.output and "from ₹1.00" in result.output


def test_rupee_sign_and_whole_rupees_are_exact(sqlite_town):
    town = sqlite_town
    receipt = as_json(
        run(town, "recharge", town.low, "₹1000", "--ref", "CLI-3", "--json", "--at", "2026-03-07T09:00+05:30")
    )
    assert receipt["amount_paise"] == 100_000 and receipt["received_at"] == "2026-03-07T03:30:00+00:00"
    result = run(town, "recharge", town.low, "5", "--ref", "CLI-4", "--at", "2026-03-07 09:00")
    assert result.exit_code == 2 and "UTC offset" in result.output


def test_the_configured_recharge_policy_is_applied(sqlite_town, monkeypatch):
    town = sqlite_town
    monkeypatch.setenv("OPENPREPAID_RECHARGE_MULTIPLE_OF_PAISE", "1000")
    monkeypatch.setenv("OPENPREPAID_ARREARS_RECOVERY_PERCENT", "20")
    refused = run(town, "recharge", town.low, "105", "--ref", "POL-1")
    assert refused.exit_code == 4 and "in multiples of ₹10.00" in refused.output
    receipt = as_json(run(town, "recharge", town.low, "110", "--ref", "POL-2", "--json"))
    assert receipt["amount_paise"] == 11_000
    assert receipt["arrears_recovered_paise"] == 2_200  # 20 % of the recharge goes to the arrears first
    assert receipt["wallet_credit_paise"] == 8_800
    monkeypatch.setenv("OPENPREPAID_RECHARGE_MINIMUM_PAISE", "900000000")
    invalid = run(town, "recharge", town.low, "110", "--ref", "POL-3")
    assert invalid.exit_code == 2 and "recharge_minimum_paise is above recharge_maximum_paise" in invalid.output
    audit_ok(town.url)


def test_a_rules_file_setting_is_used_and_a_broken_one_is_reported(sqlite_town, tmp_path, monkeypatch):
    town = sqlite_town
    broken = tmp_path / "rules.yaml"
    broken.write_text("emergency_credit: {days: -1}\n", encoding="utf-8")
    monkeypatch.setenv("OPENPREPAID_RULES_FILE", str(broken))
    result = run(town, "gap", "--at", "2026-03-06T10:00+05:30")
    assert result.exit_code == 2 and f"rules file {broken}" in result.output


@pytest.mark.parametrize("ref", ["", "   ", "x" * 101, "tab\there"])
def test_bad_payment_references_are_refused(sqlite_town, ref):
    town = sqlite_town
    result = run(town, "recharge", town.normal, "100", "--ref", ref)
    assert result.exit_code == 2 and "1..100 printable characters" in result.output
    assert run(town, "reverse", ref, "--reason", "bounced").exit_code == 2


def test_recharge_of_an_unknown_account(sqlite_town):
    town = sqlite_town
    result = run(town, "recharge", "NOPE", "100", "--ref", "X-1")
    assert result.exit_code == 3 and "no account 'NOPE'" in result.output


def test_reverse_debits_the_wallet_back_once(town):
    assert run(town, "recharge", town.normal, "300", "--ref", "BOUNCE").exit_code == 0
    result = as_json(run(town, "reverse", "BOUNCE", "--reason", "cheque bounced", "--json", "--actor", "desk:2"))
    assert result["wallet_balance_paise"] == 40_000 and not result["replayed"]
    assert (result["reason"], result["reversed_by"]) == ("cheque bounced", "desk:2")
    again = run(town, "reverse", "BOUNCE", "--reason", "cheque bounced")
    assert again.exit_code == 0 and "Already reversed" in again.stdout and "₹400.00 now" in again.stdout
    detail = as_json(run(town, "show", town.normal, "--json"))
    assert (
        detail["recharges"][0]["state"] == "reversed" and detail["ledgers"]["prepaid_wallet"]["balance_paise"] == 40_000
    )
    assert detail["statement"][-1]["kind"] == "recharge_reversal"
    audit_ok(town.url)


def test_reverse_failures(sqlite_town):
    town = sqlite_town
    unknown = run(town, "reverse", "NO-SUCH-REF", "--reason", "bounced")
    assert unknown.exit_code == 3 and "no payment 'NO-SUCH-REF'" in unknown.output
    empty_reason = run(town, "reverse", "PAY-N1", "--reason", "  ")
    assert empty_reason.exit_code == 2 and "--reason" in empty_reason.output


# --- gap, statements, several utilities, an empty database -----------------------------------------------


def test_gap_names_the_protected_account_and_why(town):
    at = (FRIDAY + timedelta(hours=1)).isoformat()
    document = as_json(run(town, "gap", "--at", at, "--json"))
    assert [(item["account_no"], item["reason"]) for item in document["accounts"]] == [(town.protected, "protected")]
    assert document["accounts"][0]["balance_paise"] == -10_000
    text = run(town, "gap", "--at", at)
    assert text.exit_code == 0, text.output
    assert "protected by category:hospital, account:life support" in text.stdout
    assert "1 accounts due for disconnection but still connected" in text.stdout
    later = as_json(run(town, "gap", "--at", (FRIDAY + timedelta(days=3)).isoformat(), "--json"))
    assert later["accounts"][0]["all_reasons"] == ["protected", "meter_offline"]
    assert run(town, "gap", "--at", "yesterday").exit_code == 2


def test_gap_with_a_rules_file(sqlite_town, tmp_path):
    town = sqlite_town
    rules = tmp_path / "rules.yaml"
    rules.write_text("protection: {protected_categories: []}\nkill_switch_engaged: true\n", encoding="utf-8")
    document = as_json(run(town, "gap", "--at", FRIDAY.isoformat(), "--rules", str(rules), "--json"))
    assert document["accounts"][0]["all_reasons"][:2] == ["protected", "kill_switch"]
    rules.write_text("no_such_setting: 1\n", encoding="utf-8")
    assert run(town, "gap", "--rules", str(rules)).exit_code == 2


def test_settlement_statements(sqlite_town):
    town = sqlite_town
    engine = make_engine(town.url)
    with make_session_factory(engine).begin() as session:
        account_id = session.execute(select(Payment.account_id).where(Payment.payment_ref == "PAY-N1")).scalar_one()
        settlement_repo.insert_statement(
            session,
            {
                "account_id": account_id,
                "month_date": date(2026, 2, 1),
                "kind": SettlementKind.MONTHLY,
                "energy_wh": 300_000,
                "charged_paise": 120_100,
                "billed_paise": 120_000,
                "difference_paise": -100,
                "lines": {
                    "charged": {"energy.slab1": 60_100},
                    "billed": {"energy.slab1": 60_000},
                    "multi_version": False,
                },
                "ledger_transaction_id": None,
                "created_at": SETUP_AT,
                "created_by": "settlement",
            },
        )
        parts = [
            {"version": 1, "energy_wh": 100_000, "lines": {"energy.slab1": 30_000}},
            {"version": 2, "energy_wh": 50_000, "lines": {"energy.slab1": 16_000}},
        ]
        settlement_repo.insert_statement(
            session,
            {
                "account_id": account_id,
                "month_date": date(2026, 1, 1),
                "kind": SettlementKind.MONTHLY,
                "energy_wh": 150_000,
                "charged_paise": 45_000,
                "billed_paise": 46_000,
                "difference_paise": 1_000,
                "lines": {
                    "charged": {"energy.slab1": 45_000},
                    "billed": {"energy.slab1": 46_000},
                    "multi_version": True,
                    "versions": parts,
                },
                "ledger_transaction_id": None,
                "created_at": SETUP_AT,
                "created_by": "settlement",
            },
        )
    engine.dispose()
    january = run(town, "statements", town.normal, "--month", "2026-01")
    assert "difference ₹10.00 debited" in january.stdout
    assert "billed in parts (version 1: 100 kWh, ₹300.00; version 2: 50 kWh, ₹160.00)" in january.stdout
    document = as_json(run(town, "statements", town.normal, "--month", "2026-02", "--json"))
    assert document["statements"][0]["components"] == [
        {"component": "energy.slab1", "charged_paise": 60_100, "billed_paise": 60_000}
    ]
    text = run(town, "statements", town.normal, "--month", "2026-02")
    assert "₹1.00 credited back" in text.stdout and "300 kWh" in text.stdout
    assert "none" in run(town, "statements", town.normal, "--month", "2026-03").stdout
    assert "billed in parts" not in text.stdout
    assert run(town, "statements", town.normal, "--month", "March").exit_code == 2


def test_an_account_number_in_two_utilities_needs_the_utility(sqlite_town):
    town = sqlite_town
    engine = make_engine(town.url)
    with make_session_factory(engine).begin() as session:
        other = make_utility(session, code="OTHER")
        books = Books(other, chart.open_utility_ledgers(session, other.id))
        twin = make_consumer(session, books)
        twin.account.account_no = town.normal
    engine.dispose()
    ambiguous = run(town, "show", town.normal)
    assert ambiguous.exit_code == 2 and "OTHER, TOWN" in ambiguous.output
    assert as_json(run(town, "show", town.normal, "--utility", "OTHER", "--json"))["utility"]["code"] == "OTHER"
    listed = run(town, "list")
    assert f"OTHER/{town.normal}" in listed.stdout


def test_an_empty_database(tmp_path, monkeypatch):
    monkeypatch.delenv("OPENPREPAID_CONFIG", raising=False)
    args = ["--data-dir", str(tmp_path)]
    listed = run(args, "list")
    assert listed.exit_code == 0 and listed.stdout.splitlines()[-1] == "0 accounts"
    assert as_json(run(args, "list", "--json")) == {"count": 0, "accounts": []}
    assert as_json(run(args, "gap", "--json"))["count"] == 0
    assert run(args, "show", "A1").exit_code == 3
    assert run(args, "recharge", "A1", "100", "--ref", "R").exit_code == 3
    assert run(args, "reverse", "R", "--reason", "bounced").exit_code == 3
    assert run(args, "statements", "A1").exit_code == 3


def test_an_unreachable_database(tmp_path, monkeypatch):
    monkeypatch.delenv("OPENPREPAID_CONFIG", raising=False)
    result = run(["--database-url", "postgresql+psycopg://nobody@127.0.0.1:1/none"], "list")
    assert result.exit_code == 1 and "cannot open the database" in result.output


def test_a_receipt_says_when_the_relay_is_open(sqlite_town):
    town = sqlite_town
    receipt = as_json(run(town, "recharge", town.disconnected, "100", "--ref", "CUT-1", "--json"))
    assert receipt["relay"]["state"] == "disconnected" and receipt["wallet_balance_after_paise"] == 5_000
    text = run(town, "recharge", town.disconnected, "100", "--ref", "CUT-1")
    assert "relay           disconnected: the prepaid rules reconnect it" in text.stdout
    assert "relay " not in run(town, "recharge", town.normal, "100", "--ref", "N-2").stdout
