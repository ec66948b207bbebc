"""TCP: dial a meter (HES -> modem), and listen for meters or clients (server side / dial-in)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

from openprepaid.transport.errors import TransportNetworkError, TransportTimeout

log = logging.getLogger(__name__)

StreamHandler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


async def dial(host: str, port: int, *, timeout_s: float) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """Open TCP to ``host:port`` within ``timeout_s``; errors become TransportTimeout/NetworkError."""
    try:
        async with asyncio.timeout(timeout_s):
            return await asyncio.open_connection(host, port, limit=2**17)
    except TimeoutError as exc:
        raise TransportTimeout(f"connect to {host}:{port} timed out after {timeout_s:g} s") from exc
    except OSError as exc:
        raise TransportNetworkError(f"connect to {host}:{port} failed: {exc}") from exc


class Listener:
    """A TCP server whose connections each run ``handler`` as a task; ``close()`` ends them all.

    ``max_connections`` bounds how many run at once: further connections are closed at once.
    """

    def __init__(self, handler: StreamHandler, *, max_connections: int = 10_000) -> None:
        self._handler = handler
        self._max_connections = max_connections
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self.rejected = 0

    @property
    def port(self) -> int:
        if self._server is None or not self._server.sockets:
            raise RuntimeError("listener is not started")
        return int(self._server.sockets[0].getsockname()[1])

    @property
    def active_connections(self) -> int:
        return len(self._tasks)

    async def start(self, host: str, port: int, *, backlog: int = 128) -> None:
        self._server = await asyncio.start_server(self._accept, host, port, backlog=backlog, limit=2**17)

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if len(self._tasks) >= self._max_connections:
            self.rejected += 1
            writer.close()
            return
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        try:
            await self._handler(reader, writer)
        except asyncio.CancelledError:
            raise
        except Exception:  # task boundary: one connection's failure must not stop the listener
            log.exception("connection handler failed for %s", writer.get_extra_info("peername"))
        finally:
            self._tasks.discard(task)
            writer.close()
            with contextlib.suppress(ConnectionError, OSError, asyncio.CancelledError):
                await writer.wait_closed()

    async def close(self) -> None:
        """Stop accepting, cancel running connections, wait for them to finish."""
        if self._server is not None:
            self._server.close()
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._server is not None:
            server, self._server = self._server, None
            await server.wait_closed()
