"""ACSE APDUs: hypothesis round trips and strict decoding of malformed BER.

Byte-exact encodings are pinned by test_acse_vectors.py (Green Book) and the interop tests; here
every representable APDU must survive encode -> decode, and malformed input must be refused with
DecodeError only (with the offset of the fault), never another exception.
"""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from openprepaid.cosem.acse import (
    AARE,
    AARQ,
    DECODERS,
    RLRE,
    RLRQ,
    AcseServiceProviderDiagnostic,
    AcseServiceUserDiagnostic,
    AssociationResult,
    ReleaseRequestReason,
    ReleaseResponseReason,
    decode_acse,
)
from openprepaid.cosem.acse_ber import encode_length
from openprepaid.cosem.acse_initiate import (
    ConfirmedServiceError,
    Conformance,
    InitiateErrorCode,
    InitiateRequest,
    InitiateResponse,
)
from openprepaid.cosem.errors import DecodeError, EncodeError
from openprepaid.cosem.security import SecurityControl
from openprepaid.cosem.security_apdu import CipheredApdu, GeneralCipheredApdu

conformance = st.integers(0, (1 << 24) - 1).map(Conformance)
octets8 = st.binary(min_size=8, max_size=8)
security_controls = st.integers(0, 255).map(SecurityControl.from_byte)
initiate_requests = st.builds(
    InitiateRequest,
    proposed_conformance=conformance,
    client_max_receive_pdu_size=st.integers(0, 0xFFFF),
    proposed_dlms_version_number=st.integers(0, 255),
    dedicated_key=st.none() | st.binary(min_size=1, max_size=32),
    response_allowed=st.booleans(),
    proposed_quality_of_service=st.none() | st.integers(-128, 127),
)
initiate_responses = st.builds(
    InitiateResponse,
    negotiated_conformance=conformance,
    server_max_receive_pdu_size=st.integers(0, 0xFFFF),
    negotiated_dlms_version_number=st.integers(0, 255),
    negotiated_quality_of_service=st.none() | st.integers(-128, 127),
    vaa_name=st.sampled_from([0x0007, 0xFA00]),
)
service_errors = st.builds(ConfirmedServiceError, value=st.sampled_from(list(InitiateErrorCode)))


def ciphered(plain_tags: list[int]) -> st.SearchStrategy[CipheredApdu | GeneralCipheredApdu]:
    service_specific = st.builds(
        CipheredApdu,
        tag=st.sampled_from([t + 0x20 for t in plain_tags] + [t + 0x40 for t in plain_tags]),
        security_control=security_controls,
        invocation_counter=st.integers(0, 0xFFFF_FFFF),
        information=st.binary(max_size=300),
    )
    general = st.builds(
        GeneralCipheredApdu,
        dedicated=st.booleans(),
        system_title=st.sampled_from([b""]) | octets8,
        security_control=security_controls,
        invocation_counter=st.integers(0, 0xFFFF_FFFF),
        information=st.binary(max_size=300),
    )
    return service_specific | general


names = st.integers(0, 127)
optional_octets = st.none() | st.binary(max_size=200)
aarqs = st.builds(
    AARQ,
    application_context_name=names,
    calling_ap_title=st.none() | octets8,
    calling_ae_qualifier=optional_octets,
    calling_ae_invocation_id=st.none() | st.integers(-(2**31), 2**31 - 1),
    sender_acse_requirements=st.booleans(),
    mechanism_name=st.none() | names,
    calling_authentication_value=st.none() | st.binary(min_size=0, max_size=64),
    implementation_information=optional_octets,
    user_information=st.none() | initiate_requests | ciphered([0x01]),
)
diagnostics = st.sampled_from(list(AcseServiceUserDiagnostic) + list(AcseServiceProviderDiagnostic))
aares = st.builds(
    AARE,
    result=st.sampled_from(list(AssociationResult)),
    result_source_diagnostic=diagnostics,
    application_context_name=names,
    responding_ap_title=st.none() | octets8,
    responding_ae_qualifier=optional_octets,
    responding_ae_invocation_id=st.none() | st.integers(0, 255),
    responder_acse_requirements=st.booleans(),
    mechanism_name=st.none() | names,
    responding_authentication_value=st.none() | st.binary(min_size=8, max_size=64),
    implementation_information=optional_octets,
    user_information=st.none() | initiate_responses | service_errors | ciphered([0x08, 0x0E]),
)
rlrqs = st.builds(
    RLRQ,
    reason=st.none() | st.sampled_from(list(ReleaseRequestReason)),
    user_information=st.none() | initiate_requests | ciphered([0x01]),
)
rlres = st.builds(
    RLRE,
    reason=st.none() | st.sampled_from(list(ReleaseResponseReason)),
    user_information=st.none() | initiate_responses | ciphered([0x08]),
)
acse_apdus = aarqs | aares | rlrqs | rlres


