"""Tariff files: the example files load, and every kind of mistake is refused naming its field."""

from __future__ import annotations

import re
from decimal import Decimal
from pathlib import Path

import pytest
import yaml

from openprepaid.wallet.tariff import DayType, OverdrawlPolicy, SlabMode
from openprepaid.wallet.tariff_document import (
    TariffDocumentError,
    document_sha256,
    load_tariff,
    parse_tariff,
    tariff_from_mapping,
)
from tests.wallet.tariff_fixtures import EXAMPLES

BASE = """
code: T1
name: Test
category: domestic
version: 2
effective_from: "2024-04-01T00:00:00+05:30"
energy:
  mode: telescopic
  slabs:
    - {up_to_kwh: 100, rate_per_kwh: 3.00}
    - {up_to_kwh: 300, rate_per_kwh: 6.05}
    - {rate_per_kwh: "7.10"}
"""

TOD = """
tod:
  schedules:
    - name: all_year
      months: "1-12"
      zones:
        - {name: normal, start: "06:00", end: "18:00", multiplier: 1.00}
        - {name: peak, start: "18:00", end: "22:00", multiplier: 1.20}
        - {name: off_peak, start: "22:00", end: "06:00", multiplier: 0.90}
"""


def base_document() -> dict:
    return yaml.safe_load(BASE)


@pytest.mark.parametrize("path", sorted(EXAMPLES.glob("*.yaml")), ids=lambda p: p.name)
def test_every_example_file_loads(path: Path):
    tariff = load_tariff(path)
    assert tariff.code and tariff.version >= 1 and tariff.effective_from.tzinfo is not None


def test_numbers_are_read_as_exact_decimals_and_fields_map_to_the_model():
    tariff = parse_tariff(BASE + TOD)
    slabs = tariff.energy.categories[0].table.slabs
    assert [s.rate_per_kwh for s in slabs] == [Decimal("3.00"), Decimal("6.05"), Decimal("7.10")]
    assert [s.up_to_kwh for s in slabs] == [100, 300, None]
    assert tariff.energy.categories[0].table.mode is SlabMode.TELESCOPIC
    assert tariff.version == 2 and tariff.effective_from.utcoffset().total_seconds() == 19_800
    assert tariff.tod is not None
    schedule = tariff.tod.schedules[0]
    assert schedule.day_types == frozenset(DayType) and schedule.months == frozenset(range(1, 13))
    assert [(z.name, z.start_minute, z.end_minute, z.multiplier) for z in schedule.zones][1] == (
        "peak", 1080, 1320, Decimal("1.20"))


def test_month_ranges_wrap_the_year_end():
    text = BASE + TOD.replace('months: "1-12"', 'months: "10-3"')
    text += TOD.replace("tod:\n  schedules:\n", "").replace("all_year", "summer").replace('"1-12"', '"4-9"')
    tariff = parse_tariff(text)
    assert tariff.tod is not None
    assert tariff.tod.schedules[0].months == frozenset({10, 11, 12, 1, 2, 3})


def test_overdrawl_and_subsidy_sections():
    text = BASE + """
fixed: {per_kw_bands: [{up_to_kw: 2, rate_per_kw_month: 20}, {rate_per_kw_month: 50}]}
overdrawl: {policy: penalty, percent_of_fixed: 200, tolerance_percent: 5}
subsidy:
  free_units: {kwh: 200, max_month_kwh: 200}
  percent: {name: state, percent: 50, cap_per_month: "800.00"}
"""
    tariff = parse_tariff(text)
    assert tariff.overdrawl is not None and tariff.overdrawl.policy is OverdrawlPolicy.PENALTY
    assert tariff.subsidy is not None and tariff.subsidy.percent is not None
    assert tariff.subsidy.percent.cap_per_month == Decimal(800)


