"""Security suite 0 against published vectors.

Sources (values taken as facts):
- [GB-T40] DLMS UA 1000-2 Green Book, 9.2.3.3.7 AES-GCM example, Table 40 (Ed. 7 p. 285): system
  title 4D4D4D0000BC614E, IC 01234567, EK 000102..0F, AK D0D1..DF, get-request
  C0010000080000010000FF0200 protected authenticated-only, encrypted-only and authenticated+encrypted
  as glo-get-request C8 ... (also used by openmuc jDLMS and dlms-cosem test-suites).
- [GB-INIT] Green Book, ciphered AARQ example: the InitiateRequest with dedicated key
  00112233..FF as glo-initiate-request 21 30 30 01234567 ...; and the glo-initiate-response
  28 1F 30 01234567 ... of the release example (server system title 4D4D4D0000BC614E).
- [GB-T43] Green Book Ed. 8.1, 9.2.7.4, Table 43 "HLS example using authentication-mechanism 5
  with GMAC": f(StoC) = 10 00000001 1A52FE7DD3E72748973C1E28 (client title 4D4D4D0000000001,
  IC 1), f(CtoS) = 10 01234567 FE1466AFB3DBCD4F9389E2B7 (server title 4D4D4D0000BC614E).
- [NIST-3] McGrew & Viega, "The Galois/Counter Mode of Operation (GCM)", Appendix B, test case 3
  (the NIST GCM reference vectors): AES-128, 96-bit IV, no additional data.
"""

from __future__ import annotations

import pytest

from openprepaid.cosem.acse_initiate import Conformance, InitiateRequest, InitiateResponse
from openprepaid.cosem.errors import SecurityError
from openprepaid.cosem.security import (
    AUTHENTICATED,
    AUTHENTICATED_ENCRYPTED,
    ENCRYPTED,
    SecurityControl,
    SecurityKeys,
    cipher,
    decipher,
    hls_gmac_response,
    verify_hls_gmac_response,
)
from openprepaid.cosem.security_apdu import (
    DED_TAG_OF,
    GLO_TAG_OF,
    PLAIN_TAG_OF,
    Protection,
    protect,
    unprotect,
)

EK = bytes.fromhex("000102030405060708090A0B0C0D0E0F")
AK = bytes.fromhex("D0D1D2D3D4D5D6D7D8D9DADBDCDDDEDF")
SERVER_TITLE = bytes.fromhex("4D4D4D0000BC614E")
CLIENT_TITLE = bytes.fromhex("4D4D4D0000000001")
KEYS = SecurityKeys(global_unicast=EK, authentication=AK)
GET_REQUEST = bytes.fromhex("C0010000080000010000FF0200")

TABLE_40 = [
    (AUTHENTICATED, "C81E1001234567C0010000080000010000FF020006725D910F9221D263877516"),
    (ENCRYPTED, "C8122001234567411312FF935A47566827C467BC"),
    (AUTHENTICATED_ENCRYPTED, "C81E3001234567411312FF935A47566827C467BC7D825C3BE4A77C3FCC056B6B"),
]


@pytest.mark.parametrize(("control", "hex_apdu"), TABLE_40, ids=["auth", "enc", "auth+enc"])
def test_glo_get_request_table_40(control: SecurityControl, hex_apdu: str) -> None:
    # [GB-T40]
    protected = protect(
        GET_REQUEST,
        protection=Protection.GLOBAL,
        security_control=control,
        system_title=SERVER_TITLE,
        invocation_counter=0x01234567,
        keys=KEYS,
    )
    assert protected.hex().upper() == hex_apdu
    unprotected = unprotect(
        bytes.fromhex(hex_apdu), keys=KEYS, peer_system_title=SERVER_TITLE, require_authentication=control.authenticated
    )
    assert unprotected.apdu == GET_REQUEST
    assert unprotected.invocation_counter == 0x01234567
    assert unprotected.security_control == control


def test_glo_initiate_request() -> None:
    # [GB-INIT]
    plain = InitiateRequest(
        dedicated_key=bytes.fromhex("00112233445566778899AABBCCDDEEFF"),
        proposed_conformance=Conformance.from_octets(bytes.fromhex("007E1F")),
        client_max_receive_pdu_size=0x04B0,
    ).encode()
    expected = "21303001234567801302FF8A7874133D414CED25B42534D28DB0047720606B175BD52211BE6841DB204D39EE6FDB8E356855"
    protected = protect(
        plain,
        protection=Protection.GLOBAL,
        security_control=AUTHENTICATED_ENCRYPTED,
        system_title=SERVER_TITLE,
        invocation_counter=0x01234567,
        keys=KEYS,
    )
    assert protected.hex().upper() == expected


def test_glo_initiate_response_deciphers() -> None:
    # [GB-INIT] release example; the plaintext is an InitiateResponse, LN, max PDU 0x0400.
    apdu = bytes.fromhex("281F3001234567891214A0845E475714383F65BC19745CA235906525E4F3E1C893")
    response = InitiateResponse.decode(unprotect(apdu, keys=KEYS, peer_system_title=SERVER_TITLE).apdu)
    assert response.server_max_receive_pdu_size == 0x0400
    assert response.vaa_name == 0x0007
    assert response.negotiated_conformance == Conformance.from_octets(bytes.fromhex("007C1F"))


