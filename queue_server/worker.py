"""The single writer: runs commands one at a time against the hall, commits them in groups.

Every command, from MQTT or HTTP, becomes a `Request` on one queue. The worker takes what is
waiting (up to a batch), runs each against the in-memory hall, writes the whole batch in one
transaction, and only then answers and publishes. So two clerks pressing call-next at the
same instant are simply two requests in a row, and no answer ever runs ahead of the disk.
"""

from __future__ import annotations

import base64
import json
import logging
import queue
import secrets
import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol

import orjson

from queue_server import commands
from queue_server.domain import errors as e
from queue_server.domain.hall import Hall
from queue_server.domain.model import Changes
from queue_server.domain.numbering import hall_day
from queue_server.store.repository import Batch, RequestRecord, Store
from yichuang.config_model import Config
from yichuang.errors import YichuangError

log = logging.getLogger(__name__)

MAX_BATCH = 256
SUMMARY_INTERVAL_S = 0.05  # queue states and recent calls: at most this often under load
REMEMBERED_REPLIES = 200_000


@dataclass
class Request:
    """A command waiting for the worker. `respond` gets the reply object once it is durable."""

    name: str
    args: dict[str, Any]
    respond: Callable[[dict[str, Any]], None]
    request_id: str | None = None
    window: str | None = None
    topic: str = ""
    locker: str | None = None
    received: float = field(default_factory=time.perf_counter)


@dataclass
class Query:
    """A read of the hall's memory, run on the worker thread between batches (no commit)."""

    run: Callable[[Hall], Any]
    respond: Callable[[Any], None]


class StorageUnavailable(YichuangError, RuntimeError):
    """The database refused a commit; the hall was rebuilt from what it holds."""


class Publisher(Protocol):
    """Where answers and state go after a commit: the MQTT adapter, the HTTP live views."""

    def publish_changes(
        self, events: list[tuple[str, dict[str, object]]], states: dict[str, dict[str, object]]
    ) -> None: ...


def ok(request_id: str | None, result: dict[str, object]) -> dict[str, Any]:
    return {"id": request_id, "ok": True, "result": result}


def fail(request_id: str | None, code: str, message: str) -> dict[str, Any]:
    return {"id": request_id, "ok": False, "error": {"code": code, "message": message}}


