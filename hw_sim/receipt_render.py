"""What an 80 mm thermal printer would put on paper for a run of ESC/POS ops, as an image.

`layout_receipt` plays the ops like the printer's firmware: modes (alignment, bold, character
size, Chinese mode), a line buffer printed at LF / ESC d / QR print and wrapped at the paper's
576 dots, the stored QR code. It yields the decoded text lines and QR texts that tests
assert on. `render_receipt` paints that layout at the printer's resolution (203 dpi,
576 dots a line) with the real CJK font, in the character cells of the printer's font A
(12x24 dots, a Chinese character 24x24) or font B (9x17).
"""

from __future__ import annotations

import functools
import math
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path

import qrcode
import qrcode.constants
import qrcode.exceptions
from PIL import Image, ImageDraw, ImageFont

from firmware_bridge.codecs.escpos import (
    Align,
    Bold,
    CharSize,
    Cut,
    Feed,
    Init,
    KanjiMode,
    LineFeed,
    Op,
    PrintMode,
    QrErrorLevel,
    QrModuleSize,
    QrPrint,
    QrStore,
    Text,
)

__all__ = [
    "FONT_BOLD",
    "FONT_REGULAR",
    "LINE_PITCH",
    "MAX_HEIGHT",
    "PAPER_DOTS",
    "Glyph",
    "QrBlock",
    "ReceiptLayout",
    "TextLine",
    "layout_receipt",
    "render_receipt",
]


PAPER_DOTS = 576
"""Printable width of 80 mm paper at 203 dpi (72 mm), in dots = image pixels."""
LINE_PITCH = 30
"""The default line spacing (ESC 2, about 1/6 inch at 203 dpi), in dots."""
MAX_HEIGHT = 20_000
"""A receipt taller than this (2.5 m of paper) is cut off: garbage must not eat the memory."""

FONT_REGULAR = Path("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc")
FONT_BOLD = Path("/usr/share/fonts/opentype/noto/NotoSansCJK-Bold.ttc")
# The monospaced Simplified Chinese face of the collection: Latin exactly half a CJK cell, like
# a printer's font, and the mainland glyph forms.
_FACE = "Noto Sans Mono CJK SC"
_BASELINE = 0.88  # of the cell height: the CJK em box has 0.12 em below the baseline
_DESCENT_ROOM = 1.12  # Latin descenders go about 0.24 em below the baseline

_FONT_A = (12, 24)  # half-width cell, dots
_FONT_B = (9, 17)
_QR_LEVELS = {
    "L": qrcode.constants.ERROR_CORRECT_L,
    "M": qrcode.constants.ERROR_CORRECT_M,
    "Q": qrcode.constants.ERROR_CORRECT_Q,
    "H": qrcode.constants.ERROR_CORRECT_H,
}


@dataclass(frozen=True)
class Glyph:
    """One printed character in its cell (`width` x `height` dots)."""

    char: str
    width: int
    height: int
    bold: bool


@dataclass
class TextLine:
    """One printed line: its glyphs left to right, its alignment (0 left, 1 centre, 2 right)."""

    glyphs: list[Glyph]
    align: int

    @property
    def width(self) -> int:
        """Dots the glyphs take."""
        return sum(g.width for g in self.glyphs)

    @property
    def pitch(self) -> int:
        """Dots the paper moves for this line: the tallest glyph plus the line gap."""
        tallest = max((g.height for g in self.glyphs), default=24)
        return max(LINE_PITCH, tallest + LINE_PITCH - 24)

    @property
    def text(self) -> str:
        """The line as text."""
        return "".join(g.char for g in self.glyphs)


@dataclass(frozen=True)
class QrBlock:
    """A printed QR code: its data, module size in dots, error correction, alignment."""

    data: bytes
    module: int
    level: str
    align: int


@dataclass(frozen=True)
class Gap:
    """Paper fed without printing, in dots."""

    dots: int


@dataclass(frozen=True)
class CutMark:
    """Where the cutter cut (drawn as a dashed line when more follows)."""

    partial: bool


Block = TextLine | QrBlock | Gap | CutMark


