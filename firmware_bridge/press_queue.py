"""Store-and-forward of key presses: a press is never lost and never doubled.

A clerk's key press is the one thing in the hall that cannot be asked for again: the
clerk pressed CALL_NEXT and turned to the citizen. So every accepted press is written to a
small SQLite file under the bridge's state directory *before* `put()` returns (the serial
driver acknowledges the device frame only then), with a request id
`{bridge}-{device}-{counter}` whose counter is persisted in the same transaction.

A sender thread sends the pending presses in order through `CommandClient`, with the same
request id on every retry, until a reply arrives: the server answers a repeated id with
its first answer and changes nothing (CONTRACT §3.2), so retries after a lost command, a
lost reply, a broker restart or a bridge restart are safe. A reply is final, except the
error codes in `RETRYABLE_ERRORS`, which mean "nothing changed, try again".

A press older than `max_age_s` is no longer what the clerk meant (a CALL_NEXT from two
minutes ago calls a citizen the clerk is not waiting for): it is dropped, and an `alarm`
event `{"kind": "press_dropped", …}` is stored with it and published to
`yc/{hall}/event/alarm` once the broker is reachable, so no press disappears silently.
"""

from __future__ import annotations

import fcntl
import json
import logging
import sqlite3
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, tzinfo
from pathlib import Path
from typing import Any

from yichuang.rpc import CommandClient

__all__ = [
    "RETRYABLE_ERRORS",
    "PendingPress",
    "Press",
    "PressQueue",
    "PressQueueLocked",
    "PressStats",
    "PressStore",
]

log = logging.getLogger(__name__)

ALARM_CHECK_S = 1.0  # how often stored alarms are looked for while connected
RETRYABLE_ERRORS = frozenset({"storage_error", "timeout"})
"""Error codes after which the server changed nothing and asks for a retry (docs/mqtt.md)."""

DEFAULT_MAX_AGE_S = 120.0
DB_NAME = "presses.sqlite3"
LOCK_NAME = "presses.lock"

ResultHandler = Callable[["PendingPress", "dict[str, Any] | None"], None]


class PressQueueLocked(RuntimeError):
    """Another bridge process holds this state directory; two senders would double presses."""


@dataclass(frozen=True)
class Press:
    """One key press, already mapped to its contract command (`firmware_bridge.key_commands`).

    The command is fixed when the key is pressed, not when it is sent: PAUSE_RESUME means
    what the window's state said at the press, not what it says after an outage.
    `pressed_at` is wall-clock epoch seconds (None: now); wall clock because it must mean
    the same thing after a bridge restart.
    """

    device: str
    key: int
    arg: int
    path: str
    args: dict[str, Any] = field(default_factory=dict)
    window: str | None = None
    pressed_at: float | None = None


@dataclass(frozen=True)
class PendingPress:
    """An accepted press: its place in the queue, its request id and how often it was sent."""

    seq: int
    request_id: str
    press: Press
    attempts: int = 0


@dataclass(frozen=True)
class PressStats:
    """Counters since this queue started (`queued`: presses waiting now), for telemetry."""

    queued: int
    sent: int
    rejected: int
    retried: int
    dropped: int


