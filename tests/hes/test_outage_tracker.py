"""Outages from power events: one outage per failure, however often and in whatever order it is reported."""

from __future__ import annotations

from datetime import timedelta

import pytest

from openprepaid.hes import outage_tracker
from openprepaid.store.repository import hes as repo
from tests.hes.conftest import add_meter
from tests.hes.fakes import T0

S = timedelta(seconds=1)


@pytest.fixture
def meter_id(hes_sessions):
    return add_meter(hes_sessions)


def _outages(hes_sessions, meter_id):
    with hes_sessions() as session:
        return [(o.started_at, o.ended_at) for o in repo.outages_of(session, meter_id)]


def _feed(hes_sessions, meter_id, events):
    """Apply ('down'|'up', seconds after T0) in order, each in its own unit of work."""
    changes = []
    for kind, seconds in events:
        with hes_sessions.begin() as session:
            if kind == "down":
                changes.append(outage_tracker.power_down(session, meter_id, T0 + seconds * S, "event-test"))
            else:
                changes.append(outage_tracker.power_up(session, meter_id, T0 + seconds * S))
    return changes


def test_a_push_and_its_log_replay_with_rounded_times_are_one_outage(hes_sessions, meter_id):
    changes = _feed(hes_sessions, meter_id, [("down", 0), ("up", 600), ("down", -1), ("up", 601)])
    assert [c is not None for c in changes] == [True, True, False, False]
    assert _outages(hes_sessions, meter_id) == [(T0, T0 + 600 * S)]


def test_a_second_failure_soon_after_a_restore_is_a_new_outage_and_is_closed(hes_sessions, meter_id):
    # A flickering supply: down 30 s, up, down again 60 s later for 10 s.
    _feed(hes_sessions, meter_id, [("down", 0), ("up", 30), ("down", 90), ("up", 100)])
    assert _outages(hes_sessions, meter_id) == [(T0, T0 + 30 * S), (T0 + 90 * S, T0 + 100 * S)]
    # The whole log replayed later changes nothing.
    replay = _feed(hes_sessions, meter_id, [("down", 0), ("up", 30), ("down", 90), ("up", 100)])
    assert replay == [None, None, None, None]
    assert len(_outages(hes_sessions, meter_id)) == 2


def test_an_old_restore_does_not_close_a_newer_outage(hes_sessions, meter_id):
    _feed(hes_sessions, meter_id, [("down", 0), ("up", 30), ("down", 90)])
    assert _feed(hes_sessions, meter_id, [("up", 30)]) == [None]  # replay of the first restore
    assert _outages(hes_sessions, meter_id)[-1] == (T0 + 90 * S, None)


def test_a_restore_without_a_failure_and_a_failure_while_open_change_nothing(hes_sessions, meter_id):
    assert _feed(hes_sessions, meter_id, [("up", 10)]) == [None]
    assert _feed(hes_sessions, meter_id, [("down", 20), ("down", 500)])[1] is None
    assert _outages(hes_sessions, meter_id) == [(T0 + 20 * S, None)]
