"""A thin wrapper over paho-mqtt 2.x that every long-running Yichuang process uses.

It implements the availability rules of the contract (section 3.1): a retained
`online`/`offline` status with `offline` as the last will, re-subscription and
republishing of owned state on every (re)connect and whenever Home Assistant
announces `homeassistant/status` = `online`, and `offline` first on a clean stop.
"""

from __future__ import annotations

import json
import logging
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import orjson
import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

__all__ = ["HA_STATUS_TOPIC", "Message", "MqttClient", "encode_payload", "topic_matches"]

log = logging.getLogger(__name__)

HA_STATUS_TOPIC = "homeassistant/status"
"""Home Assistant's birth/will topic; `online` there means "send me everything again"."""

ONLINE = "online"
OFFLINE = "offline"

_KEEPALIVE_S = 30
_RECONNECT_MIN_S = 0.5
_RECONNECT_MAX_S = 5
_STOP_FLUSH_S = 3.0


@dataclass(frozen=True)
class Message:
    """One received MQTT message, detached from paho's types."""

    topic: str
    payload: bytes
    retain: bool
    response_topic: str | None = None
    correlation_data: bytes | None = None

    def text(self) -> str:
        """The payload decoded as UTF-8 (invalid bytes replaced, never raising)."""
        return self.payload.decode("utf-8", errors="replace")

    def json(self) -> Any:
        """The payload parsed as JSON; raises ValueError on malformed input."""
        return json.loads(self.payload)


Handler = Callable[[Message], None]
Hook = Callable[[], None]


@dataclass
class _Subscription:
    """One topic filter at the broker and the handlers that share it."""

    topic_filter: str
    qos: int
    sub_id: int
    handlers: list[Handler] = field(default_factory=list)


def topic_matches(topic_filter: str, topic: str) -> bool:
    """Whether `topic` matches the MQTT `topic_filter` (with `+` and `#` wildcards)."""
    return paho.topic_matches_sub(topic_filter, topic)


def encode_payload(payload: dict[str, Any] | list[Any] | str | bytes) -> bytes:
    """Encode a payload as the contract wants it: compact UTF-8 JSON, text as UTF-8."""
    if isinstance(payload, bytes):
        return payload
    if isinstance(payload, str):
        return payload.encode("utf-8")
    if isinstance(payload, dict | list):
        # orjson: the same compact UTF-8 JSON, several times faster than json.dumps; the
        # server encodes a few thousand payloads a second
        return orjson.dumps(payload)
    raise TypeError(f"unsupported payload type {type(payload).__name__}")


class _BufferedSocket:
    """The broker connection, read 64 KiB at a time and written once per loop pass.

    paho reads each packet in pieces (one byte of header, one per length byte, then the
    body) and writes each packet with its own call: at a few thousand PUBACKs a second those
    system calls cost more than the server's own work. Reads are served from one buffer,
    with `pending()` (which paho already asks of TLS sockets) telling its loop that bytes
    remain; writes collect in another buffer that `flush()` sends at the end of each pass.
    """

    def __init__(self, sock: Any) -> None:
        self._sock = sock
        self._in = bytearray()
        self._out = bytearray()

    def recv(self, bufsize: int) -> bytes:
        if not self._in:
            data = self._sock.recv(65536)
            if not data:
                return b""
            self._in += data
        chunk = bytes(self._in[:bufsize])
        del self._in[:bufsize]
        return chunk

    def pending(self) -> int:
        inner = getattr(self._sock, "pending", None)
        return len(self._in) + (inner() if inner is not None else 0)

    def send(self, data: bytes | bytearray) -> int:
        self._out += data
        return len(data)

    def has_output(self) -> bool:
        return bool(self._out)

    def flush(self, wait_s: float = 0.0) -> None:
        """Send what is buffered; with `wait_s`, keep trying that long (used before closing)."""
        deadline = time.monotonic() + wait_s
        while self._out:
            try:
                sent = self._sock.send(self._out)
            except (BlockingIOError, InterruptedError):
                if time.monotonic() >= deadline:
                    return
                time.sleep(0.001)
                continue
            except OSError:
                self._out.clear()  # the connection is gone; paho notices on its next read
                return
            del self._out[:sent]

    def close(self) -> None:
        self.flush(wait_s=1.0)  # DISCONNECT and a last `offline` must leave before the socket closes
        self._sock.close()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._sock, name)


class _BufferedClient(paho.Client):
    def _create_socket(self) -> Any:
        return _BufferedSocket(super()._create_socket())

    def loop_write(self) -> paho.MQTTErrorCode:
        try:
            return super().loop_write()
        finally:
            sock = self._sock
            if isinstance(sock, _BufferedSocket):
                sock.flush()

    def want_write(self) -> bool:
        sock = self._sock
        return super().want_write() or (isinstance(sock, _BufferedSocket) and sock.has_output())


