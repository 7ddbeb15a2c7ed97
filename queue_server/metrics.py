"""Prometheus metrics of one server process (its own registry, so tests can run several)."""

from __future__ import annotations

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)


class ServerMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.commands = Counter(
            "yc_commands_total",
            "Commands answered, by command and result code",
            ["command", "code"],
            registry=self.registry,
        )
        self.batch_size = Histogram(
            "yc_batch_commands",
            "Commands committed per transaction",
            buckets=(1, 2, 4, 8, 16, 32, 64, 128, 256),
            registry=self.registry,
        )
        self.batch_seconds = Histogram(
            "yc_batch_seconds",
            "Time to run and commit one batch",
            buckets=(0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 1.0),
            registry=self.registry,
        )
        self.waiting = Gauge(
            "yc_waiting_tickets", "Tickets waiting, by service", ["service"], registry=self.registry
        )
        self.broker_connected = Gauge(
            "yc_broker_connected", "1 while connected to the broker", registry=self.registry
        )

    def count(self, command: str, code: str) -> None:
        self.commands.labels(command, code).inc()

    def batch(self, size: int, seconds: float) -> None:
        self.batch_size.observe(size)
        self.batch_seconds.observe(seconds)

    def render(self) -> tuple[bytes, str]:
        return generate_latest(self.registry), CONTENT_TYPE_LATEST
