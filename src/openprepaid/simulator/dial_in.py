"""Dial-in: each virtual meter opens the TCP connection to the head-end, as GPRS/RF-mesh modems do.

A meter that is supplied and not offline connects to the head-end's listener ``host:port``, sends
its announcement (``notifications.announcement_frame``: a DataNotification with logical device
name, serial number and system title) and then serves COSEM requests on that connection exactly as
a listening meter would (the head-end is the client: AARQ from wPort 16/32/48 to wPort 1). When the
connection drops or cannot be opened the meter dials again after a back-off that doubles from
``backoff_min_s`` to ``backoff_max_s`` (with ±25 % jitter so a fleet does not dial in lock-step);
a session that lasted ``stable_s`` resets the back-off. First dials are spread at ``dials_per_s``.
Dial-in speaks the fleet's framing: the TCP wrapper (IEC 62056-47, the announcement a wrapper frame
wPort 1 -> 1), or HDLC (IEC 62056-46, ``transport.hdlc_dial_in``: the announcement a UI frame from
the meter's server address; then the meter is the HDLC secondary, and every link the head-end
connects on the connection, SNRM to DISC, carries one fresh association). With ``cipher`` the
announcement is general-glo-ciphered like the pushes.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import random
import time
from dataclasses import dataclass

from openprepaid.simulator.errors import ConfigurationError, DataAccessError
from openprepaid.simulator.network import SERVER_ADDRESS, FleetServer
from openprepaid.simulator.notifications import Ciphering, announcement_apdu, announcement_frame
from openprepaid.transport.errors import TransportError
from openprepaid.transport.hdlc_channel import server_link
from openprepaid.transport.hdlc_dial_in import announcement_ui_frame
from openprepaid.transport.tcp import dial

log = logging.getLogger(__name__)


@dataclass(slots=True)
class DialInStats:
    dials: int = 0
    failed: int = 0
    sessions: int = 0


class DialIn:
    """Runs every meter's dialler; ``run()`` until cancelled."""

    def __init__(
        self,
        server: FleetServer,
        host: str,
        port: int,
        *,
        dials_per_s: float = 500.0,
        backoff_min_s: float = 1.0,
        backoff_max_s: float = 60.0,
        stable_s: float = 30.0,
        connect_timeout_s: float = 10.0,
        seed: int = 0,
        cipher: bool = False,
    ) -> None:
        if dials_per_s <= 0 or not 0 < backoff_min_s <= backoff_max_s:
            raise ConfigurationError("dial rate and back-off must be positive, min <= max")
        self.server = server
        self.host = host
        self.port = port
        self.dials_per_s = dials_per_s
        self.backoff_min_s = backoff_min_s
        self.backoff_max_s = backoff_max_s
        self.stable_s = stable_s
        self.connect_timeout_s = connect_timeout_s
        self.cipher = cipher
        self.stats = DialInStats()
        self._rng = random.Random(seed)
        self._invoke_ids = itertools.count(1)

    async def run(self) -> None:
        tasks = [
            asyncio.create_task(self.keep_dialling(index, first_after_s=index / self.dials_per_s))
            for index in range(len(self.server.fleet))
        ]
        try:
            await asyncio.gather(*tasks)
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    def _jitter(self, delay_s: float) -> float:
        return delay_s * self._rng.uniform(0.75, 1.25)

    async def keep_dialling(self, index: int, *, first_after_s: float = 0.0) -> None:
        """One meter's life on the network: dial, announce, serve, back off, again."""
        await asyncio.sleep(first_after_s)
        backoff = self.backoff_min_s
        task = asyncio.current_task()
        while task is None or not task.cancelling():  # closing a channel may swallow our cancellation
            if not self.server.reachable(index):
                await asyncio.sleep(self._jitter(self.backoff_min_s))
                continue
            started = time.monotonic()
            served = await self.session(index)
            if task is not None and task.cancelling():
                return
            if served:
                self.stats.sessions += 1
                if time.monotonic() - started >= self.stable_s:
                    backoff = self.backoff_min_s
            await asyncio.sleep(self._jitter(backoff))
            backoff = min(backoff * 2, self.backoff_max_s)

    async def session(self, index: int) -> bool:
        """Dial once, announce and serve until the connection ends; False if it could not be opened."""
        self.stats.dials += 1
        try:
            reader, writer = await dial(self.host, self.port, timeout_s=self.connect_timeout_s)
        except TransportError as exc:
            self.stats.failed += 1
            log.debug("meter %d could not dial in: %s", index, exc)
            return False
        meter = self.server.fleet.meter(index)
        try:
            meter.advance(self.server.now_s())
            title = self.server.system_title(index)
            ciphering = None
            if self.cipher:
                keys = self.server.credentials.for_serial(meter.serial).keys
                ciphering = Ciphering(title, keys, self.server.security_of(index).invocation_counter)
            invoke_id = next(self._invoke_ids)
            if self.server.framing == "hdlc":
                address = server_link(SERVER_ADDRESS).server_address
                writer.write(announcement_ui_frame(address, announcement_apdu(meter, title, invoke_id, ciphering)))
            else:
                writer.write(announcement_frame(meter, title, invoke_id, ciphering))
            await writer.drain()
        except (ConnectionError, OSError, DataAccessError):
            writer.close()
            with contextlib.suppress(ConnectionError, OSError):
                await writer.wait_closed()
            return False
        await self.server.serve(index, reader, writer, dialled_out=True)
        return True
