"""Scanned documents attached to a ticket: uploaded by token, seen by the clerk serving that ticket only."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import cv2
import httpx
import numpy as np
import pytest
from fastapi.testclient import TestClient
from test_http_api import TZ, Health, hall_config

from queue_server.http_api import create_app
from queue_server.store.attachments import AttachmentStore
from queue_server.store.repository import Store
from queue_server.worker import Worker


class Desk:
    def __init__(self, client: TestClient, store: AttachmentStore) -> None:
        self.client = client
        self.store = store

    def issue(self, service: str = "A") -> str:
        r = self.client.post("/api/v1/tickets", json={"service": service, "kiosk": "kiosk-01"})
        assert r.status_code == 201, r.text
        return str(r.json()["status_url"].rsplit("/t/", 1)[1])

    def upload(self, token: str, data: bytes, material: str | None = None) -> httpx.Response:
        params = {"material": material} if material else {}
        return self.client.post(f"/api/v1/tickets/{token}/attachments", content=data, params=params)


@pytest.fixture
def desk(tmp_path: Path) -> Iterator[Desk]:
    config = hall_config(tmp_path / "hall.db")
    store = Store(config.database.url, config.hall.id)
    store.open()
    worker = Worker(config, store, clock=lambda: datetime.now(ZoneInfo(TZ)), public_url="http://hall.test")
    worker.start()
    attachments = AttachmentStore(store.engine, config.hall.id)
    app = create_app(
        config,
        worker,
        health=Health(),
        metrics=lambda: (b"", "text/plain"),
        public_url="http://hall.test",
        attachments=attachments,
    )
    try:
        with TestClient(app) as client:
            yield Desk(client, attachments)
    finally:
        app.state.live.close()
        worker.stop()
        store.close()


def _jpeg(seed: int = 0) -> bytes:
    page = np.full((297, 210, 3), 250, np.uint8)
    cv2.putText(page, f"page {seed}", (20, 100), cv2.FONT_HERSHEY_SIMPLEX, 1.0, (0, 0, 0), 2)
    ok, data = cv2.imencode(".jpg", page)
    assert ok
    return data.tobytes()


def test_a_scanned_page_is_attached_to_the_ticket(desk: Desk) -> None:
    token = desk.issue()
    r = desk.upload(token, _jpeg(), material="身份证")
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["ticket"] == "A001" and body["mime"] == "image/jpeg" and body["material"] == "身份证"
    listed = desk.client.get(f"/api/v1/tickets/{token}/attachments").json()
    assert [a["id"] for a in listed] == [body["id"]]


def test_a_retried_upload_is_stored_once(desk: Desk) -> None:
    token = desk.issue()
    first = desk.upload(token, _jpeg())
    again = desk.upload(token, _jpeg())
    assert first.status_code == 201 and again.status_code == 200
    assert first.json()["id"] == again.json()["id"]
    assert len(desk.client.get(f"/api/v1/tickets/{token}/attachments").json()) == 1


def test_only_jpeg_png_and_pdf_are_taken_whatever_the_client_claims(desk: Desk) -> None:
    token = desk.issue()
    r = desk.client.post(
        f"/api/v1/tickets/{token}/attachments",
        content=b"MZ\x90\x00 not a document",
        headers={"Content-Type": "image/jpeg"},
    )
    assert r.status_code == 415 and r.json()["error"]["code"] == "unsupported_media_type"
    pdf = desk.upload(token, b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n")
    assert pdf.status_code == 201 and pdf.json()["mime"] == "application/pdf"


def test_unknown_token_and_oversized_uploads_are_refused(desk: Desk, monkeypatch: pytest.MonkeyPatch) -> None:
    r = desk.upload("nosuchtoken123", _jpeg())
    assert r.status_code == 404 and r.json()["error"]["code"] == "unknown_ticket"
    monkeypatch.setattr("queue_server.http_api.MAX_BYTES", 1000)
    token = desk.issue()
    big = desk.upload(token, _jpeg() + b"\0" * 2000)
    assert big.status_code == 413 and big.json()["error"]["code"] == "too_large"
    assert desk.client.get(f"/api/v1/tickets/{token}/attachments").json() == []


def test_the_clerk_serving_the_ticket_sees_its_documents_and_no_others(desk: Desk) -> None:
    assert desk.client.post("/api/v1/windows/w01/open", json={"clerk": "1024"}).status_code == 200
    mine = desk.issue()
    other = desk.issue()
    page = desk.upload(mine, _jpeg(1)).json()
    foreign = desk.upload(other, _jpeg(2)).json()
    none_yet = desk.client.get("/api/v1/windows/w01/attachments")
    assert none_yet.status_code == 409 and none_yet.json()["error"]["code"] == "no_ticket"
    assert desk.client.post("/api/v1/windows/w01/call_next", json={}).json()["ticket"]["no"] == "A001"
    listed = desk.client.get("/api/v1/windows/w01/attachments").json()
    assert [a["id"] for a in listed] == [page["id"]]
    got = desk.client.get(f"/api/v1/windows/w01/attachments/{page['id']}")
    assert got.status_code == 200 and got.headers["content-type"] == "image/jpeg"
    assert got.content == _jpeg(1) and got.headers["cache-control"] == "no-store"
    stolen = desk.client.get(f"/api/v1/windows/w01/attachments/{foreign['id']}")
    assert stolen.status_code == 404 and stolen.json()["error"]["code"] == "unknown_attachment"


def test_documents_are_deleted_after_thirty_days(desk: Desk) -> None:
    token = desk.issue()
    desk.upload(token, _jpeg())
    now = datetime.now(ZoneInfo(TZ))
    assert desk.store.prune(now + timedelta(days=29)) == 0
    assert desk.store.prune(now + timedelta(days=31)) == 1
    assert desk.client.get(f"/api/v1/tickets/{token}/attachments").json() == []
