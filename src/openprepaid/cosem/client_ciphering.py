"""The security envelope of the client (head-end) side of one association (IEC 62056-5-3 9.2.7.2.4).

``ClientCiphering`` checks ``ClientSettings`` once (keys and system title where ciphering or HLS
needs them, a dedicated key where a ded- form needs one and only on a ciphered association), seals
requests in the envelope the settings name and opens the meter's replies, whatever envelope they
come in, under the association's security policy and the meter's replay guard.

The general envelopes need the general-protection conformance bit: ``proposed_conformance`` adds it
to the proposal and ``check_negotiated`` refuses an AARE that did not grant it (the meter would
refuse every request).
"""

from __future__ import annotations

from dataclasses import replace

from openprepaid.cosem.acse_initiate import Conformance
from openprepaid.cosem.association_events import Authentication, ClientSettings
from openprepaid.cosem.errors import ProtocolError, SecurityError
from openprepaid.cosem.security import SecurityKeys
from openprepaid.cosem.security_apdu import Protection, Unprotected, envelope_overhead, protect, unprotect
from openprepaid.cosem.security_counter import InvocationCounter, ReplayGuard

_GENERAL_FORMS = (Protection.GENERAL_GLOBAL, Protection.GENERAL_DEDICATED)


class ClientCiphering:
    """Seals the client's requests and opens the meter's replies (see the module docstring)."""

    __slots__ = ("_keys", "settings")

    def __init__(self, settings: ClientSettings) -> None:
        ciphered = settings.protection is not None or settings.authentication is Authentication.HLS_GMAC
        if ciphered and (settings.keys is None or settings.system_title is None):
            raise SecurityError("HLS-GMAC and ciphering need the keys and the client system title")
        if settings.dedicated_key is not None and settings.protection is None:
            raise SecurityError("a dedicated key travels only in a ciphered InitiateRequest: set protection")
        if settings.ciphering.dedicated and settings.protection is not None and settings.dedicated_key is None:
            raise SecurityError(f"{settings.ciphering.value}-ciphering needs a dedicated key")
        self.settings = settings
        keys = settings.keys
        if keys is not None and settings.dedicated_key is not None:
            keys = replace(keys, dedicated=settings.dedicated_key)
        self._keys = keys

    @property
    def ciphered(self) -> bool:
        return self.settings.protection is not None

    @property
    def general(self) -> bool:
        """Whether requests go in a general envelope (general-glo / general-ded)."""
        return self.ciphered and self.settings.ciphering in _GENERAL_FORMS

    def proposed_conformance(self) -> Conformance:
        """The settings' conformance, with general-protection when the requests go in a general envelope."""
        if self.general:
            return self.settings.conformance | Conformance.GENERAL_PROTECTION
        return self.settings.conformance

    def check_negotiated(self, negotiated: Conformance) -> None:
        if self.general and not negotiated & Conformance.GENERAL_PROTECTION:
            raise ProtocolError(
                f"the meter did not accept general-protection, which {self.settings.ciphering.value}-ciphering needs"
            )

    def keys(self) -> SecurityKeys:
        if self._keys is None:
            raise SecurityError("no keys configured")
        return self._keys

    def system_title(self) -> bytes:
        if self.settings.system_title is None:
            raise SecurityError("no client system title configured")
        return self.settings.system_title

    def seal(self, apdu: bytes, counter: InvocationCounter, form: Protection | None = None) -> bytes:
        """``apdu`` in the settings' envelope (or ``form``) with the next counter; as it is without ciphering."""
        control = self.settings.protection
        if control is None:
            return apdu
        return protect(
            apdu,
            protection=form or self.settings.ciphering,
            security_control=control,
            system_title=self.system_title(),
            invocation_counter=counter.take(),
            keys=self.keys(),
        )

    def open(self, apdu: bytes, *, server_system_title: bytes | None, replay_guard: ReplayGuard) -> Unprotected:
        """A ciphered APDU from the meter, checked against the association's policy and replay guard."""
        control = self.settings.protection
        return unprotect(
            apdu,
            keys=self.keys(),
            peer_system_title=server_system_title,
            replay_guard=replay_guard,
            require_authentication=bool(control and control.authenticated),
            require_encryption=bool(control and control.encrypted),
        )

    def overhead(self) -> int:
        """The most octets the envelope adds to a request."""
        control = self.settings.protection
        return 0 if control is None else envelope_overhead(self.settings.ciphering, control)
