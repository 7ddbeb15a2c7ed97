"""The queue ticket as ESC/POS bytes for an 80 mm receipt printer (pure: no I/O, no clock).

`receipt_bytes` lays a `TicketReceipt` out with python-escpos's `Dummy` printer, so every
command byte is python-escpos's own; only Chinese lines are sent raw, as GB18030 between
`FS &` and `FS .`, because Chinese printers expect GB18030 in their Chinese mode while
python-escpos's `text()` would look for a single-byte code page. The QR code is the
printer's own (`GS ( k`), which prints sharper and is far shorter than a raster image.
The byte layout is documented in docs/hardware.md ("Ticket printer (ESC/POS)").
"""

from __future__ import annotations

import math
import textwrap
from dataclasses import dataclass
from datetime import datetime

from escpos.constants import QR_ECLEVEL_M
from escpos.printer import Dummy

from firmware_bridge.codecs.escpos import FS, LF

__all__ = [
    "COLUMNS",
    "NUMBER_SIZE",
    "QR_MODULE_SIZE",
    "TicketReceipt",
    "receipt_bytes",
    "wait_minutes",
]

COLUMNS = 48
"""Font A characters per line on 80 mm paper (576 dots / 12); a Chinese character takes two."""

NUMBER_SIZE = 8
"""The ticket number's width and height multiplier (GS ! 0x77): 96x192 dots a character,
so `A1000` still fits on one line and can be read at arm's length."""

QR_MODULE_SIZE = 7
"""Dots per QR module: a status URL (version 3-4, 29-33 modules) comes out about 26-29 mm wide,
comfortable for a phone camera at reading distance."""

_KANJI_ON = bytes((FS, ord("&")))
_KANJI_OFF = bytes((FS, ord(".")))


@dataclass(frozen=True)
class TicketReceipt:
    """What a ticket shows. Nothing personal: no name, phone or ID number is ever printed.

    `issued_at` is aware and already in the hall's timezone (it is printed as is);
    `ewt_s` is the estimated wait in seconds, None when unknown; `language` "zh" or "en";
    `priority` "normal" or "green" (green channel: elderly, disabled, pregnant);
    `window_hint` an optional line such as "请到二楼 5-8 号窗口等候".
    """

    hall_name: str
    number: str
    service_name: str
    ahead: int
    ewt_s: int | None
    issued_at: datetime
    status_url: str
    language: str = "zh"
    priority: str = "normal"
    appointment: bool = False
    window_hint: str = ""

    def __post_init__(self) -> None:
        if self.language not in ("zh", "en"):
            raise ValueError(f'language must be "zh" or "en", got {self.language!r}')
        if self.priority not in ("normal", "green"):
            raise ValueError(f'priority must be "normal" or "green", got {self.priority!r}')
        if self.issued_at.tzinfo is None:
            raise ValueError("issued_at must be timezone-aware")
        if self.ahead < 0:
            raise ValueError(f"ahead must be >= 0, got {self.ahead}")
        if not self.number or not self.number.isascii():
            raise ValueError(f"number must be ASCII such as A012, got {self.number!r}")


def wait_minutes(ewt_s: int) -> int:
    """Whole minutes to print for an estimated wait: rounded up, at least 1 (never "0 minutes")."""
    return max(1, math.ceil(ewt_s / 60))


def _line(p: Dummy, text: str) -> None:
    """One line: plain through python-escpos when ASCII, else GB18030 in Chinese mode."""
    if text.isascii():
        p.text(text + "\n")
    else:
        # Chinese mode only around the line, so python-escpos's code page state stays true.
        p._raw(_KANJI_ON + text.encode("gb18030", errors="replace") + bytes((LF,)) + _KANJI_OFF)


def _size(p: Dummy, n: int) -> None:
    """GS ! (width and height n): ESC ! alone would leave a GS ! size in force on some printers."""
    p.set(custom_size=True, width=n, height=n)


def _wrapped(p: Dummy, text: str) -> None:
    for part in textwrap.wrap(text, COLUMNS - 6) or [""]:  # a centred block, clear of the edges
        _line(p, part)


def receipt_bytes(r: TicketReceipt) -> bytes:
    """The whole ticket, from `ESC @` to the cut, ready for `TicketPrinter.print_bytes`."""
    en = r.language == "en"
    p = Dummy()
    p.hw("INIT")
    p.set(align="center", bold=True)
    _line(p, r.hall_name)
    p.set(bold=False)
    if en:
        _line(p, "Queue ticket")
    p.text("-" * COLUMNS + "\n")

    marker = ""
    if r.priority == "green":
        marker = "Priority lane" if en else "绿色通道"
    if r.appointment:
        marker = (marker + " / " if marker else "") + ("Appointment" if en else "预约")
    if marker:
        p.set(bold=True)
        _line(p, f"[{marker}]" if en else f"【{marker}】")
        p.set(bold=False)

    _size(p, NUMBER_SIZE)
    p.set(bold=True)
    p.text(r.number + "\n")
    p.set(bold=False)
    _size(p, 2)
    # double size: half the columns; English is wrapped at words, Chinese by the printer
    for part in textwrap.wrap(r.service_name, COLUMNS // 2) if r.service_name.isascii() else [r.service_name]:
        _line(p, part)
    _size(p, 1)
    p.ln()

    if en:
        _line(p, f"{r.ahead} waiting ahead of you")
        if r.ewt_s is not None:
            _line(p, f"Estimated wait: about {wait_minutes(r.ewt_s)} min")
    else:
        _line(p, f"前面还有 {r.ahead} 人")
        if r.ewt_s is not None:
            _line(p, f"预计等候约 {wait_minutes(r.ewt_s)} 分钟")
    if r.window_hint:
        _line(p, r.window_hint)
    issued = r.issued_at.strftime("%Y-%m-%d %H:%M")
    _line(p, f"Issued {issued}" if en else f"取号时间 {issued}")
    p.ln()

    p.qr(r.status_url, ec=QR_ECLEVEL_M, size=QR_MODULE_SIZE, native=True)
    p.ln()
    _line(p, "Scan to follow your place in the queue" if en else "扫码查看排队进度")
    p.text("-" * COLUMNS + "\n")
    if en:
        _wrapped(p, "Please listen for your number. If it has passed, take a new ticket.")
        _wrapped(p, "This ticket holds no personal data.")
    else:
        _line(p, "请留意叫号，过号请重新取号。")
        _line(p, "本票据不含个人信息。")
    # ESC d 6 then GS V 1: the feed brings the last line past the cutter; a partial cut
    # leaves the ticket hanging at the slot until the citizen takes it.
    p.cut(mode="PART")
    return p.output
