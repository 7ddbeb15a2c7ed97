"""The hall simulator (`yichuang sim`): devices of a whole config, port rewriting, MQTT control."""

from __future__ import annotations

import dataclasses
import json
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import serial
from helpers.mqtt_probe import MqttProbe

from firmware_bridge.codecs import ycbus
from firmware_bridge.codecs.ycbus import Frame, FrameParser, FrameType, Key
from hw_sim.hall_sim import HallSim, rewrite_ports, rewritten_config, run_sim
from hw_sim.serial_devices import SimCaller, SimEvalPad, SimLedPanel
from hw_sim.sim_control import SimControl
from yichuang.broker_process import BrokerProcess
from yichuang.config import load_config, parse_config
from yichuang.config_model import BrokerConfig, Config

EXAMPLE = Path(__file__).resolve().parent.parent / "config" / "hall.example.toml"
TIMEOUT = 0.4  # generous next to the 20 ms of a real line: a loaded CI machine must not flake
MODELS = {"caller": SimCaller.model, "eval_pad": SimEvalPad.model, "led_panel": SimLedPanel.model}


class Master:
    """A test-only bus master: send a frame, wait for the reply with its seq."""

    def __init__(self, url: str) -> None:
        self.port = serial.serial_for_url(url, baudrate=ycbus.BAUDRATE, timeout=0.02)
        self.parser = FrameParser()
        self._seq = 0

    def close(self) -> None:
        self.port.close()

    def seq(self) -> int:
        self._seq = (self._seq + 1) % 256
        return self._seq

    def request(self, frame: Frame, attempts: int = 3) -> Frame | None:
        for _ in range(attempts):
            self.port.write(frame.encode())
            deadline = time.monotonic() + TIMEOUT
            while time.monotonic() < deadline:
                data = self.port.read(max(1, self.port.in_waiting))
                for reply in self.parser.feed(data) if data else self.parser.idle():
                    if ycbus.is_reply_to(reply, frame):
                        return reply
        return None

    def read_raw(self, n: int, timeout: float = 2.0) -> bytes:
        got = b""
        deadline = time.monotonic() + timeout
        while len(got) < n and time.monotonic() < deadline:
            got += self.port.read(n - len(got))
        return got


@pytest.fixture(scope="module")
def example() -> Config:
    return load_config(EXAMPLE)


def _hall_config(example: Config, broker: BrokerProcess) -> Config:
    hall = dataclasses.replace(example.hall, id=f"simtest-{uuid.uuid4().hex[:8]}")
    return dataclasses.replace(example, hall=hall, broker=BrokerConfig(url=broker.url))


def _sim_devices(config: Config) -> list[tuple[str, str, str, int]]:
    """(id, kind, port, address) of every device the simulator should play."""
    return [
        (d.id, d.kind, d.port, d.address)  # type: ignore[misc]
        for d in config.devices
        if d.kind in MODELS and d.port
    ]


@pytest.mark.parametrize("transport", ["tcp", "pty"])
def test_every_bus_device_of_the_example_hall_answers(
    example: Config, transport: str, tmp_path: Path
) -> None:
    expected = _sim_devices(example)
    assert len(expected) == 17  # 4 callers + 1 pad on ttyUSB0, 12 panels on ttyUSB1
    with HallSim(example, transport, link_dir=tmp_path) as sim:  # type: ignore[arg-type]
        assert sim.ports == ("/dev/ttyUSB0", "/dev/ttyUSB1")  # the YC-BUS lines
        # the Kerong lock board is on a line of its own (tests/test_lock_board.py speaks to it)
        assert set(sim.urls) >= {"/dev/ttyUSB0", "/dev/ttyUSB1", "/dev/ttyUSB2"}
        if transport == "pty":
            assert sim.urls["/dev/ttyUSB0"] == str(tmp_path / "ttyYC0")
            assert sim.urls["/dev/ttyUSB1"] == str(tmp_path / "ttyYC1")
            assert sim.urls["/dev/ttyUSB2"] == str(tmp_path / "ttyKR0")
        else:
            assert all(url.startswith("socket://127.0.0.1:") for url in sim.urls.values())
        assert set(sim.device_ids) == {dev_id for dev_id, *_ in expected}
        masters = {port: Master(sim.urls[port]) for port in sim.ports}
        try:
            for dev_id, kind, port, address in expected:
                assert sim.device(dev_id).address == address
                assert sim.bus_of(dev_id).url == sim.urls[port]
                reply = masters[port].request(ycbus.get_info(address, masters[port].seq()))
                assert reply is not None, f"{dev_id} did not answer on {sim.urls[port]}"
                assert ycbus.decode_info(reply) == ycbus.DeviceInfo(MODELS[kind], "1.0.0")
        finally:
            for master in masters.values():
                master.close()
    assert sim.urls == {}
    assert not (tmp_path / "ttyYC0").exists()


