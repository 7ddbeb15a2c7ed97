"""The simulator's MQTT controls for the file locker's lock board and the GSM modem, on a real Mosquitto."""

from __future__ import annotations

import dataclasses
import json
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import serial
from helpers.mqtt_probe import MqttProbe

from firmware_bridge.codecs import kerong
from firmware_bridge.codecs.sms_pdu import SmsMessage, encode_submit
from hw_sim.hall_sim import HallSim
from hw_sim.sim_control import SimControl, inbox_payload, mask_number
from yichuang.broker_process import BrokerProcess
from yichuang.config import load_config
from yichuang.config_model import BrokerConfig, Config

EXAMPLE = Path(__file__).resolve().parent.parent / "config" / "hall.example.toml"
BOARD, BOARD_PORT = "lockboard-01", "/dev/ttyUSB2"  # locker-01's board, address 1, 16 doors
MODEM, MODEM_PORT = "modem-01", "/dev/ttyUSB3"
PHONE = "+8613812345678"
REPLY_S = 0.4  # generous next to a real board's ~100 ms: a loaded machine must not flake


class Host:
    """Raw bytes to a simulated port and what comes back: a lock board's host or a modem's terminal."""

    def __init__(self, url: str, baudrate: int) -> None:
        self.port = serial.serial_for_url(url, baudrate=baudrate, timeout=0.02)

    def close(self) -> None:
        self.port.close()

    def ask(self, data: bytes, expect: bytes | None = None, n: int = 9, timeout: float = REPLY_S) -> bytes:
        """Write, then read until `expect` has come, or `n` bytes without it, or `timeout`."""
        self.port.write(data)
        got = b""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and (got != expect if expect is not None else len(got) < n):
            got += self.port.read(256 if expect is not None else n - len(got))
        return got


@pytest.fixture
def controlled(broker: BrokerProcess) -> Iterator[tuple[HallSim, SimControl, str]]:
    """The example hall simulated on TCP ports with its control surface; the topic root `yc/{hall}/sim/`."""
    example = load_config(EXAMPLE)
    hall = dataclasses.replace(example.hall, id=f"simlock-{uuid.uuid4().hex[:8]}")
    config: Config = dataclasses.replace(example, hall=hall, broker=BrokerConfig(url=broker.url))
    sim = HallSim(config, "tcp").start()
    control = SimControl.for_config(sim, config)
    control.start(wait_s=5)
    try:
        yield sim, control, f"yc/{hall.id}/sim/"
    finally:
        control.stop()
        sim.stop()


def _doors(probe: MqttProbe, root: str, predicate: Callable[[dict[str, Any]], bool]) -> dict[str, Any]:
    """The first `doors` of the board the probe got that satisfies `predicate`."""
    msg = probe.wait_for(f"{root}{BOARD}/doors", lambda m: predicate(json.loads(m.payload)), timeout=3.0)
    doors: dict[str, Any] = json.loads(msg.payload)
    return doors


def _control(probe: MqttProbe, topic: str, payload: dict[str, Any]) -> None:
    """Publish a control message, forgetting what the probe got so far: `_doors` then waits for
    the state it causes, not an earlier one that looked the same."""
    probe.clear()
    probe.publish(topic, payload)


def _modem_host(sim: HallSim) -> Host:
    """A terminal on the simulated modem, echo off and numeric +CMS ERROR codes, as the bridge sets it."""
    host = Host(sim.urls[MODEM_PORT], 115200)
    assert host.ask(b"ATE0\r", b"ATE0\r\r\nOK\r\n") == b"ATE0\r\r\nOK\r\n"
    assert host.ask(b"AT+CMEE=1\r", b"\r\nOK\r\n") == b"\r\nOK\r\n"
    return host


def _send_sms(host: Host, number: str, text: str, expect: bytes) -> bytes:
    """Send a one-part text; what the modem answered to its PDU."""
    (part,) = encode_submit(number, text)
    assert host.ask(f"AT+CMGS={part.length}\r".encode(), b"\r\n> ") == b"\r\n> "
    return host.ask(part.hex.encode() + b"\x1a", expect, timeout=2.0)


