"""The profiles a collection session reads first, read together: one request instead of one per profile.

A daily collection reads the block load from its last stored interval, the daily profile from its last
snapshot and the seven event logs from their last entries: nine reads, each a round trip that costs
both ends about as much CPU as storing what it brings. ``SessionReads`` plans them from the resume
points (``store.repository.hes.CollectionMarks``) and, when the first job asks for one, reads all of
them with ``MeterSession.read_profiles`` (a GET-with-list where the meter takes it). Each job then
takes its own capture, or its own error: a profile the meter refuses fails only that job, a fault of
the session fails whichever job asks first (and so ends the session, as a failed read always did).
Only the first span of a long block-load backfill is planned; the job reads the others itself.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from openprepaid.hes.retry import HesError
from openprepaid.hes.session import MeterSession, ProfileCapture, ProfileRead


class SessionReads:
    def __init__(self, session: MeterSession, planned: Mapping[str, ProfileRead], now: datetime) -> None:
        self._session = session
        self._planned = dict(planned) if len(planned) > 1 else {}  # alone, a read gains nothing here
        self._results: dict[str, ProfileCapture | HesError] | None = None
        self._failure: HesError | None = None
        self.now = now  # the planned ranges end here

    def planned(self, key: str) -> ProfileRead | None:
        return self._planned.get(key)

    async def take(self, key: str) -> ProfileCapture | None:
        """The capture planned for ``key`` (its error raised), or None if it was not planned or is taken."""
        if key not in self._planned:
            return None
        if self._results is None and self._failure is None:
            keys = list(self._planned)
            try:
                captures = await self._session.read_profiles([self._planned[k] for k in keys])
            except HesError as exc:
                self._failure = exc
            else:
                self._results = dict(zip(keys, captures, strict=True))
        del self._planned[key]
        if self._failure is not None:
            raise self._failure
        assert self._results is not None
        result = self._results.pop(key)
        if isinstance(result, HesError):
            raise result
        return result
