"""``accounts list|show`` tell the relay as last read back from the meter (the meter row's record, which
every head-end read writes), not only as the last confirmed relay command left it."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select

from openprepaid.store.engine import make_engine, make_session_factory
from openprepaid.store.model import Account, MeterInstallation
from openprepaid.store.repository.meter_relay import record_relay_state
from tests.cli import test_accounts_cli as town_cli
from tests.cli.test_accounts_cli import as_json, run

# The town's fixtures (a seeded SQLite file copied per test; the town on each backend).
seeded_sqlite = town_cli.seeded_sqlite
sqlite_town = town_cli.sqlite_town
town = town_cli.town

LATER = datetime(2026, 3, 9, 6, 30, tzinfo=UTC)  # after the seeded disconnection was read back


def _read_relay(url: str, account_no: str, *, connected: bool, at: datetime) -> None:
    engine = make_engine(url)
    try:
        with make_session_factory(engine).begin() as session:
            meter_id = session.execute(
                select(MeterInstallation.meter_id)
                .join(Account, Account.id == MeterInstallation.account_id)
                .where(Account.account_no == account_no, MeterInstallation.removed_at.is_(None))
            ).scalar_one()
            update = record_relay_state(
                session, meter_id, connected=connected, control_state=int(connected), read_at=at
            )
            assert update.applied
    finally:
        engine.dispose()


def test_a_newer_read_than_the_last_command_is_what_list_and_show_tell(town):
    before = as_json(run(town, "show", town.disconnected, "--json"))["relay"]
    assert before["state"] == "disconnected" and before["command_id"] is not None
    # The consumer's relay was closed at the meter (a relay-change push, then a read): connected now.
    _read_relay(town.url, town.disconnected, connected=True, at=LATER)
    after = as_json(run(town, "show", town.disconnected, "--json"))["relay"]
    assert after == {**before, "state": "connected", "read_at": LATER.isoformat()}
    listed = {item["account_no"]: item for item in as_json(run(town, "list", "--json"))["accounts"]}
    assert listed[town.disconnected]["relay"]["state"] == "connected"
    assert town.disconnected not in {
        item["account_no"] for item in as_json(run(town, "list", "--status", "disconnected", "--json"))["accounts"]
    }
    text = run(town, "show", town.disconnected).stdout
    assert "connected (read back 2026-03-09 12:00" in text and f"last relay command #{before['command_id']}" in text


def test_a_meter_read_but_never_commanded_is_no_longer_unknown(sqlite_town):
    assert as_json(run(sqlite_town, "show", sqlite_town.normal, "--json"))["relay"]["state"] == "unknown"
    _read_relay(sqlite_town.url, sqlite_town.normal, connected=True, at=LATER)
    relay = as_json(run(sqlite_town, "show", sqlite_town.normal, "--json"))["relay"]
    assert relay == {
        "state": "connected",
        "read_at": LATER.isoformat(),
        "command_id": None,
        "confirmed_at": None,
        "actor": None,
    }
    assert "no relay command confirmed" in run(sqlite_town, "show", sqlite_town.normal).stdout
