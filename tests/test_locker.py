"""The self-service file locker: deposits by a window, pickups with the SMS code (CONTRACT §3.2,
§3.3, §3.5), in the pure hall and through MQTT on a real Mosquitto and a real database."""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Iterator
from dataclasses import replace
from datetime import timedelta

import pytest
from helpers.halls import Clock, small_hall
from helpers.server import Caller, on_ports, start_server

from queue_server.app import Server
from queue_server.domain.hall import Hall, Snapshot
from queue_server.domain.lockers import LOCKOUT, MAX_WRONG, code_hash, mask_phone
from yichuang.config_model import Config, DeviceConfig, LockerConfig, LockerDoor

PHONE = "13812345678"


def locker_hall() -> Config:
    """The small hall with a six-door locker (doors 1-3 S, 4-5 M, 6 L), its board and a modem."""
    doors = tuple(LockerDoor(n, "S" if n <= 3 else "M" if n <= 5 else "L") for n in range(1, 7))
    return replace(
        small_hall(),
        lockers=(LockerConfig("locker-01", doors, "一楼"),),
        devices=(
            DeviceConfig(
                "lockboard-01", "lock_board", "kerong", "socket://127.0.0.1:1", 1, locker="locker-01"
            ),
            DeviceConfig("modem-01", "modem", "", "socket://127.0.0.1:2"),
        ),
    )


# --- the rules, in the pure hall ----------------------------------------------------------


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def hall(clock: Clock) -> Hall:
    h = Hall(locker_hall(), Snapshot(), clock())
    h.locker_sensed("lockboard-01", True, [])
    h.drain_changes()
    return h


def deposit(hall: Hall, clock: Clock, code: str = "123456", size: str | None = None) -> dict[str, object]:
    return hall.locker_deposit("locker-01", "w01", PHONE, "C-2026-0001", size, code, clock())


def test_a_deposit_takes_the_smallest_free_door_opens_it_and_texts_the_code(hall, clock):
    result = deposit(hall, clock, "246810")
    assert result["door"] == 1
    assert result["expires_at"] == (clock() + timedelta(days=7)).isoformat()
    assert "246810" not in json.dumps(result)  # the clerk never sees the code
    changes = hall.drain_changes()
    assert changes.device_commands[0] == ("lockboard-01", {"open": 1})
    board, command = changes.device_commands[1]
    assert board == "modem-01"
    sms = command["sms"]
    assert isinstance(sms, dict)
    assert sms["to"] == PHONE and "246810" in str(sms["text"]) and "1号门" in str(sms["text"])
    assert sms["id"] == f"{hall.config.hall.id}-deposit-1"
    # nothing published carries the phone or the code
    events = json.dumps(changes.events, ensure_ascii=False)
    assert PHONE not in events and "246810" not in events
    assert changes.events[0][0] == "locker_deposited"
    stored = changes.deposits[1]
    assert stored.phone_masked == "138****5678" and stored.code_hash == code_hash(1, "246810")
    assert hall.locker_state("locker-01")["doors"][0] == {"door": 1, "size": "S", "state": "occupied"}


def test_sizes_doors_open_and_offline_boards_decide_which_door_is_free(hall, clock):
    assert deposit(hall, clock, size="M")["door"] == 4
    hall.locker_sensed("lockboard-01", None, [1])  # door 1 stands open: not free
    assert deposit(hall, clock)["door"] == 2
    assert deposit(hall, clock)["door"] == 3
    # the S doors are taken (or open): an S result goes into a larger door
    assert deposit(hall, clock)["door"] == 5
    assert deposit(hall, clock)["door"] == 6
    with pytest.raises(Exception) as full:
        deposit(hall, clock)
    assert getattr(full.value, "code", "") == "locker_full"
    hall.locker_sensed("lockboard-01", False, None)
    states = {d["door"]: d["state"] for d in hall.locker_state("locker-01")["doors"]}
    assert set(states.values()) == {"fault"}


def test_doors_the_board_does_not_drive_are_faulty(hall, clock):
    hall.locker_sensed("lockboard-01", True, [], doors=[1, 2, 3, 4])  # a 4-lock board, 6 doors
    states = [d["state"] for d in hall.locker_state("locker-01")["doors"]]
    assert states == ["free", "free", "free", "free", "fault", "fault"]
    assert deposit(hall, clock, size="M")["door"] == 4  # an M result goes into a larger door
    with pytest.raises(Exception) as full:
        deposit(hall, clock, size="L")
    assert getattr(full.value, "code", "") == "locker_full"


