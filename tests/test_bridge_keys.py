"""What a clerk's and a citizen's key presses mean, and what window devices show (pure)."""

from __future__ import annotations

import pytest
from helpers.halls import small_hall
from hypothesis import given
from hypothesis import strategies as st

from firmware_bridge.discovery import (
    bridge_discovery,
    bridge_telemetry,
    device_discovery,
    info_payload,
    telemetry_payload,
)
from firmware_bridge.key_commands import (
    EvalPadLamp,
    Key,
    KeyCommand,
    KeyRejected,
    caller_display,
    command_for_key,
    panel_text,
)
from yichuang.config_model import DeviceConfig

HALL = small_hall()
W01 = HALL.window("w01")  # services A, B
W09 = HALL.window("w09")  # service C only
SERVICES = list(HALL.services)


def state(status: str, ticket: str | None = None, **extra: object) -> dict:
    return {
        "window": "w01",
        "label": "1号窗口",
        "status": status,
        "ticket": ticket,
        "recall_count": 0,
        **extra,
    }


@pytest.mark.parametrize(
    ("key", "action"),
    [
        (Key.CALL_NEXT, "call_next"),
        (Key.RECALL, "recall"),
        (Key.START, "start"),
        (Key.FINISH, "finish"),
        (Key.NO_SHOW, "no_show"),
        (Key.PARK, "park"),
    ],
)
def test_each_workflow_key_sends_its_window_command(key, action):
    assert command_for_key(W01, key, 0, state("serving", "A001"), SERVICES) == (f"window/w01/{action}", {})


def test_a_command_unpacks_as_path_and_args():
    path, args = command_for_key(W01, Key.CALL_NEXT, 0, None, SERVICES)
    assert path == "window/w01/call_next" and args == {}


@pytest.mark.parametrize(
    ("status", "action"),
    [
        ("paused", "resume"),
        ("closed", "resume"),
        ("idle", "pause"),
        ("calling", "pause"),
        ("serving", "pause"),
    ],
)
def test_pause_resume_key_toggles_on_the_window_state(status, action):
    assert command_for_key(W01, Key.PAUSE_RESUME, 0, state(status), SERVICES) == (f"window/w01/{action}", {})


def test_pause_resume_is_refused_while_the_window_state_is_unknown():
    result = command_for_key(W01, Key.PAUSE_RESUME, 0, None, SERVICES)
    assert isinstance(result, KeyRejected) and not result
    assert result.reason == "window_state_unknown"


def test_transfer_digit_is_the_nth_service_of_the_windows_own_list():
    assert command_for_key(W01, Key.TRANSFER, 1, None, SERVICES) == ("window/w01/transfer", {"service": "A"})
    assert command_for_key(W01, Key.TRANSFER, 2, None, SERVICES) == ("window/w01/transfer", {"service": "B"})


@pytest.mark.parametrize("digit", [0, 3, 9, 10, 255])
def test_transfer_digit_beyond_the_windows_services_is_refused(digit):
    result = command_for_key(W01, Key.TRANSFER, digit, None, SERVICES)
    assert not result and result.reason == "invalid_transfer_digit"


def test_transfer_to_a_service_missing_from_the_hall_is_refused():
    only_a = [s for s in SERVICES if s.id == "A"]
    result = command_for_key(W01, Key.TRANSFER, 2, None, only_a)
    assert not result and result.reason == "unknown_service"


@pytest.mark.parametrize("score", [1, 2, 3, 4, 5])
def test_score_key_evaluates_the_window(score):
    assert command_for_key(W09, Key.SCORE, score, None, SERVICES) == ("window/w09/evaluate", {"score": score})


@pytest.mark.parametrize("score", [0, 6, 255])
def test_score_outside_one_to_five_is_refused(score):
    result = command_for_key(W09, Key.SCORE, score, None, SERVICES)
    assert not result and result.reason == "invalid_score"


def test_unknown_key_is_refused():
    result = command_for_key(W01, 0x55, 0, None, SERVICES)
    assert not result and result.reason == "unknown_key"


@given(key=st.integers(0, 255), arg=st.integers(0, 255), status=st.sampled_from([None, "idle", "paused"]))
def test_any_key_byte_gives_a_command_under_the_window_or_a_reason(key, arg, status):
    result = command_for_key(W01, key, arg, state(status) if status else None, SERVICES)
    if isinstance(result, KeyCommand):
        assert result.path.startswith("window/w01/")
    else:
        assert isinstance(result, KeyRejected) and result.reason


# -- what devices show ----------------------------------------------------------------


def test_panel_calls_the_ticket_to_the_window():
    assert panel_text(state("calling", "A012"), "3号窗口") == ("3号窗口", "A012 请到3号窗口")
    assert panel_text(state("serving", "A012"), "3号窗口") == ("3号窗口", "A012 请到3号窗口")


def test_panel_shows_pause_with_its_reason():
    assert panel_text(state("paused"), "3号窗口") == ("3号窗口", "暂停服务")
    assert panel_text(state("paused", reason="午休"), "3号窗口") == ("3号窗口", "暂停服务 午休")


def test_panel_of_closed_and_idle_windows():
    assert panel_text(state("closed"), "3号窗口") == ("3号窗口", "暂停使用")
    assert panel_text(state("idle"), "3号窗口") == ("3号窗口", "欢迎办理")
    assert panel_text(None, "3号窗口") == ("3号窗口", "")


