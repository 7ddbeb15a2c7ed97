"""What every simulated line does besides playing its devices: owning a port and serving it.

A simulator (`hw_sim.serial_devices.SimBus`, `hw_sim.lock_board.SimLockLine`,
`hw_sim.gsm_modem.SimModemLine`) answers the bridge on one `SimPort`. A port is not
thread-safe, so one daemon thread does all its I/O; tests and the demo act from other
threads, and `_call` hands their port work (unplug, replug, garbage) to that thread, woken
through a pipe its `select` watches. A subclass says only what to do with the bytes
(`_on_data`) and what a replug resets (`_reset`). `FramedSimLine` adds what the RS-485 lines
share: a frame parser that drops a partial frame after `IDLE_GAP_S` of silence, and replies
held back by a delay fault.
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
from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import ClassVar, Generic, Protocol, Self, TypeVar

from hw_sim.pty_port import SimPort

__all__ = ["FramedSimLine", "ReplyFaults", "SimLine"]

T = TypeVar("T")
F = TypeVar("F")


class ReplyFaults:
    """Faults a simulated device (or a whole line) applies to the replies it sends: lost,
    garbled or late. `garble_at(reply)` is the byte the protocol's check must catch flipped."""

    def __init__(self, garble_at: Callable[[bytes], int]) -> None:
        self._garble_at = garble_at
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
                at = self._garble_at(data)
                data = data[:at] + bytes((data[at] ^ 0xFF,)) + data[at + 1 :]
            return data, self._delay


class SimLine(ABC):
    """One port served from a daemon thread; `start()`/`stop()` it or use it as a context manager."""

    # the serving thread's name and the prefix of its log lines ("simbus", "simlocks", ...)
    NAME: ClassVar[str] = "simline"

    def __init__(self, port: SimPort) -> None:
        self._port = port
        # under the simulator's own logger, so its log configuration still applies
        self._log = logging.getLogger(type(self).__module__)
        self._calls: queue.SimpleQueue[tuple[Callable[[], object], threading.Event, list[object]]]
        self._calls = queue.SimpleQueue()
        self._writes: list[tuple[float, int, bytes]] = []  # (when, tie-break, bytes): delayed replies
        self._order = itertools.count()
        self._wake_r, self._wake_w = os.pipe()
        os.set_blocking(self._wake_r, False)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        """What the bridge opens with pyserial (`serial_for_url`)."""
        return self._port.url

    # --- lifecycle ------------------------------------------------------------------------

    def start(self) -> Self:
        """Serve the line in a daemon thread."""
        if self._thread is None:
            self._stop.clear()
            self._thread = threading.Thread(target=self._run, name=f"{self.NAME} {self.url}", daemon=True)
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

    # --- line faults ------------------------------------------------------------------------

    def inject_garbage(self, data: bytes) -> None:
        """Write raw bytes to the bridge, as noise or a foreign talker on the line would."""
        self._call(lambda: self._port.write(data))

    def unplug(self) -> None:
        """Make the port vanish (pty closed and its link removed, or TCP client and listener
        closed, so a reconnect is refused like a missing device)."""
        self._call(self._port.unplug)

    def replug(self) -> None:
        """Bring the port back (a pty gets a new /dev/pts/N; the link follows it)."""

        def plug() -> None:
            self._port.replug()
            self._reset()

        self._call(plug)

    # --- what a subclass says -----------------------------------------------------------------

    @abstractmethod
    def _on_data(self, data: bytes) -> None:
        """Bytes from the bridge, or b"" after a quiet read (a timeout or a wake-up).

        Runs on the serving thread; answer with `_reply`."""

    @abstractmethod
    def _reset(self) -> None:
        """What the devices lose when the port comes back; runs on the serving thread."""

    def _read_timeout(self) -> float:
        """How long a read may wait for the bridge before `_on_data(b"")`."""
        return 0.5

    # --- the loop ---------------------------------------------------------------------------

    def _reply(self, data: bytes, delay: float = 0.0) -> None:
        """Send `data` to the bridge now, or `delay` seconds from now."""
        if delay > 0:
            heapq.heappush(self._writes, (time.monotonic() + delay, next(self._order), data))
        else:
            self._send(data)

    def _send(self, data: bytes) -> None:
        try:
            self._port.write(data)
        except OSError as exc:
            self._log.debug("%s write failed err=%s", self.NAME, exc)

    def _wake(self) -> None:
        with contextlib.suppress(OSError):
            os.write(self._wake_w, b"!")

    def _call(self, fn: Callable[[], T]) -> T:
        """Run `fn` in the serving thread, which alone touches the port, and wait for it."""
        if self._thread is None or threading.current_thread() is self._thread:
            return fn()
        done = threading.Event()
        box: list[object] = []
        self._calls.put((fn, done, box))
        self._wake()
        if not done.wait(5):
            raise TimeoutError(f"{type(self).__name__} thread did not answer")
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
        while not self._stop.is_set():
            timeout = self._read_timeout()
            if self._writes:
                timeout = min(timeout, max(0.0, self._writes[0][0] - time.monotonic()))
            try:
                data = self._port.read(timeout, self._wake_r)
            except OSError as exc:  # the port closed under us: let unplug/stop sort it out
                self._log.debug("%s read failed err=%s", self.NAME, exc)
                data = b""
            self._run_calls()
            self._on_data(data)
            while self._writes and self._writes[0][0] <= time.monotonic():
                self._send(heapq.heappop(self._writes)[2])


class FrameParser(Protocol[F]):
    """What `FramedSimLine` needs from a codec's parser (YC-BUS and Kerong have one each)."""

    @property
    def pending(self) -> int: ...

    def feed(self, data: bytes) -> list[F]: ...

    def idle(self) -> list[F]: ...

    def reset(self) -> None: ...


class FramedSimLine(SimLine, Generic[F]):
    """A line of addressed devices that speak in frames; the subclass `_dispatch`es each one."""

    # Longer than any pause inside one frame written by a host over a pty or loopback TCP;
    # after this much silence a partial frame is dead (no byte stuffing, see the parsers' idle).
    IDLE_GAP_S: ClassVar[float] = 0.03

    def __init__(self, port: SimPort, parser: FrameParser[F]) -> None:
        super().__init__(port)
        self._parser = parser
        self._last_rx = time.monotonic()

    def _read_timeout(self) -> float:
        return self.IDLE_GAP_S if self._parser.pending else super()._read_timeout()

    def _on_data(self, data: bytes) -> None:
        now = time.monotonic()
        if data:
            self._last_rx = now
            frames = self._parser.feed(data)
        elif self._parser.pending and now - self._last_rx >= self.IDLE_GAP_S:
            frames = self._parser.idle()
        else:
            return
        for frame in frames:
            self._dispatch(frame)

    def _reset(self) -> None:
        """A frame half-heard before the unplug is gone."""
        self._parser.reset()

    @abstractmethod
    def _dispatch(self, frame: F) -> None:
        """One good frame from the bridge."""
