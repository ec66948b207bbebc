"""Runs queued commands against meters: claim, throttle, associate (client 48), execute, verify.

One task per command (a task boundary in the sense of style.md rule 9: an unexpected exception is
logged with meter, command, correlation id and the decision taken, and counts as a failed attempt).
Commands ``sent`` by a process that crashed are *in doubt*: ``recover`` (at start) and each round
(after ``stale_after``) read their object back instead of sending them again; only if the read-back
shows the command did not take effect does it go back to the queue to be sent again.

Whatever a command read from the meter is kept before its outcome is recorded (``ReadBackRecorder``):
the relay state of a relay command's read-back (confirmed or not: it is what the meter said), and a
``meter_read``'s values and relay state.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime, timedelta

from openprepaid.hes import command_executor
from openprepaid.hes.clock import Clock, sleep_until_set
from openprepaid.hes.command_queue import CommandQueue
from openprepaid.hes.command_records import CommandView
from openprepaid.hes.meter_read import ReadBackRecorder
from openprepaid.hes.metrics import HesMetrics
from openprepaid.hes.retry import describe, is_retryable
from openprepaid.hes.session import MeterSessionFactory
from openprepaid.hes.targets import TargetDirectory
from openprepaid.hes.throttle import Throttle

log = logging.getLogger(__name__)


class CommandWorker:
    def __init__(
        self,
        queue: CommandQueue,
        sessions: MeterSessionFactory,
        targets: TargetDirectory,
        throttle: Throttle,
        clock: Clock,
        *,
        recorder: ReadBackRecorder,
        max_in_flight: int = 32,
        stale_after: timedelta = timedelta(minutes=10),
        poll_s: float = 5.0,
        metrics: HesMetrics | None = None,
    ) -> None:
        if max_in_flight < 1:
            raise ValueError("max_in_flight must be at least 1")
        self._queue = queue
        self._sessions = sessions
        self._targets = targets
        self._throttle = throttle
        self._clock = clock
        self._recorder = recorder
        self._max_in_flight = max_in_flight
        self._stale_after = stale_after
        self._poll_s = poll_s
        self._metrics = metrics
        self._busy: set[int] = set()
        self._tasks: set[asyncio.Task[CommandView | None]] = set()
        self._wake = asyncio.Event()

    @property
    def busy_meters(self) -> frozenset[int]:
        return frozenset(self._busy)

    def wake(self) -> None:
        """Something was enqueued: look now instead of at the next poll."""
        self._wake.set()

    async def recover(self) -> list[CommandView]:
        """At start: every command still ``sent`` was left by a previous process; verify them all."""
        return await self._verify_in_doubt(timedelta(0))

    async def run_once(self) -> list[CommandView]:
        """One round: expire, verify stale in-flight commands, claim and run; waits for this round's tasks."""
        await self._queue.expire_due()
        results = await self._verify_in_doubt(self._stale_after)
        free = self._max_in_flight - len(self._tasks)
        claimed = await self._queue.claim(limit=free, busy_meter_ids=self._busy)
        tasks = [self._start(command, verify_only=False) for command in claimed]
        results.extend(view for view in await asyncio.gather(*tasks) if view is not None)
        await self._queue.depth()
        return results

    async def run(self, stop: asyncio.Event) -> None:
        """Keep claiming until ``stop`` is set; tasks run concurrently, bounded by ``max_in_flight``."""
        await self.recover()
        while not stop.is_set():
            await self._queue.expire_due()
            for command in await self._queue.in_doubt(stale_after=self._stale_after):
                if command.meter_id not in self._busy and len(self._tasks) < self._max_in_flight:
                    self._start(command, verify_only=True)
            free = self._max_in_flight - len(self._tasks)
            for command in await self._queue.claim(limit=free, busy_meter_ids=self._busy):
                self._start(command, verify_only=False)
            await self._queue.depth()
            self._wake.clear()
            await sleep_until_set(self._clock, self._poll_s, self._wake, stop)
        await self.drain()

    async def drain(self) -> None:
        if self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def _verify_in_doubt(self, stale_after: timedelta) -> list[CommandView]:
        in_doubt = await self._queue.in_doubt(stale_after=stale_after)
        tasks = [self._start(command, verify_only=True) for command in in_doubt if command.meter_id not in self._busy]
        return [view for view in await asyncio.gather(*tasks) if view is not None]

    def _start(self, command: CommandView, *, verify_only: bool) -> asyncio.Task[CommandView | None]:
        self._busy.add(command.meter_id)
        task = asyncio.get_running_loop().create_task(
            self._run_command(command, verify_only=verify_only), name=f"command-{command.id}"
        )
        self._tasks.add(task)

        def done(finished: asyncio.Task[CommandView | None]) -> None:
            self._tasks.discard(finished)
            self._busy.discard(command.meter_id)

        task.add_done_callback(done)
        return task

    async def _run_command(self, command: CommandView, *, verify_only: bool) -> CommandView | None:
        try:
            return await self._attempt(command, verify_only=verify_only)
        except asyncio.CancelledError:
            raise
        except Exception:  # task boundary: recording the outcome failed (database down); the command stays
            log.exception(
                "command %d: could not record the outcome: meter=%d correlation=%s decision=left-in-doubt",
                command.id,
                command.meter_id,
                command.correlation_id,
            )
            return None

    async def _attempt(self, command: CommandView, *, verify_only: bool) -> CommandView:
        started_at = self._clock.now()
        traffic = (0, 0)
        association = command_executor.association_for(command.kind)
        try:
            target = await self._targets.get(command.meter_id)
            async with (
                self._throttle.slot(command.meter_id, command.priority),
                self._sessions.open(target, association) as session,
            ):
                try:
                    if verify_only:
                        readback = await command_executor.read_back(session, command, self._clock, target)
                    else:
                        readback = await command_executor.execute(session, command, self._clock, target)
                finally:
                    traffic = (session.bytes_sent, session.bytes_received)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # task boundary: one command's failure must not stop the worker
            self._session_ended(association.name.lower(), started_at, traffic, ok=False)
            view = await self._queue.attempt_failed(command.id, exc)
            log.warning(
                "command %d %s failed: meter=%d correlation=%s error=%s retryable=%s decision=%s attempts=%d",
                command.id,
                command.kind.value,
                command.meter_id,
                command.correlation_id,
                describe(exc),
                is_retryable(exc),
                view.state.value,
                view.attempts,
            )
            return view
        self._session_ended(association.name.lower(), started_at, traffic, ok=True)
        # Kept first: if recording fails (database down) the command stays sent, in doubt, and is read again.
        await self._recorder.record(command.kind, command.meter_id, readback, source=f"command:{command.id}")
        view = await self._queue.complete(command.id, readback)
        log.info(
            "command %d %s %s: meter=%d correlation=%s readback=%s",
            command.id,
            command.kind.value,
            view.state.value,
            command.meter_id,
            command.correlation_id,
            readback.to_json()["values"],
        )
        return view

    def _session_ended(self, association: str, started_at: datetime, traffic: tuple[int, int], *, ok: bool) -> None:
        if self._metrics is not None:
            elapsed = (self._clock.now() - started_at).total_seconds()
            self._metrics.session_ended(association, ok=ok, seconds=elapsed, sent=traffic[0], received=traffic[1])
