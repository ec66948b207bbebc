"""The cosem package's error family: every fault in bad input or protocol use is one of these.

Decoders raise ``DecodeError`` (never IndexError, struct.error, UnicodeDecodeError ... from bad
bytes); encoders raise ``EncodeError`` for values that cannot be represented; the security layer
raises ``SecurityError``; the association and link state machines raise ``ProtocolError`` for a
message that is well-formed but not allowed in the current state.
"""

from __future__ import annotations


class CosemError(Exception):
    """Base of every error raised by openprepaid.cosem."""


class DecodeError(CosemError):
    """Bytes that do not decode: truncated, unknown tag, length out of range, bad checksum."""

    def __init__(self, message: str, offset: int | None = None) -> None:
        super().__init__(message if offset is None else f"{message} (at byte {offset})")
        self.offset = offset


class EncodeError(CosemError):
    """A value that cannot be encoded (out of range for its type, too long, wrong kind)."""


class FramingError(DecodeError):
    """A wrapper or HDLC frame that is malformed (length, HCS/FCS, addresses, control field)."""


class SecurityError(CosemError):
    """Authentication or decryption failed, a wrong key or system title, or a replayed counter."""


class ReplayError(SecurityError):
    """An invocation counter that is not greater than the last one accepted."""


class ProtocolError(CosemError):
    """A well-formed message that is not allowed in the current state, or a peer's refusal."""