def test_hls_gmac_table_43() -> None:
    # [GB-T43] pass 3: the client answers StoC with its title and IC 1; pass 4: the server answers CtoS.
    f_stoc = hls_gmac_response(b"P6wRJ21F", system_title=CLIENT_TITLE, invocation_counter=1, keys=KEYS)
    assert f_stoc.hex().upper() == "10000000011A52FE7DD3E72748973C1E28"
    f_ctos = hls_gmac_response(b"K56iVagY", system_title=SERVER_TITLE, invocation_counter=0x01234567, keys=KEYS)
    assert f_ctos.hex().upper() == "1001234567FE1466AFB3DBCD4F9389E2B7"
    assert verify_hls_gmac_response(f_stoc, b"P6wRJ21F", system_title=CLIENT_TITLE, keys=KEYS) == 1
    assert verify_hls_gmac_response(f_ctos, b"K56iVagY", system_title=SERVER_TITLE, keys=KEYS) == 0x01234567


def test_hls_gmac_table_43_wrong_challenge_or_title_fails() -> None:
    f_stoc = bytes.fromhex("10000000011A52FE7DD3E72748973C1E28")
    with pytest.raises(SecurityError):
        verify_hls_gmac_response(f_stoc, b"P6wRJ21G", system_title=CLIENT_TITLE, keys=KEYS)
    with pytest.raises(SecurityError):
        verify_hls_gmac_response(f_stoc, b"P6wRJ21F", system_title=SERVER_TITLE, keys=KEYS)
    with pytest.raises(SecurityError):  # security control must be 0x10
        verify_hls_gmac_response(b"\x30" + f_stoc[1:], b"P6wRJ21F", system_title=CLIENT_TITLE, keys=KEYS)


def test_nist_gcm_test_case_3_encrypted_only() -> None:
    # [NIST-3] encrypted-only protection is plain GCM encryption without a tag; the 96-bit IV
    # CAFEBABEFACEDBADDECAF888 splits as system title CAFEBABEFACEDBAD || IC DECAF888.
    key = bytes.fromhex("feffe9928665731c6d6a8f9467308308")
    plaintext = bytes.fromhex(
        "d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a72"
        "1c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b391aafd255"
    )
    ciphertext = bytes.fromhex(
        "42831ec2217774244b7221b784d0d49ce3aa212f2c02a4e035c17e2329aca12e"
        "21d514b25466931c7d8f6a5aac84aa051ba30b396a0aac973d58e091473f5985"
    )
    title, counter = bytes.fromhex("cafebabefacedbad"), 0xDECAF888
    assert (
        cipher(
            plaintext,
            security_control=ENCRYPTED,
            system_title=title,
            invocation_counter=counter,
            encryption_key=key,
            authentication_key=AK,
        )
        == ciphertext
    )
    assert (
        decipher(
            ciphertext,
            security_control=ENCRYPTED,
            system_title=title,
            invocation_counter=counter,
            encryption_key=key,
            authentication_key=AK,
        )
        == plaintext
    )


def test_service_specific_tag_table() -> None:
    # IEC 62056-5-3 xDLMS ASN.1 (COSEMpdu): glo- and ded- tags of every cipherable APDU.
    assert dict(GLO_TAG_OF) == {
        0x01: 0x21, 0x05: 0x25, 0x06: 0x26, 0x08: 0x28, 0x0C: 0x2C, 0x0D: 0x2D, 0x0E: 0x2E, 0x16: 0x36,
        0x18: 0x38, 0xC0: 0xC8, 0xC1: 0xC9, 0xC2: 0xCA, 0xC3: 0xCB, 0xC4: 0xCC, 0xC5: 0xCD, 0xC7: 0xCF,
    }  # fmt: skip
    assert dict(DED_TAG_OF) == {
        0x01: 0x41, 0x05: 0x45, 0x06: 0x46, 0x08: 0x48, 0x0C: 0x4C, 0x0D: 0x4D, 0x0E: 0x4E, 0x16: 0x56,
        0x18: 0x58, 0xC0: 0xD0, 0xC1: 0xD1, 0xC2: 0xD2, 0xC3: 0xD3, 0xC4: 0xD4, 0xC5: 0xD5, 0xC7: 0xD7,
    }  # fmt: skip
    for plain, glo in GLO_TAG_OF.items():
        assert PLAIN_TAG_OF[glo] == plain
        assert PLAIN_TAG_OF[DED_TAG_OF[plain]] == plain
    # data-notification, exception-response, access, general-block-transfer: general ciphering only.
    for tag in (0x0F, 0xD8, 0xD9, 0xDA, 0xE0):
        assert tag not in GLO_TAG_OF
        assert tag not in DED_TAG_OF
