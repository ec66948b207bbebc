"""HDLC frames of IEC 62056-46 (DLMS/COSEM data link layer): format type 3, addresses, control, HCS/FCS.

One frame on the wire (IEC 62056-46 MAC sub-layer; the Green Book's "HDLC frame format type 3")::

    7E | A0+S+length(11 bits) | destination address | source address | control | HCS | info | FCS | 7E

* The 2-byte frame format field is ``1010 S LLL LLLLLLLL``: type 3, the segmentation bit S, and the
  length of everything between the flags. Frames are delimited by that length, not by stuffing, so
  0x7E bytes inside a frame are ordinary data.
* Addresses are 1, 2 or 4 bytes; the least significant bit of the last byte is 1 (extension bit).
  A client address is one byte (7 bits). A server address is the upper HDLC address (logical
  device) alone on one byte, or upper and lower (physical device) 7 bits each on two bytes or 14 bits
  each on four bytes.
* Control byte: I ``RRRPSSS0``, RR ``RRRP0001``, RNR ``RRRP0101``, and the unnumbered SNRM 0x83,
  DISC 0x43, UA 0x63, DM 0x0F, FRMR 0x87, UI 0x03, each with P/F at 0x10.
* HCS (over format..control) is present only when there is an information field; FCS covers
  format..info. Both are the FCS-16 of ISO/IEC 13239 (CRC-16/X.25), sent least significant byte first.
* The LLC header E6 E6 00 (command) or E6 E7 00 (response) starts the data of I-frames; it belongs
  to the link-service data before segmentation, so it is handled by ``hdlc_link``, not here.
"""

from __future__ import annotations

import binascii
import enum
from dataclasses import dataclass

from openprepaid.cosem.errors import EncodeError, FramingError

FLAG = 0x7E
FORMAT_TYPE_3 = 0xA0
FORMAT_TYPE_MASK = 0xF0
SEGMENTATION_BIT = 0x08  # in the first byte of the frame format field
MAX_FRAME_LENGTH = 0x7FF  # the 11-bit length field
POLL_FINAL_BIT = 0x10
SEQUENCE_MODULUS = 8
MIN_FRAME_LENGTH = 7  # format 2 + destination 1 + source 1 + control 1 + FCS 2

LLC_COMMAND = b"\xe6\xe6\x00"
LLC_RESPONSE = b"\xe6\xe7\x00"

# CRC-16/X.25 is the reflected CCITT CRC; binascii.crc_hqx is the non-reflected one, so bytes are
# bit-reversed on the way in and the register on the way out (the same polynomial, at C speed).
_REVERSE_BITS = bytes(int(f"{value:08b}"[::-1], 2) for value in range(256))


def fcs16(data: bytes | bytearray | memoryview) -> int:
    """The FCS-16 of ISO/IEC 13239 (CRC-16/X.25: poly 0x1021 reflected, init and xorout 0xFFFF)."""
    register = binascii.crc_hqx(bytes(data).translate(_REVERSE_BITS), 0xFFFF)
    reflected = (_REVERSE_BITS[register & 0xFF] << 8) | _REVERSE_BITS[register >> 8]
    return reflected ^ 0xFFFF


def fcs16_bytes(data: bytes | bytearray | memoryview) -> bytes:
    """The check sequence as transmitted: least significant byte first."""
    return fcs16(data).to_bytes(2, "little")


class FrameKind(enum.Enum):
    """The frame types DLMS/COSEM uses (IEC 62056-46, control field: commands and responses)."""

    I = "I"  # noqa: E741 - the standard's name for an information frame
    RR = "RR"
    RNR = "RNR"
    SNRM = "SNRM"
    DISC = "DISC"
    UA = "UA"
    DM = "DM"
    FRMR = "FRMR"
    UI = "UI"


_SUPERVISORY = {FrameKind.RR: 0x01, FrameKind.RNR: 0x05}
_UNNUMBERED = {
    FrameKind.SNRM: 0x83,
    FrameKind.DISC: 0x43,
    FrameKind.UA: 0x63,
    FrameKind.DM: 0x0F,
    FrameKind.FRMR: 0x87,
    FrameKind.UI: 0x03,
}
_KIND_OF_SUPERVISORY = {code: kind for kind, code in _SUPERVISORY.items()}
_KIND_OF_UNNUMBERED = {code: kind for kind, code in _UNNUMBERED.items()}
# Frames that can carry an information field (S-frames never do).
_INFO_KINDS = frozenset({FrameKind.I, FrameKind.UI, FrameKind.SNRM, FrameKind.UA, FrameKind.FRMR, FrameKind.DM})


