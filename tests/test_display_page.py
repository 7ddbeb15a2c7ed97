"""The hall display in a browser (`/display`), driven in a real headless Chromium.

Skipped, with the reason shown, when Chromium or Playwright is missing. With
YC_UPDATE_DISPLAY_REFERENCE=1 (read by this module and test_display_render.py only) it also
refreshes `docs/img/display-browser.png`.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from test_pages_browser import DOCS_IMG, _require_browser, browser, live_hall

from displays.panel_rules import window_caption

UPDATE = os.environ.get("YC_UPDATE_DISPLAY_REFERENCE") == "1"

STATES = [
    None,
    {"status": "calling", "ticket": "A012"},
    {"status": "serving", "ticket": "B003"},
    {"status": "calling", "ticket": None},
    {"status": "paused"},
    {"status": "paused", "reason": " 午休 "},
    {"status": "closed"},
    {"status": "idle"},
    {"status": "weird"},
]


def test_a_call_shows_on_the_browser_display_at_once_and_blinks(tmp_path: Path) -> None:
    _require_browser()
    with live_hall(tmp_path / "hall.db") as hall, browser() as chromium:
        api = hall.api
        assert api.post("/api/v1/windows/w01/open", json={"clerk": "1024"}).status_code == 200
        assert api.post("/api/v1/windows/w02/open", json={"clerk": "1025"}).status_code == 200
        for service in ("A", "B", "A", "A", "B"):
            hall.issue(service)
        first = api.post("/api/v1/windows/w01/call_next", json={}).json()["ticket"]["no"]

        tv = chromium.new_page(viewport={"width": 1920, "height": 1080})
        tv.goto(f"{hall.url}/display")
        # the page starts from the retained state: the call made before it opened, not blinking
        tv.wait_for_function(f"document.getElementById('big').textContent === '{first}'")
        assert "flash" not in (tv.get_attribute("#call", "class") or "")
        assert tv.inner_text("#windows [data-window=w01] .ticket") == first
        assert tv.inner_text("#windows [data-window=w02] .text") == "欢迎办理"
        assert tv.locator("#queues .q").count() == 2

        second = api.post("/api/v1/windows/w02/call_next", json={}).json()["ticket"]["no"]
        tv.wait_for_function(f"document.getElementById('big').textContent === '{second}'", timeout=3000)
        assert "flash" in (tv.get_attribute("#call", "class") or "")
        assert tv.inner_text("#where") == "请到 2号窗口"
        assert [t.strip() for t in tv.locator("#recent li b").all_inner_texts()] == [second, first]

        api.post("/api/v1/windows/w02/pause", json={"reason": "午休"})
        tv.wait_for_function("document.querySelector('[data-window=w02] .text.paused') !== null")
        assert tv.inner_text("[data-window=w02] .text") == "暂停服务 午休"
        if UPDATE:
            tv.screenshot(path=str(DOCS_IMG / "display-browser.png"))

        # the page applies the very rules of displays/panel_rules.py
        got = tv.evaluate("states => states.map(s => windowCaption(s, '3号窗口', 'Window 3'))", STATES)
        want = [json.loads(json.dumps(window_caption(s, "3号窗口", "Window 3").__dict__)) for s in STATES]
        assert got == want

        portrait = chromium.new_page(viewport={"width": 1080, "height": 1920})
        portrait.goto(f"{hall.url}/display?orientation=portrait")
        portrait.wait_for_function(f"document.getElementById('big').textContent === '{second}'")
        assert portrait.get_attribute("main", "class") == "port"
        assert hall.api.get("/display/nope").status_code == 404
