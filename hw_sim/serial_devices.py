"""Simulated YC-BUS v1 devices (callers, evaluation pads, LED panels) on a simulated RS-485 line.

A `SimBus` owns one port (a pty pair or a ``socket://`` listener, see `hw_sim.pty_port`) and
plays every device on that line: it parses the master's frames with the same codec the
bridge uses, hands each to the device with that address and writes the reply back, faults
included. Tests drive the devices through their control API (`press`, `lines`, `lamps`,
`unplug`, `garble_next`, ...) from any thread.
"""

from __future__ import annotations

import contextlib
import heapq
import itertools
import logging
import os
import queue
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from typing import ClassVar, Self, TypeVar

from firmware_bridge.codecs import ycbus
from firmware_bridge.codecs.ycbus import (
    BROADCAST,
    CodecError,
    DeviceInfo,
    Frame,
    FrameParser,
    FrameType,
    Key,
    KeyEvent,
    NakReason,
    ReplyCache,
)
from hw_sim.pty_port import PtyPort, SimPort, TcpPort

__all__ = ["SimBus", "SimCaller", "SimDevice", "SimEvalPad", "SimLedPanel"]

log = logging.getLogger(__name__)
T = TypeVar("T")


class _ReplyFaults:
    """Faults applied to outgoing replies; shared shape for a device and for a whole bus."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._garble = 0
        self._drop = 0
        self._delay = 0.0

    def garble_next(self, n: int = 1) -> None:
        with self._lock:
            self._garble += n

    def drop_replies(self, n: int = 1) -> None:
        with self._lock:
            self._drop += n

    def delay_replies(self, seconds: float) -> None:
        with self._lock:
            self._delay = max(0.0, seconds)

    def apply(self, data: bytes) -> tuple[bytes | None, float]:
        """The bytes to send (None = lost) and how long to hold them back."""
        with self._lock:
            if self._drop:
                self._drop -= 1
                return None, 0.0
            if self._garble:
                self._garble -= 1
                # One flipped byte inside addr..payload: CRC-16 catches every single-byte error.
                mid = 1 + (len(data) - 3) // 2
                data = data[:mid] + bytes((data[mid] ^ 0xFF,)) + data[mid + 1 :]
            return data, self._delay


class SimDevice:
    """A YC-BUS device: what it shows, its key-event queue, its faults. Thread-safe.

    Subclasses only declare capabilities; commands a model lacks are NAKed "unknown type".
    """

    model: ClassVar[str] = "YC-?? device"
    version: ClassVar[str] = "1.0.0"
    keys: ClassVar[frozenset[Key]] = frozenset()
    display_lines: ClassVar[int] = 0
    has_lamps: ClassVar[bool] = False
    has_buzzer: ClassVar[bool] = True
    QUEUE_SIZE: ClassVar[int] = 16

    def __init__(self, address: int) -> None:
        if not 1 <= address <= 247:
            raise ValueError(f"bus address {address} outside 1..247")
        self.address = address
        self._cond = threading.Condition()
        self._faults = _ReplyFaults()
        self._plugged = True
        self._received: list[Frame] = []
        self._applied: list[Frame] = []
        self._power_on()

    def _power_on(self) -> None:
        self._lines = [""] * self.display_lines
        self._lamps = False
        self._queue: deque[KeyEvent] = deque()
        self._next_no = 1
        self._beeps: list[int] = []
        self._cache = ReplyCache()

    # --- control API (tests, demo) ----------------------------------------------------------

    def press(self, key: Key | int, arg: int = 0) -> int | None:
        """Press a key; returns its event_no, or None when the 16-event queue is full (lost)."""
        k = Key(key)
        if k not in self.keys:
            raise ValueError(f"{self.model} has no key {k.name}")
        with self._cond:
            # Validate through the codec, so a press the bridge could not decode is refused here.
            ycbus.event(self.address, 0, self._next_no, k, arg)
            if len(self._queue) >= self.QUEUE_SIZE:
                return None
            ev = KeyEvent(self._next_no, k, arg)
            self._queue.append(ev)
            self._next_no = ycbus.next_event_no(self._next_no)
            self._cond.notify_all()
            return ev.event_no

    @property
    def lines(self) -> tuple[str, ...]:
        """What each display line shows now."""
        with self._cond:
            return tuple(self._lines)

    @property
    def text(self) -> str:
        """All display lines joined with newlines."""
        return "\n".join(self.lines)

    @property
    def lamps(self) -> bool:
        """Whether the keys are lit."""
        with self._cond:
            return self._lamps

    @property
    def beeps(self) -> tuple[int, ...]:
        """Every beep since power-on, in milliseconds."""
        with self._cond:
            return tuple(self._beeps)

    @property
    def pending(self) -> tuple[KeyEvent, ...]:
        """Key events not yet acknowledged by the master, oldest first."""
        with self._cond:
            return tuple(self._queue)

    @property
    def info(self) -> DeviceInfo:
        """What the device answers to GET_INFO."""
        return DeviceInfo(self.model, self.version)

    @property
    def received(self) -> tuple[Frame, ...]:
        """Every frame heard for this address or broadcast, retransmissions included."""
        with self._cond:
            return tuple(self._received)

    @property
    def applied(self) -> tuple[Frame, ...]:
        """Every command actually executed (not NAKed, not answered from the reply cache)."""
        with self._cond:
            return tuple(self._applied)

    @property
    def plugged(self) -> bool:
        """False after `unplug()`: the device hears and answers nothing."""
        with self._cond:
            return self._plugged

    def unplug(self) -> None:
        """Disconnect from the bus; state and queued presses are kept."""
        with self._cond:
            self._plugged = False

    def replug(self) -> None:
        """Reconnect to the bus."""
        with self._cond:
            self._plugged = True

    def reboot(self) -> None:
        """Power cycle: display blank, lamps dark, unacknowledged presses lost, event_no from 1."""
        with self._cond:
            self._power_on()
            self._cond.notify_all()

    def garble_next(self, n: int = 1) -> None:
        """Corrupt one byte in each of the next `n` replies."""
        self._faults.garble_next(n)

    def drop_replies(self, n: int = 1) -> None:
        """Apply the next `n` commands but lose their replies (a reply the master never hears)."""
        self._faults.drop_replies(n)

    def delay_replies(self, seconds: float) -> None:
        """Send every reply `seconds` late (0 to stop)."""
        self._faults.delay_replies(seconds)

    def wait_for(self, predicate: Callable[[Self], bool], timeout: float = 2.0) -> bool:
        """Block until `predicate(self)` holds (re-checked after every frame and press)."""
        with self._cond:
            return self._cond.wait_for(lambda: predicate(self), timeout)

    # --- the protocol -------------------------------------------------------------------------

    def handle(self, frame: Frame) -> Frame | None:
        """The device's answer to a frame for its address or broadcast (None: stay silent)."""
        with self._cond:
            if not self._plugged:
                return None
            self._received.append(frame)
            try:
                if frame.addr == BROADCAST:
                    self._execute(frame)
                    return None
                cached = self._cache.get(frame)
                if cached is not None:
                    return cached
                reply = self._execute(frame)
                self._cache.put(frame, reply)
                return reply
            finally:
                self._cond.notify_all()

    def _supported(self) -> set[int]:
        types: set[int] = {FrameType.POLL, FrameType.ACK_EVENT, FrameType.GET_INFO}
        if self.display_lines:
            types.add(FrameType.SET_DISPLAY)
        if self.has_lamps:
            types.add(FrameType.SET_LAMPS)
        if self.has_buzzer:
            types.add(FrameType.BEEP)
        return types

    def _execute(self, frame: Frame) -> Frame:
        addr, seq = self.address, frame.seq
        if frame.type not in self._supported():
            return ycbus.nak(addr, seq, NakReason.UNKNOWN_TYPE)
        try:
            reply = self._command(frame)
        except CodecError as exc:
            return ycbus.nak(addr, seq, exc.reason)
        self._applied.append(frame)
        return reply

    def _command(self, frame: Frame) -> Frame:
        addr, seq, kind = self.address, frame.seq, frame.type
        if kind in (FrameType.POLL, FrameType.GET_INFO) and frame.payload:
            raise CodecError(f"{FrameType(kind).name} takes no payload", NakReason.BAD_LENGTH)
        if kind == FrameType.POLL:
            if not self._queue:
                return ycbus.idle(addr, seq)
            ev = self._queue[0]
            return ycbus.event(addr, seq, ev.event_no, ev.key, ev.arg)
        if kind == FrameType.GET_INFO:
            return ycbus.info(addr, seq, self.model, self.version)
        if kind == FrameType.ACK_EVENT:
            # An ACK for anything but the head is stale (a retransmitted ACK): harmless.
            if self._queue and self._queue[0].event_no == ycbus.decode_ack_event(frame):
                self._queue.popleft()
        elif kind == FrameType.SET_DISPLAY:
            shown = ycbus.decode_display(frame)
            if shown.line >= self.display_lines:
                raise CodecError(f"no display line {shown.line}")
            self._lines[shown.line] = shown.text
        elif kind == FrameType.SET_LAMPS:
            self._lamps = ycbus.decode_lamps(frame)
        elif kind == FrameType.BEEP:
            self._beeps.append(ycbus.decode_beep(frame))
        return ycbus.ack(addr, seq)


