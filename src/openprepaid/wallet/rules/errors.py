"""The prepaid rules' error family (domain.md §2).

``InvalidConfigError`` is raised while building a configuration that cannot be right (an empty or
overlapping window, a percentage outside 0–100, a zone name zoneinfo does not know, a calendar that
never allows a disconnection). ``InvalidFactsError`` is raised for arguments a caller got wrong
(a naive datetime, a negative average spend). ``NoAllowedMinuteError`` is raised by the calendar
search when no allowed minute exists within its horizon. No other exception leaks from bad input.
"""

from __future__ import annotations


class RulesError(Exception):
    """Base of every error raised by openprepaid.wallet.rules."""


class InvalidConfigError(RulesError):
    """A rules configuration that is inconsistent or out of range; the message names the field."""


class UnknownTimeZoneError(InvalidConfigError):
    """A zone name that the IANA database (zoneinfo + tzdata) does not contain."""


class InvalidFactsError(RulesError):
    """Facts or arguments handed to a rule that break its contract (naive datetime, bad amount)."""


class NoAllowedMinuteError(RulesError):
    """The no-disconnection calendar allows no minute within the searched horizon."""
