"""Selective access to profile buffers (IEC 62056-6-2 §4.3.6): range and entry descriptors, at their edges."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from openprepaid.meters.profiles import CLOCK_COLUMN, CaptureColumn
from openprepaid.simulator.errors import ObjectUnavailableError, OtherReasonError, TypeUnmatchedError
from openprepaid.simulator.profile_buffer import EntrySelection, RangeSelection
from openprepaid.simulator.virtual_meter import VirtualMeter

from .conftest import IST, ist, make_meter

BLOCK = "1.0.99.1.0.255"
DAILY = "1.0.99.2.0.255"
BILLING = "1.0.98.1.0.255"
ENERGY_COLUMN = CaptureColumn(3, "1.0.1.29.0.255", 2)


@pytest.fixture(scope="module")
def meter() -> VirtualMeter:
    m = make_meter(born=ist(2025, 2, 27))
    m.advance(ist(2025, 3, 2, 3, 5))  # intervals up to 03:00; daily 27 Feb .. 2 Mar; one billing entry
    return m


def _rows(meter: VirtualMeter, obis: str, selection: object = None) -> list[tuple[object, ...]]:
    rows = meter.get(7, obis, 2, selection)  # type: ignore[arg-type]
    assert isinstance(rows, list)
    return rows


def at(*args: int) -> datetime:
    return datetime(*args, tzinfo=IST)  # type: ignore[misc]


def test_range_bounds_are_inclusive(meter: VirtualMeter) -> None:
    rows = _rows(meter, BLOCK, RangeSelection(CLOCK_COLUMN, at(2025, 3, 1, 10), at(2025, 3, 1, 11)))
    assert [r[0] for r in rows] == [
        at(2025, 3, 1, 10),
        at(2025, 3, 1, 10, 15),
        at(2025, 3, 1, 10, 30),
        at(2025, 3, 1, 10, 45),
        at(2025, 3, 1, 11),
    ]


def test_range_between_entries_and_outside_the_buffer(meter: VirtualMeter) -> None:
    between = _rows(meter, BLOCK, RangeSelection(CLOCK_COLUMN, at(2025, 3, 1, 10, 1), at(2025, 3, 1, 10, 14)))
    assert between == []
    before = _rows(meter, BLOCK, RangeSelection(CLOCK_COLUMN, at(2025, 1, 1), at(2025, 2, 27, 0, 15)))
    assert [r[0] for r in before] == [at(2025, 2, 27, 0, 15)]
    after = _rows(meter, BLOCK, RangeSelection(CLOCK_COLUMN, at(2025, 3, 2, 3), at(2026, 1, 1)))
    assert [r[0] for r in after] == [at(2025, 3, 2, 3)]  # 03:15 is not captured yet
    backwards = _rows(meter, BLOCK, RangeSelection(CLOCK_COLUMN, at(2025, 3, 1, 11), at(2025, 3, 1, 10)))
    assert backwards == []


def test_open_range_bounds(meter: VirtualMeter) -> None:
    everything = _rows(meter, BLOCK)
    assert _rows(meter, BLOCK, RangeSelection(CLOCK_COLUMN, None, None)) == everything
    assert len(everything) == 3 * 96 + 12


def test_range_bounds_in_another_offset_mean_the_same_instant(meter: VirtualMeter) -> None:
    utc = at(2025, 3, 1, 10).astimezone(UTC)
    rows = _rows(meter, BLOCK, RangeSelection(CLOCK_COLUMN, utc, utc + timedelta(minutes=15)))
    assert [r[0] for r in rows] == [at(2025, 3, 1, 10), at(2025, 3, 1, 10, 15)]


def test_range_with_selected_columns(meter: VirtualMeter) -> None:
    full = _rows(meter, BLOCK, RangeSelection(CLOCK_COLUMN, at(2025, 3, 1, 10), at(2025, 3, 1, 10, 30)))
    picked = _rows(
        meter,
        BLOCK,
        RangeSelection(CLOCK_COLUMN, at(2025, 3, 1, 10), at(2025, 3, 1, 10, 30), (CLOCK_COLUMN, ENERGY_COLUMN)),
    )
    assert picked == [(r[0], r[2]) for r in full]


def test_daily_and_billing_ranges(meter: VirtualMeter) -> None:
    daily = _rows(meter, DAILY, RangeSelection(CLOCK_COLUMN, at(2025, 2, 28), at(2025, 3, 1)))
    assert [r[0] for r in daily] == [at(2025, 2, 28), at(2025, 3, 1)]
    billing_date = CaptureColumn(3, "0.0.0.1.2.255", 2)
    billing = _rows(meter, BILLING, RangeSelection(billing_date, at(2025, 3, 1), at(2025, 3, 1)))
    assert [r[0] for r in billing] == [at(2025, 3, 1)]


def test_range_errors(meter: VirtualMeter) -> None:
    with pytest.raises(ObjectUnavailableError):
        meter.get(7, BLOCK, 2, RangeSelection(ENERGY_COLUMN, at(2025, 3, 1), at(2025, 3, 2)))
    with pytest.raises(ObjectUnavailableError):
        meter.get(7, "1.0.94.91.3.255", 2, RangeSelection(CLOCK_COLUMN, None, None))  # no time column
    with pytest.raises(ObjectUnavailableError):
        meter.get(7, BLOCK, 2, RangeSelection(CLOCK_COLUMN, None, None, (CaptureColumn(3, "1.0.1.8.0.255", 2),)))
    with pytest.raises(TypeUnmatchedError):
        meter.get(7, BLOCK, 2, RangeSelection(CLOCK_COLUMN, datetime(2025, 3, 1), None))


def test_entry_selection_edges(meter: VirtualMeter) -> None:
    everything = _rows(meter, BLOCK)
    count = len(everything)
    assert meter.get(7, BLOCK, 7) == count
    assert _rows(meter, BLOCK, EntrySelection(1, 0)) == everything
    assert _rows(meter, BLOCK, EntrySelection(1, 1)) == everything[:1]
    assert _rows(meter, BLOCK, EntrySelection(count, 0)) == everything[-1:]
    assert _rows(meter, BLOCK, EntrySelection(count, count + 50)) == everything[-1:]  # clamped
    assert _rows(meter, BLOCK, EntrySelection(count + 1, 0)) == []
    assert _rows(meter, BLOCK, EntrySelection(10, 5)) == []
    assert _rows(meter, BLOCK, EntrySelection(5, 7, 2, 3)) == [r[1:3] for r in everything[4:7]]
    assert _rows(meter, BLOCK, EntrySelection(5, 5, 6, 0)) == [everything[4][5:]]
    assert _rows(meter, BLOCK, EntrySelection(5, 5, 1, 99)) == [everything[4]]


@pytest.mark.parametrize(
    ("selection", "error"),
    [
        (EntrySelection(0, 0), OtherReasonError),
        (EntrySelection(1, -1), OtherReasonError),
        (EntrySelection(1, 0, 0, 0), OtherReasonError),
        (EntrySelection(1, 0, 7, 0), OtherReasonError),
        (EntrySelection(1, 0, 3, 2), OtherReasonError),
        (EntrySelection("1", 0), TypeUnmatchedError),  # type: ignore[arg-type]
        (EntrySelection(True, 0), TypeUnmatchedError),
    ],
)
def test_entry_selection_errors(meter: VirtualMeter, selection: EntrySelection, error: type[Exception]) -> None:
    with pytest.raises(error):
        meter.get(7, BLOCK, 2, selection)


def test_selective_access_only_on_the_buffer(meter: VirtualMeter) -> None:
    with pytest.raises(OtherReasonError):
        meter.get(7, BLOCK, 3, EntrySelection())


def test_event_log_selection_copes_with_out_of_order_times() -> None:
    m = make_meter()
    m.advance(ist(2025, 3, 2, 10))
    m.set(8, "0.0.1.0.0.255", 2, at(2025, 3, 2, 9))  # logged at 10:00, the clock goes back to 9:00
    m.advance(ist(2025, 3, 2, 10, 30))  # the meter reads 9:30
    m.set(8, "0.0.1.0.0.255", 2, at(2025, 3, 2, 9, 40))  # logged at 9:30, jump to 9:40
    m.advance(ist(2025, 3, 2, 12))
    m.set(8, "0.0.1.0.0.255", 2, at(2025, 3, 2, 11, 45))  # logged at 11:10
    times = [r[0] for r in _rows(m, "0.0.99.98.3.255")]
    assert times == [at(2025, 3, 2, 10), at(2025, 3, 2, 9, 30), at(2025, 3, 2, 11, 10)]
    picked = _rows(m, "0.0.99.98.3.255", RangeSelection(CLOCK_COLUMN, at(2025, 3, 2, 11), None))
    assert [r[0] for r in picked] == [at(2025, 3, 2, 11, 10)]
    picked = _rows(m, "0.0.99.98.3.255", RangeSelection(CLOCK_COLUMN, None, at(2025, 3, 2, 9, 59)))
    assert [r[0] for r in picked] == [at(2025, 3, 2, 9, 30)]
    assert _rows(m, "0.0.99.98.3.255", EntrySelection(2, 3, 2, 2)) == [(151,), (151,)]
