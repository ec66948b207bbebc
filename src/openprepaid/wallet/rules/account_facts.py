"""``AccountFacts``: everything ``decide`` needs to know about one account, as plain data.

The caller (the wallet's rules service) assembles it from the ledger, the relay read-back, the
command queue and the two small persisted rule states, and stores the two new states that come
back in the ``Decision``. Facts that do not apply stay at their defaults.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

from openprepaid.wallet.money import Paise
from openprepaid.wallet.rules.credit import EmergencyCreditState
from openprepaid.wallet.rules.errors import InvalidFactsError
from openprepaid.wallet.rules.facts import Disconnection, LastRecharge, RelayAction, RelayState
from openprepaid.wallet.rules.json_record import JsonObject, iso_or_none
from openprepaid.wallet.rules.notices import NoticeState
from openprepaid.wallet.rules.validation import require_aware, require_paise

_ZERO_PAISE = Paise(0)


@dataclass(frozen=True)
class AccountFacts:
    """One account at one moment.

    * ``balance_paise`` now and ``previous_balance_paise`` at the previous evaluation (for notice
      crossings); ``last_recharge`` (re-arms notices, base of the % thresholds);
      ``average_daily_spend_paise`` (days-of-credit-left notices).
    * ``relay`` as last read back; ``disconnection`` describes the open relay (ignored unless
      DISCONNECTED); ``recharged_since_disconnection_paise`` is the sum of recharges after it;
      ``pending_relay_command`` is a DISCONNECT/RECONNECT still queued or sent at the HES.
    * protection facts, the postpaid → prepaid conversion time (grace period), and the persisted
      ``emergency_credit`` and ``notice_state`` from the previous decision.
    """

    account_id: str
    category: str
    balance_paise: Paise
    previous_balance_paise: Paise
    relay: RelayState = RelayState.CONNECTED
    emergency_credit: EmergencyCreditState = field(default_factory=EmergencyCreditState)
    notice_state: NoticeState = field(default_factory=NoticeState)
    last_recharge: LastRecharge | None = None
    average_daily_spend_paise: Paise | None = None
    disconnection: Disconnection | None = None
    recharged_since_disconnection_paise: Paise = _ZERO_PAISE
    pending_relay_command: RelayAction | None = None
    account_protected: bool = False
    protection_note: str = ""
    sanctioned_load_w: int | None = None
    converted_to_prepaid_at: datetime | None = None

    def __post_init__(self) -> None:
        for name in ("account_id", "category"):
            value = getattr(self, name)
            if not isinstance(value, str) or not value:
                raise InvalidFactsError(f"{name}: expected a non-empty text, got {value!r}")
        require_paise("balance_paise", self.balance_paise)
        require_paise("previous_balance_paise", self.previous_balance_paise)
        if require_paise("recharged_since_disconnection_paise", self.recharged_since_disconnection_paise) < 0:
            raise InvalidFactsError("recharged_since_disconnection_paise: must not be negative")
        if (
            self.average_daily_spend_paise is not None
            and require_paise("average_daily_spend_paise", self.average_daily_spend_paise) < 0
        ):
            raise InvalidFactsError("average_daily_spend_paise: must not be negative")
        checks: tuple[tuple[str, object, type | tuple[type, ...]], ...] = (
            ("relay", self.relay, RelayState),
            ("emergency_credit", self.emergency_credit, EmergencyCreditState),
            ("notice_state", self.notice_state, NoticeState),
            ("last_recharge", self.last_recharge, (LastRecharge, type(None))),
            ("disconnection", self.disconnection, (Disconnection, type(None))),
            ("account_protected", self.account_protected, bool),
            ("protection_note", self.protection_note, str),
        )
        for name, value, kind in checks:
            if not isinstance(value, kind):
                raise InvalidFactsError(f"{name}: unexpected value {value!r}")
        if self.pending_relay_command not in (None, RelayAction.DISCONNECT, RelayAction.RECONNECT):
            raise InvalidFactsError(
                f"pending_relay_command: expected DISCONNECT, RECONNECT or None, got {self.pending_relay_command!r}"
            )
        if self.sanctioned_load_w is not None and (
            isinstance(self.sanctioned_load_w, bool)
            or not isinstance(self.sanctioned_load_w, int)
            or self.sanctioned_load_w < 0
        ):
            raise InvalidFactsError(f"sanctioned_load_w: expected watts >= 0, got {self.sanctioned_load_w!r}")
        if self.converted_to_prepaid_at is not None:
            converted = require_aware("converted_to_prepaid_at", self.converted_to_prepaid_at)
            object.__setattr__(self, "converted_to_prepaid_at", converted.astimezone(UTC))

    def summary(self) -> JsonObject:
        """The facts that go into the decision record."""
        return {
            "account_id": self.account_id,
            "category": self.category,
            "balance_paise": int(self.balance_paise),
            "previous_balance_paise": int(self.previous_balance_paise),
            "relay": self.relay.value,
            "pending_relay_command": None if self.pending_relay_command is None else self.pending_relay_command.value,
            "disconnection": None if self.disconnection is None else self.disconnection.to_dict(),
            "recharged_since_disconnection_paise": int(self.recharged_since_disconnection_paise),
            "last_recharge": None if self.last_recharge is None else self.last_recharge.to_dict(),
            "converted_to_prepaid_at": iso_or_none(self.converted_to_prepaid_at),
        }
