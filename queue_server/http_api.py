"""HTTP side of the server (CONTRACT §4): `/api/v1` JSON, live events, health, metrics, pages.

Every command goes through `Worker.call`, the path MQTT commands take, so a call-next pressed
on the web console and one pressed on a hardware caller are the same request to the hall.
Reads of the hall's memory go through `Worker.read`, which runs on the worker thread between
batches, so no route ever sees a half-applied command.

Errors are always `{"error": {"code", "message"}}`. The command error codes map to:

| status | codes |
|---|---|
| 404 | `unknown_service`, `unknown_window`, `unknown_ticket`, `unknown_request`, `unknown_command`, |
|     | `wrong_code` (no appointment or deposit with that code: a failed look-up), `not_found` (no |
|     | route), `unknown_locker`, `unknown_deposit` |
| 405 | `method_not_allowed` |
| 409 | `queue_empty`, `no_ticket`, `window_paused`, `window_closed`, `wrong_state`, `hall_closed`, |
|     | `service_unavailable`, `already_evaluated`, `appointment_used`, `appointment_not_due`, |
|     | `appointment_expired`, `duplicate_appointment`, `locker_full`: well formed, but the hall's |
|     | state refuses it |
| 422 | `invalid_request` (bad JSON, wrong types, unknown fields, values the rules refuse), |
|     | `invalid_transfer` (to its own window, or to a window that does not serve the service) |
| 429 | `locked_out` (too many wrong check-in codes at that kiosk, or pickup codes at that locker) |
| 503 | `storage_error`, `timeout`, `too_many_clients`, `locker_offline` (no lock board), `no_modem`: |
|     | retry later; nothing was changed |
| 500 | `internal_error`: a server bug, never a client's input |

A code not in this table (added to the domain later) answers 400.

`Idempotency-Key` (printable ASCII, at most 128 characters) makes a command retry-safe: the
same key for the same action on the same window returns the first answer, error answers
included, and changes nothing. The key is scoped by action and window (a console that
reuses a key for a different button runs that button) and prefixed `http:`, so it never
meets an MQTT request id. Without the header each request gets a fresh id.

`GET /api/v1/events` is a server-sent events stream: first one `state` message per retained
state (`{"topic": "state/window/w01", "payload": {…}}`), then every change as it commits,
and every event as `event` (`{"type": "ticket_called", "event_id", "at", …}`). With a
DeviceWatch, the snapshot ends with one `device` message per known device, and device changes
and alarms follow as `device` / `alarm` messages (the dashboard's feed). A client that
falls `LIVE_QUEUE` messages behind is dropped; its browser reconnects and starts afresh.
uvicorn waits for open streams before it exits, so whoever stops the server calls
`app.state.live.close()` first.
"""

import asyncio
import hashlib
import json
import logging
import threading
import uuid
from collections.abc import AsyncIterator, Callable
from datetime import datetime, time
from statistics import fmean
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from fastapi import Body, FastAPI, Header, Path, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, Response, StreamingResponse
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import func, select
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException

from queue_server import commands, page_console, page_dashboard, page_display, page_ticket
from queue_server.device_watch import DeviceWatch
from queue_server.domain.hall import Hall
from queue_server.domain.model import WAITING_STATES, Ticket, TicketStatus
from queue_server.store import tables
from queue_server.store.attachments import MAX_BYTES, MIME_TYPES, AttachmentStore, sniff_mime
from queue_server.worker import Worker
from yichuang.config_model import Config

log = logging.getLogger(__name__)

API = "/api/v1"
LIVE_QUEUE = 500  # messages a live client may fall behind before it is dropped
LIVE_CLIENTS = 200  # browsers streaming at once (consoles, ticket pages, dashboards)
HEARTBEAT_S = 15.0  # keeps proxies and phones from closing an idle stream
MAX_REQUEST_ID = 128  # the width of the store's request id column

STATUS_BY_CODE: dict[str, int] = {
    **dict.fromkeys(
        (
            "unknown_service",
            "unknown_window",
            "unknown_ticket",
            "unknown_request",
            "unknown_command",
            "wrong_code",
            "not_found",
            "unknown_attachment",
            "unknown_locker",
            "unknown_deposit",
        ),
        404,
    ),
    "too_large": 413,
    "unsupported_media_type": 415,
    "method_not_allowed": 405,
    **dict.fromkeys(
        (
            "queue_empty",
            "no_ticket",
            "window_paused",
            "window_closed",
            "wrong_state",
            "hall_closed",
            "service_unavailable",
            "already_evaluated",
            "appointment_used",
            "appointment_not_due",
            "appointment_expired",
            "duplicate_appointment",
            "locker_full",
        ),
        409,
    ),
    **dict.fromkeys(("invalid_request", "invalid_transfer"), 422),
    "locked_out": 429,
    **dict.fromkeys(("storage_error", "timeout", "too_many_clients", "locker_offline", "no_modem"), 503),
    "internal_error": 500,
}

WINDOW_ACTIONS = (
    "call_next",
    "recall",
    "start",
    "finish",
    "no_show",
    "transfer",
    "park",
    "call_parked",
    "pause",
    "resume",
    "open",
    "close",
    "evaluate",
)


def status_for(code: str) -> int:
    """The HTTP status of a command error code (see the module docstring)."""
    return STATUS_BY_CODE.get(code, 400)


