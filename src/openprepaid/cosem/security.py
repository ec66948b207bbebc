"""Security suite 0 (AES-GCM-128) of IEC 62056-5-3: security control, ciphering, HLS-GMAC.

DLMS UA Green Book 9.2.3.3 (AES-GCM), 9.2.7.2.4 (cryptographic protection of xDLMS APDUs) and
9.2.7.4 (HLS authentication mechanism 5, GMAC):

- the security header is ``SC || IC``: one security-control octet (bits 0-3 suite id, bit 4
  authentication, bit 5 encryption, bit 6 key set 0 = unicast / 1 = broadcast, bit 7 compression)
  and a four-octet invocation counter;
- the initialisation vector is ``system title (8 octets) || IC (4 octets)`` of the *sender*;
- authenticated only:      information = P || T,  T = GMAC over SC || AK || P;
- encrypted only:          information = C        (no tag, no additional data);
- authenticated+encrypted: information = C || T,  additional data SC || AK;
- the tag T is the 96-bit truncation of the GCM tag.

HLS-GMAC: f(challenge) = SC || IC || GMAC(SC || AK || challenge), with SC = 0x10 (authentication
only, suite 0), computed with the responder's system title and invocation counter.

Only suite 0 is implemented: another suite id, the compression bit, or a header asking for neither
authentication nor encryption is a :class:`~openprepaid.cosem.errors.SecurityError`. Key material
never appears in a ``repr`` or an exception message.
"""

from __future__ import annotations

import hmac
import secrets
from dataclasses import dataclass, field, replace

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from openprepaid.cosem.errors import DecodeError, SecurityError

SUITE_0 = 0
KEY_LENGTH = 16
SYSTEM_TITLE_LENGTH = 8
TAG_LENGTH = 12
MAX_INVOCATION_COUNTER = 0xFFFF_FFFF
SECURITY_HEADER_LENGTH = 5
"""SC (1) + IC (4)."""
HLS_GMAC_RESPONSE_LENGTH = SECURITY_HEADER_LENGTH + TAG_LENGTH
MIN_CHALLENGE_LENGTH = 8
MAX_CHALLENGE_LENGTH = 64

_AUTHENTICATION = 0x10
_ENCRYPTION = 0x20
_BROADCAST = 0x40
_COMPRESSION = 0x80
_GCM_TAG_LENGTH = 16


@dataclass(frozen=True, slots=True, kw_only=True)
class SecurityControl:
    """The security control octet (Green Book 9.2.7.2.4.3). It can hold every octet value;
    whether suite 0 accepts it is checked when ciphering or deciphering."""

    suite_id: int = SUITE_0
    authenticated: bool = False
    encrypted: bool = False
    broadcast_key: bool = False
    compressed: bool = False

    def __post_init__(self) -> None:
        if not 0 <= self.suite_id <= 0x0F:
            raise SecurityError(f"security suite id {self.suite_id} does not fit four bits")

    @classmethod
    def from_byte(cls, value: int) -> SecurityControl:
        if not 0 <= value <= 0xFF:
            raise DecodeError(f"security control {value} is not an octet")
        return cls(
            suite_id=value & 0x0F,
            authenticated=bool(value & _AUTHENTICATION),
            encrypted=bool(value & _ENCRYPTION),
            broadcast_key=bool(value & _BROADCAST),
            compressed=bool(value & _COMPRESSION),
        )

    def to_byte(self) -> int:
        return (
            self.suite_id
            | (_AUTHENTICATION if self.authenticated else 0)
            | (_ENCRYPTION if self.encrypted else 0)
            | (_BROADCAST if self.broadcast_key else 0)
            | (_COMPRESSION if self.compressed else 0)
        )

    def encode(self) -> bytes:
        return bytes((self.to_byte(),))

    @classmethod
    def decode(cls, data: bytes) -> SecurityControl:
        if len(data) != 1:
            raise DecodeError(f"security control is one octet, got {len(data)}")
        return cls.from_byte(data[0])


AUTHENTICATED = SecurityControl(authenticated=True)
"""SC 0x10: authentication only (also the SC of HLS-GMAC)."""
ENCRYPTED = SecurityControl(encrypted=True)
"""SC 0x20: encryption only."""
AUTHENTICATED_ENCRYPTED = SecurityControl(authenticated=True, encrypted=True)
"""SC 0x30: authenticated encryption, the usual protection."""


def _check_key(key: bytes | None, what: str) -> bytes:
    if key is None:
        raise SecurityError(f"no {what} is configured")
    if len(key) != KEY_LENGTH:
        raise SecurityError(f"the {what} must be {KEY_LENGTH} octets for suite 0 (got {len(key)})")
    return key


