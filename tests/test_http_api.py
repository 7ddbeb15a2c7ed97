"""The HTTP API and pages against a real worker over a real SQLite file (CONTRACT §4)."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
import uvicorn
from fastapi import FastAPI
from fastapi.testclient import TestClient

from queue_server.http_api import LiveHub, create_app
from queue_server.store.repository import Store
from queue_server.worker import Worker
from yichuang.config_model import (
    BrokerConfig,
    Config,
    DatabaseConfig,
    Flow,
    HallConfig,
    HttpConfig,
    Material,
    OpeningHours,
    ServiceConfig,
    WindowConfig,
    WindowKind,
)

TZ = "Asia/Shanghai"


def hall_config(db: Path) -> Config:
    """A small hall: two services, three windows, open around the clock."""
    return Config(
        hall=HallConfig(id="qp", name="青浦区行政服务中心", name_en="Qingpu Administrative Service Center",
                        timezone=TZ, opening_hours=OpeningHours(always=True)),
        broker=BrokerConfig(),
        database=DatabaseConfig(url=f"sqlite:///{db}"),
        http=HttpConfig(),
        services=(
            ServiceConfig(id="A", prefix="A", name="不动产登记", name_en="Real estate registration",
                          flow=Flow.ACCEPT_ON_SPOT, minutes=15, time_limit_days=5,
                          materials=(Material("身份证", "ID card", key=True),
                                     Material("户口簿", "Household register", key=False, form="copy"))),
            ServiceConfig(id="B", prefix="B", name="社保卡补办", name_en="Social security card replacement",
                          flow=Flow.FINISH_ON_SPOT, minutes=5, time_limit_days=0),
        ),
        windows=(
            WindowConfig(id="w01", label="1号窗口", label_en="Window 1", kind=WindowKind.COMPREHENSIVE,
                         services=("A", "B")),
            WindowConfig(id="w02", label="2号窗口", label_en="Window 2", kind=WindowKind.COMPREHENSIVE,
                         services=("B",)),
            WindowConfig(id="w03", label="3号窗口", label_en="Window 3", kind=WindowKind.INSTANT,
                         services=("A",)),
        ),
    )


class Health:
    """A switchable `health()` callable."""

    def __init__(self) -> None:
        self.database = True
        self.broker = True

    def __call__(self) -> dict[str, bool]:
        return {"database": self.database, "broker": self.broker}


class Hall:
    """Everything a test needs: the app, its client, the worker, the health switch."""

    def __init__(self, app: FastAPI, client: TestClient, worker: Worker, health: Health) -> None:
        self.app = app
        self.client = client
        self.worker = worker
        self.health = health

    def issue(self, service: str = "A", **extra: Any) -> dict[str, Any]:
        r = self.client.post("/api/v1/tickets", json={"service": service, "kiosk": "kiosk-01", **extra})
        assert r.status_code == 201, r.text
        return r.json()

    def act(self, window: str, action: str, body: dict[str, Any] | None = None,
            key: str | None = None) -> httpx.Response:
        headers = {"Idempotency-Key": key} if key else {}
        return self.client.post(f"/api/v1/windows/{window}/{action}", json=body or {}, headers=headers)

    def open(self, *windows: str) -> None:
        for window in windows:
            assert self.act(window, "open", {"clerk": "1024"}).status_code == 200


@pytest.fixture
def hall(tmp_path: Path) -> Iterator[Hall]:
    config = hall_config(tmp_path / "hall.db")
    store = Store(config.database.url, config.hall.id)
    store.open()
    worker = Worker(config, store, clock=lambda: datetime.now(ZoneInfo(TZ)), public_url="http://hall.test")
    worker.start()
    health = Health()
    app = create_app(config, worker, health=health,
                     metrics=lambda: (b"yc_up 1\n", "text/plain; version=0.0.4; charset=utf-8"),
                     public_url="http://hall.test")
    try:
        with TestClient(app) as client:
            yield Hall(app, client, worker, health)
    finally:
        app.state.live.close()
        worker.stop()
        store.close()


def assert_error(response: httpx.Response, status: int, code: str) -> None:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error"}
    assert body["error"]["code"] == code
    assert isinstance(body["error"]["message"], str) and body["error"]["message"]


# --------------------------------------------------------------------- citizens


def test_issued_ticket_is_followed_on_its_status_url(hall: Hall) -> None:
    hall.open("w01")
    first = hall.issue("A")
    second = hall.issue("A")
    assert first["ticket"]["no"] == "A001" and second["ticket"]["no"] == "A002"
    assert second["ahead"] == 1
    token = second["status_url"].rsplit("/t/", 1)[1]
    assert second["status_url"].startswith("http://hall.test/t/")

    view = hall.client.get(f"/api/v1/tickets/{token}").json()
    assert view["ticket"]["no"] == "A002" and view["ticket"]["status"] == "waiting"
    assert view["ahead"] == 1 and isinstance(view["ewt_s"], int)
    assert view["service_name"] == "不动产登记"
    assert view["status_text"] == {"zh": "等待中", "en": "Waiting"}
    assert "phone" not in json.dumps(view)


def test_status_says_which_window_to_go_to_once_called(hall: Hall) -> None:
    hall.open("w03")
    token = hall.issue("A")["status_url"].rsplit("/", 1)[1]
    assert hall.act("w03", "call_next").json()["ticket"]["no"] == "A001"
    view = hall.client.get(f"/api/v1/tickets/{token}").json()
    assert view["ticket"]["status"] == "called" and view["ahead"] == 0
    assert view["status_text"] == {"zh": "请到3号窗口", "en": "Please go to Window 3"}


def test_ewt_is_null_while_no_window_serving_it_is_open(hall: Hall) -> None:
    body = hall.issue("B")
    assert body["ewt_s"] is None


def test_citizen_cancels_a_waiting_ticket_once(hall: Hall) -> None:
    token = hall.issue("A")["status_url"].rsplit("/", 1)[1]
    r = hall.client.post(f"/api/v1/tickets/{token}/cancel")
    assert r.status_code == 200 and r.json()["ticket"]["status"] == "cancelled"
    assert_error(hall.client.post(f"/api/v1/tickets/{token}/cancel"), 409, "wrong_state")


def test_phone_number_is_accepted_but_never_returned(hall: Hall) -> None:
    body = hall.issue("A", phone="13812345678")
    token = body["status_url"].rsplit("/", 1)[1]
    assert "13812345678" not in json.dumps(body)
    assert "13812345678" not in hall.client.get(f"/api/v1/tickets/{token}").text
    assert "13812345678" not in hall.client.get(f"/t/{token}").text


def test_unknown_token_is_404(hall: Hall) -> None:
    assert_error(hall.client.get("/api/v1/tickets/nosuchtoken123"), 404, "unknown_ticket")
    assert_error(hall.client.get("/api/v1/tickets/x"), 404, "unknown_ticket")
    assert_error(hall.client.post("/api/v1/tickets/nosuchtoken123/cancel"), 404, "unknown_ticket")


# --------------------------------------------------------------------- the clerk's console


def test_console_workflow_call_start_finish_then_queue_empty(hall: Hall) -> None:
    hall.open("w01")
    hall.issue("A")
    hall.issue("B", priority="green")
    called = hall.act("w01", "call_next", {"clerk": "1024"}).json()
    assert called["ticket"]["no"] == "B001"  # the green channel goes first
    assert hall.act("w01", "recall").json()["recall_count"] == 1
    assert hall.act("w01", "start").json()["ticket"]["status"] == "serving"
    finished = hall.act("w01", "finish", {"outcome": "done"}).json()
    assert finished["ticket"]["status"] == "done" and finished["ticket"]["outcome"] == "done"
    assert hall.act("w01", "call_next").json()["ticket"]["no"] == "A001"
    assert hall.act("w01", "no_show").json()["ticket"]["status"] == "no_show"
    assert_error(hall.act("w01", "call_next"), 409, "queue_empty")
    assert_error(hall.act("w01", "start"), 409, "no_ticket")


def test_transfer_park_and_call_back(hall: Hall) -> None:
    hall.open("w01", "w02")
    hall.issue("A")
    hall.issue("A")
    hall.act("w01", "call_next")
    moved = hall.act("w01", "transfer", {"service": "B"}).json()
    assert moved["ticket"]["status"] == "transferred" and moved["ticket"]["service"] == "B"
    assert hall.act("w02", "call_next").json()["ticket"]["no"] == "A001"
    assert hall.act("w01", "call_next").json()["ticket"]["no"] == "A002"
    assert hall.act("w01", "park").json()["ticket"]["parked"] is True
    window = hall.client.get("/api/v1/windows/w01").json()
    assert window["parked"] == ["A002"] and window["services"] == ["A", "B"]
    back = hall.act("w01", "call_parked", {"ticket": "A002"}).json()
    assert back["ticket"]["status"] == "called"
    assert_error(hall.act("w01", "transfer", {"window": "w01"}), 422, "invalid_transfer")


def test_pause_resume_and_close(hall: Hall) -> None:
    hall.open("w01")
    paused = hall.act("w01", "pause", {"reason": "午休 lunch"}).json()
    assert paused["window"]["status"] == "paused" and paused["window"]["reason"] == "午休 lunch"
    hall.issue("A")
    assert_error(hall.act("w01", "call_next"), 409, "window_paused")
    assert hall.act("w01", "resume", {"clerk": "1024"}).json()["window"]["status"] == "idle"
    assert hall.act("w01", "close").json()["window"]["status"] == "closed"
    assert_error(hall.act("w01", "call_next"), 409, "window_closed")


def test_evaluation_and_todays_stats(hall: Hall) -> None:
    hall.open("w01")
    for _ in range(3):
        hall.issue("A")
    hall.act("w01", "call_next")
    hall.act("w01", "finish")
    assert hall.act("w01", "evaluate", {"score": 5}).json()["evaluation"]["score"] == 5
    assert_error(hall.act("w01", "evaluate", {"score": 4}), 409, "already_evaluated")
    hall.act("w01", "call_next")
    hall.act("w01", "no_show")
    stats = hall.client.get("/api/v1/stats/today").json()
    a = next(s for s in stats["services"] if s["service"] == "A")
    assert (a["issued"], a["waiting"], a["served"], a["no_show"]) == (3, 1, 1, 1)
    assert a["mean_wait_s"] is not None and a["mean_handling_s"] is not None
    w01 = next(w for w in stats["windows"] if w["window"] == "w01")
    assert w01 == {"window": "w01", "served": 1, "evaluations": 1, "mean_score": 5.0}
    assert stats["evaluations"] == {"count": 1, "mean_score": 5.0}


def test_help_request_shows_until_resolved(hall: Hall) -> None:
    r = hall.client.post("/api/v1/help", json={"kiosk": "kiosk-02", "reason": "不会操作"})
    assert r.status_code == 201
    request_id = r.json()["request"]["id"]
    assert [h["id"] for h in hall.client.get("/api/v1/help").json()] == [request_id]
    done = hall.client.post(f"/api/v1/help/{request_id}/resolve", json={"by": "1024"})
    assert done.json()["request"]["status"] == "resolved"
    assert hall.client.get("/api/v1/help").json() == []
    assert_error(hall.client.post("/api/v1/help/999/resolve"), 404, "unknown_request")


def test_appointment_create_checkin_and_cancel(hall: Hall) -> None:
    slot = (datetime.now(ZoneInfo(TZ)) + timedelta(minutes=10)).isoformat()
    booking = {"code": "YY-2024-0001", "service": "A", "slot_at": slot}
    r = hall.client.post("/api/v1/appointments", json={**booking, "phone": "13812345678"})
    assert r.status_code == 201 and "phone" not in r.json()["appointment"]
    assert_error(hall.client.post("/api/v1/appointments", json=booking), 409, "duplicate_appointment")
    checked = hall.client.post("/api/v1/appointments/checkin",
                               json={"code": "YY-2024-0001", "kiosk": "kiosk-01"})
    assert checked.status_code == 201 and checked.json()["ticket"]["priority"] == "appointment"
    assert_error(hall.client.delete("/api/v1/appointments/YY-2024-0001"), 409, "appointment_used")
    hall.client.post("/api/v1/appointments", json={**booking, "code": "YY-2024-0002", "service": "B"})
    cancelled = hall.client.delete("/api/v1/appointments/YY-2024-0002").json()
    assert cancelled["appointment"]["status"] == "cancelled"
    assert_error(hall.client.delete("/api/v1/appointments/NOPE-0000"), 404, "wrong_code")


def test_wrong_checkin_codes_lock_the_kiosk_out(hall: Hall) -> None:
    for _ in range(5):
        assert_error(hall.client.post("/api/v1/appointments/checkin", json={"code": "GUESS", "kiosk": "k9"}),
                     404, "wrong_code")
    assert_error(hall.client.post("/api/v1/appointments/checkin", json={"code": "GUESS", "kiosk": "k9"}),
                 429, "locked_out")


# --------------------------------------------------------------------- idempotency


def test_idempotency_key_returns_the_first_answer(hall: Hall) -> None:
    hall.open("w01")
    hall.issue("A")
    hall.issue("A")
    first = hall.act("w01", "call_next", key="click-1")
    again = hall.act("w01", "call_next", key="click-1")
    assert first.status_code == again.status_code == 200
    assert first.json() == again.json()
    assert first.json()["ticket"]["no"] == "A001"
    # the double click called one ticket: A002 still waits
    assert hall.client.get("/api/v1/queues").json()[0]["waiting"] == 1
    assert hall.act("w01", "call_next", key="click-2").json()["ticket"]["no"] == "A002"


def test_idempotency_key_repeats_an_error_answer_too(hall: Hall) -> None:
    hall.open("w01")
    assert_error(hall.act("w01", "call_next", key="k-empty"), 409, "queue_empty")
    hall.issue("A")
    assert_error(hall.act("w01", "call_next", key="k-empty"), 409, "queue_empty")


def test_idempotent_ticket_issue_gives_one_ticket(hall: Hall) -> None:
    body = {"service": "A", "kiosk": "kiosk-01"}
    one = hall.client.post("/api/v1/tickets", json=body, headers={"Idempotency-Key": "print-77"})
    two = hall.client.post("/api/v1/tickets", json=body, headers={"Idempotency-Key": "print-77"})
    assert one.status_code == two.status_code == 201 and one.json() == two.json()
    assert hall.issue("A")["ticket"]["no"] == "A002"


def test_idempotency_key_is_scoped_by_action(hall: Hall) -> None:
    hall.open("w01")
    hall.issue("A")
    assert hall.act("w01", "call_next", key="same").status_code == 200
    assert hall.act("w01", "start", key="same").json()["ticket"]["status"] == "serving"


# --------------------------------------------------------------------- errors


@pytest.mark.parametrize("content, content_type", [
    (b"{not json", "application/json"),
    (b"", "application/json"),
    (b"[1, 2, 3]", "application/json"),
    (b'"just a string"', "application/json"),
    (b"\xff\xfe\x00garbage", "application/json"),
    (b"service=A&kiosk=k", "application/x-www-form-urlencoded"),
    (b'{"service": "A", "kiosk": "k"}', "text/plain"),
    (b'{"service": "A", "kiosk": "k", "priority": "vip"}', "application/json"),
    (b'{"service": 7, "kiosk": "k"}', "application/json"),
    (b'{"service": "A", "kiosk": "k", "colour": "red"}', "application/json"),
    (b'{"service": "A", "kiosk": "k", "phone": "call me"}', "application/json"),
    (b'{"service": "' + b"A" * 5000 + b'", "kiosk": "k"}', "application/json"),
])
def test_malformed_ticket_requests_are_422(hall: Hall, content: bytes, content_type: str) -> None:
    r = hall.client.post("/api/v1/tickets", content=content, headers={"Content-Type": content_type})
    assert_error(r, 422, "invalid_request")


@pytest.mark.parametrize("action, body", [
    ("call_next", {"clerk": 1024}),
    ("call_next", {"clerk": "张三"}),  # staff numbers only, never names
    ("call_next", {"clark": "1024"}),
    ("finish", {"outcome": "perfect"}),
    ("evaluate", {"score": 9}),
    ("evaluate", {"score": "5"}),
    ("evaluate", {"score": True}),
    ("transfer", {}),
    ("pause", {"reason": "x" * 500}),
    ("call_parked", {}),
    ("recall", {"extra": 1}),
])
def test_malformed_window_actions_are_422(hall: Hall, action: str, body: dict[str, Any]) -> None:
    hall.open("w01")
    hall.issue("A")
    if action in ("finish", "transfer"):
        hall.act("w01", "call_next")
    assert_error(hall.act("w01", action, body), 422, "invalid_request")


def test_unknown_things_are_404(hall: Hall) -> None:
    assert_error(hall.act("w99", "call_next"), 404, "unknown_window")
    assert_error(hall.act("w" * 5000, "call_next"), 422, "invalid_request")
    assert_error(hall.client.get("/api/v1/windows/w99"), 404, "unknown_window")
    assert_error(hall.client.get("/api/v1/services/Z"), 404, "unknown_service")
    assert_error(hall.client.post("/api/v1/tickets", json={"service": "Z", "kiosk": "k"}),
                 404, "unknown_service")
    assert_error(hall.client.post("/api/v1/windows/w01/explode"), 404, "not_found")
    assert_error(hall.client.get("/api/v1/nothing"), 404, "not_found")
    assert_error(hall.client.delete("/api/v1/tickets"), 405, "method_not_allowed")
    assert_error(hall.client.post("/api/v1/help/abc/resolve"), 422, "invalid_request")


def test_bad_idempotency_key_is_422(hall: Hall) -> None:
    r = hall.client.post("/api/v1/windows/w01/open", json={}, headers={"Idempotency-Key": "k" * 200})
    assert_error(r, 422, "invalid_request")


def test_no_junk_input_yields_a_500(hall: Hall) -> None:
    hall.open("w01")
    junk: list[bytes] = [b"", b"null", b"{}", b"[]", b"0", b'{"":""}', b"{" * 1000, b'{"a":' * 200,
                         "{\"service\": \"\U0001f600\", \"kiosk\": \"\\u0000\"}".encode(), b"\x00" * 64,
                         b"[" * 100_000 + b"]" * 100_000, b'{"service": "A", "kiosk": "k", "service": 1}',
                         b'{"score": 1e999}', b'{"ticket": "A001", "clerk": null}', b'{"outcome": ["done"]}']
    routes = ["/api/v1/tickets", "/api/v1/appointments", "/api/v1/appointments/checkin", "/api/v1/help",
              "/api/v1/help/1/resolve", "/api/v1/tickets/abcdefghij/cancel"]
    routes += [f"/api/v1/windows/w01/{a}" for a in ("call_next", "recall", "start", "finish", "no_show",
                                                     "transfer", "park", "call_parked", "pause", "resume",
                                                     "open", "close", "evaluate")]
    for route in routes:
        for body in junk:
            r = hall.client.post(route, content=body, headers={"Content-Type": "application/json"})
            # an empty body is a fine request to an action without arguments; junk is a 4xx
            assert r.status_code < 500, (route, body[:20], r.status_code, r.text)
            if r.status_code >= 400:
                assert set(r.json()["error"]) == {"code", "message"}
    for path in ["/t/%00", "/t/" + "x" * 3000, "/console/%ff", "/api/v1/tickets/%20", "/api/v1/services/%00"]:
        r = hall.client.get(path)
        assert 400 <= r.status_code < 500, (path, r.status_code)


# --------------------------------------------------------------------- operations


def test_healthz_is_200_when_up_and_503_when_not(hall: Hall) -> None:
    r = hall.client.get("/healthz")
    assert r.status_code == 200 and r.json() == {"ok": True, "database": True, "broker": True}
    hall.health.broker = False
    r = hall.client.get("/healthz")
    assert r.status_code == 503 and r.json() == {"ok": False, "database": True, "broker": False}
    hall.health.database = False
    hall.health.broker = True
    assert hall.client.get("/healthz").json() == {"ok": False, "database": False, "broker": True}


def test_metrics_are_served_as_the_exposition_says(hall: Hall) -> None:
    r = hall.client.get("/metrics")
    assert r.status_code == 200 and r.text == "yc_up 1\n"
    assert r.headers["content-type"].startswith("text/plain")


def test_openapi_describes_every_route(hall: Hall) -> None:
    spec = hall.client.get("/openapi.json").json()
    paths = spec["paths"]
    for path in ["/healthz", "/metrics", "/api/v1/services", "/api/v1/services/{service_id}",
                 "/api/v1/queues", "/api/v1/windows", "/api/v1/windows/{window}", "/api/v1/tickets",
                 "/api/v1/tickets/{token}",
                 "/api/v1/tickets/{token}/cancel", "/api/v1/appointments", "/api/v1/appointments/{code}",
                 "/api/v1/appointments/checkin", "/api/v1/help", "/api/v1/help/{request_id}/resolve",
                 "/api/v1/stats/today", "/api/v1/events"]:
        assert path in paths, path
    for action in ["call_next", "recall", "start", "finish", "no_show", "transfer", "park", "call_parked",
                   "pause", "resume", "open", "close", "evaluate"]:
        op = paths[f"/api/v1/windows/{{window}}/{action}"]["post"]
        assert op["tags"] == ["windows"]
        assert "422" in op["responses"] and "409" in op["responses"]
    issue = paths["/api/v1/tickets"]["post"]
    assert "201" in issue["responses"]
    assert any(p["name"] == "Idempotency-Key" for p in issue["parameters"])
    assert "/t/{token}" not in paths and "/console/{window}" not in paths


def test_services_catalogue_lists_materials_and_windows(hall: Hall) -> None:
    services = hall.client.get("/api/v1/services").json()
    a = next(s for s in services if s["id"] == "A")
    assert a["flow"] == "accept_on_spot" and a["time_limit_days"] == 5
    assert [(m["name"], m["key"]) for m in a["materials"]] == [("身份证", True), ("户口簿", False)]
    assert a["windows"] == ["w01", "w03"]
    assert hall.client.get("/api/v1/services/B").json()["name_en"] == "Social security card replacement"


def test_queues_and_windows_follow_the_state_topics(hall: Hall) -> None:
    hall.open("w01")
    hall.issue("A")
    time.sleep(0.05)
    queues = {q["service"]: q for q in hall.client.get("/api/v1/queues").json()}
    assert queues["A"]["waiting"] == 1 and queues["B"]["waiting"] == 0
    windows = {w["window"]: w for w in hall.client.get("/api/v1/windows").json()}
    assert windows["w01"]["status"] == "idle" and windows["w02"]["status"] == "closed"


# --------------------------------------------------------------------- pages


def test_ticket_page_renders_the_number_and_status(hall: Hall) -> None:
    hall.open("w01")
    token = hall.issue("A")["status_url"].rsplit("/", 1)[1]
    r = hall.client.get(f"/t/{token}")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    assert "A001" in r.text and "不动产登记" in r.text and "Waiting" in r.text
    assert "http://" not in r.text.replace("http://hall.test", "")  # nothing from a CDN


def test_unknown_ticket_page_is_a_friendly_404(hall: Hall) -> None:
    r = hall.client.get("/t/not-a-real-token")
    assert r.status_code == 404 and "找不到这张号码" in r.text and "<html" in r.text


def test_console_renders_the_current_ticket(hall: Hall) -> None:
    hall.open("w01")
    hall.issue("B")
    hall.act("w01", "call_next")
    r = hall.client.get("/console/w01")
    assert r.status_code == 200
    assert "B001" in r.text and "1号窗口" in r.text and "呼叫下一位" in r.text


def test_unknown_console_is_a_404_page_listing_the_windows(hall: Hall) -> None:
    r = hall.client.get("/console/w77")
    assert r.status_code == 404 and 'href="/console/w01"' in r.text


def test_pages_escape_what_they_echo(hall: Hall) -> None:
    r = hall.client.get("/console/<script>alert(1)</script>")
    assert r.status_code == 404 and "<script>alert(1)" not in r.text


# --------------------------------------------------------------------- live events


def read_events(lines: Iterator[str], until: Any, limit: float = 5.0) -> list[tuple[str, dict[str, Any]]]:
    """Read SSE messages from a stream's lines until `until(messages)` holds."""
    messages: list[tuple[str, dict[str, Any]]] = []
    kind = ""
    deadline = time.monotonic() + limit
    for line in lines:
        if line.startswith("event: "):
            kind = line[7:]
        elif line.startswith("data: "):
            messages.append((kind, json.loads(line[6:])))
            if until(messages):
                return messages
        assert time.monotonic() < deadline, messages
    return messages


