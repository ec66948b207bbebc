# Licence note: this script imports gurux-dlms (GPLv2), an independent DLMS/COSEM implementation used
# only as a test peer. It runs in its own process in .venv-peers (see tests/interop/LICENSE-NOTE.md);
# nothing of openprepaid imports it and no gurux code is copied into openprepaid.
"""gurux-dlms test peer: encodes and decodes A-XDR Data and xDLMS APDUs on request (JSON lines).

Typed values travel as {"t": <A-XDR type name>, "v": <value>}; octet strings and date-times as hex.
Ops: data_decode / data_encode (gurux's own Data coder), pdu_to_xml (gurux's APDU decoder, as its
translator XML), client_* (APDUs gurux's client builds), server_* and notify (APDUs gurux's server
side builds), read (gurux as the client of a GET, block transfer included), datetime_encode.
gurux's xmlToPdu is not used: in this version it mis-encodes several APDUs.
"""

from __future__ import annotations

import struct
from datetime import datetime
from xml.etree import ElementTree

from gurux_dlms import (
    GXArray,
    GXBitString,
    GXByteBuffer,
    GXDateTime,
    GXDLMSClient,
    GXDLMSSettings,
    GXDLMSTranslator,
    GXEnum,
    GXFloat32,
    GXFloat64,
    GXInt8,
    GXInt16,
    GXInt32,
    GXInt64,
    GXReplyData,
    GXStructure,
    GXUInt8,
    GXUInt16,
    GXUInt32,
    GXUInt64,
)
from gurux_dlms.enums import (
    Authentication,
    Command,
    Conformance,
    DataType,
    ErrorCode,
    InterfaceType,
    ObjectType,
    TranslatorOutputType,
)
from gurux_dlms.GetCommandType import GetCommandType
from gurux_dlms.GXDLMS import GXDLMS
from gurux_dlms.GXDLMSLNParameters import GXDLMSLNParameters
from gurux_dlms.GXDLMSNotify import GXDLMSNotify
from gurux_dlms.internal._GXCommon import _GXCommon
from gurux_dlms.internal._GXDataInfo import _GXDataInfo
from gurux_dlms.objects import GXDLMSCaptureObject, GXDLMSClock, GXDLMSData, GXDLMSObject, GXDLMSProfileGeneric
from gurux_dlms.SetResponseType import SetResponseType
from peer_loop import serve

SETTINGS = GXDLMSSettings(False, None)
INTS = {
    "integer": (GXInt8, DataType.INT8),
    "long": (GXInt16, DataType.INT16),
    "double_long": (GXInt32, DataType.INT32),
    "long64": (GXInt64, DataType.INT64),
    "unsigned": (GXUInt8, DataType.UINT8),
    "long_unsigned": (GXUInt16, DataType.UINT16),
    "double_long_unsigned": (GXUInt32, DataType.UINT32),
    "long64_unsigned": (GXUInt64, DataType.UINT64),
    "enum": (GXEnum, DataType.ENUM),
}
NAME_OF_TYPE = {kind: name for name, (kind, _dt) in INTS.items()}


def to_typed(value):
    """gurux's decoded Python value -> typed JSON."""
    if value is None:
        return {"t": "null_data", "v": None}
    if isinstance(value, GXStructure):
        return {"t": "structure", "v": [to_typed(item) for item in value]}
    if isinstance(value, list):  # GXArray, and plain lists from compact arrays
        return {"t": "array", "v": [to_typed(item) for item in value]}
    if isinstance(value, bool):
        return {"t": "boolean", "v": value}
    for kind, name in NAME_OF_TYPE.items():
        if type(value) is kind:
            return {"t": name, "v": int(value)}
    if isinstance(value, GXFloat32):
        return {"t": "float32", "v": float(value)}
    if isinstance(value, GXFloat64 | float):
        return {"t": "float64", "v": float(value)}
    if isinstance(value, bytes | bytearray):
        return {"t": "octet_string", "v": bytes(value).hex()}
    if isinstance(value, str):
        return {"t": "visible_string", "v": value}
    if isinstance(value, GXBitString):
        return {"t": "bit_string", "v": str(value)}
    if isinstance(value, GXDateTime):
        buffer = GXByteBuffer()
        _GXCommon.setData(SETTINGS, buffer, DataType.DATETIME, value)
        return {"t": "date_time", "v": bytes(buffer.array())[1:].hex()}
    if isinstance(value, int):
        return {"t": "bcd", "v": value}
    raise TypeError(f"unmapped gurux value {type(value).__name__}")


