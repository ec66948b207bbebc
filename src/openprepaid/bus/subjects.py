"""Subjects on the internal bus. One stream (``OPENPREPAID``) holds everything under ``op.>``."""

from __future__ import annotations

STREAM = "OPENPREPAID"
ROOT = "op"

BLOCK_READINGS = "op.readings.block"  # + ".<meter_id>"
DAILY_READINGS = "op.readings.daily"
BILLING_READINGS = "op.readings.billing"
INSTANT_READINGS = "op.readings.instant"
METER_EVENTS = "op.events.meter"
OUTAGES = "op.events.outage"  # opened / closed, with duration_s
RELAY_STATES = "op.events.relay"  # the relay as last read back changed (docs/hes.md)
COMMAND_REQUESTS = "op.commands.request"
COMMAND_OUTCOMES = "op.commands.outcome"
WALLET_MOVEMENTS = "op.wallet.movement"
ALERTS = "op.alerts"


def for_meter(subject: str, meter_id: int) -> str:
    return f"{subject}.{meter_id}"
