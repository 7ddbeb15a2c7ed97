"""The queue server process: store, worker, MQTT and HTTP wired together."""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from queue_server.device_watch import DeviceWatch
from queue_server.metrics import ServerMetrics
from queue_server.mqtt_api import DEVICE, MqttApi
from queue_server.store.repository import Store
from queue_server.worker import Worker, prune_horizon
from yichuang.config_model import Config
from yichuang.mqtt_client import MqttClient
from yichuang.sdnotify import Notifier

log = logging.getLogger(__name__)


class _WaitingGauge:
    """Keeps the `yc_waiting_tickets` gauge in step with the queue states."""

    def __init__(self, metrics: ServerMetrics) -> None:
        self.metrics = metrics

    def publish_changes(
        self, events: list[tuple[str, dict[str, object]]], states: dict[str, dict[str, object]]
    ) -> None:
        for topic, payload in states.items():
            if topic.startswith("state/queue/"):
                self.metrics.waiting.labels(str(payload["service"])).set(float(str(payload["waiting"])))


class Server:
    """One hall's queue server. `start()` brings it up; `stop()` finishes in-flight work first."""

    def __init__(
        self,
        config: Config,
        *,
        clock: Callable[[], datetime] | None = None,
        http: bool = True,
        client_id: str | None = None,
        gateway: bool = True,
    ) -> None:
        self.config = config
        tz = ZoneInfo(config.hall.timezone)
        self.clock = clock or (lambda: datetime.now(tz))
        self.metrics = ServerMetrics()
        self.store = Store(config.database.url, config.hall.id)
        self.http_enabled = http
        self.gateway_enabled = gateway
        self.api: MqttApi | None = None
        self.devices: DeviceWatch | None = None
        self.client_id = client_id or f"yc-{config.hall.id}-server-{socket.gethostname()}-{os.getpid()}"
        self.worker: Worker | None = None
        self.client: MqttClient | None = None
        self._http: object | None = None
        self._app: Any = None
        self._http_thread: threading.Thread | None = None
        self.public_url = (
            config.http.public_url or f"http://{_visible_host(config.http.host)}:{config.http.port}"
        )

    def start(self) -> None:
        self.store.open()
        self.store.prune_requests(prune_horizon(self.clock()))
        self.worker = Worker(
            self.config, self.store, self.clock, on_batch=self.metrics.batch, public_url=self.public_url
        )
        broker = self.config.broker
        self.client = MqttClient(
            host=broker.host,
            port=broker.port,
            client_id=self.client_id,
            hall=self.config.hall.id,
            device=DEVICE,
            username=broker.username,
            password=broker.password,
        )
        # subscribed before the client starts, so the retained status and info of every device
        # arrive with the first connect
        self.devices = DeviceWatch(self.client, self.config.hall.id, self.clock)
        self.api = MqttApi(
            self.config, self.worker, self.client, count=self.metrics.count, gateway=self.gateway_enabled
        )
        # commands flow only once the gateway has subscribed; the worker queues them until it starts
        self.api.start()
        self.worker.publishers.append(_WaitingGauge(self.metrics))
        self.worker.start()
        if self.http_enabled:
            self._start_http()
        # `online` goes out on connect, so connect last: online means every door is open
        self.client.start()
        log.info("event=server_started hall=%s http=%s", self.config.hall.id, self.public_url)

    def _start_http(self) -> None:
        import uvicorn

        from queue_server.http_api import create_app
        from queue_server.store.attachments import AttachmentStore

        assert self.worker is not None
        attachments = AttachmentStore(self.store.engine, self.config.hall.id)
        attachments.prune(self.clock())
        app = create_app(
            self.config,
            self.worker,
            health=self.health,
            metrics=self.render_metrics,
            public_url=self.public_url,
            attachments=attachments,
            devices=self.devices,
        )
        server = uvicorn.Server(
            uvicorn.Config(
                app,
                host=self.config.http.host,
                port=self.config.http.port,
                log_level="warning",
                access_log=False,
                lifespan="off",
            )
        )
        # uvicorn installs signal handlers only in the main thread; we own those
        thread = threading.Thread(target=server.run, name="http", daemon=True)
        thread.start()
        deadline = time.monotonic() + 10
        while not server.started and thread.is_alive() and time.monotonic() < deadline:
            time.sleep(0.02)
        if not server.started:
            raise RuntimeError(
                f"HTTP server did not start on {self.config.http.host}:{self.config.http.port}"
            )
        self._http, self._http_thread, self._app = server, thread, app

    def health(self) -> dict[str, bool]:
        database = self.store.ping() and (self.worker is not None and self.worker.healthy)
        broker = self.client is not None and self.client.connected
        self.metrics.broker_connected.set(1 if broker else 0)
        return {"database": database, "broker": broker}

    def render_metrics(self) -> tuple[bytes, str]:
        self.health()
        return self.metrics.render()

    def stop(self) -> None:
        """Stop taking HTTP requests, answer what is queued, publish `offline`, close the store."""
        if self._http is not None:
            # uvicorn waits for open event streams before it exits: end them first
            self._app.state.live.close()
            self._http.should_exit = True  # type: ignore[attr-defined]
            if self._http_thread is not None:
                self._http_thread.join(5)
        if self.worker is not None:
            self.worker.stop()
        if self.api is not None:
            self.api.stop()
        if self.client is not None:
            self.client.stop()
        self.store.close()
        log.info("event=server_stopped hall=%s", self.config.hall.id)

    def run(
        self,
        stop: threading.Event,
        notifier: Notifier | None = None,
        on_started: Callable[[], None] | None = None,
        every_few_seconds: Callable[[], None] | None = None,
    ) -> None:
        """Serve until `stop` is set, pinging the systemd watchdog."""
        self.start()
        if on_started is not None:
            on_started()
        if notifier is not None:
            notifier.ready()
        try:
            while not stop.wait(5.0):
                if every_few_seconds is not None:
                    every_few_seconds()
                if notifier is not None and self.health()["database"]:
                    notifier.watchdog()
        finally:
            if notifier is not None:
                notifier.stopping()
            self.stop()


def _visible_host(host: str) -> str:
    return socket.gethostname() if host in ("0.0.0.0", "::") else host
