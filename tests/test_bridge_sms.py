"""SMS end to end: `device/{modem}/set` on a real Mosquitto -> bridge -> AT dialogue on a real pty or
socket:// -> simulated modem, and `event/sms_sent` / `event/sms_failed` back, with no phone number
or text in any event, telemetry or log line."""

from __future__ import annotations

import json
import logging
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import pytest
from helpers.halls import small_hall
from helpers.mqtt_probe import MqttProbe
from helpers.server import example_toml, on_ports

from firmware_bridge.bridge import Bridge
from firmware_bridge.codecs.sms_pdu import SmsMessage, encode_submit
from firmware_bridge.modem import ModemLine
from hw_sim.gsm_modem import SimModem, SimModemLine
from hw_sim.hall_sim import HallSim, rewritten_config
from yichuang.broker_process import BrokerProcess, free_port
from yichuang.config import load_config
from yichuang.config_model import DeviceConfig

NUMBER = "+8613812345678"
CODE = "482913"
TEXT = (
    "【青浦区政务服务中心】您的办件结果已放入一楼12号窗口旁的自助文件柜，"
    f"取件码 {CODE}，请于7日内凭取件码取件。如有疑问请咨询12号窗口。"
)


@dataclass
class Hall:
    hall: str
    sim: SimModem
    bridge: Bridge
    probe: MqttProbe

    @property
    def root(self) -> str:
        return f"yc/{self.hall}/"

    def set(self, payload: dict[str, object] | str) -> None:
        self.probe.publish(f"{self.root}device/modem-01/set", payload)

    def events(self, kind: str) -> list[dict[str, object]]:
        return [json.loads(m.payload) for m in self.probe.received(f"{self.root}event/{kind}")]

    def wait_event(self, kind: str, sms_id: str, timeout: float = 8.0) -> dict[str, object]:
        message = self.probe.wait_for(
            f"{self.root}event/{kind}", lambda m: json.loads(m.payload)["id"] == sms_id, timeout=timeout
        )
        return dict(json.loads(message.payload))


@pytest.fixture(params=["pty", "tcp"])
def hall(
    request: pytest.FixtureRequest, broker: BrokerProcess, mqtt_probe: MqttProbe, tmp_path: Path
) -> Iterator[Hall]:
    sim = SimModem()
    line = SimModemLine.pty(sim) if request.param == "pty" else SimModemLine.tcp(sim)
    line.start()
    modem = DeviceConfig(id="modem-01", kind="modem", port=line.url, bridge="bridge-01")
    config = on_ports(small_hall(), broker.url, f"sqlite:///{tmp_path / 'hall.db'}")
    config = replace(config, hall=replace(config.hall, id=f"t{uuid.uuid4().hex[:8]}"), devices=(modem,))
    bridge = Bridge(config, "bridge-01", tmp_path / "bridge", telemetry_s=0.3)
    [driver] = bridge.buses
    assert isinstance(driver, ModemLine)
    # the production pauses are seconds; the simulator answers at once
    driver.check_s = 0.3
    driver.retry_pause_s = 0.05
    driver.command_timeout_s = driver.prompt_timeout_s = 0.5
    driver.send_timeout_s = 1.0
    mqtt_probe.subscribe(f"yc/{config.hall.id}/#")
    bridge.start()
    wiring = Hall(config.hall.id, sim, bridge, mqtt_probe)
    try:
        mqtt_probe.wait_for(f"{wiring.root}device/modem-01/status", lambda m: m.payload == b"online")
        yield wiring
    finally:
        bridge.stop()
        line.stop()


def _no_personal_data(hall: Hall, caplog: pytest.LogCaptureFixture) -> None:
    """Neither the number (in any form), the text, its code nor a PDU in a topic or a log line."""
    national = NUMBER.removeprefix("+86")
    forbidden = [
        NUMBER,
        national,
        "3118325476F8",
        CODE,
        TEXT[:12],
        *[p.hex[20:60] for p in encode_submit(NUMBER, TEXT)],
    ]
    for message in hall.probe.messages:
        if message.topic == f"{hall.root}device/modem-01/set":
            continue  # the request itself, published by the test (the server, in a hall)
        payload = message.payload.decode("utf-8", errors="replace")
        assert not any(f in payload for f in forbidden), (message.topic, payload)
    for record in caplog.records:
        line = record.getMessage()
        assert not any(f in line for f in forbidden), line
    assert caplog.records, "the bridge logs what it does: the check above must have had lines to read"


