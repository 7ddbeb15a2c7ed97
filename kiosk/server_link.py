"""The kiosk's line to the queue server: commands with safe retries, and what the server shows.

A kiosk must never offer a ticket it cannot back, so "reachable" means both that our MQTT
session is up and that the server's retained status says `online` (a broker without a
server answers nothing). Commands are retried with the same request id, which the server
answers with its first answer: a retry after a lost reply cannot issue a second ticket.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from kiosk.flow import QueueInfo
from yichuang.mqtt_client import Message, MqttClient
from yichuang.rpc import CommandClient, CommandTimeout

__all__ = ["ServerLink", "give_up"]

log = logging.getLogger(__name__)


def give_up(request_id: str, code: str, message: str) -> dict[str, Any]:
    """A reply made by the kiosk itself when the server could not be asked or did not answer."""
    return {"id": request_id, "ok": False, "error": {"code": code, "message": message}}


class ServerLink:
    """Request/reply to the server plus its availability and the per-service queue figures."""

    TRY_S = 2.5  # one attempt's wait before the same request is sent again
    DEADLINE_S = 10.0  # after this the citizen is told, rather than left waiting

    def __init__(
        self,
        client: MqttClient,
        hall: str,
        kiosk: str,
        on_change: Callable[[], None] = lambda: None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.client = client
        self.hall = hall
        self.kiosk = kiosk
        self._on_change = on_change
        self._clock = clock
        self._lock = threading.Lock()
        self._server_online = False
        self._queues: dict[str, QueueInfo] = {}
        self.rpc = CommandClient(client, hall, kiosk)
        client.subscribe(f"yc/{hall}/device/server/status", self._on_server_status)
        client.subscribe(f"yc/{hall}/state/queue/+", self._on_queue)

    @property
    def ok(self) -> bool:
        """The server can be asked now."""
        with self._lock:
            return self.client.connected and self._server_online

    def queues(self) -> dict[str, QueueInfo]:
        with self._lock:
            return dict(self._queues)

    def call(self, path: str, args: dict[str, Any], request_id: str) -> dict[str, Any]:
        """The server's reply to `path` with `args`, retried under one id until DEADLINE_S.

        Returns a `link_down` reply without sending anything when the server is unreachable,
        and `no_answer` when it was asked but did not answer in time (then nobody knows
        whether it acted; asking again with the same id finds out).
        """
        if not self.ok:
            return give_up(request_id, "link_down", "the queue server is not reachable")
        start = self._clock()
        attempts = 0
        while True:
            remaining = self.DEADLINE_S - (self._clock() - start)
            if remaining <= 0:
                break
            if not self.client.connected:
                # nothing can go out now; wait for the session to come back within the deadline
                time.sleep(min(0.2, remaining))
                continue
            attempts += 1
            try:
                wait = min(self.TRY_S, remaining)
                reply = self.rpc.request(path, args, timeout=wait, request_id=request_id)
            except CommandTimeout:
                log.warning("no reply command=%s request=%s attempt=%d", path, request_id, attempts)
                continue
            if attempts > 1:
                log.info("answered after retry command=%s request=%s attempts=%d", path, request_id, attempts)
            return reply
        return give_up(request_id, "no_answer", f"no answer within {self.DEADLINE_S:g}s")

    # -- subscriptions (paho's thread) ---------------------------------------------------

    def _on_server_status(self, message: Message) -> None:
        online = message.text() == "online"
        with self._lock:
            changed = online != self._server_online
            self._server_online = online
        if changed:
            log.info("server %s", "online" if online else "offline")
            self._on_change()

    def _on_queue(self, message: Message) -> None:
        try:
            data = message.json()
            service = str(data["service"])
            waiting = int(data.get("waiting") or 0)
            ewt = data.get("ewt_s")
            info = QueueInfo(waiting, int(ewt) if isinstance(ewt, int | float) else None)
        except (ValueError, KeyError, TypeError):
            log.warning("ignored malformed queue state topic=%s", message.topic)
            return
        with self._lock:
            self._queues[service] = info
        self._on_change()
