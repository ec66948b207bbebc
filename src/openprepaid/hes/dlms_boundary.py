"""What crosses the session layer's boundary: transport and protocol faults become the ``hes.retry``
family (retryable or not), a meter's refusal of one attribute becomes the matching error, and COSEM
date-times become aware UTC datetimes."""

from __future__ import annotations

import contextlib
from collections.abc import Awaitable
from datetime import UTC
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

from openprepaid.cosem.date_time import CosemDateTime
from openprepaid.cosem.errors import CosemError
from openprepaid.cosem.xdlms_common import DataAccessResult
from openprepaid.hes.retry import (
    AccessRefusedError,
    HesError,
    NetworkError,
    ObjectUnavailableError,
    ProtocolFaultError,
    SessionTimeoutError,
)
from openprepaid.transport.errors import (
    AssociationRefusedError,
    RequestFailedError,
    SecurityFailedError,
    TransportError,
    TransportNetworkError,
    TransportProtocolError,
    TransportTimeout,
)

T = TypeVar("T")


def translate(error: BaseException) -> HesError:  # noqa: PLR0911 - one exit per error family
    """Transport and protocol faults -> the head-end's retryable / non-retryable family."""
    if isinstance(error, HesError):
        return error
    if isinstance(error, TransportTimeout):
        return SessionTimeoutError(str(error))
    if isinstance(error, AssociationRefusedError):
        return AccessRefusedError(str(error))
    if isinstance(error, SecurityFailedError):
        return AccessRefusedError(str(error))
    if isinstance(error, RequestFailedError):
        return ObjectUnavailableError(str(error))
    if isinstance(error, TransportNetworkError):
        return NetworkError(str(error))
    if isinstance(error, TransportProtocolError | TransportError | CosemError):
        return ProtocolFaultError(str(error))
    return ProtocolFaultError(f"{type(error).__name__}: {error}")


async def guarded(work: Awaitable[T]) -> T:
    try:
        return await work
    except (TransportError, CosemError) as exc:
        raise translate(exc) from exc


def raise_access(result: DataAccessResult, what: str) -> None:
    raise access_error(result, what)


def access_error(result: DataAccessResult, what: str) -> HesError:
    if result in (DataAccessResult.READ_WRITE_DENIED, DataAccessResult.SCOPE_OF_ACCESS_VIOLATED):
        return AccessRefusedError(f"{what}: {result.name.lower()}")
    if result is DataAccessResult.TEMPORARY_FAILURE:
        return NetworkError(f"{what}: temporary failure at the meter")
    return ObjectUnavailableError(f"{what}: {result.name.lower()}")


_STAMPS: dict[tuple[bytes, ZoneInfo], Any] = {}
_STAMPS_LIMIT = 8_192


def utc_stamp(octets: bytes, zone: ZoneInfo) -> Any:
    """A 12-octet COSEM date-time as an aware UTC datetime (unchanged if it is not a complete one).

    Memoised (bounded): a fleet's profile rows repeat the same interval stamps meter after meter."""
    key = (octets, zone)
    value = _STAMPS.get(key)
    if value is None:
        value = octets
        with contextlib.suppress(CosemError):
            stamp = CosemDateTime.from_bytes(octets)
            if stamp.year is not None and stamp.hour is not None:
                value = stamp.to_datetime(assume_tz=zone).astimezone(UTC)
        if len(_STAMPS) >= _STAMPS_LIMIT:
            _STAMPS.clear()
        _STAMPS[key] = value
    return value
