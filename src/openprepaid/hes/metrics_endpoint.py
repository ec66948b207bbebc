"""The head-end's metrics over HTTP: ``GET /metrics`` in the Prometheus text format (one registry).

A minimal asyncio HTTP/1.0 responder instead of ``prometheus_client.start_http_server`` so that it
runs on the event loop with everything else and stops with it (no thread left behind). Bounded: a
request head of at most 8 KiB read within 5 s, one response per connection, at most 32 connections.
"""

from __future__ import annotations

import asyncio
import logging

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

from openprepaid.transport.tcp import Listener

log = logging.getLogger(__name__)

MAX_REQUEST_HEAD = 8_192
REQUEST_TIMEOUT_S = 5.0


def _response(status: str, content_type: str, body: bytes) -> bytes:
    head = (
        f"HTTP/1.0 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {len(body)}\r\nConnection: close\r\n\r\n"
    )
    return head.encode("ascii") + body


class MetricsEndpoint:
    def __init__(self, registry: CollectorRegistry, *, max_connections: int = 32) -> None:
        self._registry = registry
        self._listener = Listener(self._serve, max_connections=max_connections)

    @property
    def port(self) -> int:
        return self._listener.port

    async def start(self, host: str, port: int) -> None:
        await self._listener.start(host, port)

    async def close(self) -> None:
        await self._listener.close()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            async with asyncio.timeout(REQUEST_TIMEOUT_S):
                head = await reader.readuntil(b"\r\n\r\n")
        except (TimeoutError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError, OSError):
            return
        if len(head) > MAX_REQUEST_HEAD:
            writer.write(_response("431 Request Header Fields Too Large", "text/plain", b""))
            return
        method, _, rest = head.decode("latin-1").partition(" ")
        path = rest.partition(" ")[0].partition("?")[0]
        if method not in {"GET", "HEAD"}:
            reply = _response("405 Method Not Allowed", "text/plain; charset=utf-8", b"GET /metrics\n")
        elif path != "/metrics":
            reply = _response("404 Not Found", "text/plain; charset=utf-8", b"GET /metrics\n")
        else:
            body = generate_latest(self._registry)
            reply = _response("200 OK", CONTENT_TYPE_LATEST, body if method == "GET" else b"")
        writer.write(reply)
        try:
            await writer.drain()
        except (ConnectionError, OSError):
            log.debug("metrics client went away")
