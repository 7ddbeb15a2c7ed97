"""The queue server through its public MQTT contract, on a real Mosquitto and a real database."""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import replace

import paho.mqtt.client as paho
import pytest
from helpers.halls import small_hall
from helpers.server import Caller, on_ports, start_server
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from queue_server.app import Server
from yichuang.config_model import Config


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'hall.db'}"
    return request.getfixturevalue("pg_url")


@pytest.fixture
def hall_config(broker, db_url) -> Config:
    # a fresh hall id per test keeps PostgreSQL runs apart in the one shared database
    config = on_ports(small_hall(), broker.url, db_url)
    return replace(config, hall=replace(config.hall, id=f"t{uuid.uuid4().hex[:10]}"))


@pytest.fixture
def server(hall_config) -> Iterator[Server]:
    srv = start_server(hall_config)
    try:
        yield srv
    finally:
        srv.stop()


@pytest.fixture
def caller(broker, hall_config, server) -> Iterator[Caller]:
    c = Caller(broker.port, hall_config.hall.id)
    try:
        yield c
    finally:
        c.close()


def open_all(caller: Caller) -> None:
    for w in ("w01", "w02", "w03", "w09"):
        assert caller(f"window/{w}/open", clerk="S1001")["ok"]


def test_citizen_takes_a_ticket_and_sees_place_and_wait(caller, hall_config):
    open_all(caller)
    first = caller("ticket/issue", service="A", kiosk="kiosk-01")
    assert first["ok"], first
    result = first["result"]
    assert result["ticket"]["no"] == "A001" and result["ticket"]["status"] == "waiting"
    assert result["ahead"] == 0 and isinstance(result["ewt_s"], int)
    assert "/t/" in result["status_url"]
    second = caller("ticket/issue", service="A", kiosk="kiosk-02")["result"]
    assert second["ticket"]["no"] == "A002" and second["ahead"] == 1


def test_call_next_updates_retained_window_state_and_announces(caller, mqtt_probe, hall_config):
    root = f"yc/{hall_config.hall.id}/"
    mqtt_probe.subscribe(root + "event/ticket_called")
    open_all(caller)
    caller("ticket/issue", service="B", kiosk="kiosk-01")
    called = caller("window/w02/call_next", clerk="S1002")
    assert called["ok"] and called["result"]["ticket"]["no"] == "B001"
    event = json.loads(mqtt_probe.wait_for(root + "event/ticket_called").payload)
    assert event["ticket"] == "B001" and event["window"] == "w02" and event["event_id"]
    mqtt_probe.subscribe(root + "state/#")  # a display starting now sees the truth at once
    state = mqtt_probe.wait_for(
        root + "state/window/w02", lambda m: json.loads(m.payload)["ticket"] == "B001"
    )
    assert state.retain
    window = json.loads(state.payload)
    assert window["status"] == "calling" and window["label"] == "2号窗口" and window["service"] == "B"
    # the recent-calls list is a hall-wide summary, published at most every 50 ms
    calls = json.loads(
        mqtt_probe.wait_for(root + "state/calls", lambda m: json.loads(m.payload)["recent"]).payload
    )
    assert calls["recent"][0]["ticket"] == "B001"


def test_a_retried_request_gets_the_first_answer_and_changes_nothing(caller):
    open_all(caller)
    once = caller("ticket/issue", request_id="kiosk-01-req-1", service="A", kiosk="kiosk-01")
    again = caller("ticket/issue", request_id="kiosk-01-req-1", service="A", kiosk="kiosk-01")
    assert once == again
    assert caller("ticket/issue", service="A", kiosk="kiosk-01")["result"]["ticket"]["no"] == "A002"
    bad = caller("ticket/issue", request_id="kiosk-01-req-2", service="nope", kiosk="kiosk-01")
    assert bad == caller("ticket/issue", request_id="kiosk-01-req-2", service="A", kiosk="kiosk-01")


@pytest.mark.parametrize(
    ("path", "args", "code"),
    [
        ("ticket/issue", {"service": "A", "kiosk": "kiosk-01", "colour": "red"}, "invalid_request"),
        ("ticket/issue", {"service": 7, "kiosk": "kiosk-01"}, "invalid_request"),
        ("ticket/issue", {"kiosk": "kiosk-01"}, "invalid_request"),
        ("ticket/issue", {"service": "A", "kiosk": "kiosk-01", "priority": "vip"}, "invalid_request"),
        ("ticket/issue", {"service": "Z", "kiosk": "kiosk-01"}, "unknown_service"),
        ("window/w77/call_next", {}, "unknown_window"),
        ("window/w01/evaluate", {"score": 6}, "invalid_request"),
        ("window/w01/evaluate", {"score": "5"}, "invalid_request"),
        ("window/w01/start", {}, "no_ticket"),
        ("window/w01/launch", {}, "unknown_command"),
    ],
)
def test_malformed_commands_get_a_stable_error_and_change_nothing(caller, path, args, code):
    open_all(caller)
    reply = caller(path, **args)
    assert reply["ok"] is False and reply["error"]["code"] == code, reply
    assert reply["error"]["message"]
    assert caller("ticket/issue", service="A", kiosk="kiosk-01")["result"]["ticket"]["no"] == "A001"


def test_call_at_a_paused_window_is_refused(caller):
    open_all(caller)
    caller("ticket/issue", service="A", kiosk="kiosk-01")
    assert caller("window/w01/pause", reason="午休")["ok"]
    assert caller("window/w01/call_next")["error"]["code"] == "window_paused"
    assert caller("window/w01/resume")["ok"]
    assert caller("window/w01/call_next")["result"]["ticket"]["no"] == "A001"


