"""Two units of work reporting the same power event at once (a push and a log read, two nodes) record one
outage: the second waits for the first's commit (the meter's row is locked first) and then sees it.

On SQLite the second already waits at ``BEGIN IMMEDIATE``; on PostgreSQL only the row lock makes it wait.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import timedelta

import pytest
from sqlalchemy.orm import Session

from openprepaid.hes import outage_tracker
from openprepaid.store.repository import hes as repo
from tests.hes.conftest import add_meter
from tests.hes.fakes import T0


def race(hes_sessions, first: Callable[[Session], object], second: Callable[[Session], object]) -> list[object]:  # type: ignore[no-untyped-def]
    """``first`` runs and holds its transaction open until ``second`` has finished or 0.5 s have passed."""
    first_done, second_done = threading.Event(), threading.Event()
    results: list[object] = [None, None]

    def run_first() -> None:
        with hes_sessions.begin() as session:
            results[0] = first(session)
            first_done.set()
            second_done.wait(0.5)  # a second that had to wait for our lock cannot finish before we commit

    def run_second() -> None:
        assert first_done.wait(10)
        with hes_sessions.begin() as session:
            results[1] = second(session)
        second_done.set()

    threads = [threading.Thread(target=run_first), threading.Thread(target=run_second)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(20)
    return results


@pytest.fixture
def meter_id(hes_sessions):  # type: ignore[no-untyped-def]
    return add_meter(hes_sessions)


def outages(hes_sessions, meter_id):  # type: ignore[no-untyped-def]
    with hes_sessions() as session:
        return [(o.started_at, o.ended_at) for o in repo.outages_of(session, meter_id)]


def test_a_power_failure_reported_twice_at_once_opens_one_outage(hes_sessions, meter_id):
    push = lambda session: outage_tracker.power_down(session, meter_id, T0, "push")  # noqa: E731
    log = lambda session: outage_tracker.power_down(session, meter_id, T0 + timedelta(seconds=1), "event-log")  # noqa: E731
    opened, again = race(hes_sessions, push, log)
    assert opened is not None and again is None
    assert outages(hes_sessions, meter_id) == [(T0, None)]


def test_a_restore_reported_twice_at_once_closes_the_outage_once(hes_sessions, meter_id):
    with hes_sessions.begin() as session:
        outage_tracker.power_down(session, meter_id, T0, "push")
    up_at = T0 + timedelta(minutes=30)
    closed, again = race(
        hes_sessions,
        lambda session: outage_tracker.power_up(session, meter_id, up_at),
        lambda session: outage_tracker.power_up(session, meter_id, up_at + timedelta(seconds=1)),
    )
    assert closed is not None and again is None  # the second sees the outage closed, not still open
    assert outages(hes_sessions, meter_id) == [(T0, up_at)]
