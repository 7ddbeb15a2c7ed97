"""The file locker's lock board: the simulated Kerong KR-CU16 byte for byte, its host driver, and the
bridge between it and MQTT (real Mosquitto, real pty and socket:// lines opened with pyserial)."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import pytest
import serial
from helpers.halls import small_hall
from helpers.mqtt_probe import MqttProbe

from firmware_bridge.bridge import Bridge
from firmware_bridge.codecs import kerong
from firmware_bridge.codecs.kerong import KerongError
from firmware_bridge.line_drivers import DRIVERS, STANDARD, protocol_of
from firmware_bridge.lock_board import KerongLine
from hw_sim.hall_sim import HallSim
from hw_sim.lock_board import SimLockBoard, SimLockLine
from yichuang.config import load_config
from yichuang.config_model import BrokerConfig, Config, DeviceConfig, LockerConfig, LockerDoor

EXAMPLE = Path(__file__).resolve().parents[1] / "config" / "hall.example.toml"
TIMEOUT = 0.4  # generous next to a real board's ~100 ms: a loaded machine must not flake


class Host:
    """A test-only host on the line: raw bytes out, raw bytes back."""

    def __init__(self, url: str) -> None:
        self.port = serial.serial_for_url(url, baudrate=kerong.BAUDRATE, timeout=0.02)

    def close(self) -> None:
        self.port.close()

    def ask(self, wire: bytes | str, n: int = 9, timeout: float = TIMEOUT) -> bytes:
        """Write `wire` (bytes, or hex text), return what comes back within `timeout` (at most n bytes)."""
        self.port.write(bytes.fromhex(wire) if isinstance(wire, str) else wire)
        got = b""
        deadline = time.monotonic() + timeout
        while len(got) < n and time.monotonic() < deadline:
            got += self.port.read(n - len(got))
        return got


@pytest.fixture(params=["pty", "tcp"])
def line_of_one(request: pytest.FixtureRequest) -> Iterator[tuple[SimLockBoard, Host]]:
    board = SimLockBoard(1)
    line = (SimLockLine.pty if request.param == "pty" else SimLockLine.tcp)(board).start()
    host = Host(line.url)
    try:
        yield board, host
    finally:
        host.close()
        line.stop()


# --- The simulated board, byte for byte -----------------------------------------------------------


def test_the_board_answers_status_and_unlock_with_the_documented_bytes(line_of_one) -> None:
    board, host = line_of_one
    assert host.ask("02 10 30 03 45") == bytes.fromhex("02 10 35 FF FF 00 00 03 48")  # all shut
    # unlock door 5 = lock 4: the reply echoes the address byte and shows it open
    assert host.ask("02 14 31 03 4A") == bytes.fromhex("02 14 35 EF FF 00 00 03 3C")
    assert board.unlocks == (4,) and board.is_open(5) and board.open_doors == {5}
    assert host.ask("02 10 30 03 45") == bytes.fromhex("02 10 35 EF FF 00 00 03 38")
    board.close(5)  # the citizen pushes it shut
    assert host.ask("02 10 30 03 45") == bytes.fromhex("02 10 35 FF FF 00 00 03 48")
    assert board.received == (
        kerong.read_status(1),
        kerong.unlock(1, 4),
        kerong.read_status(1),
        kerong.read_status(1),
    )


def test_a_jammed_lock_takes_the_pulse_and_stays_shut(line_of_one) -> None:
    board, host = line_of_one
    board.jam(3)
    assert host.ask(kerong.unlock(1, 2).encode()) == kerong.status_reply(1, 0xFFFF, lock=2).encode()
    assert board.unlocks == (2,) and not board.is_open(3)
    board.jam(3, False)
    host.ask(kerong.unlock(1, 2).encode())
    assert board.is_open(3)


def test_the_ir_sensor_shows_in_the_status(line_of_one) -> None:
    board, host = line_of_one
    board.put_item(2)
    status = kerong.decode_status(kerong.decode(host.ask(kerong.read_status(1).encode())))
    assert status.has_item(1) and not status.has_item(0)


def test_no_reply_garbled_reply_and_unplugged_board(line_of_one) -> None:
    board, host = line_of_one
    board.drop_replies(1)
    assert host.ask(kerong.unlock(1, 0).encode()) == b""  # the reply is lost ...
    assert board.is_open(1)  # ... but the lock was pulsed
    board.garble_next(1)
    garbled = host.ask(kerong.read_status(1).encode())
    assert len(garbled) == 9
    with pytest.raises(KerongError, match="checksum"):
        kerong.decode(garbled)
    board.unplug()
    heard = len(board.received)
    assert host.ask(kerong.read_status(1).encode()) == b""
    assert len(board.received) == heard  # a board without power hears nothing either
    board.replug()
    assert host.ask(kerong.read_status(1).encode()) == kerong.status_reply(1, 0xFFFE).encode()


def test_only_the_addressed_board_answers_and_garbage_does_not_stall_the_line() -> None:
    first, second = SimLockBoard(0), SimLockBoard(1, locks=8)
    with SimLockLine.tcp(first, second) as line:
        host = Host(line.url)
        try:
            assert host.ask(kerong.read_status(2).encode()) == b""  # nobody at address 2
            noise = bytes(range(256)) + b"\x02\x00\x30"  # a half frame too
            assert host.ask(noise + kerong.unlock(0, 0).encode()) == kerong.status_reply(0, 0xFFFE).encode()
            assert first.open_doors == {1} and second.open_doors == set()
            # channels 9-16 of an 8-lock board have nothing wired: they read open
            assert host.ask(kerong.read_status(1).encode()) == kerong.status_reply(1, 0x00FF).encode()
            assert second.received == (kerong.read_status(1),)
        finally:
            host.close()
    with pytest.raises(ValueError, match=r"outside 0\.\.15"):
        SimLockBoard(16)


def test_yichuang_sim_serves_the_example_hall_lock_board(tmp_path: Path) -> None:
    example = load_config(EXAMPLE)
    with HallSim(example, "pty", link_dir=tmp_path) as sim:
        board = sim.lock_board("lockboard-01")
        assert board.address == 1
        assert sim.urls["/dev/ttyUSB2"] == str(tmp_path / "ttyKR0") == sim.lock_line_of("lockboard-01").url
        host = Host(sim.urls["/dev/ttyUSB2"])
        try:
            assert host.ask("02 14 31 03 4A") == bytes.fromhex("02 14 35 EF FF 00 00 03 3C")
            assert board.unlocks == (4,)
        finally:
            host.close()


# --- The host driver on its own -----------------------------------------------------------------


@dataclass
class Seen:
    online: list[bool]
    doors: list[dict[int, bool]]
    failed: list[tuple[int, str]]


def _driver(url: str, **options: object) -> tuple[KerongLine, Seen]:
    seen = Seen([], [], [])
    device = DeviceConfig("lb", "lock_board", "kerong", url, 1, locker="l1")
    line = KerongLine(
        url,
        [device],
        lambda *_: None,
        lambda _d, online: seen.online.append(online),
        on_doors=lambda _d, doors: seen.doors.append(doors),
        on_unlock_failed=lambda _d, door, why: seen.failed.append((door, why)),
        **options,  # type: ignore[arg-type]
    )
    return line, seen


def wait(predicate, timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.01)
    return False


def test_the_driver_is_the_standard_one_for_lock_boards() -> None:
    board = DeviceConfig("lb", "lock_board", port="/dev/ttyUSB2", address=1)
    assert protocol_of(board) == STANDARD["lock_board"] == "kerong"
    assert DRIVERS["kerong"] is KerongLine


def test_an_unlock_without_a_reply_is_sent_again_up_to_three_times() -> None:
    board = SimLockBoard(1)
    with SimLockLine.tcp(board) as sim_line:
        # one poll at start, then none for a minute: the unlocks alone are on the line
        line, seen = _driver(sim_line.url, poll_s=60.0, reply_timeout_s=0.2)
        line.start()
        try:
            assert wait(lambda: seen.doors), "the first status read is reported"
            board.drop_replies(2)
            assert line.open("lb", 5)
            assert wait(lambda: seen.doors[-1][5])
            assert board.unlocks == (4, 4, 4) and seen.failed == []
            assert line.counters()["retransmits"] == 2
            board.drop_replies(3)
            line.open("lb", 6)
            assert wait(lambda: seen.failed == [(6, "no_reply")])
            assert board.unlocks == (4, 4, 4, 5, 5, 5)
            assert not line.open("lb", 17) and not line.open("nobody", 1)
        finally:
            line.stop()
    assert seen.online[0] is True


def test_a_board_address_outside_a_nibble_is_not_driven() -> None:
    device = DeviceConfig("lb", "lock_board", "kerong", "socket://127.0.0.1:1", 16, locker="l1")
    line = KerongLine(device.port, [device], lambda *_: None, lambda *_: None)
    assert line.by_id == {}


# --- The bridge: MQTT in and out ----------------------------------------------------------------

DOORS = 8


@dataclass
class Locker:
    config: Config
    board: SimLockBoard
    line: SimLockLine
    bridge: Bridge
    root: str

    def topic(self, what: str) -> str:
        return f"{self.root}device/lockboard-01/{what}"


def _config(broker_url: str, port: str) -> Config:
    config = small_hall(broker_url=broker_url)
    locker = LockerConfig(
        "locker-01", tuple(LockerDoor(n, "S" if n <= 4 else "M") for n in range(1, DOORS + 1))
    )
    board = DeviceConfig(
        id="lockboard-01",
        kind="lock_board",
        protocol="kerong",
        port=port,
        address=1,
        bridge="bridge-01",
        locker="locker-01",
    )
    return replace(
        config,
        hall=replace(config.hall, id=f"t{uuid.uuid4().hex[:8]}"),
        broker=BrokerConfig(url=broker_url),
        lockers=(locker,),
        devices=(board,),
    )


@pytest.fixture(params=["tcp", "pty"])
def locker(request: pytest.FixtureRequest, broker, tmp_path: Path) -> Iterator[Locker]:
    board = SimLockBoard(1)
    line = (SimLockLine.tcp if request.param == "tcp" else SimLockLine.pty)(board).start()
    config = _config(broker.url, line.url)
    bridge = Bridge(config, "bridge-01", tmp_path / "bridge", reply_timeout_s=0.2, telemetry_s=0.3)
    bridge.start()
    try:
        yield Locker(config, board, line, bridge, f"yc/{config.hall.id}/")
    finally:
        bridge.stop()
        line.stop()


def _doors(message) -> dict[int, bool]:
    return {d["door"]: d["open"] for d in json.loads(message.payload)["doors"]}


def _open_doors(message) -> set[int]:
    return {door for door, is_open in _doors(message).items() if is_open}


def test_open_5_unlocks_lock_4_and_the_retained_state_follows_the_door(
    locker: Locker, mqtt_probe: MqttProbe, broker
) -> None:
    mqtt_probe.subscribe(locker.topic("state"))
    first = mqtt_probe.wait_for(locker.topic("state"))
    state = json.loads(first.payload)
    assert state["locker"] == "locker-01" and _doors(first) == dict.fromkeys(range(1, DOORS + 1), False)
    assert state["at"][:2] == "20" and state["at"].endswith("+08:00")  # the hall's time, with offset
    mqtt_probe.publish(locker.topic("set"), {"open": 5})
    assert locker.board.wait_for(lambda b: 4 in b.unlocks)
    assert kerong.unlock(1, 4) in locker.board.received
    mqtt_probe.wait_for(locker.topic("state"), lambda m: _open_doors(m) == {5})
    mqtt_probe.clear()
    locker.board.close(5)
    mqtt_probe.wait_for(locker.topic("state"), lambda m: _open_doors(m) == set())
    # retained: a client that comes later reads the doors at once
    late = MqttProbe(broker.host, broker.port).connect()
    try:
        late.subscribe(locker.topic("state"))
        message = late.wait_for(locker.topic("state"))
        assert message.retain and _open_doors(message) == set()
    finally:
        late.close()
    assert locker.board.unlocks == (4,)


def test_a_jammed_lock_gives_one_lock_failed_alarm(locker: Locker, mqtt_probe: MqttProbe) -> None:
    alarms = f"{locker.root}event/alarm"
    mqtt_probe.subscribe(alarms)
    mqtt_probe.subscribe(locker.topic("status"))
    mqtt_probe.wait_for(locker.topic("status"), lambda m: m.payload == b"online")
    locker.board.jam(3)
    mqtt_probe.publish(locker.topic("set"), {"open": 3})
    alarm = json.loads(mqtt_probe.wait_for(alarms, timeout=6).payload)
    assert {k: alarm[k] for k in ("kind", "device", "bridge", "locker", "door", "reason")} == {
        "kind": "lock_failed",
        "device": "lockboard-01",
        "bridge": "bridge-01",
        "locker": "locker-01",
        "door": 3,
        "reason": "not_open",
    }
    assert alarm["event_id"] and alarm["at"].endswith("+08:00")
    time.sleep(1.0)
    assert len(mqtt_probe.received(alarms)) == 1
    assert locker.board.unlocks == (2,) and not locker.board.is_open(3)


def test_an_unplugged_board_goes_offline_and_comes_back(locker: Locker, mqtt_probe: MqttProbe) -> None:
    status, state = locker.topic("status"), locker.topic("state")
    mqtt_probe.subscribe(status)
    mqtt_probe.subscribe(state)
    mqtt_probe.wait_for(status, lambda m: m.payload == b"online")
    mqtt_probe.wait_for(state)
    mqtt_probe.clear()
    locker.board.unplug()
    mqtt_probe.wait_for(status, lambda m: m.payload == b"offline")
    # a door opened by hand meanwhile is seen once the board answers again
    locker.board.force_open(2)
    locker.board.replug()
    mqtt_probe.wait_for(status, lambda m: m.payload == b"online")
    mqtt_probe.wait_for(state, lambda m: _open_doors(m) == {2})


def test_an_unlock_while_the_board_is_silent_is_a_no_reply_alarm(
    locker: Locker, mqtt_probe: MqttProbe
) -> None:
    alarms = f"{locker.root}event/alarm"
    mqtt_probe.subscribe(alarms)
    mqtt_probe.subscribe(locker.topic("status"))
    mqtt_probe.wait_for(locker.topic("status"), lambda m: m.payload == b"online")
    locker.board.unplug()
    mqtt_probe.publish(locker.topic("set"), {"open": 1})
    alarm = json.loads(mqtt_probe.wait_for(alarms, timeout=6).payload)
    assert (alarm["kind"], alarm["door"], alarm["reason"]) == ("lock_failed", 1, "no_reply")


def test_a_vanished_port_is_reopened(locker: Locker, mqtt_probe: MqttProbe) -> None:
    status = locker.topic("status")
    mqtt_probe.subscribe(status)
    mqtt_probe.wait_for(status, lambda m: m.payload == b"online")
    mqtt_probe.clear()
    locker.line.unplug()
    mqtt_probe.wait_for(status, lambda m: m.payload == b"offline")
    locker.line.replug()
    mqtt_probe.wait_for(status, lambda m: m.payload == b"online", timeout=8)
    mqtt_probe.publish(locker.topic("set"), {"open": 7})
    assert locker.board.wait_for(lambda b: b.is_open(7), timeout=5)


BAD_PAYLOADS: list[object] = [
    {"open": "5"},  # a string, not a door number
    {"open": True},  # a bool is an int to Python, not to the contract
    {"open": 5.0},
    {"open": 0},
    {"open": DOORS + 1},  # the board has lock 8, but the locker has no door 9
    {"open": 17},
    {"open": None},
    {"open": [5]},
    {"text": "hello"},
    [5],
    "open 5",
    b"\xff\xfe",
]


def test_a_bad_open_payload_changes_nothing(locker: Locker, mqtt_probe: MqttProbe) -> None:
    alarms = f"{locker.root}event/alarm"
    mqtt_probe.subscribe(alarms)
    mqtt_probe.subscribe(locker.topic("status"))
    mqtt_probe.wait_for(locker.topic("status"), lambda m: m.payload == b"online")
    for payload in BAD_PAYLOADS:
        mqtt_probe.publish(locker.topic("set"), payload)  # type: ignore[arg-type]
    time.sleep(1.0)
    assert locker.board.unlocks == () and locker.board.open_doors == set()
    assert mqtt_probe.received(alarms) == []
    mqtt_probe.publish(locker.topic("set"), {"open": 2})  # the same path, with a good payload, works
    assert locker.board.wait_for(lambda b: b.unlocks == (1,))


def test_telemetry_counts_open_doors_and_discovery_has_a_sensor_for_them(
    locker: Locker, mqtt_probe: MqttProbe
) -> None:
    telemetry = locker.topic("telemetry")
    mqtt_probe.subscribe(telemetry)
    mqtt_probe.publish(locker.topic("set"), {"open": 4})
    payload = json.loads(
        mqtt_probe.wait_for(telemetry, lambda m: json.loads(m.payload).get("doors_open") == 1).payload
    )
    assert payload["online"] is True
    discovery_topic = f"homeassistant/device/yc_{locker.config.hall.id}_lockboard-01/config"
    mqtt_probe.subscribe(discovery_topic)
    discovery = json.loads(mqtt_probe.wait_for(discovery_topic).payload)
    sensor = discovery["components"]["doors_open"]
    assert sensor["state_topic"] == locker.topic("state")
    assert discovery["device"]["via_device"] == f"yc_{locker.config.hall.id}_bridge-01"
    info = locker.topic("info")
    mqtt_probe.subscribe(info)
    assert json.loads(mqtt_probe.wait_for(info).payload)["model"] == "Kerong KR-CU16"
