"""Auto-capture as the hall uses it (docscan/capture.py): a citizen lays a page under the
document camera, the kiosk takes the picture once the page rests, then the next page.

Frames come at 30 fps; the page's corners, sharpness and brightness are what the detector
and the focus measure would report, so the procedure is tested without images (except for
the thumbnails, which are drawn).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import cv2
import numpy as np
import pytest

from docscan.capture import AutoCapture, Capture, Decision, FrameAnalysis, Guidance, thumbnail

FPS = 30.0
SIZE = (1280, 720)


@dataclass(frozen=True)
class Quad:
    corners: np.ndarray
    score: float = 0.9


def a4_at(x: float, y: float, scale: float = 1.0) -> Quad:
    """A portrait A4 page lying square to the camera, top-left corner at (x, y)."""
    w, h = 420 * scale, 594 * scale
    return Quad(np.array([[x, y], [x + w, y], [x + w, y + h], [x, y + h]], np.float32))


def frame(
    quad: Quad | None, sharp: float = 1.4, bright: float = 170.0, thumb: np.ndarray | None = None
) -> FrameAnalysis:
    return FrameAnalysis(quad, sharp, bright, SIZE, thumb)


class Desk:
    """Feeds an AutoCapture frame by frame and records what it answered."""

    def __init__(self, auto: AutoCapture | None = None) -> None:
        self.auto = auto or AutoCapture()
        self.now = 100.0
        self.decisions: list[Decision] = []
        self.times: list[float] = []
        self._rng = np.random.default_rng(3)

    def show(self, seconds: float, make: Callable[[int], FrameAnalysis]) -> list[Decision]:
        """Frames for `seconds`; `make(i)` gives the i-th frame's FrameAnalysis."""
        out = []
        for i in range(round(seconds * FPS)):
            out.append(self.auto.update(make(i), self.now))
            self.times.append(self.now)
            self.now += 1.0 / FPS
        self.decisions += out
        return out

    def resting(self, quad: Quad, **kw: float | np.ndarray) -> Callable[[int], FrameAnalysis]:
        """A page lying still: the detector's corners jitter by a few tenths of a pixel."""

        def make(_i: int) -> FrameAnalysis:
            jitter = self._rng.normal(0.0, 0.3, (4, 2)).astype(np.float32)
            return frame(Quad(quad.corners + jitter), **kw)  # type: ignore[arg-type]

        return make

    @property
    def captures(self) -> list[Capture]:
        return [d.capture for d in self.decisions if d.capture is not None]


def guidance_runs(decisions: list[Decision]) -> list[Guidance]:
    """The guidance shown, each run of equal frames once."""
    runs: list[Guidance] = []
    for d in decisions:
        if not runs or runs[-1] != d.guidance:
            runs.append(d.guidance)
    return runs


def page_thumbnail(seed: int, light: float = 1.0) -> np.ndarray:
    """The thumbnail of a page of 'text' (random dark bars) laid at a4_at(200, 60)."""
    rng = np.random.default_rng(seed)
    img = np.full((720, 1280, 3), 90, np.uint8)
    quad = a4_at(200, 60)
    x0, y0 = (int(v) for v in quad.corners[0])
    img[y0 : y0 + 594, x0 : x0 + 420] = 235
    for _ in range(25):
        y = int(rng.integers(y0 + 30, y0 + 560))
        x = int(rng.integers(x0 + 20, x0 + 200))
        cv2.rectangle(img, (x, y), (x + int(rng.integers(60, 200)), y + 8), (30, 30, 30), -1)
    img = np.clip(img.astype(np.float32) * light, 0, 255).astype(np.uint8)
    return thumbnail(img, quad.corners)


# --- the procedure -------------------------------------------------------------------------


def test_a_still_sharp_page_is_captured_once() -> None:
    desk = Desk()
    desk.show(1.0, lambda i: frame(None))
    laid_at = desk.now
    desk.show(5.0, desk.resting(a4_at(200, 60)))
    assert len(desk.captures) == 1
    capture = desk.captures[0]
    assert capture.index == 1
    # 0.6 s of rest, counted from the second frame (the first has no motion to compare).
    assert 0.6 <= capture.at - laid_at <= 0.6 + 2.5 / FPS
    np.testing.assert_allclose(capture.corners, a4_at(200, 60).corners, atol=2.0)
    assert desk.auto.captures == 1


def test_a_moving_page_is_not_captured() -> None:
    desk = Desk()
    # Slid across the desk at 150 px/s (5 px a frame) for five seconds.
    decisions = desk.show(5.0, lambda i: frame(a4_at(100 + 5 * i % 600, 60)))
    assert desk.captures == []
    assert {d.guidance for d in decisions} == {Guidance.HOLD_STILL}


def test_a_slowly_creeping_page_is_not_captured() -> None:
    desk = Desk()
    # 1 px a frame is under the frame-to-frame limit, but it adds up during the rest period.
    desk.show(3.0, lambda i: frame(a4_at(100 + i, 60)))
    assert desk.captures == []