def test_the_right_code_opens_its_door_once(hall, clock):
    deposit(hall, clock, "111111")
    deposit(hall, clock, "222222")
    hall.drain_changes()
    assert hall.locker_pickup("locker-01", "222222", clock()) == {"door": 2}
    changes = hall.drain_changes()
    assert changes.device_commands == [("lockboard-01", {"open": 2})]
    assert changes.deposits[2].status == "picked_up"
    assert changes.events[0][0] == "locker_picked_up"
    with pytest.raises(Exception) as again:
        hall.locker_pickup("locker-01", "222222", clock())
    assert getattr(again.value, "code", "") == "wrong_code"
    assert hall.locker_state("locker-01")["doors"][1]["state"] == "free"


def test_wrong_codes_lock_the_locker_out_for_a_while(hall, clock):
    deposit(hall, clock, "654321")
    for n in range(MAX_WRONG):
        with pytest.raises(Exception) as wrong:
            hall.locker_pickup("locker-01", f"00000{n}", clock())
        assert getattr(wrong.value, "code", "") == "wrong_code"
    alarms = [p for kind, p in hall.drain_changes().events if kind == "alarm"]
    assert alarms == [{"at": clock().isoformat(), "kind": "locker_locked_out", "device": "locker-01"}]
    # even the right code waits out the lockout
    with pytest.raises(Exception) as locked:
        hall.locker_pickup("locker-01", "654321", clock())
    assert getattr(locked.value, "code", "") == "locked_out"
    clock.advance(seconds=LOCKOUT.total_seconds() + 1)
    assert hall.locker_pickup("locker-01", "654321", clock()) == {"door": 1}


def test_a_clerk_takes_a_deposit_back(hall, clock):
    deposit(hall, clock)
    hall.drain_changes()
    result = hall.locker_withdraw("locker-01", 1, "w02", clock())
    assert result["door"] == 1
    changes = hall.drain_changes()
    assert changes.device_commands == [("lockboard-01", {"open": 1})]
    assert changes.deposits[1].status == "withdrawn"
    with pytest.raises(Exception) as gone:
        hall.locker_pickup("locker-01", "123456", clock())
    assert getattr(gone.value, "code", "") == "wrong_code"


def test_the_modems_report_on_the_code_is_kept_on_the_deposit(hall, clock):
    deposit(hall, clock)
    hall.drain_changes()
    sms_id = f"{hall.config.hall.id}-deposit-1"
    assert hall.waiting_deposits()[0]["sms"] == "pending"
    hall.locker_sms_result(sms_id, False, clock())
    changes = hall.drain_changes()
    assert changes.deposits[1].sms == "failed"
    assert changes.events == [
        (
            "locker_sms",
            {"at": clock().isoformat(), "locker": "locker-01", "door": 1, "deposit": 1, "sms": "failed"},
        )
    ]
    hall.locker_sms_result(sms_id, True, clock())  # a retry got through
    assert hall.waiting_deposits()[0]["sms"] == "sent"
    hall.drain_changes()
    hall.locker_sms_result(sms_id, False, clock())  # a late failure of an earlier try: no news
    hall.locker_sms_result("otherhall-deposit-1", False, clock())
    hall.locker_sms_result(f"{hall.config.hall.id}-deposit-x", True, clock())
    assert hall.drain_changes().empty()
    assert hall.waiting_deposits()[0]["sms"] == "sent"


def test_phone_numbers_are_masked_for_screens() -> None:
    assert mask_phone("13812345678") == "138****5678"
    assert mask_phone("+8613812345678") == "138****5678"
    assert mask_phone("+4915112345678") == "491******5678"
    assert mask_phone("12345") == "*****"


# --- through MQTT -------------------------------------------------------------------------


@pytest.fixture
def mqtt_hall(broker, tmp_path) -> Config:
    config = on_ports(locker_hall(), broker.url, f"sqlite:///{tmp_path / 'hall.db'}")
    return replace(config, hall=replace(config.hall, id=f"t{uuid.uuid4().hex[:10]}"))


@pytest.fixture
def server(mqtt_hall) -> Iterator[Server]:
    srv = start_server(mqtt_hall)
    try:
        yield srv
    finally:
        srv.stop()


@pytest.fixture
def caller(broker, mqtt_hall, server) -> Iterator[Caller]:
    c = Caller(broker.port, mqtt_hall.hall.id)
    try:
        yield c
    finally:
        c.close()


def board_reports(mqtt_probe, root: str, online: bool, open_doors: list[int]) -> None:
    """What the bridge says for the lock board: its availability and its door sensors."""
    mqtt_probe.publish(root + "device/lockboard-01/status", b"online" if online else b"offline", retain=True)
    doors = [{"door": n, "open": n in open_doors} for n in range(1, 7)]
    mqtt_probe.publish(
        root + "device/lockboard-01/state", json.dumps({"locker": "locker-01", "doors": doors}), retain=True
    )


