"""The real kiosk app, headless, driven by touch events against Mosquitto, the server and a printer.

Each test runs the pygame app with SDL's dummy video driver, the queue server on the session's
private broker with a hall of its own, and hw_sim's network ESC/POS printer on a free port;
it asserts on what the server recorded, the bytes the printer received and the screen.
"""

from __future__ import annotations

import contextlib
import os
import re
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pygame
import pytest
from helpers.mqtt_probe import MqttProbe
from helpers.server import Caller, example_toml, start_server

from hw_sim.escpos_printer import SimPrinter
from hw_sim.virtual_camera import VirtualCamera
from kiosk.app import KioskApp
from kiosk.flow import Screen
from kiosk.printer import open_printer
from kiosk.server_link import ServerLink
from kiosk.ui.layout import Text
from queue_server.app import Server
from yichuang.broker_process import BrokerProcess, free_port
from yichuang.config import load_config
from yichuang.config_model import Config
from yichuang.mqtt_client import Message

os.environ.setdefault("SDL_VIDEODRIVER", "dummy")

REFERENCE = Path(__file__).parent / "reference"
# Set to regenerate the reference screenshots after a deliberate change of the screens.
UPDATE = os.environ.get("YICHUANG_UPDATE_REFERENCES") == "1"
TZ = ZoneInfo("Asia/Shanghai")
FIXED_WALL = datetime(2026, 11, 23, 9, 41, tzinfo=TZ)
LOCKER, BOARD, MODEM = "locker-01", "lockboard-01", "modem-01"  # as in the example hall


@dataclass
class Hall:
    config: Config
    server: Server
    printer: SimPrinter
    caller: Caller
    tmp: Path


@contextlib.contextmanager
def _running_hall(broker: BrokerProcess, tmp_path: Path, kiosk_locker: str = "") -> Iterator[Hall]:
    """The example hall on the session's broker; `kiosk_locker`: kiosk-01 stands by that locker."""
    if not broker.running:
        broker.start()
    hall_id = f"k{uuid.uuid4().hex[:8]}"
    path = example_toml(tmp_path, broker.url, f"sqlite:///{tmp_path}/hall.db", free_port(), hall_id)
    if kiosk_locker:
        kiosk = '[[kiosk]]\nid = "kiosk-01"\n'
        text = path.read_text(encoding="utf-8")
        assert kiosk in text
        path.write_text(text.replace(kiosk, f'{kiosk}locker = "{kiosk_locker}"\n', 1), encoding="utf-8")
    config = load_config(path)
    server = start_server(config, http=True)
    printer = SimPrinter("kiosk-01", receipts_dir=tmp_path / "receipts").start()
    caller = Caller(broker.port, hall_id)
    try:
        yield Hall(config, server, printer, caller, tmp_path)
    finally:
        caller.close()
        printer.stop()
        server.stop()


@pytest.fixture
def hall(broker: BrokerProcess, tmp_path: Path) -> Iterator[Hall]:
    with _running_hall(broker, tmp_path) as running:
        yield running


@pytest.fixture
def locker_hall(broker: BrokerProcess, tmp_path: Path) -> Iterator[Hall]:
    """The example hall with kiosk-01 beside its file locker (locker-01, lockboard-01, modem-01)."""
    with _running_hall(broker, tmp_path, kiosk_locker=LOCKER) as running:
        yield running


def _app(
    hall: Hall, size: tuple[int, int] = (1280, 800), camera: VirtualCamera | None = None, printer: bool = True
) -> KioskApp:
    app = KioskApp(
        hall.config,
        "kiosk-01",
        printer=open_printer(hall.printer.url, timeout=1.0) if printer else None,
        camera=camera,
        size=size,
        client_id=f"kiosk-test-{uuid.uuid4().hex[:6]}",
        wall=lambda: FIXED_WALL,
        printer_poll_s=0.2,
    )
    app.start()
    app.wait_for(lambda: app.flow.state.link_ok, 10)
    return app


