"""Prometheus metrics of the head-end, registered on a registry the composition root passes in.

No metric is created at import time (style.md rule 8): two HES instances in one test process each
get their own ``CollectorRegistry``. Names (prefix ``openprepaid_hes_``) are listed in docs/hes.md.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

NAMESPACE = "openprepaid_hes"
LATENCY_BUCKETS_S = (0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0)
COMMAND_BUCKETS_S = (5.0, 15.0, 30.0, 60.0, 120.0, 300.0, 900.0, 1800.0, 3600.0, 7200.0)


class HesMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.registry = registry
        self.sessions = Counter(
            "sessions",
            "Meter sessions by association and outcome",
            ["association", "outcome"],
            namespace=NAMESPACE,
            registry=registry,
        )
        self.session_seconds = Histogram(
            "session_seconds",
            "Duration of a meter session (connect to release)",
            ["association"],
            namespace=NAMESPACE,
            registry=registry,
            buckets=LATENCY_BUCKETS_S,
        )
        self.bytes = Counter(
            "bytes", "Bytes exchanged with meters", ["direction"], namespace=NAMESPACE, registry=registry
        )
        self.command_outcomes = Counter(
            "command_outcomes",
            "Command state changes by kind and new state",
            ["kind", "state"],
            namespace=NAMESPACE,
            registry=registry,
        )
        self.command_seconds = Histogram(
            "command_seconds",
            "From enqueue to a terminal state",
            ["kind", "state"],
            namespace=NAMESPACE,
            registry=registry,
            buckets=COMMAND_BUCKETS_S,
        )
        self.command_queue_depth = Gauge(
            "command_queue_depth", "Commands by state", ["state"], namespace=NAMESPACE, registry=registry
        )
        self.collections = Counter(
            "collection_jobs",
            "Collection jobs by job kind and outcome",
            ["job", "outcome"],
            namespace=NAMESPACE,
            registry=registry,
        )
        self.readings_stored = Counter(
            "readings_stored",
            "New rows stored by profile (duplicates not counted)",
            ["profile"],
            namespace=NAMESPACE,
            registry=registry,
        )
        self.pushes = Counter(
            "pushes",
            "Pushes and dial-in announcements by kind and outcome",
            ["kind", "outcome"],
            namespace=NAMESPACE,
            registry=registry,
        )
        self.throttle_waiting = Gauge(
            "throttle_waiting", "Tasks waiting for a session slot", namespace=NAMESPACE, registry=registry
        )
        self.throttle_active = Gauge(
            "throttle_active_sessions", "Sessions holding a slot", namespace=NAMESPACE, registry=registry
        )
        self.scheduler_backlog = Gauge(
            "scheduler_backlog", "Collection jobs waiting for a worker", namespace=NAMESPACE, registry=registry
        )
