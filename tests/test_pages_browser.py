"""The console and the ticket page driven in a real headless Chromium, as a clerk and a citizen would.

Skipped, with the reason shown, when Chromium or Playwright is missing. Run this file directly
(`.venv/bin/python tests/test_pages_browser.py`) to refresh the screenshots in `docs/img/`.
"""

from __future__ import annotations

import shutil
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
import uvicorn
from test_http_api import TZ, Health, hall_config  # tests/ is on sys.path, under pytest and as a script

from queue_server.http_api import create_app
from queue_server.store.attachments import AttachmentStore
from queue_server.store.repository import Store
from queue_server.worker import Worker
from yichuang.config_model import DeviceConfig, LockerConfig, LockerDoor

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]
DOCS_IMG = Path(__file__).resolve().parent.parent / "docs" / "img"


@dataclass
class LiveHall:
    url: str
    api: httpx.Client
    worker: Worker | None = None

    def issue(self, service: str, **extra: Any) -> dict[str, Any]:
        r = self.api.post("/api/v1/tickets", json={"service": service, "kiosk": "kiosk-01", **extra})
        assert r.status_code == 201, r.text
        return r.json()


@contextmanager
def live_hall(db: Path, locker: bool = False) -> Iterator[LiveHall]:
    """A worker over SQLite and the app behind uvicorn on a free loopback port; with `locker`,
    a six-door file locker whose lock board is online with every door closed."""
    config = hall_config(db)
    if locker:
        doors = tuple(LockerDoor(n, "S" if n <= 4 else "M") for n in range(1, 7))
        config = replace(
            config,
            lockers=(LockerConfig("locker-01", doors, "12号窗口旁"),),
            devices=(
                DeviceConfig("lockboard-01", "lock_board", "kerong", "socket://127.0.0.1:1", 1,
                             locker="locker-01"),
                DeviceConfig("modem-01", "modem", "", "socket://127.0.0.1:2"),
            ),
        )
    store = Store(config.database.url, config.hall.id)
    store.open()
    worker = Worker(config, store, clock=lambda: datetime.now(ZoneInfo(TZ)))
    worker.start()
    if locker:
        worker.read(lambda h: h.locker_sensed("lockboard-01", True, []))
    server: uvicorn.Server | None = None
    thread: threading.Thread | None = None
    app = create_app(config, worker, health=Health(), metrics=lambda: (b"", "text/plain"), public_url="",
                     attachments=AttachmentStore(store.engine, config.hall.id))
    try:
        server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning",
                                               lifespan="off"))
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        deadline = time.monotonic() + 10
        while not server.started and time.monotonic() < deadline:
            time.sleep(0.02)
        port = server.servers[0].sockets[0].getsockname()[1]
        url = f"http://127.0.0.1:{port}"
        with httpx.Client(base_url=url, timeout=10) as api:
            yield LiveHall(url, api, worker)
    finally:
        app.state.live.close()  # open event streams would otherwise hold uvicorn's shutdown
        if server is not None:
            server.should_exit = True
        if thread is not None:
            thread.join(10)
        worker.stop()
        store.close()


@contextmanager
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


def _require_browser() -> None:
    if CHROMIUM is None:
        pytest.skip("chromium is not installed (apt-get install -y chromium)")
    pytest.importorskip("playwright.sync_api", reason="playwright is not installed (pip install playwright)")


def stage_and_shoot(hall: LiveHall, out: Path) -> None:
    """A busy morning at window 1, shot as the clerk's console and a citizen's phone see it."""
    with browser() as chromium:
        console = chromium.new_page(viewport={"width": 1280, "height": 860})
        console.goto(f"{hall.url}/console/w01")
        console.fill("#staff", "1024")
        console.click("[data-act=open]")
        console.wait_for_selector("#chip.idle")
        for service in ("A", "B", "A", "A", "B", "A", "A"):
            hall.issue(service)
        console.click("[data-act=call_next]")
        console.wait_for_function("document.getElementById('number').textContent === 'A001'")
        console.click("[data-act=park]")
        console.wait_for_selector("#parked button")
        console.click("[data-act=call_next]")
        console.wait_for_function("document.getElementById('number').textContent === 'A002'")
        console.click("[data-act=start]")
        console.wait_for_selector("#chip.serving")
        hall.api.post("/api/v1/help", json={"kiosk": "kiosk-02",
                                            "reason": "老人需要帮助填表 · elderly citizen needs help"})
        console.wait_for_selector("#help button")
        console.wait_for_selector("#live:not(.off)")
        console.screenshot(path=str(out / "console.png"), full_page=True)

        third = hall.issue("A")
        phone = chromium.new_page(viewport={"width": 390, "height": 760}, device_scale_factor=2,
                                  is_mobile=True, has_touch=True)
        phone.goto(f"{hall.url}/t/{token_of(third)}")
        phone.wait_for_selector("#updated:not(:empty)")
        phone.screenshot(path=str(out / "ticket-status.png"), full_page=True)


