"""Versioned tariff storage and "the tariff in force at T" (domain.md C2, real-time tariff update).

Invariants:
- A version is immutable; a correction is a new version. Versions of a tariff have distinct
  numbers and distinct effective times (unique constraints).
- The version in force at instant ``t`` is the one with the latest ``effective_from_at <= t``.
  Consumption is rated by the version in force when it was *consumed* (an interval by its start),
  whenever it is charged: a new version effective at T changes the price of every account on the
  tariff for consumption after T, with no meter involved, and catch-up data is never re-priced.
- A new version may not take effect in the past (it would re-price consumption already charged);
  rating corrections for past periods go through settlement adjustments instead. Only a tariff's
  first version may start in the past (nothing was rated on the tariff before it).

Parsing is injected (``TariffCatalog(parse)``): the document format belongs to
``openprepaid.wallet.tariff_document``; parsed specs are cached by version id (rows never change).
"""

from __future__ import annotations

import hashlib
from bisect import bisect_right
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from openprepaid.store.repository import tariff as tariff_repo
from openprepaid.store.repository.tariff import TariffVersionRow
from openprepaid.wallet.errors import WalletError
from openprepaid.wallet.tariff import TariffError, TariffSpec


class TariffStoreError(WalletError):
    code = "tariff_version_refused"


class UnknownTariffError(TariffStoreError):
    code = "unknown_tariff"
    http_status = 404


class NoTariffInForceError(TariffStoreError):
    code = "no_tariff_in_force"


TariffParser = Callable[[str], TariffSpec]


class TariffCatalog:
    """Parsed specs by version id. Built once at the composition root and passed down."""

    def __init__(self, parse: TariffParser) -> None:
        self._parse = parse
        self._specs: dict[int, TariffSpec] = {}

    def parse(self, document: str) -> TariffSpec:
        try:
            return self._parse(document)
        except TariffError as exc:
            raise TariffStoreError(f"tariff document refused: {exc}") from exc

    def spec(self, version: TariffVersionRow) -> TariffSpec:
        spec = self._specs.get(version.id)
        if spec is None:
            spec = self._specs[version.id] = self.parse(version.document)
        return spec


@dataclass(frozen=True, slots=True)
class TariffTimeline:
    """The versions of one tariff in effective order; ``in_force_at`` is a binary search."""

    tariff_id: int
    versions: tuple[TariffVersionRow, ...]

    def in_force_at(self, at: datetime) -> TariffVersionRow | None:
        index = bisect_right([v.effective_from_at for v in self.versions], at)
        return self.versions[index - 1] if index else None

    def next_change_after(self, at: datetime) -> datetime | None:
        """When the price next changes after ``at`` (a batch spanning it must be split there)."""
        for version in self.versions:
            if version.effective_from_at > at:
                return version.effective_from_at
        return None


def timelines(session: Session, tariff_ids: Sequence[int]) -> dict[int, TariffTimeline]:
    return {
        tariff_id: TariffTimeline(tariff_id, tuple(rows))
        for tariff_id, rows in tariff_repo.versions_of(session, tariff_ids).items()
    }


def version_in_force(session: Session, tariff_id: int, at: datetime) -> TariffVersionRow:
    version = timelines(session, [tariff_id])[tariff_id].in_force_at(at)
    if version is None:
        raise NoTariffInForceError(f"tariff {tariff_id} has no version in force at {at.isoformat()}")
    return version


def add_version(
    session: Session, catalog: TariffCatalog, *, tariff_id: int, document: str, created_by: str, now: datetime
) -> TariffVersionRow:
    """Store a new version; its number and effective time come from the document itself."""
    tariff = tariff_repo.tariff(session, tariff_id)
    if tariff is None:
        raise UnknownTariffError(f"no tariff {tariff_id}")
    spec = catalog.parse(document)
    if spec.code != tariff.code:
        raise TariffStoreError(f"document is for tariff {spec.code!r}, not {tariff.code!r}")
    latest = tariff_repo.latest_version_number(session, tariff_id)
    if spec.effective_from < now and latest:
        raise TariffStoreError(
            f"version {spec.version} would take effect in the past ({spec.effective_from.isoformat()}); "
            "past periods are corrected by settlement adjustments"
        )
    if spec.version != latest + 1:
        raise TariffStoreError(f"next version of {tariff.code!r} is {latest + 1}, the document says {spec.version}")
    try:
        version_id = tariff_repo.insert_version(
            session,
            tariff_id=tariff_id,
            version=spec.version,
            effective_from_at=spec.effective_from,
            document=document,
            document_sha256=hashlib.sha256(document.encode()).hexdigest(),
            created_at=now,
            created_by=created_by,
        )
    except tariff_repo.DuplicateTariffVersionError as exc:
        raise TariffStoreError(f"tariff {tariff.code!r} already has a version at that number or time") from exc
    rows = tariff_repo.versions_of(session, [tariff_id])[tariff_id]
    return next(row for row in rows if row.id == version_id)
