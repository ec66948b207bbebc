"""A complete running head-end: the core of ``head_end`` with its network edge and its metrics endpoint.

``HesService.start(...)`` takes what the composition root built (database sessions, bus, key vault,
the utility's zone) and builds: the session layer (``DlmsSessionFactory`` over the key vault's
credentials, with our client system title), the head-end core (``build_head_end``: command worker,
collection scheduler, push handler), the push listener (IS 15959 alert pushes), the dial-in
listener (meters that open the connection, C7) and ``GET /metrics``. ``run(stop)`` runs the
command worker and the collection loop until ``stop`` is set; cancelling it sets ``stop`` and gives
in-flight work ``shutdown_grace_s`` to finish. ``close()`` stops the listeners (always call it).
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

from prometheus_client import CollectorRegistry, Gauge
from sqlalchemy.orm import Session, sessionmaker

from openprepaid.bus.base import Bus
from openprepaid.hes.clock import Clock, SystemClock
from openprepaid.hes.credentials import CredentialStore
from openprepaid.hes.database import Database
from openprepaid.hes.dial_in import DialInListener
from openprepaid.hes.dlms_session import DlmsSessionFactory, VaultCredentials
from openprepaid.hes.head_end import HeadEnd, HeadEndConfig, SessionDependencies, build_head_end
from openprepaid.hes.metrics import NAMESPACE
from openprepaid.hes.metrics_endpoint import MetricsEndpoint
from openprepaid.hes.push_handler import DialIn, PushHandler
from openprepaid.hes.push_listener import NotificationOpener, PushListener, RegistryPushKeys
from openprepaid.hes.targets import TargetDirectory
from openprepaid.keyvault import KeyVault

log = logging.getLogger(__name__)

DEFAULT_SYSTEM_TITLE = b"OPRHES01"  # the head-end's own system title (client of HLS-GMAC), 8 octets
DEFAULT_DIAL_IN_PORT = 4060
DEFAULT_PUSH_PORT = 4061
DEFAULT_METRICS_PORT = 9464
SHUTDOWN_CANCELS = 5


@dataclass(frozen=True, slots=True)
class HesServiceConfig:
    """Ports: None disables that listener; 0 takes any free port (tests)."""

    system_title: bytes = DEFAULT_SYSTEM_TITLE
    host: str = "127.0.0.1"  # where the push and dial-in listeners accept meters
    push_port: int | None = DEFAULT_PUSH_PORT
    dial_in_port: int | None = DEFAULT_DIAL_IN_PORT
    metrics_host: str = "127.0.0.1"
    metrics_port: int | None = DEFAULT_METRICS_PORT
    head_end: HeadEndConfig = field(default_factory=HeadEndConfig)
    connect_timeout_s: float = 20.0
    response_timeout_s: float = 30.0
    require_push_ciphering: bool = False
    max_push_connections: int = 1_000
    max_dial_in_connections: int = 20_000
    dial_in_back_after_s: float = 900.0
    shutdown_grace_s: float = 10.0

    def __post_init__(self) -> None:
        if len(self.system_title) != 8:
            raise ValueError("the head-end's system title is 8 octets")
        for port in (self.push_port, self.dial_in_port, self.metrics_port):
            if port is not None and not 0 <= port < 65536:
                raise ValueError(f"port {port} is not a TCP port")


class _PushHandlerRef:
    """The push handler, known once the core is built (the dial-in listener is built before it)."""

    handler: PushHandler | None = None

    async def dial_in(self, announcement: DialIn) -> int | None:
        if self.handler is None:
            return None
        return await self.handler.handle_dial_in(announcement)


@dataclass
class HesService:
    config: HesServiceConfig
    head_end: HeadEnd
    registry: CollectorRegistry
    push_listener: PushListener | None = None
    dial_in: DialInListener | None = None
    metrics_endpoint: MetricsEndpoint | None = None

    @classmethod
    async def start(
        cls,
        *,
        sessions: sessionmaker[Session],
        bus: Bus,
        vault: KeyVault,
        zone: ZoneInfo,
        config: HesServiceConfig | None = None,
        clock: Clock | None = None,
        registry: CollectorRegistry | None = None,
        offload: bool = True,
    ) -> HesService:
        """Build everything and open the listeners (closing what was opened if one fails)."""
        config = config or HesServiceConfig()
        clock = clock or SystemClock()
        registry = registry or CollectorRegistry()
        db = Database(sessions, offload=offload)
        handler_ref = _PushHandlerRef()
        keys = RegistryPushKeys(db, CredentialStore(db, vault))
        dial_in = None
        if config.dial_in_port is not None:
            dial_in = DialInListener(
                db,
                TargetDirectory(db),
                clock,
                on_meter_back=handler_ref.dial_in,
                opener=NotificationOpener(keys),
                max_connections=config.max_dial_in_connections,
                back_after_s=config.dial_in_back_after_s,
            )

        def session_factory(deps: SessionDependencies) -> DlmsSessionFactory:
            return DlmsSessionFactory(
                VaultCredentials(deps.credentials, client_system_title=config.system_title),
                deps.counters,
                zone=zone,
                dial_in=dial_in,
                connect_timeout_s=config.connect_timeout_s,
                response_timeout_s=config.response_timeout_s,
                now=clock.now,
            )

        head_end = build_head_end(
            sessions=sessions,
            bus=bus,
            vault=vault,
            clock=clock,
            zone=zone,
            session_factory=session_factory,
            registry=registry,
            config=config.head_end,
            offload=offload,
        )
        handler_ref.handler = head_end.push_handler
        if dial_in is not None:
            dial_in.metrics = head_end.metrics
            Gauge(
                "dial_in_connections", "Dial-in meters connected now", namespace=NAMESPACE, registry=registry
            ).set_function(lambda: dial_in.connected)
        service = cls(config, head_end, registry, dial_in=dial_in)
        try:
            await service._open_listeners(clock, zone, keys)
        except BaseException:
            await service.close()
            raise
        return service

    async def _open_listeners(self, clock: Clock, zone: ZoneInfo, keys: RegistryPushKeys) -> None:
        config = self.config
        if config.push_port is not None:
            self.push_listener = PushListener(
                self.head_end.push_handler,
                clock,
                zone=zone,
                keys=keys,
                require_ciphering=config.require_push_ciphering,
                metrics=self.head_end.metrics,
                max_connections=config.max_push_connections,
            )
            await self.push_listener.start(config.host, config.push_port)
        if self.dial_in is not None and config.dial_in_port is not None:
            await self.dial_in.start(config.host, config.dial_in_port)
        if config.metrics_port is not None:
            self.metrics_endpoint = MetricsEndpoint(self.registry)
            await self.metrics_endpoint.start(config.metrics_host, config.metrics_port)

    def ports(self) -> dict[str, int]:
        """The ports actually listened on (after ``0`` = any free port)."""
        found = {}
        if self.push_listener is not None:
            found["push"] = self.push_listener.port
        if self.dial_in is not None:
            found["dial_in"] = self.dial_in.port
        if self.metrics_endpoint is not None:
            found["metrics"] = self.metrics_endpoint.port
        return found

    async def run(self, stop: asyncio.Event) -> None:
        """Command worker and collection loop until ``stop``; on cancellation, a graceful stop first.

        After ``stop`` the core gets ``shutdown_grace_s`` to finish in-flight work; then it is
        cancelled, again if need be (a task that swallowed one cancellation must not hang shutdown).
        """
        task = asyncio.create_task(self.head_end.run(stop), name="head-end")
        stopped = asyncio.create_task(stop.wait(), name="head-end-stop")
        try:
            await asyncio.wait({task, stopped}, return_when=asyncio.FIRST_COMPLETED)
        except asyncio.CancelledError:
            stop.set()
            await self._finish(task)
            raise
        finally:
            stopped.cancel()
        await self._finish(task)
        failure = None if task.cancelled() or not task.done() else task.exception()
        if failure is not None:
            raise failure

    async def _finish(self, task: asyncio.Task[None]) -> None:
        await asyncio.wait({task}, timeout=self.config.shutdown_grace_s)
        for _ in range(SHUTDOWN_CANCELS):
            if task.done():
                return
            log.warning("head-end still busy %.0f s after stop: cancelling it", self.config.shutdown_grace_s)
            task.cancel()
            await asyncio.wait({task}, timeout=1.0)
        if not task.done():
            log.error("head-end did not stop after %d cancellations; leaving it behind", SHUTDOWN_CANCELS)

    async def close(self) -> None:
        """Stop accepting pushes and dial-in meters, drop their connections, stop serving metrics."""
        for part in (self.push_listener, self.dial_in, self.metrics_endpoint):
            if part is not None:
                try:
                    await part.close()
                except Exception:  # shutdown boundary: close the rest regardless
                    log.exception("closing %s failed", type(part).__name__)
        await self.head_end.throttle.close()