def test_caller_display_shows_ticket_status_and_waiting():
    assert caller_display(state("calling", "B003"), 4) == ("B003 呼叫中", "等候 4 人")
    assert caller_display(state("calling", "B003", recall_count=2), 4) == ("B003 呼叫中 重呼2", "等候 4 人")
    assert caller_display(state("serving", "B003"), 0) == ("B003 办理中", "等候 0 人")
    assert caller_display(state("paused"), 2)[0] == "暂停中"
    assert caller_display(state("closed"), 2)[0] == "未开窗"
    assert caller_display(state("idle"), 2)[0] == "空闲"
    assert caller_display(None, 0)[0] == "连接中"


# -- the evaluation pad's lamp ---------------------------------------------------------


def test_eval_lamp_lights_when_a_ticket_finishes_at_its_window():
    lamp = EvalPadLamp("w03")
    assert lamp.on_event("ticket_finished", {"window": "w03", "ticket": "A012"}, now=0) is True
    assert lamp.ticket == "A012"


def test_eval_lamp_ignores_other_windows():
    lamp = EvalPadLamp("w03")
    assert lamp.on_event("ticket_finished", {"window": "w04", "ticket": "A013"}, now=0) is False
    lamp.on_event("ticket_finished", {"window": "w03", "ticket": "A012"}, now=0)
    assert lamp.on_event("evaluation", {"window": "w04", "score": 5}, now=1) is True


def test_eval_lamp_darkens_on_evaluation_or_the_next_call():
    lamp = EvalPadLamp("w03")
    lamp.on_event("ticket_finished", {"window": "w03", "ticket": "A012"}, now=0)
    assert lamp.on_event("evaluation", {"window": "w03", "score": 5}, now=1) is False
    lamp.on_event("ticket_finished", {"window": "w03", "ticket": "A013"}, now=2)
    assert lamp.on_event("ticket_called", {"window": "w03", "ticket": "A014"}, now=3) is False
    assert lamp.ticket is None


def test_eval_lamp_darkens_when_the_window_closes_a_score_is_pressed_or_time_passes():
    lamp = EvalPadLamp("w03", expire_s=60)
    lamp.on_event("ticket_finished", {"window": "w03", "ticket": "A012"}, now=0)
    assert lamp.on_state({"status": "paused"}, now=1) is True
    assert lamp.on_state({"status": "closed"}, now=2) is False
    lamp.on_event("ticket_finished", {"window": "w03", "ticket": "A013"}, now=10)
    assert lamp.on_score_pressed(now=11) is False
    lamp.on_event("ticket_finished", {"window": "w03", "ticket": "A014"}, now=20)
    assert lamp.is_lit(79) is True and lamp.is_lit(80) is False


# -- Home Assistant discovery ------------------------------------------------------------


def test_caller_discovery_follows_its_window_via_the_bridge():
    caller = DeviceConfig(id="caller-w03", kind="caller", protocol="ycbus", address=3, window="w03")
    topic, payload = device_discovery("qingpu", "bridge-01", caller, window_label="3号窗口")
    assert topic == "homeassistant/device/yc_qingpu_caller-w03/config"
    assert payload["device"]["via_device"] == "yc_qingpu_bridge-01"
    assert payload["availability"] == [
        {"topic": "yc/qingpu/device/bridge-01/status"},
        {"topic": "yc/qingpu/device/caller-w03/status"},
    ]
    assert payload["availability_mode"] == "all"
    assert payload["origin"]["name"] == "yichuang"
    ticket = payload["components"]["ticket"]
    assert ticket["platform"] == "sensor" and ticket["state_topic"] == "yc/qingpu/state/window/w03"
    assert ticket["unique_id"] == "yc_qingpu_caller-w03_ticket"
    online = payload["components"]["online"]
    assert (
        online["platform"] == "binary_sensor"
        and online["state_topic"] == "yc/qingpu/device/caller-w03/status"
    )


@pytest.mark.parametrize(
    ("kind", "component"),
    [("eval_pad", "lamp"), ("led_panel", "text"), ("gpio_button", "presses"), ("modem", "online")],
)
def test_every_device_kind_has_discovery_with_unique_ids(kind, component):
    device = DeviceConfig(id=f"{kind}-1", kind=kind, window="w01")
    _, payload = device_discovery("qingpu", "bridge-01", device)
    assert component in payload["components"]
    ids = [c["unique_id"] for c in payload["components"].values()]
    assert len(ids) == len(set(ids)) and all(i.startswith(f"yc_qingpu_{kind}-1_") for i in ids)


def test_bridge_discovery_reads_its_telemetry():
    topic, payload = bridge_discovery("qingpu", "bridge-01")
    assert topic == "homeassistant/device/yc_qingpu_bridge-01/config"
    assert {"frames_ok", "crc_errors", "presses_queued"} <= set(payload["components"])
    telemetry = bridge_telemetry(12.7, frames_ok=10, crc_errors=1, presses_queued=2)
    assert telemetry["uptime_s"] == 12 and telemetry["presses_queued"] == 2


def test_info_and_telemetry_payloads():
    assert info_payload("caller", "YC-K8", window="w03") == {
        "kind": "caller",
        "model": "YC-K8",
        "version": "0.1.0",
        "window": "w03",
    }
    assert telemetry_payload(3.9, lamp=True) == {"uptime_s": 3, "lamp": True}
    with pytest.raises(TypeError):
        telemetry_payload(1, person={"name": "张三"})