def test_a_config_with_a_clashing_or_bad_address_is_refused(example: Config) -> None:
    caller = next(d for d in example.devices if d.kind == "caller")
    twin = dataclasses.replace(caller, id="caller-twin")
    with pytest.raises(ValueError, match="caller-twin"):
        HallSim(dataclasses.replace(example, devices=(caller, twin)))
    with pytest.raises(ValueError, match=r"outside 1\.\.247"):
        HallSim(dataclasses.replace(example, devices=(dataclasses.replace(caller, address=0),)))


def test_rewrite_ports_gives_a_config_the_loader_accepts_with_the_sim_urls(example: Config) -> None:
    text = EXAMPLE.read_text(encoding="utf-8")
    urls = {"/dev/ttyUSB0": "socket://127.0.0.1:40001", "/dev/ttyUSB1": "/tmp/yc sim/ttyYC1"}
    new_text = rewrite_ports(text, urls)
    assert new_text.count("\n") == text.count("\n")  # layout kept: error line numbers still match
    config = parse_config(new_text, "rewritten.toml")
    before = {d.id: d.port for d in example.devices}
    after = {d.id: d.port for d in config.devices}
    assert after == {dev_id: urls.get(port, port) for dev_id, port in before.items()}
    assert after["caller-w01"] == "socket://127.0.0.1:40001"
    assert after["panel-w12"] == "/tmp/yc sim/ttyYC1"
    assert after["lockboard-01"] == "/dev/ttyUSB2"  # not simulated here, left alone
    assert config == rewritten_config(example, urls)


def test_rewrite_ports_handles_toml_string_forms_and_leaves_the_rest() -> None:
    text = (
        "[http]\nport = 8080\n"
        "[[device]]\nport='/dev/ttyUSB0'   # literal string\n"
        '[[device]]\n  port = "/dev/ttyUSB0"\n'
        '[[device]]\nport = "/dev/ttyUSB9"\n'
        '# port = "/dev/ttyUSB0"\n'
    )
    out = rewrite_ports(text, {"/dev/ttyUSB0": 'socket://127.0.0.1:1"x'})
    assert out == (
        "[http]\nport = 8080\n"
        '[[device]]\nport="socket://127.0.0.1:1\\"x"   # literal string\n'
        '[[device]]\n  port = "socket://127.0.0.1:1\\"x"\n'
        '[[device]]\nport = "/dev/ttyUSB9"\n'
        '# port = "/dev/ttyUSB0"\n'
    )


# --- MQTT control ---------------------------------------------------------------------------


@pytest.fixture
def controlled(example: Config, broker: BrokerProcess) -> Iterator[tuple[HallSim, SimControl, Config]]:
    config = _hall_config(example, broker)
    sim = HallSim(config, "tcp").start()
    control = SimControl.for_config(sim, config)
    control.start(wait_s=5)
    try:
        yield sim, control, config
    finally:
        control.stop()
        sim.stop()


def _shows(
    probe: MqttProbe, root: str, device: str, predicate: Callable[[dict[str, Any]], bool] | None = None
) -> dict[str, Any]:
    """The first `shows` of `device` the probe got that satisfies `predicate`."""
    msg = probe.wait_for(
        f"{root}sim/{device}/shows",
        None if predicate is None else lambda m: predicate(json.loads(m.payload)),
        timeout=3.0,
    )
    shows: dict[str, Any] = json.loads(msg.payload)
    return shows


