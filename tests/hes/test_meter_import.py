"""Bulk meter import: line-numbered validation, all-or-nothing, idempotent re-import, sealed secrets."""

from __future__ import annotations

from sqlalchemy import func, select, text

from openprepaid.hes.meter_import import import_meters, parse_csv
from openprepaid.keyvault import KeyVault, credential_context
from openprepaid.store.model import CommMode, Meter, MeterCredential, MeterInstallation
from tests.store.factories import NOW, make_account, make_meter_type, make_utility

VAULT = KeyVault(bytes(range(32)))
EK = "000102030405060708090A0B0C0D0E0F"
AK = "D0D1D2D3D4D5D6D7D8D9DADBDCDDDEDF"
PASSWORD = "s3cret-Passw0rd"
HEADER = "serial,manufacturer_code,system_title,meter_type,comm_mode,host,port,framing,lls_password,ek,ak,account_no\n"


def title(serial_number: int) -> str:
    return (b"OPS" + serial_number.to_bytes(5, "big")).hex()


def good_file(type_code: str, account_no: str) -> str:
    return HEADER + "".join(
        [
            f"10000001,OPS,{title(10000001)},{type_code},dial,10.1.0.1,4059,wrapper,{PASSWORD},{EK},{AK},{account_no}\n",
            f"10000002,OPS,{title(10000002)},{type_code},dial_in,,,hdlc,{PASSWORD},,,\n",
            f"10000003,OPS,{title(10000003)},{type_code},DIAL,meter3.example.net,4059,,,{EK},{AK},\n",
        ]
    )


def run(session, csv_text, **kwargs):
    rows, errors = parse_csv(csv_text)
    kwargs.setdefault("default_utility", None)
    return import_meters(session, VAULT, rows, errors, now=NOW, **kwargs)


def setup(session):
    utility = make_utility(session)
    meter_type = make_meter_type(session)
    account = make_account(session, utility)
    return utility, meter_type, account


def test_import_then_reimport_changes_nothing(db_session):
    utility, meter_type, account = setup(db_session)
    csv_text = good_file(meter_type.code, account.account_no)
    report = run(db_session, csv_text, default_utility=utility.code)
    assert report.applied and report.errors == []
    assert report.created == ["OPS/10000001", "OPS/10000002", "OPS/10000003"]
    meter = db_session.execute(select(Meter).where(Meter.serial == "10000001")).scalar_one()
    assert (meter.host, meter.port, meter.comm_mode) == ("10.1.0.1", 4059, CommMode.DIAL)
    installation = db_session.execute(select(MeterInstallation)).scalar_one()
    assert (installation.meter_id, installation.account_id) == (meter.id, account.id)
    sealed_before = db_session.execute(select(MeterCredential.sealed).order_by(MeterCredential.id)).scalars().all()
    assert len(sealed_before) == 6  # rows 1 and 2: a password; rows 1 and 3: ek and ak

    again = run(db_session, csv_text, default_utility=utility.code)
    assert again.applied and again.created == [] and again.updated == []
    assert again.unchanged == ["OPS/10000001", "OPS/10000002", "OPS/10000003"]
    sealed_after = db_session.execute(select(MeterCredential.sealed).order_by(MeterCredential.id)).scalars().all()
    assert sealed_after == sealed_before  # not even re-sealed

    changed = csv_text.replace("10.1.0.1,4059", "10.1.0.9,4059").replace(f",{EK},{AK},\n", f",{AK},{EK},\n")
    report = run(db_session, changed, default_utility=utility.code)
    assert report.updated == ["OPS/10000001", "OPS/10000003"] and report.unchanged == ["OPS/10000002"]
    third = db_session.execute(select(Meter).where(Meter.serial == "10000003")).scalar_one()
    sealed = db_session.execute(
        select(MeterCredential.sealed).where(MeterCredential.meter_id == third.id, MeterCredential.kind == "ek")
    ).scalar_one()
    assert VAULT.open(sealed, credential_context(third.id, 48, "ek")) == bytes.fromhex(AK)


def test_secrets_are_never_stored_or_shown_in_clear(db_session):
    utility, meter_type, account = setup(db_session)
    rows, _ = parse_csv(good_file(meter_type.code, account.account_no))
    assert PASSWORD not in repr(rows[0]) and EK.lower() not in repr(rows[0]).lower()
    run(db_session, good_file(meter_type.code, account.account_no), default_utility=utility.code)
    for raw in db_session.execute(text("SELECT sealed FROM meter_credential")).scalars():
        data = bytes(raw)
        for secret in (PASSWORD.encode(), bytes.fromhex(EK), bytes.fromhex(AK), EK.encode(), EK.lower().encode()):
            assert secret not in data
    bad = HEADER + f"10000009,OPS,{title(10000009)},{meter_type.code},dial,h,1,,{PASSWORD},{EK}00,{AK},\n"
    report = run(db_session, bad, default_utility=utility.code)
    assert [str(e) for e in report.errors] == ["line 2: ek: the value is not 32 hex digits"]


