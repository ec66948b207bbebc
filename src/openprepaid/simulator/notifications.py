"""The unsolicited APDUs a virtual meter sends: alert pushes and its dial-in announcement.

Both are xDLMS DataNotification APDUs (IEC 62056-5-3 9.3.10: long-invoke-id-and-priority, date-time,
notification-body) carried in a TCP wrapper frame (IEC 62056-47) from the meter's management
logical device, wPort 1, to wPort 1 of the head-end (``PUSH_SOURCE_WPORT`` / ``PUSH_DESTINATION_WPORT``).
The date-time is the meter's clock when it sent the APDU.

Alert push (IS 15959 alert push setup 0.4.25.9.0.255, push object list of ``object_access``): the
body is ``structure { device id visible-string (0.0.96.1.2.255), push setup logical name
octet-string(6), clock octet-string(12) (0.0.1.0.0.255), event status word bit-string(128)
(0.0.94.91.18.255) }``. ESW bits (domain.md §4): 84 relay change, 85 last gasp, 86 first breath,
80 magnet, 81 neutral disturbance, 82 cover open.

Dial-in announcement, the first APDU on a connection the meter opened to the head-end: the body is
``structure { logical device name octet-string (0.0.42.0.0.255), serial number visible-string
(0.0.96.1.0.255), system title octet-string(8) }``; the meter then serves COSEM requests on the
same connection as if the head-end had dialled it. A meter dialling in over HDLC sends the same APDU
(``announcement_apdu``) in a UI frame instead (``transport.hdlc_dial_in.announcement_ui_frame``).

Either APDU may be protected with general-glo-ciphering (security suite 0, SC 0x30, the meter's
system title and invocation counter, the global unicast and authentication keys).
"""

from __future__ import annotations

from dataclasses import dataclass

from openprepaid.cosem.date_time import CosemDateTime
from openprepaid.cosem.security import AUTHENTICATED_ENCRYPTED, SecurityKeys
from openprepaid.cosem.security_apdu import Protection, protect
from openprepaid.cosem.security_counter import InvocationCounter
from openprepaid.cosem.wrapper import encode_wrapper
from openprepaid.cosem.xdlms_notification import DataNotification
from openprepaid.simulator.clock import to_datetime
from openprepaid.simulator.cosem_values import encode_value
from openprepaid.simulator.push import PushNotification
from openprepaid.simulator.virtual_meter import VirtualMeter

PUSH_SOURCE_WPORT = 1
PUSH_DESTINATION_WPORT = 1
LOGICAL_DEVICE_NAME_OBIS = "0.0.42.0.0.255"
INVOKE_ID_MASK = 0x00FF_FFFF


@dataclass(frozen=True, slots=True)
class Ciphering:
    """General-glo-ciphering of notifications with one meter's title, counter and keys."""

    system_title: bytes
    keys: SecurityKeys
    invocation_counter: InvocationCounter

    def apply(self, apdu: bytes) -> bytes:
        return protect(
            apdu,
            protection=Protection.GENERAL_GLOBAL,
            security_control=AUTHENTICATED_ENCRYPTED,
            system_title=self.system_title,
            invocation_counter=self.invocation_counter.take(),
            keys=self.keys,
        )


def _framed(apdu: bytes, ciphering: Ciphering | None) -> bytes:
    return encode_wrapper(PUSH_SOURCE_WPORT, PUSH_DESTINATION_WPORT, ciphering.apply(apdu) if ciphering else apdu)


def alert_push_frame(notification: PushNotification, invoke_id: int, ciphering: Ciphering | None = None) -> bytes:
    """The wrapper frame of one alert push (see the module docstring)."""
    apdu = DataNotification(
        long_invoke_id_and_priority=invoke_id & INVOKE_ID_MASK,
        date_time=CosemDateTime.from_datetime(notification.at),
        body=encode_value(notification.values),
    ).encode()
    return _framed(apdu, ciphering)


def announcement_apdu(
    meter: VirtualMeter, system_title: bytes, invoke_id: int, ciphering: Ciphering | None = None
) -> bytes:
    """The announcement APDU, ciphered if asked (see the module docstring), before any framing."""
    body = (meter.get(1, LOGICAL_DEVICE_NAME_OBIS, 2), meter.serial, system_title)
    stamp = to_datetime(meter.clock_now_lt() - meter.tz_s, meter.tz_s)
    apdu = DataNotification(
        long_invoke_id_and_priority=invoke_id & INVOKE_ID_MASK,
        date_time=CosemDateTime.from_datetime(stamp),
        body=encode_value(body),
    ).encode()
    return ciphering.apply(apdu) if ciphering else apdu


def announcement_frame(
    meter: VirtualMeter, system_title: bytes, invoke_id: int, ciphering: Ciphering | None = None
) -> bytes:
    """The wrapper frame a dialling meter sends first (see the module docstring)."""
    return encode_wrapper(
        PUSH_SOURCE_WPORT, PUSH_DESTINATION_WPORT, announcement_apdu(meter, system_title, invoke_id, ciphering)
    )