def door_states(message) -> dict[int, str]:
    return {d["door"]: d["state"] for d in json.loads(message.payload)["doors"]}


def test_deposit_and_pickup_over_mqtt(caller, mqtt_probe, mqtt_hall, server):
    root = f"yc/{mqtt_hall.hall.id}/"
    for topic in ("device/+/set", "state/locker/#", "event/#"):
        mqtt_probe.subscribe(root + topic)
    board_reports(mqtt_probe, root, True, [])
    mqtt_probe.wait_for(root + "state/locker/locker-01", lambda m: set(door_states(m).values()) == {"free"})

    reply = caller("locker/locker-01/deposit", window="w01", phone=PHONE, case="C-2026-0001")
    assert reply["ok"], reply
    door = reply["result"]["door"]
    assert door == 1 and "expires_at" in reply["result"]
    opened = mqtt_probe.wait_for(root + "device/lockboard-01/set")
    assert json.loads(opened.payload) == {"open": 1} and not opened.retain
    sms = json.loads(mqtt_probe.wait_for(root + "device/modem-01/set").payload)["sms"]
    assert sms["to"] == PHONE
    code = re.search(r"取件码(\d{6})", sms["text"]).group(1)  # type: ignore[union-attr]
    mqtt_probe.wait_for(root + "state/locker/locker-01", lambda m: door_states(m)[1] == "occupied")
    deposited = json.loads(mqtt_probe.wait_for(root + "event/locker_deposited").payload)
    assert deposited["door"] == 1 and deposited["event_id"]

    wrong = caller("locker/locker-01/pickup", code="000000" if code != "000000" else "000001")
    assert wrong["ok"] is False and wrong["error"]["code"] == "wrong_code"
    right = caller("locker/locker-01/pickup", code=code)
    assert right == {"id": right["id"], "ok": True, "result": {"door": 1}}
    reopened = mqtt_probe.wait_for(root + "device/lockboard-01/set", lambda m: m is not opened)
    assert json.loads(reopened.payload) == {"open": 1}
    mqtt_probe.wait_for(root + "event/locker_picked_up")
    mqtt_probe.wait_for(root + "state/locker/locker-01", lambda m: door_states(m)[1] == "free")

    # no event and no state ever carried the phone number or the code
    for message in mqtt_probe.messages:
        if "/device/" in message.topic and message.topic.endswith("/set"):
            continue
        assert PHONE not in message.payload.decode() and code not in message.payload.decode()


def test_doors_follow_the_boards_sensors_and_availability(caller, mqtt_probe, mqtt_hall, server):
    root = f"yc/{mqtt_hall.hall.id}/"
    mqtt_probe.subscribe(root + "state/locker/#")
    board_reports(mqtt_probe, root, True, [3])
    mqtt_probe.wait_for(root + "state/locker/locker-01", lambda m: door_states(m)[3] == "open")
    mqtt_probe.publish(root + "device/lockboard-01/status", b"offline", retain=True)
    mqtt_probe.wait_for(root + "state/locker/locker-01", lambda m: set(door_states(m).values()) == {"fault"})
    refused = caller("locker/locker-01/deposit", window="w01", phone=PHONE)
    assert refused["error"]["code"] == "locker_full"
    # a malformed report changes nothing and breaks nothing
    mqtt_probe.publish(root + "device/lockboard-01/state", b"{not json", retain=False)
    mqtt_probe.publish(root + "device/lockboard-01/status", b"online", retain=True)
    mqtt_probe.wait_for(root + "state/locker/locker-01", lambda m: door_states(m)[3] == "open")


@pytest.mark.parametrize(
    ("path", "args", "code"),
    [
        ("locker/locker-99/pickup", {"code": "123456"}, "unknown_locker"),
        ("locker/locker-01/deposit", {"window": "w01", "phone": "12"}, "invalid_request"),
        ("locker/locker-01/deposit", {"window": "w77", "phone": PHONE}, "unknown_window"),
        ("locker/locker-01/deposit", {"window": "w01", "phone": PHONE, "size": "XL"}, "invalid_request"),
        ("locker/locker-01/pickup", {}, "invalid_request"),
        ("locker/locker-01/withdraw", {"deposit": 9, "window": "w01"}, "unknown_deposit"),
    ],
)
def test_bad_locker_commands_get_a_stable_error(caller, path, args, code):
    reply = caller(path, **args)
    assert reply["ok"] is False and reply["error"]["code"] == code, reply