def test_bad_rows_are_reported_with_line_numbers_and_nothing_is_written(db_session):
    utility, meter_type, _account = setup(db_session)
    code = meter_type.code
    lines = [
        f"20000001,OPS,{title(20000001)},{code},dial,10.0.0.1,4059,,,,,",  # 2: good
        f"bad serial!,OPS,{title(20000002)},{code},dial,10.0.0.1,4059,,,,,",  # 3
        f"20000003,ops,{title(20000003)},{code},dial,10.0.0.1,4059,,,,,",  # 4
        f"20000004,OPS,{title(99)}AB,{code},dial,10.0.0.1,4059,,,,,",  # 5: 9 bytes
        f"20000005,XYZ,{title(20000005)},{code},dial,10.0.0.1,4059,,,,,",  # 6: title of OPS
        f"20000006,OPS,{title(20000006)},{code},dial,,,,,,,",  # 7: dial without address
        f"20000007,OPS,{title(20000007)},{code},dial,10.0.0.1,70000,,,,,",  # 8
        f"20000008,OPS,{title(20000008)},{code},modem,10.0.0.1,4059,,,,,",  # 9
        f"20000009,OPS,{title(20000009)},{code},dial,10.0.0.1,4059,,,{EK},,",  # 10: ek without ak
        f"20000010,OPS,{title(20000010)},NO-SUCH-TYPE,dial,10.0.0.1,4059,,,,,",  # 11
        f"20000011,OPS,{title(20000011)},{code},dial,10.0.0.1,4059,,,,,NO-SUCH-ACCOUNT",  # 12
        f"20000001,OPS,{title(20000012)},{code},dial,10.0.0.1,4059,,,,,",  # 13: serial of line 2
        f"20000013,OPS,{title(20000001)},{code},dial,10.0.0.1,4059,,,,,",  # 14: title of line 2
        f"20000014,OPS,{title(20000014)},{code},dial,10.0.0.1,4059,,,,,,extra",  # 15: too many fields
        f"20000015,OPS,{title(20000015)},{code},dial,10.0.0.1,4059,smoke-signals,,,,",  # 16
    ]
    report = run(db_session, HEADER + "\n".join(lines) + "\n", default_utility=utility.code)
    assert not report.applied
    found = {(error.line, error.column) for error in report.errors}
    assert found == {
        (3, "serial"),
        (4, "manufacturer_code"),
        (5, "system_title"),
        (6, "system_title"),
        (7, "host"),
        (8, "port"),
        (9, "comm_mode"),
        (10, "ek"),
        (11, "meter_type"),
        (12, "account_no"),
        (13, "serial"),
        (14, "system_title"),
        (15, ""),
        (16, "framing"),
    }
    assert "line 8: port: must be an integer 1..65535, got '70000'" in [str(e) for e in report.errors]
    assert db_session.execute(select(func.count()).select_from(Meter)).scalar_one() == 0

    partial = run(db_session, HEADER + "\n".join(lines) + "\n", default_utility=utility.code, partial=True)
    assert partial.applied and partial.created == ["OPS/20000001"]
    assert len(partial.errors) == len(report.errors)


def test_header_problems_and_utility_resolution(db_session):
    utility, meter_type, _ = setup(db_session)
    [error] = run(db_session, "serial,manufacturer_code,meter_type,colour\n1,OPS,x,red\n").errors
    assert str(error) == "line 1: missing columns: system_title, comm_mode; unknown columns: colour"
    make_utility(db_session)  # now there are two utilities
    row = f"30000001,OPS,{title(30000001)},{meter_type.code},dial_in,,,,,,,\n"
    report = run(db_session, HEADER + row)
    assert [str(e) for e in report.errors] == ["line 2: utility: several utilities: give --utility"]
    report = run(db_session, HEADER + row, default_utility="NOPE")
    assert "unknown utility 'NOPE'" in str(report.errors[0])
    report = run(db_session, HEADER + row, default_utility=utility.code, dry_run=True)
    assert not report.applied and report.errors == []
    assert db_session.execute(select(func.count()).select_from(Meter)).scalar_one() == 0
