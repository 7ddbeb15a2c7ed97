"""A simulated network receipt printer (ESC/POS on raw TCP, like port 9100 of an Ethernet printer).

`SimPrinter` listens on 127.0.0.1 (port 0 = a free port) and plays an 80 mm thermal
printer: it parses the stream with the kiosk's own codec (`firmware_bridge.codecs.escpos`),
answers `DLE EOT n` at once with one status byte, and everything up to a cut (`GS V`) is one
receipt: kept in memory as raw bytes, decoded text lines and QR texts, and, with a
`receipts_dir`, rendered to a PNG there (`hw_sim.receipt_render`), off the connection's
thread so a status query is never held up by a rendering.

Paper faults (`set_paper`): `low` only changes the status byte; `out` answers DLE EOT with
paper-out (and offline) and discards print data, including the unfinished receipt, until
the paper is back, like a printer whose roll ran out. Each connection gets a fresh parser,
so a kiosk that reconnects after a half-sent job is not misread, but the receipt being
printed continues across connections, as paper would. Garbage never stops it.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import os
import queue
import select
import socket
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Self

from PIL import Image

from firmware_bridge.codecs.escpos import Cut, EscPosParser, Op, PaperStatus, StatusRequest, status_reply
from hw_sim.pty_port import PtyPort
from hw_sim.receipt_render import layout_receipt, render_receipt

__all__ = ["PAPER_STATES", "SimPrinter", "SimReceipt"]

log = logging.getLogger(__name__)

PAPER_STATES = ("ok", "low", "out")
"""What `set_paper` accepts (and the MQTT control topic carries)."""

_MAX_PENDING_OPS = 20_000  # a "receipt" that never gets its cut is printed uncut past this
_MAX_PENDING_RAW = 1 << 20
_ACCEPT_POLL_S = 0.1


@dataclass(frozen=True)
class SimReceipt:
    """One printed receipt: everything from the previous cut up to and including this one.

    `cut` is "full", "partial" or "none" (printed without a cut: an endless stream or a
    job left unfinished when the printer stopped). `png_path` is None without a receipts
    directory or when the rendering failed.
    """

    index: int
    raw: bytes
    ops: tuple[Op, ...]
    lines: tuple[str, ...]
    qr_texts: tuple[str, ...]
    cut: str
    png_path: Path | None
    printed_at: float

    @property
    def text(self) -> str:
        """The decoded lines, one per line."""
        return "\n".join(self.lines)

    def image(self) -> Image.Image:
        """The receipt rendered again (576 dots wide)."""
        return render_receipt(list(self.ops))


class SimPrinter:
    """An ESC/POS printer on a TCP port; thread-safe. Also a context manager (start/stop)."""

    def __init__(
        self,
        name: str = "printer",
        *,
        port: int = 0,
        host: str = "127.0.0.1",
        receipts_dir: str | Path | None = None,
        paper: str = "ok",
        max_receipts: int = 1000,
    ) -> None:
        self.name = name
        self.host = host
        self._port = port
        self.receipts_dir = Path(receipts_dir) if receipts_dir is not None else None
        self._paper = self._paper_state(paper)
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        self._receipts: deque[SimReceipt] = deque(maxlen=max_receipts)
        self._printed = 0  # receipts finished (rendered or not), ever
        self._cut_count = 0  # receipts cut so far (numbering)
        self._ops: list[Op] = []  # the receipt being printed
        self._raw = bytearray()
        self._listener: socket.socket | None = None
        self._clients: set[socket.socket] = set()
        self._threads: list[threading.Thread] = []
        self._stop = threading.Event()
        self._jobs: queue.Queue[tuple[int, bytes, tuple[Op, ...], str] | None] = queue.Queue()
        self.connections = 0
        self.status_requests = 0
        self.discarded_bytes = 0

    # --- lifecycle --------------------------------------------------------------------------

    @property
    def port(self) -> int:
        """The TCP port (the free port chosen once started, when created with 0)."""
        return self._port

    @property
    def url(self) -> str:
        """What a kiosk's `printer` setting says to reach it: ``tcp://127.0.0.1:PORT``."""
        return f"tcp://{self.host}:{self._port}"

    @property
    def running(self) -> bool:
        """Between `start()` and `stop()`."""
        return self._listener is not None

    def start(self) -> Self:
        """Listen (on the same port again after a `stop()`) and serve in the background."""
        if self._listener is not None:
            return self
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind((self.host, self._port))
        listener.listen(4)
        self._port = listener.getsockname()[1]
        if self.receipts_dir is not None:
            self.receipts_dir.mkdir(parents=True, exist_ok=True)
        self._stop.clear()
        self._listener = listener
        self._spawn(self._accept_loop, f"sim-printer {self.name} accept")
        self._spawn(self._render_loop, f"sim-printer {self.name} render")
        log.info("sim printer name=%s url=%s", self.name, self.url)
        return self

    def stop(self) -> None:
        """Stop listening, drop every connection (the printer is switched off), finish renderings.

        An unfinished receipt is kept and continues when the printer is started again.
        """
        listener, self._listener = self._listener, None
        if listener is None:
            return
        self._stop.set()
        listener.close()
        with self._lock:
            clients = list(self._clients)
        for client in clients:
            with contextlib.suppress(OSError):
                client.shutdown(socket.SHUT_RDWR)
        self._jobs.put(None)
        with self._lock:
            threads, self._threads = self._threads, []
        for thread in threads:
            thread.join(timeout=5)

    def attach_serial(self) -> str:
        """Also listen on a serial line (a pty pair), as a printer on RS-232/USB-serial is
        wired; returns the device path for `serial:///dev/pts/N`. Needs `start()` first;
        the line is closed by `stop()`."""
        if self._listener is None:
            raise RuntimeError("start() the printer before attaching a serial line")
        port = PtyPort()
        self._spawn(functools.partial(self._serve_serial, port), f"sim-printer {self.name} serial")
        return port.slave_path

    def _serve_serial(self, port: PtyPort) -> None:
        parser = EscPosParser()
        wake_r, wake_w = os.pipe()
        try:
            while not self._stop.is_set():
                data = port.read(_ACCEPT_POLL_S, wake_r)
                if data:
                    replies = self._received(parser, data)
                    if replies:
                        port.write(replies)
        except Exception:  # a bug here must not take the printer down, only this line
            log.exception("sim printer name=%s serial line failed", self.name)
        finally:
            port.close()
            os.close(wake_r)
            os.close(wake_w)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _spawn(self, target: Callable[[], None], name: str) -> None:
        thread = threading.Thread(target=target, name=name, daemon=True)
        with self._lock:
            self._threads = [t for t in self._threads if t.is_alive()]
            self._threads.append(thread)
        thread.start()

    # --- faults and inspection --------------------------------------------------------------

    @staticmethod
    def _paper_state(value: str) -> PaperStatus:
        if value not in PAPER_STATES:
            raise ValueError(f"paper must be one of {', '.join(PAPER_STATES)}, got {value!r}")
        return PaperStatus(value)

    @property
    def paper(self) -> str:
        """The paper roll: "ok", "low" or "out"."""
        return self._paper.value

    def set_paper(self, state: str) -> None:
        """Change the paper roll: "ok", "low" (near end) or "out" (ValueError otherwise).

        Running out loses the receipt being printed, as its rest can never come out.
        """
        paper = self._paper_state(state)
        with self._lock:
            if paper is PaperStatus.OUT and self._paper is not PaperStatus.OUT:
                self.discarded_bytes += len(self._raw)
                self._ops.clear()
                self._raw.clear()
            self._paper = paper
        log.info("sim printer name=%s paper=%s", self.name, state)

    @property
    def receipts(self) -> list[SimReceipt]:
        """The receipts printed so far, oldest first (the last `max_receipts`)."""
        with self._lock:
            return list(self._receipts)

    @property
    def printed(self) -> int:
        """How many receipts were printed since creation."""
        with self._lock:
            return self._printed

    def wait_for_receipts(self, n: int, timeout: float = 5.0) -> list[SimReceipt]:
        """Block until `n` receipts in all were printed (and rendered); TimeoutError otherwise."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while self._printed < n:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"{self.name}: {self._printed} receipt(s) printed, wanted {n}")
                self._changed.wait(left)
            return list(self._receipts)

    # --- the wire ---------------------------------------------------------------------------

    def _accept_loop(self) -> None:
        listener = self._listener
        while not self._stop.is_set() and listener is not None:
            try:
                ready, _, _ = select.select([listener], [], [], _ACCEPT_POLL_S)
                if not ready:
                    continue
                client, _ = listener.accept()
            except (OSError, ValueError):
                break  # closed by stop()
            client.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            with self._lock:
                self._clients.add(client)
                self.connections += 1
            self._spawn(functools.partial(self._serve, client), f"sim-printer {self.name} client")

    def _serve(self, client: socket.socket) -> None:
        parser = EscPosParser()
        client.settimeout(_ACCEPT_POLL_S)
        try:
            while not self._stop.is_set():
                try:
                    data = client.recv(65536)
                except TimeoutError:
                    continue
                except OSError:
                    break
                if not data:
                    break
                replies = self._received(parser, data)
                if replies:
                    try:
                        client.sendall(replies)
                    except OSError:
                        break
            # the host went away: what it sent in full still prints, a cut-off command does not
            self._apply([(op, parser.offset) for op in parser.flush()], b"", parser.offset)
        except Exception:  # a bug here must not take the printer down, only this connection
            log.exception("sim printer name=%s connection failed", self.name)
        finally:
            with self._lock:
                self._clients.discard(client)
            client.close()

    def _received(self, parser: EscPosParser, data: bytes) -> bytes:
        spans = parser.feed_spans(data)
        return self._apply(spans, data, parser.offset - len(data))

    def _apply(self, spans: list[tuple[Op, int]], data: bytes, start: int) -> bytes:
        """Act on a chunk's ops: status replies out, print data into the receipt (unless out)."""
        replies = bytearray()
        pos = 0  # bytes of `data` already accounted for
        with self._lock:
            for op, end in spans:
                if isinstance(op, StatusRequest):
                    self.status_requests += 1
                    replies += status_reply(op.n, self._paper)  # real time: answered even when out
                    # a real-time command is not print data: keep its 3 bytes out of `raw`
                    rel = min(end - start, len(data))
                    before = data[pos : max(pos, rel - 3)]
                    if self._paper is PaperStatus.OUT:
                        self.discarded_bytes += len(before)
                    else:
                        self._raw += before
                    pos = max(pos, rel)
                    continue
                if self._paper is PaperStatus.OUT:
                    continue
                self._ops.append(op)
                if isinstance(op, Cut):
                    rel = min(max(end - start, pos), len(data))
                    self._raw += data[pos:rel]
                    pos = rel
                    self._finish_locked("partial" if op.partial else "full")
            if self._paper is PaperStatus.OUT:
                self.discarded_bytes += len(data) - pos
            else:
                self._raw += data[pos:]
                if len(self._ops) > _MAX_PENDING_OPS or len(self._raw) > _MAX_PENDING_RAW:
                    self._finish_locked("none")
        return bytes(replies)

    def _finish_locked(self, cut: str) -> None:
        self._cut_count += 1
        self._jobs.put((self._cut_count, bytes(self._raw), tuple(self._ops), cut))
        self._ops.clear()
        self._raw.clear()

    # --- rendering --------------------------------------------------------------------------

    def _render_loop(self) -> None:
        while True:
            job = self._jobs.get()
            if job is None:
                return
            index, raw, ops, cut = job
            png: Path | None = None
            lines: tuple[str, ...] = ()
            qr_texts: tuple[str, ...] = ()
            try:
                layout = layout_receipt(list(ops))
                lines, qr_texts = tuple(layout.lines), tuple(layout.qr_texts)
                if self.receipts_dir is not None:
                    png = self.receipts_dir / f"{self.name}-{index:05d}.png"
                    render_receipt(list(ops)).save(png)
            except Exception:
                log.exception("sim printer name=%s receipt=%d rendering failed", self.name, index)
                png = None
            receipt = SimReceipt(index, raw, ops, lines, qr_texts, cut, png, time.time())
            with self._changed:
                self._receipts.append(receipt)
                self._printed += 1
                self._changed.notify_all()
            log.info("sim printer name=%s receipt=%d lines=%d png=%s", self.name, index, len(lines), png)