@settings(max_examples=400, deadline=None)
@given(apdu=acse_apdus)
def test_encode_decode_round_trip(apdu: AARQ | AARE | RLRQ | RLRE) -> None:
    encoded = apdu.encode()
    assert decode_acse(encoded) == apdu
    assert type(apdu).decode(encoded) == apdu


@settings(max_examples=300, deadline=None)
@given(apdu=acse_apdus, data=st.data())
def test_mutations_raise_only_decode_error(apdu: AARQ | AARE | RLRQ | RLRE, data: st.DataObject) -> None:
    encoded = bytearray(apdu.encode())
    for _ in range(data.draw(st.integers(1, 4))):
        index = data.draw(st.integers(0, len(encoded) - 1))
        encoded[index] = data.draw(st.integers(0, 255))
    for decoder in DECODERS.values():
        with contextlib.suppress(DecodeError):
            decoder(bytes(encoded))


@settings(max_examples=100, deadline=None)
@given(apdu=acse_apdus)
def test_every_truncation_and_extension_is_refused(apdu: AARQ | AARE | RLRQ | RLRE) -> None:
    encoded = apdu.encode()
    for end in range(len(encoded)):
        with pytest.raises(DecodeError):
            decode_acse(encoded[:end])
    with pytest.raises(DecodeError, match="unexpected octets"):
        decode_acse(encoded + b"\x00")


AARQ_NONE = "601DA109060760857405080101BE10040E01000000065F1F0400007E1F04B0"
USER_INFO = "BE10040E01000000065F1F0400007E1F04B0"
CONTEXT = "A109060760857405080101"