class ApiError(Exception):
    """An error answer: becomes `{"error": {"code", "message"}}` with the code's status."""

    def __init__(self, code: str, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status if status is not None else status_for(code)


def error_response(code: str, message: str, status: int) -> JSONResponse:
    return JSONResponse({"error": {"code": code, "message": message}}, status_code=status)


# --------------------------------------------------------------------- response models
# Output models allow extra fields: the hall may add a field to a state payload, and a
# client should see it rather than have this adapter silently strip it.


class Out(BaseModel):
    model_config = ConfigDict(extra="allow")


class ErrorDetail(BaseModel):
    code: str = Field(examples=["queue_empty"])
    message: str


class ErrorOut(BaseModel):
    error: ErrorDetail


class HealthOut(BaseModel):
    ok: bool
    database: bool
    broker: bool


class MaterialOut(Out):
    name: str
    name_en: str
    key: bool = Field(description="key materials must be present; the others may follow later (容缺)")
    copies: int
    form: str
    note: str


class ServiceOut(Out):
    id: str
    prefix: str
    name: str
    name_en: str
    flow: str = Field(description="finish_on_spot | accept_on_spot | receive_only")
    minutes: float = Field(description="typical handling time at the window")
    time_limit_days: int = Field(description="promised time limit (承诺时限), working days; 0 = on the spot")
    legal_limit_days: int
    area: str
    area_en: str
    instant: bool
    fee: str
    fee_en: str
    conditions: str
    conditions_en: str
    place: str
    place_en: str
    materials: list[MaterialOut]
    windows: list[str] = Field(description="windows that serve this service")


class QueueOut(Out):
    service: str
    waiting: int
    ewt_s: int | None
    last_called: str | None


class WindowOut(Out):
    window: str
    label: str
    status: str = Field(description="closed | idle | calling | serving | paused")
    ticket: str | None
    service: str | None
    since: str | None
    recall_count: int
    parked: list[str] = Field(default_factory=list, description="tickets on hold at this window")


class WindowDetailOut(WindowOut):
    services: list[str] = Field(description="services served, in priority order")


class TicketOut(Out):
    no: str = Field(examples=["A012"])
    service: str
    status: str = Field(description="waiting | called | serving | done | no_show | transferred | cancelled")
    issued_at: str
    priority: str
    window: str | None = None


class IssuedOut(Out):
    ticket: TicketOut
    ahead: int
    ewt_s: int | None
    status_url: str


class TicketResult(Out):
    ticket: TicketOut


class RecallResult(Out):
    ticket: TicketOut
    recall_count: int


class WindowResult(Out):
    window: WindowOut


class EvaluationOut(Out):
    id: int
    ticket: str
    window: str
    score: int
    at: str


class EvaluationResult(Out):
    evaluation: EvaluationOut


class DoorOut(Out):
    door: int
    size: str
    state: str = Field(examples=["free"], description="free | occupied | open | fault")


class DepositOut(Out):
    id: int
    locker: str
    door: int
    window: str
    phone: str = Field(examples=["138****5678"], description="masked")
    status: str
    sms: str = Field(examples=["sent"], description="the pickup SMS: pending | sent | failed")
    deposited_at: str
    expires_at: str
    case: str | None = None


class LockerOut(Out):
    locker: str
    doors: list[DoorOut]
    deposits: list[DepositOut]


class DepositResult(Out):
    door: int
    expires_at: str
    deposit: int


class PickupResult(Out):
    door: int


class HelpOut(Out):
    id: int
    kiosk: str
    reason: str
    status: str
    at: str


class HelpResult(Out):
    request: HelpOut


class DeviceOut(Out):
    """One device as MQTT last reported it (`device/{device}/status`, `info`, `telemetry`)."""

    device: str = Field(examples=["kiosk-01"])
    kind: str | None = Field(description="`info.kind`; null until its info is seen", examples=["kiosk"])
    status: str | None = Field(description="`online`, `offline`; null: never seen", examples=["online"])
    info: dict[str, Any] | None
    telemetry: dict[str, Any] | None = Field(
        examples=[{"uptime_s": 3600, "paper": "low", "server": "online"}]
    )
    status_at: str | None = Field(description="when the server received the last status")
    telemetry_at: str | None = Field(description="when the server received the last telemetry")


class AlarmOut(Out):
    """One `event/alarm` payload as published (e.g. kiosk `paper_out`, bridge `press_dropped`)."""

    kind: str = Field(examples=["paper_out"])
    at: str
    event_id: str | None = None
    device: str | None = Field(default=None, examples=["kiosk-01"])


class AppointmentOut(Out):
    code: str
    service: str
    slot_at: str
    status: str


class AppointmentResult(Out):
    appointment: AppointmentOut


class Words(BaseModel):
    zh: str
    en: str


class AttachmentOut(Out):
    id: str
    ticket: str
    mime: str
    material: str | None
    size: int
    sha256: str
    created_at: str


class TicketView(BaseModel):
    ticket: TicketOut
    ahead: int = Field(description="tickets the hall will call before this one; 0 once called")
    ewt_s: int | None = Field(description="estimated wait in seconds; null when no window serving it is open")
    service_name: str
    service_name_en: str
    window_label: str | None = Field(description="label of the window that called it")
    window_label_en: str | None
    status_text: Words = Field(description="the status in words, as the status page shows it")


class ServiceStats(BaseModel):
    service: str
    issued: int
    waiting: int
    served: int
    no_show: int
    cancelled: int
    mean_wait_s: float | None = Field(description="issue to (last) call, over called tickets")
    mean_handling_s: float | None = Field(description="call to finish, over served tickets")


class WindowStats(BaseModel):
    window: str
    served: int
    evaluations: int
    mean_score: float | None


class EvaluationStats(BaseModel):
    count: int
    mean_score: float | None


class StatsOut(BaseModel):
    day: str
    services: list[ServiceStats]
    windows: list[WindowStats]
    evaluations: EvaluationStats


class HelpResolveBody(BaseModel):
    """Who resolved it: a staff number (工号), never a name."""

    model_config = ConfigDict(extra="forbid", strict=True)
    by: str | None = Field(default=None, max_length=32)


WINDOW_RESULTS: dict[str, type[BaseModel]] = {
    **dict.fromkeys(
        ("call_next", "start", "finish", "no_show", "transfer", "park", "call_parked"), TicketResult
    ),
    "recall": RecallResult,
    **dict.fromkeys(("pause", "resume", "open", "close"), WindowResult),
    "evaluate": EvaluationResult,
}

WINDOW_SUMMARIES = {
    "call_next": "Call the next citizen (呼叫下一位); the current ticket, if any, is finished as done",
    "recall": "Call the current ticket again (重呼); past the hall's limit it becomes a no-show",
    "start": "The citizen has arrived: service begins (开始办理)",
    "finish": "Finish the current ticket (办结) with an outcome",
    "no_show": "The citizen did not come (未到)",
    "transfer": "Send the current citizen to another service or window (转移); they keep their place",
    "park": "Put the current citizen on hold (挂起), to be called back",
    "call_parked": "Call back a ticket this window put on hold",
    "pause": "Pause the window (暂停) with a reason",
    "resume": "Resume a paused window (恢复); opens a closed one",
    "open": "Open the window (开窗)",
    "close": "Close the window (关窗); tickets on hold go back to their queue",
    "evaluate": "The citizen rates the service just finished (评价), 1-5",
}

IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        max_length=128,
        pattern=r"^[\x21-\x7e]+$",
        description="retry-safe key: the same key for the same action returns the first answer",
    ),
]
WindowId = Annotated[str, Path(max_length=64, description="window id, e.g. w03")]
LockerId = Annotated[str, Path(max_length=64, description="locker id, e.g. locker-01")]
Token = Annotated[str, Path(max_length=128, description="the secret token of the ticket's status page")]
Material = Annotated[
    str | None,
    Query(max_length=64, description="which material of the service's list this is, e.g. 身份证"),
]