def test_a_two_part_chinese_text_reaches_the_phone_once_and_says_so_once(
    hall: Hall, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    hall.set({"sms": {"to": NUMBER, "text": TEXT, "id": "sms-0001"}})
    event = hall.wait_event("sms_sent", "sms-0001")
    assert hall.sim.sent == (SmsMessage(NUMBER, TEXT, 2),)
    assert set(event) == {"event_id", "at", "id", "device", "parts"}
    assert event["device"] == "modem-01" and event["parts"] == 2
    assert str(event["at"]).endswith("+08:00")  # the hall's timezone
    time.sleep(0.5)
    assert len(hall.events("sms_sent")) == 1 and hall.events("sms_failed") == []
    _no_personal_data(hall, caplog)


def test_the_same_id_again_is_reported_but_not_sent_twice(
    hall: Hall, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    request = {"sms": {"to": NUMBER, "text": TEXT, "id": "sms-0002"}}
    hall.set(request)
    first = hall.wait_event("sms_sent", "sms-0002")
    hall.set(request)  # the server had no answer in time and retries
    hall.probe.wait_for(f"{hall.root}event/sms_sent", lambda m: len(hall.events("sms_sent")) == 2)
    second = hall.events("sms_sent")[1]
    assert second["id"] == "sms-0002" and second["parts"] == 2 and second["repeat"] is True
    assert second["event_id"] != first["event_id"]
    assert len(hall.sim.sent) == 1 and len(hall.sim.submissions) == 2
    _no_personal_data(hall, caplog)


def test_a_modem_that_refuses_every_try_yields_sms_failed_after_three(
    hall: Hall, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    hall.sim.fail_next(3)  # +CMS ERROR: 500, three times: every attempt
    hall.set({"sms": {"to": NUMBER, "text": TEXT, "id": "sms-0003"}})
    event = hall.wait_event("sms_failed", "sms-0003")
    assert set(event) == {"event_id", "at", "id", "device", "error"}
    assert event["error"] == "send_failed" and event["device"] == "modem-01"
    assert hall.sim.sent == () and hall.events("sms_sent") == []
    attempts = [r for r in caplog.records if "event=sms_attempt_failed" in r.getMessage()]
    assert len(attempts) == 3
    assert "to=+86138****5678" in attempts[0].getMessage()  # masked: a technician can tell texts apart
    _no_personal_data(hall, caplog)


def test_an_unregistered_modem_goes_offline_and_fails_not_registered(hall: Hall) -> None:
    status = f"{hall.root}device/modem-01/status"
    hall.probe.clear()
    hall.sim.set_registered(False)
    hall.probe.wait_for(status, lambda m: m.payload == b"offline")
    hall.set({"sms": {"to": "13812345678", "text": "取件码 482913", "id": "sms-0004"}})
    assert hall.wait_event("sms_failed", "sms-0004")["error"] == "not_registered"
    telemetry = f"{hall.root}device/modem-01/telemetry"
    hall.probe.wait_for(telemetry, lambda m: json.loads(m.payload)["registered"] is False)
    hall.sim.set_registered(True)
    hall.probe.wait_for(status, lambda m: m.payload == b"online")
    hall.set({"sms": {"to": "13812345678", "text": "取件码 482913", "id": "sms-0004"}})
    assert hall.wait_event("sms_sent", "sms-0004")["parts"] == 1


@pytest.mark.parametrize(
    ("sms", "reason"),
    [
        ({"to": "138-1234-5678", "text": "x", "id": "sms-bad-1"}, '"to"'),
        ({"to": "1234", "text": "x", "id": "sms-bad-2"}, '"to"'),
        ({"to": 13812345678, "text": "x", "id": "sms-bad-3"}, '"to"'),
        ({"to": NUMBER, "text": "", "id": "sms-bad-4"}, '"text"'),
        ({"to": NUMBER, "text": "中" * 400, "id": "sms-bad-5"}, "parts"),
        ({"to": NUMBER, "id": "sms-bad-6"}, '"text"'),
    ],
)
def test_an_invalid_request_yields_sms_failed_invalid_request(
    hall: Hall, caplog: pytest.LogCaptureFixture, sms: dict[str, object], reason: str
) -> None:
    caplog.set_level(logging.DEBUG)
    hall.set({"sms": sms})
    event = hall.wait_event("sms_failed", str(sms["id"]))
    assert event["error"] == "invalid_request"
    assert hall.sim.submissions == ()
    warnings = [r.getMessage() for r in caplog.records if "event=sms_invalid" in r.getMessage()]
    assert len(warnings) == 1 and reason in warnings[0]
    assert all(str(sms.get("to")) not in r.getMessage() for r in caplog.records)


def test_a_request_without_an_id_is_only_logged(hall: Hall, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    hall.set({"sms": {"to": NUMBER, "text": TEXT}})
    hall.set({"sms": {"to": NUMBER, "text": TEXT, "id": ""}})
    hall.set("not json")
    hall.set({"text": "a panel's command, sent to the modem"})
    hall.set({"sms": {"to": NUMBER, "text": "取件码 1", "id": "sms-0005"}})  # a good one after them
    hall.wait_event("sms_sent", "sms-0005")
    assert hall.events("sms_failed") == []
    assert len([r for r in caplog.records if "event=sms_invalid" in r.getMessage()]) == 4
    _no_personal_data(hall, caplog)


def test_telemetry_discovery_and_info_of_the_modem(hall: Hall) -> None:
    hall.set({"sms": {"to": NUMBER, "text": "取件码 1", "id": "sms-0006"}})
    hall.wait_event("sms_sent", "sms-0006")
    telemetry = hall.probe.wait_for(
        f"{hall.root}device/modem-01/telemetry", lambda m: json.loads(m.payload).get("sent") == 1
    )
    fields = json.loads(telemetry.payload)
    assert fields["signal"] == 21 and fields["registered"] is True and fields["failed"] == 0
    assert fields["online"] is True
    info = json.loads(hall.probe.wait_for(f"{hall.root}device/modem-01/info").payload)
    assert info["kind"] == "modem"
    hall.probe.subscribe(f"homeassistant/device/yc_{hall.hall}_modem-01/config")
    discovery = json.loads(
        hall.probe.wait_for(f"homeassistant/device/yc_{hall.hall}_modem-01/config").payload
    )
    assert {"online", "signal", "sms_sent", "sms_failed"} <= set(discovery["components"])
    bridge = json.loads(hall.probe.wait_for(f"{hall.root}device/bridge-01/telemetry").payload)
    assert bridge["frames_ok"] > 0


def test_the_example_hall_simulated_and_bridged_sends_a_pickup_code(
    broker: BrokerProcess, mqtt_probe: MqttProbe, tmp_path: Path
) -> None:
    """What `yichuang sim` + `yichuang bridge` (and `make demo`) run: the example's modem-01 on
    /dev/ttyUSB3, served on a pty, the bridge on the rewritten config with its default timings."""
    hall_id = f"t{uuid.uuid4().hex[:8]}"
    path = example_toml(tmp_path, broker.url, f"sqlite:///{tmp_path / 'hall.db'}", free_port(), hall_id)
    config = load_config(path)
    with HallSim(config, "pty", link_dir=tmp_path / "dev") as sim:
        bridge = Bridge(rewritten_config(config, sim.urls), "bridge-01", tmp_path / "bridge", gpio="mock")
        root = f"yc/{hall_id}/"
        mqtt_probe.subscribe(f"{root}#")
        bridge.start()
        try:
            mqtt_probe.wait_for(f"{root}device/modem-01/status", lambda m: m.payload == b"online", timeout=10)
            mqtt_probe.publish(
                f"{root}device/modem-01/set", {"sms": {"to": NUMBER, "text": TEXT, "id": "d-1"}}
            )
            event = json.loads(mqtt_probe.wait_for(f"{root}event/sms_sent", timeout=10).payload)
            assert event["id"] == "d-1" and event["parts"] == 2
            assert sim.modem("modem-01").sent == (SmsMessage(NUMBER, TEXT, 2),)
        finally:
            bridge.stop()
