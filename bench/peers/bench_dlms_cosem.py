# Licence note: imports dlms-cosem 25.1.0 (Business Source License 1.1) as a benchmark peer only; runs
# in its own process in .venv-peers (see bench/peers/LICENSE-NOTE.md); nothing is copied from it.
"""Times dlms-cosem on the codec benchmark's work: one JSON request on stdin, one JSON line out.

Plain: plain rows -> DataArray of DataStructure -> GET-Response-Normal octets, and back to its Data
objects. dlms-cosem 25.1.0's GetResponseNormal.to_bytes fails (it appends the invoke-id octet as
bytes), so the 4-octet header is written here by hand around the library's Data encoding; decoding
uses its APDU factory and Data parser. Ciphered: dlms_cosem.security.encrypt/decrypt (AES-GCM,
authenticated and encrypted, suite 0) inside a glo-get-response envelope written here by hand
(tag, length, SC, IC): dlms-cosem has no glo-get-response class and its GeneralGlobalCipher.to_bytes
cannot write content longer than 255 octets (one-octet length).
"""

from __future__ import annotations

import json
import sys

from dlms_cosem import dlms_data
from dlms_cosem.connection import XDlmsApduFactory
from dlms_cosem.dlms_data import decode_variable_integer, encode_variable_integer
from dlms_cosem.security import SecurityControlField, decrypt, encrypt
from peer_timing import rate


def main():
    request = json.loads(sys.stdin.readline())
    rows = [(bytes.fromhex(row[0]), *row[1:]) for row in request["rows"]]
    keys = request["keys"]
    system_title = bytes.fromhex(keys["system_title"])
    key, auth_key = bytes.fromhex(keys["encryption"]), bytes.fromhex(keys["authentication"])
    control = SecurityControlField(security_suite=0, authenticated=True, encrypted=True)

    def encode():
        buffer = dlms_data.DataArray(
            [
                dlms_data.DataStructure(
                    [
                        dlms_data.OctetStringData(clock),
                        dlms_data.UnsignedLongData(voltage),
                        dlms_data.UnsignedLongData(current),
                        dlms_data.DoubleLongUnsignedData(imported),
                        dlms_data.DoubleLongUnsignedData(exported),
                        dlms_data.DoubleLongUnsignedData(apparent),
                    ]
                )
                for clock, voltage, current, imported, exported, apparent in rows
            ]
        )
        return b"\xc4\x01\xc1\x00" + buffer.to_bytes()

    def decode(octets):
        apdu = XDlmsApduFactory.apdu_from_bytes(octets)
        return dlms_data.DlmsDataParser().parse(apdu.data)

    def plain():
        return decode(encode())

    def ciphered():
        text = encrypt(control, system_title, 100, key, encode(), auth_key)
        content = control.to_bytes() + (100).to_bytes(4, "big") + text
        octets = b"\xcc" + encode_variable_integer(len(content)) + content
        _length, content = decode_variable_integer(octets[1:])
        received = SecurityControlField.from_bytes(content[:1])
        counter = int.from_bytes(content[1:5], "big")
        return decode(decrypt(received, system_title, counter, key, bytes(content[5:]), auth_key))

    parsed = plain()[0]
    result = {
        "plain_ops": rate(plain, request["seconds"]),
        "ciphered_ops": rate(ciphered, request["seconds"]),
        "plain_hex": encode().hex(),
        "rows": len(parsed.value),
    }
    sys.stdout.write(json.dumps(result) + "\n")


if __name__ == "__main__":
    main()
