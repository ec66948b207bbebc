"""The meter side of an association, answering in the ciphering envelope the client chose.

IEC 62056-5-3 9.2.7.2.4 lets a client protect its xDLMS requests with service-specific global
ciphering (glo-get-request ...) or with general-glo-ciphering; a meter answers in kind. The sans-IO
``ServerAssociation`` always answers glo-; clients that only understand general-glo-ciphering
(dlms-cosem, many head-ends) then cannot read the reply. ``MeterAssociation`` remembers which
envelope the last ciphered request came in and answers in the same one. (Candidate for the cosem
core itself; kept here until it moves.)
"""

from __future__ import annotations

from openprepaid.cosem.security_apdu import GENERAL_GLO_CIPHERING_TAG, Protection, protect
from openprepaid.cosem.server_association import ServerAssociation
from openprepaid.simulator.meter_security import MeterCredentials, MeterSecurity, server_settings


class MeterAssociation(ServerAssociation):
    """A ``ServerAssociation`` whose ciphered answers mirror the request's envelope (glo- or general-glo)."""

    _general_ciphering = False

    def _unprotect(self, apdu: bytes) -> bytes:
        self._general_ciphering = bool(apdu) and apdu[0] == GENERAL_GLO_CIPHERING_TAG
        return super()._unprotect(apdu)

    def _protect(self, apdu: bytes) -> bytes:
        policy = self._policy
        if not self._general_ciphering or policy is None or policy.protection is None or policy.keys is None:
            return super()._protect(apdu)
        return protect(
            apdu,
            protection=Protection.GENERAL_GLOBAL,
            security_control=policy.protection,
            system_title=self.settings.system_title,
            invocation_counter=self.invocation_counter.take(),
            keys=policy.keys,
        )


def new_association(serial: str, credentials: MeterCredentials, security: MeterSecurity) -> MeterAssociation:
    """A fresh association for one connection, sharing the meter's counter and replay guards."""
    return MeterAssociation(
        server_settings(serial, credentials),
        invocation_counter=security.invocation_counter,
        replay_guards=security.replay_guards,
    )