@dataclass
class ReceiptLayout:
    """What the ops put on paper, top to bottom, with its decoded text and QR texts."""

    blocks: list[Block] = field(default_factory=list)
    lines: list[str] = field(default_factory=list)
    qr_texts: list[str] = field(default_factory=list)
    height: int = 0
    truncated: bool = False


def _is_wide(ch: str) -> bool:
    return unicodedata.east_asian_width(ch) in ("W", "F")


class _Printer:
    """The firmware's modes and line buffer while the ops are played."""

    def __init__(self, out: ReceiptLayout) -> None:
        self.out = out
        self.reset()

    def reset(self) -> None:
        self.align = 0
        self.bold = False
        self.font_b = False
        self.width = 1
        self.height = 1
        self.kanji = False
        self.qr_module = 3
        self.qr_level = "L"
        self.qr_data = b""
        self.pending = bytearray()  # text bytes not yet decoded (one style, one mode)
        self.line: list[Glyph] = []
        self.line_align = 0

    def add(self, block: Block) -> None:
        out = self.out
        if out.truncated:
            return
        dots = _block_height(block)
        if out.height + dots > MAX_HEIGHT:
            out.truncated = True
            return
        out.blocks.append(block)
        out.height += dots

    def decode(self) -> None:
        """Turn pending bytes into glyphs with the current style, wrapping at the paper's edge."""
        if not self.pending:
            return
        encoding = "gb18030" if self.kanji else "cp437"
        text = bytes(self.pending).decode(encoding, errors="replace")
        self.pending.clear()
        cell_w, cell_h = _FONT_B if self.font_b else _FONT_A
        for ch in text:
            if not ch.isprintable():
                continue
            wide = self.kanji and _is_wide(ch)
            glyph = Glyph(ch, cell_w * (2 if wide else 1) * self.width, cell_h * self.height, self.bold)
            if self.line and sum(g.width for g in self.line) + glyph.width > PAPER_DOTS:
                self.print_line()
            if not self.line:
                self.line_align = self.align  # ESC a counts at the start of a line only
            if glyph.width <= PAPER_DOTS:
                self.line.append(glyph)

    def print_line(self, *, feed_if_empty: bool = False) -> None:
        self.decode()
        if self.line:
            self.add(TextLine(self.line, self.line_align))
            text = "".join(g.char for g in self.line).strip()
            if text:
                self.out.lines.append(text)
            self.line = []
        elif feed_if_empty:
            self.add(Gap(LINE_PITCH))

    def play(self, op: Op) -> None:
        match op:
            case Text(data):
                self.pending += data
            case LineFeed():
                self.print_line(feed_if_empty=True)
            case Feed(lines):
                self.print_line()
                if lines:
                    self.add(Gap(lines * LINE_PITCH))
            case Init():
                self.pending.clear()
                self.line = []  # ESC @ clears the unprinted buffer
                out = self.out
                self.reset()
                self.out = out
            case Align(align):
                self.align = align
                if not self.line and not self.pending:
                    self.line_align = align
            case Bold(on):
                self.decode()
                self.bold = on
            case PrintMode():
                self.decode()
                self.font_b, self.bold = op.font_b, op.bold
                self.width, self.height = op.width, op.height
            case CharSize(width, height):
                self.decode()
                self.width, self.height = width, height
            case KanjiMode(on):
                self.decode()
                self.kanji = on
            case QrModuleSize(size):
                self.qr_module = size
            case QrErrorLevel(level):
                self.qr_level = level
            case QrStore(data):
                self.qr_data = data
            case QrPrint():
                self.print_line()
                if self.qr_data:
                    self.add(QrBlock(self.qr_data, self.qr_module, self.qr_level, self.align))
                    self.out.qr_texts.append(self.qr_data.decode("utf-8", errors="replace"))
            case Cut(partial, feed):
                self.print_line()
                if feed:
                    self.add(Gap(feed))
                self.add(CutMark(partial))
            case _:
                pass  # QrModel (every model is drawn as model 2), StatusRequest, Unknown


def layout_receipt(ops: list[Op]) -> ReceiptLayout:
    """Play `ops` from a freshly initialised printer; what is left in the buffer is printed."""
    out = ReceiptLayout()
    printer = _Printer(out)
    for op in ops:
        printer.play(op)
    printer.print_line()
    return out


# --- painting -----------------------------------------------------------------------------


