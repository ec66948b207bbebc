"""The demo's one clock: stepped simulated time that flows at wall speed only inside ``flowing()``."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest

from openprepaid.demo.clock import DemoTime

START = datetime(2026, 11, 2, tzinfo=UTC)


def test_time_stands_still_between_steps_and_moves_only_forward():
    clock = DemoTime(START)
    first = clock.now()
    time.sleep(0.01)
    assert clock.now() == first == START
    assert clock.advance(timedelta(minutes=15)) == START + timedelta(minutes=15)
    assert clock.elapsed_s() == 900
    with pytest.raises(ValueError, match="backwards"):
        clock.advance_to(START)


def test_inside_flowing_time_runs_at_wall_speed_and_stays_where_it_got_to():
    clock = DemoTime(START)
    with clock.flowing():
        before = clock.now()
        time.sleep(0.05)
        after = clock.now()
    assert before >= START
    assert timedelta(seconds=0.05) <= after - before < timedelta(seconds=5)
    stayed = clock.now()
    assert stayed >= after
    time.sleep(0.01)
    assert clock.now() == stayed  # frozen again
    clock.advance_to(START + timedelta(minutes=15))  # the next step is still ahead


def test_flowing_cannot_nest_or_jump_and_ends_on_errors():
    clock = DemoTime(START)
    with clock.flowing():
        with pytest.raises(RuntimeError, match="already flowing"), clock.flowing():
            pass
        with pytest.raises(RuntimeError, match="cannot jump"):
            clock.advance_to(START + timedelta(hours=1))
    with pytest.raises(KeyError), clock.flowing():
        raise KeyError("boom")
    clock.advance_to(START + timedelta(hours=1))  # the failed block left the clock usable


def test_naive_start_is_refused():
    with pytest.raises(ValueError, match="aware"):
        DemoTime(datetime(2026, 11, 2))
