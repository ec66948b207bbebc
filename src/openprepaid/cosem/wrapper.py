"""The TCP-UDP wrapper of IEC 62056-47 (Green Book "wrapper" sub-layer), sans-IO.

Every APDU on a TCP (or UDP) connection travels behind an 8-byte header of four big-endian
unsigned 16-bit fields: version (always 0x0001), source wPort, destination wPort, and the length
of the APDU that follows. The stream has no delimiter, so a decoder cannot resynchronise after a
bad header: a wrong version or an APDU longer than the configured bound puts the decoder into a
terminal error state (the transport must drop the connection).

``WrapperDecoder`` takes arbitrary byte chunks (one frame over many reads, many frames in one read)
and yields ``WrapperFrame`` events; ``WrapperFrame.encode()`` produces the bytes to send.
"""

from __future__ import annotations

from dataclasses import dataclass

from openprepaid.cosem.errors import EncodeError, FramingError

WRAPPER_VERSION = 0x0001
WRAPPER_HEADER_LENGTH = 8
# The length field is 16 bits: 65 535 bytes is the largest APDU a wrapper frame can carry and the
# default bound (it covers the largest negotiable max PDU size); callers tighten it to the negotiated
# PDU size plus their ciphering overhead.
MAX_WRAPPER_APDU_LENGTH = 0xFFFF
DEFAULT_MAX_APDU_LENGTH = MAX_WRAPPER_APDU_LENGTH
# How many complete frames' worth of bytes may sit undrained before the decoder refuses more.
_BUFFERED_FRAMES_BOUND = 4


@dataclass(frozen=True, slots=True)
class WrapperFrame:
    """One wrapper frame: the wPorts (client SAP or server logical device) and the APDU."""

    source_wport: int
    destination_wport: int
    apdu: bytes

    def encode(self) -> bytes:
        """The frame's bytes on the wire (header + APDU)."""
        for name, port in (("source", self.source_wport), ("destination", self.destination_wport)):
            if not 0 <= port <= 0xFFFF:
                raise EncodeError(f"wrapper {name} wPort {port} is not an unsigned 16-bit value")
        if len(self.apdu) > MAX_WRAPPER_APDU_LENGTH:
            raise EncodeError(f"APDU of {len(self.apdu)} bytes does not fit a wrapper frame (max 65535)")
        header = (
            WRAPPER_VERSION.to_bytes(2, "big")
            + self.source_wport.to_bytes(2, "big")
            + self.destination_wport.to_bytes(2, "big")
            + len(self.apdu).to_bytes(2, "big")
        )
        return header + bytes(self.apdu)


def encode_wrapper(source_wport: int, destination_wport: int, apdu: bytes) -> bytes:
    """Shorthand for ``WrapperFrame(source_wport, destination_wport, apdu).encode()``."""
    return WrapperFrame(source_wport, destination_wport, apdu).encode()


class WrapperDecoder:
    """Incremental wrapper decoder: ``receive_data(chunk)`` then ``next_event()`` until it returns None.

    A malformed header raises ``FramingError`` from ``next_event()`` and leaves the decoder in its
    error state, where every further call raises again: the byte stream has lost its framing.
    """

    def __init__(self, max_apdu_length: int = DEFAULT_MAX_APDU_LENGTH) -> None:
        if not 0 <= max_apdu_length <= MAX_WRAPPER_APDU_LENGTH:
            raise ValueError(f"max_apdu_length must be within 0..65535, not {max_apdu_length}")
        self.max_apdu_length = max_apdu_length
        self._buffer = bytearray()
        self._error: FramingError | None = None

    @property
    def buffered(self) -> int:
        """Bytes received but not yet returned as frames."""
        return len(self._buffer)

    @property
    def failed(self) -> bool:
        return self._error is not None

    def receive_data(self, data: bytes) -> None:
        """Add received bytes. Refuses input beyond a few frames' worth that nobody drains."""
        self._raise_if_failed()
        if len(self._buffer) + len(data) > _BUFFERED_FRAMES_BOUND * (WRAPPER_HEADER_LENGTH + self.max_apdu_length):
            self._fail(FramingError(f"more than {_BUFFERED_FRAMES_BOUND} frames buffered without next_event()"))
        self._buffer += data

    def next_event(self) -> WrapperFrame | None:
        """The next complete frame, or None when more bytes are needed."""
        self._raise_if_failed()
        buffer = self._buffer
        if len(buffer) < WRAPPER_HEADER_LENGTH:
            return None
        version = int.from_bytes(buffer[0:2], "big")
        if version != WRAPPER_VERSION:
            self._fail(FramingError(f"wrapper version 0x{version:04x}, expected 0x0001", offset=0))
        length = int.from_bytes(buffer[6:8], "big")
        if length > self.max_apdu_length:
            self._fail(FramingError(f"wrapper APDU length {length} exceeds the bound {self.max_apdu_length}", offset=6))
        end = WRAPPER_HEADER_LENGTH + length
        if len(buffer) < end:
            return None
        frame = WrapperFrame(
            source_wport=int.from_bytes(buffer[2:4], "big"),
            destination_wport=int.from_bytes(buffer[4:6], "big"),
            apdu=bytes(buffer[WRAPPER_HEADER_LENGTH:end]),
        )
        del buffer[:end]
        return frame

    def _fail(self, error: FramingError) -> None:
        self._error = error
        self._buffer.clear()
        raise error

    def _raise_if_failed(self) -> None:
        if self._error is not None:
            raise FramingError(f"wrapper decoder already failed: {self._error}")
