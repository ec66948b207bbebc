"""Finding HDLC frames in a byte stream (IEC 62056-46: flags and frame format type 3), sans-IO.

Frames are delimited by 0x7E flags but read by their 11-bit length field: a 0x7E inside a frame
(in the length byte, the HCS, the data) is data. One flag may close a frame and open the next.
Bytes between frames are skipped until the next flag. A frame candidate is checked as early as its
bytes allow (format type, length bounds, address extension bits, HCS) so that a false start costs
little; once complete, the closing flag and the FCS decide. A candidate that fails is reported as
``FrameDropped`` and scanning resumes right after its opening flag, so a damaged or false frame can
never hide a good one that starts inside it. Nothing here raises on bad input.
"""

from __future__ import annotations

from dataclasses import dataclass

from openprepaid.cosem.errors import FramingError
from openprepaid.cosem.hdlc_frame import (
    FLAG,
    FORMAT_TYPE_3,
    FORMAT_TYPE_MASK,
    MAX_FRAME_LENGTH,
    MIN_FRAME_LENGTH,
    HdlcFrame,
    address_length,
    decode_frame,
    fcs16,
)


@dataclass(frozen=True, slots=True)
class FrameDecoded:
    """A frame whose length, closing flag, HCS and FCS were all right."""

    frame: HdlcFrame


@dataclass(frozen=True, slots=True)
class FrameDropped:
    """A frame candidate that was discarded: ``reason`` says why, ``data`` holds (up to) its bytes."""

    reason: str
    data: bytes


class HdlcFrameDecoder:
    """Incremental frame finder: ``feed(chunk)`` then ``next_result()`` until it returns None."""

    def __init__(self, max_frame_length: int = MAX_FRAME_LENGTH) -> None:
        if not MIN_FRAME_LENGTH <= max_frame_length <= MAX_FRAME_LENGTH:
            raise ValueError(f"max_frame_length must be within 7..2047, not {max_frame_length}")
        self.max_frame_length = max_frame_length
        self.bytes_skipped = 0  # bytes outside any frame, flags not counted
        self._buffer = bytearray()
        self._position = 0

    def feed(self, data: bytes) -> None:
        if self._position:
            del self._buffer[: self._position]
            self._position = 0
        self._buffer += data

    def has_partial_frame(self) -> bool:
        """True when bytes other than flags wait for the rest of a frame."""
        return any(byte != FLAG for byte in self._buffer[self._position :])

    def discard_partial_frame(self) -> FrameDropped | None:
        """Drop whatever is buffered (an inter-frame timeout expired); report it if it was not just flags."""
        pending = bytes(self._buffer[self._position :])
        self._buffer.clear()
        self._position = 0
        if pending.strip(bytes([FLAG])):
            return FrameDropped("incomplete frame discarded after the inter-frame timeout", pending)
        return None

    def next_result(self) -> FrameDecoded | FrameDropped | None:
        """The next frame or dropped candidate, or None when more bytes are needed."""
        buffer = self._buffer
        while True:
            start = buffer.find(FLAG, self._position)
            if start < 0:
                self.bytes_skipped += len(buffer) - self._position
                self._position = len(buffer)
                return None
            self.bytes_skipped += start - self._position
            self._position = start
            if len(buffer) - start < 3:
                return None
            first = buffer[start + 1]
            if first == FLAG or first & FORMAT_TYPE_MASK != FORMAT_TYPE_3:
                # A flag that opens no frame: inter-frame fill, or the tail of something lost.
                self._position = start + 1
                continue
            verdict = self._check_candidate(start)
            if verdict is None:
                return None
            length = ((first & 0x07) << 8) | buffer[start + 2]
            end = start + 1 + length  # index of the closing flag
            if isinstance(verdict, FrameDecoded):
                self._position = end  # the closing flag may open the next frame
                return verdict
            self._position = start + 1
            return FrameDropped(verdict, bytes(buffer[start : min(end + 1, len(buffer))]))

    def _check_candidate(self, start: int) -> FrameDecoded | str | None:  # noqa: PLR0911 - a return per check, in byte order
        """The frame at ``start``, or why to drop it, or None while more bytes are needed."""
        buffer = self._buffer
        length = ((buffer[start + 1] & 0x07) << 8) | buffer[start + 2]
        if length < MIN_FRAME_LENGTH or length > self.max_frame_length:
            return f"frame length {length} outside {MIN_FRAME_LENGTH}..{self.max_frame_length}"
        body_at = start + 1
        try:
            destination_length = address_length(buffer, body_at + 2)
            if destination_length is None:
                return None
            source_length = address_length(buffer, body_at + 2 + destination_length)
            if source_length is None:
                return None
        except FramingError as exc:
            return str(exc)
        header_length = 2 + destination_length + source_length + 1
        if length != header_length + 2 and length < header_length + 4:
            return f"frame length {length} leaves no room for HCS/FCS after a {header_length}-byte header"
        if length >= header_length + 4:
            hcs_at = body_at + header_length
            if len(buffer) < hcs_at + 2:
                return None
            if fcs16(buffer[body_at:hcs_at]) != int.from_bytes(buffer[hcs_at : hcs_at + 2], "little"):
                return "bad HCS"
        end = body_at + length
        if len(buffer) <= end:
            return None
        if buffer[end] != FLAG:
            return f"no closing flag after {length} bytes"
        try:
            return FrameDecoded(decode_frame(buffer[body_at:end]))
        except FramingError as exc:
            return str(exc)
