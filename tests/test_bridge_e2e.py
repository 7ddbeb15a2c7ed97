"""Window devices end to end: simulated key -> bridge -> server -> state -> bridge -> simulated panel.

Everything real but the hardware: Mosquitto, the queue server on SQLite, the bridge opening
its lines with pyserial, and simulated devices speaking YC-BUS byte for byte over a pty and
over socket://.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from helpers.halls import small_hall
from helpers.server import Caller, on_ports, start_server

from firmware_bridge.bridge import Bridge
from firmware_bridge.codecs.ycbus import Key
from hw_sim.serial_devices import SimBus, SimCaller, SimEvalPad, SimLedPanel
from yichuang.config_model import Config, DeviceConfig


class Line:
    """The simulated hall wiring: callers and an evaluation pad on one line, panels on another."""

    def __init__(self) -> None:
        self.caller = SimCaller(1)
        self.caller2 = SimCaller(2)
        self.pad = SimEvalPad(21)
        self.panel = SimLedPanel(1)
        self.keys = SimBus.tcp(self.caller, self.caller2, self.pad).start()
        self.panels = SimBus.pty(self.panel).start()

    def devices(self) -> tuple[DeviceConfig, ...]:
        def dev(did: str, kind: str, url: str, address: int, window: str) -> DeviceConfig:
            return DeviceConfig(
                id=did,
                kind=kind,
                protocol="ycbus",
                port=url,
                address=address,
                window=window,
                bridge="bridge-01",
            )

        return (
            dev("caller-w01", "caller", self.keys.url, 1, "w01"),
            dev("caller-w02", "caller", self.keys.url, 2, "w02"),
            dev("evalpad-w01", "eval_pad", self.keys.url, 21, "w01"),
            dev("panel-w01", "led_panel", self.panels.url, 1, "w01"),
        )

    def stop(self) -> None:
        self.keys.stop()
        self.panels.stop()


@pytest.fixture
def line() -> Iterator[Line]:
    wiring = Line()
    try:
        yield wiring
    finally:
        wiring.stop()


@pytest.fixture
def hall(broker, tmp_path: Path, line: Line) -> Iterator[tuple[Config, Caller, Bridge]]:
    config = on_ports(small_hall(), broker.url, f"sqlite:///{tmp_path / 'hall.db'}")
    config = replace(config, hall=replace(config.hall, id=f"t{uuid.uuid4().hex[:8]}"), devices=line.devices())
    server = start_server(config)
    caller = Caller(broker.port, config.hall.id)
    bridge = Bridge(config, "bridge-01", tmp_path / "bridge", reply_timeout_s=0.2, telemetry_s=0.3)
    bridge.start()
    try:
        yield config, caller, bridge
    finally:
        bridge.stop()
        caller.close()
        server.stop()


def wait(predicate, timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.01)
    return False


def test_pressing_call_next_on_the_keypad_shows_the_ticket_on_the_window_panel(hall, line):
    _config, caller, _bridge = hall
    assert caller("window/w01/open", clerk="S1001")["ok"]
    assert caller("ticket/issue", service="A", kiosk="kiosk-01")["ok"]
    assert wait(lambda: "欢迎办理" in line.panel.text or "1号窗口" in line.panel.text)
    line.caller.press(Key.CALL_NEXT)
    assert wait(lambda: "A001 请到1号窗口" in line.panel.text), line.panel.text
    assert wait(lambda: "A001" in line.caller.text), line.caller.text


def test_a_retransmitted_key_event_is_one_press(hall, line):
    _config, caller, _bridge = hall
    caller("window/w01/open")
    caller("ticket/issue", service="A", kiosk="kiosk-01")
    caller("ticket/issue", service="A", kiosk="kiosk-01")
    line.caller.drop_replies(1)  # the EVENT reply is lost: the bridge polls again and hears it twice
    line.caller.press(Key.CALL_NEXT)
    assert wait(lambda: "A001" in line.panel.text)
    time.sleep(0.5)
    state = caller("window/w01/call_next")  # the clerk's next press gets A002: A001 was called once
    assert state["result"]["ticket"]["no"] == "A002"


def test_garbage_and_garbled_replies_on_the_line_do_not_stop_it(hall, line):
    _config, caller, bridge = hall
    caller("window/w01/open")
    caller("ticket/issue", service="A", kiosk="kiosk-01")
    line.keys.inject_garbage(bytes(range(256)) * 2)
    line.keys.garble_next(3)
    line.caller.press(Key.CALL_NEXT)
    assert wait(lambda: "A001" in line.panel.text)
    assert sum(b.crc_errors + b.stats.retransmits for b in bridge.buses) > 0


def test_evaluation_pad_lights_after_finish_and_rates_the_ticket(hall, line, mqtt_probe):
    config, caller, _bridge = hall
    mqtt_probe.subscribe(f"yc/{config.hall.id}/event/evaluation")
    caller("window/w01/open")
    caller("ticket/issue", service="A", kiosk="kiosk-01")
    line.caller.press(Key.CALL_NEXT)
    assert wait(lambda: "A001" in line.panel.text)
    line.caller.press(Key.FINISH)
    assert wait(lambda: line.pad.lamps), "the pad should light once the ticket is finished"
    line.pad.press(Key.SCORE, 5)
    event = json.loads(mqtt_probe.wait_for(f"yc/{config.hall.id}/event/evaluation").payload)
    assert event["ticket"] == "A001" and event["score"] == 5
    assert wait(lambda: not line.pad.lamps)


def test_a_silent_device_goes_offline_and_comes_back(hall, line, mqtt_probe):
    config, _caller, _bridge = hall
    topic = f"yc/{config.hall.id}/device/caller-w02/status"
    mqtt_probe.subscribe(topic)
    mqtt_probe.wait_for(topic, lambda m: m.payload == b"online")
    mqtt_probe.clear()
    line.caller2.unplug()
    mqtt_probe.wait_for(topic, lambda m: m.payload == b"offline")
    line.caller2.replug()
    mqtt_probe.wait_for(topic, lambda m: m.payload == b"online")


def test_an_unplugged_line_recovers_without_restarting_the_bridge(hall, line):
    _config, caller, _bridge = hall
    caller("window/w01/open")
    caller("ticket/issue", service="A", kiosk="kiosk-01")
    caller("ticket/issue", service="A", kiosk="kiosk-01")
    line.keys.unplug()
    time.sleep(0.5)
    line.keys.replug()
    line.caller.press(Key.CALL_NEXT)
    assert wait(lambda: "A001" in line.panel.text, timeout=8)


def test_every_device_has_discovery_and_info(hall, mqtt_probe):
    config, _caller, _bridge = hall
    topic = f"homeassistant/device/yc_{config.hall.id}_panel-w01/config"
    mqtt_probe.subscribe(topic)
    payload = json.loads(mqtt_probe.wait_for(topic).payload)
    assert payload["device"]["via_device"] == f"yc_{config.hall.id}_bridge-01"
    info = f"yc/{config.hall.id}/device/panel-w01/info"
    mqtt_probe.subscribe(info)
    assert json.loads(mqtt_probe.wait_for(info).payload)["kind"] == "led_panel"


def test_a_wired_gpio_button_calls_next_and_the_status_led_follows(
    broker, mqtt_probe, tmp_path: Path, line: Line
):
    config = on_ports(small_hall(), broker.url, f"sqlite:///{tmp_path / 'hall.db'}")
    wired = DeviceConfig(
        id="button-w02",
        kind="gpio_button",
        window="w02",
        bridge="bridge-01",
        pins=(("button", 17), ("led", 27)),
    )
    help_button = DeviceConfig(
        id="helpbutton-01", kind="gpio_button", bridge="bridge-01", pins=(("button", 22),)
    )
    config = replace(
        config,
        hall=replace(config.hall, id=f"t{uuid.uuid4().hex[:8]}"),
        devices=(*line.devices(), wired, help_button),
    )
    server = start_server(config)
    caller = Caller(broker.port, config.hall.id)
    bridge = Bridge(config, "bridge-01", tmp_path / "bridge", reply_timeout_s=0.2, gpio="mock")
    bridge.start()
    try:
        from firmware_bridge.gpio_devices import HelpButton, StatusLed, WiredCallButton

        button = next(d for d in bridge._gpio if isinstance(d, WiredCallButton))
        help_ = next(d for d in bridge._gpio if isinstance(d, HelpButton))
        led = next(d for d in bridge._gpio if isinstance(d, StatusLed))
        caller("window/w02/open")
        caller("ticket/issue", service="B", kiosk="kiosk-01")
        button._button.pin.drive_low()
        button._button.pin.drive_high()
        assert wait(lambda: led.mode == "blink"), led.mode
        assert wait(lambda: "B001" in str(bridge.states.get("w02", {}).get("ticket")))
        mqtt_probe.subscribe(f"yc/{config.hall.id}/event/help_requested")
        help_._button.pin.drive_low()
        help_._button.pin.drive_high()
        event = json.loads(mqtt_probe.wait_for(f"yc/{config.hall.id}/event/help_requested").payload)
        assert event["kiosk"] == "helpbutton-01"
    finally:
        bridge.stop()
        caller.close()
        server.stop()


def test_bridge_command_runs_the_example_hall_and_stops_cleanly_on_sigterm(
    broker, mqtt_probe, tmp_path: Path
):
    import signal
    import subprocess
    import sys

    from helpers.server import example_toml

    from hw_sim.hall_sim import HallSim, rewrite_ports
    from yichuang.broker_process import free_port
    from yichuang.config import load_config

    path = example_toml(tmp_path, broker.url, f"sqlite:///{tmp_path / 'hall.db'}", free_port())
    sim = HallSim(load_config(path), transport="pty").start()
    bridge_toml = tmp_path / "bridge.toml"
    bridge_toml.write_text(rewrite_ports(path.read_text(encoding="utf-8"), sim.urls), encoding="utf-8")
    status = "yc/qingpu/device/{}/status"
    mqtt_probe.subscribe("yc/qingpu/device/+/status")
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "yichuang.cli",
            "bridge",
            "-c",
            str(bridge_toml),
            "--id",
            "bridge-01",
            "--state-dir",
            str(tmp_path / "state"),
            "--gpio",
            "mock",
        ],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        mqtt_probe.wait_for(status.format("bridge-01"), lambda m: m.payload == b"online", timeout=15)
        mqtt_probe.wait_for(status.format("panel-w01"), lambda m: m.payload == b"online", timeout=10)
        mqtt_probe.clear()
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(20) == 0, proc.stdout.read().decode() if proc.stdout else ""
        mqtt_probe.wait_for(status.format("panel-w01"), lambda m: m.payload == b"offline")
        mqtt_probe.wait_for(status.format("bridge-01"), lambda m: m.payload == b"offline")
    finally:
        if proc.poll() is None:
            proc.kill()
        sim.stop()


def test_slow_replies_take_a_device_offline_and_its_press_arrives_once_it_answers(hall, line, mqtt_probe):
    config, caller, bridge = hall
    topic = f"yc/{config.hall.id}/device/caller-w01/status"
    mqtt_probe.subscribe(topic)
    mqtt_probe.wait_for(topic, lambda m: m.payload == b"online")
    mqtt_probe.clear()  # the bridge says `offline` for every device until it answers: forget that
    caller("window/w01/open")
    caller("ticket/issue", service="A", kiosk="kiosk-01")
    line.caller.delay_replies(1.0)  # later than the bridge waits, retransmissions included (3 x 0.2 s)
    line.caller.press(Key.CALL_NEXT)
    mqtt_probe.wait_for(topic, lambda m: m.payload == b"offline", timeout=10)
    assert "A001" not in line.panel.text
    line.caller.delay_replies(0)
    mqtt_probe.wait_for(topic, lambda m: m.payload == b"online", timeout=10)
    assert wait(lambda: "A001" in line.panel.text, timeout=8)
    assert sum(b.stats.timeouts for b in bridge.buses) > 0, [str(b.counters()) for b in bridge.buses]


def test_each_device_reports_telemetry_with_what_it_shows(hall, line, mqtt_probe):
    config, caller, _bridge = hall
    caller("window/w01/open")
    topic = f"yc/{config.hall.id}/device/panel-w01/telemetry"
    mqtt_probe.subscribe(topic)
    telemetry = json.loads(
        mqtt_probe.wait_for(topic, lambda m: "欢迎办理" in json.loads(m.payload)["text"]).payload
    )
    assert telemetry["online"] is True and telemetry["uptime_s"] >= 0
    bridge_topic = f"yc/{config.hall.id}/device/bridge-01/telemetry"
    mqtt_probe.subscribe(bridge_topic)
    assert json.loads(mqtt_probe.wait_for(bridge_topic).payload)["frames_ok"] > 0
