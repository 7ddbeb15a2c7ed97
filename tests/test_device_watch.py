"""DeviceWatch: what the dashboard learns from device status/info/telemetry and `event/alarm`."""

from __future__ import annotations

import json
import logging
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from queue_server.device_watch import MAX_ALARMS, DeviceWatch
from yichuang.mqtt_client import Message, topic_matches

HALL = "testhall"
ROOT = f"yc/{HALL}/"
NOW = datetime(2026, 11, 23, 9, 41, tzinfo=ZoneInfo("Asia/Shanghai"))


class FakeClient:
    """Stands in for MqttClient: records subscriptions and delivers messages to matching handlers."""

    def __init__(self) -> None:
        self.subs: list[tuple[str, Any, int]] = []

    def subscribe(self, topic_filter: str, handler: Any, qos: int = 1) -> None:
        self.subs.append((topic_filter, handler, qos))

    def deliver(self, topic: str, payload: bytes | str | dict[str, Any], retain: bool = False) -> None:
        if isinstance(payload, dict):
            payload = json.dumps(payload, ensure_ascii=False)
        if isinstance(payload, str):
            payload = payload.encode()
        message = Message(topic=topic, payload=payload, retain=retain)
        for topic_filter, handler, _qos in self.subs:
            if topic_matches(topic_filter, topic):
                handler(message)


@pytest.fixture
def client() -> FakeClient:
    return FakeClient()


@pytest.fixture
def watch(client: FakeClient) -> DeviceWatch:
    return DeviceWatch(client, HALL, lambda: NOW)  # type: ignore[arg-type]


def test_subscribes_to_the_four_topics(client: FakeClient, watch: DeviceWatch) -> None:
    filters = {f: q for f, _h, q in client.subs}
    assert filters == {
        ROOT + "device/+/status": 1,
        ROOT + "device/+/info": 1,
        ROOT + "device/+/telemetry": 0,
        ROOT + "event/alarm": 1,
    }


def test_status_info_and_telemetry_make_one_record(client: FakeClient, watch: DeviceWatch) -> None:
    client.deliver(ROOT + "device/kiosk-01/status", "online", retain=True)
    client.deliver(
        ROOT + "device/kiosk-01/info", {"kind": "kiosk", "model": "yichuang-kiosk", "version": "1.0"}
    )
    client.deliver(ROOT + "device/kiosk-01/telemetry", {"uptime_s": 120, "paper": "low", "server": "online"})
    record = watch.device("kiosk-01")
    assert record == {
        "device": "kiosk-01",
        "kind": "kiosk",
        "status": "online",
        "info": {"kind": "kiosk", "model": "yichuang-kiosk", "version": "1.0"},
        "telemetry": {"uptime_s": 120, "paper": "low", "server": "online"},
        "status_at": "2026-11-23T09:41:00+08:00",
        "telemetry_at": "2026-11-23T09:41:00+08:00",
    }
    client.deliver(ROOT + "device/kiosk-01/status", b" offline\n")
    assert watch.device("kiosk-01")["status"] == "offline"  # type: ignore[index]


def test_devices_are_sorted_by_kind_then_id(client: FakeClient, watch: DeviceWatch) -> None:
    for device, kind in [
        ("kiosk-02", "kiosk"),
        ("caller-w01", "caller"),
        ("kiosk-01", "kiosk"),
        ("server", "queue_server"),
        ("bridge-01", "bridge"),
        ("zz", "weird_thing"),
    ]:
        client.deliver(ROOT + f"device/{device}/info", {"kind": kind})
    client.deliver(ROOT + "device/mystery/status", "online")  # no info yet: kind unknown, last
    order = [r["device"] for r in watch.devices()]
    assert order == ["server", "bridge-01", "kiosk-01", "kiosk-02", "caller-w01", "zz", "mystery"]


