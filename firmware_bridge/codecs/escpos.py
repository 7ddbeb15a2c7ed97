"""ESC/POS: the byte stream of receipt printers, parsed into operations; the paper status byte.

Pure (no I/O, no clock): the kiosk uses the status codec to read `DLE EOT 4` replies, and
`hw_sim`'s network printer uses the parser and `status_reply` to play the printer, so the
two can never disagree on a byte. The kiosk builds its receipts with python-escpos
(`kiosk.receipt`); this module only reads them.

The parser knows the commands a ticket uses (ESC @, ESC a, ESC E, ESC !, GS !, ESC d, LF,
FS & / FS ., GS ( k for QR codes, GS V, DLE EOT) and skips every other command it knows by
its length, counted from its parameters (raster images, barcodes, NV graphics, ...), so
nothing that follows is misread. An unknown command costs its prefix and command byte; a
lone control byte costs one byte. Nothing ever raises: garbage becomes `Unknown` ops.
docs/hardware.md ("Ticket printer (ESC/POS)") is the technicians' version.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

__all__ = [
    "DLE",
    "EOT",
    "ESC",
    "FS",
    "GS",
    "LF",
    "MAX_TEXT_RUN",
    "PAPER_END",
    "PAPER_NEAR_END",
    "PAPER_STATUS_REQUEST",
    "STATUS_FIXED",
    "Align",
    "Bold",
    "CharSize",
    "Cut",
    "EscPosParser",
    "Feed",
    "Init",
    "KanjiMode",
    "LineFeed",
    "Op",
    "PaperStatus",
    "PrintMode",
    "QrErrorLevel",
    "QrModel",
    "QrModuleSize",
    "QrPrint",
    "QrStore",
    "StatusRequest",
    "Text",
    "Unknown",
    "decode_paper_status",
    "paper_status_byte",
    "parse",
    "status_reply",
]

ESC = 0x1B
GS = 0x1D
FS = 0x1C
DLE = 0x10
EOT = 0x04
LF = 0x0A

PAPER_STATUS_REQUEST = bytes((DLE, EOT, 4))
"""`DLE EOT 4`: transmit the paper roll sensor status (one byte back, in real time)."""

STATUS_FIXED = 0x12
"""Bits 1 and 4, always set in a real-time status byte: how a reply is told from noise."""
PAPER_NEAR_END = 0x0C
"""Bits 2 and 3 of the `DLE EOT 4` reply: the roll near-end sensor sees little paper."""
PAPER_END = 0x60
"""Bits 5 and 6 of the `DLE EOT 4` reply: the roll end sensor sees no paper."""

MAX_TEXT_RUN = 4096
"""A longer run of printable bytes is cut into `Text` ops of this size (bounds the buffer)."""


class PaperStatus(StrEnum):
    """The paper roll as the printer reports it (the values of telemetry's `paper`)."""

    OK = "ok"
    LOW = "low"
    OUT = "out"
    UNKNOWN = "unknown"  # no answer, a backend that cannot read (file://), or not a status byte


# python-escpos's `Escpos.paper_status()` tests these masks in this order (RT_MASK_NOPAPER,
# RT_MASK_LOWPAPER, RT_MASK_PAPER); decode_paper_status follows it so a kiosk and a
# python-escpos script read the same byte the same way.
_MASK_OUT = STATUS_FIXED | PAPER_END  # 0x72
_MASK_LOW = STATUS_FIXED | PAPER_NEAR_END  # 0x1E


def paper_status_byte(status: PaperStatus) -> int:
    """The `DLE EOT 4` reply a printer sends for `status` (ok 0x12, low 0x1E, out 0x7E).

    A roll that ran out also trips the near-end sensor, so `out` carries both pairs of bits,
    as real printers send it. UNKNOWN has no byte (ValueError).
    """
    if status is PaperStatus.OK:
        return STATUS_FIXED
    if status is PaperStatus.LOW:
        return STATUS_FIXED | PAPER_NEAR_END
    if status is PaperStatus.OUT:
        return STATUS_FIXED | PAPER_NEAR_END | PAPER_END
    raise ValueError("a printer never reports 'unknown'")


def decode_paper_status(reply: bytes | int) -> PaperStatus:
    """Read a `DLE EOT 4` reply (the last byte counts when several came back).

    Same reading as python-escpos's `paper_status()` for every byte with the fixed bits
    (0x12) set. Where python-escpos guesses, this says UNKNOWN instead: an empty reply
    (python-escpos: "paper adequate") and a byte without the fixed bits, which is not a
    status byte at all (python-escpos: "no paper").
    """
    if isinstance(reply, int):
        byte = reply
    elif reply:
        byte = reply[-1]
    else:
        return PaperStatus.UNKNOWN
    if not 0 <= byte <= 0xFF or byte & STATUS_FIXED != STATUS_FIXED:
        return PaperStatus.UNKNOWN
    if byte & _MASK_OUT == _MASK_OUT:
        return PaperStatus.OUT
    if byte & _MASK_LOW == _MASK_LOW:
        return PaperStatus.LOW
    return PaperStatus.OK


def status_reply(n: int, paper: PaperStatus, *, cover_open: bool = False) -> bytes:
    """The byte a printer sends back for `DLE EOT n` (n = 1..4), or b"" for other n.

    1 printer status: bit 3 = offline (a printer with no paper stops printing: offline).
    2 offline cause: bit 2 = cover open, bit 5 = stopped by paper end.
    3 error cause: nothing here simulates a cutter or head error. 4 paper roll sensor.
    """
    out = paper is PaperStatus.OUT
    if n == 1:
        return bytes((STATUS_FIXED | (0x08 if out or cover_open else 0),))
    if n == 2:
        return bytes((STATUS_FIXED | (0x04 if cover_open else 0) | (0x20 if out else 0),))
    if n == 3:
        return bytes((STATUS_FIXED,))
    if n == 4:
        return bytes((paper_status_byte(PaperStatus.OK if paper is PaperStatus.UNKNOWN else paper),))
    return b""


# --- operations ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Init:
    """ESC @: clear the line buffer, every mode back to its default."""


@dataclass(frozen=True, slots=True)
class Text:
    """Printable bytes, as sent: GB18030 in Chinese mode, the code page's bytes otherwise."""

    data: bytes


@dataclass(frozen=True, slots=True)
class LineFeed:
    """LF: print the line buffer and feed one line."""


@dataclass(frozen=True, slots=True)
class Feed:
    """ESC d n: print the line buffer and feed n lines."""

    lines: int


@dataclass(frozen=True, slots=True)
class Align:
    """ESC a n: 0 left, 1 centre, 2 right (for lines begun after it, and for QR codes)."""

    align: int


@dataclass(frozen=True, slots=True)
class Bold:
    """ESC E n: emphasized (bold) on or off."""

    on: bool


@dataclass(frozen=True, slots=True)
class PrintMode:
    """ESC ! n: bit 0 font B, bit 3 bold, bit 4 double height, bit 5 double width, bit 7 underline."""

    mode: int

    @property
    def font_b(self) -> bool:
        """Font B (9x17) instead of font A (12x24)."""
        return bool(self.mode & 0x01)

    @property
    def bold(self) -> bool:
        """Emphasized."""
        return bool(self.mode & 0x08)

    @property
    def width(self) -> int:
        """Character width multiplier set by this mode (1 or 2)."""
        return 2 if self.mode & 0x20 else 1

    @property
    def height(self) -> int:
        """Character height multiplier set by this mode (1 or 2)."""
        return 2 if self.mode & 0x10 else 1


@dataclass(frozen=True, slots=True)
class CharSize:
    """GS ! n: character width and height multipliers, 1..8 each."""

    width: int
    height: int


@dataclass(frozen=True, slots=True)
class KanjiMode:
    """FS & (on) / FS . (off): two-byte Chinese characters (GB18030 on Chinese printers)."""

    on: bool


@dataclass(frozen=True, slots=True)
class QrModel:
    """GS ( k 1 A: QR model, 1, 2 or 3 (= Micro QR)."""

    model: int


@dataclass(frozen=True, slots=True)
class QrModuleSize:
    """GS ( k 1 C: module (dot) size in printer dots, 1..16."""

    size: int


@dataclass(frozen=True, slots=True)
class QrErrorLevel:
    """GS ( k 1 E: error correction level, "L", "M", "Q" or "H"."""

    level: str


@dataclass(frozen=True, slots=True)
class QrStore:
    """GS ( k 1 P 0: the QR code's data, stored until QrPrint."""

    data: bytes


@dataclass(frozen=True, slots=True)
class QrPrint:
    """GS ( k 1 Q 0: print the stored QR code."""


@dataclass(frozen=True, slots=True)
class Cut:
    """GS V: cut the paper (the end of one receipt); `feed` dots fed first (GS V 65/66 n)."""

    partial: bool
    feed: int = 0


@dataclass(frozen=True, slots=True)
class StatusRequest:
    """DLE EOT n: the host asks for status byte n (1 printer, 2 offline, 3 error, 4 paper)."""

    n: int


@dataclass(frozen=True, slots=True)
class Unknown:
    """Bytes the printer ignores: an unknown command, a control byte, a skipped image or barcode.

    `head` is the start of the command (at most 8 bytes), `length` how many bytes it took.
    """

    head: bytes
    length: int


Op = (
    Init
    | Text
    | LineFeed
    | Feed
    | Align
    | Bold
    | PrintMode
    | CharSize
    | KanjiMode
    | QrModel
    | QrModuleSize
    | QrErrorLevel
    | QrStore
    | QrPrint
    | Cut
    | StatusRequest
    | Unknown
)
"""One parsed ESC/POS operation."""

# --- command lengths --------------------------------------------------------------------

# ESC c -> parameter bytes, for commands of fixed length that the parser only skips.
_ESC_FIXED: dict[int, int] = {
    ord(c): n
    for c, n in {
        "J": 1, "K": 1, "e": 1, "M": 1, "-": 1, "2": 0, "3": 1, "t": 1, "R": 1, "{": 1, "G": 1,
        "V": 1, "r": 1, " ": 1, "$": 2, "\\": 2, "p": 3, "B": 2, "c": 2, "L": 0, "S": 0, "T": 1,
        "W": 8, "i": 0, "m": 0, "%": 1, "=": 1, "?": 1, "U": 1, "u": 1, "v": 0, "<": 0, "(": 0,
    }.items()
}  # fmt: skip
_GS_FIXED: dict[int, int] = {
    ord(c): n
    for c, n in {
        "B": 1, "b": 1, "L": 2, "W": 2, "H": 1, "h": 1, "w": 1, "f": 1, "a": 1, "r": 1, "I": 1,
        "P": 2, "|": 1, "$": 2, "\\": 2, "/": 1, "E": 1, ":": 0, "^": 3, "T": 1, "j": 1, "g": 2,
    }.items()
}  # fmt: skip
_FS_FIXED: dict[int, int] = {
    ord(c): n for c, n in {"!": 1, "-": 1, "C": 1, "W": 1, "S": 2, "p": 2, "2": 74, "?": 2}.items()
}
_QR_LEVELS = {48: "L", 49: "M", 50: "Q", 51: "H"}

# A parse step: (op, bytes it used from the buffer, body bytes still to skip as they stream).
_Step = tuple[Op, int, int]


def _unknown(buf: bytearray, i: int, n: int, skip: int = 0) -> _Step:
    return Unknown(bytes(buf[i : i + min(n, 8)]), n + skip), n, skip


def _u16(lo: int, hi: int) -> int:
    return lo | hi << 8


class EscPosParser:
    """Incremental ESC/POS parser: feed it chunks as they arrive, get complete ops.

    Chunking never changes the result: `feed` in any pieces followed by `flush` gives the
    same ops as `parse` on the whole. A text run is held back until a control byte ends it
    (or it reaches `MAX_TEXT_RUN`), because a printer too prints a line only at LF. Memory
    is bounded: at most one 64 KiB command is buffered; bigger bodies are counted off.
    """

    def __init__(self) -> None:
        self._buf = bytearray()
        self._base = 0  # stream offset of _buf[0]
        self._skip = 0  # body bytes of a skipped command still to come

    @property
    def offset(self) -> int:
        """Bytes fed so far (the stream offset of the next byte)."""
        return self._base + len(self._buf)

    @property
    def at_boundary(self) -> bool:
        """No command is half received: the next control byte starts a new command.

        (A text run may be held back; any control byte ends it.) False while the parser is
        inside a command's parameters or a skipped body, which may swallow what follows.
        """
        return not self._skip and (not self._buf or self._buf[0] >= 0x20)

    def reset(self) -> None:
        """Forget any partial command (a new connection starts clean)."""
        self._base += len(self._buf)
        self._buf.clear()
        self._skip = 0

    def feed(self, data: bytes) -> list[Op]:
        """Add received bytes; return the ops they completed, in order."""
        return [op for op, _ in self.feed_spans(data)]

    def feed_spans(self, data: bytes) -> list[tuple[Op, int]]:
        """Like `feed`, with each op's end offset in the stream (to cut raw bytes at GS V)."""
        self._buf += data
        return self._drain(final=False)

    def flush(self) -> list[Op]:
        """The stream ended: a pending text run becomes Text, a partial command Unknown."""
        return [op for op, _ in self._drain(final=True)]

    def _drain(self, final: bool) -> list[tuple[Op, int]]:
        out: list[tuple[Op, int]] = []
        buf = self._buf
        i = 0
        while True:
            if self._skip:
                n = min(self._skip, len(buf) - i)
                i += n
                self._skip -= n
                if self._skip:
                    break
            if i >= len(buf):
                break
            step = self._step(buf, i, final)
            if step is None:
                break
            op, used, skip = step
            i += used
            self._skip = skip
            out.append((op, self._base + i + skip))
        if final and self._skip:
            self._skip = 0  # the stream ended inside a skipped body
        if final and i < len(buf):  # a command cut short by the end of the stream
            op, used, _ = _unknown(buf, i, len(buf) - i)
            i += used
            out.append((op, self._base + i))
        del buf[:i]
        self._base += i
        return out

    def _step(self, buf: bytearray, i: int, final: bool) -> _Step | None:
        """Parse one op at buf[i]; None when more bytes are needed."""
        b = buf[i]
        if b >= 0x20:
            end = i + 1
            limit = min(len(buf), i + MAX_TEXT_RUN)
            while end < limit and buf[end] >= 0x20:
                end += 1
            if end == len(buf) and end - i < MAX_TEXT_RUN and not final:
                return None  # the run may go on in the next chunk
            return Text(bytes(buf[i:end])), end - i, 0
        if b == LF:
            return LineFeed(), 1, 0
        avail = len(buf) - i
        if b not in (ESC, GS, FS, DLE):
            return _unknown(buf, i, 1)
        if avail < 2:
            return None
        c = buf[i + 1]
        if b == ESC:
            return self._esc(buf, i, c, avail)
        if b == GS:
            return self._gs(buf, i, c, avail)
        if b == FS:
            if c == ord("&"):
                return KanjiMode(True), 2, 0
            if c == ord("."):
                return KanjiMode(False), 2, 0
            if c in _FS_FIXED:
                n = 2 + _FS_FIXED[c]
                return _unknown(buf, i, n) if avail >= n else None
            return _unknown(buf, i, 2)
        return self._dle(buf, i, c, avail)

    def _esc(self, buf: bytearray, i: int, c: int, avail: int) -> _Step | None:
        if c == ord("@"):
            return Init(), 2, 0
        if c in (ord("a"), ord("E"), ord("!"), ord("d")):
            if avail < 3:
                return None
            n = buf[i + 2]
            if c == ord("a"):
                return (Align(n % 48), 3, 0) if n in (0, 1, 2, 48, 49, 50) else _unknown(buf, i, 3)
            if c == ord("E"):
                return Bold(bool(n & 1)), 3, 0
            if c == ord("!"):
                return PrintMode(n), 3, 0
            return Feed(n), 3, 0
        if c == ord("*"):  # ESC * m nL nH d1..dk: bit image, 1 or 3 bytes per column
            if avail < 5:
                return None
            m = buf[i + 2]
            columns = _u16(buf[i + 3], buf[i + 4])
            return _unknown(buf, i, 5, columns * (1 if m in (0, 1) else 3))
        if c == ord("D"):  # ESC D n1..nk NUL: tab positions, at most 32
            end = buf.find(0, i + 2, i + 2 + 33)
            if end >= 0:
                return _unknown(buf, i, end + 1 - i)
            return None if avail < 2 + 33 else _unknown(buf, i, 2 + 33)
        if c in _ESC_FIXED:
            n = 2 + _ESC_FIXED[c]
            return _unknown(buf, i, n) if avail >= n else None
        return _unknown(buf, i, 2)

    def _gs(self, buf: bytearray, i: int, c: int, avail: int) -> _Step | None:
        if c == ord("!"):
            if avail < 3:
                return None
            n = buf[i + 2]
            if n & 0x88:  # each nibble 0..7; a printer ignores anything else
                return _unknown(buf, i, 3)
            return CharSize((n >> 4) + 1, (n & 0x0F) + 1), 3, 0
        if c == ord("V"):
            if avail < 3:
                return None
            m = buf[i + 2]
            if m in (0, 1, 48, 49):
                return Cut(partial=m in (1, 49)), 3, 0
            if m in (65, 66, 97, 98, 103, 104):
                if avail < 4:
                    return None
                return Cut(partial=m in (66, 98, 104), feed=buf[i + 3]), 4, 0
            return _unknown(buf, i, 3)
        if c == ord("("):  # GS ( X pL pH p bytes
            if avail < 5:
                return None
            p = _u16(buf[i + 3], buf[i + 4])
            if buf[i + 2] != ord("k"):
                return _unknown(buf, i, 5, p)
            if avail < 5 + p:
                return None
            return self._gs_k(buf, i, p)
        if c == ord("k"):  # GS k m: barcode, NUL-terminated (m 0..6) or counted (m 65..79)
            if avail < 3:
                return None
            m = buf[i + 2]
            if m <= 6:
                end = buf.find(0, i + 3, i + 3 + 256)
                if end >= 0:
                    return _unknown(buf, i, end + 1 - i)
                return None if avail < 3 + 256 else _unknown(buf, i, 3 + 256)
            if 65 <= m <= 79:
                if avail < 4:
                    return None
                return _unknown(buf, i, 4, buf[i + 3])
            return _unknown(buf, i, 3)
        if c == ord("v"):  # GS v 0 m xL xH yL yH: raster image, xL..xH bytes by yL..yH rows
            if avail < 8:
                return None
            return _unknown(buf, i, 8, _u16(buf[i + 4], buf[i + 5]) * _u16(buf[i + 6], buf[i + 7]))
        if c == ord("8"):  # GS 8 L p1 p2 p3 p4: GS ( L with a 32-bit length
            if avail < 7:
                return None
            p = buf[i + 3] | buf[i + 4] << 8 | buf[i + 5] << 16 | buf[i + 6] << 24
            return _unknown(buf, i, 7, p)
        if c == ord("*"):  # GS * x y: downloaded bit image, x*y*8 bytes
            if avail < 4:
                return None
            return _unknown(buf, i, 4, buf[i + 2] * buf[i + 3] * 8)
        if c in _GS_FIXED:
            n = 2 + _GS_FIXED[c]
            return _unknown(buf, i, n) if avail >= n else None
        return _unknown(buf, i, 2)

    def _gs_k(self, buf: bytearray, i: int, p: int) -> _Step:
        """GS ( k with its whole body in the buffer: the QR functions, anything else skipped."""
        size = 5 + p
        if p < 3 or buf[i + 5] != 0x31:  # cn 49 = QR; PDF417, MaxiCode... are skipped
            return _unknown(buf, i, size)
        fn, arg = buf[i + 6], buf[i + 7]
        if fn == 0x41 and p >= 4 and arg in (49, 50, 51):
            return QrModel(arg - 48), size, 0
        if fn == 0x43 and 1 <= arg <= 16:
            return QrModuleSize(arg), size, 0
        if fn == 0x45 and arg in _QR_LEVELS:
            return QrErrorLevel(_QR_LEVELS[arg]), size, 0
        if fn == 0x50:
            return QrStore(bytes(buf[i + 8 : i + size])), size, 0
        if fn == 0x51:
            return QrPrint(), size, 0
        return _unknown(buf, i, size)

    def _dle(self, buf: bytearray, i: int, c: int, avail: int) -> _Step | None:
        if c == EOT:  # DLE EOT n (n 7, 8, 18 take one more byte)
            if avail < 3:
                return None
            n = buf[i + 2]
            if 1 <= n <= 4:
                return StatusRequest(n), 3, 0
            if n in (7, 8, 18):
                return _unknown(buf, i, 4) if avail >= 4 else None
            return _unknown(buf, i, 3)
        if c == 0x05:  # DLE ENQ n
            return _unknown(buf, i, 3) if avail >= 3 else None
        if c == 0x14:  # DLE DC4 fn ...: fn 8 takes 7 bytes, the others 2
            if avail < 3:
                return None
            n = 3 + (7 if buf[i + 2] == 8 else 2)
            return _unknown(buf, i, n) if avail >= n else None
        return _unknown(buf, i, 1)  # a lone DLE; the next byte is looked at afresh


def parse(data: bytes | Iterable[bytes]) -> list[Op]:
    """Every op of a complete stream (or of its chunks, in order)."""
    parser = EscPosParser()
    chunks = [data] if isinstance(data, bytes | bytearray) else data
    ops: list[Op] = []
    for chunk in chunks:
        ops += parser.feed(bytes(chunk))
    return ops + parser.flush()