def _errors(*statuses: int) -> dict[int | str, dict[str, Any]]:
    return {s: {"model": ErrorOut} for s in statuses}


# --------------------------------------------------------------------- live events


class _LiveClient:
    """One open event stream: a bounded queue on the loop that serves it."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.queue: asyncio.Queue[bytes | None] = asyncio.Queue(maxsize=LIVE_QUEUE + 1)
        self.ended = False

    def offer(self, frames: list[bytes]) -> None:
        """On the client's loop: queue frames, or end a client that has fallen too far behind."""
        if self.ended:
            return
        for frame in frames:
            if self.queue.qsize() >= LIVE_QUEUE:
                log.warning("event=live_client_dropped reason=slow")
                self.end()
                return
            self.queue.put_nowait(frame)

    def end(self) -> None:
        # the queue is emptied first so the end marker always fits and is read next
        self.ended = True
        while not self.queue.empty():
            self.queue.get_nowait()
        self.queue.put_nowait(None)


def sse_frame(kind: str, data: dict[str, object]) -> bytes:
    text = json.dumps(data, ensure_ascii=False, separators=(",", ":"), default=str)
    return f"event: {kind}\ndata: {text}\n\n".encode()


class LiveHub:
    """A worker publisher that fans committed changes out to the open event streams.

    `publish_changes` runs on the worker thread; each client lives on an asyncio loop, so the
    frames cross over with `call_soon_threadsafe` and the worker never waits on a browser.
    """

    def __init__(self, worker: Worker, devices: DeviceWatch | None = None) -> None:
        self.worker = worker
        self.devices = devices
        self._clients: set[_LiveClient] = set()
        self._lock = threading.Lock()
        self.closed = False

    @property
    def count(self) -> int:
        return len(self._clients)

    def publish_changes(
        self, events: list[tuple[str, dict[str, object]]], states: dict[str, dict[str, object]]
    ) -> None:
        with self._lock:
            clients = list(self._clients)
        if not clients:
            return
        frames = [
            sse_frame("state", {"topic": topic, "payload": payload}) for topic, payload in states.items()
        ]
        frames += [sse_frame("event", {"type": kind, **payload}) for kind, payload in events]
        for client in clients:
            try:
                client.loop.call_soon_threadsafe(client.offer, frames)
            except RuntimeError:  # its loop has closed: the stream is gone
                self._remove(client)

    def push(self, kind: str, data: dict[str, Any]) -> None:
        """Send one extra frame (`device`, `alarm`) to every stream; safe from any thread.

        DeviceWatch calls this from the MQTT thread, as the worker calls `publish_changes`.
        """
        with self._lock:
            clients = list(self._clients)
        if not clients:
            return
        frames = [sse_frame(kind, data)]
        for client in clients:
            try:
                client.loop.call_soon_threadsafe(client.offer, frames)
            except RuntimeError:  # its loop has closed: the stream is gone
                self._remove(client)

    def _remove(self, client: _LiveClient) -> None:
        with self._lock:
            self._clients.discard(client)

    def close(self) -> None:
        """End every stream (before the HTTP server stops) and refuse new ones."""
        self.closed = True
        with self._lock:
            clients = list(self._clients)
        for client in clients:
            try:
                client.loop.call_soon_threadsafe(client.end)
            except RuntimeError:
                self._remove(client)

    def connect(self) -> _LiveClient:
        """Register a stream on the running loop; call from the endpoint, before reading states."""
        if self.closed:
            raise ApiError("too_many_clients", "the server is stopping; retry shortly")
        with self._lock:
            if len(self._clients) >= LIVE_CLIENTS:
                raise ApiError("too_many_clients", "too many live clients; retry later")
            client = _LiveClient(asyncio.get_running_loop())
            self._clients.add(client)
        return client

    async def stream(self, client: _LiveClient) -> AsyncIterator[bytes]:
        # Registered before the snapshot is read, so no change can fall between the two; a
        # change seen in both is sent twice, which a state (not a delta) makes harmless.
        try:
            yield b"retry: 3000\n\n"
            for topic, payload in sorted(self.worker.states.copy().items()):
                yield sse_frame("state", {"topic": topic, "payload": payload})
            # the devices as known now; like states, a record sent twice is harmless
            for record in self.devices.devices() if self.devices is not None else []:
                yield sse_frame("device", record)
            while True:
                try:
                    frame = await asyncio.wait_for(client.queue.get(), HEARTBEAT_S)
                except TimeoutError:
                    yield b": ping\n\n"
                    continue
                if frame is None:
                    return
                yield frame
        finally:
            self._remove(client)