def test_a_blurry_page_is_captured_once_it_is_sharp() -> None:
    desk = Desk()
    desk.show(2.0, desk.resting(a4_at(200, 60), sharp=0.5))
    assert desk.captures == []
    assert guidance_runs(desk.decisions)[-1] == Guidance.BLURRY
    desk.show(1.0, desk.resting(a4_at(200, 60), sharp=1.3))
    assert len(desk.captures) == 1


def test_the_next_page_is_captured_after_the_first_is_replaced() -> None:
    desk = Desk()
    desk.show(2.0, desk.resting(a4_at(200, 60)))
    desk.show(1.0, lambda i: frame(None))  # the first page taken away
    desk.show(2.0, desk.resting(a4_at(230, 50)))  # the second laid, a little elsewhere
    assert [c.index for c in desk.captures] == [1, 2]


def test_a_page_laid_in_the_same_place_is_told_by_its_content() -> None:
    desk = Desk()
    first, second = page_thumbnail(1), page_thumbnail(2)
    desk.show(2.0, desk.resting(a4_at(200, 60), thumb=first))
    # The hand covers the page for a moment (shorter than "gone"), the next page ends up
    # exactly where the first lay.
    desk.show(0.2, lambda i: frame(None))
    desk.show(0.3, lambda i: frame(a4_at(200 + 20 * (i % 2), 60), thumb=second))
    desk.show(2.0, desk.resting(a4_at(200, 60), thumb=second))
    assert [c.index for c in desk.captures] == [1, 2]


def test_the_same_page_nudged_is_not_captured_again() -> None:
    desk = Desk()
    thumb = page_thumbnail(1)
    desk.show(2.0, desk.resting(a4_at(200, 60), thumb=thumb))
    desk.show(0.3, lambda i: frame(a4_at(200 + 10 * i, 60), thumb=thumb))  # pushed aside
    later = desk.show(3.0, desk.resting(a4_at(290, 60), thumb=page_thumbnail(1, light=0.8)))
    assert len(desk.captures) == 1
    assert later[-1].guidance == Guidance.REMOVE_PAGE


def test_without_thumbnails_a_page_moved_far_counts_as_a_new_page() -> None:
    desk = Desk()
    desk.show(2.0, desk.resting(a4_at(200, 60)))
    desk.show(0.2, lambda i: frame(a4_at(200 + 30 * i, 60)))
    desk.show(2.0, desk.resting(a4_at(500, 60)))
    desk.show(2.0, desk.resting(a4_at(503, 61)))  # a small nudge is the same page
    assert [c.index for c in desk.captures] == [1, 2]


def test_guidance_follows_what_the_citizen_does() -> None:
    desk = Desk()
    desk.show(0.5, lambda i: frame(None))  # empty desk
    desk.show(0.5, lambda i: frame(None, bright=30.0))  # the lamp off
    desk.show(0.5, desk.resting(a4_at(500, 300, scale=0.2)))  # a page far too small
    desk.show(0.5, desk.resting(a4_at(200, 60), bright=40.0))  # in the dark
    desk.show(0.5, lambda i: frame(a4_at(100 + 8 * i, 60)))  # still being placed
    desk.show(0.5, desk.resting(a4_at(200, 60), sharp=0.6))  # the camera refocusing
    desk.show(2.5, desk.resting(a4_at(200, 60)))  # resting, sharp: captured
    desk.show(1.0, lambda i: frame(None))  # taken away
    assert guidance_runs(desk.decisions) == [
        Guidance.NOTHING_FOUND,
        Guidance.TOO_DARK,
        Guidance.MOVE_CLOSER,
        Guidance.TOO_DARK,
        Guidance.HOLD_STILL,
        Guidance.BLURRY,
        Guidance.CAPTURING,
        Guidance.CAPTURED,
        Guidance.REMOVE_PAGE,
        Guidance.NOTHING_FOUND,
    ]
    assert len(desk.captures) == 1


def test_captured_is_shown_for_a_second_then_remove_page() -> None:
    desk = Desk()
    desk.show(3.0, desk.resting(a4_at(200, 60)))
    at = desk.captures[0].at
    captured = [t for t, d in zip(desk.times, desk.decisions, strict=True) if d.guidance == Guidance.CAPTURED]
    assert min(captured) == pytest.approx(at, abs=1e-6)
    assert max(captured) - at == pytest.approx(1.0, abs=1.5 / FPS)


def test_reset_starts_a_new_batch() -> None:
    desk = Desk()
    desk.show(2.0, desk.resting(a4_at(200, 60)))
    desk.auto.reset()
    desk.show(2.0, desk.resting(a4_at(200, 60)))
    assert [c.index for c in desk.captures] == [1, 1]


def test_thumbnails_tell_pages_apart_whatever_the_light() -> None:
    same = float(np.mean(page_thumbnail(1) * page_thumbnail(1, light=0.7)))
    other = float(np.mean(page_thumbnail(1) * page_thumbnail(2)))
    assert same > 0.95
    assert other < 0.8


def test_thresholds_are_checked() -> None:
    with pytest.raises(ValueError):
        AutoCapture(still_px=5.0, drift_px=2.0)
    with pytest.raises(ValueError):
        AutoCapture(hold_s=-1.0)