def test_status_ports_and_shows_are_published_retained(
    controlled: tuple[HallSim, SimControl, Config], broker: BrokerProcess
) -> None:
    sim, _, config = controlled
    root = f"yc/{config.hall.id}/"
    late = MqttProbe(broker.host, broker.port).connect()  # a dashboard that connects afterwards
    try:
        late.subscribe(f"{root}#")
        assert late.wait_for(f"{root}device/sim/status").payload == b"online"
        assert json.loads(late.wait_for(f"{root}device/sim/info").payload)["kind"] == "simulator"
        assert json.loads(late.wait_for(f"{root}sim/ports").payload) == sim.urls
        shows = json.loads(late.wait_for(f"{root}sim/caller-w01/shows").payload)
        assert shows == {"lines": ["", ""], "lamps": False, "plugged": True, "pending": 0}
        assert late.wait_for(f"{root}sim/evalpad-w01/shows").retain
    finally:
        late.close()


def test_an_mqtt_press_is_queued_on_the_device(
    controlled: tuple[HallSim, SimControl, Config], mqtt_probe: MqttProbe
) -> None:
    sim, _, config = controlled
    root = f"yc/{config.hall.id}/"
    caller, pad = sim.device("caller-w02"), sim.device("evalpad-w01")
    mqtt_probe.subscribe(f"{root}sim/+/shows")
    mqtt_probe.publish(f"{root}sim/caller-w02/press", {"key": "call_next", "arg": 0})
    mqtt_probe.publish(f"{root}sim/caller-w02/press", {"key": Key.TRANSFER.value, "arg": 3})
    mqtt_probe.publish(f"{root}sim/evalpad-w01/press", {"key": "score", "arg": 5})
    assert caller.wait_for(lambda d: len(d.pending) == 2)
    assert [(e.key, e.arg) for e in caller.pending] == [(Key.CALL_NEXT, 0), (Key.TRANSFER, 3)]
    assert pad.wait_for(lambda d: [(e.key, e.arg) for e in d.pending] == [(Key.SCORE, 5)])
    assert _shows(mqtt_probe, root, "caller-w02", lambda p: p["pending"] == 2)["plugged"] is True


def test_bad_control_payloads_are_ignored(
    controlled: tuple[HallSim, SimControl, Config], mqtt_probe: MqttProbe
) -> None:
    sim, _, config = controlled
    root = f"yc/{config.hall.id}/sim/"
    bad = [
        (f"{root}caller-w01/press", b"not json"),
        (f"{root}caller-w01/press", b"[1, 2]"),
        (f"{root}caller-w01/press", b'{"key": "score", "arg": 5}'),  # a caller has no score key
        (f"{root}caller-w01/press", b'{"key": "explode"}'),
        (f"{root}caller-w01/press", b'{"key": 99}'),
        (f"{root}caller-w01/press", b'{"key": "transfer", "arg": 300}'),
        (f"{root}caller-w01/press", b'{"key": true}'),
        (f"{root}panel-w01/press", b'{"key": "call_next"}'),  # a panel has no keys
        (f"{root}nobody/press", b'{"key": "call_next"}'),
        (f"{root}caller-w01/fault", b'{"kind": "melt"}'),
        (f"{root}caller-w01/fault", b'{"kind": "garble", "n": -1}'),
        (f"{root}caller-w01/fault", b'{"kind": "delay"}'),
        (f"{root}bus/7/fault", b'{"kind": "unplug"}'),
        (f"{root}bus/x/fault", b'{"kind": "unplug"}'),
        (f"{root}bus/0/fault", b'{"kind": "garbage", "hex": "zz"}'),
        (f"{root}bus/0/fault", b"\xff\xfe"),
    ]
    for topic, payload in bad:
        mqtt_probe.publish(topic, payload)
    mqtt_probe.publish(f"{root}caller-w01/press", {"key": "recall"})
    caller = sim.device("caller-w01")
    assert caller.wait_for(lambda d: len(d.pending) == 1)
    assert caller.pending[0].key is Key.RECALL
    assert all(d.plugged for d in sim.devices.values())
    assert sim.device("panel-w01").pending == ()


