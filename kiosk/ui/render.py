"""Draws a kiosk layout with pygame: the only module of the kiosk that paints pixels."""

from __future__ import annotations

import math
from collections.abc import Sequence

import pygame
import qrcode

from kiosk.ui.fonts import Colour, Fonts
from kiosk.ui.layout import Box, Button, Preview, Qr, Spinner, Text, Widget

__all__ = ["THEME", "Renderer"]

THEME: dict[str, Colour] = {
    "bg": (242, 245, 249),
    "fg": (28, 36, 48),
    "muted": (96, 108, 124),
    "error": (196, 40, 40),
    "accent": (10, 84, 170),
    "white": (255, 255, 255),
    "green": (18, 128, 72),
    "header": (10, 72, 150),
    "footer": (226, 232, 240),
    "card": (255, 255, 255),
    "card_edge": (208, 216, 228),
    "field": (255, 255, 255),
    "field_edge": (10, 84, 170),
    "warn": (255, 243, 214),
    "warn_edge": (224, 160, 32),
    "disabled": (200, 206, 214),
    "disabled_fg": (136, 144, 156),
}

# button style → (fill, text colour, edge)
_BUTTONS: dict[str, tuple[Colour, Colour, Colour | None]] = {
    "normal": ((255, 255, 255), (28, 36, 48), (190, 200, 214)),
    "primary": ((10, 96, 200), (255, 255, 255), None),
    "green": ((18, 140, 80), (255, 255, 255), None),
    "help": ((232, 118, 24), (255, 255, 255), None),
    "locker": ((96, 70, 168), (255, 255, 255), None),
    "ghost": ((30, 96, 176), (255, 255, 255), (120, 160, 220)),
    "tab": ((255, 255, 255), (28, 36, 48), (190, 200, 214)),
    "key": ((255, 255, 255), (28, 36, 48), (170, 182, 198)),
    "nav": ((226, 232, 240), (28, 36, 48), (180, 190, 204)),
}
_SELECTED = ((10, 96, 200), (255, 255, 255), None)


