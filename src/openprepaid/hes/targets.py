"""The meter registry as the head-end sees it: ``MeterTarget`` per meter, cached (bounded) in memory."""

from __future__ import annotations

import sys
from collections import OrderedDict
from collections.abc import Sequence

from sqlalchemy.orm import Session

from openprepaid.hes.database import Database
from openprepaid.hes.retry import NonRetryableError
from openprepaid.hes.session import MeterTarget
from openprepaid.store.model import CommMode, Framing
from openprepaid.store.repository import hes as repo

DEFAULT_CACHE_SIZE = 100_000


class UnknownMeterError(NonRetryableError):
    """No meter with that id (or it was removed)."""


def target_of(row: repo.TargetRow) -> MeterTarget:
    # Values shared by many meters (address, codes) are interned: one copy for a whole fleet.
    return MeterTarget(
        meter_id=row.meter_id,
        utility_id=row.utility_id,
        serial=row.serial,
        manufacturer_code=sys.intern(row.manufacturer_code),
        system_title=bytes(row.system_title),
        comm_mode=CommMode(row.comm_mode),
        host=None if row.host is None else sys.intern(row.host),
        port=row.port,
        framing=Framing(row.framing),
        server_address=row.server_address,
        meter_type_id=row.meter_type_id,
        meter_type_code=sys.intern(row.meter_type_code),
        has_relay=row.has_relay,
        capture_period_s=row.capture_period_s,
        block_stamp="start" if (row.object_profile or {}).get("block_stamp") == "start" else "end",
    )


def load_targets(session: Session, meter_ids: Sequence[int]) -> dict[int, MeterTarget]:
    return {row.meter_id: target_of(row) for row in repo.target_rows(session, meter_ids)}


class TargetDirectory:
    def __init__(self, db: Database, *, max_cached: int = DEFAULT_CACHE_SIZE) -> None:
        self._db = db
        self._max_cached = max_cached
        self._cache: OrderedDict[int, MeterTarget] = OrderedDict()

    async def get(self, meter_id: int) -> MeterTarget:
        cached = self._cache.get(meter_id)
        if cached is not None:
            self._cache.move_to_end(meter_id)
            return cached
        found = await self._db.run(lambda session: load_targets(session, [meter_id]))
        if meter_id not in found:
            raise UnknownMeterError(f"no meter {meter_id}")
        self.remember(found[meter_id])
        return found[meter_id]

    async def get_many(self, meter_ids: Sequence[int]) -> dict[int, MeterTarget]:
        missing = [meter_id for meter_id in meter_ids if meter_id not in self._cache]
        if missing:
            for target in (await self._db.run(lambda session: load_targets(session, missing))).values():
                self.remember(target)
        return {meter_id: self._cache[meter_id] for meter_id in meter_ids if meter_id in self._cache}

    def remember(self, target: MeterTarget) -> None:
        self._cache[target.meter_id] = target
        self._cache.move_to_end(target.meter_id)
        while len(self._cache) > self._max_cached:
            self._cache.popitem(last=False)

    def invalidate(self, meter_id: int) -> None:
        self._cache.pop(meter_id, None)
