"""The xDLMS InitiateRequest / InitiateResponse / ConfirmedServiceError carried in ACSE user-information.

(``ConfirmedServiceError`` is ``xdlms_error.ConfirmedServiceError``, re-exported here.)

IEC 62056-5-3 (DLMS UA Green Book 9.5, xDLMS ASN.1 and "Encoding of the xDLMS InitiateRequest /
InitiateResponse"): A-XDR encoded, one tag octet then the fields in order::

    InitiateRequest ::= SEQUENCE {                                    tag 0x01
        dedicated-key               OCTET STRING OPTIONAL,            00 | 01 len key
        response-allowed            BOOLEAN DEFAULT TRUE,             00 | 01 value
        proposed-quality-of-service [0] IMPLICIT Integer8 OPTIONAL,   00 | 01 value
        proposed-dlms-version-number Unsigned8,
        proposed-conformance        Conformance,                      5F 1F 04 00 b0 b1 b2
        client-max-receive-pdu-size Unsigned16 }
    InitiateResponse ::= SEQUENCE {                                   tag 0x08
        negotiated-quality-of-service [0] IMPLICIT Integer8 OPTIONAL,
        negotiated-dlms-version-number Unsigned8,
        negotiated-conformance      Conformance,
        server-max-receive-pdu-size Unsigned16,
        vaa-name                    ObjectName }                      0x0007 LN, 0xFA00 SN
    ConfirmedServiceError ::= CHOICE { initiateError [1] ServiceError, ... }   tag 0x0E
    ServiceError ::= CHOICE { ..., initiate [6] ENUMERATED {...}, ... }

The conformance block is the BER BIT STRING [APPLICATION 31] of 24 bits; bit 0 is the most
significant bit of the first octet. :class:`Conformance` uses the three octets, read big-endian, as
its integer value, so ``Conformance.from_octets(octets)`` is the wire form directly.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

from openprepaid.cosem.acse_ber import BerReader, encode_length
from openprepaid.cosem.errors import DecodeError, EncodeError
from openprepaid.cosem.xdlms_error import ConfirmedService, ConfirmedServiceError, InitiateError, ServiceErrorKind

INITIATE_REQUEST_TAG = 0x01
INITIATE_RESPONSE_TAG = 0x08
CONFIRMED_SERVICE_ERROR_TAG = 0x0E
DLMS_VERSION = 6
VAA_NAME_LN = 0x0007
VAA_NAME_SN = 0xFA00
_CONFORMANCE_HEADER = b"\x5f\x1f\x04\x00"
MAX_DEDICATED_KEY_OCTETS = 32


def _bit(number: int) -> int:
    """The integer value of conformance bit ``number`` (0 = most significant of 24 bits)."""
    return 1 << (23 - number)


class Conformance(enum.IntFlag):
    """The xDLMS conformance block (Green Book "Conformance block"), one flag per standard bit."""

    RESERVED_ZERO = _bit(0)
    GENERAL_PROTECTION = _bit(1)
    GENERAL_BLOCK_TRANSFER = _bit(2)
    READ = _bit(3)
    WRITE = _bit(4)
    UNCONFIRMED_WRITE = _bit(5)
    DELTA_VALUE_ENCODING = _bit(6)
    RESERVED_SEVEN = _bit(7)
    ATTRIBUTE0_SUPPORTED_WITH_SET = _bit(8)
    PRIORITY_MGMT_SUPPORTED = _bit(9)
    ATTRIBUTE0_SUPPORTED_WITH_GET = _bit(10)
    BLOCK_TRANSFER_WITH_GET_OR_READ = _bit(11)
    BLOCK_TRANSFER_WITH_SET_OR_WRITE = _bit(12)
    BLOCK_TRANSFER_WITH_ACTION = _bit(13)
    MULTIPLE_REFERENCES = _bit(14)
    INFORMATION_REPORT = _bit(15)
    DATA_NOTIFICATION = _bit(16)
    ACCESS = _bit(17)
    PARAMETERIZED_ACCESS = _bit(18)
    GET = _bit(19)
    SET = _bit(20)
    SELECTIVE_ACCESS = _bit(21)
    EVENT_NOTIFICATION = _bit(22)
    ACTION = _bit(23)

    def encode(self) -> bytes:
        """The BER BIT STRING: 5F 1F 04 00 and the three octets."""
        if not 0 <= int(self) < 1 << 24:
            raise EncodeError(f"conformance value {int(self):#x} does not fit 24 bits")
        return _CONFORMANCE_HEADER + int(self).to_bytes(3, "big")

    @classmethod
    def from_octets(cls, octets: bytes) -> Conformance:
        """The flags of the three conformance octets as they appear on the wire."""
        if len(octets) != 3:
            raise DecodeError(f"conformance block of {len(octets)} octets, expected 3")
        return cls(int.from_bytes(octets, "big"))

    @classmethod
    def read(cls, reader: BerReader) -> Conformance:
        at = reader.offset
        if reader.read_bytes(4) != _CONFORMANCE_HEADER:
            raise DecodeError("conformance block must start 5F 1F 04 00", at)
        return cls(int.from_bytes(reader.read_bytes(3), "big"))


LN_CLIENT_CONFORMANCE = (
    Conformance.BLOCK_TRANSFER_WITH_GET_OR_READ
    | Conformance.BLOCK_TRANSFER_WITH_SET_OR_WRITE
    | Conformance.BLOCK_TRANSFER_WITH_ACTION
    | Conformance.MULTIPLE_REFERENCES
    | Conformance.GET
    | Conformance.SET
    | Conformance.SELECTIVE_ACCESS
    | Conformance.EVENT_NOTIFICATION
    | Conformance.ACTION
)
"""A typical LN client proposal (the block-transfer, GET/SET/ACTION, selective-access services)."""


InitiateErrorCode = InitiateError
"""ServiceError initiate [6] values (Green Book xDLMS ASN.1), shared with ``xdlms_error``."""
ServiceErrorType = ServiceErrorKind
"""The ServiceError CHOICE alternatives (Green Book xDLMS ASN.1), shared with ``xdlms_error``."""


CONFIRMED_SERVICE_INITIATE_ERROR = ConfirmedService.INITIATE_ERROR
"""ConfirmedServiceError CHOICE initiateError [1]: the alternative an AARE's refusal uses."""