# --------------------------------------------------------------------- reads of the hall


def ticket_view(hall: Hall, ticket: Ticket, now: datetime) -> dict[str, Any]:
    """What the status page shows: the ticket, its place and wait, and the words for its status."""
    placement: dict[str, Any] = {"ahead": 0, "ewt_s": None}  # once called, nobody is ahead
    if ticket.status in WAITING_STATES:
        placement = dict(hall.placement(ticket, now))
    service = hall.services.get(ticket.service)
    window = hall.window_configs.get(ticket.window) if ticket.window else None
    view: dict[str, Any] = {
        "ticket": ticket.public(),
        "ahead": placement["ahead"],
        "ewt_s": placement["ewt_s"],
        "service_name": service.name if service else ticket.service,
        "service_name_en": service.name_en if service else ticket.service,
        "window_label": window.label if window else None,
        "window_label_en": window.label_en if window else None,
    }
    view["status_text"] = status_words(view)
    return view


def status_words(view: dict[str, Any]) -> dict[str, str]:
    """The ticket's status as a citizen reads it, Chinese and English."""
    ticket = view["ticket"]
    status = ticket["status"]
    label, label_en = view.get("window_label") or "窗口", view.get("window_label_en") or "the window"
    if ticket.get("parked"):
        return {"zh": "已暂挂，请留意叫号", "en": "On hold — you will be called back"}
    if status == TicketStatus.CALLED:
        return {"zh": f"请到{label}", "en": f"Please go to {label_en}"}
    if status == TicketStatus.SERVING:
        return {"zh": f"正在{label}办理", "en": f"Being served at {label_en}"}
    if status == TicketStatus.DONE:
        return {"zh": "已办结，感谢您的耐心", "en": "Done — thank you"}
    if status == TicketStatus.NO_SHOW:
        return {"zh": "已过号，请咨询服务台", "en": "Missed — please ask at the help desk"}
    if status == TicketStatus.CANCELLED:
        return {"zh": "已取消", "en": "Cancelled"}
    if status == TicketStatus.TRANSFERRED:
        return {"zh": "已转办，等待叫号", "en": "Transferred — waiting to be called"}
    return {"zh": "等待中", "en": "Waiting"}


def today_stats(hall: Hall) -> dict[str, Any]:
    """Today's counts from the hall's memory, which holds every ticket of the day."""
    per_service: dict[str, dict[str, Any]] = {
        s: {"issued": 0, "waiting": 0, "served": 0, "no_show": 0, "cancelled": 0, "waits": [], "handling": []}
        for s in hall.services
    }
    served_at: dict[str, int] = dict.fromkeys(hall.windows, 0)
    for ticket in hall.tickets.values():
        row = per_service.get(ticket.service)
        if ticket.day != hall.day or row is None:
            continue
        row["issued"] += 1
        if ticket.status in WAITING_STATES:
            row["waiting"] += 1
        elif ticket.status is TicketStatus.DONE:
            row["served"] += 1
            if ticket.window in served_at:
                served_at[ticket.window] += 1
            if ticket.called_at is not None and ticket.finished_at is not None:
                row["handling"].append((ticket.finished_at - ticket.called_at).total_seconds())
        elif ticket.status is TicketStatus.NO_SHOW:
            row["no_show"] += 1
        elif ticket.status is TicketStatus.CANCELLED:
            row["cancelled"] += 1
        if ticket.called_at is not None:
            row["waits"].append((ticket.called_at - ticket.issued_at).total_seconds())
    services = []
    for service, row in per_service.items():
        waits, handling = row.pop("waits"), row.pop("handling")
        services.append(
            {
                "service": service,
                **row,
                "mean_wait_s": round(fmean(waits), 1) if waits else None,
                "mean_handling_s": round(fmean(handling), 1) if handling else None,
            }
        )
    return {"day": hall.day.isoformat(), "services": services, "served_at": served_at}


# --------------------------------------------------------------------- the app


