"""The technicians' dashboard `/dashboard` in a real headless Chromium, on the real server and broker.

Devices are played by an MQTT probe publishing what kiosks and bridges publish (CONTRACT §3.1,
§3.4); the server's DeviceWatch hears them and the page shows them through the event stream.
Skipped, with the reason shown, when Chromium or Playwright is missing. Run this file directly
(`.venv/bin/python tests/test_dashboard_browser.py`) to refresh `docs/img/dashboard.png`.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import httpx
import pytest
from helpers.halls import small_hall
from helpers.mqtt_probe import MqttProbe
from helpers.server import on_ports, start_server
from test_pages_browser import CHROMIUM, DOCS_IMG, _require_browser, browser

from queue_server.app import Server
from yichuang.broker_process import BrokerProcess
from yichuang.config_model import Config, DeviceConfig, DisplayConfig, KioskConfig, LockerConfig, LockerDoor

WAIT_MS = 8_000  # "within a few seconds"


@dataclass
class Hall:
    config: Config
    server: Server
    url: str
    api: httpx.Client
    probe: MqttProbe

    @property
    def root(self) -> str:
        return f"yc/{self.config.hall.id}/"

    def status(self, device: str, status: str) -> None:
        self.probe.publish(f"{self.root}device/{device}/status", status, retain=True)

    def info(self, device: str, kind: str, **extra: Any) -> None:
        payload = {"kind": kind, "model": f"test-{kind}", "version": "1.2.0", **extra}
        self.probe.publish(f"{self.root}device/{device}/info", payload, retain=True)

    def telemetry(self, device: str, **payload: Any) -> None:
        self.probe.publish(f"{self.root}device/{device}/telemetry", payload, qos=0)

    def alarm(self, kind: str, device: str, **extra: Any) -> None:
        payload = {
            "event_id": f"{device}-{uuid.uuid4().hex[:8]}",
            "at": self.server.clock().isoformat(),
            "kind": kind,
            "device": device,
            **extra,
        }
        self.probe.publish(f"{self.root}event/alarm", payload)


def dashboard_config(config: Config) -> Config:
    """The small test hall with kiosks, a display and a bridge with its bus devices."""
    return replace(
        config,
        hall=replace(
            config.hall,
            id=f"d{uuid.uuid4().hex[:10]}",
            name="青浦区政务服务中心",
            name_en="Qingpu Government Service Center",
        ),
        kiosks=(
            KioskConfig("kiosk-01", location="一楼大厅"),
            KioskConfig("kiosk-02"),
            KioskConfig("kiosk-03"),
        ),
        displays=(DisplayConfig("display-main"),),
        devices=(
            DeviceConfig("caller-w01", "caller", window="w01", bridge="bridge-01"),
            DeviceConfig("caller-w02", "caller", window="w02", bridge="bridge-01"),
            DeviceConfig("eval-w01", "eval_pad", window="w01", bridge="bridge-01"),
            DeviceConfig("led-w01", "led_panel", window="w01", bridge="bridge-01"),
            DeviceConfig("btn-w09", "gpio_button", window="w09", bridge="bridge-01"),
            DeviceConfig("lockboard-01", "lock_board", "kerong", bridge="bridge-01", locker="locker-01"),
        ),
        lockers=(
            LockerConfig(
                "locker-01", tuple(LockerDoor(n, "S" if n <= 6 else "M") for n in range(1, 9)), "一楼"
            ),
        ),
    )


def running_hall(broker: BrokerProcess, db: Path) -> Iterator[Hall]:
    config = dashboard_config(on_ports(small_hall(), broker.url, f"sqlite:///{db}"))
    server = start_server(config, http=True)
    probe = MqttProbe(broker.host, broker.port).connect()
    url = f"http://127.0.0.1:{config.http.port}"
    try:
        with httpx.Client(base_url=url, timeout=10) as api:
            yield Hall(config, server, url, api, probe)
    finally:
        probe.close()
        server.stop()


@pytest.fixture(scope="module")
def hall(broker: BrokerProcess, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Hall]:
    yield from running_hall(broker, tmp_path_factory.mktemp("dashboard") / "hall.db")


@pytest.fixture
def page(hall: Hall) -> Iterator[Any]:
    _require_browser()
    with browser() as chromium:
        tab = chromium.new_page(viewport={"width": 1600, "height": 900})
        errors: list[str] = []
        tab.on("pageerror", lambda exc: errors.append(str(exc)))
        tab.goto(f"{hall.url}/dashboard")
        tab.wait_for_selector("#live.on", timeout=WAIT_MS)
        yield tab
        assert errors == [], errors  # a script error would leave the page quietly stale


def dev(device: str) -> str:
    return f'.dev[data-device="{device}"]'


def test_the_server_lists_itself_online(hall: Hall) -> None:
    deadline = time.monotonic() + 5
    while True:
        devices = hall.api.get("/api/v1/devices").json()
        server = next((d for d in devices if d["device"] == "server"), None)
        if server is not None and server["status"] == "online" and server["kind"] == "queue_server":
            break
        assert time.monotonic() < deadline, devices
        time.sleep(0.1)
    assert server["status_at"] and server["info"]["model"] == "yichuang"
    assert isinstance(hall.api.get("/api/v1/alarms").json(), list)
    tags = {t["name"] for t in hall.api.get("/openapi.json").json()["tags"]}
    assert "devices" in tags


def test_a_device_going_offline_turns_red(hall: Hall, page: Any) -> None:
    # configured but never heard from: shown all the same, neither green nor red
    page.wait_for_selector(dev("caller-w02") + '[data-status="unseen"]')
    hall.info("caller-w01", "caller", window="w01")
    hall.status("caller-w01", "online")
    page.wait_for_selector(dev("caller-w01") + " .dot.on", timeout=WAIT_MS)
    assert "在线" in page.inner_text(dev("caller-w01"))
    hall.status("caller-w01", "offline")
    page.wait_for_selector(dev("caller-w01") + " .dot.off", timeout=WAIT_MS)
    assert "离线" in page.inner_text(dev("caller-w01"))
    # a device the config does not know still shows, and its id is text, never markup
    hall.status('<img src=x onerror="window.pwned=1">', "online")
    page.wait_for_selector('.dev[data-device="<img src=x onerror=\\"window.pwned=1\\">"]', timeout=WAIT_MS)
    assert page.evaluate("window.pwned") is None
    hall.status('<img src=x onerror="window.pwned=1">', "")  # take it away again


def test_paper_out_shows_a_red_badge_and_the_alarm(hall: Hall, page: Any) -> None:
    hall.info("kiosk-02", "kiosk", location="二楼")
    hall.status("kiosk-02", "online")
    hall.telemetry("kiosk-02", uptime_s=3725, paper="out", server="online")
    hall.alarm("paper_out", "kiosk-02", kiosk="kiosk-02")
    page.wait_for_selector(dev("kiosk-02") + " .badge.paper.out.red", timeout=WAIT_MS)
    page.wait_for_selector('#alarms li[data-kind="paper_out"]', timeout=WAIT_MS)
    line = page.inner_text('#alarms li[data-kind="paper_out"]')
    assert "缺纸" in line and "Paper out" in line and "kiosk-02" in line
    assert "运行 Up 1h2m" in page.inner_text(dev("kiosk-02"))
    alarms = hall.api.get("/api/v1/alarms").json()
    assert alarms[0]["kind"] == "paper_out" and alarms[0]["device"] == "kiosk-02"


def test_a_help_request_appears_and_is_resolved_from_the_page(hall: Hall, page: Any) -> None:
    created = hall.api.post("/api/v1/help", json={"kiosk": "kiosk-03", "reason": "绿色通道 B004"})
    assert created.status_code == 201, created.text
    request = created.json()["request"]["id"]
    item = f'#help li[data-help="{request}"]'
    page.wait_for_selector(item, timeout=WAIT_MS)
    assert "绿色通道" in page.inner_text(item) and "green" in (page.get_attribute(item, "class") or "")
    page.click(item + " button")
    page.wait_for_selector(item, state="detached", timeout=WAIT_MS)
    assert all(h["id"] != request for h in hall.api.get("/api/v1/help").json())


def stage(hall: Hall) -> None:
    """A lively morning: most devices up, a caller and a kiosk down, paper low, alarms, a help request."""
    for w in ("w01", "w02", "w03"):
        hall.api.post(f"/api/v1/windows/{w}/open", json={})
    hall.api.post("/api/v1/windows/w03/pause", json={"reason": "午休"})
    for service in ("A", "B", "A", "A", "B", "A", "C"):
        hall.api.post("/api/v1/tickets", json={"service": service, "kiosk": "kiosk-01"})
    hall.api.post("/api/v1/windows/w01/call_next", json={})
    hall.api.post("/api/v1/windows/w02/call_next", json={})
    hall.api.post("/api/v1/windows/w02/start", json={})
    hall.info("bridge-01", "bridge")
    hall.status("bridge-01", "online")
    hall.telemetry("bridge-01", uptime_s=86400 * 3 + 7200)
    # the locker: its board online, a door standing open
    hall.info("lockboard-01", "lock_board")
    hall.status("lockboard-01", "online")
    doors = [{"door": n, "open": n == 2} for n in range(1, 9)]
    hall.probe.publish(
        f"{hall.root}device/lockboard-01/state", {"locker": "locker-01", "doors": doors}, retain=True
    )
    for device, kind in (
        ("caller-w01", "caller"),
        ("eval-w01", "eval_pad"),
        ("led-w01", "led_panel"),
        ("btn-w09", "gpio_button"),
    ):
        hall.info(device, kind, window=device.split("-")[1])
        hall.status(device, "online")
    hall.info("caller-w02", "caller", window="w02")
    hall.status("caller-w02", "offline")
    hall.info("kiosk-01", "kiosk", location="一楼大厅")
    hall.status("kiosk-01", "online")
    hall.telemetry("kiosk-01", uptime_s=15320, paper="low", server="online", printed=212)
    hall.info("kiosk-03", "kiosk", location="二楼")
    hall.status("kiosk-03", "online")
    hall.telemetry("kiosk-03", uptime_s=15100, paper="ok", server="online")
    hall.info("display-main", "display")
    hall.status("display-main", "online")
    hall.telemetry("display-main", uptime_s=15400, frames=99, muted=False)
    hall.alarm("paper_low", "kiosk-01", kiosk="kiosk-01")
    hall.alarm(
        "press_dropped",
        "caller-w02",
        bridge="bridge-01",
        window="w02",
        command="window/w02/call_next",
        age_s=131.2,
    )
    hall.api.post("/api/v1/help", json={"kiosk": "kiosk-01", "reason": "帮办"})


def shoot(hall: Hall, out: Path) -> None:
    stage(hall)
    with browser() as chromium:
        tab = chromium.new_page(viewport={"width": 1600, "height": 900})
        tab.goto(f"{hall.url}/dashboard")
        tab.wait_for_selector("#live.on", timeout=WAIT_MS)
        tab.wait_for_selector(dev("kiosk-01") + " .badge.paper.low", timeout=WAIT_MS)
        tab.wait_for_selector('#alarms li[data-kind="press_dropped"]', timeout=WAIT_MS)
        tab.wait_for_selector("#help li[data-help]", timeout=WAIT_MS)
        tab.wait_for_timeout(300)
        tab.screenshot(path=str(out))


def test_the_lockers_doors_follow_the_lock_board(hall: Hall, page: Any) -> None:
    # before the board has spoken every door is a fault: nothing can be promised
    page.wait_for_selector('.door.fault[data-door="1"]', timeout=WAIT_MS)
    hall.status("lockboard-01", "online")
    doors = [{"door": n, "open": n == 3} for n in range(1, 9)]
    hall.probe.publish(
        f"{hall.root}device/lockboard-01/state", {"locker": "locker-01", "doors": doors}, retain=True
    )
    page.wait_for_selector('.door.open[data-door="3"]', timeout=WAIT_MS)
    assert page.locator(".door.free").count() == 7
    assert "门开 1" in page.inner_text('[data-locker="locker-01"]')


def test_screenshot_of_a_lively_dashboard(hall: Hall, tmp_path: Path) -> None:
    _require_browser()
    shoot(hall, tmp_path / "dashboard.png")
    assert (tmp_path / "dashboard.png").stat().st_size > 20_000


if __name__ == "__main__":
    import tempfile

    from yichuang.broker_process import start_mosquitto

    assert CHROMIUM is not None, "chromium is not installed"
    DOCS_IMG.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as scratch:
        mosquitto = start_mosquitto(Path(scratch))
        try:
            for running in running_hall(mosquitto, Path(scratch) / "hall.db"):
                shoot(running, DOCS_IMG / "dashboard.png")
        finally:
            mosquitto.stop()
    print(f"screenshot written to {DOCS_IMG / 'dashboard.png'}")