def _check_uint(value: int, bits: int, what: str) -> None:
    if not 0 <= value < 1 << bits:
        raise EncodeError(f"{what} {value} does not fit Unsigned{bits}")


def _encode_quality_of_service(value: int | None) -> bytes:
    if value is None:
        return b"\x00"
    if not -128 <= value <= 127:
        raise EncodeError(f"quality of service {value} does not fit Integer8")
    return b"\x01" + value.to_bytes(1, "big", signed=True)


def _read_quality_of_service(reader: BerReader) -> int | None:
    usage = _read_usage_flag(reader, "quality-of-service")
    return int.from_bytes(reader.read_bytes(1), "big", signed=True) if usage else None


def _read_usage_flag(reader: BerReader, what: str) -> bool:
    at = reader.offset
    flag = reader.read_byte()
    if flag > 1:
        raise DecodeError(f"{what} usage flag {flag:#04x} (00 or 01 expected)", at)
    return flag == 1


def _read_negotiation(reader: BerReader) -> tuple[int | None, int, Conformance, int]:
    """quality-of-service, DLMS version, conformance and max PDU size: the fields both APDUs share."""
    quality_of_service = _read_quality_of_service(reader)
    version = reader.read_byte()
    conformance = Conformance.read(reader)
    return quality_of_service, version, conformance, int.from_bytes(reader.read_bytes(2), "big")


def _read_tag(reader: BerReader, tag: int, what: str) -> None:
    at = reader.offset
    found = reader.read_byte()
    if found != tag:
        raise DecodeError(f"{what}: tag {found:#04x}, expected {tag:#04x}", at)