def from_typed(node):
    """Typed JSON -> (gurux DataType, gurux Python value)."""
    kind, value = node["t"], node["v"]
    if kind in INTS:
        gx_type, data_type = INTS[kind]
        return data_type, gx_type(value)
    if kind in ("structure", "array"):
        items = GXStructure() if kind == "structure" else GXArray()
        items.extend(from_typed(item)[1] for item in value)
        return (DataType.STRUCTURE if kind == "structure" else DataType.ARRAY), items
    if kind == "octet_string":
        return DataType.OCTET_STRING, bytearray(bytes.fromhex(value))
    if kind == "visible_string":
        return DataType.STRING, value
    if kind == "boolean":
        return DataType.BOOLEAN, bool(value)
    if kind == "null_data":
        return DataType.NONE, None
    if kind == "float32":
        return DataType.FLOAT32, GXFloat32(value)
    if kind == "float64":
        return DataType.FLOAT64, GXFloat64(value)
    if kind == "bit_string":
        return DataType.BITSTRING, GXBitString(value)
    if kind == "date_time":
        return DataType.DATETIME, _GXCommon.changeType(SETTINGS, bytearray(bytes.fromhex(value)), DataType.DATETIME)
    raise TypeError(f"unmapped typed value {kind}")


XML_INTS = {
    "Int8": ("integer", 1),
    "Int16": ("long", 2),
    "Int32": ("double_long", 4),
    "Int64": ("long64", 8),
    "UInt8": ("unsigned", 1),
    "UInt16": ("long_unsigned", 2),
    "UInt32": ("double_long_unsigned", 4),
    "UInt64": ("long64_unsigned", 8),
    "Enum": ("enum", 1),
    "BCD": ("bcd", 1),
}
XML_HEX = {"OctetString": "octet_string", "DateTime": "date_time", "Time": "time"}


def xml_to_typed(element):
    """One element of gurux's translator XML for Data -> typed JSON (the XML names every type)."""
    tag, value = element.tag, element.get("Value")
    if tag in ("Array", "Structure"):
        return {"t": tag.lower(), "v": [xml_to_typed(child) for child in element]}
    if tag in XML_INTS:
        name, _size = XML_INTS[tag]
        signed = tag.startswith("Int")
        return {"t": name, "v": int.from_bytes(bytes.fromhex(value), "big", signed=signed)}
    if tag in XML_HEX:
        return {"t": XML_HEX[tag], "v": value.lower()}
    if tag in ("Float32", "Float64"):
        code = ">f" if tag == "Float32" else ">d"
        return {"t": tag.lower(), "v": struct.unpack(code, bytes.fromhex(value))[0]}
    if tag == "Boolean":
        return {"t": "boolean", "v": value == "True"}
    if tag == "String":
        return {"t": "visible_string", "v": value}
    if tag == "BitString":
        return {"t": "bit_string", "v": value}
    if tag == "None":
        return {"t": "null_data", "v": None}
    raise TypeError(f"unmapped gurux XML element {tag}")


def data_decode(request):
    """gurux's translator view of Data: every element carries its A-XDR type."""
    text = translator().dataToXml(GXByteBuffer(bytes.fromhex(request["hex"])))
    return {"value": xml_to_typed(ElementTree.fromstring(text))}


def data_values(request):
    """gurux's decoded Python values (its client API; int widths are not all kept)."""
    info = _GXDataInfo()
    value = _GXCommon.getData(SETTINGS, GXByteBuffer(bytes.fromhex(request["hex"])), info)
    if not info.complete:
        raise ValueError("gurux: incomplete data")
    return {"value": to_typed(value)}


def data_encode(request):
    data_type, value = from_typed(request["value"])
    buffer = GXByteBuffer()
    _GXCommon.setData(SETTINGS, buffer, data_type, value)
    return {"hex": bytes(buffer.array()).hex()}


def translator():
    result = GXDLMSTranslator(TranslatorOutputType.SIMPLE_XML)
    result.comments = False
    return result


def pdu_to_xml(request):
    return {"xml": translator().pduToXml(GXByteBuffer(bytes.fromhex(request["hex"])))}


