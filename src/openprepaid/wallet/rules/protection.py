"""Protected consumers: never disconnected automatically (domain.md §2 "Protected consumers").

An account is protected by its category (configured list, e.g. lifeline, hospital, government,
VIP), by a per-account flag (a court order, life support: ``note`` says why), or — when the
utility sets ``protect_sanctioned_load_w_at_most`` — by a small sanctioned load (≤ 1 kW lifeline).
Every reason that applies is reported, not just the first.
"""

from __future__ import annotations

from dataclasses import dataclass

from openprepaid.wallet.rules.config import ProtectionConfig
from openprepaid.wallet.rules.json_record import JsonObject


@dataclass(frozen=True)
class ProtectionCheck:
    protected: bool
    by: tuple[str, ...]

    def to_dict(self) -> JsonObject:
        return {"protected": self.protected, "by": list(self.by)}


def protection_of(
    *,
    category: str,
    config: ProtectionConfig,
    account_protected: bool = False,
    protection_note: str = "",
    sanctioned_load_w: int | None = None,
) -> ProtectionCheck:
    """Whether automatic disconnection is forbidden for this account, and every reason why."""
    by: list[str] = []
    if category in config.protected_categories:
        by.append(f"category:{category}")
    if account_protected:
        by.append(f"account:{protection_note}" if protection_note else "account")
    limit = config.protect_sanctioned_load_w_at_most
    if limit is not None and sanctioned_load_w is not None and sanctioned_load_w <= limit:
        by.append(f"sanctioned_load:{sanctioned_load_w}W<={limit}W")
    return ProtectionCheck(protected=bool(by), by=tuple(by))