def create_app(
    config: Config,
    worker: Worker,
    *,
    health: Callable[[], dict[str, bool]],
    metrics: Callable[[], tuple[bytes, str]],
    public_url: str,
    attachments: AttachmentStore | None = None,
    devices: DeviceWatch | None = None,
) -> FastAPI:
    """The HTTP API and pages of one hall's server, on top of a started `Worker`.

    `health()` says whether the database and the broker are reachable; `metrics()` renders
    the Prometheus exposition; `public_url` is the base of links printed on tickets (kept on
    `app.state.public_url`; the worker itself builds each ticket's `status_url`). Call
    `app.state.live.close()` before stopping uvicorn, or open event streams hold its shutdown.
    `devices` (the server's DeviceWatch) feeds `/api/v1/devices`, `/api/v1/alarms`, the
    `device`/`alarm` frames of the event stream and `/dashboard`; without it those lists are empty.
    """
    app = FastAPI(
        title=f"Yichuang queue server — {config.hall.name_en}",
        version="1.0",
        description="Queue management for a government service hall (政务服务中心). "
        'Errors are `{"error": {"code", "message"}}`; see CONTRACT §3 for the commands.',
        openapi_tags=[
            {"name": "services", "description": "the service catalogue (办事指南)"},
            {"name": "queues", "description": "waiting counts and estimated waits"},
            {"name": "windows", "description": "window state and the clerk's actions"},
            {"name": "tickets", "description": "taking, following and cancelling a ticket"},
            {"name": "appointments", "description": "booked appointments and kiosk check-in"},
            {"name": "help", "description": "help requests from kiosks (帮办)"},
            {"name": "locker", "description": "the self-service file locker (自助存取文件柜)"},
            {"name": "attachments", "description": "scanned documents attached to a ticket"},
            {"name": "stats", "description": "today's figures"},
            {"name": "devices", "description": "the hall's devices and their alarms, as MQTT reports them"},
            {"name": "live", "description": "server-sent events of state changes"},
            {"name": "operations", "description": "health and metrics"},
        ],
    )
    live = LiveHub(worker, devices)
    worker.publishers.append(live)
    if devices is not None:
        devices.add_listener(live.push)
    app.state.live = live
    app.state.public_url = public_url
    tz = ZoneInfo(config.hall.timezone)
    services_by_id = {s.id: s for s in config.services}
    window_ids = {w.id for w in config.windows}
    locker_ids = {lk.id for lk in config.lockers}
    _install_error_handlers(app)

    def run(
        name: str,
        args: dict[str, Any],
        *,
        window: str | None = None,
        key: str | None = None,
        locker: str | None = None,
    ) -> Any:
        """One command through the worker; its error answer becomes an `ApiError`."""
        if window is not None and window not in window_ids:
            # refused here, like the MQTT adapter does, so a junk path never reaches the store
            raise ApiError("unknown_window", f"no window {window!r} in this hall")
        if locker is not None and locker not in locker_ids:
            raise ApiError("unknown_locker", f"no locker {locker!r} in this hall")
        scope = window if locker is None else f"locker:{locker}"
        reply = worker.call(name, args, window=window, locker=locker, request_id=request_id(name, scope, key))
        if reply.get("ok"):
            return reply["result"]
        error = reply.get("error") or {}
        raise ApiError(str(error.get("code", "internal_error")), str(error.get("message", "")))

    def read(fn: Callable[[Hall], Any]) -> Any:
        try:
            return worker.read(fn)
        except TimeoutError:
            raise ApiError("timeout", "the server did not answer in time") from None

    # ----------------------------------------------------------------- operations

    @app.get("/healthz", tags=["operations"], response_model=HealthOut, responses={503: {"model": HealthOut}})
    def healthz() -> JSONResponse:
        """200 when the database and the broker are reachable, else 503 with the same body."""
        try:
            state = health()
            database, broker = bool(state.get("database")), bool(state.get("broker"))
        except Exception:
            log.exception("event=health_check_failed")
            database = broker = False
        up = database and broker
        return JSONResponse(
            {"ok": up, "database": database, "broker": broker}, status_code=200 if up else 503
        )

    @app.get("/metrics", tags=["operations"], response_class=Response)
    def prometheus() -> Response:
        """Prometheus text exposition."""
        body, content_type = metrics()
        return Response(content=body, media_type=content_type)

    # ----------------------------------------------------------------- catalogue and state

    def service_out(service_id: str) -> dict[str, Any]:
        s = services_by_id[service_id]
        return {
            "id": s.id,
            "prefix": s.prefix,
            "name": s.name,
            "name_en": s.name_en,
            "flow": s.flow.value,
            "minutes": s.minutes,
            "time_limit_days": s.time_limit_days,
            "legal_limit_days": s.legal_limit_days,
            "area": s.area,
            "area_en": s.area_en,
            "instant": s.instant,
            "fee": s.fee,
            "fee_en": s.fee_en,
            "conditions": s.conditions,
            "conditions_en": s.conditions_en,
            "place": s.place,
            "place_en": s.place_en,
            "materials": [
                {
                    "name": m.name,
                    "name_en": m.name_en,
                    "key": m.key,
                    "copies": m.copies,
                    "form": m.form,
                    "note": m.note,
                }
                for m in s.materials
            ],
            "windows": [w.id for w in config.windows if s.id in w.services],
        }

    @app.get(f"{API}/services", tags=["services"], response_model=list[ServiceOut])
    def list_services() -> list[dict[str, Any]]:
        """Every service of the hall with its materials list, flow and time limits."""
        return [service_out(s.id) for s in config.services]

    @app.get(
        f"{API}/services/{{service_id}}", tags=["services"], response_model=ServiceOut, responses=_errors(404)
    )
    def get_service(service_id: Annotated[str, Path(max_length=64)]) -> dict[str, Any]:
        if service_id not in services_by_id:
            raise ApiError("unknown_service", f"no service {service_id!r} in this hall")
        return service_out(service_id)

    @app.get(f"{API}/queues", tags=["queues"], response_model=list[QueueOut])
    def list_queues() -> list[dict[str, object]]:
        """What `state/queue/{service}` says, computed now (MQTT gets it at most 20 times a second)."""
        return read(lambda h: [h.queue_state(s.id, worker.clock()) for s in config.services])

    def window_out(window_id: str) -> dict[str, object]:
        state = worker.states.copy().get(f"state/window/{window_id}")
        if state is None:  # not yet published (worker not started): ask the hall itself
            state = read(lambda h: h.window_state(window_id))
        return state

    @app.get(f"{API}/windows", tags=["windows"], response_model=list[WindowOut])
    def list_windows() -> list[dict[str, object]]:
        """The retained `state/window/{window}` payloads, in the config's order."""
        return [window_out(w.id) for w in config.windows]

    @app.get(
        f"{API}/windows/{{window}}", tags=["windows"], response_model=WindowDetailOut, responses=_errors(404)
    )
    def get_window(window: WindowId) -> dict[str, object]:
        """One window's state, the tickets it holds on hold, and the services it serves."""
        cfg = config.window(window)
        if cfg is None:
            raise ApiError("unknown_window", f"no window {window!r} in this hall")
        return {**window_out(window), "services": list(cfg.services)}

    # ----------------------------------------------------------------- tickets

    @app.post(
        f"{API}/tickets",
        tags=["tickets"],
        status_code=201,
        response_model=IssuedOut,
        responses=_errors(404, 409, 422, 503),
    )
    def issue_ticket(body: commands.IssueArgs, idempotency_key: IdempotencyKey = None) -> Any:
        """Take a ticket (what a kiosk does); the phone number, if given, is only ever used for SMS."""
        return run("ticket/issue", body.model_dump(exclude_unset=True), key=idempotency_key)

    def find_view(token: str) -> dict[str, Any]:
        def look(hall: Hall) -> dict[str, Any] | None:
            ticket = hall.ticket_by_token(token)
            return ticket_view(hall, ticket, worker.clock()) if ticket is not None else None

        view = read(look) if 8 <= len(token) <= 64 else None
        if view is None:
            raise ApiError("unknown_ticket", "no ticket with this token")
        return view

    @app.get(f"{API}/tickets/{{token}}", tags=["tickets"], response_model=TicketView, responses=_errors(404))
    def get_ticket(token: Token) -> dict[str, Any]:
        """A ticket by the secret token of its status page: its status, place and estimated wait."""
        return find_view(token)

    @app.post(
        f"{API}/tickets/{{token}}/cancel",
        tags=["tickets"],
        response_model=TicketResult,
        responses=_errors(404, 409, 503),
    )
    def cancel_ticket(token: Token, idempotency_key: IdempotencyKey = None) -> Any:
        """The citizen gives up their place."""
        if not 8 <= len(token) <= 64:
            raise ApiError("unknown_ticket", "no ticket with this token")
        return run("ticket/cancel", {"token": token}, key=idempotency_key)

    # ----------------------------------------------------------------- attachments

    def store_of_attachments() -> AttachmentStore:
        if attachments is None:
            raise ApiError("not_found", "this server keeps no attachments")
        return attachments

    def ticket_of_token(token: str) -> tuple[int, str]:
        def look(hall: Hall) -> tuple[int, str] | None:
            ticket = hall.by_token.get(token)
            return (ticket.id, ticket.no) if ticket is not None else None

        found = read(look) if 8 <= len(token) <= 64 else None
        if found is None:
            raise ApiError("unknown_ticket", "no ticket with this token")
        return found

    def ticket_at_window(window: str) -> tuple[int, str]:
        if window not in window_ids:
            raise ApiError("unknown_window", f"no window {window!r} in this hall")

        def look(hall: Hall) -> tuple[int, str] | None:
            current = hall.windows[window].ticket_id
            ticket = hall.tickets.get(current) if current is not None else None
            return (ticket.id, ticket.no) if ticket is not None else None

        found = read(look)
        if found is None:
            raise ApiError("no_ticket", f"window {window} has no current ticket")
        return found

    @app.post(
        f"{API}/tickets/{{token}}/attachments",
        tags=["attachments"],
        status_code=201,
        response_model=AttachmentOut,
        responses={200: {"model": AttachmentOut}, **_errors(404, 413, 415, 503)},
    )
    async def add_attachment(token: Token, request: Request, material: Material = None) -> Response:
        """Attach a scanned page (JPEG/PNG) or a batch (PDF) to a ticket, by its token.

        The body is the file itself. The same bytes sent again (a retried upload) are the same
        attachment (200 instead of 201). Shown to the clerk serving the ticket; kept 30 days.
        """
        store = store_of_attachments()
        data = bytearray()
        async for chunk in request.stream():
            data += chunk
            if len(data) > MAX_BYTES:
                raise ApiError("too_large", f"an attachment may be at most {MAX_BYTES // 2**20} MiB")
        mime = sniff_mime(bytes(data))
        if mime is None:
            raise ApiError("unsupported_media_type", "send a JPEG, PNG or PDF file as the body")
        ticket_id, ticket_no = await asyncio.to_thread(ticket_of_token, token)
        now = datetime.now(tz)
        attachment, created = await asyncio.to_thread(
            store.add, ticket_id, ticket_no, bytes(data), mime, material, now
        )
        log.info("attachment stored ticket=%s mime=%s size=%d new=%s", ticket_no, mime, len(data), created)
        return JSONResponse(attachment.public(), status_code=201 if created else 200)

    @app.get(
        f"{API}/tickets/{{token}}/attachments",
        tags=["attachments"],
        response_model=list[AttachmentOut],
        responses=_errors(404),
    )
    def ticket_attachments(token: Token) -> list[dict[str, object]]:
        """What a ticket has attached (without the bytes)."""
        ticket_id, _ = ticket_of_token(token)
        return [a.public() for a in store_of_attachments().of_ticket(ticket_id)]

    @app.get(
        f"{API}/windows/{{window}}/attachments",
        tags=["attachments"],
        response_model=list[AttachmentOut],
        responses=_errors(404, 409),
    )
    def window_attachments(window: str) -> list[dict[str, object]]:
        """The documents of the ticket a window is calling or serving, for its clerk."""
        ticket_id, _ = ticket_at_window(window)
        return [a.public() for a in store_of_attachments().of_ticket(ticket_id)]

    @app.get(
        f"{API}/windows/{{window}}/attachments/{{attachment_id}}",
        tags=["attachments"],
        response_class=Response,
        responses={200: {"content": {m: {} for m in MIME_TYPES}}, **_errors(404, 409)},
    )
    def window_attachment(window: str, attachment_id: str) -> Response:
        """One document of the window's current ticket; another ticket's documents are not found."""
        ticket_id, _ = ticket_at_window(window)
        found = store_of_attachments().get(ticket_id, attachment_id[:64])
        if found is None:
            raise ApiError("unknown_attachment", "no such attachment for this window's ticket")
        meta, data = found
        return Response(data, media_type=meta.mime, headers={"Cache-Control": "no-store"})

    # ----------------------------------------------------------------- window actions

    for action in WINDOW_ACTIONS:
        _add_window_action(app, run, action)

    # ----------------------------------------------------------------- appointments

    @app.post(
        f"{API}/appointments",
        tags=["appointments"],
        status_code=201,
        response_model=AppointmentResult,
        responses=_errors(404, 409, 422, 503),
    )
    def create_appointment(body: commands.AppointmentArgs, idempotency_key: IdempotencyKey = None) -> Any:
        """An appointment booked online or by phone (pushed in by the booking platform)."""
        return run("appointment/create", body.model_dump(exclude_unset=True), key=idempotency_key)

    @app.post(
        f"{API}/appointments/checkin",
        tags=["appointments"],
        status_code=201,
        response_model=IssuedOut,
        responses=_errors(404, 409, 422, 429, 503),
    )
    def checkin(body: commands.CheckinArgs, idempotency_key: IdempotencyKey = None) -> Any:
        """Check in an appointment at a kiosk: gives an appointment ticket. Wrong codes lock the kiosk out."""
        return run("appointment/checkin", body.model_dump(exclude_unset=True), key=idempotency_key)

    @app.delete(
        f"{API}/appointments/{{code}}",
        tags=["appointments"],
        response_model=AppointmentResult,
        responses=_errors(404, 409, 503),
    )
    def cancel_appointment(
        code: Annotated[str, Path(max_length=64)], idempotency_key: IdempotencyKey = None
    ) -> Any:
        return run("appointment/cancel", {"code": code}, key=idempotency_key)

    # ----------------------------------------------------------------- help requests

    @app.get(f"{API}/help", tags=["help"], response_model=list[HelpOut])
    def open_help() -> Any:
        """Open help requests from kiosks, oldest first."""
        return read(lambda h: h.open_help_requests())

    @app.post(
        f"{API}/help", tags=["help"], status_code=201, response_model=HelpResult, responses=_errors(422, 503)
    )
    def request_help(body: commands.HelpArgs, idempotency_key: IdempotencyKey = None) -> Any:
        """A kiosk asks for a helper; a second press while one is open returns the same request."""
        return run("help/request", body.model_dump(exclude_unset=True), key=idempotency_key)

    @app.post(
        f"{API}/help/{{request_id}}/resolve",
        tags=["help"],
        response_model=HelpResult,
        responses=_errors(404, 409, 422, 503),
    )
    def resolve_help(
        request_id: Annotated[int, Path(ge=1, le=2**31)],
        body: Annotated[HelpResolveBody | None, Body()] = None,
        idempotency_key: IdempotencyKey = None,
    ) -> Any:
        args: dict[str, Any] = {"request": request_id}
        if body is not None and body.by is not None:
            args["by"] = body.by
        return run("help/resolve", args, key=f"{request_id}:{idempotency_key}" if idempotency_key else None)

    # ----------------------------------------------------------------- the file locker

    @app.get(f"{API}/lockers", tags=["locker"], response_model=list[LockerOut])
    def lockers() -> Any:
        """Every locker's doors (free, occupied, open, fault) and its waiting deposits (phone
        numbers masked; pickup codes are never kept)."""
        return read(
            lambda h: [
                {**h.locker_state(lk), "deposits": h.waiting_deposits(lk)} for lk in sorted(locker_ids)
            ]
        )

    @app.post(
        f"{API}/lockers/{{locker}}/deposit",
        tags=["locker"],
        status_code=201,
        response_model=DepositResult,
        responses=_errors(404, 409, 422, 503),
    )
    def deposit(locker: LockerId, body: commands.DepositArgs, idempotency_key: IdempotencyKey = None) -> Any:
        """A window deposits a result: a free door opens, the citizen gets the pickup code by SMS."""
        return run("locker/deposit", body.model_dump(exclude_unset=True), locker=locker, key=idempotency_key)

    @app.post(
        f"{API}/lockers/{{locker}}/pickup",
        tags=["locker"],
        response_model=PickupResult,
        responses=_errors(404, 422, 429, 503),
    )
    def pickup(locker: LockerId, body: commands.PickupArgs, idempotency_key: IdempotencyKey = None) -> Any:
        """The citizen's pickup code opens its door (`wrong_code`; `locked_out` after five wrong)."""
        return run("locker/pickup", body.model_dump(), locker=locker, key=idempotency_key)

    @app.post(
        f"{API}/lockers/{{locker}}/withdraw",
        tags=["locker"],
        response_model=PickupResult,
        responses=_errors(404, 422, 503),
    )
    def withdraw(
        locker: LockerId, body: commands.WithdrawArgs, idempotency_key: IdempotencyKey = None
    ) -> Any:
        """A clerk takes a deposit back: its door opens and is freed."""
        return run("locker/withdraw", body.model_dump(), locker=locker, key=idempotency_key)

    # ----------------------------------------------------------------- stats

    @app.get(f"{API}/stats/today", tags=["stats"], response_model=StatsOut, responses=_errors(503))
    def stats_today() -> dict[str, Any]:
        """Today's tickets per service and per window, and the evaluations given today."""
        stats = read(today_stats)
        day_start = datetime.combine(datetime.fromisoformat(stats["day"]).date(), time(0), tzinfo=tz)
        e = tables.evaluations
        try:
            rows = worker.store.query(
                select(e.c.window, func.count().label("n"), func.avg(e.c.score).label("mean"))
                .where(e.c.hall == config.hall.id, e.c.at >= day_start)
                .group_by(e.c.window)
            )
        except Exception:
            log.exception("event=stats_query_failed")
            raise ApiError("storage_error", "the hall's database did not answer") from None
        by_window = {r["window"]: (int(r["n"]), float(r["mean"])) for r in rows}
        total = sum(n for n, _ in by_window.values())
        mean = sum(n * m for n, m in by_window.values()) / total if total else None
        windows = [
            {
                "window": w,
                "served": served,
                "evaluations": by_window.get(w, (0, 0.0))[0],
                "mean_score": round(by_window[w][1], 2) if w in by_window else None,
            }
            for w, served in stats["served_at"].items()
        ]
        return {
            "day": stats["day"],
            "services": stats["services"],
            "windows": windows,
            "evaluations": {"count": total, "mean_score": round(mean, 2) if mean is not None else None},
        }

    # ----------------------------------------------------------------- devices

    @app.get(f"{API}/devices", tags=["devices"], response_model=list[DeviceOut])
    def list_devices() -> list[dict[str, Any]]:
        """Every device of the hall seen on MQTT, sorted by kind then id.

        Built from the retained `yc/{hall}/device/{device}/status` and `info` and the latest
        `telemetry` (kiosks: `paper` ok|low|out|unknown|offline|none, `server`; every device:
        `uptime_s`). The server itself is device `server`. `status_at` / `telemetry_at` are when
        the server received them. The event stream sends the same records as `device` frames.
        """
        return devices.devices() if devices is not None else []

    @app.get(f"{API}/alarms", tags=["devices"], response_model=list[AlarmOut])
    def list_alarms() -> list[dict[str, Any]]:
        """The last 100 `yc/{hall}/event/alarm` payloads since the server started, newest first.

        Kiosks raise `paper_low`, `paper_out`, `printer_offline`, `print_failed`; bridges
        `press_dropped` (docs/mqtt.md has the payloads). New ones arrive on the event stream
        as `alarm` frames.
        """
        return devices.alarms() if devices is not None else []

    # ----------------------------------------------------------------- live events

    @app.get(
        f"{API}/events",
        tags=["live"],
        response_class=StreamingResponse,
        responses={
            200: {
                "content": {"text/event-stream": {}},
                "description": "`state` and `event` messages, from every retained state on; "
                "`device` (a device record) and `alarm` (an alarm payload) messages",
            },
            503: {"model": ErrorOut},
        },
    )
    async def events() -> StreamingResponse:
        """Live state changes and events (server-sent events)."""
        client = live.connect()
        return StreamingResponse(
            live.stream(client),
            media_type="text/event-stream",
            headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
        )

    # ----------------------------------------------------------------- pages

    @app.get("/t/{token}", include_in_schema=False, response_class=HTMLResponse)
    async def ticket_page(token: str) -> HTMLResponse:
        try:
            view = await run_in_threadpool(find_view, token)
        except ApiError as exc:
            if exc.code != "unknown_ticket":
                raise
            return HTMLResponse(page_ticket.not_found(config), status_code=404)
        return HTMLResponse(page_ticket.render(config, token, view))

    @app.get("/console/{window}", include_in_schema=False, response_class=HTMLResponse)
    def console_page(window: str) -> HTMLResponse:
        cfg = config.window(window)
        if cfg is None:
            return HTMLResponse(page_console.not_found(config, window), status_code=404)
        return HTMLResponse(page_console.render(config, cfg, window_out(window)))

    @app.get("/dashboard", include_in_schema=False, response_class=HTMLResponse)
    def dashboard_page() -> HTMLResponse:
        """The technicians' dashboard: devices, alarms, help requests, windows and queues."""
        return HTMLResponse(page_dashboard.render(config))

    @app.get("/display", include_in_schema=False, response_class=HTMLResponse)
    def display_page(orientation: str | None = None) -> HTMLResponse:
        """The whole hall's display; `?orientation=portrait` for a TV on its side."""
        return HTMLResponse(page_display.render(config, None, orientation))

    @app.get("/display/{display_id}", include_in_schema=False, response_class=HTMLResponse)
    def display_id_page(display_id: str, orientation: str | None = None) -> HTMLResponse:
        """A `[[display]]` of the config: its windows, orientation and languages."""
        cfg = next((d for d in config.displays if d.id == display_id), None)
        if cfg is None:
            return HTMLResponse(page_display.not_found(config, display_id), status_code=404)
        return HTMLResponse(page_display.render(config, cfg, orientation))

    return app


