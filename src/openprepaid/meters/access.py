"""Who may read, write and invoke what: the IS 15959 associations and their access rights.

IS 15959-1 §9 (associations): client SAP 16 is the public client (no security, a few objects,
read only); 32 is the meter reader (low-level security, reads everything, writes nothing); 48 is
utility settings (HLS-GMAC, reads everything, writes and invokes what the object allows). The
modes are IEC 62056-6-2's attribute_access_mode values (class 15 object_list).
"""

from __future__ import annotations

from enum import IntEnum

from openprepaid.meters.catalogue import CATALOGUE, CLOCK_OBIS, PROFILE_GENERIC

PUBLIC_CLIENT = 16
METER_READER = 32
UTILITY_SETTINGS = 48
CLIENT_SAPS = (PUBLIC_CLIENT, METER_READER, UTILITY_SETTINGS)

#: What the public client may read (besides attribute 1, the logical name, of anything).
PUBLIC_OBJECTS = frozenset({CLOCK_OBIS, "0.0.42.0.0.255", "0.0.96.1.0.255", "0.0.96.1.1.255"})


class AttributeAccess(IntEnum):
    NO_ACCESS = 0
    READ_ONLY = 1
    WRITE_ONLY = 2
    READ_AND_WRITE = 3


def _writable(class_id: int, obis: str, attribute: int) -> bool:
    obj = CATALOGUE.get(obis)
    return obj is not None and obj.class_id == class_id and attribute in obj.writable


def attribute_access(client_sap: int, class_id: int, obis: str, attribute: int) -> AttributeAccess:
    """The access mode of ``client_sap`` to one attribute (profiles are read-only for everyone)."""
    if client_sap == PUBLIC_CLIENT:
        readable = attribute == 1 or obis in PUBLIC_OBJECTS
        return AttributeAccess.READ_ONLY if readable else AttributeAccess.NO_ACCESS
    if client_sap == METER_READER:
        return AttributeAccess.READ_ONLY
    if client_sap == UTILITY_SETTINGS:
        if class_id != PROFILE_GENERIC and _writable(class_id, obis, attribute):
            return AttributeAccess.READ_AND_WRITE
        return AttributeAccess.READ_ONLY
    return AttributeAccess.NO_ACCESS


def method_access(client_sap: int, class_id: int, obis: str, method: int) -> bool:
    """Whether ``client_sap`` may invoke ``method`` (only utility settings invokes anything)."""
    if client_sap != UTILITY_SETTINGS:
        return False
    obj = CATALOGUE.get(obis)
    return obj is not None and obj.class_id == class_id and method in obj.methods
