"""Running the real queue server in tests: in-process, or as a `yichuang server` subprocess."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime
from pathlib import Path

from queue_server.app import Server
from yichuang.broker_process import free_port
from yichuang.config_model import BrokerConfig, Config, DatabaseConfig, HttpConfig
from yichuang.demo import local_hall_toml
from yichuang.mqtt_client import MqttClient
from yichuang.rpc import CommandClient

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "config" / "hall.example.toml"


def on_ports(config: Config, broker_url: str, db_url: str, http_port: int = 0) -> Config:
    return replace(
        config,
        broker=BrokerConfig(url=broker_url),
        database=DatabaseConfig(url=db_url),
        http=HttpConfig(host="127.0.0.1", port=http_port or free_port()),
    )


def start_server(config: Config, clock: Callable[[], datetime] | None = None, http: bool = False) -> Server:
    server = Server(config, clock=clock, http=http, client_id=f"test-server-{uuid.uuid4().hex[:8]}")
    server.start()
    return server


class Caller:
    """A test's MQTT client speaking the contract's request/reply."""

    def __init__(self, broker_port: int, hall: str, name: str | None = None) -> None:
        self.name = name or f"tester-{uuid.uuid4().hex[:8]}"
        self.client = MqttClient(
            host="127.0.0.1", port=broker_port, client_id=self.name, hall=hall, device=self.name
        )
        self.rpc = CommandClient(self.client, hall, self.name)
        self.client.start()

    def __call__(
        self, path: str, request_id: str | None = None, timeout: float = 5.0, **args: object
    ) -> dict:
        return self.rpc.request(path, dict(args), timeout=timeout, request_id=request_id)

    def close(self) -> None:
        self.client.stop()


def example_toml(tmp: Path, broker_url: str, db_url: str, http_port: int, hall_id: str | None = None) -> Path:
    """The example hall, always open, on the test's broker, database and port."""
    text = local_hall_toml(EXAMPLE.read_text(encoding="utf-8"), broker_url, db_url, http_port, hall_id)
    path = tmp / "hall.toml"
    path.write_text(text, encoding="utf-8")
    return path