def request_id(name: str, window: str | None, key: str | None) -> str:
    """The worker's request id for an HTTP command: the idempotency key scoped by action and window."""
    if key is None:
        return f"http:{uuid.uuid4().hex}"
    rid = f"http:{name}:{window or ''}:{key}"
    if len(rid) > MAX_REQUEST_ID:
        rid = "http:" + hashlib.sha256(rid.encode()).hexdigest()
    return rid


def _add_window_action(app: FastAPI, run: Callable[..., Any], action: str) -> None:
    """`POST /api/v1/windows/{window}/{action}` with the body that command takes."""
    name = f"window/{action}"
    args_model = commands.COMMANDS[name].args

    def endpoint(
        window: WindowId,
        body: Annotated[args_model | None, Body()] = None,  # type: ignore[valid-type]
        idempotency_key: IdempotencyKey = None,
    ) -> Any:
        args: dict[str, Any] = body.model_dump(exclude_unset=True) if body is not None else {}
        return run(name, args, window=window, key=idempotency_key)

    endpoint.__name__ = f"window_{action}"
    app.add_api_route(
        f"{API}/windows/{{window}}/{action}",
        endpoint,
        methods=["POST"],
        tags=["windows"],
        response_model=WINDOW_RESULTS[action],
        summary=WINDOW_SUMMARIES[action],
        responses=_errors(404, 409, 422, 503),
    )


def _install_error_handlers(app: FastAPI) -> None:
    """Every error, FastAPI's own included, in the contract's shape."""

    async def on_api_error(_request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, ApiError)
        return error_response(exc.code, exc.message, exc.status)

    async def on_validation(_request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        problems = []
        for err in exc.errors()[:10]:
            where = ".".join(str(p) for p in err.get("loc", ())) or "request"
            problems.append(f"{where}: {err.get('msg', 'invalid')}")
        return error_response("invalid_request", "; ".join(problems) or "invalid request", 422)

    async def on_http(_request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, StarletteHTTPException)
        code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "invalid_request")
        status = exc.status_code if 400 <= exc.status_code < 500 else 400
        return error_response(code, str(exc.detail), status)

    async def on_crash(_request: Request, exc: Exception) -> JSONResponse:
        # only a server bug gets here; the tests send junk to make sure no input does
        log.error("event=http_crashed error=%s", type(exc).__name__)
        return error_response("internal_error", "the server failed on this request", 500)

    app.add_exception_handler(ApiError, on_api_error)
    app.add_exception_handler(RequestValidationError, on_validation)
    app.add_exception_handler(StarletteHTTPException, on_http)
    app.add_exception_handler(Exception, on_crash)