def token_of(issued: dict[str, Any]) -> str:
    return str(issued["status_url"]).rsplit("/t/", 1)[1]


def test_call_next_on_the_console_shows_on_the_citizens_phone(tmp_path: Path) -> None:
    _require_browser()
    with live_hall(tmp_path / "hall.db") as hall, browser() as chromium:
        first = hall.issue("A")
        second = hall.issue("A")
        phone = chromium.new_page(viewport={"width": 390, "height": 760}, is_mobile=True, has_touch=True)
        phone.goto(f"{hall.url}/t/{token_of(first)}")
        assert phone.inner_text("#number") == "A001"
        assert "等待中" in phone.inner_text("#status")
        assert "暂无窗口开放" in phone.inner_text("#no-window")

        console = chromium.new_page(viewport={"width": 1280, "height": 860})
        console.goto(f"{hall.url}/console/w01")
        assert console.inner_text("#chip") == "已关闭 Closed"
        assert console.is_disabled("[data-act=call_next]")
        console.fill("#staff", "1024")
        console.click("[data-act=open]")
        console.wait_for_selector("#chip.idle")
        console.wait_for_function(
            "document.querySelector('[data-service=A]').textContent === '2'")  # live from the stream

        # a double click is one call: the second press carries the same Idempotency-Key
        console.dblclick("[data-act=call_next]")
        console.wait_for_function("document.getElementById('number').textContent === 'A001'")
        # the number may arrive by the live stream before the button's own answer: wait for that
        console.wait_for_function("document.getElementById('message').textContent.includes('已呼叫 A001')")
        phone.wait_for_function(
            "document.getElementById('status-zh').textContent === '请到1号窗口'", timeout=10_000)
        assert "Please go to Window 1" in phone.inner_text("#status")
        view = hall.api.get(f"/api/v1/tickets/{token_of(second)}").json()
        assert view["ticket"]["status"] == "waiting", "the double click called two tickets"

        console.click("[data-act=start]")
        console.wait_for_selector("#chip.serving")
        console.select_option("#outcome", "accepted")
        console.click("[data-act=finish]")
        console.wait_for_selector("#chip.idle")
        phone.wait_for_function("document.getElementById('status-zh').textContent.indexOf('已办结') === 0",
                                timeout=10_000)

        # errors are told in words, not codes
        console.click("[data-act=pause]")
        console.wait_for_selector("#chip.paused")
        assert console.is_disabled("[data-act=call_next]")
        console.click("[data-act=resume]")
        console.wait_for_selector("#chip.idle")
        console.click("[data-act=call_next]")
        console.wait_for_function("document.getElementById('number').textContent === 'A002'")
        console.wait_for_timeout(1600)  # a press sooner than this counts as the same click
        console.click("[data-act=call_next]")
        console.wait_for_selector("#message.err")
        assert "暂无等候的群众" in console.inner_text("#message")


def test_console_deposits_in_the_locker_and_takes_back(tmp_path: Path) -> None:
    _require_browser()
    with live_hall(tmp_path / "hall.db", locker=True) as hall, browser() as chromium:
        console = chromium.new_page(viewport={"width": 1280, "height": 1000})
        console.goto(f"{hall.url}/console/w01")
        console.wait_for_function("document.getElementById('deposits').textContent.includes('暂无存件')")
        # a mistyped number is told, not sent
        console.fill("#dep-phone", "138")
        console.click("#deposit")
        console.wait_for_selector("#message.err")
        assert "手机号" in console.inner_text("#message")
        console.fill("#dep-phone", "138 1234 5678")
        console.fill("#dep-case", "QP-2026-00042")
        console.click("#deposit")
        console.wait_for_function("document.getElementById('message').textContent.includes('已存入 1 号门')")
        # the number leaves the screen; the list shows it masked
        assert console.input_value("#dep-phone") == ""
        console.wait_for_selector("#deposits button")
        listed = console.inner_text("#deposits")
        assert "1号门" in listed and "138****5678" in listed and "QP-2026-00042" in listed
        assert "13812345678" not in console.content()
        # the modem could not send the code: the clerk is told, on the deposit itself
        assert hall.worker is not None
        now = datetime.now(ZoneInfo(TZ))
        hall.worker.read(lambda h: h.locker_sms_result("qp-deposit-1", False, now))
        console.wait_for_selector("#deposits .sms-failed")
        assert "短信未发出" in console.inner_text("#deposits")
        console.select_option("#dep-size", "M")
        console.fill("#dep-phone", "13900001111")
        console.click("#deposit")
        console.wait_for_function("document.getElementById('message').textContent.includes('已存入 5 号门')")
        console.wait_for_function("document.querySelectorAll('#deposits button').length === 2")
        console.screenshot(path=str(tmp_path / "console-locker.png"), full_page=True)
        console.click("#deposits li:first-child button")
        console.wait_for_function("document.getElementById('message').textContent.includes('已取回')")
        console.wait_for_function("document.querySelectorAll('#deposits button').length === 1")
        doors = hall.api.get("/api/v1/lockers").json()[0]["doors"]
        assert [d["state"] for d in doors] == ["free", "free", "free", "free", "occupied", "free"]
        # a result deposited eight days ago is past its pickup date: the clerk is told to take it back
        old = datetime.now(ZoneInfo(TZ)) - timedelta(days=8)
        hall.worker.read(
            lambda h: h.locker_deposit("locker-01", "w01", "13700001111", None, None, "135790", old)
        )
        console.wait_for_selector("#deposits .overdue")
        assert "已过取件期" in console.inner_text("#deposits")
        assert console.locator("#deposits .overdue").count() == 1


