"""Codecs of the individual ACSE components shared by AARQ, AARE, RLRQ and RLRE (IEC 62056-5-3).

Green Book "Encoding of the ACSE APDUs": EXPLICIT-tagged OBJECT IDENTIFIER names under the DLMS UA
arc, EXPLICIT OCTET STRING titles, EXPLICIT INTEGERs, the Authentication-value CHOICE (DLMS uses
charstring [0]), the one-bit ACSE-requirements BIT STRING, and the user-information OCTET STRING.
:func:`components` splits an APDU into its components and checks their order. See ``acse.py``.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping
from typing import TypeVar

from openprepaid.cosem.acse_ber import (
    TAG_INTEGER,
    TAG_OBJECT_IDENTIFIER,
    TAG_OCTET_STRING,
    BerReader,
    Tlv,
    decode_inner,
    decode_integer,
    decode_single,
    encode_integer,
    encode_tlv,
)
from openprepaid.cosem.errors import DecodeError, EncodeError
from openprepaid.cosem.security_apdu import CipheredApdu, GeneralCipheredApdu, decode_protected, is_protected

E = TypeVar("E", bound=enum.IntEnum)

CONTEXT_ARC = bytes.fromhex("608574050801")
"""2.16.756.5.8.1: DLMS UA application context names."""
MECHANISM_ARC = bytes.fromhex("608574050802")
"""2.16.756.5.8.2: DLMS UA authentication mechanism names."""
ACSE_REQUIREMENTS_AUTHENTICATION = b"\x07\x80"
"""BIT STRING with 7 unused bits and bit 0 (the authentication functional unit) set."""
USER_INFORMATION_TAG = 0xBE
_PROTOCOL_VERSION_1 = 0x80
_CHARSTRING = 0x80


def encode_name(tag: int, arc: bytes, number: int, *, explicit: bool) -> bytes:
    """An OBJECT IDENTIFIER ``arc.number``, EXPLICIT-tagged (context name) or IMPLICIT (mechanism)."""
    if not 0 <= number <= 0x7F:
        raise EncodeError(f"name number {number} is not a single-octet arc")
    oid = arc + bytes((number,))
    return encode_tlv(tag, encode_tlv(TAG_OBJECT_IDENTIFIER, oid) if explicit else oid)


def decode_name(element: Tlv, arc: bytes, kind: type[E], what: str, *, explicit: bool) -> int:
    """The last arc of a DLMS UA name: a member of ``kind`` when known, else the plain number."""
    oid = decode_inner(element, TAG_OBJECT_IDENTIFIER, what) if explicit else element
    contents = oid.value
    if len(contents) != len(arc) + 1 or not contents.startswith(arc) or contents[-1] > 0x7F:
        raise DecodeError(f"{what} is not a DLMS UA name ({arc.hex()}xx)", oid.offset)
    number = contents[-1]
    return kind(number) if number in kind._value2member_map_ else number


def encode_octets(tag: int, value: bytes) -> bytes:
    return encode_tlv(tag, encode_tlv(TAG_OCTET_STRING, value))


def decode_octets(element: Tlv, what: str) -> bytes:
    return decode_inner(element, TAG_OCTET_STRING, what).value


def encode_explicit_integer(tag: int, value: int) -> bytes:
    return encode_tlv(tag, encode_tlv(TAG_INTEGER, encode_integer(value)))


def decode_explicit_integer(element: Tlv, what: str) -> int:
    inner = decode_inner(element, TAG_INTEGER, what)
    return decode_integer(inner.value, inner.offset)


def encode_authentication_value(tag: int, value: bytes) -> bytes:
    return encode_tlv(tag, encode_tlv(_CHARSTRING, value))


def decode_authentication_value(element: Tlv, what: str) -> bytes:
    return decode_inner(element, _CHARSTRING, f"{what} (charstring)").value


def decode_acse_requirements(element: Tlv) -> bool:
    contents = element.value
    if len(contents) != 2 or contents[0] > 7:
        raise DecodeError("ACSE-requirements must be a one-octet BIT STRING", element.offset)
    return bool(contents[1] & 0x80)


def check_protocol_version(element: Tlv) -> None:
    contents = element.value
    if len(contents) < 2 or contents[0] > 7 or not contents[1] & _PROTOCOL_VERSION_1:
        raise DecodeError("protocol-version must include version1", element.offset)


def encode_user_information(content: bytes) -> bytes:
    return encode_tlv(USER_INFORMATION_TAG, encode_tlv(TAG_OCTET_STRING, content))


def decode_user_information(element: Tlv, plain_tags: Iterable[int], what: str) -> Tlv:
    """The OCTET STRING inside user-information; it must start with one of ``plain_tags`` or a
    ciphered-APDU tag."""
    inner = decode_inner(element, TAG_OCTET_STRING, f"{what} user-information")
    if not inner.value:
        raise DecodeError(f"{what} user-information is empty", inner.offset)
    tag = inner.value[0]
    if tag not in plain_tags and not is_protected(inner.value):
        raise DecodeError(f"{what} user-information starts with tag {tag:#04x}", inner.offset)
    return inner


def decode_ciphered(inner: Tlv, plain_tags: tuple[int, ...]) -> CipheredApdu | GeneralCipheredApdu:
    """A ciphered user-information; a glo-/ded- tag must stand for one of ``plain_tags``."""
    envelope = decode_protected(inner.value, inner.offset)
    if isinstance(envelope, CipheredApdu) and envelope.plain_tag not in plain_tags:
        raise DecodeError(
            f"ciphered user-information {envelope.tag:#04x} does not carry an initiate APDU", inner.offset
        )
    return envelope


def components(data: bytes, apdu_tag: int, allowed: frozenset[int], what: str) -> dict[int, Tlv]:
    """The APDU's components by tag, checking ASN.1 order, uniqueness and the allowed set."""
    outer = decode_single(data, apdu_tag, what)
    reader = BerReader(outer.value, outer.offset)
    found: dict[int, Tlv] = {}
    last_number = -1
    while not reader.at_end():
        at = reader.offset
        element = reader.read_tlv()
        if element.tag not in allowed:
            raise DecodeError(f"{what}: component {element.tag:#04x} is not used by DLMS/COSEM", at)
        number = element.tag & 0x1F
        if number <= last_number:
            raise DecodeError(f"{what}: component {element.tag:#04x} out of order or repeated", at)
        last_number = number
        found[element.tag] = element
    return found


def require(found: Mapping[int, Tlv], tag: int, what: str) -> Tlv:
    element = found.get(tag)
    if element is None:
        raise DecodeError(f"{what}: mandatory component {tag:#04x} is missing", 0)
    return element


def enum_value(kind: type[E], value: int, offset: int, what: str) -> E:
    try:
        return kind(value)
    except ValueError:
        raise DecodeError(f"{what} {value} is not defined", offset) from None
