"""Transport errors, translated at the boundary into a small family (httpcore-style).

``TransportTimeout`` and ``TransportNetworkError`` are retryable (the meter may answer next time);
``TransportProtocolError`` means the byte stream lost its framing and the connection is unusable.
"""

from __future__ import annotations


class TransportError(Exception):
    """Base of every error raised by openprepaid.transport."""

    retryable = True


class TransportTimeout(TransportError):  # noqa: N818 - the standard family name (httpcore: ReadTimeout)
    """No (complete) answer within the deadline."""


class TransportNetworkError(TransportError):
    """Connection refused, reset or closed by the peer."""


class TransportProtocolError(TransportError):
    """Bytes that do not frame: bad wrapper header, HDLC frame errors beyond recovery, wrong addresses."""

    retryable = False


class TransportClosed(TransportNetworkError):  # noqa: N818
    """The channel was closed (by us or the peer) before the operation completed."""


class AssociationRefusedError(TransportError):
    """The meter refused the association (wrong credentials, unknown client, bad context)."""

    retryable = False


class RequestFailedError(TransportError):
    """The meter answered a request with an exception-response or confirmed-service-error."""

    retryable = False


class SecurityFailedError(TransportError):
    """Authentication or deciphering failed, or a counter was replayed: never retried blindly."""

    retryable = False