def test_two_clerks_pressing_call_next_at_once_never_get_the_same_ticket(broker, caller, hall_config):
    open_all(caller)
    for _ in range(40):
        caller.rpc.send("ticket/issue", {"service": "A", "kiosk": "kiosk-01"})
    caller("ticket/issue", service="A", kiosk="kiosk-01")
    clerks = [Caller(broker.port, hall_config.hall.id) for _ in range(3)]
    got: list[str] = []
    lock = threading.Lock()

    def press(clerk: Caller, window: str) -> None:
        for _ in range(10):
            reply = clerk(f"window/{window}/call_next")
            if reply["ok"]:
                with lock:
                    got.append(reply["result"]["ticket"]["no"])

    threads = [
        threading.Thread(target=press, args=(c, w))
        for c, w in zip(clerks, ("w01", "w02", "w03"), strict=True)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for clerk in clerks:
        clerk.close()
    assert len(got) == 30 and len(set(got)) == 30


def test_bad_json_with_v5_response_topic_gets_an_error_reply(broker, hall_config, server):
    root = f"yc/{hall_config.hall.id}/"
    replies: list[paho.MQTTMessage] = []
    got = threading.Event()
    client = paho.Client(paho.CallbackAPIVersion.VERSION2, protocol=paho.MQTTv5)
    client.on_message = lambda c, u, m: (replies.append(m), got.set())
    client.connect("127.0.0.1", broker.port)
    client.loop_start()
    try:
        client.subscribe(root + "reply/v5client", qos=1)
        time.sleep(0.2)
        props = Properties(PacketTypes.PUBLISH)
        props.ResponseTopic = root + "reply/v5client"
        props.CorrelationData = b"corr-42"
        client.publish(root + "cmd/ticket/issue", b"{not json", qos=1, properties=props)
        assert got.wait(5)
        body = json.loads(replies[0].payload)
        assert body["ok"] is False and body["error"]["code"] == "invalid_request"
        assert replies[0].properties.CorrelationData == b"corr-42"
    finally:
        client.loop_stop()
        client.disconnect()


def test_reply_to_outside_the_reply_tree_or_with_wildcards_is_dropped(mqtt_probe, hall_config, server):
    root = f"yc/{hall_config.hall.id}/"
    mqtt_probe.subscribe("#")
    for reply_to in ("elsewhere/inbox", root + "reply/+", root + "state/window/w01"):
        mqtt_probe.publish(
            root + "cmd/ticket/issue",
            {"id": uuid.uuid4().hex, "reply_to": reply_to, "service": "A", "kiosk": "k"},
        )
    time.sleep(0.5)
    assert not mqtt_probe.received("elsewhere/inbox")
    assert not [m for m in mqtt_probe.received(root + "event/ticket_issued")]


def test_restart_keeps_numbering_and_answers_old_retries(broker, hall_config):
    srv = start_server(hall_config)
    caller = Caller(broker.port, hall_config.hall.id)
    try:
        open_all(caller)
        first = caller("ticket/issue", request_id="before-restart", service="A", kiosk="kiosk-01")
        caller("ticket/issue", service="A", kiosk="kiosk-01")
        srv.stop()
        srv = start_server(hall_config)
        assert caller("ticket/issue", request_id="before-restart", service="A", kiosk="kiosk-01") == first
        assert caller("ticket/issue", service="A", kiosk="kiosk-01")["result"]["ticket"]["no"] == "A003"
        assert caller("window/w01/call_next")["result"]["ticket"]["no"] == "A001"  # the window stayed open
    finally:
        caller.close()
        srv.stop()


def test_availability_is_retained_online_and_offline_on_clean_stop(broker, mqtt_probe, hall_config):
    topic = f"yc/{hall_config.hall.id}/device/server/status"
    srv = start_server(hall_config)
    mqtt_probe.subscribe(topic)
    assert mqtt_probe.wait_for(topic, lambda m: m.payload == b"online").retain
    info = f"yc/{hall_config.hall.id}/device/server/info"
    mqtt_probe.subscribe(info)
    assert json.loads(mqtt_probe.wait_for(info).payload)["kind"] == "queue_server"
    srv.stop()
    mqtt_probe.wait_for(topic, lambda m: m.payload == b"offline")


def test_restarted_broker_gets_retained_state_back(broker, hall_config, server, caller):
    open_all(caller)
    caller("ticket/issue", service="A", kiosk="kiosk-01")
    caller("window/w01/call_next")
    broker.restart()  # the private broker keeps nothing: every retained topic is gone
    from helpers.mqtt_probe import MqttProbe

    deadline = time.monotonic() + 10
    window = None
    while time.monotonic() < deadline:
        probe = MqttProbe(broker.host, broker.port).connect()
        probe.subscribe(f"yc/{hall_config.hall.id}/state/window/w01")
        try:
            window = json.loads(
                probe.wait_for(f"yc/{hall_config.hall.id}/state/window/w01", timeout=1).payload
            )
            break
        except (TimeoutError, AssertionError):
            continue
        finally:
            probe.close()
    assert window is not None and window["ticket"] == "A001"


def test_home_assistant_discovery_is_published(mqtt_probe, hall_config, server):
    topic = f"homeassistant/device/yc_{hall_config.hall.id}_server/config"
    mqtt_probe.subscribe(topic)
    payload = json.loads(mqtt_probe.wait_for(topic).payload)
    assert payload["availability"][0]["topic"].endswith("/device/server/status")
    assert any(c["state_topic"].endswith("/state/queue/A") for c in payload["components"].values())
