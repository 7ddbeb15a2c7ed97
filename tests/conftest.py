"""Shared fixtures: a real private Mosquitto, an MQTT probe client, and PostgreSQL when reachable."""

from __future__ import annotations

from collections.abc import Iterator

import psycopg
import pytest
from helpers.mqtt_probe import MqttProbe

from yichuang.broker_process import BrokerProcess, find_mosquitto, start_mosquitto

PG_URL = "postgresql+psycopg://127.0.0.1:5432/test"
_PG_CONNINFO = "host=127.0.0.1 port=5432 dbname=test"


@pytest.fixture(scope="session")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BrokerProcess]:
    """A private mosquitto on a free loopback port for the whole session (`.host`, `.port`,
    `.url`, `.restart()`). It keeps nothing across a restart, like a broker after a crash."""
    try:
        find_mosquitto()
    except FileNotFoundError as exc:
        pytest.fail(f"{exc} (`make deps` installs it)")
    proc = start_mosquitto(tmp_path_factory.mktemp("mosquitto"))
    try:
        yield proc
    finally:
        proc.stop()


@pytest.fixture
def mqtt_probe(broker: BrokerProcess) -> Iterator[MqttProbe]:
    """A connected test client that records every message on what it subscribes to."""
    if not broker.running:  # a test that stopped the broker must not break the next one
        broker.start()
    probe = MqttProbe(broker.host, broker.port).connect()
    try:
        yield probe
    finally:
        probe.close()


@pytest.fixture(scope="session")
def pg_url() -> str:
    """The SQLAlchemy URL of the `test` database, or skip when PostgreSQL is not reachable."""
    try:
        with psycopg.connect(_PG_CONNINFO, connect_timeout=2) as conn:
            conn.execute("SELECT 1")
    except psycopg.Error as exc:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        pytest.skip(f"PostgreSQL not reachable at 127.0.0.1:5432: {reason}")
    return PG_URL
