"""The kiosk's ticket printer: one interface, backends chosen by the `[[kiosk]] printer` URL.

| URL | backend (python-escpos) | paper status |
|---|---|---|
| `usb://0416:5011[?in_ep=0x81&out_ep=0x03]` | `escpos.printer.Usb` (VID:PID in hex) | `DLE EOT 4` |
| `serial:///dev/ttyUSB0[?baudrate=19200]` | `escpos.printer.Serial` (9600 8N1 by default) | `DLE EOT 4` |
| `tcp://10.20.0.31[:9100]` | `escpos.printer.Network` (raw TCP, port 9100 by default) | `DLE EOT 4` |
| `file:///path` | `escpos.printer.File`, appending (tests, `/dev/usb/lp0`) | always `unknown` |
| `""` | no printer: `open_printer` returns None | |

Nothing is opened before the first `print_bytes` or `paper()`, so a kiosk starts while its
printer is still off. A failed job raises `PrinterError` and drops the connection, so the
next job reconnects. A status query that gets no answer within `timeout` is `unknown`,
never a hang. The bytes themselves come from `kiosk.receipt.receipt_bytes`.
"""

from __future__ import annotations

import logging
import select
import socket
import threading
import urllib.parse
from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import IO, Any, Self

from escpos.escpos import Escpos
from escpos.exceptions import DeviceNotFoundError
from escpos.exceptions import Error as EscposError
from escpos.printer import File, Network, Serial, Usb

from firmware_bridge.codecs.escpos import PAPER_STATUS_REQUEST, PaperStatus, decode_paper_status
from yichuang.errors import YichuangError

__all__ = [
    "DEFAULT_TCP_PORT",
    "EscposPrinter",
    "PaperStatus",
    "PrinterError",
    "TicketPrinter",
    "open_printer",
]

log = logging.getLogger(__name__)

DEFAULT_TCP_PORT = 9100
"""The raw-printing port of Ethernet receipt printers (JetDirect / "AppSocket")."""

_BAUDRATES = frozenset({1200, 2400, 4800, 9600, 19200, 38400, 57600, 115200})

# What python-escpos and its transports raise when the printer is not there or goes away:
# sockets, pyserial and pyusb errors are all OSErrors; `_raw` asserts an open device.
_TRANSPORT_ERRORS = (OSError, EscposError, AssertionError, ValueError)


class PrinterError(YichuangError, OSError):
    """The printer could not be opened or did not take the whole job."""


class TicketPrinter(ABC):
    """A receipt printer as the kiosk sees it. Implementations are thread-safe."""

    @abstractmethod
    def print_bytes(self, data: bytes) -> None:
        """Send a whole job (a receipt from `receipt_bytes`); PrinterError when it fails."""

    @abstractmethod
    def paper(self) -> PaperStatus:
        """The paper roll now: ok, low, out, or unknown (no answer, cannot read). Never raises."""

    @abstractmethod
    def close(self) -> None:
        """Release the port or connection (the next call opens it again)."""

    @property
    def reports_status(self) -> bool:
        """Whether `paper()` can answer at all: for such a printer `unknown` means it is not answering."""
        return True

    @abstractmethod
    def describe(self) -> str:
        """Which printer this is, for logs and telemetry, e.g. ``tcp://10.20.0.31:9100 (network)``."""

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class _AppendingFile(File):
    """python-escpos's File opens with "wb", which would erase earlier tickets: append instead."""

    def open(self, raise_not_found: bool = True) -> None:
        if self._device:
            self.close()
        try:
            handle: IO[bytes] | None = open(self.devfile, "ab")  # noqa: SIM115 - closed by close()
        except OSError as exc:
            handle = None
            if raise_not_found:
                raise DeviceNotFoundError(f"Could not open {self.devfile}: {exc}") from exc
        self.device = handle


