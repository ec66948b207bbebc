"""Retry classification and bounded exponential back-off with seeded jitter."""

from __future__ import annotations

import random
from datetime import timedelta

import pytest

from openprepaid.hes.retry import (
    AccessRefusedError,
    MeterBusyError,
    MeterIdentityError,
    NetworkError,
    ObjectUnavailableError,
    ProtocolFaultError,
    ReadbackMismatchError,
    RetryPolicy,
    SessionTimeoutError,
    UnsupportedOperationError,
    describe,
    is_retryable,
)


@pytest.mark.parametrize(
    ("error", "retryable"),
    [
        (SessionTimeoutError("no answer"), True),
        (NetworkError("reset"), True),
        (ProtocolFaultError("garbled"), True),
        (MeterBusyError("busy"), True),
        (ReadbackMismatchError("still connected"), True),
        (AccessRefusedError("bad key"), False),
        (ObjectUnavailableError("no limiter"), False),
        (MeterIdentityError("other meter"), False),
        (UnsupportedOperationError("no relay"), False),
        (RuntimeError("unclassified"), True),
    ],
)
def test_classification(error, retryable):
    assert is_retryable(error) is retryable


def test_backoff_grows_is_capped_and_jittered_within_bounds():
    policy = RetryPolicy(max_attempts=10, base_delay_s=10, factor=2, max_delay_s=300, jitter=0.2)
    rng = random.Random(1)
    for attempt, nominal in [(1, 10), (2, 20), (3, 40), (5, 160), (6, 300), (9, 300), (10_000, 300)]:
        for _ in range(50):
            delay = policy.delay(attempt, rng).total_seconds()
            assert 0.8 * nominal <= delay <= nominal
    assert policy.may_retry(9) and not policy.may_retry(10)


def test_jitter_is_seeded_and_spreads_retries():
    policy = RetryPolicy(base_delay_s=60, jitter=0.5)
    first = [policy.delay(1, random.Random(5)) for _ in range(3)]
    assert len(set(first)) == 1  # same seed, same delay
    rng = random.Random(5)
    spread = {policy.delay(1, rng) for _ in range(100)}
    assert len(spread) > 90 and min(spread) >= timedelta(seconds=30)
    assert RetryPolicy(jitter=0).delay(2, rng) == timedelta(seconds=30)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"max_attempts": 0},
        {"base_delay_s": -1},
        {"max_delay_s": 1, "base_delay_s": 2},
        {"factor": 0.5},
        {"jitter": 1.5},
    ],
)
def test_bad_policies_are_refused(kwargs):
    with pytest.raises(ValueError):
        RetryPolicy(**kwargs)


def test_descriptions_are_bounded():
    assert describe(NetworkError("x" * 1000)).startswith("NetworkError: xxx")
    assert len(describe(NetworkError("x" * 1000))) == 480
    assert describe(SessionTimeoutError()) == "SessionTimeoutError"