def test_door_actions_change_the_board_and_the_retained_doors(
    controlled: tuple[HallSim, SimControl, str], broker: BrokerProcess, mqtt_probe: MqttProbe
) -> None:
    sim, _, root = controlled
    board = sim.lock_board(BOARD)
    mqtt_probe.subscribe(f"{root}{BOARD}/doors")
    first = mqtt_probe.wait_for(f"{root}{BOARD}/doors")
    assert first.retain
    assert json.loads(first.payload) == {"open": [], "jammed": [], "items": [], "plugged": True}

    _control(mqtt_probe, f"{root}{BOARD}/door", {"door": 5, "action": "open"})
    assert _doors(mqtt_probe, root, lambda p: p["open"] == [5])["jammed"] == []
    assert board.is_open(5) and board.open_doors == {5}
    _control(mqtt_probe, f"{root}{BOARD}/door", {"door": 5, "action": "close"})
    _doors(mqtt_probe, root, lambda p: p["open"] == [])
    assert not board.is_open(5)

    _control(mqtt_probe, f"{root}{BOARD}/door", {"door": 3, "action": "item"})
    _control(mqtt_probe, f"{root}{BOARD}/door", {"door": 3, "action": "jam"})
    assert _doors(mqtt_probe, root, lambda p: p["jammed"] == [3])["items"] == [3]
    host = Host(sim.urls[BOARD_PORT], kerong.BAUDRATE)
    try:
        # the bridge's unlock pulse reaches the jammed lock, the board answers, the door stays shut
        status = kerong.decode_status(kerong.decode(host.ask(kerong.unlock(1, 2).encode())))
        assert not status.is_open(2) and status.has_item(2)
        assert kerong.unlock(1, 2) in board.received and not board.is_open(3)
        _control(mqtt_probe, f"{root}{BOARD}/door", {"door": 3, "action": "unjam"})
        _doors(mqtt_probe, root, lambda p: p["jammed"] == [])
        status = kerong.decode_status(kerong.decode(host.ask(kerong.unlock(1, 2).encode())))
        assert status.is_open(2)
    finally:
        host.close()
    assert _doors(mqtt_probe, root, lambda p: p["open"] == [3]) == {
        "open": [3],
        "jammed": [],
        "items": [3],
        "plugged": True,
    }
    _control(mqtt_probe, f"{root}{BOARD}/door", {"door": 3, "action": "empty"})
    _doors(mqtt_probe, root, lambda p: p["items"] == [])

    late = MqttProbe(broker.host, broker.port).connect()  # a dashboard that connects afterwards
    try:
        late.subscribe(f"{root}{BOARD}/doors")
        msg = late.wait_for(f"{root}{BOARD}/doors")
        assert msg.retain
        assert json.loads(msg.payload) == {"open": [3], "jammed": [], "items": [], "plugged": True}
    finally:
        late.close()


def test_board_faults_over_mqtt(controlled: tuple[HallSim, SimControl, str], mqtt_probe: MqttProbe) -> None:
    sim, _, root = controlled
    board = sim.lock_board(BOARD)
    mqtt_probe.subscribe(f"{root}{BOARD}/doors")
    host = Host(sim.urls[BOARD_PORT], kerong.BAUDRATE)
    try:
        _control(mqtt_probe, f"{root}{BOARD}/fault", {"kind": "unplug"})
        _doors(mqtt_probe, root, lambda p: p["plugged"] is False)
        assert host.ask(kerong.read_status(1).encode()) == b""  # silent while unplugged
        _control(mqtt_probe, f"{root}{BOARD}/fault", {"kind": "replug"})
        _doors(mqtt_probe, root, lambda p: p["plugged"] is True)
        _control(mqtt_probe, f"{root}{BOARD}/fault", {"kind": "drop", "n": 1})
        # control messages on one topic are handled in order: once the door moves, the drop is set
        _control(mqtt_probe, f"{root}{BOARD}/door", {"door": 1, "action": "open"})
        assert board.wait_for(lambda b: b.is_open(1))
        assert host.ask(kerong.read_status(1).encode()) == b""  # the reply is lost
        assert host.ask(kerong.read_status(1).encode()) == kerong.status_reply(1, 0xFFFE).encode()
    finally:
        host.close()