@dataclass(frozen=True, slots=True, kw_only=True)
class SecurityKeys:
    """The suite-0 keys one side of an association uses (Green Book 9.2.3.3.2: key types).

    ``global_unicast`` (EK) and ``authentication`` (AK) are always needed; the broadcast key is
    only needed for APDUs with the key-set bit, the dedicated key (sent in the InitiateRequest) only
    for ded- and general-ded-ciphering. The repr never shows a key.
    """

    global_unicast: bytes = field(repr=False)
    authentication: bytes = field(repr=False)
    global_broadcast: bytes | None = field(default=None, repr=False)
    dedicated: bytes | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        _check_key(self.global_unicast, "global unicast encryption key")
        _check_key(self.authentication, "authentication key")
        if self.global_broadcast is not None:
            _check_key(self.global_broadcast, "global broadcast encryption key")
        if self.dedicated is not None:
            _check_key(self.dedicated, "dedicated key")

    def __repr__(self) -> str:
        present = ["global_unicast", "authentication"]
        present += ["global_broadcast"] if self.global_broadcast is not None else []
        present += ["dedicated"] if self.dedicated is not None else []
        return f"SecurityKeys(<{', '.join(present)}: redacted>)"

    def with_dedicated(self, dedicated: bytes | None) -> SecurityKeys:
        """The same keys with the association's dedicated key set (or cleared)."""
        return replace(self, dedicated=dedicated)


def _check_suite0(control: SecurityControl) -> None:
    if control.suite_id != SUITE_0:
        raise SecurityError(f"security suite {control.suite_id} is not supported (only suite 0)")
    if control.compressed:
        raise SecurityError("compressed APDUs are not supported")
    if not (control.authenticated or control.encrypted):
        raise SecurityError("the security control asks for neither authentication nor encryption")


def _check_system_title(system_title: bytes) -> None:
    if len(system_title) != SYSTEM_TITLE_LENGTH:
        raise SecurityError(f"a system title is {SYSTEM_TITLE_LENGTH} octets, got {len(system_title)}")


def _check_invocation_counter(invocation_counter: int) -> None:
    if not 0 <= invocation_counter <= MAX_INVOCATION_COUNTER:
        raise SecurityError(f"invocation counter {invocation_counter} does not fit four octets")


def initialization_vector(system_title: bytes, invocation_counter: int) -> bytes:
    """IV = system title || invocation counter (Green Book 9.2.3.3.7.4)."""
    _check_system_title(system_title)
    _check_invocation_counter(invocation_counter)
    return system_title + invocation_counter.to_bytes(4, "big")


def _gcm_tag(key: bytes, iv: bytes, additional_data: bytes) -> bytes:
    return AESGCM(key).encrypt(iv, b"", additional_data)[:TAG_LENGTH]


def _context(
    control: SecurityControl,
    system_title: bytes,
    invocation_counter: int,
    encryption_key: bytes,
    authentication_key: bytes,
) -> tuple[bytes, bytes, bytes]:
    """Checked (IV, EK, SC || AK) for one ciphering operation."""
    _check_suite0(control)
    iv = initialization_vector(system_title, invocation_counter)
    key = _check_key(encryption_key, "encryption key")
    return iv, key, control.encode() + _check_key(authentication_key, "authentication key")


def cipher(
    plaintext: bytes,
    *,
    security_control: SecurityControl,
    system_title: bytes,
    invocation_counter: int,
    encryption_key: bytes,
    authentication_key: bytes,
) -> bytes:
    """The protected "information" of an APDU: P || T, C, or C || T as the security control asks.

    ``system_title`` and ``invocation_counter`` are the sender's; the security header (SC || IC)
    is not part of the result.
    """
    iv, key, sc_ak = _context(security_control, system_title, invocation_counter, encryption_key, authentication_key)
    if not security_control.encrypted:
        return plaintext + _gcm_tag(key, iv, sc_ak + plaintext)
    if not security_control.authenticated:
        return AESGCM(key).encrypt(iv, plaintext, None)[:-_GCM_TAG_LENGTH]
    sealed = AESGCM(key).encrypt(iv, plaintext, sc_ak)
    return sealed[:-_GCM_TAG_LENGTH] + sealed[-_GCM_TAG_LENGTH:][:TAG_LENGTH]


