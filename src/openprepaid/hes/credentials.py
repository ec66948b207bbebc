"""Association secrets for one session, opened from the key vault only in memory (keyvault.py).

The session layer asks for the secrets of the association it is about to open: the LLS password
for the meter reader (client 32), the global encryption and authentication keys for utility
settings (client 48, HLS-GMAC, security suite 0). Sealed values are bound to (meter, client, kind),
so a value copied to another meter's row does not open. Secrets never appear in reprs or logs.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy.orm import Session

from openprepaid.hes.database import Database
from openprepaid.hes.retry import AccessRefusedError
from openprepaid.hes.session import Association
from openprepaid.keyvault import KeyVault, KeyVaultError, credential_context
from openprepaid.store.model import CredentialKind
from openprepaid.store.repository import meter as meter_repo

NEEDED: dict[Association, tuple[CredentialKind, ...]] = {
    Association.PUBLIC: (),
    Association.METER_READER: (CredentialKind.LLS_PASSWORD,),
    Association.UTILITY_SETTINGS: (CredentialKind.GLOBAL_ENCRYPTION_KEY, CredentialKind.AUTHENTICATION_KEY),
}


class MissingCredentialError(AccessRefusedError):
    """The meter has no (or an unreadable) secret for that association: fix the registry, do not retry."""


@dataclass(frozen=True, slots=True)
class AssociationSecrets:
    meter_id: int
    association: Association
    lls_password: bytes | None = field(default=None, repr=False)
    encryption_key: bytes | None = field(default=None, repr=False)
    authentication_key: bytes | None = field(default=None, repr=False)


class CredentialStore:
    def __init__(self, db: Database, vault: KeyVault) -> None:
        self._db = db
        self._vault = vault

    async def secrets_for(self, meter_id: int, association: Association) -> AssociationSecrets:
        sealed = await self._db.run(lambda session: self._sealed(session, meter_id, association))
        opened: dict[CredentialKind, bytes] = {}
        for kind, value in sealed.items():
            try:
                opened[kind] = self._vault.open(value, credential_context(meter_id, int(association), kind.value))
            except KeyVaultError as exc:
                raise MissingCredentialError(f"meter {meter_id}: {kind.value} does not open: {exc}") from exc
        return AssociationSecrets(
            meter_id=meter_id,
            association=association,
            lls_password=opened.get(CredentialKind.LLS_PASSWORD),
            encryption_key=opened.get(CredentialKind.GLOBAL_ENCRYPTION_KEY),
            authentication_key=opened.get(CredentialKind.AUTHENTICATION_KEY),
        )

    @staticmethod
    def _sealed(session: Session, meter_id: int, association: Association) -> dict[CredentialKind, bytes]:
        try:
            return meter_repo.get_credentials(session, meter_id, int(association), NEEDED[association])
        except meter_repo.UnknownCredentialError as exc:
            raise MissingCredentialError(str(exc)) from exc
