"""The simulator's error family, shaped for the COSEM server that will serve a virtual meter.

Every refusal of a GET, SET or ACTION is a ``DataAccessError`` whose ``result_name`` and
``result_code`` are the IEC 62056-5-3 Data-Access-Result (the Action-Result enumeration uses the
same numbers), so a server can answer with the right code without knowing why. Wrong Python types
in a written value or a parameter are ``TypeUnmatchedError``; values of the right type that the meter
refuses (a capture period of 7 minutes, a control mode of 9) are ``OtherReasonError``.
"""

from __future__ import annotations

from typing import ClassVar


class SimulatorError(Exception):
    """Base of every error raised by openprepaid.simulator."""


class ConfigurationError(SimulatorError):
    """A fleet, meter or fault set up with impossible parameters."""


class DataAccessError(SimulatorError):
    """A GET, SET or ACTION the meter refuses; carries the Data-Access-Result to answer with."""

    result_name: ClassVar[str] = "other-reason"
    result_code: ClassVar[int] = 250


class HardwareFaultError(DataAccessError):
    result_name, result_code = "hardware-fault", 1


class TemporaryFailureError(DataAccessError):
    """The meter cannot answer now (no supply, busy)."""

    result_name, result_code = "temporary-failure", 2


class ReadWriteDeniedError(DataAccessError):
    """The attribute or method exists but may not be read, written or invoked (by this client)."""

    result_name, result_code = "read-write-denied", 3


class ObjectUndefinedError(DataAccessError):
    """No such object (OBIS code) in this meter, or no such attribute or method in its class."""

    result_name, result_code = "object-undefined", 4


class ObjectClassInconsistentError(DataAccessError):
    """The object exists with another interface class."""

    result_name, result_code = "object-class-inconsistent", 9


class ObjectUnavailableError(DataAccessError):
    """The object exists but what was asked of it is not available (e.g. a column it does not capture)."""

    result_name, result_code = "object-unavailable", 11


class TypeUnmatchedError(DataAccessError):
    """A written value or a parameter of the wrong type."""

    result_name, result_code = "type-unmatched", 12


class ScopeOfAccessViolatedError(DataAccessError):
    result_name, result_code = "scope-of-access-violated", 13


class OtherReasonError(DataAccessError):
    """A value of the right type that the meter refuses."""

    result_name, result_code = "other-reason", 250
