"""HDLC parameter negotiation in SNRM/UA (IEC 62056-46; the Green Book's "HDLC parameter negotiation").

The information field of SNRM and UA is ``81 80 <group length>`` followed by parameters
``<id> <length> <value>`` (value big-endian, 1..4 bytes):

* 0x05 maximum information field length, transmit   (default 128)
* 0x06 maximum information field length, receive    (default 128)
* 0x07 window size, transmit                        (default 1)
* 0x08 window size, receive                         (default 1)

Each station states the values from its own point of view: the client's SNRM proposes what it
wants to send and can receive; the server's UA answers with what it will send and receive, never
more than the client proposed. A parameter that is absent takes its default, and an SNRM or UA
without an information field means all defaults.
"""

from __future__ import annotations

from dataclasses import dataclass

from openprepaid.cosem.errors import EncodeError, FramingError

FORMAT_IDENTIFIER = 0x81
GROUP_IDENTIFIER = 0x80
MAX_INFO_TX = 0x05
MAX_INFO_RX = 0x06
WINDOW_TX = 0x07
WINDOW_RX = 0x08

DEFAULT_MAX_INFO_LENGTH = 128
DEFAULT_WINDOW_SIZE = 1
# 2030 keeps the largest frame (4-byte server address, HCS and FCS: 2042 bytes) within 11 bits; below
# 32 bytes a link would spend more on headers than on data, so such proposals are refused.
MIN_MAX_INFO_LENGTH = 32
MAX_MAX_INFO_LENGTH = 2030
MAX_WINDOW_SIZE = 7


@dataclass(frozen=True, slots=True)
class HdlcParameters:
    """Link parameters from one station's point of view (tx = what it sends, rx = what it receives)."""

    max_info_tx: int = DEFAULT_MAX_INFO_LENGTH
    max_info_rx: int = DEFAULT_MAX_INFO_LENGTH
    window_tx: int = DEFAULT_WINDOW_SIZE
    window_rx: int = DEFAULT_WINDOW_SIZE

    def __post_init__(self) -> None:
        problem = self.out_of_range()
        if problem:
            raise EncodeError(problem)

    def out_of_range(self) -> str | None:
        for name in ("max_info_tx", "max_info_rx"):
            value = getattr(self, name)
            if not MIN_MAX_INFO_LENGTH <= value <= MAX_MAX_INFO_LENGTH:
                return f"{name}={value} is outside {MIN_MAX_INFO_LENGTH}..{MAX_MAX_INFO_LENGTH}"
        for name in ("window_tx", "window_rx"):
            value = getattr(self, name)
            if not 1 <= value <= MAX_WINDOW_SIZE:
                return f"{name}={value} is outside 1..{MAX_WINDOW_SIZE}"
        return None

    def mirrored(self) -> HdlcParameters:
        """The same link seen from the other station (transmit and receive swapped)."""
        return HdlcParameters(self.max_info_rx, self.max_info_tx, self.window_rx, self.window_tx)

    def encode(self, *, omit_defaults: bool = False) -> bytes:
        """The SNRM/UA information field; empty when ``omit_defaults`` and every value is a default.

        Lengths are sent on two bytes and windows on four, as in the Green Book's example UA.
        """
        parameters = bytearray()
        for identifier, value, size, default in (
            (MAX_INFO_TX, self.max_info_tx, 2, DEFAULT_MAX_INFO_LENGTH),
            (MAX_INFO_RX, self.max_info_rx, 2, DEFAULT_MAX_INFO_LENGTH),
            (WINDOW_TX, self.window_tx, 4, DEFAULT_WINDOW_SIZE),
            (WINDOW_RX, self.window_rx, 4, DEFAULT_WINDOW_SIZE),
        ):
            if omit_defaults and value == default:
                continue
            parameters += bytes([identifier, size]) + value.to_bytes(size, "big")
        if not parameters:
            return b""
        return bytes([FORMAT_IDENTIFIER, GROUP_IDENTIFIER, len(parameters)]) + bytes(parameters)

    @classmethod
    def decode(cls, info: bytes) -> HdlcParameters:
        """Parse an SNRM/UA information field (empty: all defaults). Unknown parameter ids are skipped."""
        if not info:
            return cls()
        if len(info) < 3 or info[0] != FORMAT_IDENTIFIER or info[1] != GROUP_IDENTIFIER:
            raise FramingError(f"HDLC parameter field does not start with 81 80: {info[:3].hex()}", offset=0)
        if info[2] != len(info) - 3:
            raise FramingError(f"HDLC parameter group length {info[2]} but {len(info) - 3} bytes follow", offset=2)
        values = {
            MAX_INFO_TX: DEFAULT_MAX_INFO_LENGTH,
            MAX_INFO_RX: DEFAULT_MAX_INFO_LENGTH,
            WINDOW_TX: DEFAULT_WINDOW_SIZE,
            WINDOW_RX: DEFAULT_WINDOW_SIZE,
        }
        offset = 3
        while offset < len(info):
            if offset + 2 > len(info):
                raise FramingError("HDLC parameter truncated", offset=offset)
            identifier, size = info[offset], info[offset + 1]
            if not 1 <= size <= 4 or offset + 2 + size > len(info):
                raise FramingError(f"HDLC parameter 0x{identifier:02x} with a value of {size} bytes", offset=offset)
            if identifier in values:
                values[identifier] = int.from_bytes(info[offset + 2 : offset + 2 + size], "big")
            offset += 2 + size
        candidate = (values[MAX_INFO_TX], values[MAX_INFO_RX], values[WINDOW_TX], values[WINDOW_RX])
        try:
            return cls(*candidate)
        except EncodeError as exc:
            raise FramingError(f"HDLC parameters out of range: {exc}") from exc

    def answer(self, proposal: HdlcParameters) -> HdlcParameters:
        """The server's UA values: its capabilities (``self``) limited by the client's SNRM proposal."""
        return HdlcParameters(
            max_info_tx=min(self.max_info_tx, proposal.max_info_rx),
            max_info_rx=min(self.max_info_rx, proposal.max_info_tx),
            window_tx=min(self.window_tx, proposal.window_rx),
            window_rx=min(self.window_rx, proposal.window_tx),
        )

    def accept(self, answer: HdlcParameters) -> HdlcParameters:
        """The client's negotiated values from its proposal (``self``) and the server's UA answer.

        Taking the minimum also protects the client from a server that answers more than proposed.
        """
        return HdlcParameters(
            max_info_tx=min(self.max_info_tx, answer.max_info_rx),
            max_info_rx=min(self.max_info_rx, answer.max_info_tx),
            window_tx=min(self.window_tx, answer.window_rx),
            window_rx=min(self.window_rx, answer.window_tx),
        )