@dataclass(frozen=True, slots=True)
class HdlcAddress:
    """An HDLC address: ``upper`` (client address, or server logical device) and optional ``lower``.

    ``size`` is the encoded length: 1 (upper only, 7 bits), 2 (7 + 7 bits) or 4 (14 + 14 bits).
    """

    upper: int
    lower: int | None = None
    size: int = 1

    def __post_init__(self) -> None:
        if self.size == 1:
            limit = 0x7F
            if self.lower is not None:
                raise EncodeError("a one-byte HDLC address has no lower part")
        elif self.size in (2, 4):
            limit = 0x7F if self.size == 2 else 0x3FFF
            if self.lower is None:
                raise EncodeError(f"a {self.size}-byte HDLC address needs a lower part")
            if not 0 <= self.lower <= limit:
                raise EncodeError(f"lower HDLC address {self.lower} does not fit {self.size} bytes")
        else:
            raise EncodeError(f"an HDLC address is 1, 2 or 4 bytes, not {self.size}")
        if not 0 <= self.upper <= limit:
            raise EncodeError(f"upper HDLC address {self.upper} does not fit {self.size} byte(s)")

    @classmethod
    def client(cls, address: int) -> HdlcAddress:
        """A client SAP (one byte; 0x10 is the public client)."""
        return cls(address)

    @classmethod
    def server(cls, upper: int, lower: int | None = None, size: int | None = None) -> HdlcAddress:
        """A server address; without ``size`` the shortest encoding that holds both parts."""
        if size is None:
            size = 1 if lower is None else 2 if upper <= 0x7F and lower <= 0x7F else 4
        return cls(upper, lower, size)

    def matches(self, other: HdlcAddress) -> bool:
        """Same upper address, and same lower address where both frames name one."""
        if self.upper != other.upper:
            return False
        return self.lower is None or other.lower is None or self.lower == other.lower

    def encode(self) -> bytes:
        if self.size == 1:
            return bytes([(self.upper << 1) | 1])
        lower = self.lower if self.lower is not None else 0
        if self.size == 2:
            return bytes([self.upper << 1, (lower << 1) | 1])
        return bytes([(self.upper >> 7) << 1, (self.upper & 0x7F) << 1, (lower >> 7) << 1, ((lower & 0x7F) << 1) | 1])


def address_length(data: bytes | bytearray, offset: int) -> int | None:
    """Bytes of the address starting at ``offset`` (1, 2 or 4), or None while it is incomplete.

    Raises FramingError when the extension bit does not end the address at 1, 2 or 4 bytes.
    """
    for index in range(4):
        if offset + index >= len(data):
            return None
        if data[offset + index] & 1:
            length = index + 1
            if length == 3:
                raise FramingError("a 3-byte HDLC address", offset=offset)
            return length
    raise FramingError("an HDLC address longer than 4 bytes", offset=offset)


def decode_address(raw: bytes | bytearray) -> HdlcAddress:
    """Decode a complete 1-, 2- or 4-byte address field."""
    if len(raw) == 1:
        return HdlcAddress(raw[0] >> 1)
    if len(raw) == 2:
        return HdlcAddress(raw[0] >> 1, raw[1] >> 1, 2)
    if len(raw) == 4:
        return HdlcAddress(((raw[0] >> 1) << 7) | (raw[1] >> 1), ((raw[2] >> 1) << 7) | (raw[3] >> 1), 4)
    raise FramingError(f"an HDLC address of {len(raw)} bytes")