def decipher(
    information: bytes,
    *,
    security_control: SecurityControl,
    system_title: bytes,
    invocation_counter: int,
    encryption_key: bytes,
    authentication_key: bytes,
) -> bytes:
    """The plaintext of protected ``information``; a wrong tag, key or system title is a SecurityError.

    ``system_title`` and ``invocation_counter`` are the sender's. Encrypted-only information has no
    tag, so it cannot be authenticated (that is what the security control asked for).
    """
    iv, key, sc_ak = _context(security_control, system_title, invocation_counter, encryption_key, authentication_key)
    if not security_control.authenticated:
        counter_block = iv + (2).to_bytes(4, "big")  # GCM encrypts from inc32(IV || 0^31 || 1)
        decryptor = Cipher(algorithms.AES(key), modes.CTR(counter_block)).decryptor()
        return decryptor.update(information) + decryptor.finalize()
    if len(information) < TAG_LENGTH:
        raise SecurityError(f"protected information of {len(information)} octets has no room for a tag")
    body, tag = information[:-TAG_LENGTH], information[-TAG_LENGTH:]
    if not security_control.encrypted:
        if not hmac.compare_digest(_gcm_tag(key, iv, sc_ak + body), tag):
            raise SecurityError("authentication tag does not verify (wrong key, system title or counter, or tampered)")
        return body
    decryptor = Cipher(algorithms.AES(key), modes.GCM(iv, tag, min_tag_length=TAG_LENGTH)).decryptor()
    decryptor.authenticate_additional_data(sc_ak)
    try:
        return decryptor.update(body) + decryptor.finalize()
    except InvalidTag:
        raise SecurityError(
            "authentication tag does not verify (wrong key, system title or counter, or tampered)"
        ) from None


def gmac(
    data: bytes,
    *,
    system_title: bytes,
    invocation_counter: int,
    encryption_key: bytes,
    authentication_key: bytes,
    security_control: SecurityControl = AUTHENTICATED,
) -> bytes:
    """T = GMAC(SC || AK || data): the 12-octet tag of authenticated-only protection."""
    if security_control.encrypted or not security_control.authenticated:
        raise SecurityError("GMAC needs an authentication-only security control")
    iv, key, sc_ak = _context(security_control, system_title, invocation_counter, encryption_key, authentication_key)
    return _gcm_tag(key, iv, sc_ak + data)


def _check_challenge(challenge: bytes) -> None:
    if not MIN_CHALLENGE_LENGTH <= len(challenge) <= MAX_CHALLENGE_LENGTH:
        raise SecurityError(
            f"an HLS challenge is {MIN_CHALLENGE_LENGTH} to {MAX_CHALLENGE_LENGTH} octets, got {len(challenge)}"
        )


def new_challenge(length: int = 16) -> bytes:
    """A fresh random CtoS or StoC challenge (8 to 64 octets, Green Book 9.2.7.4)."""
    if not MIN_CHALLENGE_LENGTH <= length <= MAX_CHALLENGE_LENGTH:
        raise SecurityError(f"an HLS challenge is {MIN_CHALLENGE_LENGTH} to {MAX_CHALLENGE_LENGTH} octets")
    return secrets.token_bytes(length)


def hls_gmac_response(challenge: bytes, *, system_title: bytes, invocation_counter: int, keys: SecurityKeys) -> bytes:
    """f(challenge) = SC || IC || GMAC(SC || AK || challenge), SC = 0x10 (HLS mechanism 5).

    The client answers the server's StoC with its own system title and counter; the server answers
    the client's CtoS with its own.
    """
    _check_challenge(challenge)
    tag = gmac(
        challenge,
        system_title=system_title,
        invocation_counter=invocation_counter,
        encryption_key=keys.global_unicast,
        authentication_key=keys.authentication,
    )
    return AUTHENTICATED.encode() + invocation_counter.to_bytes(4, "big") + tag


def verify_hls_gmac_response(response: bytes, challenge: bytes, *, system_title: bytes, keys: SecurityKeys) -> int:
    """Check the peer's f(challenge) for the ``challenge`` we sent; returns the peer's counter.

    ``system_title`` is the *responder's* system title. The caller should pass the returned
    invocation counter through the peer's :class:`~openprepaid.cosem.security_counter.ReplayGuard`.
    """
    _check_challenge(challenge)
    if len(response) != HLS_GMAC_RESPONSE_LENGTH:
        raise SecurityError(f"an HLS-GMAC response is {HLS_GMAC_RESPONSE_LENGTH} octets, got {len(response)}")
    control = SecurityControl.from_byte(response[0])
    if control != AUTHENTICATED:
        raise SecurityError(f"HLS-GMAC response security control {response[0]:#04x}, expected 0x10")
    invocation_counter = int.from_bytes(response[1:SECURITY_HEADER_LENGTH], "big")
    expected = gmac(
        challenge,
        system_title=system_title,
        invocation_counter=invocation_counter,
        encryption_key=keys.global_unicast,
        authentication_key=keys.authentication,
    )
    if not hmac.compare_digest(expected, response[SECURITY_HEADER_LENGTH:]):
        raise SecurityError("HLS-GMAC response does not verify")
    return invocation_counter
