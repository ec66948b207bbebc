# Licence note: imports gurux-dlms (GPLv2) as a benchmark peer only; runs in its own process in
# .venv-peers (see bench/peers/LICENSE-NOTE.md); nothing is copied from it.
"""Times gurux-dlms on the codec benchmark's work: one JSON request on stdin, one JSON line out.

Plain: plain rows -> GXArray of GXStructure -> its server-side GET-Response-Normal (getLnMessages),
and back through its client (getData) to its value objects. Ciphered: the same with gurux's suite-0
ciphering on both sides (glo-get-response, authenticated and encrypted). gurux prints a line per
ciphered message; that output is sent to /dev/null.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
from pathlib import Path

from gurux_dlms import (
    GXArray,
    GXByteBuffer,
    GXCiphering,
    GXDLMSClient,
    GXDLMSSettings,
    GXReplyData,
    GXStructure,
    GXUInt16,
    GXUInt32,
)
from gurux_dlms.enums import Authentication, Command, DataType, ErrorCode, InterfaceType, Security
from gurux_dlms.GetCommandType import GetCommandType
from gurux_dlms.GXDLMS import GXDLMS
from gurux_dlms.GXDLMSLNParameters import GXDLMSLNParameters
from gurux_dlms.internal._GXCommon import _GXCommon
from gurux_dlms.objects import GXDLMSProfileGeneric
from peer_timing import rate


def server(cipher):
    settings = GXDLMSSettings(True, None)
    settings.interfaceType = InterfaceType.PDU
    settings.useLogicalNameReferencing = True
    settings.cipher = cipher
    return settings


def client(cipher, server_title):
    reader = GXDLMSClient(True, 16, 1, Authentication.NONE, None, InterfaceType.PDU)
    if cipher is not None:
        reader.settings.cipher = cipher
        reader.settings.sourceSystemTitle = server_title
    return reader


def ciphering(system_title, keys):
    cipher = GXCiphering(system_title)
    cipher.security = Security.AUTHENTICATION_ENCRYPTION
    cipher.blockCipherKey = bytes.fromhex(keys["encryption"])
    cipher.authenticationKey = bytes.fromhex(keys["authentication"])
    return cipher


def main():
    request = json.loads(sys.stdin.readline())
    rows = [(bytearray(bytes.fromhex(row[0])), *row[1:]) for row in request["rows"]]
    keys = request["keys"]
    server_title = bytes.fromhex(keys["system_title"])
    profile = GXDLMSProfileGeneric("1.0.99.1.0.255")

    def exchange(server_settings, reader):
        def once():
            buffer = GXArray()
            for clock, voltage, current, imported, exported, apparent in rows:
                row = GXStructure()
                row.extend(
                    (
                        clock,
                        GXUInt16(voltage),
                        GXUInt16(current),
                        GXUInt32(imported),
                        GXUInt32(exported),
                        GXUInt32(apparent),
                    )
                )
                buffer.append(row)
            data = GXByteBuffer()
            _GXCommon.setData(server_settings, data, DataType.ARRAY, buffer)
            parameters = GXDLMSLNParameters(
                server_settings, 0xC1, Command.GET_RESPONSE, GetCommandType.NORMAL, None, data, ErrorCode.OK
            )
            (octets,) = GXDLMS.getLnMessages(parameters)
            reader.read(profile, 2)
            reply = GXReplyData()
            reader.getData(GXByteBuffer(bytes(octets)), reply)
            return bytes(octets), reply.value

        return once

    plain = exchange(server(None), client(None, server_title))
    ciphered = exchange(server(ciphering(server_title, keys)), client(ciphering(bytes(8), keys), server_title))
    with Path(os.devnull).open("w") as sink, contextlib.redirect_stdout(sink):
        octets, value = plain()
        result = {
            "plain_ops": rate(plain, request["seconds"]),
            "ciphered_ops": rate(ciphered, request["seconds"]),
            "plain_hex": octets.hex(),
            "rows": len(value),
        }
    sys.stdout.write(json.dumps(result) + "\n")


if __name__ == "__main__":
    main()