@dataclass(frozen=True, slots=True)
class HdlcFrame:
    """One decoded (or to-be-encoded) HDLC frame. ``send_seq``/``receive_seq`` are N(S)/N(R)."""

    kind: FrameKind
    destination: HdlcAddress
    source: HdlcAddress
    poll_final: bool = True
    send_seq: int = 0
    receive_seq: int = 0
    info: bytes = b""
    segmented: bool = False

    def __post_init__(self) -> None:
        if not (0 <= self.send_seq < SEQUENCE_MODULUS and 0 <= self.receive_seq < SEQUENCE_MODULUS):
            raise EncodeError(f"sequence numbers N(S)={self.send_seq} N(R)={self.receive_seq} are not modulo 8")
        if self.info and self.kind not in _INFO_KINDS:
            raise EncodeError(f"a {self.kind.value} frame carries no information field")
        if self.segmented and self.kind not in (FrameKind.I, FrameKind.UI):
            raise EncodeError(f"a {self.kind.value} frame cannot be segmented")

    @property
    def control(self) -> int:
        poll = POLL_FINAL_BIT if self.poll_final else 0
        if self.kind is FrameKind.I:
            return (self.receive_seq << 5) | poll | (self.send_seq << 1)
        if self.kind in _SUPERVISORY:
            return (self.receive_seq << 5) | poll | _SUPERVISORY[self.kind]
        return _UNNUMBERED[self.kind] | poll

    def encode(self) -> bytes:
        """The frame with its opening and closing flags."""
        header_addresses = self.destination.encode() + self.source.encode()
        header_length = 2 + len(header_addresses) + 1
        length = header_length + 2 + (len(self.info) + 2 if self.info else 0)
        if length > MAX_FRAME_LENGTH:
            raise EncodeError(f"an HDLC frame of {length} bytes exceeds the 11-bit length field")
        format_field = ((FORMAT_TYPE_3 | (SEGMENTATION_BIT if self.segmented else 0)) << 8) | length
        header = format_field.to_bytes(2, "big") + header_addresses + bytes([self.control])
        body = header + fcs16_bytes(header) + bytes(self.info) if self.info else header
        return bytes([FLAG]) + body + fcs16_bytes(body) + bytes([FLAG])


def decode_control(control: int) -> tuple[FrameKind, bool, int, int]:
    """(kind, P/F, N(S), N(R)) of a control byte; FramingError for a type DLMS does not use."""
    poll_final = bool(control & POLL_FINAL_BIT)
    if control & 0x01 == 0:
        return FrameKind.I, poll_final, (control >> 1) & 0x07, control >> 5
    if control & 0x03 == 0x01:
        kind = _KIND_OF_SUPERVISORY.get(control & 0x0F)
        if kind is None:
            raise FramingError(f"supervisory control field 0x{control:02x} (REJ/SREJ) is not used by DLMS")
        return kind, poll_final, 0, control >> 5
    kind = _KIND_OF_UNNUMBERED.get(control & ~POLL_FINAL_BIT & 0xFF)
    if kind is None:
        raise FramingError(f"unnumbered control field 0x{control:02x} is not defined in IEC 62056-46")
    return kind, poll_final, 0, 0


def decode_frame(body: bytes | bytearray) -> HdlcFrame:
    """Decode the bytes between the flags (format field .. FCS), checking length, HCS and FCS."""
    if len(body) < MIN_FRAME_LENGTH:
        raise FramingError(f"an HDLC frame of {len(body)} bytes is shorter than the minimum 7")
    if body[0] & FORMAT_TYPE_MASK != FORMAT_TYPE_3:
        raise FramingError(f"frame format 0x{body[0]:02x} is not type 3", offset=0)
    length = ((body[0] & 0x07) << 8) | body[1]
    if length != len(body):
        raise FramingError(f"frame length field {length} but {len(body)} bytes between the flags", offset=0)
    destination_length = address_length(body, 2)
    source_length = None if destination_length is None else address_length(body, 2 + destination_length)
    if destination_length is None or source_length is None:
        raise FramingError("frame ends inside its address field", offset=2)
    control_at = 2 + destination_length + source_length
    header_length = control_at + 1
    if length == header_length + 2:
        info = b""
    elif length >= header_length + 4:
        if fcs16(body[:header_length]) != int.from_bytes(body[header_length : header_length + 2], "little"):
            raise FramingError("bad HCS", offset=header_length)
        info = bytes(body[header_length + 2 : length - 2])
    else:
        raise FramingError(f"frame length {length} leaves no room for HCS/FCS after a {header_length}-byte header")
    if fcs16(body[: length - 2]) != int.from_bytes(body[length - 2 : length], "little"):
        raise FramingError("bad FCS", offset=length - 2)
    kind, poll_final, send_seq, receive_seq = decode_control(body[control_at])
    segmented = bool(body[0] & SEGMENTATION_BIT)
    if info and kind not in _INFO_KINDS:
        raise FramingError(f"a {kind.value} frame with an information field", offset=header_length)
    if segmented and kind not in (FrameKind.I, FrameKind.UI):
        raise FramingError(f"a segmented {kind.value} frame", offset=0)
    return HdlcFrame(
        kind=kind,
        destination=decode_address(body[2 : 2 + destination_length]),
        source=decode_address(body[2 + destination_length : control_at]),
        poll_final=poll_final,
        send_seq=send_seq,
        receive_seq=receive_seq,
        info=info,
        segmented=segmented,
    )
