"""The tariff package's error family: one base, one subclass per kind of mistake."""

from __future__ import annotations


class TariffError(Exception):
    """Base of every error raised by ``openprepaid.wallet.tariff``."""


class TariffSpecError(TariffError):
    """A tariff definition is inconsistent (overlapping slabs, ToD gaps, bad percentages, ...).

    ``path`` is the offending field relative to the object being built (e.g. ``slabs[2].up_to_kwh``),
    ``reason`` what is wrong; ``str()`` gives ``"path: reason"``.
    """

    def __init__(self, path: str, reason: str) -> None:
        self.path = path
        self.reason = reason
        super().__init__(f"{path}: {reason}" if path else reason)


class RatingInputError(TariffError):
    """A rating call got impossible input (negative energy, day 0 of a month, unknown ToD zone, ...)."""
