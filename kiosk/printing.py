"""The kiosk's ticket printer at work: receipts out, paper status in, on a thread of its own.

A print or a status query can take seconds on a wedged printer; none of it may freeze the
touchscreen, so every printer call happens here and its outcome is handed back.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from datetime import datetime
from zoneinfo import ZoneInfo

from firmware_bridge.codecs.escpos import PaperStatus
from kiosk.flow import ShownTicket
from kiosk.printer import PrinterError, TicketPrinter
from kiosk.receipt import TicketReceipt, receipt_bytes
from yichuang.config_model import Config

__all__ = ["PrinterService"]

log = logging.getLogger(__name__)

_STOP = object()


class PrinterService:
    """Prints receipts in order and polls paper status between them.

    `on_printed(ok)` follows each ticket; `on_paper(status)` follows every change of the
    paper status (`ok`, `low`, `out`, `unknown`) and of reachability (`offline`).
    """

    def __init__(
        self,
        printer: TicketPrinter,
        config: Config,
        on_printed: Callable[[bool], None],
        on_paper: Callable[[str], None],
        poll_s: float = 10.0,
    ) -> None:
        self.printer = printer
        self.config = config
        self.tz = ZoneInfo(config.hall.timezone)
        self._on_printed = on_printed
        self._on_paper = on_paper
        self.poll_s = poll_s
        self._jobs: queue.Queue[object] = queue.Queue()
        self._thread = threading.Thread(target=self._run, name="printer", daemon=True)
        self.paper = "unknown"
        self.printed = 0
        self.failures = 0
        self.last_print_s: float | None = None  # how long the last receipt took to send

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._jobs.put(_STOP)
        self._thread.join(timeout=5)
        self.printer.close()

    def print_ticket(self, ticket: ShownTicket) -> None:
        self._jobs.put(ticket)

    def print_test(self) -> None:
        self._jobs.put("test")

    def poll_now(self) -> None:
        self._jobs.put("poll")

    # -- the printer thread ------------------------------------------------------------

    def _run(self) -> None:
        self._poll()
        while True:
            try:
                job = self._jobs.get(timeout=self.poll_s)
            except queue.Empty:
                self._poll()
                continue
            if job is _STOP:
                return
            if isinstance(job, ShownTicket):
                self._print(job)
            elif job == "test":
                self._print_test()
            else:
                self._poll()

    def _set_paper(self, status: str) -> None:
        if status != self.paper:
            log.info("printer paper=%s was=%s", status, self.paper)
            self.paper = status
            self._on_paper(status)

    def _poll(self) -> None:
        status = self.printer.paper()
        if status == PaperStatus.UNKNOWN and self.printer.reports_status:
            # a printer that can report but did not: switched off, unplugged or jammed
            self._set_paper("offline")
            return
        self._set_paper(status.value if isinstance(status, PaperStatus) else str(status))

    def receipt(self, ticket: ShownTicket) -> TicketReceipt:
        """What goes on the paper for a ticket shown on screen."""
        hall = self.config.hall
        english = ticket.language == "en"
        service = next((s for s in self.config.services if s.id == ticket.service), None)
        service_name = ticket.service
        if service is not None:
            service_name = service.name_en if english and service.name_en else service.name
        try:
            issued = datetime.fromisoformat(ticket.issued_at).astimezone(self.tz)
        except ValueError:
            issued = datetime.now(self.tz)
        return TicketReceipt(
            hall_name=hall.name,
            number=ticket.no,
            service_name=service_name,
            ahead=ticket.ahead,
            ewt_s=ticket.ewt_s,
            issued_at=issued,
            status_url=ticket.status_url,
            language="en" if english else "zh",
            priority="green" if ticket.priority == "green" else "normal",
            appointment=ticket.priority == "appointment",
        )

    def _print(self, ticket: ShownTicket) -> None:
        started = time.monotonic()
        ok = True
        try:
            self.printer.print_bytes(receipt_bytes(self.receipt(ticket)))
            self.printed += 1
        except (PrinterError, ValueError) as exc:
            ok = False
            self.failures += 1
            log.error("ticket not printed ticket=%s: %s", ticket.no, exc)
        self.last_print_s = time.monotonic() - started
        self._on_printed(ok)
        # a receipt may have used the last of the roll: look at once, not in ten seconds
        self._poll()

    def _print_test(self) -> None:
        now = datetime.now(self.tz)
        test = TicketReceipt(
            hall_name=self.config.hall.name,
            number="T000",
            service_name="打印测试 Print test",
            ahead=0,
            ewt_s=None,
            issued_at=now,
            status_url="https://example.invalid/t/print-test",
        )
        try:
            self.printer.print_bytes(receipt_bytes(test))
            log.info("test page printed")
        except PrinterError as exc:
            log.error("test page not printed: %s", exc)
        self._poll()
