# Licence note: this script imports dlms-cosem 25.1.0 (Business Source License 1.1), an independent
# DLMS/COSEM implementation used only as a test peer. It runs in its own process in .venv-peers (see
# tests/interop/LICENSE-NOTE.md); nothing of openprepaid imports it and none of its code is copied.
"""dlms-cosem test peer: encodes and decodes A-XDR Data, date-times and xDLMS APDUs (JSON lines).

Typed values travel as {"t": <A-XDR type name>, "v": <value>} (octet strings as hex). APDUs travel as
{"type": <class name>, ...fields}; invoke-id-and-priority as its octet ("iid"), Data as hex.
Ops: data_decode, data_encode, apdu_encode, apdu_decode, datetime_encode, datetime_decode.
"""

from __future__ import annotations

from datetime import datetime

from dlms_cosem import cosem, dlms_data, enumerations
from dlms_cosem import time as dlms_time
from dlms_cosem.connection import XDlmsApduFactory
from dlms_cosem.cosem.capture_object import CaptureObject
from dlms_cosem.cosem.selective_access import EntryDescriptor, RangeDescriptor
from dlms_cosem.protocol import xdlms
from dlms_cosem.protocol.xdlms.data_notification import LongInvokeIdAndPriority
from dlms_cosem.protocol.xdlms.invoke_id_and_priority import InvokeIdAndPriority
from peer_loop import serve

CLASSES = {
    "null_data": dlms_data.NullData,
    "array": dlms_data.DataArray,
    "structure": dlms_data.DataStructure,
    "double_long": dlms_data.DoubleLongData,
    "double_long_unsigned": dlms_data.DoubleLongUnsignedData,
    "octet_string": dlms_data.OctetStringData,
    "visible_string": dlms_data.VisibleStringData,
    "integer": dlms_data.IntegerData,
    "long": dlms_data.LongData,
    "unsigned": dlms_data.UnsignedIntegerData,
    "long_unsigned": dlms_data.UnsignedLongData,
    "long64": dlms_data.Long64Data,
    "long64_unsigned": dlms_data.UnsignedLong64Data,
    "enum": dlms_data.EnumData,
}
NAMES = {kind: name for name, kind in CLASSES.items()}


def to_typed(item):
    name = NAMES[type(item)]
    if name in ("array", "structure"):
        return {"t": name, "v": [to_typed(element) for element in item.value]}
    if name == "octet_string":
        return {"t": name, "v": bytes(item.value).hex()}
    return {"t": name, "v": item.value}


def from_typed(node):
    kind = CLASSES[node["t"]]
    value = node["v"]
    if node["t"] in ("array", "structure"):
        return kind([from_typed(item) for item in value])
    if node["t"] == "octet_string":
        return kind(bytes.fromhex(value))
    return kind(value)


def data_decode(request):
    items = dlms_data.DlmsDataParser().parse(bytes.fromhex(request["hex"]))
    if len(items) != 1:
        raise ValueError(f"dlms-cosem found {len(items)} values")
    return {"value": to_typed(items[0])}


def data_encode(request):
    return {"hex": from_typed(request["value"]).to_bytes().hex()}


def iid(octet):
    return InvokeIdAndPriority(octet & 0x0F, bool(octet & 0x40), bool(octet & 0x80))


def octet(value):
    return value.to_bytes()[0]


def obis(text):
    return cosem.Obis(*(int(group) for group in text.split(".")))


def attribute(spec):
    return cosem.CosemAttribute(enumerations.CosemInterface(spec["class_id"]), obis(spec["obis"]), spec["attribute"])


def method(spec):
    return cosem.CosemMethod(enumerations.CosemInterface(spec["class_id"]), obis(spec["obis"]), spec["method"])


def access(spec):
    if spec is None:
        return None
    if spec["selector"] == 2:
        return EntryDescriptor(spec["from"], spec["to"], spec.get("from_value", 1), spec.get("to_value", 0))
    clock = cosem.CosemAttribute(enumerations.CosemInterface.CLOCK, cosem.Obis(0, 0, 1, 0, 0, 255), 2)
    return RangeDescriptor(
        CaptureObject(clock, 0), datetime.fromisoformat(spec["from"]), datetime.fromisoformat(spec["to"])
    )