_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS press (
    seq INTEGER PRIMARY KEY,
    request_id TEXT NOT NULL UNIQUE,
    device TEXT NOT NULL,
    window TEXT,
    key INTEGER NOT NULL,
    arg INTEGER NOT NULL,
    path TEXT NOT NULL,
    args TEXT NOT NULL,
    pressed_at REAL NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS alarm (event_id TEXT PRIMARY KEY, payload TEXT NOT NULL);
"""


_SELECT_PRESS = (
    "SELECT seq, request_id, device, window, key, arg, path, args, pressed_at, attempts FROM press"
)


def _pending_from_row(row: tuple[Any, ...]) -> PendingPress:
    seq, request_id, device, window, key, arg, path, args, pressed_at, attempts = row
    return PendingPress(
        seq, request_id, Press(device, key, arg, path, json.loads(args), window, pressed_at), attempts
    )


class PressStore:
    """The persistent part: pending presses, the id counter and unpublished alarms.

    SQLite with `synchronous=FULL`: a bridge is a Raspberry Pi whose power is cut at
    closing time, and a press acknowledged to the device must survive that. Holds an
    exclusive lock on the state directory for as long as it is open.
    """

    def __init__(self, state_dir: Path, bridge: str, clock: Callable[[], float] = time.time) -> None:
        self.bridge = bridge
        self._lock = threading.Lock()
        state_dir.mkdir(parents=True, exist_ok=True)
        self._lock_file = (state_dir / LOCK_NAME).open("a+")
        try:
            fcntl.flock(self._lock_file, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            self._lock_file.close()
            raise PressQueueLocked(f"{state_dir} is in use by another bridge process") from None
        self._db = sqlite3.connect(state_dir / DB_NAME, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.executescript(_SCHEMA)
        with self._lock:
            row = self._db.execute("SELECT value FROM meta WHERE name = 'counter'").fetchone()
            if row is None:
                # A fresh (or wiped) state dir must not reuse ids the server still remembers
                # (answers are kept 7 days): start from the clock in ms, then count up.
                self._db.execute("INSERT INTO meta VALUES ('counter', ?)", (int(clock() * 1000),))

    def add(self, press: Press) -> PendingPress:
        """Persist `press` with the next request id; durable when this returns."""
        assert press.pressed_at is not None
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                self._db.execute("UPDATE meta SET value = value + 1 WHERE name = 'counter'")
                (seq,) = self._db.execute("SELECT value FROM meta WHERE name = 'counter'").fetchone()
                request_id = f"{self.bridge}-{press.device}-{seq}"
                self._db.execute(
                    "INSERT INTO press (seq, request_id, device, window, key, arg, path, args, pressed_at)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        seq,
                        request_id,
                        press.device,
                        press.window,
                        press.key,
                        press.arg,
                        press.path,
                        json.dumps(press.args, ensure_ascii=False),
                        press.pressed_at,
                    ),
                )
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
        return PendingPress(seq, request_id, press)

    def head(self) -> PendingPress | None:
        """The oldest pending press."""
        with self._lock:
            row = self._db.execute(_SELECT_PRESS + " ORDER BY seq LIMIT 1").fetchone()
        return _pending_from_row(row) if row is not None else None

    def pending(self) -> list[PendingPress]:
        """All pending presses, oldest first (for diagnostics and tests)."""
        with self._lock:
            rows = self._db.execute(_SELECT_PRESS + " ORDER BY seq").fetchall()
        return [_pending_from_row(row) for row in rows]

    def count(self) -> int:
        """How many presses are pending."""
        with self._lock:
            return int(self._db.execute("SELECT COUNT(*) FROM press").fetchone()[0])

    def mark_attempt(self, seq: int) -> None:
        """Record that the press is about to be sent (an alarm then says it may have been applied)."""
        with self._lock:
            self._db.execute("UPDATE press SET attempts = attempts + 1 WHERE seq = ?", (seq,))

    def remove(self, seq: int) -> None:
        """Forget a press that got its final answer."""
        with self._lock:
            self._db.execute("DELETE FROM press WHERE seq = ?", (seq,))

    def drop(self, seq: int, alarm: dict[str, Any]) -> None:
        """Replace a press by its alarm in one transaction: it is never both, never neither."""
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                self._db.execute("DELETE FROM press WHERE seq = ?", (seq,))
                self._db.execute(
                    "INSERT OR REPLACE INTO alarm VALUES (?, ?)",
                    (alarm["event_id"], json.dumps(alarm, ensure_ascii=False)),
                )
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise

    def alarms(self) -> list[dict[str, Any]]:
        """Alarms not yet acknowledged by the broker, oldest first."""
        with self._lock:
            rows = self._db.execute("SELECT payload FROM alarm ORDER BY rowid").fetchall()
        return [json.loads(r[0]) for r in rows]

    def remove_alarm(self, event_id: str) -> None:
        """Forget an alarm the broker has acknowledged."""
        with self._lock:
            self._db.execute("DELETE FROM alarm WHERE event_id = ?", (event_id,))

    def close(self) -> None:
        """Close the database and release the state directory (idempotent)."""
        with self._lock:
            if self._lock_file.closed:
                return
            self._db.close()
            fcntl.flock(self._lock_file, fcntl.LOCK_UN)
            self._lock_file.close()


class PressQueue:
    """Accepts presses (`put`) and delivers each exactly once, in order, from a sender thread.

    `rpc` is the bridge's command client (its `reply_to` is `yc/{hall}/reply/{bridge}`); its
    MQTT client also carries the alarms. `clock` is wall-clock epoch seconds, `tz` the
    hall's timezone for the `at` of alarms. `on_result(pending, reply)` is called in the
    sender thread with the final reply, or with None when the press was dropped.
    """

    def __init__(
        self,
        rpc: CommandClient,
        *,
        hall: str,
        bridge: str,
        state_dir: Path,
        max_age_s: float = DEFAULT_MAX_AGE_S,
        reply_timeout_s: float = 5.0,
        retry_delay_s: float = 1.0,
        clock: Callable[[], float] = time.time,
        tz: tzinfo = UTC,
        on_result: ResultHandler | None = None,
    ) -> None:
        self.rpc = rpc
        self.client = rpc.client
        self.hall = hall
        self.bridge = bridge
        self.max_age_s = max_age_s
        self.reply_timeout_s = reply_timeout_s
        self.retry_delay_s = retry_delay_s
        self.clock = clock
        self.tz = tz
        self.on_result = on_result
        self.alarm_topic = f"yc/{hall}/event/alarm"
        self.store = PressStore(state_dir, bridge, clock)
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._idle = threading.Condition()
        self._thread: threading.Thread | None = None
        # seq -> (lane: the window or device, sent at, reply future) of presses awaiting an answer
        self._inflight: dict[int, tuple[str, float, Future[dict[str, Any]]]] = {}
        self._alarms_checked = 0.0
        self._sent = self._rejected = self._retried = self._dropped = 0
        # How often the sender re-checks the connection and the head's age while it waits.
        self._poll_s = 0.05

    # -- public API -----------------------------------------------------------------

    def put(self, press: Press) -> PendingPress:
        """Accept a press: persisted with its request id when this returns; sent soon after."""
        if press.pressed_at is None:
            press = replace(press, pressed_at=self.clock())
        pending = self.store.add(press)
        log.info(
            "event=press_queued request_id=%s device=%s key=0x%02x arg=%d command=%s",
            pending.request_id,
            press.device,
            press.key,
            press.arg,
            press.path,
        )
        self._wake.set()
        return pending

    def start(self) -> None:
        """Start the sender thread (presses left from a previous run are sent first)."""
        if self._thread is not None:
            return
        self._stop.clear()
        left = self.store.count()
        if left:
            log.info("event=press_queue_resumed bridge=%s pending=%d", self.bridge, left)
        self._thread = threading.Thread(target=self._run, name=f"press-queue-{self.bridge}", daemon=True)
        self._thread.start()

    def stop(self, timeout: float | None = None) -> None:
        """Stop sending and close the store; what is still pending stays for the next start.

        Waits for an attempt in flight (up to `reply_timeout_s`): its answer, if it comes,
        is recorded; if not, the press is sent again with the same id after the restart.
        """
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(self.reply_timeout_s + 2.0 if timeout is None else timeout)
            if self._thread.is_alive():
                log.warning("event=press_queue_stop_timeout bridge=%s", self.bridge)
            self._thread = None
        self.store.close()

    def stats(self) -> PressStats:
        """A snapshot of the counters, for the bridge's telemetry."""
        return PressStats(self.store.count(), self._sent, self._rejected, self._retried, self._dropped)

    def wait_idle(self, timeout: float) -> bool:
        """Wait until no press and no alarm is pending; False on timeout."""
        deadline = time.monotonic() + timeout
        with self._idle:
            while self.store.count() or self.store.alarms():
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._idle.wait(min(remaining, 0.1))
        return True

    # -- sender thread --------------------------------------------------------------

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self._step()
            except Exception:
                # A bug or a full disk must not end delivery for good; the press stays stored.
                log.exception("event=press_queue_error bridge=%s", self.bridge)
                self._stop.wait(self.retry_delay_s)

    def _step(self) -> None:
        """One pass: drop what is too old, send what may go, collect the answers that came.

        Presses of different windows are in flight together (one clerk's press must not wait
        for another window's reply); presses of one window go one at a time, in order, so
        call_next, start and finish reach the server as they were pressed.
        """
        if self.client.connected and time.monotonic() >= self._alarms_checked + ALARM_CHECK_S:
            self._alarms_checked = time.monotonic()
            self._publish_alarms()
        self._collect()
        pending = self.store.pending()
        if not pending and not self._inflight:
            self._wake.wait(self._poll_s * 4)
            self._wake.clear()
            return
        busy: set[str] = {lane for lane, _, _ in self._inflight.values()}
        for press in pending:
            lane = press.press.window or press.press.device
            if press.seq in self._inflight:
                continue
            if lane in busy:
                busy.add(lane)
                continue
            busy.add(lane)
            if self._too_old(press):
                self._drop(press)
                continue
            if self.client.connected:
                self.store.mark_attempt(press.seq)
                future = self.rpc.send(press.press.path, dict(press.press.args), press.request_id)
                future.add_done_callback(lambda _f: self._wake.set())  # an answer: collect it at once
                self._inflight[press.seq] = (lane, time.monotonic(), future)
        if self._inflight:
            first_deadline = min(sent for _, sent, _ in self._inflight.values()) + self.reply_timeout_s
            self._wake.wait(max(0.0, min(first_deadline - time.monotonic(), self._poll_s)))
            self._wake.clear()
        elif not self.client.connected:
            # sending now would only pile copies up in paho's queue; wait for the broker
            self._stop.wait(self._poll_s)

    def _collect(self) -> None:
        """Handle the answers that arrived; an attempt unanswered in time is sent again later."""
        now = time.monotonic()
        stored: dict[int, PendingPress] | None = None
        for seq, (_lane, sent_at, future) in list(self._inflight.items()):
            if future.done():
                del self._inflight[seq]
                if stored is None:
                    stored = {p.seq: p for p in self.store.pending()}
                pending = stored.get(seq)
                if pending is not None:
                    self._answered(pending, future.result())
            elif now - sent_at > self.reply_timeout_s:
                del self._inflight[seq]
                self._retried += 1
                log.info("event=press_retry seq=%d reason=no_reply", seq)

    def _too_old(self, pending: PendingPress) -> bool:
        assert pending.press.pressed_at is not None
        return self.clock() - pending.press.pressed_at > self.max_age_s

    def _answered(self, pending: PendingPress, reply: dict[str, Any]) -> None:
        press = pending.press
        error = reply.get("error")
        code = str(error.get("code", "")) if isinstance(error, dict) else ""
        if reply.get("ok") is not True and code in RETRYABLE_ERRORS:
            self._retried += 1
            log.warning(
                "event=press_retry request_id=%s attempt=%d reason=%s",
                pending.request_id,
                pending.attempts,
                code,
            )
            self._stop.wait(self.retry_delay_s)
            return
        # under the idle lock: wait_idle must not see the press gone before its answer is told
        with self._idle:
            self.store.remove(pending.seq)
            if reply.get("ok") is True:
                self._sent += 1
                log.info("event=press_delivered request_id=%s command=%s", pending.request_id, press.path)
            else:
                # Final: the server refused (queue_empty, no_ticket, window_paused …); sending
                # again would get the same answer. The device learns it through on_result.
                self._rejected += 1
                log.warning(
                    "event=press_refused request_id=%s command=%s code=%s",
                    pending.request_id,
                    press.path,
                    code,
                )
            self._notify(pending, reply)

    def _drop(self, pending: PendingPress) -> None:
        press = pending.press
        assert press.pressed_at is not None
        now = self.clock()
        alarm: dict[str, Any] = {
            # Derived from the request id: a republished alarm (after a restart) keeps its id.
            "event_id": f"{pending.request_id}-dropped",
            "at": self._iso(now),
            "device": press.device,
            "bridge": self.bridge,
            "kind": "press_dropped",
            "key": press.key,
            "arg": press.arg,
            "command": press.path,
            "request_id": pending.request_id,
            "pressed_at": self._iso(press.pressed_at),
            "age_s": round(now - press.pressed_at, 1),
            "attempts": pending.attempts,
            # Sent at least once: the server may have applied it and only the reply was lost.
            "maybe_applied": pending.attempts > 0,
        }
        if press.window is not None:
            alarm["window"] = press.window
        self.store.drop(pending.seq, alarm)
        self._alarms_checked = 0.0  # publish it at once
        self._dropped += 1
        log.warning(
            "event=press_dropped request_id=%s device=%s command=%s age_s=%.1f attempts=%d",
            pending.request_id,
            press.device,
            press.path,
            now - press.pressed_at,
            pending.attempts,
        )
        self._notify(pending, None)

    def _publish_alarms(self) -> None:
        for alarm in self.store.alarms():
            self.client.publish(self.alarm_topic, alarm, qos=1)
            # Only an acknowledged alarm is forgotten; a lost one goes again with the same event_id.
            if not self.client.flush(self.reply_timeout_s):
                return
            self.store.remove_alarm(alarm["event_id"])
            log.info("event=alarm_published event_id=%s kind=%s", alarm["event_id"], alarm["kind"])
        self._notify_idle()

    def _notify(self, pending: PendingPress, reply: dict[str, Any] | None) -> None:
        self._notify_idle()
        if self.on_result is not None:
            try:
                self.on_result(pending, reply)
            except Exception:
                log.exception("event=press_result_handler_failed request_id=%s", pending.request_id)

    def _notify_idle(self) -> None:
        with self._idle:
            self._idle.notify_all()

    def _iso(self, epoch_s: float) -> str:
        return datetime.fromtimestamp(epoch_s, self.tz).isoformat(timespec="seconds")
