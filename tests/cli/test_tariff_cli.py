"""``openprepaid tariff quote`` and ``check``: the Delhi worked example (DERC FY 2019-20), JSON shape, errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from openprepaid.cli import app

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "tariffs"
DELHI = str(EXAMPLES / "delhi-domestic-2019-20.yaml")
runner = CliRunner()


@pytest.fixture(autouse=True)
def _isolated_settings(tmp_path, monkeypatch):
    monkeypatch.delenv("OPENPREPAID_CONFIG", raising=False)
    monkeypatch.chdir(tmp_path)


def quote(*args: str):
    return runner.invoke(app, ["tariff", "quote", *args])


def test_delhi_quote_json_is_the_worked_example():
    result = quote("--tariff", DELHI, "--kwh", "300", "--sanctioned-kw", "3", "--days", "30", "--json")
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert set(document) == {"lines", "total_paise"}
    assert [(ln["component"], ln["amount_paise"]) for ln in document["lines"]] == [
        ("energy.slab1", 60_000), ("energy.slab2", 45_000), ("fixed.load", 15_000),
        ("surcharge.pension_trust", 8_400)]
    assert all(isinstance(ln["amount_paise"], int) for ln in document["lines"])
    assert document["lines"][0]["rate"] == "3.00" and document["lines"][0]["quantity"] == 200_000
    assert document["total_paise"] == 128_400


def test_delhi_quote_table_is_aligned_with_rupee_amounts():
    result = quote("--tariff", DELHI, "--kwh", "300", "--sanctioned-kw", "3", "--days", "30")
    assert result.exit_code == 0, result.output
    rows = [line for line in result.stdout.splitlines() if line.startswith(("energy", "fixed", "surcharge", "total"))]
    assert [row.split()[0] for row in rows] == [
        "energy.slab1", "energy.slab2", "fixed.load", "surcharge.pension_trust", "total"]
    assert rows[0].endswith("₹600.00") and rows[2].endswith("₹150.00") and rows[-1].endswith("₹1,284.00")
    assert len({len(row) for row in rows}) == 1  # right-aligned amount column


def test_tod_zones_and_demand_options():
    demo = str(EXAMPLES / "demo-slab-tod-duty-rebate.yaml")
    result = quote("--tariff", demo, "--kwh", "450", "--sanctioned-kw", "6", "--days", "31", "--zone-kwh", "solar=100",
                   "--max-demand-kw", "7.5", "--json")
    assert result.exit_code == 0, result.output
    by = {ln["component"]: ln["amount_paise"] for ln in json.loads(result.stdout)["lines"]}
    assert by["energy.tod.solar"] == -8_000 and by["penalty.overdrawl"] == 15_000


@pytest.mark.parametrize(("args", "message"), [
    (["--tariff", "missing.yaml", "--kwh", "1", "--sanctioned-kw", "1", "--days", "30"], "cannot read"),
    (["--tariff", DELHI, "--kwh", "lots", "--sanctioned-kw", "1", "--days", "30"], "--kwh must be a number"),
    (["--tariff", DELHI, "--kwh", "-5", "--sanctioned-kw", "1", "--days", "30"], "non-negative"),
    (["--tariff", DELHI, "--kwh", "1.00001", "--sanctioned-kw", "1", "--days", "30"], "3 decimal places"),
    (["--tariff", DELHI, "--kwh", "1", "--sanctioned-kw", "1", "--days", "30", "--zone-kwh", "peak"], "ZONE=KWH"),
    (["--tariff", DELHI, "--kwh", "1", "--sanctioned-kw", "1", "--days", "30", "--zone-kwh", "peak=1"],
     "unknown ToD zone"),
    (["--tariff", DELHI, "--kwh", "1", "--sanctioned-kw", "1", "--days", "0"], "--days"),
])
def test_bad_arguments_exit_2_with_a_message_on_stderr(args, message):
    result = quote(*args)
    assert result.exit_code == 2
    assert message in result.stderr
    assert result.stdout == ""


def test_bad_tariff_file_names_the_field(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text(Path(DELHI).read_text().replace("up_to_kwh: 400", "up_to_kwh: 100"))
    result = quote("--tariff", str(bad), "--kwh", "1", "--sanctioned-kw", "1", "--days", "30")
    assert result.exit_code == 2
    assert "energy.slabs[1].up_to_kwh" in result.stderr
    result = runner.invoke(app, ["tariff", "check", str(bad)])
    assert result.exit_code == 2 and "overlap" in result.stderr


@pytest.mark.parametrize("name", sorted(p.name for p in EXAMPLES.glob("*.yaml")))
def test_check_summarises_every_example(name):
    result = runner.invoke(app, ["tariff", "check", str(EXAMPLES / name)])
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("ok: ") and "energy (" in result.stdout
