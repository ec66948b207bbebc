"""The utility's public holidays: one calendar for the prepaid rules and for charging.

The single source is the utility's rules settings (``RulesConfig.calendar.public_holidays``,
docs/prepaid-rules.md): the days on which the no-disconnection calendar blocks automatic
disconnection are also the days whose ToD day type is ``holiday`` in charging, in the daily true-up
and so in the month bill (which prices the zone energies they recorded). A category override's
calendar changes when that category may be disconnected, not which days are holidays for tariffs.
The composition root builds the charging and true-up policies from the same ``RulesConfig`` it hands
to the rules service.
"""

from __future__ import annotations

from datetime import date

from openprepaid.wallet.rules import RulesConfig


def utility_holidays(config: RulesConfig) -> frozenset[date]:
    """The local dates of the utility's public holidays."""
    return frozenset(holiday.on for holiday in config.calendar.public_holidays)
