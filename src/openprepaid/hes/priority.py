"""Priorities shared by the command queue, the throttle and the scheduler: higher runs first.

Relay commands come before on-demand reads and configuration, which come before scheduled
collection (a reconnect after a recharge has a 15-minute target, domain.md §6).
"""

from __future__ import annotations

from enum import IntEnum


class Priority(IntEnum):
    SCHEDULED = 10
    CONFIGURATION = 15
    ON_DEMAND = 20
    RELAY = 30
