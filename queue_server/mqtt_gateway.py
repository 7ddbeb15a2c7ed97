"""The server's command traffic over MQTT, handled by a child process of its own.

Every command arrives as a QoS 1 message and is answered with a reply, events and state,
each a QoS 1 message whose acknowledgement must be read back; in one Python process that
traffic costs more CPU than the hall's rules and the database together, and it competes
with them for one interpreter lock. So a child process owns a second connection: it passes
each command to the server over one pipe, and publishes what the server hands back over
another (one write per batch), in order. Everything a client sees goes through this one
connection, so nothing can overtake anything else; the child keeps the retained state it
has published and says it all again after reconnecting. The server's own connection keeps
only its availability (status, last will), info and discovery.
"""

from __future__ import annotations

import contextlib
import logging
import marshal
import multiprocessing
import os
import threading
import time
from collections.abc import Callable
from multiprocessing.connection import Connection
from typing import Any

from yichuang import gc_policy
from yichuang.mqtt_client import Message, MqttClient

log = logging.getLogger(__name__)

# (topic, payload, retain, correlation data)
Item = tuple[str, bytes, bool, bytes | None]
_STOP = b"stop"


class GatewayLost(ConnectionError):
    """The gateway process is gone."""


class Gateway:
    """The parent's handle: commands come in through `on_command`; `put` and `flush` send."""

    def __init__(
        self,
        *,
        host: str,
        port: int,
        hall: str,
        client_id: str,
        username: str | None,
        password: str | None,
        subscribe: str,
        on_command: Callable[[Message], None],
        on_lost: Callable[[], None],
    ) -> None:
        self._args = (host, port, hall, client_id, username, password, subscribe)
        self._on_command = on_command
        self._on_lost = on_lost
        self._context = multiprocessing.get_context("spawn")
        self._items: list[Item] = []
        self._lock = threading.Lock()  # replies to malformed commands come from the reader thread
        self._conn: Connection | None = None
        self._process: Any = None
        self._reader: threading.Thread | None = None
        self._stopping = False

    def start(self, wait_s: float = 15.0) -> None:
        """Start the child and wait until it is connected and subscribed; raise ConnectionError if not."""
        self._stopping = False
        parent, child = self._context.Pipe()
        inbound, child_out = self._context.Pipe(duplex=False)
        self._process = self._context.Process(
            target=_child_main,
            args=(child, child_out, *self._args),
            name="yichuang-mqtt-gateway",
            daemon=True,
        )
        self._process.start()
        child.close()
        child_out.close()
        if not parent.poll(wait_s):
            self._process.terminate()
            raise ConnectionError("the MQTT gateway process did not connect to the broker")
        answer = parent.recv_bytes()
        if answer != b"ready":
            self._process.join(5)
            raise ConnectionError(answer.decode(errors="replace"))
        self._conn = parent
        self._reader = threading.Thread(
            target=self._read_commands, args=(inbound,), name="mqtt-gateway-in", daemon=True
        )
        self._reader.start()

    def _read_commands(self, inbound: Connection) -> None:
        while True:
            try:
                data = inbound.recv_bytes()
            except (EOFError, OSError):
                break
            topic, payload, retain, response_topic, correlation = marshal.loads(data)
            try:
                self._on_command(Message(topic, payload, retain, response_topic, correlation))
            except Exception:
                log.exception("event=command_handler_failed topic=%s", topic)
        inbound.close()
        if not self._stopping:
            log.error("event=mqtt_gateway_lost")
            self._on_lost()

    def put(self, topic: str, payload: bytes, retain: bool = False, correlation: bytes | None = None) -> None:
        with self._lock:
            self._items.append((topic, payload, retain, correlation))

    def flush(self) -> None:
        """Hand everything put so far to the child, in one write."""
        with self._lock:
            items, self._items = self._items, []
            if items:
                self._send(marshal.dumps(items))

    def _send(self, data: bytes) -> None:
        try:
            if self._conn is None:
                raise OSError("the gateway is not running")
            self._conn.send_bytes(data)
        except OSError as exc:
            # the child died: what it had not published is lost; clients retry by request id,
            # and the restarted child is given the state again from the worker's cache
            raise GatewayLost(str(exc)) from exc

    @property
    def alive(self) -> bool:
        return self._process is not None and self._process.is_alive()

    def stop(self, timeout: float = 10.0) -> None:
        """Send what is queued, wait until the broker has it all, then end the child."""
        self._stopping = True
        if self._conn is None:
            return
        try:
            self.flush()
            self._conn.send_bytes(_STOP)
            self._conn.poll(timeout)
        except (OSError, GatewayLost):
            pass
        self._process.join(timeout)
        if self._process.is_alive():
            self._process.terminate()
        self._conn.close()
        self._conn = None
        if self._reader is not None:
            self._reader.join(timeout)


def _child_main(
    conn: Connection,
    commands: Connection,
    host: str,
    port: int,
    hall: str,
    client_id: str,
    username: str | None,
    password: str | None,
    subscribe: str,
) -> None:
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    client = MqttClient(
        host=host,
        port=port,
        client_id=client_id,
        hall=hall,
        device=None,
        username=username,
        password=password,
    )
    retained: dict[str, bytes] = {}

    def republish() -> None:
        for topic, payload in list(retained.items()):
            client.publish(topic, payload, retain=True)

    def forward(message: Message) -> None:
        frame = (
            message.topic,
            message.payload,
            message.retain,
            message.response_topic,
            message.correlation_data,
        )
        try:
            commands.send_bytes(marshal.dumps(frame))
        except OSError:
            # the server is gone (killed): take no more commands nobody can answer
            os._exit(1)

    client.add_connect_hook(republish)
    client.subscribe(subscribe, forward)
    try:
        client.start()
    except ConnectionError as exc:
        conn.send_bytes(str(exc).encode())
        return
    conn.send_bytes(b"ready")
    # long-lived objects out of the collector's way, and fewer collections: a full one
    # would hold every reply behind it
    gc_policy.settle()
    last_freeze = time.monotonic()
    while True:
        try:
            data = conn.recv_bytes()
        except (EOFError, OSError):
            break  # the server is gone; its own connection's last will says so
        if data == _STOP:
            client.flush(10.0)
            break
        if time.monotonic() - last_freeze >= gc_policy.REFREEZE_S:
            gc_policy.refreeze()
            last_freeze = time.monotonic()
        for topic, payload, retain, correlation in marshal.loads(data):
            if retain:
                retained[topic] = payload
            client.publish(topic, payload, retain=retain, correlation_data=correlation)
    client.stop()
    with contextlib.suppress(OSError):
        conn.send_bytes(b"stopped")