def test_citizen_cancels_from_the_ticket_page(tmp_path: Path) -> None:
    _require_browser()
    with live_hall(tmp_path / "hall.db") as hall, browser() as chromium:
        issued = hall.issue("B")
        phone = chromium.new_page(viewport={"width": 390, "height": 760}, is_mobile=True, has_touch=True)
        phone.goto(f"{hall.url}/t/{token_of(issued)}")
        phone.click("#cancel")
        assert phone.is_visible("#really-cancel")
        phone.click("#really-cancel")
        phone.wait_for_function("document.getElementById('status-zh').textContent === '已取消'")
        assert not phone.is_visible("#cancel-box")
        assert hall.api.get(f"/api/v1/tickets/{token_of(issued)}").json()["ticket"]["status"] == "cancelled"


def test_console_transfers_calls_back_and_resolves_help(tmp_path: Path) -> None:
    _require_browser()
    with live_hall(tmp_path / "hall.db") as hall, browser() as chromium:
        hall.api.post("/api/v1/windows/w01/open", json={})
        hall.api.post("/api/v1/windows/w02/open", json={})
        hall.issue("A")
        hall.issue("A")
        console = chromium.new_page(viewport={"width": 1280, "height": 860})
        console.goto(f"{hall.url}/console/w01")
        console.click("[data-act=call_next]")
        console.wait_for_function("document.getElementById('number').textContent === 'A001'")
        console.select_option("#target", "service:B")
        console.click("[data-act=transfer]")
        console.wait_for_selector("#chip.idle")
        assert hall.api.post("/api/v1/windows/w02/call_next").json()["ticket"]["no"] == "A001"

        console.click("[data-act=call_next]")
        console.wait_for_function("document.getElementById('number').textContent === 'A002'")
        console.click("[data-act=park]")
        console.wait_for_selector("#parked button")
        console.click("#parked button")
        # the number shows A002 before and after: wait for the call-back's own message
        console.wait_for_function("document.getElementById('message').textContent.includes('已回呼 A002')")
        assert console.inner_text("#number") == "A002"

        console.fill("#staff", "张三")  # a name, not a staff number: refused before anything is sent
        console.click("[data-act=recall]")
        console.click("[data-act=call_next]")
        assert "工号" in console.inner_text("#message")
        console.fill("#staff", "1024")

        hall.api.post("/api/v1/help", json={"kiosk": "kiosk-03", "reason": "打印机没纸"})
        console.wait_for_selector("#help button")  # arrives through the event stream
        console.click("#help button")
        console.wait_for_selector("#help .empty")
        assert hall.api.get("/api/v1/help").json() == []


def test_the_clerk_opens_the_documents_the_citizen_scanned(tmp_path: Path) -> None:
    _require_browser()
    with live_hall(tmp_path / "hall.db") as hall, browser() as chromium:
        hall.api.post("/api/v1/windows/w01/open", json={})
        token = token_of(hall.issue("A"))
        jpeg = b"\xff\xd8\xff\xe0" + b"\0" * 2048  # only the leading bytes are looked at
        assert hall.api.post(f"/api/v1/tickets/{token}/attachments", content=jpeg,
                             params={"material": "身份证"}).status_code == 201
        console = chromium.new_page(viewport={"width": 1280, "height": 860})
        console.goto(f"{hall.url}/console/w01")
        console.wait_for_selector("#docs .empty")  # no ticket yet: nothing to show
        console.click("[data-act=call_next]")
        console.wait_for_selector("#docs a")
        link = console.get_attribute("#docs a", "href")
        assert "身份证" in console.inner_text("#docs a") and link is not None
        assert hall.api.get(link).content == jpeg


def test_screenshots_of_both_pages(tmp_path: Path) -> None:
    _require_browser()
    with live_hall(tmp_path / "hall.db") as hall:
        stage_and_shoot(hall, tmp_path)
    for name in ("console.png", "ticket-status.png"):
        assert (tmp_path / name).stat().st_size > 10_000, name


if __name__ == "__main__":
    import tempfile

    DOCS_IMG.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as scratch, live_hall(Path(scratch) / "hall.db") as running:
        stage_and_shoot(running, DOCS_IMG)
    print(f"screenshots written to {DOCS_IMG}")