@pytest.fixture
def kiosk(hall: Hall) -> Iterator[KioskApp]:
    app = _app(hall)
    try:
        yield app
    finally:
        app.stop()


def _take_ticket(app: KioskApp, service: str = "realestate") -> None:
    app.tap("take")
    app.tap("service", service)
    app.tap("issue")
    app.wait_for(lambda: app.flow.state.screen == Screen.TICKET and not app.flow.state.printing, 15)


def test_citizen_takes_a_ticket_and_gets_a_printed_receipt(hall: Hall, kiosk: KioskApp) -> None:
    _take_ticket(kiosk)
    ticket = kiosk.flow.state.ticket
    assert ticket is not None and re.fullmatch(r"A\d{3}", ticket.no)
    assert not kiosk.flow.state.print_failed
    receipt = hall.printer.wait_for_receipts(1, 5)[0]
    assert receipt.raw.startswith(b"\x1b@")
    assert hall.config.hall.name.encode("gb18030") in receipt.raw
    assert b"\x1c&" in receipt.raw  # Chinese mode before the GB18030 text
    assert b"\x1d(k" in receipt.raw  # native QR
    assert receipt.cut in ("full", "partial")
    assert ticket.no in receipt.text
    assert receipt.qr_texts == (ticket.status_url,)
    assert "/t/" in ticket.status_url
    assert receipt.png_path is not None and receipt.png_path.is_file()