def aarq(*components: str) -> str:
    """An AARQ around the given component encodings (hex), with the right length."""
    body = "".join(components)
    return "60" + encode_length(len(body) // 2).hex().upper() + body


@pytest.mark.parametrize(
    ("hex_apdu", "message"),
    [
        ("6080" + CONTEXT + USER_INFO + "0000", "indefinite length"),
        ("6084" + "0000001D" + CONTEXT + USER_INFO, "length octets"),
        ("601E" + CONTEXT + USER_INFO, "runs past the end"),
        ("601C" + CONTEXT + USER_INFO, "unexpected octets after AARQ"),
        ("7F1D" + CONTEXT + USER_INFO, "high-tag-number"),
        (aarq(USER_INFO, CONTEXT), "out of order"),
        (aarq(CONTEXT, CONTEXT, USER_INFO), "out of order"),
        (aarq(USER_INFO), "mandatory component 0xa1"),
        (aarq(CONTEXT, "A2020400"), "not used"),  # called-AP-title
        (aarq(CONTEXT, "A803020101"), "not used"),  # calling-AP-invocation-identifier
        (aarq("A109060760857405090101"), "not a DLMS UA name"),
        (aarq("A1080606608574050801"), "not a DLMS UA name"),
        (aarq("A109040760857405080101"), "expected 0x06"),
        (aarq(CONTEXT, "8B0760857405080205", "8A020780"), "out of order"),
        (aarq(CONTEXT, "8A03070080"), "one-octet BIT STRING"),
        (aarq("80020700", CONTEXT), "version1"),
        (aarq(CONTEXT, "A6030401"), "runs past the end"),
        (aarq(CONTEXT, "A60A0308" + "00" * 8), "expected 0x04"),
        (aarq(CONTEXT, "AC03810131"), "charstring"),
        (aarq(CONTEXT, "BE020400"), "user-information is empty"),
        (aarq(CONTEXT, "BE080406060000000600"), "starts with tag 0x06"),
        (aarq(CONTEXT, "BE10040E01000000065F1F0300007E1F04B0"), "5F 1F 04 00"),
        (aarq(CONTEXT, "BE10040E01020000065F1F0400007E1F04B0"), "usage flag"),
        (aarq(CONTEXT, "BE11040F01000000065F1F0400007E1F04B000"), "unexpected octets after InitiateRequest"),
        (aarq(CONTEXT, "BE0F040D01000000065F1F0400007E1F04"), "truncated"),
        (aarq(CONTEXT, "BE090407280530" + "00000001"), "does not carry an initiate"),
    ],
)
def test_malformed_aarq_is_refused(hex_apdu: str, message: str) -> None:
    with pytest.raises(DecodeError, match=message):
        AARQ.decode(bytes.fromhex(hex_apdu))


AARE_OK = "6129A109060760857405080101A203020100A305A103020100BE10040E0800065F1F040000501F01F40007"
AARE_HEAD = AARE_OK[4:50]  # context, result, diagnostic


def aare(*components: str) -> str:
    body = "".join(components)
    return "61" + encode_length(len(body) // 2).hex().upper() + body


@pytest.mark.parametrize(
    ("hex_apdu", "message"),
    [
        (AARE_OK.replace("A203020100", "A203020103"), "association result 3"),
        (AARE_OK.replace("A305A103020100", "A305A10302010F"), "acse-service-user diagnostic 15"),
        (AARE_OK.replace("A305A103020100", "A305A20302010A"), "acse-service-provider diagnostic 10"),
        (AARE_OK.replace("A305A103020100", "A305A30302010A"), "alternative 0xa3"),
        (AARE_OK.replace("A203020100", "A2050203000000"), "INTEGER of 3 octets|unexpected"),
        (AARE_OK.replace("A203020100", "A203040100"), "expected 0x02"),
        ("6124A109060760857405080101A305A103020100BE10040E0800065F1F040000501F01F40007", "mandatory component 0xa2"),
        (AARE_OK.replace("BE10040E08", "BE10040E01"), "starts with tag 0x01"),
        (aare(AARE_HEAD, "BE06040400010601"), "starts with tag 0x00"),
        (aare(AARE_HEAD, "BE0604040E140601"), "alternative 20"),
        (aare(AARE_HEAD, "BE0604040E010B01"), "ServiceError alternative"),
    ],
)
def test_malformed_aare_is_refused(hex_apdu: str, message: str) -> None:
    with pytest.raises(DecodeError, match=message):
        AARE.decode(bytes.fromhex(hex_apdu))


def test_an_initiate_error_value_the_standard_does_not_name_is_kept() -> None:
    # A vendor's own initiate error code must not hide the refusal behind a decode error.
    refused = AARE.decode(bytes.fromhex(aare(AARE_HEAD, "BE0604040E010607")))
    assert isinstance(refused.user_information, ConfirmedServiceError)
    assert refused.user_information.value == 7
    assert not isinstance(refused.user_information.value, InitiateErrorCode)


def test_release_reasons_and_components_are_checked() -> None:
    with pytest.raises(DecodeError, match="release reason 2"):
        RLRQ.decode(bytes.fromhex("6203800102"))
    with pytest.raises(DecodeError, match="not used"):
        RLRE.decode(bytes.fromhex("6303810100"))
    with pytest.raises(DecodeError, match="INTEGER of 0 octets"):
        RLRE.decode(bytes.fromhex("63028000"))
    assert RLRQ.decode(bytes.fromhex("6200")) == RLRQ()
    with pytest.raises(DecodeError, match="not an ACSE APDU"):
        decode_acse(bytes.fromhex("6400"))
    with pytest.raises(DecodeError, match="empty"):
        decode_acse(b"")


def test_decode_error_carries_the_offset() -> None:
    data = bytearray.fromhex(AARQ_NONE)
    data[7] = 0x09  # the OID's fourth octet (offset 7) leaves the DLMS UA arc
    with pytest.raises(DecodeError) as raised:
        AARQ.decode(bytes(data))
    assert raised.value.offset == 6  # where the OID contents start


def test_long_form_lengths_are_read_and_written() -> None:
    qualifier = bytes(300)  # an ECDSA certificate-sized calling-AE-qualifier forces 0x82 lengths
    apdu = AARQ(calling_ae_qualifier=qualifier)
    encoded = apdu.encode()
    assert encoded[:4] == bytes.fromhex("6082013F")
    assert AARQ.decode(encoded) == apdu
    # a non-minimal long form (81 1D instead of 1D) is valid BER and accepted
    assert AARQ.decode(bytes.fromhex("60811D" + AARQ_NONE[4:])) == AARQ.decode(bytes.fromhex(AARQ_NONE))
    assert encode_length(0x7F) == b"\x7f"
    assert encode_length(0x80) == b"\x81\x80"
    assert encode_length(0x10000) == b"\x83\x01\x00\x00"
    with pytest.raises(EncodeError):
        encode_length(1 << 24)


@pytest.mark.parametrize(
    "apdu",
    [
        AARQ(application_context_name=128),
        AARQ(mechanism_name=-1),
        InitiateRequest(proposed_conformance=Conformance.GET, client_max_receive_pdu_size=1 << 16),
        InitiateRequest(proposed_conformance=Conformance.GET, client_max_receive_pdu_size=1, dedicated_key=b""),
        InitiateRequest(
            proposed_conformance=Conformance.GET, client_max_receive_pdu_size=1, proposed_quality_of_service=128
        ),
        InitiateResponse(negotiated_conformance=Conformance(1 << 24), server_max_receive_pdu_size=1),
        InitiateResponse(negotiated_conformance=Conformance.GET, server_max_receive_pdu_size=1, vaa_name=-1),
        ConfirmedServiceError(value=1, service=0),
        ConfirmedServiceError(value=256),
        CipheredApdu(tag=0xC0, security_control=SecurityControl(), invocation_counter=0, information=b""),
        CipheredApdu(tag=0xC8, security_control=SecurityControl(), invocation_counter=1 << 32, information=b""),
        GeneralCipheredApdu(
            dedicated=False,
            system_title=b"1234",
            security_control=SecurityControl(),
            invocation_counter=0,
            information=b"",
        ),
    ],
)
def test_unrepresentable_values_are_encode_errors(
    apdu: AARQ | InitiateRequest | InitiateResponse | ConfirmedServiceError | CipheredApdu | GeneralCipheredApdu,
) -> None:
    with pytest.raises(EncodeError):
        apdu.encode()
