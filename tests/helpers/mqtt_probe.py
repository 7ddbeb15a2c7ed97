"""A small MQTT test client that records what it receives, for asserting on real broker traffic."""

from __future__ import annotations

import socket
import threading
import time
import uuid
from collections.abc import Callable
from typing import Any

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from yichuang.mqtt_client import Message, encode_payload, topic_matches

Predicate = Callable[[Message], bool]


class MqttProbe:
    """Connects to the test broker, subscribes on demand and keeps every message it gets."""

    def __init__(self, host: str, port: int, client_id: str | None = None) -> None:
        self.host = host
        self.port = port
        self.messages: list[Message] = []
        self._cond = threading.Condition()
        self._acks: dict[int, threading.Event] = {}
        self._client = paho.Client(
            callback_api_version=CallbackAPIVersion.VERSION2,
            client_id=client_id or f"probe-{uuid.uuid4().hex[:8]}",
            protocol=MQTTProtocolVersion.MQTTv5,
        )
        self._client.max_inflight_messages_set(1000)
        self._client.max_queued_messages_set(0)
        self._client.on_socket_open = _set_nodelay
        self._client.on_message = self._on_message
        self._client.on_subscribe = self._on_subscribe

    def connect(self, timeout: float = 5.0) -> MqttProbe:
        """Connect and start the network thread; raise if not connected in time."""
        self._client.connect(self.host, self.port, keepalive=30)
        self._client.loop_start()
        deadline = time.monotonic() + timeout
        while not self._client.is_connected():
            if time.monotonic() > deadline:
                raise TimeoutError(f"probe could not connect to {self.host}:{self.port}")
            time.sleep(0.01)
        return self

    def close(self) -> None:
        """Disconnect and stop the network thread."""
        self._client.disconnect()
        self._client.loop_stop()

    def subscribe(self, topic_filter: str, qos: int = 1, timeout: float = 5.0) -> None:
        """Subscribe and wait for the SUBACK, so retained messages are on their way when it returns."""
        done = threading.Event()
        with self._cond:
            rc, mid = self._client.subscribe(topic_filter, qos=qos)
            assert rc == paho.MQTT_ERR_SUCCESS, paho.error_string(rc)
            self._acks[mid] = done
        assert done.wait(timeout), f"no SUBACK for {topic_filter}"

    def publish(
        self,
        topic: str,
        payload: dict[str, Any] | list[Any] | str | bytes,
        *,
        qos: int = 1,
        retain: bool = False,
        response_topic: str | None = None,
        correlation_data: bytes | None = None,
        timeout: float = 5.0,
    ) -> None:
        """Publish and wait until the broker has it (PUBACK for QoS 1)."""
        properties = None
        if response_topic is not None or correlation_data is not None:
            properties = Properties(PacketTypes.PUBLISH)
            if response_topic is not None:
                properties.ResponseTopic = response_topic
            if correlation_data is not None:
                properties.CorrelationData = correlation_data
        info = self._client.publish(
            topic, encode_payload(payload), qos=qos, retain=retain, properties=properties
        )
        info.wait_for_publish(timeout)
        assert info.is_published(), f"publish to {topic} not acknowledged"

    def wait_for(self, topic: str, predicate: Predicate | None = None, timeout: float = 5.0) -> Message:
        """The first message, received or arriving, on the filter `topic` that satisfies `predicate`."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                for message in self.messages:
                    if topic_matches(topic, message.topic) and (predicate is None or predicate(message)):
                        return message
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    seen = [(m.topic, m.payload[:80]) for m in self.messages if topic_matches(topic, m.topic)]
                    raise TimeoutError(f"no matching message on {topic} within {timeout}s; saw {seen}")
                self._cond.wait(remaining)

    def received(self, topic: str) -> list[Message]:
        """All messages so far whose topic matches the filter `topic`."""
        with self._cond:
            return [m for m in self.messages if topic_matches(topic, m.topic)]

    def clear(self) -> None:
        """Forget the messages received so far."""
        with self._cond:
            self.messages.clear()

    def _on_message(self, client: paho.Client, userdata: Any, msg: paho.MQTTMessage) -> None:
        props = getattr(msg, "properties", None)
        correlation = getattr(props, "CorrelationData", None)
        message = Message(
            topic=msg.topic,
            payload=bytes(msg.payload),
            retain=bool(msg.retain),
            response_topic=getattr(props, "ResponseTopic", None),
            correlation_data=bytes(correlation) if correlation is not None else None,
        )
        with self._cond:
            self.messages.append(message)
            self._cond.notify_all()

    def _on_subscribe(
        self, client: paho.Client, userdata: Any, mid: int, reason_codes: Any, props: Any
    ) -> None:
        with self._cond:
            event = self._acks.pop(mid, None)
        if event is not None:
            event.set()


def _set_nodelay(client: paho.Client, userdata: Any, sock: Any) -> None:
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