def test_a_burst_of_taps_issues_one_ticket(hall: Hall, kiosk: KioskApp, mqtt_probe: MqttProbe) -> None:
    root = f"yc/{hall.config.hall.id}"
    mqtt_probe.subscribe(f"{root}/event/ticket_issued")
    kiosk.tap("take")
    kiosk.tap("service", "realestate")
    button = kiosk.find("issue")
    assert button is not None
    x, y, w, h = button.rect
    time.sleep(kiosk.flow.TAP_GUARD_S)  # the citizen has looked at the screen before hammering it
    for i in range(12):  # a citizen hammering the button, and a bouncing touch panel
        pos = (x + w // 2 + i, y + h // 2)
        pygame.event.post(pygame.event.Event(pygame.MOUSEBUTTONDOWN, pos=pos, button=1))
        pygame.event.post(pygame.event.Event(pygame.MOUSEBUTTONUP, pos=pos, button=1))
    kiosk.step()
    kiosk.wait_for(lambda: kiosk.flow.state.screen == Screen.TICKET and not kiosk.flow.state.printing, 15)
    mqtt_probe.wait_for(f"{root}/event/ticket_issued")
    kiosk.wait_for(lambda: len(hall.printer.receipts) >= 1, 5)
    for _ in range(20):
        kiosk.step(wait_s=0.02)
    assert len(mqtt_probe.received(f"{root}/event/ticket_issued")) == 1
    assert len(hall.printer.receipts) == 1


def test_a_retried_request_after_a_lost_reply_yields_one_ticket(
    hall: Hall, kiosk: KioskApp, mqtt_probe: MqttProbe, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = f"yc/{hall.config.hall.id}"
    mqtt_probe.subscribe(f"{root}/event/ticket_issued")
    # every first attempt times out before its reply can arrive: the kiosk asks again
    monkeypatch.setattr(ServerLink, "TRY_S", 0.0005)
    _take_ticket(kiosk)
    mqtt_probe.wait_for(f"{root}/event/ticket_issued")
    for _ in range(20):
        kiosk.step(wait_s=0.02)
    assert kiosk.flow.state.ticket is not None
    assert len(mqtt_probe.received(f"{root}/event/ticket_issued")) == 1


def test_server_down_the_kiosk_says_so_and_recovers(hall: Hall, kiosk: KioskApp) -> None:
    hall.server.stop()
    kiosk.wait_for(lambda: not kiosk.flow.state.link_ok, 10)
    assert kiosk.flow.state.screen == Screen.HOME
    take = kiosk.find("take")
    assert take is not None and not take.enabled
    assert any(getattr(w, "text", "").startswith("取号系统暂时无法连接") for w in kiosk.widgets)
    hall.server = start_server(hall.config)
    kiosk.wait_for(lambda: kiosk.flow.state.link_ok, 15)
    _take_ticket(kiosk)
    assert kiosk.flow.state.ticket is not None


def test_broker_down_the_kiosk_says_so_and_recovers(
    hall: Hall, kiosk: KioskApp, broker: BrokerProcess
) -> None:
    broker.stop()
    try:
        kiosk.wait_for(lambda: not kiosk.flow.state.link_ok, 10)
        take = kiosk.find("take")
        assert take is not None and not take.enabled
    finally:
        broker.start()
    # the server republishes its retained `online` on reconnect; the kiosk follows by itself
    kiosk.wait_for(lambda: kiosk.flow.state.link_ok, 30)
    _take_ticket(kiosk)
    assert kiosk.flow.state.ticket is not None


def test_paper_out_stops_ticketing_with_an_alarm_and_recovers(
    hall: Hall, kiosk: KioskApp, mqtt_probe: MqttProbe
) -> None:
    root = f"yc/{hall.config.hall.id}"
    mqtt_probe.subscribe(f"{root}/event/alarm")
    mqtt_probe.subscribe(f"{root}/device/kiosk-01/telemetry")
    kiosk.wait_for(lambda: kiosk.flow.state.paper == "ok", 5)
    hall.printer.set_paper("out")
    kiosk.wait_for(lambda: kiosk.flow.state.paper == "out", 5)
    alarm = mqtt_probe.wait_for(f"{root}/event/alarm", lambda m: m.json()["kind"] == "paper_out")
    assert alarm.json()["device"] == "kiosk-01" and alarm.json()["event_id"]
    mqtt_probe.wait_for(f"{root}/device/kiosk-01/telemetry", lambda m: m.json()["paper"] == "out")
    take = kiosk.find("take")
    assert take is not None and not take.enabled
    assert kiosk.find("help") is not None and kiosk.find("help").enabled  # type: ignore[union-attr]
    hall.printer.set_paper("ok")
    kiosk.wait_for(lambda: kiosk.flow.state.paper == "ok", 5)
    _take_ticket(kiosk)
    assert not kiosk.flow.state.print_failed


def test_printer_failure_keeps_the_number_on_screen(
    hall: Hall, kiosk: KioskApp, mqtt_probe: MqttProbe
) -> None:
    root = f"yc/{hall.config.hall.id}"
    mqtt_probe.subscribe(f"{root}/event/alarm")
    hall.printer.stop()
    _take_ticket(kiosk)
    state = kiosk.flow.state
    assert state.print_failed and state.ticket is not None
    texts = [getattr(w, "text", "") for w in kiosk.widgets]
    assert state.ticket.no in texts  # the number, large, is all the citizen has
    assert any("未能打印" in t for t in texts)
    assert any(type(w).__name__ == "Qr" for w in kiosk.widgets)  # and the status page by QR
    mqtt_probe.wait_for(f"{root}/event/alarm", lambda m: m.json()["kind"] == "print_failed")
    mqtt_probe.wait_for(f"{root}/event/alarm", lambda m: m.json()["kind"] == "printer_offline")
    kiosk.wait_for(lambda: kiosk.flow.state.paper == "offline", 5)


def test_help_button_raises_a_help_request(hall: Hall, kiosk: KioskApp, mqtt_probe: MqttProbe) -> None:
    root = f"yc/{hall.config.hall.id}"
    mqtt_probe.subscribe(f"{root}/event/help_requested")
    kiosk.tap("help")
    kiosk.wait_for(lambda: kiosk.flow.state.screen == Screen.HELP and kiosk.flow.state.pending is None, 10)
    event = mqtt_probe.wait_for(f"{root}/event/help_requested")
    assert event.json()["kiosk"] == "kiosk-01"


def test_green_channel_ticket_alerts_the_help_desk(
    hall: Hall, kiosk: KioskApp, mqtt_probe: MqttProbe
) -> None:
    root = f"yc/{hall.config.hall.id}"
    mqtt_probe.subscribe(f"{root}/event/help_requested")
    kiosk.tap("green")
    kiosk.tap("area", 1)
    kiosk.tap("service", "social_insurance")
    kiosk.tap("issue")
    kiosk.wait_for(lambda: kiosk.flow.state.screen == Screen.TICKET, 10)
    assert kiosk.flow.state.ticket is not None and kiosk.flow.state.ticket.priority == "green"
    event = mqtt_probe.wait_for(f"{root}/event/help_requested")
    assert kiosk.flow.state.ticket.no in event.json()["reason"]


def test_appointment_check_in_by_qr_under_the_camera(hall: Hall) -> None:
    slot = datetime.now(TZ) + timedelta(minutes=5)
    created = hall.caller(
        "appointment/create",
        code="20261123",
        service="housing_fund",
        slot_at=slot.isoformat(timespec="seconds"),
    )
    assert created["ok"], created
    camera = VirtualCamera(size=(640, 360), seed=3)
    app = _app(hall, camera=camera)
    try:
        app.tap("checkin")
        camera.hold_qr("YC:APPT:20261123", module_px=5)
        app.wait_for(lambda: app.flow.state.screen == Screen.TICKET, 15)
        ticket = app.flow.state.ticket
        assert ticket is not None and ticket.priority == "appointment" and ticket.service == "housing_fund"
    finally:
        app.stop()


def test_documents_scanned_at_the_kiosk_reach_the_window(hall: Hall) -> None:
    import httpx

    camera = VirtualCamera(size=(1280, 720), seed=11)
    app = _app(hall, camera=camera)
    try:
        _take_ticket(app)
        ticket = app.flow.state.ticket
        assert ticket is not None
        app.tap("scan")
        assert app.flow.state.screen == Screen.SCAN
        camera.lay_page("a4", text_seed=1, fill=0.8)
        app.wait_for(lambda: app.flow.state.scan_pages == 1, 20)
        camera.clear()
        app.wait_for(lambda: app.flow.state.scan_guidance == "nothing_found", 10)
        camera.lay_page("id_card", text_seed=2, fill=0.6, rotation_deg=8)
        app.wait_for(lambda: app.flow.state.scan_pages == 2, 20)
        app.tap("tick", 0)
        app.tap("send")
        app.wait_for(lambda: app.flow.state.screen == Screen.TICKET, 30)
        assert app.flow.state.scan_sent == 2
        assert app.scanner is not None and app.scanner.pages == 0  # nothing kept on the kiosk
        token = ticket.status_url.rsplit("/t/", 1)[1]
        base = ticket.status_url.rsplit("/t/", 1)[0]
        listed = httpx.get(f"{base}/api/v1/tickets/{token}/attachments", timeout=10).json()
        assert sorted(a["mime"] for a in listed) == ["application/pdf", "image/jpeg", "image/jpeg"]
        material = next(s for s in hall.config.services if s.id == "realestate").materials[0].name
        assert [a["material"] for a in listed if a["mime"] == "application/pdf"] == [material]
    finally:
        app.stop()


def test_appointment_check_in_by_keypad_wrong_then_right(hall: Hall, kiosk: KioskApp) -> None:
    slot = datetime.now(TZ) + timedelta(minutes=5)
    assert hall.caller(
        "appointment/create", code="555123", service="mortgage", slot_at=slot.isoformat(timespec="seconds")
    )["ok"]
    kiosk.tap("checkin")
    for digit in "555999":
        kiosk.tap("digit", digit)
    kiosk.tap("code_ok")
    kiosk.wait_for(lambda: kiosk.flow.state.code_error == "wrong_code", 10)
    for digit in "555123":
        kiosk.tap("digit", digit)
    kiosk.tap("code_ok")
    kiosk.wait_for(lambda: kiosk.flow.state.screen == Screen.TICKET, 10)
    assert kiosk.flow.state.ticket is not None and kiosk.flow.state.ticket.priority == "appointment"


def test_print_test_from_a_dashboard(hall: Hall, kiosk: KioskApp, mqtt_probe: MqttProbe) -> None:
    mqtt_probe.publish(f"yc/{hall.config.hall.id}/device/kiosk-01/set", {"print_test": True})
    receipts = hall.printer.wait_for_receipts(1, 5)
    assert "T000" in receipts[0].text


def test_kiosk_availability_info_and_discovery(hall: Hall, mqtt_probe: MqttProbe) -> None:
    root = f"yc/{hall.config.hall.id}/device/kiosk-01"
    mqtt_probe.subscribe(f"{root}/#")
    mqtt_probe.subscribe(f"homeassistant/device/yc_{hall.config.hall.id}_kiosk-01/config")
    kiosk = _app(hall)
    assert mqtt_probe.wait_for(f"{root}/status").text() == "online"
    info = mqtt_probe.wait_for(f"{root}/info").json()
    assert info["kind"] == "kiosk" and info["printer"].startswith(hall.printer.url)
    disco = mqtt_probe.wait_for(f"homeassistant/device/yc_{hall.config.hall.id}_kiosk-01/config").json()
    assert set(disco["components"]) >= {"online", "paper", "print_test"}
    kiosk.stop()
    mqtt_probe.wait_for(f"{root}/status", lambda m: m.text() == "offline")


# -- the file locker beside the kiosk -------------------------------------------------------


def _board_online(hall: Hall, probe: MqttProbe) -> None:
    """What the bridge would report for the lock board: online, every door closed (a door is
    free only then, so this comes before any deposit)."""
    root = f"yc/{hall.config.hall.id}"
    locker = next(lk for lk in hall.config.lockers if lk.id == LOCKER)
    probe.subscribe(f"{root}/state/locker/{LOCKER}")
    probe.publish(f"{root}/device/{BOARD}/status", "online", retain=True)
    doors = [{"door": d.door, "open": False} for d in locker.doors]
    probe.publish(f"{root}/device/{BOARD}/state", {"locker": LOCKER, "doors": doors}, retain=True)
    probe.wait_for(
        f"{root}/state/locker/{LOCKER}", lambda m: {d["state"] for d in m.json()["doors"]} == {"free"}, 10
    )


def _deposit(hall: Hall, probe: MqttProbe, size: str = "S") -> tuple[int, str, Message]:
    """A clerk deposits a result: its door, the code from the SMS the server sent the modem,
    and the board's open command for the deposit."""
    root = f"yc/{hall.config.hall.id}"
    probe.subscribe(f"{root}/device/+/set")
    reply = hall.caller(f"locker/{LOCKER}/deposit", window="w12", phone="13812345678", size=size)
    assert reply["ok"], reply
    door, deposit = reply["result"]["door"], reply["result"]["deposit"]
    sms_id = f"{hall.config.hall.id}-deposit-{deposit}"
    sms = probe.wait_for(f"{root}/device/{MODEM}/set", lambda m: m.json()["sms"]["id"] == sms_id).json()
    match = re.search(r"取件码(\d{6})", sms["sms"]["text"])
    assert match is not None, sms
    opened = probe.wait_for(f"{root}/device/{BOARD}/set", lambda m: m.json() == {"open": door})
    return door, match.group(1), opened


def _type_pickup_code(app: KioskApp, code: str) -> None:
    for digit in code:
        app.tap("digit", digit)
    app.tap("pickup_ok")


def _texts(app: KioskApp) -> list[str]:
    return [w.text for w in app.widgets if isinstance(w, Text)]


def test_pickup_at_the_kiosk_opens_the_door(locker_hall: Hall, mqtt_probe: MqttProbe) -> None:
    root = f"yc/{locker_hall.config.hall.id}"
    _board_online(locker_hall, mqtt_probe)
    door, code, deposit_open = _deposit(locker_hall, mqtt_probe)
    mqtt_probe.subscribe(f"{root}/event/locker_picked_up")
    app = _app(locker_hall)
    try:
        app.tap("pickup")
        assert app.flow.state.screen == Screen.PICKUP
        _type_pickup_code(app, code)
        app.wait_for(lambda: app.flow.state.screen == Screen.PICKED_UP, 15)
        assert app.flow.state.door == door
        assert str(door) in _texts(app) and f"请到 {door} 号柜门取件" in _texts(app)
        opened = mqtt_probe.wait_for(f"{root}/device/{BOARD}/set", lambda m: m is not deposit_open)
        assert opened.json() == {"open": door} and not opened.retain
        assert mqtt_probe.wait_for(f"{root}/event/locker_picked_up").json()["door"] == door
        app.tap("done")
        assert app.flow.state.screen == Screen.HOME and app.flow.state.door is None
    finally:
        app.stop()


def test_wrong_pickup_codes_at_the_kiosk_until_the_locker_locks_out(
    locker_hall: Hall, mqtt_probe: MqttProbe
) -> None:
    root = f"yc/{locker_hall.config.hall.id}"
    _board_online(locker_hall, mqtt_probe)
    _door, code, deposit_open = _deposit(locker_hall, mqtt_probe)
    wrong = "000000" if code != "000000" else "000001"
    app = _app(locker_hall)
    try:
        app.tap("pickup")
        _type_pickup_code(app, wrong)
        app.wait_for(lambda: app.flow.state.code_error == "pickup_wrong_code", 15)
        assert app.flow.state.screen == Screen.PICKUP and app.flow.state.code == ""
        assert "取件码不对，请核对短信" in _texts(app)
        # four more wrong codes at this locker (from anywhere) make five: it stops taking codes
        for _ in range(4):
            refused = locker_hall.caller(f"locker/{LOCKER}/pickup", code=wrong)
            assert refused["error"]["code"] == "wrong_code", refused
        _type_pickup_code(app, code)
        app.wait_for(lambda: app.flow.state.screen == Screen.MESSAGE, 15)
        assert app.flow.state.message == "pickup_locked_out"
        assert "错误次数过多，请10分钟后再试或联系工作人员" in _texts(app)
        assert mqtt_probe.received(f"{root}/device/{BOARD}/set") == [deposit_open]  # no door opened
    finally:
        app.stop()


# -- what the citizen sees -------------------------------------------------------------------


def _compare(surface_path: Path, name: str) -> None:
    reference = REFERENCE / name
    if UPDATE or not reference.exists():
        if not UPDATE and os.environ.get("CI"):
            pytest.fail(f"reference screenshot {reference} missing (run with YICHUANG_UPDATE_REFERENCES=1)")
        REFERENCE.mkdir(exist_ok=True)
        reference.write_bytes(surface_path.read_bytes())
    got = pygame.surfarray.array3d(pygame.image.load(str(surface_path))).astype("int16")
    want = pygame.surfarray.array3d(pygame.image.load(str(reference))).astype("int16")
    assert got.shape == want.shape, f"{name}: size {got.shape} != {want.shape}"
    diff = abs(got - want).max(axis=2)
    changed = float((diff > 48).mean())
    # font hinting may move single pixels between FreeType versions; a changed layout moves thousands
    assert changed < 0.005, f"{name}: {changed:.2%} of pixels differ from the reference"


@pytest.mark.parametrize(
    ("screen", "language", "elderly", "size"),
    [
        ("home", "zh", False, (1920, 1080)),
        ("home", "en", False, (1280, 800)),
        ("home", "zh", True, (1920, 1080)),
        ("services", "zh", False, (1920, 1080)),
        ("services", "en", True, (1280, 800)),
        ("guide", "zh", False, (1920, 1080)),
        ("ticket", "zh", False, (1280, 800)),
    ],
)
def test_screens_match_their_reference(
    hall: Hall, tmp_path: Path, screen: str, language: str, elderly: bool, size: tuple[int, int]
) -> None:
    app = _app(hall, size=size)
    try:
        # the waiting figures on the buttons come from retained state: wait for all of them
        app.wait_for(lambda: len(app.flow.state.queues) == len(hall.config.services), 10)
        if language == "en":
            app.tap("language")
        if elderly:
            app.tap("elderly")
        if screen == "services":
            app.tap("take")
            if elderly:
                app.tap("area", 1)
        elif screen == "guide":
            app.tap("guide")
            app.tap("service", "realestate")
        elif screen == "ticket":
            _take_ticket(app)
            app.flow.state.ticket = app.flow.state.ticket and type(app.flow.state.ticket)(
                **{**app.flow.state.ticket.__dict__, "no": "A001"}
            )
        path = tmp_path / "shot.png"
        app.screenshot(path)
        _compare(path, f"kiosk-{screen}-{language}{'-elderly' if elderly else ''}-{size[0]}x{size[1]}.png")
    finally:
        app.stop()


def test_pickup_screens_match_their_reference(
    locker_hall: Hall, mqtt_probe: MqttProbe, tmp_path: Path
) -> None:
    _board_online(locker_hall, mqtt_probe)
    door, code, _opened = _deposit(locker_hall, mqtt_probe, size="L")
    assert door == 13  # the first L door of the example locker
    app = _app(locker_hall, size=(1920, 1080))
    path = tmp_path / "shot.png"
    try:
        app.screenshot(path)
        _compare(path, "kiosk-home-locker-zh-1920x1080.png")
        app.tap("pickup")
        for digit in "3059":
            app.tap("digit", digit)
        app.screenshot(path)
        _compare(path, "kiosk-pickup-zh-1920x1080.png")
        app.tap("clear")
        _type_pickup_code(app, code)
        app.wait_for(lambda: app.flow.state.screen == Screen.PICKED_UP, 15)
        app.screenshot(path)
        _compare(path, "kiosk-pickup-door-zh-1920x1080.png")
    finally:
        app.stop()


def test_yichuang_kiosk_runs_headless_and_stops_cleanly_on_sigterm(
    hall: Hall, mqtt_probe: MqttProbe, tmp_path: Path
) -> None:
    import signal
    import subprocess
    import sys

    from hw_sim.hall_sim import rewrite_printers

    root = f"yc/{hall.config.hall.id}/device/kiosk-01"
    mqtt_probe.subscribe(f"{root}/#")
    toml = tmp_path / "kiosk.toml"
    text = (tmp_path / "hall.toml").read_text(encoding="utf-8")
    toml.write_text(rewrite_printers(text, {"kiosk-01": hall.printer.url}), encoding="utf-8")
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "yichuang.cli",
            "kiosk",
            "-c",
            str(toml),
            "--id",
            "kiosk-01",
            "--headless",
            "--mute",
            "--camera",
            "",
        ],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        mqtt_probe.wait_for(f"{root}/status", lambda m: m.text() == "online", timeout=20)
        mqtt_probe.wait_for(
            f"{root}/telemetry",
            lambda m: m.json()["paper"] == "ok" and m.json()["server"] == "online",
            timeout=20,
        )
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(20) == 0
        mqtt_probe.wait_for(f"{root}/status", lambda m: m.text() == "offline")
    finally:
        if proc.poll() is None:
            proc.kill()
    assert "Traceback" not in proc.stderr.read()  # type: ignore[union-attr]


def test_yichuang_kiosk_refuses_an_unknown_id_and_a_bad_printer_url(hall: Hall, tmp_path: Path) -> None:
    import subprocess
    import sys

    base = [sys.executable, "-m", "yichuang.cli", "kiosk", "-c", str(tmp_path / "hall.toml"), "--headless"]
    unknown = subprocess.run([*base, "--id", "kiosk-99"], capture_output=True, text=True, timeout=30)
    assert unknown.returncode == 1 and "no [[kiosk]] with id 'kiosk-99'" in unknown.stderr
    bad = subprocess.run(
        [*base, "--id", "kiosk-01", "--printer", "lpt://1"], capture_output=True, text=True, timeout=30
    )
    assert bad.returncode == 1 and "lpt://1" in bad.stderr
