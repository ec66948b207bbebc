"""Security suite 0: cipher/decipher round trips (hypothesis) and every way deciphering must fail.

The byte-exact behaviour is pinned by test_security_vectors.py (Green Book / NIST vectors); these
tests check the properties around it: what protect() produces unprotect() recovers, and a wrong
key, a tampered octet, a wrong system title, a replayed counter, a truncated or mis-framed APDU is
refused with SecurityError / ReplayError / DecodeError, never with another exception.
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from openprepaid.cosem.errors import CosemError, DecodeError, EncodeError, ReplayError, SecurityError
from openprepaid.cosem.security import (
    AUTHENTICATED,
    AUTHENTICATED_ENCRYPTED,
    ENCRYPTED,
    SecurityControl,
    SecurityKeys,
    cipher,
    hls_gmac_response,
    new_challenge,
    verify_hls_gmac_response,
)
from openprepaid.cosem.security_apdu import (
    GLO_TAG_OF,
    CipheredApdu,
    GeneralCipheredApdu,
    Protection,
    protect,
    unprotect,
)
from openprepaid.cosem.security_counter import ReplayGuard
from tests.cosem.test_security_vectors import AK, EK, GET_REQUEST
from tests.cosem.test_security_vectors import CLIENT_TITLE as OTHER_TITLE
from tests.cosem.test_security_vectors import SERVER_TITLE as TITLE

BK = bytes.fromhex("B0B1B2B3B4B5B6B7B8B9BABBBCBDBEBF")
DK = bytes.fromhex("00112233445566778899AABBCCDDEEFF")
KEYS = SecurityKeys(global_unicast=EK, authentication=AK, global_broadcast=BK, dedicated=DK)
DATA_NOTIFICATION = bytes.fromhex("0F000000010C07E6010101000000FF800000")

keys16 = st.binary(min_size=16, max_size=16)
controls = st.sampled_from([AUTHENTICATED, ENCRYPTED, AUTHENTICATED_ENCRYPTED])
plain_apdus = st.builds(
    lambda tag, body: bytes((tag,)) + body, st.sampled_from(sorted(GLO_TAG_OF)), st.binary(max_size=300)
)


def _protect(apdu: bytes, protection: Protection = Protection.GLOBAL, **overrides: object) -> bytes:
    arguments: dict[str, object] = {
        "protection": protection,
        "security_control": AUTHENTICATED_ENCRYPTED,
        "system_title": TITLE,
        "invocation_counter": 7,
        "keys": KEYS,
    }
    arguments.update(overrides)
    return protect(apdu, **arguments)  # type: ignore[arg-type]


@settings(max_examples=150, deadline=None)
@given(
    apdu=plain_apdus,
    control=controls,
    protection=st.sampled_from(list(Protection)),
    title=st.binary(min_size=8, max_size=8),
    counter=st.integers(0, 0xFFFF_FFFF),
    ek=keys16,
    ak=keys16,
    dk=keys16,
)
def test_protect_unprotect_round_trip(
    apdu: bytes,
    control: SecurityControl,
    protection: Protection,
    title: bytes,
    counter: int,
    ek: bytes,
    ak: bytes,
    dk: bytes,
) -> None:
    keys = SecurityKeys(global_unicast=ek, authentication=ak, dedicated=dk)
    protected = protect(
        apdu, protection=protection, security_control=control, system_title=title, invocation_counter=counter, keys=keys
    )
    result = unprotect(protected, keys=keys, peer_system_title=title, require_authentication=control.authenticated)
    assert (result.apdu, result.invocation_counter, result.protection) == (apdu, counter, protection)
    if control.encrypted and len(apdu) >= 16:
        assert apdu not in protected


@settings(max_examples=150, deadline=None)
@given(apdu=plain_apdus, control=st.sampled_from([AUTHENTICATED, AUTHENTICATED_ENCRYPTED]), data=st.data())
def test_any_flipped_bit_in_authenticated_information_is_refused(
    apdu: bytes, control: SecurityControl, data: st.DataObject
) -> None:
    protected = bytearray(_protect(apdu, security_control=control))
    header = len(protected) - len(apdu) - 12  # tag, length, SC, IC
    index = data.draw(st.integers(header, len(protected) - 1))
    protected[index] ^= 1 << data.draw(st.integers(0, 7))
    with pytest.raises(SecurityError):
        unprotect(bytes(protected), keys=KEYS, peer_system_title=TITLE)


def test_security_policy_refuses_a_downgraded_security_control() -> None:
    # SC 0x30 rewritten to 0x20: without the policy check the receiver would skip authentication
    downgraded = bytearray(_protect(GET_REQUEST))
    downgraded[2] = 0x20
    with pytest.raises(SecurityError, match="not authenticated"):
        unprotect(bytes(downgraded), keys=KEYS, peer_system_title=TITLE)
    authenticated_only = _protect(GET_REQUEST, security_control=AUTHENTICATED)
    with pytest.raises(SecurityError, match="not encrypted"):
        unprotect(authenticated_only, keys=KEYS, peer_system_title=TITLE, require_encryption=True)


@pytest.mark.parametrize("protection", list(Protection))
def test_wrong_key_is_refused(protection: Protection) -> None:
    protected = _protect(GET_REQUEST, protection)
    wrong = [
        SecurityKeys(global_unicast=EK[::-1], authentication=AK, dedicated=DK[::-1]),
        SecurityKeys(global_unicast=EK, authentication=AK[::-1], dedicated=DK),
    ]
    for keys in wrong:
        with pytest.raises(SecurityError):
            unprotect(protected, keys=keys, peer_system_title=TITLE)


def test_wrong_system_title_is_refused() -> None:
    with pytest.raises(SecurityError):
        unprotect(_protect(GET_REQUEST), keys=KEYS, peer_system_title=OTHER_TITLE)
    general = _protect(DATA_NOTIFICATION, Protection.GENERAL_GLOBAL)
    with pytest.raises(SecurityError, match="not the peer's"):
        unprotect(general, keys=KEYS, peer_system_title=OTHER_TITLE)
    # a forged title inside general-glo-ciphering no longer matches the IV the tag was made with
    forged = general.replace(TITLE, OTHER_TITLE, 1)
    with pytest.raises(SecurityError):
        unprotect(forged, keys=KEYS, peer_system_title=None)
    assert unprotect(general, keys=KEYS, peer_system_title=None).system_title == TITLE


def test_service_specific_needs_the_peer_system_title() -> None:
    with pytest.raises(SecurityError, match="not known"):
        unprotect(_protect(GET_REQUEST), keys=KEYS, peer_system_title=None)


def test_replayed_and_stale_counters_are_refused() -> None:
    guard = ReplayGuard()
    unprotect(_protect(GET_REQUEST, invocation_counter=10), keys=KEYS, peer_system_title=TITLE, replay_guard=guard)
    for stale in (10, 9, 0):
        with pytest.raises(ReplayError):
            unprotect(
                _protect(GET_REQUEST, invocation_counter=stale), keys=KEYS, peer_system_title=TITLE, replay_guard=guard
            )
    unprotect(_protect(GET_REQUEST, invocation_counter=11), keys=KEYS, peer_system_title=TITLE, replay_guard=guard)
    assert guard.last_accepted == 11


def test_forged_apdu_does_not_move_the_replay_guard() -> None:
    guard = ReplayGuard(last_accepted=5)
    forged = bytearray(_protect(GET_REQUEST, invocation_counter=1000))
    forged[-1] ^= 0xFF
    with pytest.raises(SecurityError):
        unprotect(bytes(forged), keys=KEYS, peer_system_title=TITLE, replay_guard=guard)
    assert guard.last_accepted == 5
    unprotect(_protect(GET_REQUEST, invocation_counter=6), keys=KEYS, peer_system_title=TITLE, replay_guard=guard)


@pytest.mark.parametrize("protection", list(Protection))
def test_every_truncation_is_a_decode_or_security_error(protection: Protection) -> None:
    protected = _protect(GET_REQUEST, protection)
    for end in range(len(protected)):
        with pytest.raises((DecodeError, SecurityError)):
            unprotect(protected[:end], keys=KEYS, peer_system_title=TITLE)
    with pytest.raises(DecodeError):
        unprotect(protected + b"\x00", keys=KEYS, peer_system_title=TITLE)


@pytest.mark.parametrize(
    "hex_apdu",
    [
        "C8",  # no length
        "C880",  # indefinite length
        "C8841000000000",  # four length octets
        "C8FF",  # long form announcing 127 length octets
        "C8820100" + "30" * 5,  # long form length runs past the end
        "C8043001234567",  # length shorter than SC + IC
        "C0053001234567",  # a plain tag is not a ciphered APDU
        "DB0330000001",  # general-glo system title of 3 octets
        "DB08" + "4D4D4D0000BC614E" + "02" + "3000",  # ciphered content shorter than SC + IC
    ],
)
def test_bad_framing_is_a_decode_error(hex_apdu: str) -> None:
    with pytest.raises(DecodeError):
        unprotect(bytes.fromhex(hex_apdu), keys=KEYS, peer_system_title=TITLE)


def test_ciphered_apdu_must_carry_its_plain_service() -> None:
    # a get-response inside glo-get-request is refused even though it authenticates
    information = cipher(
        bytes.fromhex("C401C100090100"),
        security_control=AUTHENTICATED_ENCRYPTED,
        system_title=TITLE,
        invocation_counter=3,
        encryption_key=EK,
        authentication_key=AK,
    )
    apdu = CipheredApdu(
        tag=0xC8, security_control=AUTHENTICATED_ENCRYPTED, invocation_counter=3, information=information
    )
    with pytest.raises(DecodeError, match="expected 0xc0"):
        unprotect(apdu.encode(), keys=KEYS, peer_system_title=TITLE)


@pytest.mark.parametrize(
    ("control", "message"),
    [
        (SecurityControl(suite_id=1, authenticated=True, encrypted=True), "suite 1"),
        (SecurityControl(authenticated=True, encrypted=True, compressed=True), "compressed"),
        (SecurityControl(), "neither"),
    ],
)
def test_unsupported_security_control_is_refused(control: SecurityControl, message: str) -> None:
    with pytest.raises(SecurityError, match=message):
        _protect(GET_REQUEST, security_control=control)
    apdu = CipheredApdu(tag=0xC8, security_control=control, invocation_counter=1, information=bytes(20))
    with pytest.raises(SecurityError, match=message):
        unprotect(apdu.encode(), keys=KEYS, peer_system_title=TITLE, require_authentication=False)


def test_broadcast_and_dedicated_keys_are_used_and_required() -> None:
    broadcast = SecurityControl(authenticated=True, encrypted=True, broadcast_key=True)
    protected = _protect(DATA_NOTIFICATION, Protection.GENERAL_GLOBAL, security_control=broadcast)
    assert unprotect(protected, keys=KEYS, peer_system_title=TITLE).apdu == DATA_NOTIFICATION
    unicast_only = SecurityKeys(global_unicast=EK, authentication=AK)
    with pytest.raises(SecurityError, match="broadcast"):
        unprotect(protected, keys=unicast_only, peer_system_title=TITLE)
    dedicated = _protect(GET_REQUEST, Protection.DEDICATED)
    assert dedicated[0] == 0xD0
    with pytest.raises(SecurityError, match="dedicated"):
        unprotect(dedicated, keys=unicast_only, peer_system_title=TITLE)
    with pytest.raises(SecurityError, match="broadcast"):
        _protect(GET_REQUEST, Protection.DEDICATED, security_control=broadcast)


def test_general_ciphering_accepts_an_empty_system_title() -> None:
    protected = _protect(DATA_NOTIFICATION, Protection.GENERAL_GLOBAL)
    envelope = GeneralCipheredApdu.decode(protected)
    anonymous = GeneralCipheredApdu(
        dedicated=False,
        system_title=b"",
        security_control=envelope.security_control,
        invocation_counter=envelope.invocation_counter,
        information=envelope.information,
    ).encode()
    assert unprotect(anonymous, keys=KEYS, peer_system_title=TITLE).apdu == DATA_NOTIFICATION
    with pytest.raises(SecurityError):
        unprotect(anonymous, keys=KEYS, peer_system_title=None)


def test_apdus_without_service_specific_form_need_general_ciphering() -> None:
    with pytest.raises(EncodeError, match="general ciphering"):
        _protect(DATA_NOTIFICATION, Protection.GLOBAL)
    with pytest.raises(EncodeError):
        _protect(b"", Protection.GENERAL_GLOBAL)


def test_bad_keys_titles_and_counters_are_refused() -> None:
    with pytest.raises(SecurityError, match="16 octets"):
        SecurityKeys(global_unicast=EK[:15], authentication=AK)
    with pytest.raises(SecurityError, match="system title"):
        _protect(GET_REQUEST, system_title=TITLE[:7])
    with pytest.raises(SecurityError, match="four octets"):
        _protect(GET_REQUEST, invocation_counter=1 << 32)
    with pytest.raises(SecurityError, match="challenge"):
        hls_gmac_response(b"short", system_title=TITLE, invocation_counter=1, keys=KEYS)
    with pytest.raises(SecurityError, match="17 octets"):
        verify_hls_gmac_response(b"\x10" * 16, b"P6wRJ21F", system_title=TITLE, keys=KEYS)
    assert len(new_challenge()) == 16
    with pytest.raises(SecurityError):
        new_challenge(65)


@settings(max_examples=100, deadline=None)
@given(
    challenge=st.binary(min_size=8, max_size=64),
    counter=st.integers(0, 0xFFFF_FFFF),
    title=st.binary(min_size=8, max_size=8),
)
def test_hls_gmac_round_trip_and_tamper(challenge: bytes, counter: int, title: bytes) -> None:
    response = hls_gmac_response(challenge, system_title=title, invocation_counter=counter, keys=KEYS)
    assert verify_hls_gmac_response(response, challenge, system_title=title, keys=KEYS) == counter
    tampered = response[:-1] + bytes((response[-1] ^ 1,))
    with pytest.raises(SecurityError):
        verify_hls_gmac_response(tampered, challenge, system_title=title, keys=KEYS)
    other_counter = response[:1] + ((counter + 1) % (1 << 32)).to_bytes(4, "big") + response[5:]
    with pytest.raises(SecurityError):
        verify_hls_gmac_response(other_counter, challenge, system_title=title, keys=KEYS)


def test_keys_never_appear_in_reprs_or_error_messages() -> None:
    secrets = [EK, AK, BK, DK]
    shown = [repr(KEYS), str(KEYS)]
    protected = bytearray(_protect(GET_REQUEST))
    protected[-1] ^= 1
    attempts = [
        lambda: unprotect(bytes(protected), keys=KEYS, peer_system_title=TITLE),
        lambda: unprotect(
            _protect(GET_REQUEST), keys=SecurityKeys(global_unicast=BK, authentication=DK), peer_system_title=TITLE
        ),
        lambda: SecurityKeys(global_unicast=EK + b"\x00", authentication=AK),
        lambda: SecurityKeys(global_unicast=EK, authentication=AK).with_dedicated(DK[:8]),
        lambda: verify_hls_gmac_response(b"\x10" * 17, b"P6wRJ21F", system_title=TITLE, keys=KEYS),
    ]
    for attempt in attempts:
        with pytest.raises(CosemError) as raised:
            attempt()
        shown += [str(raised.value), repr(raised.value)]
    for text in shown:
        for secret in secrets:
            assert secret.hex() not in text.lower()
            assert secret.hex(" ") not in text.lower()
            assert repr(secret) not in text
            assert repr(secret[:8])[2:-1] not in text