def test_malformed_payloads_are_ignored_with_a_warning(
    client: FakeClient, watch: DeviceWatch, caplog: pytest.LogCaptureFixture
) -> None:
    client.deliver(ROOT + "device/kiosk-01/status", "online")
    with caplog.at_level(logging.WARNING, logger="queue_server.device_watch"):
        client.deliver(ROOT + "device/kiosk-01/status", "maybe")
        client.deliver(ROOT + "device/kiosk-01/info", b"{not json")
        client.deliver(ROOT + "device/kiosk-01/telemetry", b"[1, 2, 3]")
        client.deliver(ROOT + "device/kiosk-01/telemetry", b"\xff\xfe")
        client.deliver(ROOT + "device/kiosk-01/telemetry", json.dumps({"x": "y" * 20000}))
        client.deliver(ROOT + "event/alarm", b"oops")
        client.deliver(ROOT + "event/alarm", {"event_id": "e1", "device": "kiosk-01"})  # no kind
        client.deliver(ROOT + "event/alarm", {"event_id": "e2", "kind": 7})
    assert len([r for r in caplog.records if r.levelno == logging.WARNING]) == 8
    record = watch.device("kiosk-01")
    assert record is not None and record["status"] == "online"
    assert record["info"] is None and record["telemetry"] is None
    assert watch.alarms() == []


def test_personal_data_is_never_kept(client: FakeClient, watch: DeviceWatch) -> None:
    client.deliver(
        ROOT + "device/kiosk-01/telemetry",
        {"uptime_s": 5, "phone": "13800000000", "last": {"name": "张三", "id_number": "x", "ok": 1}},
    )
    client.deliver(
        ROOT + "event/alarm",
        {
            "event_id": "a1",
            "at": "2026-11-23T09:00:00+08:00",
            "kind": "print_failed",
            "device": "kiosk-01",
            "Phone": "138",
        },
    )
    assert watch.device("kiosk-01")["telemetry"] == {"uptime_s": 5, "last": {"ok": 1}}  # type: ignore[index]
    assert watch.alarms() == [
        {"event_id": "a1", "at": "2026-11-23T09:00:00+08:00", "kind": "print_failed", "device": "kiosk-01"}
    ]


def test_alarms_newest_first_bounded_and_deduplicated(client: FakeClient, watch: DeviceWatch) -> None:
    for n in range(MAX_ALARMS + 20):
        client.deliver(
            ROOT + "event/alarm",
            {
                "event_id": f"e{n}",
                "at": "2026-11-23T09:00:00+08:00",
                "kind": "press_dropped",
                "device": "caller-w03",
            },
        )
    client.deliver(
        ROOT + "event/alarm", {"event_id": f"e{MAX_ALARMS + 19}", "kind": "press_dropped"}
    )  # a resend
    alarms = watch.alarms()
    assert len(alarms) == MAX_ALARMS
    assert alarms[0]["event_id"] == f"e{MAX_ALARMS + 19}" and alarms[-1]["event_id"] == "e20"
    client.deliver(ROOT + "event/alarm", {"kind": "paper_out", "device": "kiosk-01"})  # no time: ours
    assert watch.alarms()[0] == {"kind": "paper_out", "device": "kiosk-01", "at": "2026-11-23T09:41:00+08:00"}


def test_listeners_hear_every_change(client: FakeClient, watch: DeviceWatch) -> None:
    heard: list[tuple[str, dict[str, Any]]] = []
    watch.add_listener(lambda kind, data: heard.append((kind, data)))
    watch.add_listener(lambda kind, data: 1 / 0)  # a broken listener does not stop the others
    client.deliver(ROOT + "device/bridge-01/status", "online")
    client.deliver(ROOT + "event/alarm", {"event_id": "x", "kind": "paper_low", "device": "kiosk-01"})
    client.deliver(ROOT + "device/bridge-01/status", "")  # retained status cleared: the device is gone
    assert [k for k, _ in heard] == ["device", "alarm", "device"]
    assert heard[0][1]["status"] == "online"
    assert heard[2][1] == {"device": "bridge-01", "removed": True}
    assert watch.devices() == []


def test_odd_topics_are_ignored(client: FakeClient, watch: DeviceWatch) -> None:
    handler = next(h for f, h, _ in client.subs if f.endswith("/status"))
    handler(Message(topic=ROOT + "device/a/b/status", payload=b"online", retain=False))
    handler(Message(topic=ROOT + "device/" + "x" * 200 + "/status", payload=b"online", retain=False))
    assert watch.devices() == []