BAD = [
    ("top-level unknown key", BASE + "colour: red\n", "colour", "unknown key"),
    ("nested unknown key", BASE.replace("{rate_per_kwh: \"7.10\"}", "{rate: 7.10}"), "energy.slabs[2].rate",
     "unknown key"),
    ("missing key", BASE.replace("category: domestic\n", ""), "category", "is required"),
    ("duplicate key", BASE + "code: T2\n", "", "duplicate key"),
    ("negative rate", BASE.replace("rate_per_kwh: 3.00", "rate_per_kwh: -3.00"), "energy.slabs[0].rate_per_kwh",
     ">= 0"),
    ("unsorted slabs", BASE.replace("up_to_kwh: 300", "up_to_kwh: 50"), "energy.slabs[1].up_to_kwh",
     "greater than 100"),
    ("overlapping slabs", BASE.replace("up_to_kwh: 300", "up_to_kwh: 100"), "energy.slabs[1].up_to_kwh",
     "overlap"),
    ("bounded last slab", BASE.replace('{rate_per_kwh: "7.10"}', '{up_to_kwh: 900, rate_per_kwh: "7.10"}'),
     "energy.slabs[2].up_to_kwh", "open-ended"),
    ("too many decimals", BASE.replace("3.00", "3.0000001"), "energy.slabs[0].rate_per_kwh", "decimal places"),
    ("fractional Wh bound", BASE.replace("up_to_kwh: 100", "up_to_kwh: 100.0005"), "energy.slabs[0].up_to_kwh",
     "decimal places"),
    ("rate as text", BASE.replace("3.00", "three"), "energy.slabs[0].rate_per_kwh", "must be a number"),
    ("not a number", BASE.replace("3.00", ".nan"), "", "not a finite number"),
    ("bad mode", BASE.replace("telescopic", "stepped"), "energy.mode", "telescopic"),
    ("ToD gap", BASE + TOD.replace('end: "06:00"', 'end: "05:00"'), "tod.schedules[0].zones",
     "do not cover 24 h: nothing from 05:00"),
    ("ToD overlap", BASE + TOD.replace('start: "18:00", end: "22:00"', 'start: "17:00", end: "22:00"'),
     "tod.schedules[0].zones[1]", "overlaps"),
    ("ToD bad time", BASE + TOD.replace('"22:00", end: "06:00"', '"22:00", end: "25:00"'),
     "tod.schedules[0].zones[2].end", "HH:MM"),
    ("ToD both adjustments", BASE + TOD.replace("multiplier: 1.20", "multiplier: 1.20, delta_per_kwh: 1"),
     "tod.schedules[0].zones[1]", "exactly one"),
    ("ToD bad months", BASE + TOD.replace('"1-12"', '"0-13"'), "tod.schedules[0].months", "month range"),
    ("ToD two schedules for one month", BASE + TOD + TOD.replace("tod:\n  schedules:\n", "").replace(
        "all_year", "again").replace('"1-12"', '"5"'), "tod.schedules[1]", "both apply"),
    ("ToD zone name with two rates", BASE + TOD.replace('months: "1-12"', 'months: "1-6"') + TOD.replace(
        "tod:\n  schedules:\n", "").replace("all_year", "h2").replace('"1-12"', '"7-12"').replace("1.20", "1.30"),
     "tod.schedules[1].zones", "different rates"),
    ("percent above 100", BASE + "duties: [{name: e, percent: 101, base: [energy]}]\n", "duties[0].percent",
     "<= 100"),
    ("negative percent", BASE + "rebate: {name: p, percent: -4, base: [energy]}\n", "rebate.percent", ">= 0"),
    ("base names a later group", BASE + "surcharges: [{name: s, percent: 2, base: [duty]}]\n",
     "surcharges[0].base", "subset of [energy, fixed, minimum, penalty]"),
    ("unknown group", BASE + "rebate: {name: p, percent: 4, base: [energy, vat]}\n", "rebate.base[1]",
     "must be one of"),
    ("duplicate names", BASE + "duties: [{name: e, percent: 1, base: [energy]}, {name: e, percent: 2, "
     "base: [energy]}]\n", "duties[1].name", "unique"),
    ("fixed with both forms", BASE + "fixed: {flat_per_month: 10, per_kw_bands: [{rate_per_kw_month: 5}]}\n",
     "fixed", "exactly one"),
    ("trip with a rate", BASE + "overdrawl: {policy: trip, per_kw_month: 10}\n", "overdrawl.policy", "no penalty"),
    ("penalty without fixed", BASE + "overdrawl: {policy: penalty, percent_of_fixed: 10}\n",
     "overdrawl.percent_of_fixed", "per-kW fixed"),
    ("effective_from without zone", BASE.replace("+05:30", ""), "effective_from", "with its zone"),
    ("version zero", BASE.replace("version: 2", "version: 0"), "version", ">= 1"),
    ("version as text", BASE.replace("version: 2", "version: two"), "version", "whole number"),
    ("cheaper all-units band", BASE.replace("telescopic", "all_units"), "", ""),  # 3.00 -> 6.05 fine: control
    ("dearer category is cheaper", BASE.replace("""energy:
  mode: telescopic
  slabs:
    - {up_to_kwh: 100, rate_per_kwh: 3.00}
    - {up_to_kwh: 300, rate_per_kwh: 6.05}
    - {rate_per_kwh: "7.10"}""", """energy:
  categories:
    - {up_to_kwh: 100, mode: all_units, slabs: [{rate_per_kwh: 5}]}
    - {mode: all_units, slabs: [{rate_per_kwh: 4}]}"""), "energy", "must not make the month cheaper"),
    ("subsidy cap in fractions of a paisa", BASE + "subsidy: {percent: {name: s, percent: 5, cap_per_month: 1.001}}\n",
     "subsidy.percent.cap_per_month", "decimal places"),
    ("subsidy with ToD", BASE + TOD + "subsidy: {free_units: {kwh: 10}}\n", "subsidy", "time-of-day"),
    ("ToD rebate above the cheapest rate", BASE + TOD.replace("multiplier: 0.90", "delta_per_kwh: -3.01"), "tod",
     "must not make energy negative"),
    ("not a mapping", "- just a list\n", "", "must be a mapping"),
    ("not YAML", "code: [unclosed\n", "", "not valid YAML"),
]