def new_client():
    client = GXDLMSClient(True, 16, 1, Authentication.NONE, None, InterfaceType.PDU)
    client.negotiatedConformance |= Conformance.MULTIPLE_REFERENCES
    return client


def target(request):
    return GXDLMSObject(ObjectType(request["class_id"]), request["obis"])


def one(pdus):
    while len(pdus) == 1 and isinstance(pdus[0], list):
        pdus = pdus[0]
    if len(pdus) != 1:
        raise ValueError(f"gurux made {len(pdus)} PDUs")
    return {"hex": bytes(pdus[0]).hex()}


def client_read(request):
    return one(new_client().read(target(request), request["attribute"]))


def profile(request):
    buffer = GXDLMSProfileGeneric(request["obis"])
    buffer.captureObjects.append((GXDLMSClock("0.0.1.0.0.255"), GXDLMSCaptureObject(2, 0)))
    return buffer


def client_read_range(request):
    start, stop = datetime.fromisoformat(request["from"]), datetime.fromisoformat(request["to"])
    return one(new_client().readRowsByRange(profile(request), start, stop))


def client_read_entry(request):
    return one(new_client().readRowsByEntry(profile(request), request["from"], request["to"]))


def client_read_list(request):
    items = [(target(item), item["attribute"]) for item in request["items"]]
    return one(new_client().readList(items))


def client_write(request):
    data_type, value = from_typed(request["value"])
    item = GXDLMSData(request["obis"])
    item.value = value
    item.setDataType(2, data_type)
    return one(new_client().write(item, 2))


def client_method(request):
    data_type, value = from_typed(request["value"])
    return one(new_client().method(target(request), request["method"], value, data_type))


def server_settings():
    settings = GXDLMSSettings(True, None)
    settings.interfaceType = InterfaceType.PDU
    settings.useLogicalNameReferencing = True
    return settings


def server_get_response(request):
    data = GXByteBuffer(bytes.fromhex(request["hex"])) if request.get("hex") else None
    status = ErrorCode(request.get("error", 0))
    parameters = GXDLMSLNParameters(
        server_settings(), request["iid"], Command.GET_RESPONSE, GetCommandType.NORMAL, None, data, status
    )
    return one(GXDLMS.getLnMessages(parameters))


def server_set_response(request):
    parameters = GXDLMSLNParameters(
        server_settings(), request["iid"], Command.SET_RESPONSE, SetResponseType.NORMAL, None, None, request["result"]
    )
    return one(GXDLMS.getLnMessages(parameters))


def notify(request):
    sender = GXDLMSNotify(True, 1, 1, InterfaceType.PDU)
    moment = datetime.fromisoformat(request["iso"]) if request.get("iso") else None
    return one(sender.generateDataNotificationMessages(moment, GXByteBuffer(bytes.fromhex(request["body"]))))


def read(request):
    """Act as a client: make the GET request, then take the server's responses, answering blocks."""
    client = new_client()
    first = client.read(target(request), request["attribute"])
    reply = GXReplyData()
    next_requests = []
    for response in request["responses"]:
        client.getData(GXByteBuffer(bytes.fromhex(response)), reply)
        if reply.isMoreData():
            next_requests.append(bytes(client.receiverReady(reply)).hex())
    if reply.isMoreData():
        raise ValueError("gurux: the responses ended in the middle of the transfer")
    return {
        "request": bytes(first[0]).hex(),
        "next_requests": next_requests,
        "value": to_typed(reply.value),
        "error": reply.error,
    }


def datetime_encode(request):
    moment = GXDateTime(datetime.fromisoformat(request["iso"]))
    buffer = GXByteBuffer()
    _GXCommon.setData(SETTINGS, buffer, DataType.DATETIME, moment)
    return {"hex": bytes(buffer.array())[1:].hex()}


OPS = {
    "data_decode": data_decode,
    "data_encode": data_encode,
    "data_values": data_values,
    "pdu_to_xml": pdu_to_xml,
    "client_read": client_read,
    "client_read_range": client_read_range,
    "client_read_entry": client_read_entry,
    "client_read_list": client_read_list,
    "client_write": client_write,
    "client_method": client_method,
    "server_get_response": server_get_response,
    "server_set_response": server_set_response,
    "notify": notify,
    "read": read,
    "datetime_encode": datetime_encode,
}


if __name__ == "__main__":
    serve(OPS)
