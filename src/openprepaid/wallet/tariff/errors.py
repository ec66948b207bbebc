"""The tariff package's error family: one base, one subclass per kind of mistake."""

from __future__ import annotations


class TariffError(Exception):
    """Base of every error raised by ``openprepaid.wallet.tariff``."""


class TariffSpecError(TariffError):
    """A tariff definition is inconsistent (overlapping slabs, ToD gaps, bad percentages, ...).

    The message starts with the offending field's path relative to the object being built, e.g.
    ``slabs[2].up_to_kwh: must be greater than 400``.
    """


class RatingInputError(TariffError):
    """A rating call got impossible input (negative energy, day 0 of a month, unknown ToD zone, ...)."""