@functools.lru_cache(maxsize=8)
def _font(bold: bool, size: int) -> ImageFont.FreeTypeFont:
    path = FONT_BOLD if bold and FONT_BOLD.exists() else FONT_REGULAR
    for index in range(16):
        font = ImageFont.truetype(str(path), size, index=index)
        if font.getname()[0] == _FACE:
            return font
    return ImageFont.truetype(str(path), size)


@functools.lru_cache(maxsize=4096)
def _glyph_image(char: str, width: int, height: int, bold: bool) -> Image.Image:
    """The glyph as an ink mask filling its cell: drawn with the em box = the cell height,
    stretched for a width multiplier unlike the height's, squeezed only if too wide."""
    font = _font(bold, height)
    fake_bold = bold and not FONT_BOLD.exists()
    advance = max(1, round(font.getlength(char)))
    # taller than the cell: Latin descenders (g, p, y) reach below the CJK em box into the line gap
    img = Image.new("L", (advance + 2, math.ceil(height * _DESCENT_ROOM)), 0)
    ImageDraw.Draw(img).text(
        (1, round(height * _BASELINE)), char, font=font, fill=255, anchor="ls", stroke_width=int(fake_bold)
    )
    # At the font's own aspect a character is `height` wide (CJK) or half that (Latin);
    # stretch by the cell's aspect (double width, font B) and never spill out of the cell.
    natural = height if _is_wide(char) else height / 2
    target = max(1, min(round(img.width * width / natural), width))
    if target != img.width:
        img = img.resize((target, img.height), Image.Resampling.LANCZOS)
    return img


def _qr_matrix(block: QrBlock) -> list[list[bool]] | None:
    code = qrcode.QRCode(version=None, error_correction=_QR_LEVELS[block.level], box_size=1, border=0)
    try:
        code.add_data(block.data)
        code.make(fit=True)
    except (ValueError, qrcode.exceptions.DataOverflowError):
        return None  # a real printer prints nothing for data it cannot encode
    return [list(row) for row in code.get_matrix()]


def _block_height(block: Block) -> int:
    if isinstance(block, TextLine):
        return block.pitch
    if isinstance(block, Gap):
        return block.dots
    if isinstance(block, QrBlock):
        matrix = _qr_matrix(block)
        return len(matrix) * block.module if matrix is not None else 0
    return 0


def _x(align: int, width: int) -> int:
    if align == 1:
        return max(0, (PAPER_DOTS - width) // 2)
    if align == 2:
        return max(0, PAPER_DOTS - width)
    return 0


def render_receipt(ops: list[Op], *, margin: int = 16) -> Image.Image:
    """The receipt as a grayscale image, 576 pixels (dots) wide, black on white.

    `margin` white dots are added above the first and below the last block, like the blank
    paper a printer leaves before its first line and after the cut.
    """
    layout = layout_receipt(ops)
    img = Image.new("L", (PAPER_DOTS, layout.height + 2 * margin), 255)
    draw = ImageDraw.Draw(img)
    y = margin
    for i, block in enumerate(layout.blocks):
        if isinstance(block, TextLine):
            tallest = max(g.height for g in block.glyphs)
            x = _x(block.align, block.width)
            for g in block.glyphs:
                mask = _glyph_image(g.char, g.width, g.height, g.bold)
                # every glyph sits on the line's common baseline
                top = y + round(tallest * _BASELINE) - round(g.height * _BASELINE)
                img.paste(0, (x + (g.width - mask.width) // 2, top), mask)
                x += g.width
            y += block.pitch
        elif isinstance(block, QrBlock):
            matrix = _qr_matrix(block)
            if matrix is None:
                continue
            size = len(matrix) * block.module
            x0 = _x(block.align, size)
            for r, row in enumerate(matrix):
                for c, dark in enumerate(row):
                    if dark:
                        left, top = x0 + c * block.module, y + r * block.module
                        draw.rectangle((left, top, left + block.module - 1, top + block.module - 1), fill=0)
            y += size
        elif isinstance(block, Gap):
            y += block.dots
        elif isinstance(block, CutMark) and i < len(layout.blocks) - 1:
            for x in range(0, PAPER_DOTS, 16):  # another receipt follows: show the cut
                draw.line((x, y, x + 7, y), fill=128)
    return img
