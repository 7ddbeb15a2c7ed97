"""A line driver's serial port: opened on demand, closed quietly, its loss counted and logged once.

Every line driver (`serial_bus.SerialBus`, `lock_board.KerongLine`, `modem.ModemLine`) owns
one port, a device path or a ``socket://host:port`` URL that pyserial opens as any serial
port. A USB adapter can be pulled out at any moment: the driver's next read or write then
raises one of `PORT_ERRORS`, and it hands the exception to `ManagedPort.lost`, which counts
it in the driver's ``port_errors``, logs ``port_lost``, closes the port and lets the driver
mark its devices offline. The driver tries `ensure_open` again no more often than every
`REOPEN_S`, so plugging the adapter back needs no restart.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Callable
from typing import Any, Protocol, TypeVar

import serial

__all__ = ["PORT_ERRORS", "REOPEN_S", "FrameParser", "ManagedPort", "PortStats"]

log = logging.getLogger(__name__)

REOPEN_S = 1.0
# what a read, write or flush raises when the port is gone (a vanished pty, a closed socket)
PORT_ERRORS = (serial.SerialException, OSError)


class PortStats(Protocol):
    """The driver's counters; a lost port counts in `port_errors`."""

    port_errors: int


F = TypeVar("F")


class FrameParser(Protocol[F]):
    """A framed protocol's byte parser (YC-BUS, Kerong): bytes in, whole frames out."""

    @property
    def pending(self) -> int: ...

    def feed(self, data: bytes) -> list[F]: ...

    def idle(self) -> list[F]: ...


class ManagedPort:
    """The port of one driver, used from the driver's thread only.

    `serial` is the open pyserial port, None while closed. `on_open` runs after each
    successful open (to forget bytes half-parsed on the old one), `on_lost` after a lost
    port was closed (to mark the devices offline).
    """

    def __init__(
        self,
        url: str,
        *,
        baudrate: int,
        timeout: float,
        stats: PortStats,
        on_lost: Callable[[], None],
        on_open: Callable[[], None] | None = None,
        write_timeout: float | None = None,
        logger: logging.Logger = log,
    ) -> None:
        self.url = url
        self.baudrate = baudrate
        self.timeout = timeout
        self.write_timeout = write_timeout
        self.serial: Any = None
        self._stats = stats
        self._on_lost = on_lost
        self._on_open = on_open
        # the driver's logger: its port lines stay under the driver's name, as the rest of its log
        self._log = logger

    def ensure_open(self) -> bool:
        """Open the port unless it is open; False when that failed (no such device, refused)."""
        if self.serial is not None:
            return True
        try:
            self.serial = serial.serial_for_url(
                self.url, baudrate=self.baudrate, timeout=self.timeout, write_timeout=self.write_timeout
            )
        except (serial.SerialException, OSError, ValueError) as exc:  # ValueError: a malformed URL
            self._log.debug("event=port_open_failed url=%s error=%s", self.url, exc)
            self.serial = None
            return False
        if self._on_open is not None:
            self._on_open()
        self._log.info("event=port_open url=%s", self.url)
        return True

    def close(self) -> None:
        """Close the port, ignoring the errors of one that is already gone."""
        if self.serial is not None:
            with contextlib.suppress(*PORT_ERRORS):
                self.serial.close()
            self.serial = None

    def await_frame(self, parser: FrameParser[F], timeout_s: float, match: Callable[[F], bool]) -> F | None:
        """The first frame `match` accepts within `timeout_s`, or None. Raises PORT_ERRORS."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            # what has arrived, or wait (up to the port timeout) for the first byte: a read of a
            # fixed size would sit out the whole timeout although the reply is already there
            chunk = self.serial.read(self.serial.in_waiting or 1)
            frames = parser.feed(chunk) if chunk else (parser.idle() if parser.pending else [])
            for frame in frames:
                if match(frame):
                    return frame
        return None

    def lost(self, exc: Exception) -> None:
        """The port failed under the driver: count it, say so once, close it, devices offline."""
        self._stats.port_errors += 1
        self._log.warning("event=port_lost url=%s error=%s", self.url, exc)
        self.close()
        self._on_lost()