def test_a_deposit_survives_a_restart(broker, mqtt_probe, mqtt_hall):
    root = f"yc/{mqtt_hall.hall.id}/"
    mqtt_probe.subscribe(root + "device/+/set")
    board_reports(mqtt_probe, root, True, [])
    srv = start_server(mqtt_hall)
    c = Caller(broker.port, mqtt_hall.hall.id)
    try:
        assert caller_ok(c("locker/locker-01/deposit", window="w01", phone=PHONE))["door"] == 1
        sms = json.loads(mqtt_probe.wait_for(root + "device/modem-01/set").payload)["sms"]
        code = re.search(r"取件码(\d{6})", sms["text"]).group(1)  # type: ignore[union-attr]
    finally:
        c.close()
        srv.stop()
    srv = start_server(mqtt_hall)
    c = Caller(broker.port, mqtt_hall.hall.id)
    try:
        # the next deposit takes the next door: door 1 is still occupied after the restart
        assert caller_ok(c("locker/locker-01/deposit", window="w01", phone=PHONE))["door"] == 2
        assert caller_ok(c("locker/locker-01/pickup", code=code)) == {"door": 1}
    finally:
        c.close()
        srv.stop()


def caller_ok(reply: dict) -> dict:
    assert reply["ok"], reply
    return reply["result"]


# --- through HTTP -------------------------------------------------------------------------


def test_the_locker_over_http(tmp_path):
    from datetime import datetime
    from zoneinfo import ZoneInfo

    from fastapi.testclient import TestClient

    from queue_server.http_api import create_app
    from queue_server.store.repository import Store
    from queue_server.worker import Worker

    config = replace(
        locker_hall(), database=replace(small_hall().database, url=f"sqlite:///{tmp_path / 'h.db'}")
    )
    store = Store(config.database.url, config.hall.id)
    store.open()
    tz = ZoneInfo(config.hall.timezone)
    worker = Worker(config, store, clock=lambda: datetime.now(tz))
    worker.start()
    sent: list[tuple[str, dict[str, object]]] = []

    class Devices:  # what the MQTT adapter would publish to the lock board and the modem
        def publish_changes(self, events: object, states: object) -> None:
            pass

        def command_devices(self, commands: list[tuple[str, dict[str, object]]]) -> None:
            sent.extend(commands)

    worker.publishers.append(Devices())
    worker.read(lambda h: h.locker_sensed("lockboard-01", True, []))
    app = create_app(
        config,
        worker,
        health=lambda: {"database": True, "broker": True},
        metrics=lambda: (b"", "text/plain"),
        public_url="http://hall.test",
    )
    try:
        with TestClient(app) as client:
            r = client.post("/api/v1/lockers/locker-01/deposit", json={"window": "w01", "phone": PHONE})
            assert r.status_code == 201, r.text
            assert r.json()["door"] == 1
            code = re.search(r"取件码(\d{6})", str(sent[1][1]["sms"])).group(1)  # type: ignore[union-attr]
            listed = client.get("/api/v1/lockers").json()
            assert listed[0]["doors"][0] == {"door": 1, "size": "S", "state": "occupied"}
            assert listed[0]["deposits"][0]["phone"] == "138****5678"
            assert PHONE not in r.text + json.dumps(listed) and code not in json.dumps(listed)
            wrong = client.post("/api/v1/lockers/locker-01/pickup", json={"code": "x"})
            assert wrong.status_code == 404 and wrong.json()["error"]["code"] == "wrong_code"
            assert client.post("/api/v1/lockers/locker-01/pickup", json={"code": code}).json() == {"door": 1}
            missing = client.post("/api/v1/lockers/nope/pickup", json={"code": code})
            assert missing.status_code == 404 and missing.json()["error"]["code"] == "unknown_locker"
            bad = client.post("/api/v1/lockers/locker-01/deposit", json={"window": "w01", "phone": "1"})
            assert bad.status_code == 422
    finally:
        app.state.live.close()
        worker.stop()
        store.close()


# --- the whole chain: server, bridge, simulated lock board and modem ----------------------