def test_device_faults_over_mqtt(
    controlled: tuple[HallSim, SimControl, Config], mqtt_probe: MqttProbe
) -> None:
    sim, _, config = controlled
    root = f"yc/{config.hall.id}/"
    panel = sim.device("panel-w03")
    mqtt_probe.subscribe(f"{root}sim/panel-w03/shows")
    mqtt_probe.publish(f"{root}sim/panel-w03/fault", {"kind": "unplug"})
    assert _shows(mqtt_probe, root, "panel-w03", lambda p: p["plugged"] is False)["lines"] == ["", ""]
    assert not panel.plugged
    master = Master(sim.urls["/dev/ttyUSB1"])
    try:
        assert master.request(ycbus.poll(3, master.seq()), attempts=1) is None  # silent while unplugged
        mqtt_probe.publish(f"{root}sim/panel-w03/fault", {"kind": "replug"})
        _shows(mqtt_probe, root, "panel-w03", lambda p: p["plugged"] is True)
        caller = sim.device("caller-w03")
        mqtt_probe.publish(f"{root}sim/caller-w03/fault", {"kind": "garble", "n": 1})
        # Control messages are handled in order: once this press lands, so has the fault.
        mqtt_probe.publish(f"{root}sim/caller-w03/press", {"key": "start"})
        assert caller.wait_for(lambda d: len(d.pending) == 1)
        bus0 = Master(sim.urls["/dev/ttyUSB0"])
        try:
            frame = ycbus.poll(3, bus0.seq())
            assert bus0.request(frame, attempts=1) is None  # garbled: the CRC check drops it
            reply = bus0.request(frame)  # the retransmission gets the cached reply, intact
            assert reply is not None and ycbus.decode_event(reply) == ycbus.KeyEvent(1, Key.START, 0)
        finally:
            bus0.close()
    finally:
        master.close()


def test_shows_follow_what_the_bridge_sets(
    controlled: tuple[HallSim, SimControl, Config], mqtt_probe: MqttProbe
) -> None:
    sim, _, config = controlled
    root = f"yc/{config.hall.id}/"
    mqtt_probe.subscribe(f"{root}sim/+/shows")
    line0 = Master(sim.urls["/dev/ttyUSB0"])
    line1 = Master(sim.urls["/dev/ttyUSB1"])
    try:
        reply = line1.request(ycbus.set_display(5, line1.seq(), 0, "A012 请到5号窗口"))
        assert reply is not None and reply.type is FrameType.ACK
        reply = line0.request(ycbus.set_lamps(21, line0.seq(), True))
        assert reply is not None and reply.type is FrameType.ACK
    finally:
        line0.close()
        line1.close()
    shows = _shows(mqtt_probe, root, "panel-w05", lambda p: p["lines"][0] != "")
    assert shows == {"lines": ["A012 请到5号窗口", ""], "lamps": False, "plugged": True, "pending": 0}
    assert _shows(mqtt_probe, root, "evalpad-w01", lambda p: p["lamps"])["lines"] == []


def test_line_faults_over_mqtt(controlled: tuple[HallSim, SimControl, Config], mqtt_probe: MqttProbe) -> None:
    sim, _, config = controlled
    root = f"yc/{config.hall.id}/"
    master = Master(sim.urls["/dev/ttyUSB0"])
    try:
        assert master.request(ycbus.poll(1, master.seq())) is not None  # connected and served
        mqtt_probe.publish(f"{root}sim/bus/0/fault", {"kind": "garbage", "hex": "7E 01 FF 00"})
        assert master.read_raw(4) == bytes.fromhex("7E01FF00")
    finally:
        master.close()
    mqtt_probe.publish(f"{root}sim/bus/1/fault", {"kind": "unplug"})
    url = sim.urls["/dev/ttyUSB1"]
    deadline = time.monotonic() + 3
    refused = False
    while not refused and time.monotonic() < deadline:
        try:
            serial.serial_for_url(url, timeout=0.02).close()
            time.sleep(0.02)
        except serial.SerialException:
            refused = True
    assert refused, "the unplugged line still accepts connections"
    mqtt_probe.publish(f"{root}sim/bus/1/fault", {"kind": "replug"})
    deadline = time.monotonic() + 3
    while True:
        try:
            master = Master(url)
            break
        except serial.SerialException:
            assert time.monotonic() < deadline, "the replugged line does not come back"
            time.sleep(0.02)
    try:
        assert master.request(ycbus.poll(1, master.seq())) == ycbus.idle(1, master._seq)
    finally:
        master.close()