class Worker:
    """Owns the hall and the store; everything else talks to it through `submit`."""

    def __init__(
        self,
        config: Config,
        store: Store,
        clock: Callable[[], datetime],
        token: Callable[[], str] | None = None,
        on_batch: Callable[[int, float], None] | None = None,
        public_url: str = "",
    ) -> None:
        self.config = config
        self.store = store
        self.clock = clock
        self.token = token if token is not None else _TokenPool().take
        self.on_batch = on_batch
        self.public_url = public_url or f"http://{config.http.host}:{config.http.port}"
        self.hall_id = config.hall.id
        self.publishers: list[Publisher] = []
        self.states: dict[str, dict[str, object]] = {}  # retained state by topic suffix, for republishing
        self._inbox: queue.SimpleQueue[Request | Query | None] = queue.SimpleQueue()
        self._replies: OrderedDict[str, dict[str, Any]] = OrderedDict()
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()
        self._carry: list[Request | Query] = []
        self._dirty_queues: set[str] = set()
        self._calls_dirty = False
        self._summaries_at = 0.0
        self._boot = uuid.uuid4().hex[:12]
        self._events_published = 0
        self._crashed = False
        self.hall = self._load()
        self.healthy = True

    # ----------------------------------------------------------------- lifecycle

    def _load(self) -> Hall:
        now = self.clock()
        tz = self._tz()
        snapshot = self.store.load(now, hall_day(now, tz), self.config.hall.queue.ewt_history)
        hall = Hall(self.config, snapshot, now)
        changes = hall.drain_changes()
        if not changes.empty():
            # a restart after midnight cancels yesterday's leftovers before anything else
            self.store.commit(Batch(changes=changes))
        return hall

    def _tz(self) -> Any:
        from zoneinfo import ZoneInfo

        return ZoneInfo(self.config.hall.timezone)

    def start(self) -> None:
        self._refresh_all_states()
        self._thread = threading.Thread(target=self._loop, name="hall-worker", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        """Finish what is queued, then stop."""
        self._stopping.set()
        self._inbox.put(None)
        if self._thread is not None:
            self._thread.join(timeout)

    def submit(self, item: Request | Query) -> None:
        self._inbox.put(item)

    def call(
        self,
        name: str,
        args: dict[str, Any],
        window: str | None = None,
        request_id: str | None = None,
        timeout: float = 10.0,
        locker: str | None = None,
    ) -> dict[str, Any]:
        """Blocking helper for in-process callers (HTTP, tests): submit and wait for the reply."""
        done = threading.Event()
        box: list[dict[str, Any]] = []

        def respond(reply: dict[str, Any]) -> None:
            box.append(reply)
            done.set()

        self.submit(Request(name, args, respond, request_id=request_id, window=window, locker=locker))
        if not done.wait(timeout):
            return fail(request_id, "timeout", "the server did not answer in time")
        return box[0]

    def read(self, fn: Callable[[Hall], Any], timeout: float = 10.0) -> Any:
        done = threading.Event()
        box: list[Any] = []

        def respond(value: Any) -> None:
            box.append(value)
            done.set()

        self.submit(Query(fn, respond))
        if not done.wait(timeout):
            raise TimeoutError("the hall did not answer in time")
        if isinstance(box[0], BaseException):
            raise box[0]
        return box[0]

    # ----------------------------------------------------------------- the loop

    def _loop(self) -> None:
        last_tick = 0.0
        while True:
            if self._carry:
                carried, self._carry = self._carry, []
                self._process(carried)
                continue
            pending = self._dirty_queues or self._calls_dirty
            try:
                first = self._inbox.get(timeout=SUMMARY_INTERVAL_S if pending else 1.0)
            except queue.Empty:
                first = None
                if self._stopping.is_set():
                    return
            items: list[Request | Query] = []
            stop = False
            if first is None:
                stop = self._stopping.is_set()
            else:
                items.append(first)
            while len(items) < MAX_BATCH:
                try:
                    item = self._inbox.get_nowait()
                except queue.Empty:
                    break
                if item is None:
                    stop = True
                    continue
                items.append(item)
            if items:
                self._process(items)
            self._flush_summaries()
            if time.monotonic() - last_tick >= 1.0:
                last_tick = time.monotonic()
                self._tick()
            if stop and self._inbox.empty():
                return

    def _tick(self) -> None:
        """Day rollover and the slow drift of estimated waits, once a second."""
        try:
            now = self.clock()
            self.hall.roll_day(now)
            changes = self.hall.drain_changes()
            changes.queues.update(self.hall.services)  # waits shrink as time passes
            if changes.tickets or changes.windows:
                self.store.commit(Batch(changes=changes))
            self._publish(changes, now)
            self._batch_done()
        except Exception:
            log.exception("event=tick_failed")

    def _process(self, items: list[Request | Query]) -> None:
        started = time.perf_counter()
        batch = Batch()
        answered: list[tuple[Request, dict[str, Any]]] = []
        fresh: list[Request] = []
        requests = [i for i in items if isinstance(i, Request)]
        unknown = [r.request_id for r in requests if r.request_id and r.request_id not in self._replies]
        try:
            stored = self.store.replies(unknown) if unknown else {}
        except Exception:
            log.exception("event=reply_lookup_failed")
            stored = {}
        for stored_id, text in stored.items():
            self._remember(stored_id, json.loads(text))
        in_batch: dict[str, dict[str, Any]] = {}
        reads: list[tuple[Query, Any]] = []
        now = self.clock()
        self._crashed = False
        for index, item in enumerate(items):
            if self._crashed:
                # memory may be half-changed: commit what went before, rebuild, then run the rest
                self._carry.extend(items[index:])
                break
            if isinstance(item, Query):
                try:
                    value = item.run(self.hall)
                except Exception as exc:  # handed back to the reader, who raises it
                    value = exc
                # a device report (a lock board's doors) changes what a state says, nothing stored
                batch.changes.merge(self.hall.drain_changes())
                # answered after the commit: a read must not show what the disk may yet refuse
                reads.append((item, value))
                continue
            rid = item.request_id
            if rid is not None and (rid in self._replies or rid in in_batch):
                # a retry: the first answer again, and nothing changes
                answered.append((item, self._replies.get(rid) or in_batch[rid]))
                continue
            now = max(now, self.clock())
            reply = self._execute(item, now)
            if self._crashed:
                self.hall.drain_changes()
            else:
                batch.changes.merge(self.hall.drain_changes())
            if rid is not None:
                in_batch[rid] = reply
                batch.requests.append(
                    RequestRecord(rid, item.topic or item.name, orjson.dumps(reply).decode(), now)
                )
            fresh.append(item)
            answered.append((item, reply))
        try:
            if batch.requests or not batch.changes.empty():
                self.store.commit(batch)
        except Exception as exc:
            log.error("event=commit_failed error=%s", type(exc).__name__)
            self._recover(answered, fresh)
            for query, _ in reads:
                query.respond(StorageUnavailable("the hall's database did not accept the last changes"))
            self._batch_done()
            return
        for rid, reply in in_batch.items():
            self._remember(rid, reply)
        if self._crashed:
            self.hall = self._load()
            self._refresh_all_states()
        for item, reply in answered:
            try:
                item.respond(reply)
            except Exception:
                log.exception("event=respond_failed command=%s", item.name)
        for query, value in reads:
            query.respond(value)
        self._publish(batch.changes, now)
        self._command_devices(batch.changes.device_commands)
        self._batch_done()
        if self.on_batch is not None:
            self.on_batch(len(items), time.perf_counter() - started)

    def _execute(self, item: Request, now: datetime) -> dict[str, Any]:
        try:
            spec = commands.COMMANDS.get(item.name)
            if spec is not None and spec.window and item.window is None:
                raise e.UnknownWindow("the command needs a window")
            if spec is not None and spec.locker and item.locker is None:
                raise e.DomainError("the command needs a locker", code="unknown_locker")
            args = commands.parse_args(item.name, item.args)
            ctx = commands.Context(
                now=now,
                window=item.window,
                new_token=self.token,
                public_url=self.public_url,
                locker=item.locker,
                new_code=_pickup_code,
            )
            return ok(item.request_id, commands.run(self.hall, item.name, args, ctx))
        except e.DomainError as exc:
            return fail(item.request_id, exc.code, exc.message)
        except Exception:
            log.exception("event=command_crashed command=%s", item.name)
            self._crashed = True
            return fail(
                item.request_id, "internal_error", "the server failed on this command; nothing was changed"
            )

    def _recover(self, answered: list[tuple[Request, dict[str, Any]]], fresh: list[Request]) -> None:
        """A failed commit: memory is ahead of the disk, so rebuild it and tell every client."""
        self.healthy = False
        fresh_ids = {id(r) for r in fresh}
        for item, reply in answered:
            if id(item) in fresh_ids:
                # not remembered: the client's retry must run the command for real
                reply = fail(
                    item.request_id,
                    "storage_error",
                    "the hall's database did not accept the change; nothing was changed, please retry",
                )
            item.respond(reply)
        try:
            self.hall = self._load()
            self.healthy = True
            self._refresh_all_states()
        except Exception:
            log.exception("event=reload_failed")

    def _batch_done(self) -> None:
        for publisher in self.publishers:
            done = getattr(publisher, "batch_done", None)
            if done is not None:
                try:
                    done()
                except Exception:
                    log.exception("event=batch_done_failed publisher=%s", type(publisher).__name__)

    def _event_id(self) -> str:
        """Unique across restarts: a random prefix per process start, then a counter."""
        self._events_published += 1
        return f"{self._boot}-{self._events_published}"

    def _remember(self, rid: str, reply: dict[str, Any]) -> None:
        self._replies[rid] = reply
        if len(self._replies) > REMEMBERED_REPLIES:
            self._replies.popitem(last=False)

    # ----------------------------------------------------------------- state

    def _refresh_all_states(self) -> None:
        changes = Changes(queues=set(self.hall.services), calls_changed=True)
        changes.windows = dict(self.hall.windows)
        changes.lockers = set(self.hall.lockers.lockers)
        self.states.clear()
        self._publish(changes, self.clock(), force=True)
        self._batch_done()

    def _publish(self, changes: Changes, now: datetime, force: bool = False) -> None:
        """Publish events now, window states now, and the hall-wide summaries soon.

        Queue states and the recent-calls list change with almost every command; under a
        heavy load they are recomputed and republished at most every SUMMARY_INTERVAL_S
        (the first change after a quiet spell still goes out at once), which a display
        cannot tell apart and which spares the broker most of the traffic.
        """
        states: dict[str, dict[str, object]] = {}
        for window_id in changes.windows:
            states[f"state/window/{window_id}"] = self.hall.window_state(window_id)
        for locker_id in changes.lockers:
            states[f"state/locker/{locker_id}"] = self.hall.locker_state(locker_id)
        self._dirty_queues.update(s for s in changes.queues if s in self.hall.services)
        self._calls_dirty = self._calls_dirty or changes.calls_changed
        if force or time.monotonic() - self._summaries_at >= SUMMARY_INTERVAL_S:
            states.update(self._summaries(now))
        changed = {k: v for k, v in states.items() if force or self.states.get(k) != v}
        self._send(changes.events, changed)

    def _summaries(self, now: datetime) -> dict[str, dict[str, object]]:
        states: dict[str, dict[str, object]] = {}
        for service in self._dirty_queues:
            states[f"state/queue/{service}"] = self.hall.queue_state(service, now)
        if self._calls_dirty:
            states["state/calls"] = self.hall.calls_state()
        self._dirty_queues.clear()
        self._calls_dirty = False
        self._summaries_at = time.monotonic()
        return states

    def _flush_summaries(self) -> None:
        """Send the summaries held back by the rate limit, once their interval has passed."""
        if (
            self._dirty_queues or self._calls_dirty
        ) and time.monotonic() - self._summaries_at >= SUMMARY_INTERVAL_S:
            states = self._summaries(self.clock())
            self._send([], {k: v for k, v in states.items() if self.states.get(k) != v})
            self._batch_done()

    def _command_devices(self, device_commands: list[tuple[str, dict[str, object]]]) -> None:
        """Doors to open and SMS to send, once the change asking for them is durable; only to
        the publishers that reach devices (MQTT), never to the live views: an SMS command
        carries a phone number and a pickup code."""
        if not device_commands:
            return
        for publisher in self.publishers:
            send = getattr(publisher, "command_devices", None)
            if send is None:
                continue
            try:
                send(device_commands)
            except Exception:
                log.exception("event=device_command_failed publisher=%s", type(publisher).__name__)

    def _send(
        self, raw_events: list[tuple[str, dict[str, object]]], changed: dict[str, dict[str, object]]
    ) -> None:
        self.states.update(changed)
        if not changed and not raw_events:
            return
        # one id per event, whichever door (MQTT, HTTP live stream) it leaves by
        events = [(kind, {"event_id": self._event_id(), **payload}) for kind, payload in raw_events]
        for publisher in self.publishers:
            try:
                publisher.publish_changes(events, changed)
            except Exception:
                log.exception("event=publish_failed publisher=%s", type(publisher).__name__)


def _pickup_code() -> str:
    """Six random digits (the `secrets` generator: a pickup code opens a door)."""
    return f"{secrets.randbelow(10**6):06d}"


class _TokenPool:
    """Unguessable ticket tokens (the key of a citizen's status page), 16 URL-safe characters.

    Drawn from one large read of the OS's random source rather than a system call per ticket.
    """

    def __init__(self) -> None:
        self._pool = b""

    def take(self) -> str:
        if len(self._pool) < 12:
            self._pool = secrets.token_bytes(12 * 256)
        chunk, self._pool = self._pool[:12], self._pool[12:]
        return base64.urlsafe_b64encode(chunk).decode()


def prune_horizon(now: datetime) -> datetime:
    """Answers to requests are kept a week: long past any client's retry."""
    return now - timedelta(days=7)