def test_deposit_and_pickup_through_the_bridge_to_the_simulated_hardware(broker, mqtt_probe, tmp_path):
    from firmware_bridge.bridge import Bridge
    from hw_sim.gsm_modem import SimModem, SimModemLine
    from hw_sim.lock_board import SimLockBoard, SimLockLine

    board = SimLockBoard(1)
    locks = SimLockLine.tcp(board).start()
    modem = SimModem()
    gsm = SimModemLine.pty(modem).start()
    config = on_ports(locker_hall(), broker.url, f"sqlite:///{tmp_path / 'hall.db'}")
    config = replace(
        config,
        hall=replace(config.hall, id=f"t{uuid.uuid4().hex[:10]}"),
        devices=(
            replace(config.devices[0], port=locks.url, bridge="bridge-01"),
            replace(config.devices[1], port=gsm.url, protocol="at", bridge="bridge-01"),
        ),
    )
    root = f"yc/{config.hall.id}/"
    mqtt_probe.subscribe(root + "state/locker/#")
    mqtt_probe.subscribe(root + "event/#")
    server = start_server(config)
    bridge = Bridge(config, "bridge-01", tmp_path / "bridge", reply_timeout_s=0.2, telemetry_s=0.5)
    bridge.start()
    c = Caller(broker.port, config.hall.id)
    try:
        # the board's first status makes every door free
        mqtt_probe.wait_for(
            root + "state/locker/locker-01",
            lambda m: set(door_states(m).values()) == {"free"},
            timeout=10,
        )
        result = caller_ok(c("locker/locker-01/deposit", window="w01", phone=PHONE, case="QP-7"))
        door = result["door"]
        assert board.wait_for(lambda b: door in b.open_doors, 5), "the board never unlocked the door"
        assert modem.wait_for(lambda m: len(m.sent) == 1, 10), "the modem never got the SMS"
        sms = modem.sent[0]
        assert sms.number.lstrip("+").endswith(PHONE)
        code = re.search(r"取件码(\d{6})", sms.text).group(1)  # type: ignore[union-attr]
        sent = json.loads(mqtt_probe.wait_for(root + "event/sms_sent", timeout=10).payload)
        assert sent["id"] == f"{config.hall.id}-deposit-1"
        mqtt_probe.wait_for(root + "state/locker/locker-01", lambda m: door_states(m)[door] == "open")
        board.close(door)  # the clerk puts the documents in and shuts the door
        mqtt_probe.wait_for(root + "state/locker/locker-01", lambda m: door_states(m)[door] == "occupied")

        assert caller_ok(c("locker/locker-01/pickup", code=code)) == {"door": door}
        assert board.wait_for(lambda b: door in b.open_doors, 5)
        board.close(door)
        mqtt_probe.wait_for(root + "state/locker/locker-01", lambda m: door_states(m)[door] == "free")
        assert len(modem.sent) == 1
        # the modem's report reached the deposit's record (the clerk's console shows it)
        sms = mqtt_probe.wait_for(root + "event/locker_sms", timeout=10)
        assert json.loads(sms.payload)["sms"] == "sent"
        for message in mqtt_probe.messages:
            assert PHONE not in message.payload.decode() and code not in message.payload.decode()
    finally:
        c.close()
        bridge.stop()
        server.stop()
        gsm.stop()
        locks.stop()


# --- a database from before the SMS status --------------------------------------------------


@pytest.mark.parametrize("db", ["sqlite", "postgresql"])
def test_a_deposits_table_from_an_older_version_gains_its_new_column(db, tmp_path, request):
    from sqlalchemy import MetaData, Table, create_engine, inspect

    from queue_server.store import tables
    from queue_server.store.repository import Store

    url = f"sqlite:///{tmp_path / 'old.db'}" if db == "sqlite" else request.getfixturevalue("pg_url")
    hall_id = f"old{uuid.uuid4().hex[:8]}"
    now = Clock()()
    # the table as the version before the SMS status made it, holding a waiting deposit
    older = MetaData()
    old_table = Table(
        "locker_deposits", older, *[c._copy() for c in tables.locker_deposits.columns if c.name != "sms"]
    )
    engine = create_engine(url)
    with engine.begin() as conn:
        old_table.drop(conn, checkfirst=True)
        old_table.create(conn)
        conn.execute(
            old_table.insert(),
            {
                "hall": hall_id,
                "id": 4,
                "locker": "locker-01",
                "door": 3,
                "window": "w01",
                "case_no": None,
                "phone_masked": "138****5678",
                "code_hash": "x" * 64,
                "deposited_at": now,
                "expires_at": now + timedelta(days=7),
                "status": "waiting",
                "picked_up_at": None,
            },
        )
    engine.dispose()
    store = Store(url, hall_id)
    store.open()
    try:
        assert "sms" in {c["name"] for c in inspect(store.engine).get_columns("locker_deposits")}
        snapshot = store.load(now, now.date(), 10)
        assert [(d.id, d.door, d.sms) for d in snapshot.deposits] == [(4, 3, "pending")]
        assert snapshot.next_deposit_id == 5
    finally:
        store.close()
