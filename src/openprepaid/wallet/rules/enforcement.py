"""The enforcement gap, a first-class report (domain.md §2 "Enforcement gap", §3).

An account is *in the gap* when it is due for disconnection (emergency credit EXHAUSTED, or the
rules' state in ERROR while the balance is ≤ ₹0) yet its relay is not known to be open. For such
an account ``enforcement_gap_reason`` names why, from facts given as arguments — the primary reason
first, then every other one that also applies:

    protected > kill switch > rules state error > blocked window > meter offline >
    command failed (failed/expired) > command pending (queued/sent) > relay state mismatch
    (a confirmed disconnection but the relay reads connected) > not attempted

"Not attempted" means nothing explains the gap: the rules did not run or their command was lost.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from openprepaid.wallet.money import Paise, format_inr
from openprepaid.wallet.rules.calendar_search import CalendarCheck
from openprepaid.wallet.rules.credit import EmergencyCreditState, EmergencyPhase
from openprepaid.wallet.rules.errors import InvalidFactsError
from openprepaid.wallet.rules.facts import RelayCommandStatus, RelayState
from openprepaid.wallet.rules.json_record import JsonObject
from openprepaid.wallet.rules.validation import require_paise


class EnforcementGapReason(StrEnum):
    PROTECTED = "protected"
    KILL_SWITCH = "kill_switch"
    RULES_STATE_ERROR = "rules_state_error"
    BLOCKED_WINDOW = "blocked_window"
    METER_OFFLINE = "meter_offline"
    COMMAND_FAILED = "command_failed"
    COMMAND_PENDING = "command_pending"
    RELAY_STATE_MISMATCH = "relay_state_mismatch"
    NOT_ATTEMPTED = "not_attempted"


@dataclass(frozen=True)
class EnforcementGap:
    reason: EnforcementGapReason
    all_reasons: tuple[EnforcementGapReason, ...]
    detail: JsonObject

    def to_dict(self) -> JsonObject:
        return {"reason": self.reason.value, "all_reasons": [r.value for r in self.all_reasons], "detail": self.detail}


def enforcement_gap_reason(
    *,
    balance_paise: Paise,
    emergency_credit: EmergencyCreditState,
    relay: RelayState,
    protected: bool,
    kill_switch_engaged: bool,
    calendar: CalendarCheck | None,
    meter_online: bool,
    last_disconnect_command: RelayCommandStatus | None,
) -> EnforcementGap | None:
    """Why a due account is still connected, or ``None`` when it is not in the gap.

    ``calendar`` is the calendar check at the report's time (``check_calendar``), ``None`` if not
    evaluated; ``last_disconnect_command`` is the status of the latest disconnect command issued
    since emergency credit ran out (``None`` when none was issued).
    """
    balance = require_paise("balance_paise", balance_paise)
    if not isinstance(emergency_credit, EmergencyCreditState) or not isinstance(relay, RelayState):
        raise InvalidFactsError("enforcement gap: expected an EmergencyCreditState and a RelayState")
    if last_disconnect_command is not None and not isinstance(last_disconnect_command, RelayCommandStatus):
        raise InvalidFactsError(f"last_disconnect_command: not a RelayCommandStatus: {last_disconnect_command!r}")
    due = emergency_credit.phase is EmergencyPhase.EXHAUSTED or (
        emergency_credit.phase is EmergencyPhase.ERROR and balance <= 0
    )
    if not due or relay is RelayState.DISCONNECTED:
        return None
    status = last_disconnect_command
    checks = (
        (EnforcementGapReason.PROTECTED, protected),
        (EnforcementGapReason.KILL_SWITCH, kill_switch_engaged),
        (EnforcementGapReason.RULES_STATE_ERROR, emergency_credit.phase is EmergencyPhase.ERROR),
        (EnforcementGapReason.BLOCKED_WINDOW, calendar is not None and not calendar.allowed),
        (EnforcementGapReason.METER_OFFLINE, not meter_online),
        (EnforcementGapReason.COMMAND_FAILED, status in (RelayCommandStatus.FAILED, RelayCommandStatus.EXPIRED)),
        (EnforcementGapReason.COMMAND_PENDING, status in (RelayCommandStatus.QUEUED, RelayCommandStatus.SENT)),
        (EnforcementGapReason.RELAY_STATE_MISMATCH, status is RelayCommandStatus.CONFIRMED),
    )
    reasons = tuple(reason for reason, applies in checks if applies) or (EnforcementGapReason.NOT_ATTEMPTED,)
    detail: JsonObject = {
        "balance_paise": balance,
        "balance": format_inr(balance),
        "emergency_credit": emergency_credit.to_dict(),
        "relay": relay.value,
        "meter_online": meter_online,
        "last_disconnect_command": None if status is None else status.value,
        "calendar": None if calendar is None else calendar.to_dict(),
    }
    return EnforcementGap(reason=reasons[0], all_reasons=reasons, detail=detail)
