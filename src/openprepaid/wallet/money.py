"""Money types: integer paise, Decimal rates, and the one rounding rule.

Invariant: no float ever touches money. Amounts are ``Paise`` (int); rates and quantities are
``Decimal``; a computed amount becomes paise only through ``round_paise`` (half-up, per ledger
line, domain.md §2 "Money").
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal
from typing import NewType

Paise = NewType("Paise", int)

PAISE_PER_RUPEE = 100
_ONE = Decimal(1)


def round_paise(amount_paise: Decimal) -> Paise:
    """Round an exact amount in paise to a whole paisa, half away from zero (half-up on magnitude)."""
    return Paise(int(amount_paise.quantize(_ONE, rounding=ROUND_HALF_UP)))


def rupees_to_paise(rupees: Decimal) -> Paise:
    """₹ with up to any precision -> whole paise, by ``round_paise``."""
    return round_paise(rupees * PAISE_PER_RUPEE)


def format_inr(amount_paise: int) -> str:
    """``123456`` -> ``₹1,234.56``; negative amounts keep their sign in front."""
    sign = "-" if amount_paise < 0 else ""
    rupees, paise = divmod(abs(amount_paise), PAISE_PER_RUPEE)
    return f"{sign}₹{rupees:,}.{paise:02d}"
