"""The document pipeline on one photo: find the page, judge its focus, read its codes, and
make the scan (`scan_image`); and the cheap per-frame part that auto-capture runs on every
preview frame (`analyse_frame`).

    detect_page -> sharpness -> decode_codes (whole frame) -> page_kind -> warp_page
                -> decode_codes (the straightened page) -> orient -> clean

Codes are read on the whole frame first: a QR on a phone or a slip lying next to the page
counts too, and zxing-cpp copes with perspective itself. They are read again on the
straightened page, where a small code tilted away from the camera (3-4 px per module in the
frame) has square modules again: on the bench's frames that reads two of the three codes
the frame alone missed.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field

import cv2
import numpy as np

from docscan.capture import FrameAnalysis, thumbnail
from docscan.codes import decode_codes
from docscan.correct import clean, orient, page_dpi, page_kind, warp_page
from docscan.detect import detect_page
from docscan.focus import sharpness

__all__ = ["ScanResult", "analyse_frame", "scan_image"]

log = logging.getLogger(__name__)


@dataclass
class ScanResult:
    """What `scan_image` found.

    `corners`: the page's corners in image pixels, clockwise from the one nearest the
    image's top-left, [] when no page was found; `sharpness`: of the page (of the whole
    image when there is none), ~1.0 = sharp enough; `qr`: texts of the QR codes and
    barcodes in the image; `kind`: `docscan.correct.KINDS`, "" when no page; `page`: the
    corrected page (BGR), None when no page; `dpi`: the page's resolution (its physical
    size is its pixels at this dpi); `timings_ms`: per stage, for benchmarks and logs.
    """

    found: bool
    corners: list[list[float]]
    sharpness: float
    qr: list[str]
    kind: str
    page: np.ndarray | None
    dpi: int = 0
    timings_ms: dict[str, float] = field(default_factory=dict)

    def summary(self) -> dict[str, object]:
        """The JSON object `yichuang scan` prints (CONTRACT §1)."""
        return {
            "found": self.found,
            "corners": [[round(x, 2), round(y, 2)] for x, y in self.corners],
            "sharpness": round(self.sharpness, 3),
            "qr": list(self.qr),
        }


def scan_image(image_bgr: np.ndarray, *, dpi: int = 200, keep_colour: bool = True) -> ScanResult:
    """Run the whole pipeline on one photo (BGR uint8)."""
    if image_bgr.dtype != np.uint8 or image_bgr.ndim != 3 or image_bgr.shape[2] != 3:
        raise ValueError(f"image must be H x W x 3 uint8 BGR, got {image_bgr.dtype} {image_bgr.shape}")
    t: dict[str, float] = {}
    clock = time.perf_counter()

    def lap(name: str) -> None:
        nonlocal clock
        now = time.perf_counter()
        t[name] = round((now - clock) * 1000.0, 2)
        clock = now

    quad = detect_page(image_bgr)
    lap("detect")
    sharp = float(sharpness(image_bgr, quad))
    lap("sharpness")
    codes = decode_codes(image_bgr)
    lap("codes")
    if quad is None:
        log.info("event=scan found=false codes=%d", len(codes))
        return ScanResult(False, [], sharp, codes, "", None, 0, t)
    h, w = image_bgr.shape[:2]
    kind = page_kind(quad, (w, h))
    lap("kind")
    page = warp_page(image_bgr, quad, kind, dpi)
    lap("warp")
    codes = list(dict.fromkeys(codes + decode_codes(page)))
    lap("page_codes")
    page = orient(page, kind)
    lap("orient")
    page = clean(page, keep_colour=keep_colour)
    lap("clean")
    corners = [[float(x), float(y)] for x, y in np.asarray(quad.corners).reshape(4, 2)]
    log.info("event=scan found=true kind=%s sharpness=%.2f codes=%d", kind, sharp, len(codes))
    return ScanResult(True, corners, sharp, codes, kind, page, page_dpi(kind, dpi), t)


def analyse_frame(image_bgr: np.ndarray) -> FrameAnalysis:
    """The per-frame facts `docscan.capture.AutoCapture` decides on: the page, its
    sharpness, its brightness and a thumbnail of it."""
    h, w = image_bgr.shape[:2]
    quad = detect_page(image_bgr)
    if quad is None:
        # Brightness of the whole frame, on a small copy: it only has to say "too dark".
        small = cv2.resize(image_bgr, (max(1, w // 8), max(1, h // 8)), interpolation=cv2.INTER_AREA)
        return FrameAnalysis(None, 0.0, float(cv2.cvtColor(small, cv2.COLOR_BGR2GRAY).mean()), (w, h))
    corners = np.asarray(quad.corners, np.float32).reshape(4, 2)
    thumb_raw = _page_grey(image_bgr, corners)
    return FrameAnalysis(
        quad,
        float(sharpness(image_bgr, quad)),
        float(thumb_raw.mean()),
        (w, h),
        thumbnail(image_bgr, corners),
    )


def _page_grey(image_bgr: np.ndarray, corners: np.ndarray) -> np.ndarray:
    """The page's grey pixels at 1/4 size (for its mean brightness)."""
    small = cv2.resize(image_bgr, None, fx=0.25, fy=0.25, interpolation=cv2.INTER_AREA)
    gray = cv2.cvtColor(small, cv2.COLOR_BGR2GRAY)
    mask = np.zeros(gray.shape, np.uint8)
    cv2.fillConvexPoly(mask, np.round(corners * 0.25).astype(np.int32), 1)
    sel = gray[mask > 0]
    return sel if sel.size else gray.reshape(-1)
