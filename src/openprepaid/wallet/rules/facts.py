"""Small fact types the rules read: the last recharge, the relay, a disconnection, command status.

These mirror, without importing them, the ledger's recharge (identified by its payment reference,
architecture.md "Identity") and the HES relay command (``queued → sent → confirmed | failed |
expired``); the wallet may not import the HES (import-linter independence contract).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum

from openprepaid.wallet.money import Paise
from openprepaid.wallet.rules.errors import InvalidFactsError
from openprepaid.wallet.rules.json_record import JsonObject, iso
from openprepaid.wallet.rules.validation import require_aware, require_paise


class RelayState(StrEnum):
    """The relay as last read back from the meter (UNKNOWN until a read-back says otherwise)."""

    CONNECTED = "connected"
    DISCONNECTED = "disconnected"
    UNKNOWN = "unknown"


class RelayAction(StrEnum):
    NONE = "none"
    DISCONNECT = "disconnect"
    RECONNECT = "reconnect"


class RelayCommandStatus(StrEnum):
    """The HES command states (architecture.md); only a read-back moves a command to CONFIRMED."""

    QUEUED = "queued"
    SENT = "sent"
    CONFIRMED = "confirmed"
    FAILED = "failed"
    EXPIRED = "expired"


class DisconnectOrigin(StrEnum):
    """Who opened the relay; only PREPAID_RULES disconnections are reconnected automatically."""

    PREPAID_RULES = "prepaid_rules"
    OPERATOR = "operator"
    LOAD_CONTROL = "load_control"
    METER = "meter"
    UNKNOWN = "unknown"


@dataclass(frozen=True)
class LastRecharge:
    """The account's latest successful recharge; ``reference`` is its payment reference."""

    reference: str
    at: datetime
    amount_paise: Paise

    def __post_init__(self) -> None:
        if not isinstance(self.reference, str) or not self.reference:
            raise InvalidFactsError(f"last recharge: reference must be a non-empty text, got {self.reference!r}")
        object.__setattr__(self, "at", require_aware("last recharge at", self.at).astimezone(UTC))
        if require_paise("last recharge amount_paise", self.amount_paise) <= 0:
            raise InvalidFactsError(f"last recharge {self.reference}: amount must be positive")

    def to_dict(self) -> JsonObject:
        return {"reference": self.reference, "at": iso(self.at), "amount_paise": int(self.amount_paise)}


@dataclass(frozen=True)
class Disconnection:
    """The relay's current open state: when, by whom, and the balance at that moment."""

    at: datetime
    origin: DisconnectOrigin
    balance_paise: Paise

    def __post_init__(self) -> None:
        object.__setattr__(self, "at", require_aware("disconnection at", self.at).astimezone(UTC))
        if not isinstance(self.origin, DisconnectOrigin):
            raise InvalidFactsError(f"disconnection origin: expected DisconnectOrigin, got {self.origin!r}")
        require_paise("disconnection balance_paise", self.balance_paise)

    @property
    def dues_paise(self) -> Paise:
        """What the consumer owed when the relay opened (0 when the balance was not negative)."""
        return Paise(max(0, -self.balance_paise))

    def to_dict(self) -> JsonObject:
        return {"at": iso(self.at), "origin": self.origin.value, "balance_paise": int(self.balance_paise)}
