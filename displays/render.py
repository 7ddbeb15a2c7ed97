"""Drawing a `Screen` (view_model) with pygame, into any surface: the TV, or a PNG in a test.

Text is rendered with pygame.freetype from Noto Sans CJK SC (face 2 of the .ttc: face 0 is
the Japanese one, whose glyph shapes differ for some hanzi) and cached by text, size and
colour, so a frame is mostly blits: a 1080p frame takes a few milliseconds. Every size is in
layout units, never pixels.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path

import pygame
import pygame.freetype

from displays.layout import Box, Layout, compute_layout, grid_cells, page_of
from displays.view_model import Call, QueueRow, Screen, WindowRow

__all__ = ["FONT_BOLD", "FONT_REGULAR", "Fonts", "HallRenderer"]

FONT_REGULAR = Path("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc")
FONT_BOLD = Path("/usr/share/fonts/opentype/noto/NotoSansCJK-Bold.ttc")
_SC_FACE = 2  # Noto Sans CJK SC inside the .ttc collections

PAGE_S = 8.0  # windows and queues that do not fit are shown a page at a time
_SCROLL_UNITS_PER_S = 14.0  # the notice line's speed

Color = tuple[int, int, int]
BG: Color = (9, 22, 44)
PANEL: Color = (20, 42, 76)
PANEL_LINE: Color = (44, 72, 112)
HEADER: Color = (168, 26, 34)
FOOTER: Color = (14, 32, 62)
WHITE: Color = (246, 247, 250)
MUTED: Color = (150, 170, 196)
GOLD: Color = (255, 205, 60)
DARK: Color = (24, 20, 8)
GREEN: Color = (96, 214, 140)
AMBER: Color = (255, 170, 64)
BADGES: tuple[Color, ...] = ((42, 110, 200), (28, 140, 110), (150, 90, 200), (200, 110, 40), (60, 130, 160))

_STATUS = {"calling": ("呼叫中", "Calling", GOLD), "serving": ("办理中", "Serving", GREEN)}


@dataclass
class Fonts:
    """The two faces the display uses, loaded once; sizes are set per render."""

    regular: pygame.freetype.Font
    bold: pygame.freetype.Font

    @classmethod
    def load(cls, regular: Path = FONT_REGULAR, bold: Path = FONT_BOLD) -> Fonts:
        """Noto Sans CJK SC; raises FileNotFoundError naming the Debian package when absent."""
        for path in (regular, bold):
            if not path.is_file():
                raise FileNotFoundError(f"font {path} missing (Debian package fonts-noto-cjk)")
        pygame.freetype.init()
        fonts = cls(
            pygame.freetype.Font(str(regular), 16, font_index=_SC_FACE),
            pygame.freetype.Font(str(bold), 16, font_index=_SC_FACE),
        )
        for font in (fonts.regular, fonts.bold):
            # the full line height, not the glyphs' bounds: texts side by side share a baseline
            font.pad = True
        return fonts


class HallRenderer:
    """Draws the hall display for one screen size and orientation."""

    def __init__(
        self, size: tuple[int, int], portrait: bool | None = None, fonts: Fonts | None = None
    ) -> None:
        self.layout: Layout = compute_layout(size[0], size[1], portrait)
        self.fonts = fonts or Fonts.load()
        self._cache: OrderedDict[tuple[str, int, bool, Color], pygame.Surface] = OrderedDict()
        u = self.layout.unit
        self._gap = 1.2 * u
        self._recent_cells = grid_cells(
            self._below_title(self.layout.recent),
            self.layout.recent_cols,
            self.layout.recent_row,
            0.5 * u,
            2 * u,
        )
        self._window_cells = grid_cells(
            self._below_title(self.layout.windows), self.layout.window_cols, self.layout.window_row, 1.0 * u
        )
        self._queue_cells = grid_cells(
            self._below_title(self.layout.queues, header_row=True),
            self.layout.queue_cols,
            self.layout.queue_row,
            0.4 * u,
            3.0 * u,
        )

    # -- text ---------------------------------------------------------------------

    def text(
        self, text: str, size_u: float, color: Color, bold: bool = False, max_w: float = 0
    ) -> pygame.Surface:
        """`text` rendered at `size_u` units, from the cache; wider than `max_w` px, it is shrunk
        down to 3/4 of its size, then cut with an ellipsis (smaller would not be read from afar)."""
        px = max(6, round(size_u * self.layout.unit))
        surface = self._render(text, px, bold, color)
        if not max_w or surface.get_width() <= max_w:
            return surface
        scaled = max(6, int(px * max_w / surface.get_width()))
        if scaled >= px * 0.75:
            return self._render(text, scaled, bold, color)
        px = max(6, round(px * 0.75))
        for end in range(len(text) - 1, 0, -1):
            surface = self._render(text[:end].rstrip() + "…", px, bold, color)
            if surface.get_width() <= max_w:
                return surface
        return surface

    def _render(self, text: str, px: int, bold: bool, color: Color) -> pygame.Surface:
        key = (text, px, bold, color)
        surface = self._cache.get(key)
        if surface is None:
            font = self.fonts.bold if bold else self.fonts.regular
            surface, _ = font.render(text, fgcolor=color, size=px)
            surface = surface.convert_alpha() if pygame.display.get_surface() is not None else surface
            self._cache[key] = surface
            if len(self._cache) > 3000:  # the clock and changing tickets would grow it forever
                self._cache.popitem(last=False)
        else:
            self._cache.move_to_end(key)
        return surface

    def _blit(
        self,
        target: pygame.Surface,
        surface: pygame.Surface,
        box: Box,
        align: str = "left",
        valign: str = "middle",
    ) -> None:
        x = box.x
        if align == "center":
            x = box.x + (box.w - surface.get_width()) // 2
        elif align == "right":
            x = box.x + box.w - surface.get_width()
        y = box.y
        if valign == "middle":
            y = box.y + (box.h - surface.get_height()) // 2
        elif valign == "bottom":
            y = box.y + box.h - surface.get_height()
        target.blit(surface, (x, y))

    # -- frame --------------------------------------------------------------------

    def draw(self, target: pygame.Surface, screen: Screen, now: float) -> None:
        """Draw the whole frame of `screen` at monotonic time `now` (blink, paging, scrolling)."""
        target.fill(BG)
        self._header(target, screen)
        self._call(target, screen)
        self._recent(target, screen)
        self._windows(target, screen, now)
        self._queues(target, screen, now)
        self._footer(target, screen, now)

    def _below_title(self, box: Box, header_row: bool = False) -> Box:
        u = self.layout.unit
        top = 6.0 * u + (4.0 * u if header_row else 0)
        return Box(
            box.x + round(1.2 * u), box.y + round(top), box.w - round(2.4 * u), box.h - round(top + 1.2 * u)
        )

    def _panel(self, target: pygame.Surface, box: Box, zh: str, en: str, english: bool) -> None:
        u = self.layout.unit
        pygame.draw.rect(target, PANEL, box, border_radius=round(1.2 * u))
        title = self.text(zh, 3.4, WHITE, bold=True)
        title_box = Box(box.x + round(1.6 * u), box.y + round(0.8 * u), box.w, round(4.6 * u))
        self._blit(target, title, title_box)
        if english:
            sub = self.text(en, 2.4, MUTED)
            self._blit(
                target,
                sub,
                Box(title_box.x + title.get_width() + round(1.2 * u), title_box.y, box.w, title_box.h),
            )
        y = box.y + round(5.6 * u)
        pygame.draw.line(
            target, PANEL_LINE, (box.x + round(1.6 * u), y), (box.x + box.w - round(1.6 * u), y), 2
        )

    def _header(self, target: pygame.Surface, screen: Screen) -> None:
        u = self.layout.unit
        box = self.layout.header
        pygame.draw.rect(target, HEADER, box)
        inner = box.inset(2 * u, 0)
        name = self.text(screen.hall_name, 4.6, WHITE, bold=True, max_w=inner.w * 0.62)
        if screen.english and not self.layout.portrait:
            self._blit(target, name, Box(inner.x, inner.y + round(0.8 * u), inner.w, round(5.2 * u)))
            en = self.text(screen.hall_name_en, 2.2, (255, 222, 222), max_w=inner.w * 0.6)
            self._blit(target, en, Box(inner.x, inner.y + round(5.8 * u), inner.w, round(2.6 * u)))
        else:
            self._blit(target, name, inner)
        clock = self.text(screen.clock, 5.2, WHITE, bold=True)
        self._blit(target, clock, inner, align="right")
        date = self.text(screen.date, 2.6, (255, 222, 222))
        date_box = Box(inner.x, inner.y, inner.w - clock.get_width() - round(1.6 * u), inner.h)
        self._blit(target, date, date_box, align="right")
        if not screen.online:
            badge = self.text("连接中… Reconnecting", 2.6, DARK, bold=True)
            w, h = badge.get_width() + round(2.4 * u), round(4.4 * u)
            bx = date_box.x + date_box.w - date.get_width() - w - round(2 * u)
            pill = Box(bx, box.y + (box.h - h) // 2, w, h)
            pygame.draw.rect(target, AMBER, pill, border_radius=h // 2)
            self._blit(target, badge, pill, align="center")

    def _call(self, target: pygame.Surface, screen: Screen) -> None:
        u = self.layout.unit
        box = self.layout.call
        call = screen.latest
        lit = screen.flashing and screen.blink_on
        bg, fg, accent, muted = (GOLD, DARK, DARK, (90, 70, 20)) if lit else (PANEL, WHITE, GOLD, MUTED)
        pygame.draw.rect(target, bg, box, border_radius=round(1.2 * u))
        if screen.flashing:
            pygame.draw.rect(target, GOLD, box, width=round(0.6 * u), border_radius=round(1.2 * u))
        inner = box.inset(2 * u, 1.2 * u)
        title = "正在呼叫" + ("  Now calling" if screen.english else "")
        self._blit(
            target, self.text(title, 3.2, muted), Box(inner.x, inner.y, inner.w, round(4 * u)), "center"
        )
        if call is None:
            self._blit(target, self.text("----", 16, muted, bold=True), inner, "center")
            wait = "暂无叫号" + (" · No calls yet" if screen.english else "")
            self._blit(
                target,
                self.text(wait, 3.2, muted),
                Box(inner.x, inner.y, inner.w, inner.h),
                "center",
                "bottom",
            )
            return
        en_h = 4.4 * u if screen.english else 0
        where_h = 9.5 * u
        number_box = Box(inner.x, inner.y + round(4 * u), inner.w, round(inner.h - 4 * u - where_h - en_h))
        size = min(24.0, number_box.h / u * 0.95)
        self._blit(
            target, self.text(call.ticket, size, accent, bold=True, max_w=inner.w), number_box, "center"
        )
        where = self.text(f"请到 {call.label}", 8.0, fg, bold=True, max_w=inner.w)
        self._blit(
            target, where, Box(inner.x, number_box.y + number_box.h, inner.w, round(where_h)), "center"
        )
        if screen.english:
            en = f"Number {call.ticket}, please go to {call.label_en or call.label}"
            self._blit(
                target,
                self.text(en, 3.4, muted, max_w=inner.w),
                Box(inner.x, number_box.y + number_box.h + round(where_h), inner.w, round(en_h)),
                "center",
            )

    def _recent(self, target: pygame.Surface, screen: Screen) -> None:
        self._panel(target, self.layout.recent, "最近呼叫", "Recent calls", screen.english)
        for i, (cell, call) in enumerate(zip(self._recent_cells, screen.recent, strict=False)):
            self._recent_row(target, cell, call, newest=i == 0)
        if not screen.recent:
            empty = self.text("暂无", 3.2, MUTED)
            self._blit(target, empty, self._recent_cells[0])

    def _recent_row(self, target: pygame.Surface, cell: Box, call: Call, newest: bool) -> None:
        u = self.layout.unit
        if newest:
            pygame.draw.rect(target, PANEL_LINE, cell, border_radius=round(0.8 * u))
        inner = cell.inset(1.2 * u, 0)
        number = self.text(call.ticket, 4.8, GOLD, bold=True, max_w=inner.w * 0.45)
        self._blit(target, number, inner)
        label = self.text(call.label, 4.2, WHITE, max_w=inner.w * 0.52)
        self._blit(target, label, inner, align="right")

    def _windows(self, target: pygame.Surface, screen: Screen, now: float) -> None:
        self._panel(target, self.layout.windows, "窗口", "Windows", screen.english)
        rows, page, pages = page_of(screen.windows, len(self._window_cells), now, PAGE_S)
        for cell, row in zip(self._window_cells, rows, strict=False):
            self._window_card(target, cell, row, screen.english)
        if not screen.windows:
            self._blit(target, self.text("暂无开放窗口", 3.2, MUTED), self._window_cells[0])
        self._page_mark(target, self.layout.windows, page, pages)

    def _window_card(self, target: pygame.Surface, cell: Box, row: WindowRow, english: bool) -> None:
        u = self.layout.unit
        pygame.draw.rect(target, BG, cell, border_radius=round(0.9 * u))
        inner = cell.inset(1.2 * u, 0.8 * u)
        label_h = round(4.2 * u)
        label = self.text(row.label, 3.4, WHITE, bold=True, max_w=inner.w * 0.62)
        self._blit(target, label, Box(inner.x, inner.y, inner.w, label_h))
        status = _STATUS.get(row.status)
        if status is not None:
            chip = self.text(status[0], 2.4, status[2], max_w=inner.w * 0.36)
            self._blit(target, chip, Box(inner.x, inner.y, inner.w, label_h), align="right")
        body = Box(inner.x, inner.y + label_h, inner.w, inner.h - label_h)
        caption = row.caption
        if caption.ticket is not None:
            color = GOLD if row.status == "calling" else WHITE
            self._blit(
                target, self.text(caption.ticket, 6.2, color, bold=True, max_w=inner.w), body, "center"
            )
            return
        color = AMBER if caption.rule.startswith("paused") else GREEN
        text = caption.text + (f"\n{caption.text_en}" if english else "")
        lines = text.split("\n")
        line_h = body.h // len(lines)
        for i, line in enumerate(lines):
            surface = self.text(
                line, 3.4 if i == 0 else 2.4, color if i == 0 else MUTED, bold=i == 0, max_w=inner.w
            )
            self._blit(target, surface, Box(body.x, body.y + i * line_h, body.w, line_h), "center")

    def _queues(self, target: pygame.Surface, screen: Screen, now: float) -> None:
        u = self.layout.unit
        box = self.layout.queues
        self._panel(target, box, "等候情况", "Waiting", screen.english)
        cells = self._queue_cells
        cols = self.layout.queue_cols
        head_y = box.y + round(6.0 * u)
        for c in range(cols):
            cell = cells[c]
            head = Box(cell.x, head_y, cell.w, round(4 * u))
            name_w, count_w, _ = self._queue_columns(cell)
            en = screen.english
            self._blit(target, self.text("事项" + (" Service" if en else ""), 2.4, MUTED), head)
            count_box = Box(cell.x + name_w, head.y, count_w, head.h)
            self._blit(target, self.text("等候", 2.4, MUTED), count_box, "right")
            self._blit(target, self.text("预计" + (" Est." if en else ""), 2.4, MUTED), head, "right")
        rows, page, pages = page_of(screen.queues, len(cells), now, PAGE_S)
        for i, (cell, row) in enumerate(zip(cells, rows, strict=False)):
            self._queue_row(target, cell, row, screen.english, i)
        if not screen.queues:
            self._blit(target, self.text("暂无等候 · Nobody waiting", 3.2, MUTED), cells[0])
        self._page_mark(target, box, page, pages)

    def _queue_columns(self, cell: Box) -> tuple[int, int, int]:
        """Widths of the name, count and wait columns of a queue row."""
        count_w = round(cell.w * 0.17)
        wait_w = round(cell.w * 0.21)
        return cell.w - count_w - wait_w, count_w, wait_w

    def _queue_row(self, target: pygame.Surface, cell: Box, row: QueueRow, english: bool, index: int) -> None:
        u = self.layout.unit
        name_w, count_w, wait_w = self._queue_columns(cell)
        badge = Box(cell.x, cell.y + round((cell.h - 5.2 * u) / 2), round(5.2 * u), round(5.2 * u))
        color = BADGES[(ord(row.prefix[:1] or "A") - 65) % len(BADGES)]
        pygame.draw.rect(target, color, badge, border_radius=round(0.8 * u))
        self._blit(target, self.text(row.prefix, 3.4, WHITE, bold=True), badge, "center")
        text_x = badge.x + badge.w + round(1.2 * u)
        text_w = name_w - (text_x - cell.x) - round(1 * u)
        if english:
            name = self.text(row.name, 3.2, WHITE, max_w=text_w)
            self._blit(target, name, Box(text_x, cell.y, text_w, round(cell.h * 0.6)), valign="bottom")
            en = self.text(row.name_en, 2.0, MUTED, max_w=text_w)
            self._blit(
                target,
                en,
                Box(text_x, cell.y + round(cell.h * 0.6), text_w, round(cell.h * 0.4)),
                valign="top",
            )
        else:
            self._blit(
                target, self.text(row.name, 3.6, WHITE, max_w=text_w), Box(text_x, cell.y, text_w, cell.h)
            )
        count_box = Box(cell.x + name_w, cell.y, count_w, cell.h)
        count = self.text(str(row.waiting), 4.6, GOLD, bold=True)
        unit = self.text("人", 2.4, MUTED)
        self._blit(target, unit, count_box, "right")
        self._blit(
            target, count, Box(count_box.x, count_box.y, count_box.w - unit.get_width(), count_box.h), "right"
        )
        wait_box = Box(cell.x + cell.w - wait_w, cell.y, wait_w, cell.h)
        wait = "—" if row.wait_min is None else ("即将" if row.wait_min <= 1 else f"{row.wait_min}分钟")
        self._blit(target, self.text(wait, 3.2, WHITE, max_w=wait_w), wait_box, "right")

    def _page_mark(self, target: pygame.Surface, box: Box, page: int, pages: int) -> None:
        if pages <= 1:
            return
        u = self.layout.unit
        mark = self.text(f"{page + 1}/{pages}", 2.4, MUTED)
        self._blit(
            target, mark, Box(box.x, box.y + round(0.8 * u), box.w - round(1.6 * u), round(4.6 * u)), "right"
        )

    def _footer(self, target: pygame.Surface, screen: Screen, now: float) -> None:
        u = self.layout.unit
        box = self.layout.footer
        pygame.draw.rect(target, FOOTER, box)
        notice = screen.notice or "请留意屏幕及语音叫号，过号请到服务台咨询"
        if screen.english:
            notice_en = screen.notice_en or "Please watch the screen and listen for your number."
            notice = f"{notice}      {notice_en}"
        surface = self.text(notice, 3.4, WHITE)
        speed = _SCROLL_UNITS_PER_S * u
        span = surface.get_width() + box.w
        # starts at the left margin, so the notice is readable from the first frame
        x = box.x + box.w - int((now * speed + box.w - 2 * u) % span)
        clip = target.get_clip()
        target.set_clip(box)
        target.blit(surface, (x, box.y + (box.h - surface.get_height()) // 2))
        target.set_clip(clip)