@dataclass(frozen=True, slots=True, kw_only=True)
class InitiateRequest:
    """xDLMS InitiateRequest: the client's proposal in the AARQ (and RLRQ) user-information."""

    proposed_conformance: Conformance
    client_max_receive_pdu_size: int
    proposed_dlms_version_number: int = DLMS_VERSION
    dedicated_key: bytes | None = field(default=None, repr=False)
    response_allowed: bool = True
    proposed_quality_of_service: int | None = None

    def encode(self) -> bytes:
        _check_uint(self.proposed_dlms_version_number, 8, "DLMS version")
        _check_uint(self.client_max_receive_pdu_size, 16, "client max receive PDU size")
        out = bytearray((INITIATE_REQUEST_TAG,))
        if self.dedicated_key is None:
            out.append(0x00)
        else:
            if not 1 <= len(self.dedicated_key) <= MAX_DEDICATED_KEY_OCTETS:
                raise EncodeError(f"dedicated key of {len(self.dedicated_key)} octets")
            out += b"\x01" + encode_length(len(self.dedicated_key)) + self.dedicated_key
        # DEFAULT TRUE: the default is conveyed by leaving the component out.
        out += b"\x00" if self.response_allowed else b"\x01\x00"
        out += _encode_quality_of_service(self.proposed_quality_of_service)
        out.append(self.proposed_dlms_version_number)
        out += Conformance(self.proposed_conformance).encode()
        out += self.client_max_receive_pdu_size.to_bytes(2, "big")
        return bytes(out)

    @classmethod
    def decode(cls, data: bytes, base: int = 0) -> InitiateRequest:
        reader = BerReader(data, base)
        _read_tag(reader, INITIATE_REQUEST_TAG, "InitiateRequest")
        dedicated_key = None
        if _read_usage_flag(reader, "dedicated-key"):
            at = reader.offset
            length = reader.read_length()
            if not 1 <= length <= MAX_DEDICATED_KEY_OCTETS:
                raise DecodeError(f"dedicated key of {length} octets", at)
            dedicated_key = reader.read_bytes(length)
        response_allowed = True
        if _read_usage_flag(reader, "response-allowed"):
            response_allowed = reader.read_byte() != 0
        quality_of_service, version, conformance, pdu_size = _read_negotiation(reader)
        reader.expect_end("InitiateRequest")
        return cls(
            proposed_conformance=conformance,
            client_max_receive_pdu_size=pdu_size,
            proposed_dlms_version_number=version,
            dedicated_key=dedicated_key,
            response_allowed=response_allowed,
            proposed_quality_of_service=quality_of_service,
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class InitiateResponse:
    """xDLMS InitiateResponse: the server's answer in the AARE (and RLRE) user-information."""

    negotiated_conformance: Conformance
    server_max_receive_pdu_size: int
    negotiated_dlms_version_number: int = DLMS_VERSION
    negotiated_quality_of_service: int | None = None
    vaa_name: int = VAA_NAME_LN

    def encode(self) -> bytes:
        _check_uint(self.negotiated_dlms_version_number, 8, "DLMS version")
        _check_uint(self.server_max_receive_pdu_size, 16, "server max receive PDU size")
        _check_uint(self.vaa_name, 16, "VAA name")
        return (
            bytes((INITIATE_RESPONSE_TAG,))
            + _encode_quality_of_service(self.negotiated_quality_of_service)
            + bytes((self.negotiated_dlms_version_number,))
            + Conformance(self.negotiated_conformance).encode()
            + self.server_max_receive_pdu_size.to_bytes(2, "big")
            + self.vaa_name.to_bytes(2, "big")
        )

    @classmethod
    def decode(cls, data: bytes, base: int = 0) -> InitiateResponse:
        reader = BerReader(data, base)
        _read_tag(reader, INITIATE_RESPONSE_TAG, "InitiateResponse")
        quality_of_service, version, conformance, pdu_size = _read_negotiation(reader)
        vaa_name = int.from_bytes(reader.read_bytes(2), "big")
        reader.expect_end("InitiateResponse")
        return cls(
            negotiated_conformance=conformance,
            server_max_receive_pdu_size=pdu_size,
            negotiated_dlms_version_number=version,
            negotiated_quality_of_service=quality_of_service,
            vaa_name=vaa_name,
        )


__all__ = [
    "CONFIRMED_SERVICE_ERROR_TAG",
    "CONFIRMED_SERVICE_INITIATE_ERROR",
    "DLMS_VERSION",
    "INITIATE_REQUEST_TAG",
    "INITIATE_RESPONSE_TAG",
    "LN_CLIENT_CONFORMANCE",
    "MAX_DEDICATED_KEY_OCTETS",
    "VAA_NAME_LN",
    "VAA_NAME_SN",
    "ConfirmedServiceError",
    "Conformance",
    "InitiateErrorCode",
    "InitiateRequest",
    "InitiateResponse",
    "ServiceErrorType",
]