class Renderer:
    """Paints widgets onto a surface; text and QR images are cached between frames."""

    def __init__(self, fonts: Fonts) -> None:
        self.fonts = fonts
        self._qr: dict[tuple[str, int], pygame.Surface] = {}

    def draw(
        self,
        surface: pygame.Surface,
        widgets: Sequence[Widget],
        now: float,
        preview: pygame.Surface | None = None,
        pressed: Button | None = None,
        outline: Sequence[tuple[float, float]] | None = None,
    ) -> None:
        """Paint `widgets`; `preview` is the camera frame, `outline` the page's corners in its pixels."""
        surface.fill(THEME["bg"])
        for widget in widgets:
            if isinstance(widget, Button):
                self._button(surface, widget, widget is pressed)
            elif isinstance(widget, Text):
                if widget.blink and int(now * 2) % 2:
                    continue
                self._text(surface, widget)
            elif isinstance(widget, Box):
                self._box(surface, widget)
            elif isinstance(widget, Qr):
                self._qr_code(surface, widget)
            elif isinstance(widget, Preview):
                self._preview(surface, widget, preview, outline if widget.outline else None)
            elif isinstance(widget, Spinner):
                self._spinner(surface, widget, now)

    # -- widgets ---------------------------------------------------------------------

    def _radius(self, rect: tuple[int, int, int, int]) -> int:
        return max(4, min(rect[2], rect[3]) // 10)

    def _box(self, surface: pygame.Surface, box: Box) -> None:
        rect = pygame.Rect(box.rect)
        if box.style in ("header", "footer"):
            surface.fill(THEME[box.style], rect)
            return
        if box.style in ("error", "go"):
            fill = THEME["error" if box.style == "error" else "green"]
            pygame.draw.rect(surface, fill, rect, border_radius=self._radius(box.rect))
            return
        fill, edge = {
            "card": (THEME["card"], THEME["card_edge"]),
            "field": (THEME["field"], THEME["field_edge"]),
            "warn": (THEME["warn"], THEME["warn_edge"]),
        }.get(box.style, (THEME["card"], THEME["card_edge"]))
        radius = min(self._radius(box.rect), 24)
        pygame.draw.rect(surface, fill, rect, border_radius=radius)
        pygame.draw.rect(surface, edge, rect, width=max(2, rect.height // 60), border_radius=radius)

    def _button(self, surface: pygame.Surface, button: Button, pressed: bool) -> None:
        fill, fg, edge = _SELECTED if button.selected else _BUTTONS.get(button.style, _BUTTONS["normal"])
        if not button.enabled:
            fill, fg, edge = THEME["disabled"], THEME["disabled_fg"], None
        elif pressed:
            fill = tuple(max(0, c - 40) for c in fill)  # type: ignore[assignment]
        rect = pygame.Rect(button.rect)
        radius = min(self._radius(button.rect), 28)
        pygame.draw.rect(surface, fill, rect, border_radius=radius)
        if edge is not None:
            pygame.draw.rect(surface, edge, rect, width=2, border_radius=radius)
        pad = max(6, min(rect.width, rect.height) // 12)
        inner_w = rect.width - 2 * pad
        size = button.size
        sub_size = max(14, int(size * 0.55))
        size, lines = self._fit(button.label, size, inner_w, rect.height - 2 * pad, True)
        sub_lines = self.fonts.wrap(button.sub, sub_size, inner_w) if button.sub else []
        sub_lines = sub_lines[:2]
        line_h = self.fonts.line_height(size)
        sub_h = self.fonts.line_height(sub_size)
        total = len(lines) * line_h + (len(sub_lines) * sub_h + pad // 2 if sub_lines else 0)
        y = rect.y + (rect.height - total) // 2
        for text in lines:
            img = self.fonts.render(text, size, fg, True)
            surface.blit(
                img, (rect.x + (rect.width - img.get_width()) // 2, y + (line_h - img.get_height()) // 2)
            )
            y += line_h
        y += pad // 2
        sub_fg = (
            fg
            if button.style in ("primary", "green", "help", "locker", "ghost") or not button.enabled
            else THEME["muted"]
        )
        for text in sub_lines:
            img = self.fonts.render(text, sub_size, sub_fg)
            surface.blit(
                img, (rect.x + (rect.width - img.get_width()) // 2, y + (sub_h - img.get_height()) // 2)
            )
            y += sub_h

    def _fit(self, text: str, size: int, width: int, height: int, bold: bool) -> tuple[int, list[str]]:
        """The largest size up to `size` at which `text` wraps into the box, with its lines."""
        while True:
            lines = self.fonts.wrap(text, size, width, bold)
            if (len(lines) * self.fonts.line_height(size) <= height and len(lines) <= 3) or size <= 14:
                return size, lines
            size = int(size * 0.88)

    def _text(self, surface: pygame.Surface, text: Text) -> None:
        if not text.text:
            return
        x, y, w, h = text.rect
        colour = THEME.get(text.colour, THEME["fg"])
        size = text.size
        # a single line that does not fit is shrunk rather than clipped: a label must stay whole
        while self.fonts.width(text.text, size, text.bold) > w and size > 12:
            size = int(size * 0.9)
        img = self.fonts.render(text.text, size, colour, text.bold)
        if text.align == "center":
            px = x + (w - img.get_width()) // 2
        elif text.align == "right":
            px = x + w - img.get_width()
        else:
            px = x
        surface.blit(img, (px, y + (h - img.get_height()) // 2))

    def _qr_code(self, surface: pygame.Surface, widget: Qr) -> None:
        side = min(widget.rect[2], widget.rect[3])
        key = (widget.data, side)
        image = self._qr.get(key)
        if image is None:
            code = qrcode.QRCode(border=2, error_correction=qrcode.constants.ERROR_CORRECT_M)
            code.add_data(widget.data)
            code.make(fit=True)
            matrix = code.get_matrix()
            n = len(matrix)
            module = max(1, side // n)
            image = pygame.Surface((n * module, n * module))
            image.fill((255, 255, 255))
            for r, row in enumerate(matrix):
                for c, dark in enumerate(row):
                    if dark:
                        image.fill((0, 0, 0), (c * module, r * module, module, module))
            self._qr[key] = image
        x, y, w, h = widget.rect
        surface.blit(image, (x + (w - image.get_width()) // 2, y + (h - image.get_height()) // 2))

    def _preview(
        self,
        surface: pygame.Surface,
        widget: Preview,
        preview: pygame.Surface | None,
        outline: Sequence[tuple[float, float]] | None,
    ) -> None:
        rect = pygame.Rect(widget.rect)
        surface.fill((20, 24, 30), rect)
        if preview is None:
            return
        scale = min(rect.width / preview.get_width(), rect.height / preview.get_height())
        size = (int(preview.get_width() * scale), int(preview.get_height() * scale))
        frame = pygame.transform.scale(preview, size)
        ox, oy = rect.x + (rect.width - size[0]) // 2, rect.y + (rect.height - size[1]) // 2
        surface.blit(frame, (ox, oy))
        if outline is not None and len(outline) == 4:
            # the page the pipeline sees, so the citizen knows what will be captured
            points = [(ox + x * scale, oy + y * scale) for x, y in outline]
            pygame.draw.lines(surface, (40, 220, 120), True, points, max(3, rect.width // 200))

    def _spinner(self, surface: pygame.Surface, widget: Spinner, now: float) -> None:
        x, y, w, h = widget.rect
        cx, cy, r = x + w // 2, y + h // 2, min(w, h) // 2
        dots = 12
        for i in range(dots):
            angle = 2 * math.pi * i / dots
            phase = (i - now * dots) % dots / dots
            shade = int(60 + 180 * phase)
            colour = (max(0, 10 + shade // 4), max(0, 84 + shade // 3), min(255, 120 + shade // 2))
            pygame.draw.circle(
                surface,
                colour,
                (int(cx + math.cos(angle) * r * 0.8), int(cy + math.sin(angle) * r * 0.8)),
                max(3, r // 8),
            )