def build(spec):
    kind = spec["type"]
    if kind == "GetRequestNormal":
        return xdlms.GetRequestNormal(attribute(spec), iid(spec["iid"]), access(spec.get("access")))
    if kind == "GetRequestNext":
        return xdlms.GetRequestNext(spec["block_number"], iid(spec["iid"]))
    if kind == "GetResponseNormal":
        if "error" in spec:
            return xdlms.GetResponseNormalWithError(enumerations.DataAccessResult(spec["error"]), iid(spec["iid"]))
        return xdlms.GetResponseNormal(bytes.fromhex(spec["data"]), iid(spec["iid"]))
    if kind == "GetResponseWithDatablock":
        block = xdlms.GetResponseLastBlock if spec["last_block"] else xdlms.GetResponseWithBlock
        return block(bytes.fromhex(spec["raw_data"]), spec["block_number"], iid(spec["iid"]))
    if kind == "SetRequestNormal":
        return xdlms.SetRequestNormal(attribute(spec), bytes.fromhex(spec["data"]), None, iid(spec["iid"]))
    if kind == "SetResponseNormal":
        return xdlms.SetResponseNormal(enumerations.DataAccessResult(spec["result"]), iid(spec["iid"]))
    if kind == "ActionRequestNormal":
        data = bytes.fromhex(spec["data"]) if spec.get("data") is not None else None
        return xdlms.ActionRequestNormal(method(spec), data, iid(spec["iid"]))
    if kind == "ActionResponseNormal":
        status = enumerations.ActionResultStatus(spec["result"])
        if spec.get("data") is not None:
            return xdlms.ActionResponseNormalWithData(status, bytes.fromhex(spec["data"]), iid(spec["iid"]))
        if spec.get("error") is not None:
            return xdlms.ActionResponseNormalWithError(
                status, enumerations.DataAccessResult(spec["error"]), iid(spec["iid"])
            )
        return xdlms.ActionResponseNormal(status, iid(spec["iid"]))
    if kind == "DataNotification":
        moment = datetime.fromisoformat(spec["iso"]) if spec.get("iso") else None
        long_iid = LongInvokeIdAndPriority(
            spec["long_invoke_id"], spec.get("prioritized", False), spec.get("confirmed", False)
        )
        return xdlms.DataNotification(long_iid, moment, bytes.fromhex(spec["body"]))
    raise ValueError(f"no builder for {kind}")


def describe(apdu):
    name = type(apdu).__name__
    out = {"type": name}
    if hasattr(apdu, "invoke_id_and_priority") and isinstance(apdu.invoke_id_and_priority, InvokeIdAndPriority):
        out["iid"] = octet(apdu.invoke_id_and_priority)
    for field in ("cosem_attribute", "cosem_method"):
        target = getattr(apdu, field, None)
        if target is not None:
            out["class_id"] = int(target.interface)
            out["obis"] = target.instance.to_string(".")
            out["attribute" if field == "cosem_attribute" else "method"] = (
                target.attribute if field == "cosem_attribute" else target.method
            )
    if isinstance(apdu, xdlms.GetRequestNormal) and apdu.access_selection is not None:
        selection = apdu.access_selection
        if isinstance(selection, EntryDescriptor):
            out["access"] = {"selector": 2, "from": selection.from_entry, "to": selection.to_entry}
        else:
            out["access"] = {
                "selector": 1,
                "from": selection.from_value.isoformat(),
                "to": selection.to_value.isoformat(),
            }
    for field in ("data", "body", "block_number"):
        value = getattr(apdu, field, None)
        if isinstance(value, bytes | bytearray):
            out[field] = bytes(value).hex()
        elif value is not None:
            out[field] = value
    for field in ("error", "result", "status"):
        value = getattr(apdu, field, None)
        if value is not None:
            out[field] = int(value)
    if isinstance(apdu, xdlms.DataNotification):
        out["long_invoke_id"] = apdu.long_invoke_id_and_priority.long_invoke_id
        out["iso"] = apdu.date_time.isoformat() if apdu.date_time else None
    if name in ("GetResponseWithBlock", "GetResponseLastBlock"):
        out["last_block"] = name == "GetResponseLastBlock"
    return out


def apdu_encode(request):
    return {"hex": build(request["apdu"]).to_bytes().hex()}


def apdu_decode(request):
    return {"apdu": describe(XDlmsApduFactory.apdu_from_bytes(bytes.fromhex(request["hex"])))}


def datetime_encode(request):
    return {"hex": dlms_time.datetime_to_bytes(datetime.fromisoformat(request["iso"])).hex()}


def datetime_decode(request):
    moment, _status = dlms_time.datetime_from_bytes(bytes.fromhex(request["hex"]))
    return {"iso": moment.isoformat()}


OPS = {
    "data_decode": data_decode,
    "data_encode": data_encode,
    "apdu_encode": apdu_encode,
    "apdu_decode": apdu_decode,
    "datetime_encode": datetime_encode,
    "datetime_decode": datetime_decode,
}


if __name__ == "__main__":
    serve(OPS)
