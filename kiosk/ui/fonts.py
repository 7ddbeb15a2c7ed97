"""Fonts for Chinese and English text, and a cache of rendered text (pygame.freetype).

Noto Sans CJK ships as a collection whose face 2 is Simplified Chinese: the default face 0
(Japanese) draws some hanzi with Japanese glyph shapes, which citizens notice.
"""

from __future__ import annotations

from collections import OrderedDict
from pathlib import Path

import pygame
import pygame.freetype

from yichuang.errors import YichuangError

__all__ = ["FontError", "Fonts", "find_cjk_font"]

_CANDIDATES = (
    ("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc", 2),
    ("/usr/share/fonts/opentype/noto/NotoSansCJK-Bold.ttc", 2),
    ("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc", 0),
    ("/usr/share/fonts/truetype/droid/DroidSansFallbackFull.ttf", 0),
)


class FontError(YichuangError, FileNotFoundError):
    """No font that has Chinese glyphs is installed (Debian: apt install fonts-noto-cjk)."""


def find_cjk_font(bold: bool = False) -> tuple[str, int]:
    """The path and face index of an installed CJK font, bold if one is there."""
    wanted = [c for c in _CANDIDATES if ("Bold" in c[0]) == bold] + list(_CANDIDATES)
    for path, index in wanted:
        if Path(path).is_file():
            return path, index
    raise FontError("no CJK font found: install fonts-noto-cjk")


Colour = tuple[int, int, int]


class Fonts:
    """Rendered text surfaces by (text, size, colour, bold), least recently used dropped first.

    Text rendering is most of a frame's cost; a kiosk screen shows the same few dozen strings
    frame after frame, so nearly every draw is a cache hit.
    """

    def __init__(self, capacity: int = 2048) -> None:
        pygame.freetype.init()
        regular = find_cjk_font(False)
        bold = find_cjk_font(True)
        self._faces: dict[bool, pygame.freetype.Font] = {
            False: pygame.freetype.Font(regular[0], 16, font_index=regular[1]),
            True: pygame.freetype.Font(bold[0], 16, font_index=bold[1]),
        }
        for face in self._faces.values():
            face.pad = False
        self._cache: OrderedDict[tuple[str, int, Colour, bool], pygame.Surface] = OrderedDict()
        self._widths: dict[tuple[str, int, bool], int] = {}
        self.capacity = capacity

    def render(self, text: str, size: int, colour: Colour, bold: bool = False) -> pygame.Surface:
        key = (text, size, colour, bold)
        surface = self._cache.get(key)
        if surface is not None:
            self._cache.move_to_end(key)
            return surface
        surface, _ = self._faces[bold].render(text, colour, size=size)
        surface = surface.convert_alpha() if pygame.display.get_surface() is not None else surface
        self._cache[key] = surface
        if len(self._cache) > self.capacity:
            self._cache.popitem(last=False)
        return surface

    def width(self, text: str, size: int, bold: bool = False) -> int:
        key = (text, size, bold)
        width = self._widths.get(key)
        if width is None:
            width = int(self._faces[bold].get_rect(text, size=size).width)
            if len(self._widths) > 8 * self.capacity:
                self._widths.clear()
            self._widths[key] = width
        return width

    def line_height(self, size: int) -> int:
        return int(size * 1.35)

    def wrap(self, text: str, size: int, width: int, bold: bool = False) -> list[str]:
        """Lines of `text` that fit `width`: English breaks at spaces, Chinese anywhere."""
        lines: list[str] = []
        for paragraph in text.split("\n"):
            line = ""
            for token in _tokens(paragraph):
                candidate = line + token
                if line and self.width(candidate.rstrip(), size, bold) > width:
                    lines.append(line.rstrip())
                    line = token.lstrip()
                else:
                    line = candidate
            lines.append(line.rstrip())
        return lines


def _tokens(text: str) -> list[str]:
    """Latin words (with their trailing space) stay whole; every other character is a token."""
    tokens: list[str] = []
    word = ""
    for ch in text:
        if ch.isascii() and not ch.isspace():
            word += ch
            continue
        if word:
            tokens.append(word)
            word = ""
        if ch == " " and tokens:
            tokens[-1] += ch
        else:
            tokens.append(ch)
    if word:
        tokens.append(word)
    return tokens
