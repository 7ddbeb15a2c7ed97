"""Simulated YC-BUS v1 devices (callers, evaluation pads, LED panels) on a simulated RS-485 line.

A `SimBus` owns one port (a pty pair or a ``socket://`` listener, see `hw_sim.pty_port`) and
plays every device on that line: it parses the master's frames with the same codec the
bridge uses, hands each to the device with that address and writes the reply back, faults
included. Tests drive the devices through their control API (`press`, `lines`, `lamps`,
`unplug`, `garble_next`, ...) from any thread.
"""

from __future__ import annotations

import os
import threading
from collections import deque
from collections.abc import Callable, Iterable
from typing import ClassVar, Self

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
from hw_sim.sim_line import FramedSimLine, ReplyFaults

__all__ = ["SimBus", "SimCaller", "SimDevice", "SimEvalPad", "SimLedPanel"]


def _garble_at(data: bytes) -> int:
    """One flipped byte inside addr..payload: CRC-16 catches every single-byte error."""
    return 1 + (len(data) - 3) // 2


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
        self._faults = ReplyFaults(_garble_at)
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


class SimBus(FramedSimLine[Frame]):
    """One RS-485 line with its devices, served from a background thread.

    Build it with `SimBus.pty(...)` or `SimBus.tcp(...)`, give `url` to the bridge, and
    `start()`/`stop()` it (or use it as a context manager). The serving itself is
    `hw_sim.sim_line.FramedSimLine`'s.
    """

    NAME = "simbus"
    _parser: FrameParser

    def __init__(self, port: SimPort, devices: Iterable[SimDevice] = ()) -> None:
        super().__init__(port, FrameParser())
        self._devices: dict[int, SimDevice] = {}
        self._faults = ReplyFaults(_garble_at)
        for device in devices:
            self.add(device)

    @classmethod
    def pty(cls, *devices: SimDevice, link: str | os.PathLike[str] | None = None) -> Self:
        """A bus on a pty pair; the bridge opens `url` (the slave, or `link` when given)."""
        return cls(PtyPort(link), devices)

    @classmethod
    def tcp(cls, *devices: SimDevice, port: int = 0) -> Self:
        """A bus behind ``socket://127.0.0.1:PORT`` (`port=0` picks a free one)."""
        return cls(TcpPort(port), devices)

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

    # --- bus-level faults (`inject_garbage`, `unplug` and `replug` are the line's) ------------

    def garble_next(self, n: int = 1) -> None:
        """Corrupt the next `n` replies, whichever device sends them."""
        self._faults.garble_next(n)

    def drop_replies(self, n: int = 1) -> None:
        """Lose the next `n` replies, whichever device sends them."""
        self._faults.drop_replies(n)

    def delay_replies(self, seconds: float) -> None:
        """Hold every reply on the line back by `seconds` (0 to stop)."""
        self._faults.delay_replies(seconds)

    # --- the protocol -----------------------------------------------------------------------

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
        if data is not None:
            self._reply(data, delay)
