"""``openprepaid meters import|list|show|availability|reread`` end to end on a SQLite file."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select, update
from typer.testing import CliRunner

from openprepaid.cli import app
from openprepaid.store import migrate
from openprepaid.store.engine import make_engine, make_session_factory
from openprepaid.store.model import Meter
from openprepaid.store.repository import meter_relay
from tests.store.factories import make_account, make_meter_type, make_utility

runner = CliRunner()
PASSWORD = "Pa55-word-not-in-db"
EK = "00112233445566778899AABBCCDDEEFF"
AK = "FFEEDDCCBBAA99887766554433221100"


def title(number: int) -> str:
    return (b"OPS" + number.to_bytes(5, "big")).hex()


@pytest.fixture
def database(tmp_path):
    url = f"sqlite:///{tmp_path / 'openprepaid.sqlite3'}"
    migrate.upgrade(url)
    engine = make_engine(url)
    with make_session_factory(engine).begin() as session:
        utility = make_utility(session, code="TOWN")
        meter_type = make_meter_type(session)
        account = make_account(session, utility)
        names = (meter_type.code, account.account_no)
    engine.dispose()
    return tmp_path, url, names


def invoke(tmp_path, *args):
    return runner.invoke(app, ["--data-dir", str(tmp_path), *args])


def write_csv(tmp_path, type_code, account_no, extra=""):
    path = tmp_path / "meters.csv"
    path.write_text(
        "serial,manufacturer_code,system_title,meter_type,comm_mode,host,port,lls_password,ek,ak,account_no\n"
        f"40000001,OPS,{title(40000001)},{type_code},dial,10.2.0.1,4059,{PASSWORD},{EK},{AK},{account_no}\n"
        f"40000002,OPS,{title(40000002)},{type_code},dial_in,,,{PASSWORD},,,\n" + extra,
        encoding="utf-8",
    )
    return path


def meter_count(url):
    engine = make_engine(url)
    with make_session_factory(engine)() as session:
        count = session.execute(select(func.count()).select_from(Meter)).scalar_one()
    engine.dispose()
    return count


def test_import_reimport_list_and_availability(database):
    tmp_path, _url, (type_code, account_no) = database
    path = write_csv(tmp_path, type_code, account_no)
    result = invoke(tmp_path, "meters", "import", str(path), "--utility", "TOWN")
    assert result.exit_code == 0, result.output
    assert "2 created, 0 updated, 0 unchanged" in result.output
    result = invoke(tmp_path, "meters", "import", str(path))
    assert result.exit_code == 0 and "0 created, 0 updated, 2 unchanged" in result.output

    result = invoke(tmp_path, "meters", "list")
    assert result.exit_code == 0
    assert "40000001" in result.output and "10.2.0.1:4059" in result.output and account_no in result.output
    assert PASSWORD not in result.output and "2 meters" in result.output

    result = invoke(tmp_path, "meters", "availability", "--day", "2026-11-23")
    assert result.exit_code == 0, result.output
    assert "0/96" in result.output and "MISSING" in result.output and "(Asia/Kolkata)" in result.output
    assert "never communicated: 2" in result.output

    data = b"".join(p.read_bytes() for p in tmp_path.iterdir() if p.name.startswith("openprepaid.sqlite3"))
    assert b"meter_credential" in data
    for secret in (PASSWORD.encode(), bytes.fromhex(EK), bytes.fromhex(AK), EK.encode(), EK.lower().encode()):
        assert secret not in data


def test_bad_rows_import_nothing_and_exit_nonzero(database):
    tmp_path, url, (type_code, account_no) = database
    bad = f"40000003,OPS,{title(40000003)},{type_code},dial,10.2.0.3,99999,{PASSWORD},{EK}FF,{AK},\n"
    path = write_csv(tmp_path, type_code, account_no, extra=bad)
    result = invoke(tmp_path, "meters", "import", str(path))
    assert result.exit_code == 1
    assert "line 4: port: must be an integer 1..65535, got '99999'" in result.output
    assert "line 4: ek: the value is not 32 hex digits" in result.output
    assert "nothing imported: 2 errors" in result.output
    assert EK not in result.output and PASSWORD not in result.output
    assert meter_count(url) == 0
    result = invoke(tmp_path, "meters", "import", str(path), "--partial")
    assert result.exit_code == 1 and "2 created" in result.output
    assert meter_count(url) == 2


def test_dry_run_and_bad_arguments(database):
    tmp_path, url, (type_code, account_no) = database
    path = write_csv(tmp_path, type_code, account_no)
    result = invoke(tmp_path, "meters", "import", str(path), "--dry-run")
    assert result.exit_code == 0 and "2 rows valid, nothing written" in result.output
    assert meter_count(url) == 0
    result = invoke(tmp_path, "meters", "availability", "--day", "yesterday")
    assert result.exit_code == 2 and "not a date" in result.output
    result = invoke(tmp_path, "meters", "list", "--utility", "NOPE")
    assert result.exit_code == 1 and "unknown utility" in result.output
    (tmp_path / "latin1.csv").write_bytes("serial\n\xe9\n".encode("latin-1"))
    result = invoke(tmp_path, "meters", "import", str(tmp_path / "latin1.csv"))
    assert result.exit_code == 1 and "not UTF-8" in result.output


def test_list_and_show_the_relay_as_last_read(database):
    tmp_path, url, (type_code, account_no) = database
    assert invoke(tmp_path, "meters", "import", str(write_csv(tmp_path, type_code, account_no))).exit_code == 0
    result = invoke(tmp_path, "meters", "list")
    assert result.output.count("not read") == 2  # the meter type has a relay; nobody read it yet
    engine = make_engine(url)
    with make_session_factory(engine).begin() as session:
        first, second = session.execute(select(Meter.id).order_by(Meter.serial)).scalars()
        read_at = datetime(2026, 11, 24, 5, 12, 30, tzinfo=UTC)  # 10:42 in Asia/Kolkata
        meter_relay.record_relay_state(session, first, connected=False, control_state=0, read_at=read_at)
        meter_relay.record_relay_state(session, second, connected=False, control_state=2, read_at=read_at)
    engine.dispose()

    listed = invoke(tmp_path, "meters", "list")
    assert listed.exit_code == 0, listed.output
    assert "open, read 2026-11-24 10:42 IST" in listed.output
    assert "open, ready for reconnection, read 2026-11-24 10:42 IST" in listed.output
    rows = json.loads(invoke(tmp_path, "meters", "list", "--json").output)
    assert [(r["serial"], r["relay_connected"], r["relay_control_state"]) for r in rows] == [
        ("40000001", False, 0),
        ("40000002", False, 2),
    ]
    assert rows[0]["relay_read_at"] == "2026-11-24T05:12:30+00:00" and rows[0]["has_relay"] is True
    assert PASSWORD not in listed.output

    shown = invoke(tmp_path, "meters", "show", "OPS40000001")
    assert shown.exit_code == 0, shown.output
    assert "relay:     open, read 2026-11-24 10:42 IST" in shown.output and account_no in shown.output
    assert json.loads(invoke(tmp_path, "meters", "show", f"#{first}", "--json").output)["meter_id"] == first
    unknown = invoke(tmp_path, "meters", "show", "#999999")
    assert unknown.exit_code == 1 and "no single meter" in unknown.output


def _reread_marks(url):
    engine = make_engine(url)
    with make_session_factory(engine)() as session:
        marks = session.execute(
            select(Meter.block_load_reread_from, Meter.block_load_reread_to, Meter.block_load_read_to).where(
                Meter.serial == "40000001"
            )
        ).one()
    engine.dispose()
    return tuple(marks)


def test_reread_asks_for_a_range_once_and_refuses_bad_ranges(database):
    tmp_path, url, (type_code, account_no) = database
    assert invoke(tmp_path, "meters", "import", str(write_csv(tmp_path, type_code, account_no))).exit_code == 0
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    engine = make_engine(url)
    with make_session_factory(engine).begin() as session:
        session.execute(
            update(Meter).where(Meter.serial == "40000001").values(block_load_read_to=now - timedelta(hours=1))
        )
    engine.dispose()
    start, end = now - timedelta(days=3), now - timedelta(days=2)
    args = ("meters", "reread", "OPS40000001", "--from", start.isoformat(), "--to", end.isoformat())
    result = invoke(tmp_path, *args)
    assert result.exit_code == 0, result.output
    assert "is read again at the next collection" in result.output and "only gaps are filled" in result.output
    assert _reread_marks(url) == (start, end, start)  # the read progress moved back with it
    again = invoke(tmp_path, *args)  # idempotent
    assert again.exit_code == 0 and _reread_marks(url) == (start, end, start)
    # A naive date-time is the utility's local time (Asia/Kolkata, +05:30); up to the collection without --to.
    local = (now - timedelta(days=4)).astimezone(ZoneInfo("Asia/Kolkata")).replace(tzinfo=None)
    widened = invoke(tmp_path, "meters", "reread", "40000001", "--from", local.isoformat())
    assert widened.exit_code == 0, widened.output
    assert "to the collection" in widened.output
    assert _reread_marks(url) == (now - timedelta(days=4), None, now - timedelta(days=4))

    refusals = [
        (("--from", (now + timedelta(hours=1)).isoformat()), "in the future"),
        (("--from", start.isoformat(), "--to", (now + timedelta(hours=2)).isoformat()), "in the future"),
        (("--from", (now - timedelta(days=46)).isoformat()), "older than the backfill limit (45 days)"),
        (("--from", end.isoformat(), "--to", start.isoformat()), "--to must be later than --from"),
        (("--from", "last tuesday"), "not a date-time"),
    ]
    for options, message in refusals:
        refused = invoke(tmp_path, "meters", "reread", "OPS40000001", *options)
        assert refused.exit_code == 2 and message in refused.output, (options, refused.output)
    assert _reread_marks(url) == (now - timedelta(days=4), None, now - timedelta(days=4))  # nothing changed
    unknown = invoke(tmp_path, "meters", "reread", "#999999", "--from", start.isoformat())
    assert unknown.exit_code == 1 and "no single meter" in unknown.output
