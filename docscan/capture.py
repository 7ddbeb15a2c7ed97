"""Auto-capture: when to take the picture of a page lying under the document camera, and
what to tell the citizen until then.

`AutoCapture` is fed one `FrameAnalysis` per camera frame (the page found or not, its
sharpness and brightness; the image work is done before, see
`docscan.pipeline.analyse_frame`) together with the frame's time. It answers with a
`Decision`: the `Guidance` to show, and, exactly once per page, a `Capture` when the page
has been found, bright, sharp and still for `hold_s`. Pure: no clock, no camera, no image
processing except `thumbnail`, which the caller may use to fill `FrameAnalysis.thumbnail`.

The hall's procedure it follows: a citizen lays a page; the screen says "hold still"
while the hand is still on it and "capturing" once it rests; after the capture it says
"captured", then "remove the page". A batch of several pages: the next page is laid on
top or in place of the first and is captured once it has settled. The same page is never
captured twice unless it was taken away (gone for `gone_s`) and laid down again.

Thresholds (defaults; all are constructor arguments):

=====================  ========  ============================================================
name                   default   why
=====================  ========  ============================================================
``hold_s``             0.6 s     still and sharp this long before capturing: long enough for
                                 the hand to have left the page, short enough not to annoy
``still_px``           3.0 px    corner motion between two frames (at 1280x720; scaled with
                                 the frame's diagonal) under which the page is still: the
                                 detector's sub-pixel corners jitter < 1 px on a resting page
``drift_px``           6.0 px    total corner motion allowed during ``hold_s`` (a slow slide
                                 of 2 px per frame is still motion)
``sharp_min``          1.0       `docscan.focus.sharpness` at or above which text is legible
``dark_below``         60        mean page luminance (0-255) under which the light is too poor
``min_area``           0.02      page area / frame area under which it is too small to read
                                 (an ID card under an A3-field camera is ~0.03)
``gone_s``             0.5 s     no page this long = the page was taken away (the detector
                                 misses single frames when a hand crosses an edge)
``same_ncc``           0.80      thumbnails correlating at least this much show the same page
``moved_frac``         0.05      without thumbnails: corners moved more than this share of
                                 the frame diagonal = a different page
``show_captured_s``    1.0 s     how long "captured" is shown before "remove_page"
=====================  ========  ============================================================
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING

import cv2
import numpy as np

if TYPE_CHECKING:
    from docscan.correct import HasCorners

__all__ = ["AutoCapture", "Capture", "Decision", "FrameAnalysis", "Guidance", "thumbnail"]

# Thumbnail side (px): enough to tell two text pages apart by their layout, small enough
# that a hand tremor or focus breathing does not change it.
THUMB_SIZE = 48
# Frame diagonal the pixel thresholds are given for (1280x720).
_REF_DIAGONAL = math.hypot(1280, 720)


class Guidance(StrEnum):
    """What the screen tells the citizen (the kiosk maps each to a text and a voice line)."""

    NOTHING_FOUND = "nothing_found"  # 请将材料放在拍摄区域内
    MOVE_CLOSER = "move_closer"  # the page is too small in the picture
    TOO_DARK = "too_dark"  # 光线太暗
    HOLD_STILL = "hold_still"  # 请勿移动材料
    BLURRY = "blurry"  # out of focus (the camera refocusing, a curled page)
    CAPTURING = "capturing"  # 正在拍摄，请保持不动
    CAPTURED = "captured"  # 拍摄成功
    REMOVE_PAGE = "remove_page"  # 请取走材料 / 放下一页


@dataclass(frozen=True)
class FrameAnalysis:
    """What auto-capture needs to know about one frame.

    `quad`: the page found (`docscan.detect.PageQuad` or anything with `.corners`), None when
    there is none; `sharpness`: `docscan.focus.sharpness` of the page (~1.0 = sharp enough);
    `brightness`: mean luminance 0-255 of the page (of the frame when there is no page);
    `frame_size`: (width, height); `thumbnail`: optional `thumbnail()` of the page, which
    lets a page laid in the same place as the previous one be told from it.
    """

    quad: HasCorners | None
    sharpness: float
    brightness: float
    frame_size: tuple[int, int]
    thumbnail: np.ndarray | None = None


@dataclass(frozen=True)
class Capture:
    """Take this frame: the page in it is the `index`-th (from 1) of the batch."""

    index: int
    at: float
    corners: np.ndarray
    sharpness: float


@dataclass(frozen=True)
class Decision:
    """The answer to one frame: the guidance to show and, once per page, a capture."""

    guidance: Guidance
    capture: Capture | None = None


def thumbnail(image_bgr: np.ndarray, corners: np.ndarray) -> np.ndarray:
    """The page inside `corners` warped to a THUMB_SIZE square, grey, blurred and normalised
    to zero mean and unit variance (float32), so the light does not change it."""
    gray = cv2.cvtColor(image_bgr, cv2.COLOR_BGR2GRAY) if image_bgr.ndim == 3 else image_bgr
    n = THUMB_SIZE
    dst = np.array([[0, 0], [n - 1, 0], [n - 1, n - 1], [0, n - 1]], np.float32)
    m = cv2.getPerspectiveTransform(np.asarray(corners, np.float32).reshape(4, 2), dst)
    # Shrink with a blur first: the warp samples, and a page is ~20x larger than the thumb.
    small = cv2.warpPerspective(cv2.GaussianBlur(gray, (0, 0), 2.0), m, (n, n), flags=cv2.INTER_AREA)
    t = cv2.GaussianBlur(small.astype(np.float32), (0, 0), 1.0)
    return ((t - t.mean()) / max(float(t.std()), 1.0)).astype(np.float32)


def _ncc(a: np.ndarray, b: np.ndarray) -> float:
    """Correlation of two normalised thumbnails, -1..1."""
    return float(np.mean(a * b))


@dataclass
class _Captured:
    corners: np.ndarray
    thumb: np.ndarray | None
    at: float


class AutoCapture:
    """Decides, frame by frame, when a page under the camera is captured (see the module
    docstring for the procedure and the thresholds)."""

    def __init__(
        self,
        *,
        hold_s: float = 0.6,
        still_px: float = 3.0,
        drift_px: float = 6.0,
        sharp_min: float = 1.0,
        dark_below: float = 60.0,
        min_area: float = 0.02,
        gone_s: float = 0.5,
        same_ncc: float = 0.80,
        moved_frac: float = 0.05,
        show_captured_s: float = 1.0,
    ) -> None:
        if hold_s < 0 or gone_s < 0 or show_captured_s < 0:
            raise ValueError("durations must not be negative")
        if still_px <= 0 or drift_px < still_px:
            raise ValueError(f"need 0 < still_px <= drift_px, got {still_px}, {drift_px}")
        self.hold_s = hold_s
        self.still_px = still_px
        self.drift_px = drift_px
        self.sharp_min = sharp_min
        self.dark_below = dark_below
        self.min_area = min_area
        self.gone_s = gone_s
        self.same_ncc = same_ncc
        self.moved_frac = moved_frac
        self.show_captured_s = show_captured_s
        self._count = 0
        self._prev: np.ndarray | None = None  # last frame's corners
        self._anchor: np.ndarray | None = None  # corners when the page came to rest
        self._still_since: float | None = None
        self._missing_since: float | None = None
        self._captured: _Captured | None = None

    @property
    def captures(self) -> int:
        """Pages captured since construction or the last `reset`."""
        return self._count

    def reset(self) -> None:
        """Start a new batch: forget the pages captured so far and any page in view."""
        self._count = 0
        self._prev = None
        self._anchor = None
        self._still_since = None
        self._missing_since = None
        self._captured = None

    def update(self, frame: FrameAnalysis, now: float) -> Decision:
        """Take in the frame seen at `now` (monotonic seconds); say what to show, and
        whether to capture this frame."""
        if frame.quad is None:
            return Decision(self._no_page(frame, now))
        self._missing_since = None
        corners = np.asarray(frame.quad.corners, np.float64).reshape(4, 2)
        scale = math.hypot(*frame.frame_size) / _REF_DIAGONAL
        motion = math.inf if self._prev is None else float(np.abs(corners - self._prev).max())
        self._prev = corners

        if self._captured is not None and self._same_page(frame, corners):
            self._still_since = None
            shown = now - self._captured.at < self.show_captured_s
            return Decision(Guidance.CAPTURED if shown else Guidance.REMOVE_PAGE)

        # A page to capture: the checks in the order the citizen can act on them.
        w, h = frame.frame_size
        if abs(cv2.contourArea(corners.astype(np.float32))) < self.min_area * w * h:
            self._still_since = None
            return Decision(Guidance.MOVE_CLOSER)
        if frame.brightness < self.dark_below:
            self._still_since = None
            return Decision(Guidance.TOO_DARK)
        moving = motion > self.still_px * scale
        drift = 0.0 if self._anchor is None else float(np.abs(corners - self._anchor).max())
        drifted = drift > self.drift_px * scale
        if moving or drifted or self._still_since is None:
            # (Re)start the rest period here; the first still frame already counts.
            self._anchor = corners
            self._still_since = None if moving else now
            if moving or drifted:
                return Decision(Guidance.HOLD_STILL)
        if frame.sharpness < self.sharp_min:
            self._still_since = None
            return Decision(Guidance.BLURRY)
        assert self._still_since is not None
        if now - self._still_since < self.hold_s:
            return Decision(Guidance.CAPTURING)
        self._count += 1
        self._captured = _Captured(corners, frame.thumbnail, now)
        self._still_since = None
        capture = Capture(self._count, now, corners.astype(np.float32), frame.sharpness)
        return Decision(Guidance.CAPTURED, capture)

    def _no_page(self, frame: FrameAnalysis, now: float) -> Guidance:
        self._prev = None
        self._anchor = None
        self._still_since = None
        if self._captured is not None:
            if self._missing_since is None:
                self._missing_since = now
            if now - self._missing_since >= self.gone_s:
                self._captured = None  # taken away: whatever is laid next is a new page
            elif now - self._captured.at < self.show_captured_s:
                return Guidance.CAPTURED
        return Guidance.TOO_DARK if frame.brightness < self.dark_below else Guidance.NOTHING_FOUND

    def _same_page(self, frame: FrameAnalysis, corners: np.ndarray) -> bool:
        """Whether the page in view is the one captured last (still lying there)."""
        assert self._captured is not None
        if frame.thumbnail is not None and self._captured.thumb is not None:
            # The content decides: the same page moved is the same page, another page laid
            # exactly in its place is not.
            return _ncc(frame.thumbnail, self._captured.thumb) >= self.same_ncc
        diagonal = math.hypot(*frame.frame_size)
        return float(np.abs(corners - self._captured.corners).max()) <= self.moved_frac * diagonal