class EscposPrinter(TicketPrinter):
    """A `TicketPrinter` over a python-escpos printer made by `factory` (one per connection).

    `readable` is False for transports that cannot answer `DLE EOT` (files). `keep_open`
    False closes after each job (files: nothing held open, every job appended at once).
    """

    def __init__(
        self,
        factory: Callable[[], Escpos],
        description: str,
        *,
        timeout: float = 2.0,
        readable: bool = True,
        keep_open: bool = True,
    ) -> None:
        self._factory = factory
        self._description = description
        self.timeout = timeout
        self.readable = readable
        self.keep_open = keep_open
        self._printer: Escpos | None = None
        self._lock = threading.Lock()

    def describe(self) -> str:
        """See `TicketPrinter.describe`."""
        return self._description

    def __repr__(self) -> str:
        return f"EscposPrinter({self._description!r})"

    # --- connection -------------------------------------------------------------------------

    def _connect(self) -> Escpos:
        if self._printer is not None:
            return self._printer
        printer = self._factory()
        try:
            printer.open()
        except _TRANSPORT_ERRORS as exc:
            raise PrinterError(f"{self._description}: cannot open: {exc}".replace("\n", " ")) from exc
        self._printer = printer
        log.info("printer opened printer=%s", self._description)
        return printer

    def _drop(self) -> None:
        printer, self._printer = self._printer, None
        if printer is None:
            return
        try:
            printer.close()
        except _TRANSPORT_ERRORS as exc:
            log.debug("printer close failed printer=%s error=%s", self._description, exc)

    def close(self) -> None:
        """See `TicketPrinter.close`."""
        with self._lock:
            self._drop()

    def _drain(self, printer: Escpos) -> bool:
        """Throw away stale input (a late status byte); False when the peer has hung up."""
        device: Any = printer.device
        if isinstance(device, socket.socket):
            while select.select([device], [], [], 0)[0]:
                if not device.recv(256):
                    return False  # the printer closed the connection (switched off, rebooted)
        elif isinstance(printer, Serial) and device is not None:
            device.reset_input_buffer()
        return True

    def _ready(self) -> Escpos:
        """An open printer whose connection is known not to have been closed by the other end."""
        printer = self._connect()
        try:
            alive = self._drain(printer)
        except _TRANSPORT_ERRORS:
            alive = False
        if not alive:
            # A write to a TCP peer that already closed still "succeeds" once, so a job sent
            # now would vanish without an error: reconnect first.
            log.info("printer connection lost, reconnecting printer=%s", self._description)
            self._drop()
            printer = self._connect()
        return printer

    # --- jobs and status --------------------------------------------------------------------

    def print_bytes(self, data: bytes) -> None:
        """See `TicketPrinter.print_bytes`."""
        with self._lock:
            try:
                printer = self._ready()
                printer._raw(data)
            except PrinterError:
                self._drop()
                raise
            except _TRANSPORT_ERRORS as exc:
                self._drop()
                raise PrinterError(f"{self._description}: job failed: {exc}".replace("\n", " ")) from exc
            if not self.keep_open:
                self._drop()
        log.info("printer job sent printer=%s bytes=%d", self._description, len(data))

    @property
    def reports_status(self) -> bool:
        return self.readable

    def paper(self) -> PaperStatus:
        """See `TicketPrinter.paper`: `DLE EOT 4`, one byte back within `timeout`."""
        if not self.readable:
            return PaperStatus.UNKNOWN
        with self._lock:
            try:
                printer = self._ready()
                printer._raw(PAPER_STATUS_REQUEST)
                reply = self._read_status(printer)
            except _TRANSPORT_ERRORS as exc:
                log.info("printer status failed printer=%s error=%s", self._description, exc)
                self._drop()
                return PaperStatus.UNKNOWN
            if not reply:
                log.info("printer status unanswered printer=%s", self._description)
            return decode_paper_status(reply)

    def _read_status(self, printer: Escpos) -> bytes:
        device: Any = printer.device
        if isinstance(device, socket.socket):
            device.settimeout(self.timeout)
            try:
                reply = device.recv(16)
            except TimeoutError:
                return b""
            if not reply:
                self._drop()  # closed by the printer: the next call reconnects
            return bytes(reply)
        if isinstance(printer, Serial):
            # one byte: python-escpos's _read() asks for 16 and so always waits the full timeout
            return bytes(device.read(1))
        return bytes(printer._read())


# --- URLs ---------------------------------------------------------------------------------


def _query(parts: urllib.parse.SplitResult, allowed: set[str], url: str) -> dict[str, str]:
    try:
        pairs = urllib.parse.parse_qsl(parts.query, keep_blank_values=True, strict_parsing=bool(parts.query))
    except ValueError:
        raise ValueError(f"printer URL {url!r}: bad query {parts.query!r}") from None
    query = dict(pairs)
    unknown = sorted(set(query) - allowed)
    if unknown:
        expected = ", ".join(sorted(allowed)) or "none"
        raise ValueError(f"printer URL {url!r}: unknown option(s) {', '.join(unknown)} (allowed: {expected})")
    return query


def _int(value: str, what: str, url: str, lo: int, hi: int) -> int:
    try:
        n = int(value, 0)
    except ValueError:
        raise ValueError(f"printer URL {url!r}: {what} must be a number, got {value!r}") from None
    if not lo <= n <= hi:
        raise ValueError(f"printer URL {url!r}: {what} must be {lo}..{hi}, got {n}")
    return n


