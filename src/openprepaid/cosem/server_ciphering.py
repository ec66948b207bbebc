"""The security envelope of one server-side association: which ciphered forms a meter accepts, and
answering each request in the form it came in (IEC 62056-5-3 9.2.7.2.4, Green Book "Protection of
xDLMS APDUs").

A ciphered association (its ``ClientPolicy.protection`` set) accepts:

- glo- service-specific ciphering with the global unicast key: always (what IS 15959 meters and
  our head-end use);
- ded- service-specific ciphering: when the client sent a dedicated key in the ciphered
  InitiateRequest of its AARQ (the key lives as long as the association);
- general-glo-ciphering: when the meter offers the general-protection conformance bit to this
  client (``ClientPolicy.conformance``, the default); general-ded as well, when there is a dedicated
  key. Like many meters, it does not insist that the client proposed the bit in its AARQ (our own
  client does, when it uses a general form).

Any other form is ``UnsupportedEnvelopeError`` (the association answers an exception-response,
service-not-supported); a form it accepts that does not decipher, authenticate or passes the
replay guard is a ``SecurityError`` (exception-response, deciphering-error). Every reply is ciphered
in the form of the request it answers, under the same security policy, with the meter's system title
and next invocation counter.
"""

from __future__ import annotations

from dataclasses import replace

from openprepaid.cosem.acse_initiate import Conformance
from openprepaid.cosem.association_events import ClientPolicy
from openprepaid.cosem.errors import SecurityError
from openprepaid.cosem.security import SecurityKeys
from openprepaid.cosem.security_apdu import (
    Protection,
    envelope_overhead,
    is_protected,
    protect,
    protection_of,
    unprotect,
)
from openprepaid.cosem.security_counter import InvocationCounter, ReplayGuard


class UnsupportedEnvelopeError(SecurityError):
    """A ciphered form this association does not accept (general-protection not offered, no dedicated key,
    or no ciphering at all)."""


class ServerCiphering:
    """Opens the client's ciphered APDUs and seals the replies of one association (see the module docstring).

    ``policy`` None or without protection: nothing is ciphered, and a ciphered APDU is refused.
    """

    __slots__ = (
        "_keys",
        "client_system_title",
        "dedicated_key",
        "general_protection",
        "invocation_counter",
        "policy",
        "replay_guard",
        "reply_form",
        "system_title",
    )

    def __init__(
        self,
        policy: ClientPolicy | None,
        *,
        system_title: bytes,
        client_system_title: bytes | None,
        invocation_counter: InvocationCounter,
        replay_guard: ReplayGuard | None,
    ) -> None:
        self.policy = policy
        self.system_title = system_title
        self.client_system_title = client_system_title
        self.invocation_counter = invocation_counter
        self.replay_guard = replay_guard
        self.dedicated_key: bytes | None = None
        self.general_protection = self.ciphered and bool(
            policy is not None and policy.conformance & Conformance.GENERAL_PROTECTION
        )
        self.reply_form = Protection.GLOBAL
        self._keys = policy.keys if policy is not None else None

    @property
    def ciphered(self) -> bool:
        return self.policy is not None and self.policy.protection is not None

    def use_dedicated_key(self, dedicated_key: bytes | None) -> None:
        """The dedicated key of the AARQ's InitiateRequest (None: none), for the rest of the association."""
        self.dedicated_key = dedicated_key
        if self._keys is not None and dedicated_key is not None:
            self._keys = replace(self._keys, dedicated=dedicated_key)

    def accepts(self, form: Protection) -> bool:
        if form.dedicated and self.dedicated_key is None:
            return False
        if form in (Protection.GENERAL_GLOBAL, Protection.GENERAL_DEDICATED):
            return self.general_protection
        return True

    def open(self, apdu: bytes) -> bytes:
        """The plain APDU of a request from the client; its form becomes the form of the reply."""
        if not self.ciphered:
            if is_protected(apdu):
                raise UnsupportedEnvelopeError("ciphered APDU on an association without ciphering")
            return apdu
        if not is_protected(apdu):
            raise SecurityError("unciphered APDU on a ciphered association")
        form = protection_of(apdu)
        if not self.accepts(form):
            why = "no dedicated key was agreed" if form.dedicated else "general-protection is not offered"
            raise UnsupportedEnvelopeError(f"{form.value}-ciphering refused: {why}")
        policy = self.policy
        assert policy is not None and policy.protection is not None
        opened = unprotect(
            apdu,
            keys=self.keys(),
            peer_system_title=self.client_system_title,
            replay_guard=self.replay_guard,
            require_authentication=policy.protection.authenticated,
            require_encryption=policy.protection.encrypted,
        )
        self.reply_form = opened.protection
        return opened.apdu

    def seal(self, apdu: bytes) -> bytes:
        """A reply to the client, in the form of the request it answers."""
        policy = self.policy
        if policy is None or policy.protection is None:
            return apdu
        return protect(
            apdu,
            protection=self.reply_form,
            security_control=policy.protection,
            system_title=self.system_title,
            invocation_counter=self.invocation_counter.take(),
            keys=self.keys(),
        )

    def overhead(self) -> int:
        """The most octets a sealed reply adds, whichever accepted form the client uses next."""
        policy = self.policy
        if policy is None or policy.protection is None:
            return 0
        widest = Protection.GENERAL_GLOBAL if self.general_protection else Protection.GLOBAL
        return envelope_overhead(widest, policy.protection)

    def keys(self) -> SecurityKeys:
        if self._keys is None:
            raise SecurityError("no keys configured for this client")
        return self._keys