def _drop_not_connected(record: logging.LogRecord) -> bool:
    """paho logs at ERROR when its loop runs once more after the socket closed (on every stop
    and between reconnects); our own log already says when a connection is lost or stopped."""
    return not (
        record.levelno == logging.ERROR
        and str(record.msg).startswith("Client is not connected")
        and not _PAHO_LOG.isEnabledFor(logging.DEBUG)
    )


_PAHO_LOG = logging.getLogger(f"{__name__}.paho")
_PAHO_LOG.addFilter(_drop_not_connected)


class MqttClient:
    """A connected MQTT session for one process, acting as device `device` of hall `hall`.

    Handlers and hooks run in paho's network thread: they must not block for long
    and must not wait for their own publishes to complete.
    """

    def __init__(
        self,
        *,
        host: str,
        port: int,
        client_id: str,
        hall: str,
        device: str | None,
        username: str | None = None,
        password: str | None = None,
        protocol_v5: bool = True,
    ) -> None:
        self.host = host
        self.port = port
        self.client_id = client_id
        self.hall = hall
        self.device = device
        self.protocol_v5 = protocol_v5
        # device None: a helper connection of a process that has its availability elsewhere
        self.status_topic: str = f"yc/{hall}/device/{device}/status" if device is not None else ""
        self._last_info: paho.MQTTMessageInfo | None = None

        self._lock = threading.Lock()
        self._subs: dict[str, _Subscription] = {}
        self._next_sub_id = 1
        self._hooks: list[Hook] = []
        self._connected = threading.Event()
        self._refused = threading.Event()
        # Set once the subscriptions made on connect are acknowledged: only then can a
        # caller of start() rely on receiving what is published next.
        self._subscribed = threading.Event()
        self._pending_subacks: set[int] = set()
        self._connect_error: str | None = None
        self._stopping = False

        protocol = MQTTProtocolVersion.MQTTv5 if protocol_v5 else MQTTProtocolVersion.MQTTv311
        self._client = _BufferedClient(
            callback_api_version=CallbackAPIVersion.VERSION2,
            client_id=client_id,
            protocol=protocol,
            # Everything is republished and resubscribed on connect, so a broker-side
            # session would only replay stale commands after an outage.
            clean_session=None if protocol_v5 else True,
        )
        if username is not None:
            self._client.username_pw_set(username, password)
        if self.status_topic:
            self._client.will_set(self.status_topic, OFFLINE, qos=1, retain=True)
        # paho types the delays as int, but sleeps on floats; 0.5 s matters after a broker restart.
        self._client.reconnect_delay_set(_RECONNECT_MIN_S, _RECONNECT_MAX_S)  # type: ignore[arg-type]
        # Bursts (a morning rush of tickets, a full state republish) must not be throttled
        # or dropped by the client library; the broker applies its own limits.
        # 0 = no client-side window: paho rescans every queued message on each PUBACK when a
        # window is set, which costs more CPU than the whole server at a thousand messages/s.
        self._client.max_inflight_messages_set(0)
        self._client.max_queued_messages_set(0)
        self._client.on_socket_open = self._on_socket_open
        self._client.on_connect = self._on_connect
        self._client.on_connect_fail = self._on_connect_fail
        self._client.on_disconnect = self._on_disconnect
        self._client.on_subscribe = self._on_subscribe
        self._client.on_message = self._on_message
        self._client.enable_logger(_PAHO_LOG)

        self.subscribe(HA_STATUS_TOPIC, self._on_ha_status, qos=1)

    # -- public API -----------------------------------------------------------------

    @property
    def connected(self) -> bool:
        """Whether the session is currently up (CONNACK received, not yet lost)."""
        return self._connected.is_set() and self._client.is_connected()

    def subscribe(self, topic_filter: str, handler: Handler, qos: int = 1) -> None:
        """Call `handler` for every message matching `topic_filter`, across reconnects.

        Several handlers may share one filter. An exception in a handler is logged
        and does not affect other handlers or later messages.
        """
        with self._lock:
            sub = self._subs.get(topic_filter)
            if sub is None:
                sub = _Subscription(topic_filter, qos, self._next_sub_id)
                self._next_sub_id += 1
                self._subs[topic_filter] = sub
            sub.handlers.append(handler)
            sub.qos = max(sub.qos, qos)
        if self.connected:
            self._send_subscribe(sub)

    def add_connect_hook(self, hook: Hook) -> None:
        """Run `hook` after every (re)connect and on `homeassistant/status` = `online`.

        Hooks republish retained state the process owns (status, discovery, info,
        state); they run in the network thread. Added while connected, it runs once now.
        """
        with self._lock:
            self._hooks.append(hook)
        if self.connected:
            self._run_hook(hook)

    def publish(
        self,
        topic: str,
        payload: dict[str, Any] | list[Any] | str | bytes,
        *,
        qos: int = 1,
        retain: bool = False,
        correlation_data: bytes | None = None,
    ) -> None:
        """Publish without waiting; QoS 1 messages are queued while disconnected.

        `dict`/`list` become compact UTF-8 JSON, `str` UTF-8 text. `correlation_data`
        (MQTT v5 only) answers a request that carried a response topic.
        """
        properties: Properties | None = None
        if correlation_data is not None and self.protocol_v5:
            properties = Properties(PacketTypes.PUBLISH)
            properties.CorrelationData = correlation_data
        info = self._client.publish(
            topic, encode_payload(payload), qos=qos, retain=retain, properties=properties
        )
        self._last_info = info
        if info.rc not in (paho.MQTT_ERR_SUCCESS, paho.MQTT_ERR_NO_CONN):
            log.warning("mqtt publish failed topic=%s rc=%s", topic, paho.error_string(info.rc))
        elif info.rc == paho.MQTT_ERR_NO_CONN:
            log.debug("mqtt publish queued while disconnected topic=%s qos=%d", topic, qos)

    def flush(self, timeout: float) -> bool:
        """Wait until everything published so far is acknowledged by the broker (QoS 1 acks in order)."""
        info = self._last_info
        if info is None or info.is_published():
            return True
        try:
            info.wait_for_publish(timeout)
        except (ValueError, RuntimeError):
            return False
        return info.is_published()

    def start(self, wait_s: float = 10.0) -> None:
        """Connect in the background and wait until connected and subscribed; raise ConnectionError if not.

        When it returns, the broker holds the retained `online`, the subscriptions are
        active and the connect hooks have run (their publishes are queued or sent).
        After a successful start, paho reconnects by itself whenever the connection drops.
        """
        self._stopping = False
        self._connect_error = None
        self._refused.clear()
        log.info(
            "mqtt connecting host=%s port=%d client_id=%s protocol=%s",
            self.host,
            self.port,
            self.client_id,
            "v5" if self.protocol_v5 else "v3.1.1",
        )
        self._client.connect_async(self.host, self.port, keepalive=_KEEPALIVE_S)
        self._client.loop_start()
        deadline = time.monotonic() + wait_s
        # A refused CONNECT (bad credentials) will not get better by waiting: fail at once.
        while not self._subscribed.wait(0.05) and not self._refused.is_set() and time.monotonic() < deadline:
            pass
        if not self._subscribed.is_set():
            reason = self._connect_error or "timed out"
            self._stopping = True
            self._client.disconnect()
            self._client.loop_stop()
            raise ConnectionError(
                f"cannot connect to MQTT broker {self.host}:{self.port} within {wait_s:g}s: {reason}"
            )

    def start_background(self) -> None:
        """Connect in the background and keep trying for as long as it takes; never raises.

        For programs that must come up and say so on their own screen while the broker is
        still down (a kiosk after a power cut that also restarted the hall's server).
        """
        self._stopping = False
        self._connect_error = None
        self._refused.clear()
        log.info("mqtt connecting in background host=%s port=%d client_id=%s", self.host, self.port,
                 self.client_id)
        self._client.connect_async(self.host, self.port, keepalive=_KEEPALIVE_S)
        self._client.loop_start()

    def stop(self) -> None:
        """Publish `offline` (a clean disconnect does not fire the will), then disconnect."""
        self._stopping = True
        if self.connected and not self.status_topic:
            self.flush(_STOP_FLUSH_S)
        elif self.connected:
            info = self._client.publish(self.status_topic, OFFLINE, qos=1, retain=True)
            try:
                info.wait_for_publish(_STOP_FLUSH_S)
            except (ValueError, RuntimeError) as exc:
                log.warning("mqtt offline not sent topic=%s error=%s", self.status_topic, exc)
            if not info.is_published():
                log.warning("mqtt offline not acknowledged topic=%s", self.status_topic)
        self._client.disconnect()
        self._client.loop_stop()
        self._connected.clear()
        self._subscribed.clear()
        log.info("mqtt stopped client_id=%s", self.client_id)

    # -- paho callbacks (network thread) ------------------------------------------

    def _on_socket_open(self, client: paho.Client, userdata: Any, sock: Any) -> None:
        # Nagle's algorithm adds 40-90 ms to every request/reply round trip otherwise.
        try:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except (OSError, AttributeError) as exc:  # a websocket or unix socket has no such option
            log.debug("mqtt tcp_nodelay not set error=%s", exc)

    def _on_connect(
        self,
        client: paho.Client,
        userdata: Any,
        flags: paho.ConnectFlags,
        reason_code: ReasonCode,
        properties: Properties | None,
    ) -> None:
        if reason_code.is_failure:
            self._connect_error = str(reason_code)
            self._refused.set()
            log.error("mqtt connect refused host=%s port=%d reason=%s", self.host, self.port, reason_code)
            return
        log.info("mqtt connected host=%s port=%d client_id=%s", self.host, self.port, self.client_id)
        self._connected.set()
        if self.status_topic:
            client.publish(self.status_topic, ONLINE, qos=1, retain=True)
        with self._lock:
            subs = list(self._subs.values())
            # on_subscribe runs in this same thread, so no SUBACK can be missed here.
            self._pending_subacks = {mid for sub in subs if (mid := self._send_subscribe(sub)) is not None}
            if not self._pending_subacks:
                self._subscribed.set()
        self._run_hooks("connect")

    def _on_subscribe(
        self,
        client: paho.Client,
        userdata: Any,
        mid: int,
        reason_codes: list[ReasonCode],
        properties: Properties | None,
    ) -> None:
        for code in reason_codes:
            if code.is_failure:
                log.warning("mqtt subscription refused mid=%d reason=%s", mid, code)
        with self._lock:
            self._pending_subacks.discard(mid)
            if not self._pending_subacks:
                self._subscribed.set()

    def _on_connect_fail(self, client: paho.Client, userdata: Any) -> None:
        self._connect_error = "connection failed"
        log.warning("mqtt connect failed host=%s port=%d", self.host, self.port)

    def _on_disconnect(
        self,
        client: paho.Client,
        userdata: Any,
        flags: paho.DisconnectFlags,
        reason_code: ReasonCode,
        properties: Properties | None,
    ) -> None:
        self._connected.clear()
        self._subscribed.clear()
        if self._stopping:
            log.debug("mqtt disconnected client_id=%s", self.client_id)
        else:
            log.warning(
                "mqtt connection lost client_id=%s reason=%s, reconnecting", self.client_id, reason_code
            )

    def _on_message(self, client: paho.Client, userdata: Any, msg: paho.MQTTMessage) -> None:
        props = getattr(msg, "properties", None)
        response_topic = getattr(props, "ResponseTopic", None) if props is not None else None
        correlation = getattr(props, "CorrelationData", None) if props is not None else None
        sub_ids: list[int] = list(getattr(props, "SubscriptionIdentifier", None) or []) if props else []
        message = Message(
            topic=msg.topic,
            payload=bytes(msg.payload),
            retain=bool(msg.retain),
            response_topic=response_topic or None,
            correlation_data=bytes(correlation) if correlation is not None else None,
        )
        with self._lock:
            if sub_ids:
                # The broker sends one copy per matching subscription (mosquitto's default),
                # each tagged with its subscription id: dispatch each copy only to its own
                # handlers so overlapping filters never run a handler twice.
                subs = [s for s in self._subs.values() if s.sub_id in sub_ids]
            else:
                subs = [s for s in self._subs.values() if topic_matches(s.topic_filter, message.topic)]
            handlers = [h for s in subs for h in s.handlers]
        for handler in handlers:
            try:
                handler(message)
            except Exception:
                log.exception(
                    "mqtt handler failed topic=%s handler=%s",
                    message.topic,
                    getattr(handler, "__qualname__", repr(handler)),
                )

    # -- internals ------------------------------------------------------------------

    def _send_subscribe(self, sub: _Subscription) -> int | None:
        properties: Properties | None = None
        if self.protocol_v5:
            properties = Properties(PacketTypes.SUBSCRIBE)
            properties.SubscriptionIdentifier = sub.sub_id
        rc, mid = self._client.subscribe(sub.topic_filter, qos=sub.qos, properties=properties)
        if rc != paho.MQTT_ERR_SUCCESS:
            log.warning("mqtt subscribe failed filter=%s rc=%s", sub.topic_filter, paho.error_string(rc))
            return None
        return mid

    def _on_ha_status(self, message: Message) -> None:
        # A retained `online` arrives on every subscribe; the connect hooks already ran
        # then, so only a live announcement (Home Assistant restarted) triggers a republish.
        if message.retain or message.payload.strip() != ONLINE.encode():
            return
        self._run_hooks("homeassistant_online")

    def _run_hooks(self, why: str) -> None:
        with self._lock:
            hooks = list(self._hooks)
        log.debug("mqtt running connect hooks count=%d why=%s", len(hooks), why)
        for hook in hooks:
            self._run_hook(hook)

    @staticmethod
    def _run_hook(hook: Hook) -> None:
        try:
            hook()
        except Exception:
            log.exception("mqtt connect hook failed hook=%s", getattr(hook, "__qualname__", repr(hook)))
