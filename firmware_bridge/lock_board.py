"""The host of one RS-485 line of Kerong KR-CU16 lock boards: door sensors in, unlocks out.

One thread per line (a serial device path or a `socket://host:port` URL, opened with pyserial
as any serial port). It reads every board's status every `poll_s` and reports each change of
a door sensor; `open(device, door)` queues an unlock, which goes out before the next poll, is
sent again (up to `attempts` in all) while the board stays silent, and counts as done only
when a later status shows that door open. A board that misses `offline_after` polls in a row
is offline until it answers again; a port that vanishes is reopened every second
(`firmware_bridge.serial_port`).

Doors are the locker's numbers: door N is lock N-1 on the device's board (`address` 0-15).
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

from firmware_bridge.codecs import kerong
from firmware_bridge.codecs.kerong import Frame, FrameParser, KerongError
from firmware_bridge.codecs.ycbus import KeyEvent
from firmware_bridge.serial_port import PORT_ERRORS, REOPEN_S, ManagedPort
from yichuang.config_model import DeviceConfig

__all__ = ["DoorsHandler", "KerongLine", "UnlockFailedHandler"]

log = logging.getLogger(__name__)

DoorsHandler = Callable[[DeviceConfig, dict[int, bool]], None]
"""`(board, {door: open})` for all 16 channels, on every change and after each (re)connect."""
UnlockFailedHandler = Callable[[DeviceConfig, int, str], None]
"""`(board, door, why)`: `no_reply` (the board never answered) or `not_open` (the door stayed shut)."""


@dataclass
class _Board:
    config: DeviceConfig
    address: int
    online: bool | None = None  # None: not heard from yet
    misses: int = 0
    doors: dict[int, bool] | None = None  # as last reported
    next_poll: float = 0.0
    # lock -> when the door must read open by, for unlocks not yet confirmed
    confirming: dict[int, float] = field(default_factory=dict)


@dataclass
class LineStats:
    frames_ok: int = 0
    timeouts: int = 0
    retransmits: int = 0
    port_errors: int = 0
    unlocks: int = 0
    unlock_failures: int = 0


class KerongLine:
    """Host of one line of lock boards; `LineDriver` shape. Callbacks run on the line's thread
    and must not block."""

    def __init__(
        self,
        url: str,
        devices: list[DeviceConfig],
        on_press: Callable[[DeviceConfig, KeyEvent], None],
        on_online: Callable[[DeviceConfig, bool], None],
        *,
        reply_timeout_s: float = kerong.REPLY_TIMEOUT_S,
        poll_s: float = kerong.POLL_INTERVAL_S,
        attempts: int = kerong.UNLOCK_ATTEMPTS,
        offline_after: int = 3,
        confirm_s: float = kerong.OPEN_CONFIRM_S,
        on_doors: DoorsHandler | None = None,
        on_unlock_failed: UnlockFailedHandler | None = None,
    ) -> None:
        del on_press  # lock boards have no keys
        self.url = url
        self.boards: dict[int, _Board] = {}
        for device in devices:
            address = device.address if device.address is not None else -1
            try:
                kerong.address(address)
            except KerongError as exc:
                log.error("event=lock_board_not_driven device=%s error=%s", device.id, exc)
                continue
            self.boards[address] = _Board(device, address)
        self.by_id = {b.config.id: b for b in self.boards.values()}
        self.on_online = on_online
        self.on_doors = on_doors
        self.on_unlock_failed = on_unlock_failed
        # The bridge's reply timeout is sized for YC-BUS at 115200 baud; a board at 19200 that
        # pulses a solenoid first gets at least what its own protocol allows.
        self.reply_timeout_s = max(reply_timeout_s, kerong.REPLY_TIMEOUT_S)
        self.poll_s = poll_s
        self.attempts = max(1, attempts)
        self.offline_after = offline_after
        self.confirm_s = confirm_s
        self.stats = LineStats()
        self.parser = FrameParser()
        self._unlocks: deque[tuple[_Board, int]] = deque()
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._port = ManagedPort(
            url,
            baudrate=kerong.BAUDRATE,
            timeout=0.002,
            stats=self.stats,
            on_open=self.parser.reset,
            on_lost=self._all_offline,
            logger=log,
        )
        self._thread: threading.Thread | None = None

    # ----------------------------------------------------------------- outputs (any thread)

    def open(self, device_id: str, door: int) -> bool:
        """Queue an unlock of `door` (1-16) on that board; False if there is no such board or door."""
        board = self.by_id.get(device_id)
        if board is None:
            return False
        try:
            lock = kerong.lock_of_door(door)
        except KerongError:
            return False
        with self._lock:
            self._unlocks.append((board, lock))
        self._wake.set()
        return True

    def set_display(self, device_id: str, line: int, text: str) -> None:
        """A lock board has no display."""

    def set_lamps(self, device_id: str, lit: bool) -> None:
        """A lock board has no lamps."""

    # ----------------------------------------------------------------- lifecycle

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name=f"locks {self.url}", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(5)
        self._port.close()

    def _run(self) -> None:
        while not self._stop.is_set():
            if not self._port.ensure_open():
                self._fail_queued("no_reply")  # nobody can carry an unlock out now
                self._check_confirmations()
                self._stop.wait(REOPEN_S)
                continue
            try:
                self._send_unlocks()
                now = time.monotonic()
                for board in self.boards.values():
                    if now >= board.next_poll:
                        board.next_poll = now + self.poll_s
                        self._poll(board)
                self._check_confirmations()
                self._sleep()
            except PORT_ERRORS as exc:
                self._port.lost(exc)

    def _all_offline(self) -> None:
        for board in self.boards.values():
            self._mark(board, False)

    def _sleep(self) -> None:
        """Until the next poll or confirmation deadline is due, or an unlock is queued."""
        due = [b.next_poll for b in self.boards.values()]
        due += [t for b in self.boards.values() for t in b.confirming.values()]
        rest = min(due, default=time.monotonic() + self.poll_s) - time.monotonic()
        if rest > 0:
            self._wake.wait(rest)
        self._wake.clear()

    # ----------------------------------------------------------------- exchanges

    def _send_unlocks(self) -> None:
        while True:
            with self._lock:
                if not self._unlocks:
                    return
                board, lock = self._unlocks.popleft()
            self.stats.unlocks += 1
            request = kerong.unlock(board.address, lock)
            for attempt in range(self.attempts):
                if attempt:
                    self.stats.retransmits += 1
                reply = self._exchange(request, board)
                if reply is not None:
                    log.info(
                        "event=unlock_sent device=%s door=%d attempts=%d",
                        board.config.id,
                        lock + 1,
                        attempt + 1,
                    )
                    # the door springs open once the pulse ends: later polls confirm it
                    board.confirming[lock] = time.monotonic() + self.confirm_s
                    self._status(board, reply)
                    break
            else:
                self._failed(board, lock, "no_reply")

    def _poll(self, board: _Board) -> None:
        reply = self._exchange(kerong.read_status(board.address), board)
        if reply is not None:
            self._status(board, reply)

    def _exchange(self, request: Frame, board: _Board) -> Frame | None:
        """Send one frame and wait for that board's STATUS; a silence counts as a miss."""
        self._port.serial.write(request.encode())
        # a board echoes the lock nibble of the command: match on the board alone
        reply = self._port.await_frame(
            self.parser,
            self.reply_timeout_s,
            lambda frame: frame.command == kerong.Command.STATUS and frame.board == board.address,
        )
        if reply is not None:
            self.stats.frames_ok += 1
            board.misses = 0
            self._mark(board, True)
            return reply
        self.stats.timeouts += 1
        board.misses += 1
        if board.misses >= self.offline_after:
            self._mark(board, False)
        return None

    def _status(self, board: _Board, reply: Frame) -> None:
        try:
            status = kerong.decode_status(reply)
        except KerongError as exc:
            log.warning("event=bad_status device=%s error=%s", board.config.id, exc)
            return
        doors = {kerong.door_of_lock(lock): status.is_open(lock) for lock in range(kerong.LOCKS)}
        for lock in [lock for lock in board.confirming if status.is_open(lock)]:
            del board.confirming[lock]
            log.info("event=door_opened device=%s door=%d", board.config.id, lock + 1)
        if doors != board.doors:
            board.doors = doors
            if self.on_doors is not None:
                try:
                    self.on_doors(board.config, dict(doors))
                except Exception:
                    log.exception("event=doors_handler_failed device=%s", board.config.id)

    def _check_confirmations(self) -> None:
        now = time.monotonic()
        for board in self.boards.values():
            for lock, deadline in list(board.confirming.items()):
                if now >= deadline:
                    del board.confirming[lock]
                    # it answered the unlock; if it went silent since, the door is unknown, not shut
                    self._failed(board, lock, "not_open" if board.online else "no_reply")

    def _fail_queued(self, reason: str) -> None:
        while True:
            with self._lock:
                if not self._unlocks:
                    return
                board, lock = self._unlocks.popleft()
            self.stats.unlocks += 1
            self._failed(board, lock, reason)

    def _failed(self, board: _Board, lock: int, reason: str) -> None:
        self.stats.unlock_failures += 1
        log.warning("event=unlock_failed device=%s door=%d reason=%s", board.config.id, lock + 1, reason)
        if self.on_unlock_failed is not None:
            try:
                self.on_unlock_failed(board.config, lock + 1, reason)
            except Exception:
                log.exception("event=unlock_failed_handler_failed device=%s", board.config.id)

    def _mark(self, board: _Board, online: bool) -> None:
        if board.online == online:
            return
        if online:
            board.doors = None  # report the doors again in full: they may have changed meanwhile
        board.online = online
        log.info("event=device_%s device=%s", "online" if online else "offline", board.config.id)
        try:
            self.on_online(board.config, online)
        except Exception:
            log.exception("event=online_handler_failed device=%s", board.config.id)

    def counters(self) -> dict[str, int]:
        """For the bridge's telemetry (the keys every line driver has, and the locks' own)."""
        return {
            "frames_ok": self.stats.frames_ok,
            "crc_errors": self.parser.checksum_errors,
            "timeouts": self.stats.timeouts,
            "retransmits": self.stats.retransmits,
            "duplicate_presses": 0,
            "bad_events": 0,
            "port_errors": self.stats.port_errors,
            "unlocks": self.stats.unlocks,
            "unlock_failures": self.stats.unlock_failures,
        }
