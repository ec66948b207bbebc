"""A simulated meter's association for one connection.

The sans-IO ``ServerAssociation`` answers each ciphered request in the envelope it came in (glo-,
ded-, general-glo, general-ded; ``cosem.server_ciphering``), as IEC 62056-5-3 asks of a meter, so the
simulator needs nothing of its own beyond the meter's settings, counter and replay guards.
"""

from __future__ import annotations

from openprepaid.cosem.server_association import ServerAssociation
from openprepaid.simulator.meter_security import MeterCredentials, MeterSecurity, server_settings


def new_association(serial: str, credentials: MeterCredentials, security: MeterSecurity) -> ServerAssociation:
    """A fresh association for one connection, sharing the meter's counter and replay guards."""
    return ServerAssociation(
        server_settings(serial, credentials),
        invocation_counter=security.invocation_counter,
        replay_guards=security.replay_guards,
    )
