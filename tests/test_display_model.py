"""What the hall display shows, decided from retained state and call events (no I/O, no clock)."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from helpers.halls import TZ, small_hall

from displays.layout import compute_layout, grid_cells, page_of
from displays.panel_rules import RULES, panel_text, window_caption
from displays.view_model import FLASH_S, Call, HallModel
from firmware_bridge import key_commands
from yichuang.config_model import DisplayConfig

WALL = datetime(2026, 11, 23, 9, 41, tzinfo=TZ)


def model(**display: object) -> HallModel:
    config = small_hall()
    return HallModel(
        replace(config, displays=(DisplayConfig("display-main"),)), DisplayConfig("display-main", **display)
    )  # type: ignore[arg-type]


def window(wid: str, status: str, ticket: str | None = None, **extra: object) -> dict[str, object]:
    n = int(wid[1:])
    return {
        "window": wid,
        "label": f"{n}号窗口",
        "label_en": f"Window {n}",
        "status": status,
        "ticket": ticket,
        **extra,
    }


def calls(*items: tuple[str, str, str]) -> dict[str, object]:
    return {
        "recent": [{"ticket": t, "window": w, "label": f"{int(w[1:])}号窗口", "at": at} for t, w, at in items]
    }


def test_open_windows_show_their_ticket_and_closed_ones_are_left_out():
    m = model()
    m.apply_state("state/window/w01", window("w01", "calling", "A012"))
    m.apply_state("state/window/w02", window("w02", "paused", reason="午休"))
    m.apply_state("state/window/w03", window("w03", "closed"))
    m.apply_state("state/window/w09", window("w09", "idle"))
    rows = m.screen(0.0, WALL).windows
    assert [(r.window, r.caption.ticket, r.caption.text) for r in rows] == [
        ("w01", "A012", "A012 请到1号窗口"),
        ("w02", None, "暂停服务 午休"),
        ("w09", None, "欢迎办理"),
    ]


def test_queues_show_waiting_and_the_wait_in_whole_minutes_in_config_order():
    m = model()
    m.apply_state("state/queue/B", {"service": "B", "waiting": 3, "ewt_s": 630})
    m.apply_state("state/queue/A", {"service": "A", "waiting": 0, "ewt_s": 0})
    m.apply_state("state/queue/D", {"service": "D", "waiting": 0, "ewt_s": None})  # no window: not shown
    rows = m.screen(0.0, WALL).queues
    assert [(r.prefix, r.name, r.waiting, r.wait_min) for r in rows] == [
        ("A", "不动产登记", 0, 0),
        ("B", "社保业务", 3, 11),
    ]


def test_the_newest_call_blinks_for_a_few_seconds_then_stays_as_the_latest():
    m = model()
    m.apply_state("state/calls", calls(("A001", "w01", "t1")))
    assert m.screen(0.0, WALL).latest.ticket == "A001" and not m.screen(0.0, WALL).flashing
    m.apply_call(Call("B002", "w02", "2号窗口", "Window 2", "t2"), now=10.0)
    blinking = m.screen(10.1, WALL)
    assert blinking.latest.ticket == "B002" and blinking.flashing and blinking.blink_on
    assert not m.screen(10.6, WALL).blink_on  # the other half of the blink
    # heard before state/calls has it: listed once, newest first
    assert [c.ticket for c in m.screen(10.2, WALL).recent] == ["B002", "A001"]
    m.apply_state("state/calls", calls(("B002", "w02", "t2"), ("A001", "w01", "t1")))
    assert [c.ticket for c in m.screen(10.3, WALL).recent] == ["B002", "A001"]
    after = m.screen(10.0 + FLASH_S + 0.1, WALL)
    assert after.latest.ticket == "B002" and not after.flashing


def test_a_recall_blinks_again_without_adding_a_line():
    m = model()
    m.apply_state("state/calls", calls(("A001", "w01", "t1"), ("A000", "w02", "t0")))
    m.apply_call(Call("A000", "w02", "2号窗口", "Window 2", "t5", recall=True), now=3.0)
    screen = m.screen(3.1, WALL)
    assert screen.latest.ticket == "A000" and screen.flashing
    assert [c.ticket for c in screen.recent] == ["A001", "A000"]


def test_ten_recent_calls_from_retained_state_are_all_listed_without_blinking():
    m = model()
    m.apply_state("state/calls", calls(*[(f"A{n:03d}", "w01", f"t{n}") for n in range(10, 0, -1)]))
    screen = m.screen(0.0, WALL)
    assert len(screen.recent) == 10 and screen.latest.ticket == "A010" and not screen.flashing


def test_a_zone_display_shows_and_takes_calls_of_its_own_windows_only():
    m = model(windows=("w09",))
    m.apply_state("state/window/w01", window("w01", "calling", "A012"))
    m.apply_state("state/window/w09", window("w09", "calling", "C003"))
    m.apply_state("state/calls", calls(("C003", "w09", "t2"), ("A012", "w01", "t1")))
    assert not m.apply_call(Call("A012", "w01", "1号窗口", "Window 1"), now=1.0)
    screen = m.screen(1.0, WALL)
    assert [r.window for r in screen.windows] == ["w09"]
    assert [c.ticket for c in screen.recent] == ["C003"] and not screen.flashing
    assert [q.service for q in m.queue_rows()] == []  # no queue state yet


def test_clock_and_link_state():
    m = model()
    screen = m.screen(0.0, WALL)
    assert (screen.clock, screen.date, screen.online) == ("09:41", "11月23日 星期一", False)
    m.set_link(connected=True)
    assert m.screen(0.0, WALL).online
    m.set_link(server_online=False)
    assert not m.screen(0.0, WALL).online


def test_led_panel_and_display_card_follow_one_set_of_rules():
    assert key_commands.panel_text is panel_text  # the bridge's panels use the shared rules
    state = window("w03", "serving", "A012")
    assert panel_text(state, "3号窗口") == ("3号窗口", "A012 请到3号窗口")
    caption = window_caption(state, "3号窗口", "Window 3")
    assert (caption.rule, caption.ticket, caption.text_en) == ("ticket", "A012", "A012 to Window 3")
    assert window_caption(window("w03", "closed")).text == RULES["closed"][0]
    assert window_caption(None).rule == "unknown"


def test_layout_is_measured_in_screen_units():
    land, four_k = compute_layout(1920, 1080), compute_layout(3840, 2160)
    assert not land.portrait and compute_layout(1080, 1920).portrait
    assert abs(four_k.call.w - 2 * land.call.w) <= 1 and four_k.unit == 2 * land.unit
    cells = grid_cells(land.recent, 2, land.recent_row, 5)
    assert len(cells) >= 10  # ten recent calls fit on one landscape screen
    portrait = compute_layout(1080, 1920)
    assert len(grid_cells(portrait.recent, 2, portrait.recent_row, 5)) >= 10


def test_lists_longer_than_the_screen_are_paged():
    items = list(range(7))
    assert page_of(items, 3, now=0.0, period_s=8) == ([0, 1, 2], 0, 3)
    assert page_of(items, 3, now=17.0, period_s=8) == ([6], 2, 3)
    assert page_of(items, 3, now=24.0, period_s=8)[1] == 0
