"""Charge lines, bills, and the integer form of the one rounding rule.

Money invariants (domain.md §2 "Money", style.md rule 4): every line is integer paise; rates are
``Decimal`` in the model; no float is ever involved. Internally the rating works on exact
integer ratios (numerator / denominator, the denominator a power of ten chosen per tariff), and a
line becomes paise only through :func:`round_paise_ratio`, which is ``money.round_paise`` (half-up,
i.e. half away from zero) applied to ``Decimal(numerator) / Decimal(denominator)`` computed
without the Decimal context's precision limit. The test-suite checks the two agree.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import NamedTuple

from openprepaid.wallet.money import Paise

# The unit of ``ChargeLine.quantity``.
UNIT_WH = "Wh"  # energy lines: watt-hours in this line
UNIT_W = "W"  # fixed/penalty lines: the load (or excess demand) in watts
UNIT_PERCENT = "%"  # percentage lines: quantity 0, ``rate`` is the percentage
UNIT_DAY = "day"  # reserved for day counts


class ChargeLine(NamedTuple):
    """One ledger line: a component and its amount (positive = charge, negative = credit).

    ``component`` starts with one of ``energy``, ``fixed``, ``minimum``, ``penalty``, ``surcharge``,
    ``duty``, ``rebate``, ``subsidy`` (e.g. ``energy.slab2``, ``duty.electricity``). ``quantity`` is in
    ``unit``: Wh for energy lines, W for fixed, minimum and penalty lines, 0 with unit ``%`` for
    percentage lines. ``rate`` is the tariff's rate behind the line (₹/kWh, ₹/kW/month, %, ToD
    multiplier) when one rate explains it, else ``None``. A NamedTuple because rating creates
    hundreds of thousands of these per second.
    """

    component: str
    amount_paise: int
    quantity: int = 0
    unit: str = ""
    rate: Decimal | None = None


@dataclass(frozen=True)
class Bill:
    """An itemised bill: lines in tariff order (one per component) and their total."""

    lines: tuple[ChargeLine, ...]

    @property
    def total_paise(self) -> Paise:
        return Paise(sum(line.amount_paise for line in self.lines))

    def amount_of(self, component: str) -> int:
        """Sum of the lines whose component is ``component`` or starts with ``component + '.'``."""
        prefix = component + "."
        return sum(
            line.amount_paise for line in self.lines if line.component == component or line.component.startswith(prefix)
        )


def round_paise_ratio(numerator: int, denominator: int) -> int:
    """``round_paise(numerator / denominator)`` exactly, in integers: half away from zero.

    ``denominator`` must be positive. This is the rating hot path's form of the single rounding
    rule; it never goes through a float or a limited-precision Decimal.
    """
    if numerator >= 0:
        return (2 * numerator + denominator) // (2 * denominator)
    return -((-2 * numerator + denominator) // (2 * denominator))
