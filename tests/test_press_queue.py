"""A clerk's key press reaches the queue server exactly once: through broker outages, server
restarts and bridge restarts; a press too old to mean anything is dropped with an alarm.

Against the real private Mosquitto and a real queue server. "Exactly once" is read off the
hall itself: after the press, the clerk's next `call_next` must call the *second* ticket.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import pytest
from helpers.halls import small_hall
from helpers.mqtt_probe import MqttProbe
from helpers.server import Caller, on_ports, start_server

from firmware_bridge.key_commands import Key, KeyCommand, command_for_key
from firmware_bridge.press_queue import (
    PendingPress,
    Press,
    PressQueue,
    PressQueueLocked,
    PressStore,
)
from queue_server.app import Server
from yichuang.config_model import Config
from yichuang.mqtt_client import Message, MqttClient
from yichuang.rpc import CommandClient

BRIDGE = "bridge-01"
DEVICE = "caller-w01"


@pytest.fixture
def hall_config(broker, tmp_path) -> Config:
    if not broker.running:
        broker.start()
    config = on_ports(small_hall(), broker.url, f"sqlite:///{tmp_path / 'hall.db'}")
    return replace(config, hall=replace(config.hall, id=f"t{uuid.uuid4().hex[:10]}"))


@dataclass
class Hall:
    """The running server of a test (restartable on the same database)."""

    config: Config
    server: Server | None = None

    def start(self) -> None:
        self.server = start_server(self.config)

    def stop(self) -> None:
        if self.server is not None:
            self.server.stop()
            self.server = None


@pytest.fixture
def hall(hall_config, broker) -> Iterator[Hall]:
    h = Hall(hall_config)
    h.start()
    try:
        yield h
    finally:
        if not broker.running:
            broker.start()
        h.stop()


def prepare_w01(broker, hall_id: str, tickets: int) -> None:
    """Open window 1 and issue `tickets` tickets of service A (A001, A002 …)."""
    caller = Caller(broker.port, hall_id)
    try:
        assert caller("window/w01/open", clerk="S1001")["ok"]
        for _ in range(tickets):
            assert caller("ticket/issue", service="A", kiosk="kiosk-01")["ok"]
    finally:
        caller.close()


def next_call(broker, hall_id: str) -> str | None:
    """What the clerk's next call_next at window 1 calls (None: nobody left)."""
    caller = Caller(broker.port, hall_id)
    try:
        reply = caller("window/w01/call_next", clerk="S1001", timeout=10)
    finally:
        caller.close()
    return reply["result"]["ticket"]["no"] if reply["ok"] else None


def key_press(config: Config, key: Key, arg: int = 0, window_state: dict | None = None, **kw: Any) -> Press:
    window = config.window("w01")
    assert window is not None
    command = command_for_key(window, key, arg, window_state, list(config.services))
    assert isinstance(command, KeyCommand)
    return Press(DEVICE, int(key), arg, command.path, command.args, window="w01", **kw)


class DeafCommandClient(CommandClient):
    """A bridge that crashes before any reply reaches it: every command is sent, no answer heard."""

    def _on_reply(self, message: Message) -> None:
        return None


@dataclass
class Bridge:
    client: MqttClient
    queue: PressQueue
    results: list[tuple[PendingPress, dict | None]] = field(default_factory=list)
    closed: bool = False

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            self.queue.stop()
            self.client.stop()


@pytest.fixture
def make_bridge(broker) -> Iterator[Callable[..., Bridge]]:
    bridges: list[Bridge] = []

    def make(
        config: Config,
        state_dir: Path,
        *,
        rpc_class: type[CommandClient] = CommandClient,
        start_sender: bool = True,
        **queue_args: Any,
    ) -> Bridge:
        client = MqttClient(
            host=broker.host,
            port=broker.port,
            client_id=f"{BRIDGE}-{uuid.uuid4().hex[:8]}",
            hall=config.hall.id,
            device=BRIDGE,
        )
        rpc = rpc_class(client, config.hall.id, BRIDGE)
        queue_args.setdefault("reply_timeout_s", 0.5)
        queue_args.setdefault("retry_delay_s", 0.1)
        bridge = Bridge(client, None)  # type: ignore[arg-type]
        bridge.queue = PressQueue(
            rpc,
            hall=config.hall.id,
            bridge=BRIDGE,
            state_dir=state_dir,
            on_result=lambda p, r: bridge.results.append((p, r)),
            **queue_args,
        )
        client.start()
        if start_sender:
            bridge.queue.start()
        bridges.append(bridge)
        return bridge

    yield make
    if not broker.running:
        broker.start()
    for b in bridges:
        b.close()


