"""Where each part of the hall display goes, from the screen's size alone (pure).

Everything is measured in `unit`s of 1/100 of the screen's shorter side, so a 1080p TV and
a 4K TV show the same picture, and text sizes follow the screen, never fixed pixels. At
1080 lines a unit is 10.8 px; on a 55-inch TV that is about 6.3 mm, so the 20-unit ticket
of the current call is 13 cm tall and a window's 7-unit ticket 4.4 cm: readable from 10 m
(signage practice asks for about 3 cm per 10 m of viewing distance).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import NamedTuple, TypeVar

__all__ = ["Box", "Layout", "compute_layout", "grid_cells", "page_of"]

T = TypeVar("T")


class Box(NamedTuple):
    """A rectangle in pixels."""

    x: int
    y: int
    w: int
    h: int

    def inset(self, dx: float, dy: float | None = None) -> Box:
        """The box shrunk by dx on the left and right, dy on the top and bottom."""
        dy = dx if dy is None else dy
        return Box(round(self.x + dx), round(self.y + dy), round(self.w - 2 * dx), round(self.h - 2 * dy))


@dataclass(frozen=True)
class Layout:
    """The regions of one screen and the grid each list is laid out in."""

    width: int
    height: int
    unit: float
    portrait: bool
    header: Box
    footer: Box
    call: Box  # the current call, large
    recent: Box  # recent calls
    windows: Box  # open windows
    queues: Box  # waiting counts and estimated waits
    recent_cols: int
    window_cols: int
    queue_cols: int
    recent_row: float  # row heights, px
    window_row: float
    queue_row: float


def compute_layout(width: int, height: int, portrait: bool | None = None) -> Layout:
    """The layout of a `width` x `height` screen; portrait when taller than wide unless told."""
    if portrait is None:
        portrait = height > width
    u = min(width, height) / 100
    header = Box(0, 0, width, round(9 * u))
    footer = Box(0, height - round(7 * u), width, round(7 * u))
    gap = 1.5 * u
    top = header.h + gap
    body_h = footer.y - gap - top
    if not portrait:
        left_w = 0.40 * width - 2 * gap
        right_x = gap + left_w + gap
        right_w = width - right_x - gap
        call_h = 0.46 * body_h
        windows_h = 0.54 * body_h
        call = Box(round(gap), round(top), round(left_w), round(call_h))
        recent = Box(round(gap), round(top + call_h + gap), round(left_w), round(body_h - call_h - gap))
        windows = Box(round(right_x), round(top), round(right_w), round(windows_h))
        queues = Box(
            round(right_x), round(top + windows_h + gap), round(right_w), round(body_h - windows_h - gap)
        )
        cols = (2, 4, 2)
    else:
        full_w = width - 2 * gap
        heights = [0.21, 0.27, 0.25]  # call, recent, windows; queues take the rest
        boxes = []
        y = top
        for share in heights:
            h = share * body_h
            boxes.append(Box(round(gap), round(y), round(full_w), round(h - gap)))
            y += h
        call, recent, windows = boxes
        queues = Box(round(gap), round(y), round(full_w), round(footer.y - gap - y))
        cols = (2, 3, 1)
    return Layout(
        width=width,
        height=height,
        unit=u,
        portrait=portrait,
        header=header,
        footer=footer,
        call=call,
        recent=recent,
        windows=windows,
        queues=queues,
        recent_cols=cols[0],
        window_cols=cols[1],
        queue_cols=cols[2],
        recent_row=5.9 * u,
        window_row=11.0 * u,
        queue_row=7.0 * u,
    )


def grid_cells(area: Box, cols: int, row_h: float, gap: float, col_gap: float | None = None) -> list[Box]:
    """The cells of a grid filling `area` by rows of `cols`, as many rows as fit (at least one)."""
    rows = max(1, int((area.h + gap) // (row_h + gap)))
    col_gap = gap if col_gap is None else col_gap
    cell_w = (area.w - (cols - 1) * col_gap) / cols
    cell_h = (area.h - (rows - 1) * gap) / rows if rows > 1 else min(area.h, row_h)
    cell_h = min(cell_h, row_h * 1.25)  # a few windows get somewhat taller cards, not huge ones
    return [
        Box(
            round(area.x + c * (cell_w + col_gap)),
            round(area.y + r * (cell_h + gap)),
            round(cell_w),
            round(cell_h),
        )
        for r in range(rows)
        for c in range(cols)
    ]


def page_of(items: Sequence[T], capacity: int, now: float, period_s: float) -> tuple[Sequence[T], int, int]:
    """The items shown at `now` when they are paged `capacity` at a time every `period_s`.

    Returns (items on this page, page index, page count).
    """
    if capacity <= 0 or not items:
        return items[:0], 0, 1
    pages = math.ceil(len(items) / capacity)
    page = int(now // period_s) % pages
    return items[page * capacity : (page + 1) * capacity], page, pages
