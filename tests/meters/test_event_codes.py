"""IS 15959 event codes, their logs and the event status word bits (domain.md §4)."""

from __future__ import annotations

import pytest

from openprepaid.meters import event_codes as ec
from openprepaid.meters.errors import UnknownObjectError
from openprepaid.meters.event_codes import EVENT_CODES, EswBit, EventLog


@pytest.mark.parametrize(
    ("codes", "log"),
    [
        (range(1, 13), EventLog.VOLTAGE),
        (range(51, 71), EventLog.CURRENT),
        ((101, 102), EventLog.POWER),
        ((151, 152, 153, 158, 159, 160, 161, 162, 163, 164, 165, 166), EventLog.TRANSACTION),
        (range(201, 217), EventLog.OTHER),
        ((251,), EventLog.NON_ROLLOVER),
        ((301, 302), EventLog.CONTROL),
    ],
)
def test_codes_go_to_the_log_domain_md_names(codes: range | tuple[int, ...], log: EventLog) -> None:
    for code in codes:
        assert ec.log_of(code) is log, code


def test_log_obis_codes() -> None:
    assert [log.obis for log in EventLog] == [f"0.0.99.98.{i}.255" for i in range(7)]
    assert EventLog.CONTROL.event_code_obis == "0.0.96.11.6.255"


def test_restoration_codes_close_their_occurrence() -> None:
    assert ec.lookup(102).restores == 101
    assert ec.lookup(202).restores == 201
    assert ec.lookup(204).restores == 203
    assert ec.lookup(216).restores == 215
    assert ec.lookup(2).restores == 1
    assert ec.lookup(52).restores == 51
    assert ec.lookup(251).restores is None


def test_names_say_what_happened() -> None:
    assert "magnet" in ec.lookup(201).name.lower()
    assert "neutral disturbance" in ec.lookup(203).name.lower()
    assert "cover" in ec.lookup(251).name.lower()
    assert "disconnected" in ec.lookup(301).name.lower()
    assert "connected" in ec.lookup(302).name.lower()
    assert "power failure" in ec.lookup(101).name.lower()
    assert "clock" in ec.lookup(151).name.lower()
    assert "load limit" in ec.lookup(158).name.lower()
    assert "pre-paid" in ec.lookup(212).name.lower() and "post-paid" in ec.lookup(211).name.lower()


def test_event_status_word_bits_per_domain_md() -> None:
    assert (EswBit.MAGNET, EswBit.NEUTRAL_DISTURBANCE, EswBit.COVER_OPEN) == (80, 81, 82)
    assert (EswBit.RELAY_CHANGE, EswBit.LAST_GASP, EswBit.FIRST_BREATH) == (84, 85, 86)
    assert ec.lookup(201).esw_bit is EswBit.MAGNET
    assert ec.lookup(203).esw_bit is EswBit.NEUTRAL_DISTURBANCE
    assert ec.lookup(251).esw_bit is EswBit.COVER_OPEN
    assert ec.lookup(301).esw_bit is EswBit.RELAY_CHANGE
    assert ec.lookup(101).esw_bit is EswBit.LAST_GASP
    assert ec.lookup(102).esw_bit is EswBit.FIRST_BREATH
    assert ec.lookup(151).esw_bit is None


@pytest.mark.parametrize("code", [0, 13, 50, 100, 103, 150, 200, 252, 300, 303, 9999])
def test_unknown_codes_raise(code: int) -> None:
    assert code not in EVENT_CODES
    with pytest.raises(UnknownObjectError):
        ec.lookup(code)
