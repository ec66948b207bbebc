"""Ciphered xDLMS APDUs of security suite 0: service-specific glo-/ded- and general-glo/ded-ciphering.

IEC 62056-5-3 (DLMS UA Green Book 9.2.7.2.4 and the xDLMS APDU ASN.1, "COSEMpdu"):

- service-specific ciphering: every plain xDLMS APDU that has one is replaced by its glo- (global
  key) or ded- (dedicated key) counterpart, ``tag || length || SC || IC || information``; the
  sender's system title is not carried, the receiver knows it from the association (AARQ/AARE);
- general-glo-ciphering [219] and general-ded-ciphering [220]:
  ``tag || system-title (OCTET STRING) || ciphered-content (OCTET STRING: SC || IC || information)``;
  they protect any APDU, e.g. data-notification [15], exception-response or access-request.

Tag table (plain -> glo- -> ded-, from the ASN.1)::

    initiateRequest 1 -> 33 -> 65          initiateResponse 8 -> 40 -> 72
    readRequest 5 -> 37 -> 69              readResponse 12 -> 44 -> 76
    writeRequest 6 -> 38 -> 70             writeResponse 13 -> 45 -> 77
    confirmedServiceError 14 -> 46 -> 78   unconfirmedWriteRequest 22 -> 54 -> 86
    informationReportRequest 24 -> 56 -> 88
    get-request 192 -> 200 -> 208          get-response 196 -> 204 -> 212
    set-request 193 -> 201 -> 209          set-response 197 -> 205 -> 213
    event-notification-request 194 -> 202 -> 210
    action-request 195 -> 203 -> 211       action-response 199 -> 207 -> 215

:func:`protect` and :func:`unprotect` are the entry points for the association state machines.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType

from openprepaid.cosem.acse_ber import BerReader, encode_length
from openprepaid.cosem.errors import DecodeError, EncodeError, SecurityError
from openprepaid.cosem.security import (
    SECURITY_HEADER_LENGTH,
    SYSTEM_TITLE_LENGTH,
    TAG_LENGTH,
    SecurityControl,
    SecurityKeys,
    cipher,
    decipher,
)
from openprepaid.cosem.security_counter import ReplayGuard

GENERAL_GLO_CIPHERING_TAG = 0xDB
GENERAL_DED_CIPHERING_TAG = 0xDC

_PLAIN_TAGS_GROUP_A = (0x01, 0x05, 0x06, 0x08, 0x0C, 0x0D, 0x0E, 0x16, 0x18)
_PLAIN_TAGS_GROUP_B = (0xC0, 0xC1, 0xC2, 0xC3, 0xC4, 0xC5, 0xC7)

GLO_TAG_OF: Mapping[int, int] = MappingProxyType(
    {tag: tag + 0x20 for tag in _PLAIN_TAGS_GROUP_A} | {tag: tag + 0x08 for tag in _PLAIN_TAGS_GROUP_B}
)
"""Plain xDLMS APDU tag -> its glo- (global key) ciphered tag."""
DED_TAG_OF: Mapping[int, int] = MappingProxyType(
    {tag: tag + 0x40 for tag in _PLAIN_TAGS_GROUP_A} | {tag: tag + 0x10 for tag in _PLAIN_TAGS_GROUP_B}
)
"""Plain xDLMS APDU tag -> its ded- (dedicated key) ciphered tag."""
PLAIN_TAG_OF: Mapping[int, int] = MappingProxyType(
    {glo: plain for plain, glo in GLO_TAG_OF.items()} | {ded: plain for plain, ded in DED_TAG_OF.items()}
)
"""glo- or ded- tag -> the plain tag of the APDU it carries."""
_DEDICATED_TAGS = frozenset(DED_TAG_OF.values())


class Protection(enum.Enum):
    """How an APDU is wrapped: which envelope, and which encryption key it uses."""

    GLOBAL = "glo"
    DEDICATED = "ded"
    GENERAL_GLOBAL = "general-glo"
    GENERAL_DEDICATED = "general-ded"

    @property
    def dedicated(self) -> bool:
        return self in (Protection.DEDICATED, Protection.GENERAL_DEDICATED)


def _read_header(reader: BerReader, length: int, what: str) -> tuple[SecurityControl, int, bytes]:
    if length < SECURITY_HEADER_LENGTH:
        raise DecodeError(f"{what} of {length} octets has no room for SC and IC", reader.offset)
    control = SecurityControl.from_byte(reader.read_byte())
    invocation_counter = int.from_bytes(reader.read_bytes(4), "big")
    return control, invocation_counter, reader.read_bytes(length - SECURITY_HEADER_LENGTH)


def _header(control: SecurityControl, invocation_counter: int) -> bytes:
    if not 0 <= invocation_counter <= 0xFFFF_FFFF:
        raise EncodeError(f"invocation counter {invocation_counter} does not fit four octets")
    return control.encode() + invocation_counter.to_bytes(4, "big")


@dataclass(frozen=True, slots=True, kw_only=True)
class CipheredApdu:
    """A service-specific glo- or ded- APDU: ``tag || length || SC || IC || information``."""

    tag: int
    security_control: SecurityControl
    invocation_counter: int
    information: bytes

    @property
    def protection(self) -> Protection:
        return Protection.DEDICATED if self.tag in _DEDICATED_TAGS else Protection.GLOBAL

    @property
    def plain_tag(self) -> int:
        return PLAIN_TAG_OF[self.tag]

    def encode(self) -> bytes:
        if self.tag not in PLAIN_TAG_OF:
            raise EncodeError(f"{self.tag:#04x} is not a glo- or ded- APDU tag")
        content = _header(self.security_control, self.invocation_counter) + self.information
        return bytes((self.tag,)) + encode_length(len(content)) + content

    @classmethod
    def decode(cls, data: bytes, base: int = 0) -> CipheredApdu:
        reader = BerReader(data, base)
        at = reader.offset
        tag = reader.read_byte()
        if tag not in PLAIN_TAG_OF:
            raise DecodeError(f"{tag:#04x} is not a glo- or ded- APDU tag", at)
        length = reader.read_length()
        control, invocation_counter, information = _read_header(reader, length, "ciphered APDU")
        reader.expect_end("ciphered APDU")
        return cls(tag=tag, security_control=control, invocation_counter=invocation_counter, information=information)


@dataclass(frozen=True, slots=True, kw_only=True)
class GeneralCipheredApdu:
    """general-glo-ciphering / general-ded-ciphering: the sender's system title travels inside.

    An empty ``system_title`` (some devices send a zero length) means "the peer's, as known from
    the association".
    """

    dedicated: bool
    system_title: bytes
    security_control: SecurityControl
    invocation_counter: int
    information: bytes

    @property
    def protection(self) -> Protection:
        return Protection.GENERAL_DEDICATED if self.dedicated else Protection.GENERAL_GLOBAL

    @property
    def tag(self) -> int:
        return GENERAL_DED_CIPHERING_TAG if self.dedicated else GENERAL_GLO_CIPHERING_TAG

    def encode(self) -> bytes:
        if len(self.system_title) not in (0, SYSTEM_TITLE_LENGTH):
            raise EncodeError(f"a system title is {SYSTEM_TITLE_LENGTH} octets, got {len(self.system_title)}")
        content = _header(self.security_control, self.invocation_counter) + self.information
        return (
            bytes((self.tag,))
            + encode_length(len(self.system_title))
            + self.system_title
            + encode_length(len(content))
            + content
        )

    @classmethod
    def decode(cls, data: bytes, base: int = 0) -> GeneralCipheredApdu:
        reader = BerReader(data, base)
        at = reader.offset
        tag = reader.read_byte()
        if tag not in (GENERAL_GLO_CIPHERING_TAG, GENERAL_DED_CIPHERING_TAG):
            raise DecodeError(f"{tag:#04x} is not general-glo- or general-ded-ciphering", at)
        at = reader.offset
        title_length = reader.read_length()
        if title_length not in (0, SYSTEM_TITLE_LENGTH):
            raise DecodeError(f"system title of {title_length} octets", at)
        system_title = reader.read_bytes(title_length)
        length = reader.read_length()
        control, invocation_counter, information = _read_header(reader, length, "ciphered content")
        reader.expect_end("general ciphering APDU")
        return cls(
            dedicated=tag == GENERAL_DED_CIPHERING_TAG,
            system_title=system_title,
            security_control=control,
            invocation_counter=invocation_counter,
            information=information,
        )


def decode_protected(data: bytes, base: int = 0) -> CipheredApdu | GeneralCipheredApdu:
    """Decode any ciphered APDU this module knows, by its tag."""
    if data and data[0] in (GENERAL_GLO_CIPHERING_TAG, GENERAL_DED_CIPHERING_TAG):
        return GeneralCipheredApdu.decode(data, base)
    return CipheredApdu.decode(data, base)


def is_protected(data: bytes) -> bool:
    """Whether ``data`` starts with a ciphered-APDU tag (glo-, ded-, general-glo/ded-)."""
    return bool(data) and (data[0] in PLAIN_TAG_OF or data[0] in (GENERAL_GLO_CIPHERING_TAG, GENERAL_DED_CIPHERING_TAG))


def protection_of(data: bytes) -> Protection:
    """The envelope ``data`` comes in, by its tag alone (before anything is deciphered)."""
    if not data:
        raise DecodeError("empty APDU", 0)
    if data[0] == GENERAL_GLO_CIPHERING_TAG:
        return Protection.GENERAL_GLOBAL
    if data[0] == GENERAL_DED_CIPHERING_TAG:
        return Protection.GENERAL_DEDICATED
    if data[0] in _DEDICATED_TAGS:
        return Protection.DEDICATED
    if data[0] in PLAIN_TAG_OF:
        return Protection.GLOBAL
    raise DecodeError(f"{data[0]:#04x} is not a ciphered APDU tag", 0)


def envelope_overhead(protection: Protection, control: SecurityControl) -> int:
    """The most octets ``protection`` adds to an APDU of up to 65535 octets (tag, lengths, system
    title of the general forms, SC and IC, and the authentication tag when ``control`` authenticates)."""
    overhead = 1 + 3 + SECURITY_HEADER_LENGTH + (TAG_LENGTH if control.authenticated else 0)
    if protection in (Protection.GENERAL_GLOBAL, Protection.GENERAL_DEDICATED):
        overhead += 1 + SYSTEM_TITLE_LENGTH
    return overhead


def _encryption_key(keys: SecurityKeys, control: SecurityControl, dedicated: bool) -> bytes:
    if dedicated:
        if control.broadcast_key:
            raise SecurityError("the broadcast key set cannot be used with dedicated ciphering")
        if keys.dedicated is None:
            raise SecurityError("no dedicated key is established for this association")
        return keys.dedicated
    if control.broadcast_key:
        if keys.global_broadcast is None:
            raise SecurityError("no global broadcast key is configured")
        return keys.global_broadcast
    return keys.global_unicast


def protect(
    apdu: bytes,
    *,
    protection: Protection,
    security_control: SecurityControl,
    system_title: bytes,
    invocation_counter: int,
    keys: SecurityKeys,
) -> bytes:
    """Cipher a plain xDLMS ``apdu`` into the chosen envelope, with our ``system_title`` and counter.

    Take ``invocation_counter`` from an :class:`~openprepaid.cosem.security_counter.InvocationCounter`.
    """
    if not apdu:
        raise EncodeError("cannot protect an empty APDU")
    service_specific = protection in (Protection.GLOBAL, Protection.DEDICATED)
    tag = (DED_TAG_OF if protection.dedicated else GLO_TAG_OF).get(apdu[0], 0)
    if service_specific and not tag:
        raise EncodeError(f"APDU tag {apdu[0]:#04x} has no {protection.value}- form; use general ciphering")
    information = cipher(
        apdu,
        security_control=security_control,
        system_title=system_title,
        invocation_counter=invocation_counter,
        encryption_key=_encryption_key(keys, security_control, protection.dedicated),
        authentication_key=keys.authentication,
    )
    if service_specific:
        return CipheredApdu(
            tag=tag, security_control=security_control, invocation_counter=invocation_counter, information=information
        ).encode()
    return GeneralCipheredApdu(
        dedicated=protection.dedicated,
        system_title=system_title,
        security_control=security_control,
        invocation_counter=invocation_counter,
        information=information,
    ).encode()


@dataclass(frozen=True, slots=True, kw_only=True)
class Unprotected:
    """A deciphered APDU and the security facts it came with."""

    apdu: bytes
    protection: Protection
    security_control: SecurityControl
    invocation_counter: int
    system_title: bytes


def _sender_title(embedded: bytes | None, peer_system_title: bytes | None) -> bytes:
    if embedded:
        if peer_system_title is not None and embedded != peer_system_title:
            raise SecurityError("the APDU's system title is not the peer's")
        return embedded
    if peer_system_title is None:
        raise SecurityError("the peer's system title is not known (it comes with the AARQ/AARE)")
    return peer_system_title


def unprotect(
    data: bytes,
    *,
    keys: SecurityKeys,
    peer_system_title: bytes | None,
    replay_guard: ReplayGuard | None = None,
    require_authentication: bool = True,
    require_encryption: bool = False,
) -> Unprotected:
    """Decode, authenticate and decipher a ciphered APDU from the peer.

    ``peer_system_title`` is the peer's system title learnt in the AARQ/AARE (None only where the
    APDU carries it, e.g. a general-glo-ciphered push). With a ``replay_guard`` a stale counter is
    a ReplayError, and the counter is recorded only after the APDU authenticated.

    The security control travels in clear, so an attacker can rewrite 0x30 into 0x20 and have an
    unauthenticated APDU deciphered: by default an APDU without authentication is refused. Pass the
    association's security policy (``require_authentication`` / ``require_encryption``) to decide.
    """
    envelope = decode_protected(data)
    embedded = envelope.system_title if isinstance(envelope, GeneralCipheredApdu) else None
    system_title = _sender_title(embedded, peer_system_title)
    control = envelope.security_control
    if require_authentication and not control.authenticated:
        raise SecurityError("the APDU is not authenticated and the security policy requires it")
    if require_encryption and not control.encrypted:
        raise SecurityError("the APDU is not encrypted and the security policy requires it")
    if replay_guard is not None:
        replay_guard.check(envelope.invocation_counter)
    plain = decipher(
        envelope.information,
        security_control=control,
        system_title=system_title,
        invocation_counter=envelope.invocation_counter,
        encryption_key=_encryption_key(keys, control, envelope.protection.dedicated),
        authentication_key=keys.authentication,
    )
    if not plain:
        raise DecodeError("the ciphered APDU carries an empty APDU")
    if isinstance(envelope, CipheredApdu) and plain[0] != envelope.plain_tag:
        raise DecodeError(
            f"{envelope.tag:#04x} carries an APDU with tag {plain[0]:#04x}, expected {envelope.plain_tag:#04x}"
        )
    if replay_guard is not None:
        replay_guard.accept(envelope.invocation_counter)
    return Unprotected(
        apdu=plain,
        protection=envelope.protection,
        security_control=control,
        invocation_counter=envelope.invocation_counter,
        system_title=system_title,
    )


DECODERS: Mapping[str, Callable[[bytes], object]] = MappingProxyType(
    {
        "security.CipheredApdu": CipheredApdu.decode,
        "security.GeneralCipheredApdu": GeneralCipheredApdu.decode,
        "security.decode_protected": decode_protected,
    }
)
"""Decoder entry points for the fuzz harness: each raises only DecodeError on bad bytes."""