# --- `yichuang sim` ---------------------------------------------------------------------------


def test_run_sim_writes_the_bridge_config_and_stops_cleanly(
    broker: BrokerProcess, mqtt_probe: MqttProbe, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    hall = f"simtest-{uuid.uuid4().hex[:8]}"
    text = EXAMPLE.read_text(encoding="utf-8")
    text = text.replace('id = "qingpu"', f'id = "{hall}"', 1)
    text = text.replace('url = "mqtt://127.0.0.1:1883"', f'url = "{broker.url}"', 1)
    source = tmp_path / "hall.toml"
    source.write_text(text, encoding="utf-8")
    out = tmp_path / "bridge" / "hall.sim.toml"
    mqtt_probe.subscribe(f"yc/{hall}/#")
    stop, ready = threading.Event(), threading.Event()
    sims: list[HallSim] = []
    result: list[int] = []

    def on_ready(sim: HallSim) -> None:
        sims.append(sim)
        ready.set()

    def run() -> None:
        result.append(
            run_sim(source, stop, "pty", write_config=out, link_dir=tmp_path / "dev", on_ready=on_ready)
        )

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    try:
        assert ready.wait(10)
        written = load_config(out)
        assert {d.id: d.port for d in written.devices}["caller-w01"] == str(tmp_path / "dev" / "ttyYC0")
        assert {d.id: d.port for d in written.devices}["panel-w01"] == str(tmp_path / "dev" / "ttyYC1")
        assert mqtt_probe.wait_for(f"yc/{hall}/device/sim/status", lambda m: m.payload == b"online")
        assert json.loads(mqtt_probe.wait_for(f"yc/{hall}/sim/ports").payload) == sims[0].urls
        mqtt_probe.publish(f"yc/{hall}/sim/caller-w04/press", {"key": "finish"})
        assert sims[0].device("caller-w04").wait_for(lambda d: len(d.pending) == 1)
    finally:
        stop.set()
        thread.join(10)
    assert result == [0]
    assert mqtt_probe.wait_for(f"yc/{hall}/device/sim/status", lambda m: m.payload == b"offline")
    assert not (tmp_path / "dev" / "ttyYC0").exists()
    printed = capsys.readouterr().out
    assert f"/dev/ttyUSB0 -> {tmp_path / 'dev' / 'ttyYC0'}" in printed


def test_run_sim_without_a_broker_runs_the_devices_anyway(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text = EXAMPLE.read_text(encoding="utf-8")
    # port 1 on loopback: nothing listens, the connection is refused at once
    source = tmp_path / "hall.toml"
    source.write_text(text.replace('url = "mqtt://127.0.0.1:1883"', 'url = "mqtt://127.0.0.1:1"', 1))
    stop = threading.Event()
    seen: list[dict[str, str]] = []

    def on_ready(sim: HallSim) -> None:
        seen.append(sim.urls)
        stop.set()

    assert run_sim(source, stop, "tcp", mqtt_wait_s=1.0, on_ready=on_ready) == 0
    assert set(seen[0]) >= {"/dev/ttyUSB0", "/dev/ttyUSB1", "/dev/ttyUSB2"}  # 2: the lock board
    captured = capsys.readouterr()
    assert "running without MQTT control" in captured.err
    assert "/dev/ttyUSB1 -> socket://127.0.0.1:" in captured.out


def test_run_sim_with_a_bad_config_exits_1(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "hall.toml"
    bad.write_text("[hall]\nid = 3\n", encoding="utf-8")
    assert run_sim(bad, threading.Event(), "tcp", mqtt=False) == 1
    assert run_sim(tmp_path / "missing.toml", threading.Event(), "tcp", mqtt=False) == 1
    assert "missing.toml" in capsys.readouterr().err
