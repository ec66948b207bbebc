"""The reconnect threshold (domain.md §2 "Reconnection").

Reconnect an account that these rules disconnected when its balance rises above
``balance_above_paise`` (default ₹0), or — when the utility sets ``dues_paid_percent`` (some
require ≥ 50 %) — when the recharges made since the disconnection add up to at least that % of
the dues at the disconnection (the negative balance then). The comparison is exact (Decimal on
integer paise); nothing is rounded.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from openprepaid.wallet.money import Paise, format_inr
from openprepaid.wallet.rules.config import ReconnectConfig
from openprepaid.wallet.rules.facts import Disconnection
from openprepaid.wallet.rules.json_record import JsonObject
from openprepaid.wallet.rules.validation import require_paise

RULE_BALANCE_ABOVE = "reconnect_balance_above_threshold"
RULE_DUES_PAID_PERCENT = "reconnect_dues_paid_percent"
RULE_NOT_MET = "reconnect_threshold_not_met"
_ZERO_PAISE = Paise(0)


@dataclass(frozen=True)
class ReconnectCheck:
    """Whether the reconnect threshold is met, by which rule, and the numbers behind it."""

    met: bool
    rule: str
    balance_paise: Paise
    balance_above_paise: Paise
    dues_paise: Paise | None
    paid_since_disconnection_paise: Paise
    dues_paid_percent: Decimal | None

    def to_dict(self) -> JsonObject:
        return {
            "met": self.met,
            "rule": self.rule,
            "balance_paise": int(self.balance_paise),
            "balance": format_inr(self.balance_paise),
            "threshold_balance_above_paise": int(self.balance_above_paise),
            "dues_at_disconnection_paise": None if self.dues_paise is None else int(self.dues_paise),
            "paid_since_disconnection_paise": int(self.paid_since_disconnection_paise),
            "threshold_dues_paid_percent": None if self.dues_paid_percent is None else str(self.dues_paid_percent),
        }


def reconnect_threshold_met(
    balance_paise: Paise,
    config: ReconnectConfig,
    *,
    disconnection: Disconnection | None = None,
    recharged_since_disconnection_paise: Paise = _ZERO_PAISE,
) -> ReconnectCheck:
    """Check the reconnect threshold; the % of dues rule needs the ``disconnection`` facts."""
    require_paise("balance_paise", balance_paise)
    paid = Paise(require_paise("recharged_since_disconnection_paise", recharged_since_disconnection_paise))
    dues = None if disconnection is None else disconnection.dues_paise
    rule = RULE_NOT_MET
    if balance_paise > config.balance_above_paise:
        rule = RULE_BALANCE_ABOVE
    elif (
        config.dues_paid_percent is not None
        and dues is not None
        and dues > 0
        and Decimal(paid) * 100 >= config.dues_paid_percent * dues
    ):
        rule = RULE_DUES_PAID_PERCENT
    return ReconnectCheck(
        met=rule != RULE_NOT_MET,
        rule=rule,
        balance_paise=balance_paise,
        balance_above_paise=config.balance_above_paise,
        dues_paise=dues,
        paid_since_disconnection_paise=paid,
        dues_paid_percent=config.dues_paid_percent,
    )