def test_a_modem_fail_fault_fails_the_next_send_and_the_inbox_shows_the_text_masked(
    controlled: tuple[HallSim, SimControl, str], mqtt_probe: MqttProbe
) -> None:
    sim, _, root = controlled
    modem = sim.modem(MODEM)
    mqtt_probe.subscribe(f"{root}{MODEM}/inbox")
    mqtt_probe.publish(f"{root}{MODEM}/fault", {"kind": "fail", "n": 1})
    mqtt_probe.publish(f"{root}{MODEM}/fault", {"kind": "signal", "rssi": 7})  # lands after the fail
    assert modem.wait_for(lambda m: m.signal == 7)
    host = _modem_host(sim)
    try:
        assert host.ask(b"AT+CSQ\r", b"\r\n+CSQ: 7,99\r\n\r\nOK\r\n") == b"\r\n+CSQ: 7,99\r\n\r\nOK\r\n"
        refused = b"\r\n+CMS ERROR: 500\r\n"
        assert _send_sms(host, PHONE, "取件码 482913", refused) == refused
        taken = b"\r\n+CMGS: 1\r\n\r\nOK\r\n"
        assert _send_sms(host, PHONE, "取件码 482913", taken) == taken
    finally:
        host.close()
    assert modem.sent == (SmsMessage(PHONE, "取件码 482913", 1),)
    msg = mqtt_probe.wait_for(f"{root}{MODEM}/inbox", timeout=3.0)
    assert not msg.retain
    assert json.loads(msg.payload) == {"to": "138****5678", "text": "取件码 482913", "parts": 1}
    assert b"12345678" not in msg.payload and b"8613" not in msg.payload
    time.sleep(0.3)  # the watcher polls every 50 ms: one text, one inbox message
    assert len(mqtt_probe.received(f"{root}{MODEM}/inbox")) == 1


def test_modem_network_silence_and_reboot_faults(
    controlled: tuple[HallSim, SimControl, str], mqtt_probe: MqttProbe
) -> None:
    sim, _, root = controlled
    modem = sim.modem(MODEM)
    mqtt_probe.subscribe(f"{root}{MODEM}/inbox")
    host = _modem_host(sim)
    try:
        mqtt_probe.publish(f"{root}{MODEM}/fault", {"kind": "unregistered"})
        assert modem.wait_for(lambda m: not m.registered)
        searching = b"\r\n+CREG: 0,2\r\n\r\nOK\r\n"
        assert host.ask(b"AT+CREG?\r", searching) == searching
        no_network = b"\r\n+CMS ERROR: 331\r\n"
        (part,) = encode_submit(PHONE, "hello")
        assert host.ask(f"AT+CMGS={part.length}\r".encode(), no_network) == no_network
        mqtt_probe.publish(f"{root}{MODEM}/fault", {"kind": "registered"})
        assert modem.wait_for(lambda m: m.registered)

        mqtt_probe.publish(f"{root}{MODEM}/fault", {"kind": "silent"})
        mqtt_probe.publish(f"{root}{MODEM}/fault", {"kind": "signal", "rssi": 3})
        assert modem.wait_for(lambda m: m.signal == 3)
        assert host.ask(b"AT\r", timeout=0.3) == b""
        mqtt_probe.publish(f"{root}{MODEM}/fault", {"kind": "answer"})
        mqtt_probe.publish(f"{root}{MODEM}/fault", {"kind": "signal", "rssi": 4})
        assert modem.wait_for(lambda m: m.signal == 4)
        assert host.ask(b"AT\r", b"\r\nOK\r\n") == b"\r\nOK\r\n"

        mqtt_probe.publish(f"{root}{MODEM}/fault", {"kind": "reboot"})
        assert modem.wait_for(lambda m: m.echo)  # power-up default: echo on again
        assert host.ask(b"AT\r", b"AT\r\r\nOK\r\n") == b"AT\r\r\nOK\r\n"
    finally:
        host.close()
    assert modem.sent == ()
    assert mqtt_probe.received(f"{root}{MODEM}/inbox") == []


