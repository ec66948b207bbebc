"""A virtual meter's associations and secrets: IS 15959 client SAPs 16 / 32 / 48 (domain.md §4).

* 16 public client: no authentication, no ciphering;
* 32 meter reader: low-level security (password);
* 48 utility settings: HLS-GMAC with security suite 0, APDUs authenticated and encrypted
  (IEC 62056-5-3 9.2.7.2.4, Green Book 9.2.3.3: AES-128-GCM with EK and AK).

``TEST_CREDENTIALS`` are the well-known values of the DLMS UA examples and of every test bench:
password ``12345678``, EK ``000102030405060708090A0B0C0D0E0F``, AK
``D0D1D2D3D4D5D6D7D8D9DADBDCDDDEDF``. They are for tests and demos only — anyone can read them —
and are overridable per meter (``MeterCredentials``). The meter's system title is the 3-letter
manufacturer code followed by 5 octets of serial number (Green Book 4.3.4, like a FLAG id).

``MeterSecurity`` is the state that must outlive one association: the meter's own invocation
counter and, per client SAP, the replay guard holding the last client counter it accepted (a meter
refuses a reused counter, so a head-end must persist its own). The meter's own counter starts at 1:
several clients keep "the last counter seen" initialised to 0 and refuse a first counter of 0.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache

from openprepaid.cosem.association_events import Authentication, ClientPolicy, ServerSettings
from openprepaid.cosem.security import AUTHENTICATED_ENCRYPTED, SecurityKeys
from openprepaid.cosem.security_counter import InvocationCounter, ReplayGuard
from openprepaid.meters.access import METER_READER, PUBLIC_CLIENT, UTILITY_SETTINGS
from openprepaid.simulator.errors import ConfigurationError

TEST_PASSWORD = b"12345678"
TEST_KEYS = SecurityKeys(
    global_unicast=bytes.fromhex("000102030405060708090A0B0C0D0E0F"),
    authentication=bytes.fromhex("D0D1D2D3D4D5D6D7D8D9DADBDCDDDEDF"),
)
MANUFACTURER_CODE = "OPS"
SERIAL_OCTETS = 5


def system_title_for(serial: str, manufacturer_code: str = MANUFACTURER_CODE) -> bytes:
    """Manufacturer code (3 letters) + the serial's number as 5 octets: 'OPS00000042' -> b'OPS' + 42."""
    digits = "".join(ch for ch in serial if ch.isdigit())
    code = manufacturer_code.encode("ascii", errors="replace")
    if len(code) != 3 or not digits or int(digits) >= 1 << (8 * SERIAL_OCTETS):
        raise ConfigurationError(f"no system title for manufacturer {manufacturer_code!r} and serial {serial!r}")
    return code + int(digits).to_bytes(SERIAL_OCTETS, "big")


@dataclass(frozen=True, slots=True)
class MeterCredentials:
    """The secrets of one meter (defaults: the published TEST values, never for a real deployment)."""

    password: bytes = field(default=TEST_PASSWORD, repr=False)
    keys: SecurityKeys = TEST_KEYS
    system_title: bytes | None = None  # None: derived from the serial number

    def __post_init__(self) -> None:
        if not self.password:
            raise ConfigurationError("the LLS password must not be empty")
        if self.system_title is not None and len(self.system_title) != 8:
            raise ConfigurationError("a system title has 8 octets")


TEST_CREDENTIALS = MeterCredentials()


@cache
def client_policies(credentials: MeterCredentials) -> dict[int, ClientPolicy]:
    """How the meter admits each client SAP (shared by every meter with the same credentials)."""
    return {
        PUBLIC_CLIENT: ClientPolicy(authentication=Authentication.NONE),
        METER_READER: ClientPolicy(authentication=Authentication.LOW, password=credentials.password),
        UTILITY_SETTINGS: ClientPolicy(
            authentication=Authentication.HLS_GMAC, keys=credentials.keys, protection=AUTHENTICATED_ENCRYPTED
        ),
    }


def server_settings(serial: str, credentials: MeterCredentials = TEST_CREDENTIALS) -> ServerSettings:
    title = credentials.system_title or system_title_for(serial)
    return ServerSettings(system_title=title, policies=client_policies(credentials))


class MeterSecurity:
    """What a meter keeps across associations: its invocation counter and the clients' replay guards."""

    __slots__ = ("invocation_counter", "replay_guards")

    def __init__(self, invocation_counter: int = 1) -> None:
        self.invocation_counter = InvocationCounter(invocation_counter)
        self.replay_guards: dict[int, ReplayGuard] = {}

    def next_client_counter(self, client_sap: int = UTILITY_SETTINGS) -> int:
        """The smallest invocation counter the meter accepts next from ``client_sap``."""
        guard = self.replay_guards.get(client_sap)
        last = guard.last_accepted if guard is not None else None
        return 0 if last is None else last + 1
