"""Prometheus metrics of the head-end, registered on a registry the composition root passes in.

No metric is created at import time (style.md rule 8): two HES instances in one test process each
get their own ``CollectorRegistry``. Names (prefix ``openprepaid_hes_``) are listed in docs/hes.md.
"""

from __future__ import annotations

from collections.abc import Sequence

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

NAMESPACE = "openprepaid_hes"
LATENCY_BUCKETS_S = (0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0)
COMMAND_BUCKETS_S = (5.0, 15.0, 30.0, 60.0, 120.0, 300.0, 900.0, 1800.0, 3600.0, 7200.0)


class HesMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.registry = registry

        def counter(name: str, doc: str, labels: Sequence[str] = ()) -> Counter:
            return Counter(name, doc, labels, namespace=NAMESPACE, registry=registry)

        def gauge(name: str, doc: str, labels: Sequence[str] = ()) -> Gauge:
            return Gauge(name, doc, labels, namespace=NAMESPACE, registry=registry)

        def histogram(name: str, doc: str, labels: Sequence[str], buckets: Sequence[float]) -> Histogram:
            return Histogram(name, doc, labels, namespace=NAMESPACE, registry=registry, buckets=buckets)

        self.sessions = counter("sessions", "Meter sessions by association and outcome", ["association", "outcome"])
        self.session_seconds = histogram(
            "session_seconds", "Duration of a meter session (connect to release)", ["association"], LATENCY_BUCKETS_S
        )
        self.bytes = counter("bytes", "Bytes exchanged with meters", ["direction"])
        self.command_outcomes = counter(
            "command_outcomes", "Command state changes by kind and new state", ["kind", "state"]
        )
        self.command_seconds = histogram(
            "command_seconds", "From enqueue to a terminal state", ["kind", "state"], COMMAND_BUCKETS_S
        )
        self.command_queue_depth = gauge("command_queue_depth", "Commands by state", ["state"])
        self.collections = counter("collection_jobs", "Collection jobs by job kind and outcome", ["job", "outcome"])
        self.readings_stored = counter(
            "readings_stored", "New rows stored by profile (duplicates not counted)", ["profile"]
        )
        self.pushes = counter("pushes", "Pushes and dial-in announcements by kind and outcome", ["kind", "outcome"])
        self.throttle_waiting = gauge("throttle_waiting", "Tasks waiting for a session slot")
        self.throttle_active = gauge("throttle_active_sessions", "Sessions holding a slot")
        self.scheduler_backlog = gauge("scheduler_backlog", "Collection jobs waiting for a worker")

    def session_ended(
        self, association: str, *, ok: bool, seconds: float | None = None, sent: int = 0, received: int = 0
    ) -> None:
        self.sessions.labels(association=association, outcome="ok" if ok else "failed").inc()
        if seconds is not None:
            self.session_seconds.labels(association=association).observe(seconds)
        if sent:
            self.bytes.labels(direction="sent").inc(sent)
        if received:
            self.bytes.labels(direction="received").inc(received)