def wait_until(condition: Callable[[], bool], timeout: float = 10.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"{what} not met within {timeout}s"
        time.sleep(0.02)


def fresh_probe(broker, *topics: str) -> MqttProbe:
    probe = MqttProbe(broker.host, broker.port).connect()
    for topic in topics:
        probe.subscribe(topic)
    return probe


# -- tests -------------------------------------------------------------------------------


def test_press_during_a_broker_outage_calls_once_when_the_broker_returns(
    broker, hall, hall_config, make_bridge, tmp_path
):
    hall_id = hall_config.hall.id
    prepare_w01(broker, hall_id, tickets=3)
    bridge = make_bridge(hall_config, tmp_path / "bridge")

    broker.stop()
    wait_until(lambda: not bridge.client.connected, what="bridge sees the outage")
    pending = bridge.queue.put(key_press(hall_config, Key.CALL_NEXT))
    assert bridge.queue.stats().queued == 1  # stored while nobody can be reached
    broker.start()

    assert bridge.queue.wait_idle(30), "the press was not delivered after the broker returned"
    [(delivered, reply)] = bridge.results
    assert delivered.request_id == pending.request_id
    assert reply is not None and reply["ok"] and reply["result"]["ticket"]["no"] == "A001"
    assert next_call(broker, hall_id) == "A002", "the press was applied twice (or not at all)"


def test_retries_repeat_the_same_request_id_until_the_server_answers(
    broker, hall, hall_config, make_bridge, tmp_path
):
    hall_id = hall_config.hall.id
    prepare_w01(broker, hall_id, tickets=3)
    hall.stop()  # the server is down (restarting after an update)
    probe = fresh_probe(broker, f"yc/{hall_id}/cmd/#")
    try:
        bridge = make_bridge(hall_config, tmp_path / "bridge", reply_timeout_s=0.2)
        pending = bridge.queue.put(key_press(hall_config, Key.CALL_NEXT))
        wait_until(lambda: len(probe.received(f"yc/{hall_id}/cmd/#")) >= 3, what="three attempts")
        hall.start()
        assert bridge.queue.wait_idle(20)
    finally:
        probe.close()
    sent = [json.loads(m.payload) for m in probe.received(f"yc/{hall_id}/cmd/#")]
    assert {m["id"] for m in sent} == {pending.request_id}
    assert pending.request_id.startswith(f"{BRIDGE}-{DEVICE}-")
    assert bridge.queue.stats().retried >= 2 and bridge.queue.stats().sent == 1
    assert next_call(broker, hall_id) == "A002"


def test_a_press_too_old_to_mean_anything_is_dropped_with_an_alarm(
    broker, hall, hall_config, make_bridge, tmp_path, mqtt_probe
):
    hall_id = hall_config.hall.id
    prepare_w01(broker, hall_id, tickets=2)
    mqtt_probe.subscribe(f"yc/{hall_id}/event/alarm")
    bridge = make_bridge(hall_config, tmp_path / "bridge", max_age_s=120)

    old = key_press(hall_config, Key.CALL_NEXT, pressed_at=time.time() - 121)
    pending = bridge.queue.put(old)

    alarm = json.loads(mqtt_probe.wait_for(f"yc/{hall_id}/event/alarm").payload)
    assert alarm["kind"] == "press_dropped" and alarm["device"] == DEVICE
    assert alarm["key"] == Key.CALL_NEXT and alarm["window"] == "w01"
    assert alarm["request_id"] == pending.request_id and alarm["event_id"] and alarm["at"]
    assert alarm["maybe_applied"] is False and alarm["age_s"] >= 121
    assert set(alarm) <= {
        "event_id", "at", "device", "bridge", "kind", "key", "arg", "window", "command",
        "request_id", "pressed_at", "age_s", "attempts", "maybe_applied",
    }  # fmt: skip
    assert bridge.queue.wait_idle(5)
    assert bridge.queue.stats().dropped == 1 and bridge.results == [(pending, None)]
    assert next_call(broker, hall_id) == "A001", "a dropped press must never reach the server"


def test_a_press_that_ages_out_during_an_outage_is_reported_when_the_broker_returns(
    broker, hall_config, make_bridge, tmp_path
):
    hall_id = hall_config.hall.id
    now = [time.time()]
    state_dir = tmp_path / "bridge"
    bridge = make_bridge(hall_config, state_dir, max_age_s=120, clock=lambda: now[0])
    broker.stop()
    pending = bridge.queue.put(key_press(hall_config, Key.CALL_NEXT))
    now[0] += 121
    wait_until(lambda: bridge.queue.stats().dropped == 1, what="the stale press dropped")
    assert [a["request_id"] for a in bridge.queue.store.alarms()] == [pending.request_id]
    bridge.close()  # the bridge goes down too; the unsent alarm stays on disk

    broker.start()
    probe = fresh_probe(broker, f"yc/{hall_id}/event/alarm")
    try:
        again = make_bridge(hall_config, state_dir, max_age_s=120, clock=lambda: now[0])
        message = probe.wait_for(f"yc/{hall_id}/event/alarm", timeout=15)
        assert json.loads(message.payload)["request_id"] == pending.request_id
        assert again.queue.wait_idle(5) and again.queue.store.alarms() == []
    finally:
        probe.close()


def test_a_bridge_restart_delivers_pending_presses_once_in_order(
    broker, hall, hall_config, make_bridge, tmp_path
):
    hall_id = hall_config.hall.id
    prepare_w01(broker, hall_id, tickets=3)
    state_dir = tmp_path / "bridge"
    first = make_bridge(hall_config, state_dir, start_sender=False)
    call = first.queue.put(key_press(hall_config, Key.CALL_NEXT))
    start = first.queue.put(key_press(hall_config, Key.START))
    first.close()  # power cut before anything was sent

    second = make_bridge(hall_config, state_dir)
    assert second.queue.wait_idle(20)
    assert [(p.request_id, r["ok"] if r else None) for p, r in second.results] == [
        (call.request_id, True),
        (start.request_id, True),
    ]
    later = second.queue.put(key_press(hall_config, Key.FINISH))
    assert later.seq > start.seq  # the counter survived the restart: no id is reused
    assert second.queue.wait_idle(20)
    assert next_call(broker, hall_id) == "A002"


def test_a_press_sent_but_unanswered_before_a_crash_is_not_applied_twice(
    broker, hall, hall_config, make_bridge, tmp_path
):
    hall_id = hall_config.hall.id
    prepare_w01(broker, hall_id, tickets=3)
    state_dir = tmp_path / "bridge"
    probe = fresh_probe(broker, f"yc/{hall_id}/state/window/w01")
    try:
        deaf = make_bridge(hall_config, state_dir, rpc_class=DeafCommandClient, reply_timeout_s=0.2)
        pending = deaf.queue.put(key_press(hall_config, Key.CALL_NEXT))
        # the server applied it; the bridge never heard back
        probe.wait_for(f"yc/{hall_id}/state/window/w01", lambda m: json.loads(m.payload)["ticket"] == "A001")
        wait_until(lambda: deaf.queue.stats().retried >= 1, what="a retry")
        deaf.close()
    finally:
        probe.close()

    restarted = make_bridge(hall_config, state_dir)
    assert restarted.queue.wait_idle(20)
    [(delivered, reply)] = restarted.results
    assert delivered.request_id == pending.request_id and delivered.attempts >= 1
    assert reply is not None and reply["result"]["ticket"]["no"] == "A001"  # the first answer, again
    assert next_call(broker, hall_id) == "A002"


def test_a_refusal_is_final_and_not_retried(broker, hall, hall_config, make_bridge, tmp_path):
    bridge = make_bridge(hall_config, tmp_path / "bridge")
    bridge.queue.put(key_press(hall_config, Key.CALL_NEXT))  # window 1 is still closed
    assert bridge.queue.wait_idle(10)
    [(_, reply)] = bridge.results
    assert reply is not None and reply["ok"] is False and reply["error"]["code"] == "window_closed"
    stats = bridge.queue.stats()
    assert stats.rejected == 1 and stats.retried == 0 and stats.queued == 0


def test_two_bridges_cannot_share_one_state_directory(tmp_path):
    store = PressStore(tmp_path, BRIDGE)
    try:
        with pytest.raises(PressQueueLocked):
            PressStore(tmp_path, BRIDGE)
    finally:
        store.close()
    PressStore(tmp_path, BRIDGE).close()  # released on close
