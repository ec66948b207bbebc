"""Prepaid rules (domain.md §2, §3): pure decisions from facts — stdlib only, no clock, no I/O.

Inputs are frozen dataclasses (``RulesConfig``, ``AccountFacts``, the two persisted states);
outputs are ``Decision`` records whose ``to_dict()`` is JSON-ready. See docs/prepaid-rules.md.
"""

from __future__ import annotations

from openprepaid.wallet.rules.account_facts import AccountFacts
from openprepaid.wallet.rules.calendar_config import (
    DailyWindow,
    DisconnectionCalendar,
    NthWeekday,
    PublicHoliday,
    Weekday,
)
from openprepaid.wallet.rules.calendar_search import (
    CalendarBlock,
    CalendarBlockKind,
    CalendarCheck,
    check_calendar,
    next_allowed_disconnection,
    resolve_zone,
)
from openprepaid.wallet.rules.config import (
    CategoryOverride,
    CategoryRules,
    EmergencyCreditConfig,
    NoticeConfig,
    ProtectionConfig,
    ReconnectConfig,
    RulesConfig,
)
from openprepaid.wallet.rules.credit import (
    EmergencyCreditState,
    EmergencyCreditStep,
    EmergencyPhase,
    ExhaustedBy,
    advance_emergency_credit,
)
from openprepaid.wallet.rules.decide import Decision, DecisionOutcome, decide
from openprepaid.wallet.rules.enforcement import EnforcementGap, EnforcementGapReason, enforcement_gap_reason
from openprepaid.wallet.rules.errors import (
    InvalidConfigError,
    InvalidFactsError,
    NoAllowedMinuteError,
    RulesError,
    UnknownTimeZoneError,
)
from openprepaid.wallet.rules.facts import (
    Disconnection,
    DisconnectOrigin,
    LastRecharge,
    RelayAction,
    RelayCommandStatus,
    RelayState,
)
from openprepaid.wallet.rules.notices import (
    Notice,
    NoticeKind,
    NoticeOutcome,
    NoticeState,
    NoticeThreshold,
    detect_notices,
    notice_thresholds,
    thresholds_crossed,
)
from openprepaid.wallet.rules.protection import ProtectionCheck, protection_of
from openprepaid.wallet.rules.reconnect import ReconnectCheck, reconnect_threshold_met

__all__ = [
    "AccountFacts",
    "CalendarBlock",
    "CalendarBlockKind",
    "CalendarCheck",
    "CategoryOverride",
    "CategoryRules",
    "DailyWindow",
    "Decision",
    "DecisionOutcome",
    "DisconnectOrigin",
    "Disconnection",
    "DisconnectionCalendar",
    "EmergencyCreditConfig",
    "EmergencyCreditState",
    "EmergencyCreditStep",
    "EmergencyPhase",
    "EnforcementGap",
    "EnforcementGapReason",
    "ExhaustedBy",
    "InvalidConfigError",
    "InvalidFactsError",
    "LastRecharge",
    "NoAllowedMinuteError",
    "Notice",
    "NoticeConfig",
    "NoticeKind",
    "NoticeOutcome",
    "NoticeState",
    "NoticeThreshold",
    "NthWeekday",
    "ProtectionCheck",
    "ProtectionConfig",
    "PublicHoliday",
    "ReconnectCheck",
    "ReconnectConfig",
    "RelayAction",
    "RelayCommandStatus",
    "RelayState",
    "RulesConfig",
    "RulesError",
    "UnknownTimeZoneError",
    "Weekday",
    "advance_emergency_credit",
    "check_calendar",
    "decide",
    "detect_notices",
    "enforcement_gap_reason",
    "next_allowed_disconnection",
    "notice_thresholds",
    "protection_of",
    "reconnect_threshold_met",
    "resolve_zone",
    "thresholds_crossed",
]
