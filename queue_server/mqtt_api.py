"""MQTT side of the server: commands in, replies, retained state and events out (CONTRACT §3)."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import Any

from queue_server import commands
from queue_server.mqtt_gateway import Gateway, GatewayLost
from queue_server.worker import Query, Request, Worker, fail
from yichuang.config_model import Config
from yichuang.mqtt_client import Message, MqttClient, encode_payload

log = logging.getLogger(__name__)

DEVICE = "server"
VERSION = "0.1.0"


class MqttApi:
    """Turns `yc/{hall}/cmd/…` messages into worker requests and publishes what they change."""

    def __init__(
        self,
        config: Config,
        worker: Worker,
        client: MqttClient,
        count: Callable[[str, str], None] = lambda name, code: None,
        gateway: bool = False,
    ) -> None:
        self.config = config
        self.worker = worker
        self.client = client
        self.gateway: Gateway | None = None
        self.count = count
        self.root = f"yc/{config.hall.id}/"
        self.reply_prefix = f"{self.root}reply/"
        worker.publishers.append(self)
        if gateway:
            broker = config.broker
            self.gateway = Gateway(
                host=broker.host,
                port=broker.port,
                hall=config.hall.id,
                client_id=f"{client.client_id}-gw",
                username=broker.username,
                password=broker.password,
                subscribe=f"{self.root}cmd/#",
                on_command=self._on_command,
                on_lost=self._gateway_lost,
            )
        else:
            client.subscribe(f"{self.root}cmd/#", self._on_command)
        client.add_connect_hook(self.republish)
        # the lock boards' availability and door sensors make the lockers' door states
        self._boards = {d.id for d in config.devices if d.kind == "lock_board" and d.locker}
        if self._boards:
            client.subscribe(f"{self.root}device/+/state", self._on_board_state)
            client.subscribe(f"{self.root}device/+/status", self._on_board_status)
        if config.lockers:
            # whether each pickup code reached its citizen, for the clerk's screen
            client.subscribe(f"{self.root}event/sms_sent", self._on_sms_result)
            client.subscribe(f"{self.root}event/sms_failed", self._on_sms_result)

    def start(self) -> None:
        if self.gateway is not None:
            self.gateway.start()

    def stop(self) -> None:
        if self.gateway is not None:
            self.gateway.stop()

    def _gateway_lost(self) -> None:
        # restarted from the worker's thread, in line with everything it publishes
        self.worker.submit(Query(lambda _hall: self._restart_gateway(force=False), lambda _: None))

    # ----------------------------------------------------------------- outbound

    def republish(self) -> None:
        """After every (re)connect: the broker may have lost everything, so say it all again."""
        self.client.publish(
            f"{self.root}device/{DEVICE}/info",
            {"kind": "queue_server", "model": "yichuang", "version": VERSION},
            retain=True,
        )
        self.client.publish(
            f"homeassistant/device/yc_{self.config.hall.id}_{DEVICE}/config", self._discovery(), retain=True
        )
        # state is said again from the worker's thread, in line with its own publishing, so
        # an old copy can never land after a newer one and stay retained
        self.worker.submit(Query(self._republish_states, lambda _: None))

    def _republish_states(self, _hall: object) -> None:
        for suffix, payload in list(self.worker.states.items()):
            self._put(self.root + suffix, payload, retain=True)
        self.batch_done()

    def publish_changes(
        self, events: list[tuple[str, dict[str, object]]], states: dict[str, dict[str, object]]
    ) -> None:
        for suffix, payload in states.items():
            self._put(self.root + suffix, payload, retain=True)
        for kind, payload in events:
            self._put(f"{self.root}event/{kind}", payload)

    def command_devices(self, device_commands: list[tuple[str, dict[str, object]]]) -> None:
        """`device/{id}/set` for each (device, payload): a door to open, an SMS to send (QoS 1,
        not retained: a command is done once, not replayed to a reconnecting device)."""
        for device_id, payload in device_commands:
            self._put(f"{self.root}device/{device_id}/set", dict(payload))

    # ----------------------------------------------------------------- lock boards

    def _on_board_state(self, message: Message) -> None:
        """A lock board's retained door sensors (`device/{board}/state`, published by the bridge)."""
        board = message.topic.split("/")[-2]
        if board not in self._boards:
            return
        try:
            body = json.loads(message.payload.decode("utf-8"))
            reported = [int(d["door"]) for d in body["doors"]]
            opened = [int(d["door"]) for d in body["doors"] if d.get("open") is True]
        except (UnicodeDecodeError, ValueError, KeyError, TypeError, AttributeError):
            log.warning("event=bad_board_state device=%s", board)
            return
        self.worker.submit(
            Query(lambda hall: hall.locker_sensed(board, None, opened, reported), lambda _: None)
        )

    def _on_sms_result(self, message: Message) -> None:
        sent = message.topic.endswith("/sms_sent")
        try:
            sms_id = json.loads(message.payload.decode("utf-8"))["id"]
        except (UnicodeDecodeError, ValueError, KeyError, TypeError):
            log.warning("event=bad_sms_event topic=%s", message.topic)
            return
        if isinstance(sms_id, str):
            self.worker.submit(
                Query(lambda hall: hall.locker_sms_result(sms_id, sent, self.worker.clock()), lambda _: None)
            )

    def _on_board_status(self, message: Message) -> None:
        board = message.topic.split("/")[-2]
        if board not in self._boards:
            return
        online = message.payload == b"online"
        self.worker.submit(Query(lambda hall: hall.locker_sensed(board, online, None), lambda _: None))

    def batch_done(self) -> None:
        """End of a worker batch: hand everything it produced to the gateway in one go."""
        if self.gateway is None:
            return
        try:
            self.gateway.flush()
        except GatewayLost:
            self._restart_gateway()

    def _restart_gateway(self, force: bool = True) -> None:
        """Start a new gateway and give it all state again; runs on the worker's thread."""
        assert self.gateway is not None
        if not force and self.gateway.alive:
            return
        log.error("event=mqtt_gateway_restart")
        try:
            self.gateway.stop(timeout=1.0)
            self.gateway.start()
        except ConnectionError as exc:
            log.error("event=mqtt_gateway_restart_failed error=%s", exc)
            return
        for suffix, payload in list(self.worker.states.items()):
            self._put(self.root + suffix, payload, retain=True)
        self.gateway.flush()

    def _put(
        self, topic: str, payload: dict[str, Any], retain: bool = False, correlation: bytes | None = None
    ) -> None:
        if self.gateway is None:
            self.client.publish(topic, payload, retain=retain, correlation_data=correlation)
        else:
            self.gateway.put(topic, encode_payload(payload), retain, correlation)

    def _discovery(self) -> dict[str, Any]:
        """Home Assistant device-based discovery: one sensor of waiting citizens per service."""
        hall = self.config.hall.id
        components: dict[str, Any] = {}
        for service in self.config.services:
            components[f"waiting_{service.id}"] = {
                "platform": "sensor",
                "name": f"{service.name_en} waiting",
                "unique_id": f"yc_{hall}_waiting_{service.id}",
                "state_topic": f"{self.root}state/queue/{service.id}",
                "value_template": "{{ value_json.waiting }}",
                "unit_of_measurement": "tickets",
                "state_class": "measurement",
            }
        return {
            "device": {
                "identifiers": [f"yc_{hall}_{DEVICE}"],
                "name": f"{self.config.hall.name_en} queue server",
                "manufacturer": "Yichuang",
                "model": "queue_server",
                "sw_version": VERSION,
            },
            "origin": {"name": "yichuang", "sw_version": VERSION},
            "availability": [{"topic": self.client.status_topic}],
            "components": components,
            "qos": 1,
        }

    # ----------------------------------------------------------------- inbound

    def _on_command(self, message: Message) -> None:
        rest = message.topic[len(self.root) + len("cmd/") :]
        name, subject = _command_name(rest)
        spec = commands.COMMANDS.get(name)
        window = subject if spec is None or not spec.locker else None
        locker = subject if spec is not None and spec.locker else None
        try:
            body = json.loads(message.payload.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            self._reject(message, None, "invalid_request", "payload is not UTF-8 JSON")
            return
        if not isinstance(body, dict):
            self._reject(message, None, "invalid_request", "payload must be a JSON object")
            return
        request_id = body.pop("id", None)
        reply_to = body.pop("reply_to", None)
        target = self._reply_target(reply_to, message.response_topic)
        if target is None:
            # nowhere we may answer: the contract says drop it, and we count it
            self.count(name, "bad_reply_to")
            log.warning("event=command_dropped reason=reply_to topic=%s", message.topic)
            return
        if not isinstance(request_id, str) or not 1 <= len(request_id) <= 128:
            self._send(
                target,
                message.correlation_data,
                fail(None, "invalid_request", "id must be a non-empty string of at most 128 characters"),
            )
            self.count(name, "invalid_request")
            return
        if name not in commands.COMMANDS:
            self._send(
                target,
                message.correlation_data,
                fail(request_id, "unknown_command", f"no command at {message.topic}"),
            )
            self.count(name, "unknown_command")
            return
        if commands.COMMANDS[name].window and (window is None or window not in self.worker.hall.windows):
            self._send(
                target,
                message.correlation_data,
                fail(request_id, "unknown_window", f"no window {window!r} in this hall"),
            )
            self.count(name, "unknown_window")
            return
        if commands.COMMANDS[name].locker and (
            locker is None or locker not in self.worker.hall.lockers.lockers
        ):
            self._send(
                target,
                message.correlation_data,
                fail(request_id, "unknown_locker", f"no locker {locker!r} in this hall"),
            )
            self.count(name, "unknown_locker")
            return
        correlation = message.correlation_data

        def respond(reply: dict[str, Any]) -> None:
            # on the worker's thread: sent with the rest of its batch
            self._put(target, reply, correlation=correlation)
            self.count(name, "ok" if reply.get("ok") else reply["error"]["code"])

        self.worker.submit(
            Request(
                name, body, respond, request_id=request_id, window=window, topic=message.topic, locker=locker
            )
        )

    def _reply_target(self, reply_to: object, response_topic: str | None) -> str | None:
        for candidate in (reply_to, response_topic):
            if isinstance(candidate, str) and self._allowed_reply(candidate):
                return candidate
        return None

    def _allowed_reply(self, topic: str) -> bool:
        return (
            topic.startswith(self.reply_prefix)
            and len(topic) > len(self.reply_prefix)
            and "+" not in topic
            and "#" not in topic
            and "\x00" not in topic
        )

    def _reject(self, message: Message, request_id: str | None, code: str, text: str) -> None:
        # without a parsable reply_to only an MQTT v5 response topic can carry the answer
        self.count("unparsed", code)
        if message.response_topic and self._allowed_reply(message.response_topic):
            self._send(message.response_topic, message.correlation_data, fail(request_id, code, text))
        else:
            log.warning("event=command_dropped reason=%s topic=%s", code, message.topic)

    def _send(self, topic: str, correlation: bytes | None, reply: dict[str, Any]) -> None:
        """An answer given on the MQTT thread, before the command reaches the worker."""
        self._put(topic, reply, correlation=correlation)
        self.batch_done()


def _command_name(rest: str) -> tuple[str, str | None]:
    """`window/w03/call_next` -> (`window/call_next`, `w03`), `locker/locker-01/pickup` ->
    (`locker/pickup`, `locker-01`); `ticket/issue` -> (`ticket/issue`, None)."""
    parts = rest.split("/")
    if len(parts) == 3 and parts[0] in ("window", "locker"):
        return f"{parts[0]}/{parts[2]}", parts[1]
    return rest, None