@pytest.mark.parametrize(("case", "text", "path", "reason"), BAD, ids=[b[0] for b in BAD])
def test_invalid_documents_name_the_offending_field(case, text, path, reason):
    if case == "cheaper all-units band":
        parse_tariff(text)  # rising all-units bands are valid
        with pytest.raises(TariffDocumentError) as info:
            parse_tariff(text.replace("6.05", "2.00"))
        assert info.value.path == "energy.slabs[1].rate_per_kwh"
        assert "cheaper" in info.value.reason
        return
    with pytest.raises(TariffDocumentError) as info:
        parse_tariff(text)
    assert info.value.path == path, str(info.value)
    assert reason in info.value.reason
    assert str(info.value).startswith(f"{path}: " if path else "")


def test_floats_from_a_python_mapping_are_refused():
    document = base_document()
    document["energy"]["slabs"][0]["rate_per_kwh"] = 3.0
    with pytest.raises(TariffDocumentError, match=r"energy\.slabs\[0\]\.rate_per_kwh: must be a number"):
        tariff_from_mapping(document)


def test_unreadable_file(tmp_path: Path):
    with pytest.raises(TariffDocumentError, match="cannot read"):
        load_tariff(tmp_path / "missing.yaml")
    binary = tmp_path / "binary.yaml"
    binary.write_bytes(b"\xff\xfe\x00")
    with pytest.raises(TariffDocumentError, match="cannot read"):
        load_tariff(binary)


def test_document_digest_is_sha256_of_the_text():
    assert document_sha256("") == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"


def test_the_format_documents_snippets_are_valid():
    """docs/tariff-format.md's YAML snippets, put together, make valid tariffs (the docs cannot drift)."""
    text = (EXAMPLES.parents[1] / "docs" / "tariff-format.md").read_text(encoding="utf-8")
    snippets = [yaml.safe_load(block) for block in re.findall(r"```yaml\n(.*?)```", text, re.S)]
    header = yaml.safe_load(BASE)
    del header["energy"]
    extras = {k: v for snippet in snippets[2:] for k, v in snippet.items()}
    for energy in (snippets[0], snippets[1]):
        document = {**header, **energy, **extras}
        without_subsidy = {k: v for k, v in document.items() if k != "subsidy"}
        without_tod = {k: v for k, v in document.items() if k != "tod"}
        tariff = parse_tariff(yaml.safe_dump(without_subsidy))
        assert tariff.tod is not None and tariff.overdrawl is not None and tariff.rebate is not None
        assert parse_tariff(yaml.safe_dump(without_tod)).subsidy is not None