@pytest.fixture
def served(hall: Hall) -> Iterator[str]:
    """The same app behind a real uvicorn on a free port (streams want a real server)."""
    config = uvicorn.Config(hall.app, host="127.0.0.1", port=0, log_level="warning", lifespan="off")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.02)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        hall.app.state.live.close()
        server.should_exit = True
        thread.join(10)
        assert not thread.is_alive(), "open event streams kept the server from stopping"


def test_event_stream_starts_with_the_current_state_then_follows(hall: Hall, served: str) -> None:
    hall.open("w01")
    with httpx.stream("GET", f"{served}/api/v1/events", timeout=10) as r:
        assert r.headers["content-type"].startswith("text/event-stream")
        topics = {f"state/window/{w}" for w in ("w01", "w02", "w03")} | {"state/queue/A", "state/queue/B",
                                                                         "state/calls"}
        lines = r.iter_lines()
        initial = read_events(lines, lambda m: {p["topic"] for k, p in m if k == "state"} >= topics)
        w01 = next(p["payload"] for k, p in initial if k == "state" and p["topic"] == "state/window/w01")
        assert w01["status"] == "idle"
        hall.issue("A")
        hall.act("w01", "call_next")
        later = read_events(lines, lambda m: any(k == "event" and p["type"] == "ticket_called" for k, p in m))
        called = next(p for k, p in later if k == "event" and p["type"] == "ticket_called")
        assert called["ticket"] == "A001" and called["window"] == "w01" and called["event_id"]
        assert any(k == "state" and p["topic"] == "state/window/w01" and p["payload"]["ticket"] == "A001"
                   for k, p in later)


def test_slow_live_client_is_dropped_not_waited_for(hall: Hall, served: str) -> None:
    live: LiveHub = hall.app.state.live
    with httpx.stream("GET", f"{served}/api/v1/events", timeout=10) as r:
        read_events(r.iter_lines(), lambda m: len(m) >= 1)
        deadline = time.monotonic() + 5
        while live.count == 0 and time.monotonic() < deadline:
            time.sleep(0.01)
        # a burst far beyond the client's queue while the client reads nothing
        for i in range(2000):
            live.publish_changes([("noise", {"i": i, "pad": "x" * 100})], {})
        deadline = time.monotonic() + 5
        while live.count and time.monotonic() < deadline:
            time.sleep(0.02)
        assert live.count == 0
