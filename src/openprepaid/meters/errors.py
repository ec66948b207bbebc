"""The meters package's error family: a malformed OBIS code or a lookup of an object not in a catalogue."""

from __future__ import annotations


class MeterModelError(Exception):
    """Base of every error raised by openprepaid.meters."""


class InvalidObisError(MeterModelError):
    """Text or bytes that are not an OBIS code (six groups 0..255)."""


class UnknownObjectError(MeterModelError, LookupError):
    """An OBIS code, event code or meter type that the catalogue does not define."""