def _usb(parts: urllib.parse.SplitResult, url: str, timeout: float) -> EscposPrinter:
    ids = parts.netloc.split(":")
    if len(ids) != 2 or parts.path not in ("", "/"):
        raise ValueError(f"printer URL {url!r}: expected usb://VID:PID in hex, e.g. usb://0416:5011")
    try:
        vid, pid = (int(x, 16) for x in ids)
    except ValueError:
        raise ValueError(f"printer URL {url!r}: VID and PID must be hex, e.g. usb://0416:5011") from None
    if not (0 < vid <= 0xFFFF and 0 < pid <= 0xFFFF):
        raise ValueError(f"printer URL {url!r}: VID and PID must be 0001..FFFF")
    query = _query(parts, {"in_ep", "out_ep"}, url)
    in_ep = _int(query.get("in_ep", "0x82"), "in_ep", url, 0x81, 0x8F)
    out_ep = _int(query.get("out_ep", "0x01"), "out_ep", url, 0x01, 0x0F)
    ms = max(1, round(timeout * 1000))  # pyusb counts in milliseconds; 0 would mean forever

    def factory() -> Escpos:
        return Usb(vid, pid, timeout=ms, in_ep=in_ep, out_ep=out_ep)

    return EscposPrinter(factory, f"usb://{vid:04x}:{pid:04x} (usb)", timeout=timeout)


def _serial(parts: urllib.parse.SplitResult, url: str, timeout: float) -> EscposPrinter:
    if parts.netloc or not parts.path.startswith("/"):
        raise ValueError(f"printer URL {url!r}: expected serial:///dev/ttyUSB0 (three slashes)")
    query = _query(parts, {"baudrate"}, url)
    baudrate = _int(query.get("baudrate", "9600"), "baudrate", url, 1, 4_000_000)
    if baudrate not in _BAUDRATES:
        rates = ", ".join(str(b) for b in sorted(_BAUDRATES))
        raise ValueError(f"printer URL {url!r}: baudrate must be one of {rates}, got {baudrate}")
    devfile = urllib.parse.unquote(parts.path)

    def factory() -> Escpos:
        return Serial(devfile, baudrate=baudrate, timeout=timeout)

    return EscposPrinter(factory, f"serial://{devfile}?baudrate={baudrate} (serial)", timeout=timeout)


def _tcp(parts: urllib.parse.SplitResult, url: str, timeout: float) -> EscposPrinter:
    try:
        port = parts.port or DEFAULT_TCP_PORT
    except ValueError:
        raise ValueError(f"printer URL {url!r}: bad port") from None
    host = parts.hostname
    if not host or parts.path not in ("", "/") or parts.username or parts.password:
        raise ValueError(f"printer URL {url!r}: expected tcp://host:port, e.g. tcp://10.20.0.31:9100")
    _query(parts, set(), url)

    def factory() -> Escpos:
        return Network(host, port=port, timeout=timeout)

    return EscposPrinter(factory, f"tcp://{host}:{port} (network)", timeout=timeout)


def _file(parts: urllib.parse.SplitResult, url: str, timeout: float) -> EscposPrinter:
    if parts.netloc not in ("", "localhost") or not parts.path.startswith("/"):
        raise ValueError(f"printer URL {url!r}: expected file:///absolute/path")
    _query(parts, set(), url)
    path = urllib.parse.unquote(parts.path)

    def factory() -> Escpos:
        return _AppendingFile(path)

    return EscposPrinter(factory, f"file://{path} (file)", timeout=timeout, readable=False, keep_open=False)


_SCHEMES = {"usb": _usb, "serial": _serial, "tcp": _tcp, "file": _file}


def open_printer(url: str, timeout: float = 2.0) -> TicketPrinter | None:
    """The printer a `[[kiosk]] printer` URL names, or None for "" (a kiosk without printer).

    ValueError, naming the URL, for an unknown scheme or a malformed URL. Nothing is
    opened yet. `timeout` bounds a network connect and every status query.
    """
    if not url.strip():
        return None
    if timeout <= 0:
        raise ValueError(f"timeout must be > 0, got {timeout}")
    parts = urllib.parse.urlsplit(url.strip())
    build = _SCHEMES.get(parts.scheme.lower())
    if build is None:
        raise ValueError(
            f"printer URL {url!r}: scheme must be usb://, serial://, tcp:// or file://"
            f" (got {parts.scheme + '://' if parts.scheme else 'no scheme'})"
        )
    return build(parts, url, timeout)
