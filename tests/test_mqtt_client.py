"""The MQTT wrapper against a real Mosquitto: availability, republish on reconnect, robust handlers."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import threading
import time
import uuid
from collections.abc import Iterator

import pytest
from helpers.mqtt_probe import MqttProbe

from yichuang.broker_process import BrokerProcess, free_port
from yichuang.mqtt_client import Message, MqttClient, encode_payload, topic_matches

HALL = "testhall"


def _device() -> str:
    return f"dev-{uuid.uuid4().hex[:8]}"


def _wait_until(condition: object, timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if callable(condition) and condition():
            return True
        time.sleep(0.02)
    return False


@pytest.fixture
def make_client(broker: BrokerProcess) -> Iterator[object]:
    """Builds MqttClients for the test broker and stops whatever is still running afterwards."""
    made: list[MqttClient] = []

    def make(device: str | None = None, **kwargs: object) -> MqttClient:
        device = device or _device()
        client = MqttClient(
            host=broker.host, port=broker.port, client_id=f"test-{device}", hall=HALL, device=device, **kwargs
        )
        made.append(client)
        return client

    yield make
    for client in made:
        client.stop()


def test_status_is_online_and_retained_after_start(make_client, mqtt_probe: MqttProbe) -> None:
    client = make_client()
    client.start()
    assert client.connected
    assert client.status_topic == f"yc/{HALL}/device/{client.device}/status"

    # A subscriber arriving later still learns the status: it is retained.
    mqtt_probe.subscribe(client.status_topic)
    message = mqtt_probe.wait_for(client.status_topic)
    assert message.payload == b"online"
    assert message.retain


def test_clean_stop_publishes_offline_first(make_client, mqtt_probe: MqttProbe) -> None:
    client = make_client()
    client.start()
    mqtt_probe.subscribe(client.status_topic)
    mqtt_probe.wait_for(client.status_topic, lambda m: m.payload == b"online")

    client.stop()

    mqtt_probe.wait_for(client.status_topic, lambda m: m.payload == b"offline", timeout=3)
    assert not client.connected


def test_killed_process_goes_offline_through_the_last_will(
    broker: BrokerProcess, mqtt_probe: MqttProbe
) -> None:
    device = _device()
    status_topic = f"yc/{HALL}/device/{device}/status"
    mqtt_probe.subscribe(status_topic)
    script = textwrap.dedent(
        f"""
        import sys, time
        from yichuang.mqtt_client import MqttClient
        client = MqttClient(host={broker.host!r}, port={broker.port}, client_id="killed-{device}",
                            hall={HALL!r}, device={device!r})
        client.start()
        print("ready", flush=True)
        time.sleep(60)
        """
    )
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == "ready"
        mqtt_probe.wait_for(status_topic, lambda m: m.payload == b"online")
        proc.kill()  # SIGKILL: no chance to say goodbye
        proc.wait(5)
        will = mqtt_probe.wait_for(status_topic, lambda m: m.payload == b"offline", timeout=5)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert will.payload == b"offline"

    # The will is retained: a dashboard opened later sees the device offline.
    late = MqttProbe(broker.host, broker.port).connect()
    try:
        late.subscribe(status_topic)
        assert late.wait_for(status_topic).payload == b"offline"
    finally:
        late.close()


def test_connect_hooks_republish_state_after_broker_restart(broker: BrokerProcess, make_client) -> None:
    client = make_client()
    state_topic = f"yc/{HALL}/state/window/w03"
    runs: list[float] = []

    def republish() -> None:
        runs.append(time.monotonic())
        client.publish(state_topic, {"window": "w03", "label": "3号窗口", "status": "idle"}, retain=True)

    client.add_connect_hook(republish)
    client.start()
    assert _wait_until(lambda: len(runs) == 1)

    broker.restart()  # the broker forgets every retained message and session

    assert _wait_until(lambda: len(runs) >= 2 and client.connected, timeout=10), (
        "hook did not run on reconnect"
    )
    probe = MqttProbe(broker.host, broker.port).connect()
    try:
        probe.subscribe(state_topic)
        state = probe.wait_for(state_topic, lambda m: m.retain, timeout=5)
        assert state.json()["label"] == "3号窗口"
        probe.subscribe(client.status_topic)
        assert probe.wait_for(client.status_topic, lambda m: m.retain).payload == b"online"
    finally:
        probe.close()


def test_subscriptions_survive_a_broker_restart(broker: BrokerProcess, make_client) -> None:
    client = make_client()
    got: list[Message] = []
    client.subscribe(f"yc/{HALL}/cmd/#", got.append)
    client.start()

    broker.restart()
    assert _wait_until(lambda: client.connected, timeout=10)

    probe = MqttProbe(broker.host, broker.port).connect()
    try:
        # The resubscription races the probe: publish until it gets through.
        assert _wait_until(
            lambda: probe.publish(f"yc/{HALL}/cmd/ticket/issue", {"id": "r1"}) or bool(got), timeout=5
        )
    finally:
        probe.close()
    assert got[0].topic == f"yc/{HALL}/cmd/ticket/issue"


def test_handler_exception_does_not_stop_later_messages(make_client, mqtt_probe: MqttProbe) -> None:
    client = make_client()
    topic = f"yc/{HALL}/cmd/window/w01/call_next"
    seen: list[bytes] = []
    done = threading.Event()

    def flaky(message: Message) -> None:
        seen.append(message.payload)
        if len(seen) == 3:
            done.set()
        if message.payload == b"boom":
            raise RuntimeError("handler bug")

    client.subscribe(topic, flaky)
    client.start()
    for payload in ("boom", "second", "third"):
        mqtt_probe.publish(topic, payload)

    assert done.wait(5), f"only got {seen}"
    assert seen == [b"boom", b"second", b"third"]
    assert client.connected


def test_homeassistant_online_reruns_connect_hooks(make_client, mqtt_probe: MqttProbe) -> None:
    client = make_client()
    runs: list[int] = []
    client.add_connect_hook(lambda: runs.append(1))
    client.start()
    assert _wait_until(lambda: len(runs) == 1)

    mqtt_probe.publish("homeassistant/status", "offline")
    mqtt_probe.publish("homeassistant/status", "online")

    assert _wait_until(lambda: len(runs) == 2)
    time.sleep(0.2)
    assert len(runs) == 2, "only `online` triggers a republish"


def test_retained_homeassistant_online_does_not_trigger_a_second_republish(
    make_client, mqtt_probe: MqttProbe
) -> None:
    mqtt_probe.publish("homeassistant/status", "online", retain=True)
    try:
        client = make_client()
        runs: list[int] = []
        client.add_connect_hook(lambda: runs.append(1))
        client.start()
        time.sleep(0.5)
        assert len(runs) == 1
    finally:
        mqtt_probe.publish("homeassistant/status", b"", retain=True)  # clear the retained message


def test_overlapping_filters_call_each_handler_once(make_client, mqtt_probe: MqttProbe) -> None:
    client = make_client()
    narrow: list[str] = []
    wide: list[str] = []
    client.subscribe(f"yc/{HALL}/event/ticket_called", lambda m: narrow.append(m.topic))
    client.subscribe(f"yc/{HALL}/event/#", lambda m: wide.append(m.topic))
    client.start()

    mqtt_probe.publish(f"yc/{HALL}/event/ticket_called", {"event_id": "e1"})

    assert _wait_until(lambda: narrow and wide)
    time.sleep(0.2)
    assert len(narrow) == 1
    assert len(wide) == 1


def test_json_payload_is_compact_utf8(make_client, mqtt_probe: MqttProbe) -> None:
    client = make_client()
    client.start()
    topic = f"yc/{HALL}/event/ticket_called"
    mqtt_probe.subscribe(topic)

    client.publish(topic, {"ticket": "A012", "label": "3号窗口"})

    message = mqtt_probe.wait_for(topic)
    assert message.payload == '{"ticket":"A012","label":"3号窗口"}'.encode()
    assert not message.retain


def test_v5_response_topic_and_correlation_data_round_trip(make_client, mqtt_probe: MqttProbe) -> None:
    server = make_client("server")
    cmd_topic = f"yc/{HALL}/cmd/ticket/issue"
    reply_topic = f"yc/{HALL}/reply/probe"

    def answer(message: Message) -> None:
        assert message.response_topic is not None
        server.publish(message.response_topic, {"ok": True}, correlation_data=message.correlation_data)

    server.subscribe(cmd_topic, answer)
    server.start()
    mqtt_probe.subscribe(reply_topic)

    mqtt_probe.publish(cmd_topic, {"id": "x"}, response_topic=reply_topic, correlation_data=b"\x01corr")

    reply = mqtt_probe.wait_for(reply_topic)
    assert reply.correlation_data == b"\x01corr"
    assert reply.json() == {"ok": True}


def test_start_raises_connection_error_when_no_broker() -> None:
    client = MqttClient(host="127.0.0.1", port=free_port(), client_id="nobody", hall=HALL, device="nobody")
    started = time.monotonic()
    with pytest.raises(ConnectionError):
        client.start(wait_s=1.0)
    assert time.monotonic() - started < 5


def test_mqtt_v311_also_works(make_client, mqtt_probe: MqttProbe) -> None:
    client = make_client(protocol_v5=False)
    got: list[Message] = []
    client.subscribe(f"yc/{HALL}/device/{client.device}/set", got.append)
    client.start()
    mqtt_probe.subscribe(client.status_topic)
    assert mqtt_probe.wait_for(client.status_topic).payload == b"online"

    mqtt_probe.publish(f"yc/{HALL}/device/{client.device}/set", {"reboot": True})

    assert _wait_until(lambda: got)
    assert got[0].json() == {"reboot": True}


def test_topic_matches_follows_mqtt_wildcards() -> None:
    assert topic_matches("yc/+/state/#", "yc/h1/state/window/w03")
    assert topic_matches("yc/h1/#", "yc/h1")
    assert not topic_matches("yc/+/state", "yc/h1/state/window")


def test_encode_payload_rejects_other_types() -> None:
    assert encode_payload("在线") == "在线".encode()
    assert encode_payload(b"\x00") == b"\x00"
    with pytest.raises(TypeError):
        encode_payload(3)  # type: ignore[arg-type]