def test_bad_locker_and_modem_payloads_are_ignored(
    controlled: tuple[HallSim, SimControl, str], mqtt_probe: MqttProbe
) -> None:
    sim, _, root = controlled
    board, modem = sim.lock_board(BOARD), sim.modem(MODEM)
    bad = [
        (f"{root}{BOARD}/door", b"not json"),
        (f"{root}{BOARD}/door", b"[5]"),
        (f"{root}{BOARD}/door", b'{"door": 5}'),
        (f"{root}{BOARD}/door", b'{"door": 5, "action": "smash"}'),
        (f"{root}{BOARD}/door", b'{"door": 0, "action": "open"}'),
        (f"{root}{BOARD}/door", b'{"door": 17, "action": "open"}'),
        (f"{root}{BOARD}/door", b'{"door": "5", "action": "open"}'),
        (f"{root}{BOARD}/door", b'{"door": true, "action": "open"}'),
        (f"{root}nobody/door", b'{"door": 5, "action": "open"}'),
        (f"{root}caller-w01/door", b'{"door": 5, "action": "open"}'),  # a caller has no doors
        (f"{root}{MODEM}/door", b'{"door": 5, "action": "open"}'),
        (f"{root}{BOARD}/fault", b'{"kind": "reboot"}'),  # a KR-CU16 has no reboot here
        (f"{root}{BOARD}/fault", b'{"kind": "drop", "n": 0}'),
        (f"{root}{BOARD}/fault", b'{"kind": "delay", "seconds": -1}'),
        (f"{root}{BOARD}/fault", b"\xff\xfe"),
        (f"{root}{MODEM}/fault", b'{"kind": "melt"}'),
        (f"{root}{MODEM}/fault", b'{"kind": "garble"}'),
        (f"{root}{MODEM}/fault", b'{"kind": "fail", "n": "2"}'),
        (f"{root}{MODEM}/fault", b'{"kind": "fail", "code": 9999}'),
        (f"{root}{MODEM}/fault", b'{"kind": "signal", "rssi": 32}'),
        (f"{root}{MODEM}/fault", b'{"kind": "signal"}'),
        (f"{root}{MODEM}/fault", b'"unregistered"'),
        (f"{root}{MODEM}/press", b'{"key": "call_next"}'),
    ]
    for topic, payload in bad:
        mqtt_probe.publish(topic, payload)
    # the last message on each topic proves the ones before it were handled (and ignored)
    mqtt_probe.publish(f"{root}{BOARD}/door", {"door": 16, "action": "open"})
    mqtt_probe.publish(f"{root}{BOARD}/fault", {"kind": "delay", "seconds": 0})
    mqtt_probe.publish(f"{root}{MODEM}/fault", {"kind": "signal", "rssi": 9})
    assert board.wait_for(lambda b: b.open_doors == {16})
    assert modem.wait_for(lambda m: m.signal == 9)
    assert board.plugged and modem.registered
    host = Host(sim.urls[BOARD_PORT], kerong.BAUDRATE)
    try:  # no drop, garble or delay was set by the bad faults
        assert host.ask(kerong.read_status(1).encode()) == kerong.status_reply(1, 0x7FFF).encode()
    finally:
        host.close()
    host = _modem_host(sim)
    try:  # no failure queued, still answering
        taken = b"\r\n+CMGS: 1\r\n\r\nOK\r\n"
        assert _send_sms(host, PHONE, "hello", taken) == taken
    finally:
        host.close()


@pytest.mark.parametrize(
    ("number", "masked"),
    [
        ("+8613812345678", "138****5678"),
        ("8613812345678", "138****5678"),
        ("13812345678", "138****5678"),
        ("+46708251358", "467****1358"),
        ("+861234567", "*******"),
        ("12345", "*****"),
    ],
)
def test_the_inbox_number_is_masked(number: str, masked: str) -> None:
    assert mask_number(number) == masked
    payload = inbox_payload(SmsMessage(number, "取件码 482913", 1))
    assert payload == {"to": masked, "text": "取件码 482913", "parts": 1}
