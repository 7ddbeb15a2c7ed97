"""Request/reply over MQTT as CONTRACT §3.2 defines it, for kiosks, consoles, the demo and tests."""

from __future__ import annotations

import json
import threading
import uuid
from concurrent.futures import Future
from typing import Any

from yichuang.mqtt_client import Message, MqttClient


class CommandTimeout(TimeoutError):
    """No reply in time. Retrying with the same request id is always safe."""


class CommandClient:
    """Sends `yc/{hall}/cmd/…` commands and waits for their replies on `yc/{hall}/reply/{name}`."""

    def __init__(self, client: MqttClient, hall: str, name: str) -> None:
        self.client = client
        self.root = f"yc/{hall}/"
        self.reply_to = f"{self.root}reply/{name}"
        self._pending: dict[str, Future[dict[str, Any]]] = {}
        self._lock = threading.Lock()
        client.subscribe(self.reply_to, self._on_reply)

    def send(
        self, path: str, args: dict[str, Any] | None = None, request_id: str | None = None
    ) -> Future[dict[str, Any]]:
        """Publish a command (`path`: `ticket/issue`, `window/w03/call_next` …); the future gets the reply."""
        rid = request_id or uuid.uuid4().hex
        future: Future[dict[str, Any]] = Future()
        with self._lock:
            self._pending[rid] = future
        self.client.publish(f"{self.root}cmd/{path}", {"id": rid, "reply_to": self.reply_to, **(args or {})})
        return future

    def request(
        self,
        path: str,
        args: dict[str, Any] | None = None,
        timeout: float = 5.0,
        request_id: str | None = None,
    ) -> dict[str, Any]:
        """Send and wait: the whole reply, `{"id", "ok", "result"|"error"}`."""
        rid = request_id or uuid.uuid4().hex
        future = self.send(path, args, rid)
        try:
            return future.result(timeout)
        except TimeoutError:
            raise CommandTimeout(f"no reply to {path} within {timeout:g}s (request {rid})") from None
        finally:
            with self._lock:
                self._pending.pop(rid, None)

    def _on_reply(self, message: Message) -> None:
        try:
            reply = json.loads(message.payload)
        except ValueError:
            return
        if not isinstance(reply, dict):
            return
        with self._lock:
            future = self._pending.pop(str(reply.get("id")), None)
        if future is not None and not future.done():
            future.set_result(reply)