class SimCaller(SimDevice):
    """Window caller keypad (叫号器): work keys and a two-line display (ticket, waiting count)."""

    model = "YC-K3 caller"
    keys = frozenset(k for k in Key if k is not Key.SCORE)
    display_lines = 2


class SimEvalPad(SimDevice):
    """Evaluation pad (评价器): five score keys that light up when a score is wanted."""

    model = "YC-E5 eval pad"
    keys = frozenset({Key.SCORE})
    has_lamps = True


class SimLedPanel(SimDevice):
    """LED panel above a window (窗口屏): two display lines, no keys, no buzzer."""

    model = "YC-P1 LED panel"
    display_lines = 2
    has_buzzer = False


class SimBus:
    """One RS-485 line with its devices, served from a background thread.

    Build it with `SimBus.pty(...)` or `SimBus.tcp(...)`, give `url` to the bridge, and
    `start()`/`stop()` it (or use it as a context manager).
    """

    # Longer than any pause inside one frame written by a master over a pty or loopback TCP;
    # after this much silence a partial frame is dead (no byte stuffing, see FrameParser.idle).
    IDLE_GAP_S: ClassVar[float] = 0.03

    def __init__(self, port: SimPort, devices: Iterable[SimDevice] = ()) -> None:
        self._port = port
        self._devices: dict[int, SimDevice] = {}
        self._faults = _ReplyFaults()
        self._parser = FrameParser()
        self._calls: queue.SimpleQueue[tuple[Callable[[], object], threading.Event, list[object]]]
        self._calls = queue.SimpleQueue()
        self._writes: list[tuple[float, int, bytes]] = []
        self._order = itertools.count()
        self._wake_r, self._wake_w = os.pipe()
        os.set_blocking(self._wake_r, False)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        for device in devices:
            self.add(device)

    @classmethod
    def pty(cls, *devices: SimDevice, link: str | os.PathLike[str] | None = None) -> SimBus:
        """A bus on a pty pair; the bridge opens `url` (the slave, or `link` when given)."""
        return cls(PtyPort(link), devices)

    @classmethod
    def tcp(cls, *devices: SimDevice, port: int = 0) -> SimBus:
        """A bus behind ``socket://127.0.0.1:PORT`` (`port=0` picks a free one)."""
        return cls(TcpPort(port), devices)

    @property
    def url(self) -> str:
        """What the bridge opens with pyserial (`serial_for_url`)."""
        return self._port.url

    @property
    def port(self) -> SimPort:
        """The transport (PtyPort or TcpPort)."""
        return self._port

    @property
    def devices(self) -> tuple[SimDevice, ...]:
        """The devices on this line."""
        return tuple(self._devices.values())

    def device(self, address: int) -> SimDevice:
        """The device at `address` (KeyError if none)."""
        return self._devices[address]

    def add(self, device: SimDevice) -> SimDevice:
        """Put a device on the line; addresses are unique per line, as on a real bus."""
        if device.address in self._devices:
            raise ValueError(f"address {device.address} already used on this bus")
        self._devices[device.address] = device
        return device

    @property
    def crc_errors(self) -> int:
        """Frames from the master that failed their CRC."""
        return self._parser.crc_errors

    @property
    def dropped_bytes(self) -> int:
        """Bytes from the master that were not part of a good frame."""
        return self._parser.dropped_bytes

    # --- lifecycle ------------------------------------------------------------------------

    def start(self) -> Self:
        """Serve the line in a daemon thread."""
        if self._thread is None:
            self._stop.clear()
            self._thread = threading.Thread(target=self._run, name=f"simbus {self.url}", daemon=True)
            self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and release the port."""
        if self._thread is not None:
            self._stop.set()
            self._wake()
            self._thread.join(timeout=5)
            self._thread = None
        self._port.close()
        for fd in (self._wake_r, self._wake_w):
            with contextlib.suppress(OSError):
                os.close(fd)
        self._wake_r = self._wake_w = -1

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # --- bus-level faults -------------------------------------------------------------------

    def inject_garbage(self, data: bytes) -> None:
        """Write raw bytes to the master, as noise or a foreign talker on the line would."""
        self._call(lambda: self._port.write(data))

    def unplug(self) -> None:
        """Make the port vanish (pty closed and its link removed, or TCP client and listener closed)."""
        self._call(self._port.unplug)

    def replug(self) -> None:
        """Bring the port back (a pty gets a new /dev/pts/N; the link follows it)."""

        def plug() -> None:
            self._port.replug()
            self._parser.reset()

        self._call(plug)

    def garble_next(self, n: int = 1) -> None:
        """Corrupt the next `n` replies, whichever device sends them."""
        self._faults.garble_next(n)

    def drop_replies(self, n: int = 1) -> None:
        """Lose the next `n` replies, whichever device sends them."""
        self._faults.drop_replies(n)

    def delay_replies(self, seconds: float) -> None:
        """Hold every reply on the line back by `seconds` (0 to stop)."""
        self._faults.delay_replies(seconds)

    # --- the loop ---------------------------------------------------------------------------

    def _wake(self) -> None:
        with contextlib.suppress(OSError):
            os.write(self._wake_w, b"!")

    def _call(self, fn: Callable[[], T]) -> T:
        """Run `fn` in the bus thread, which alone touches the port, and wait for it."""
        if self._thread is None or threading.current_thread() is self._thread:
            return fn()
        done = threading.Event()
        box: list[object] = []
        self._calls.put((fn, done, box))
        self._wake()
        if not done.wait(5):
            raise TimeoutError("SimBus thread did not answer")
        if box and isinstance(box[0], BaseException):
            raise box[0]
        return box[0] if box else None  # type: ignore[return-value]

    def _run_calls(self) -> None:
        with contextlib.suppress(BlockingIOError):
            while os.read(self._wake_r, 64):
                pass
        while True:
            try:
                fn, done, box = self._calls.get_nowait()
            except queue.Empty:
                return
            try:
                box.append(fn())
            except BaseException as exc:
                box.append(exc)
            done.set()

    def _run(self) -> None:
        last_rx = time.monotonic()
        while not self._stop.is_set():
            timeout = self.IDLE_GAP_S if self._parser.pending else 0.5
            if self._writes:
                timeout = min(timeout, max(0.0, self._writes[0][0] - time.monotonic()))
            try:
                data = self._port.read(timeout, self._wake_r)
            except OSError as exc:  # the port closed under us: let unplug/stop sort it out
                log.debug("simbus read failed err=%s", exc)
                data = b""
            self._run_calls()
            now = time.monotonic()
            if data:
                last_rx = now
                frames = self._parser.feed(data)
            elif self._parser.pending and now - last_rx >= self.IDLE_GAP_S:
                frames = self._parser.idle()
            else:
                frames = []
            for frame in frames:
                self._dispatch(frame)
            while self._writes and self._writes[0][0] <= time.monotonic():
                self._send(heapq.heappop(self._writes)[2])

    def _dispatch(self, frame: Frame) -> None:
        if frame.addr == BROADCAST:
            for listener in self.devices:
                listener.handle(frame)
            return
        device = self._devices.get(frame.addr)
        if device is None:
            return
        reply = device.handle(frame)
        if reply is None:
            return
        data, delay = device._faults.apply(reply.encode())
        if data is not None:
            data, bus_delay = self._faults.apply(data)
            delay += bus_delay
        if data is None:
            return
        if delay > 0:
            heapq.heappush(self._writes, (time.monotonic() + delay, next(self._order), data))
        else:
            self._send(data)

    def _send(self, data: bytes) -> None:
        try:
            self._port.write(data)
        except OSError as exc:
            log.debug("simbus write failed err=%s", exc)
