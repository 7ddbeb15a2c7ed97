"""The kiosk's document camera at work: frames in, guidance and captured pages out, pages sent on.

Captured pages live in this object's memory only, and are dropped once sent (or when the
citizen leaves): a kiosk keeps no citizen's documents on its disk.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import cv2
import httpx
import numpy as np

from docscan.capture import AutoCapture
from docscan.correct import clean, orient, page_dpi, page_kind, warp_page
from docscan.output import to_jpeg, to_pdf
from docscan.pipeline import analyse_frame

__all__ = ["ScanSession", "api_base"]

log = logging.getLogger(__name__)

ANALYSIS_WIDTH = 1280  # frames are analysed at most this wide; captures use the full frame


def api_base(status_url: str) -> str:
    """The ticket's API address from its status URL: `http://host:8080/t/TOKEN` →
    `http://host:8080/api/v1/tickets/TOKEN` (the kiosk learns the server's address from it)."""
    base, _, token = status_url.rpartition("/t/")
    if not base or not token:
        raise ValueError(f"not a ticket status URL: {status_url!r}")
    return f"{base}/api/v1/tickets/{token}"


@dataclass(frozen=True)
class FrameResult:
    guidance: str
    outline: tuple[tuple[float, float], ...] | None  # the page's corners in the frame's pixels
    pages: int


class ScanSession:
    """One citizen's pages: analysed frame by frame, captured once each, sent together.

    `px_per_mm` is the camera's scale at the desk (image pixels per millimetre of paper,
    from the kiosk's `camera_px_per_mm`): with it an A5 is told from an A4 (same aspect),
    without it (None or 0) every ISO page is taken for an A4.
    """

    def __init__(self, timeout_s: float = 15.0, *, px_per_mm: float | None = None) -> None:
        self.timeout_s = timeout_s
        self.px_per_mm = px_per_mm or None
        self._capture = AutoCapture()
        self._pages: list[tuple[np.ndarray, int]] = []  # (page, its dpi)
        self._lock = threading.Lock()

    @property
    def pages(self) -> int:
        with self._lock:
            return len(self._pages)

    def reset(self) -> None:
        """Forget everything (the citizen left, or the pages were sent)."""
        with self._lock:
            self._pages.clear()
            self._capture = AutoCapture()

    def process(self, frame: np.ndarray, now: float) -> FrameResult:
        """Look at one camera frame: where the page is, what to tell the citizen, capture if due."""
        h, w = frame.shape[:2]
        scale = min(1.0, ANALYSIS_WIDTH / w)
        small = cv2.resize(frame, (round(w * scale), round(h * scale))) if scale < 1.0 else frame
        analysis = analyse_frame(small)
        quad = analysis.quad
        with self._lock:
            step = self._capture.update(analysis, now)
        outline = None
        if quad is not None:
            outline = tuple((float(x) / scale, float(y) / scale) for x, y in quad.corners)
        if step.capture is not None and outline is not None:
            corners = np.asarray(outline, dtype=np.float32)
            started = time.perf_counter()
            kind = page_kind(corners, (w, h), px_per_mm=self.px_per_mm)
            page = clean(orient(warp_page(frame, corners, kind), kind))
            with self._lock:
                self._pages.append((page, page_dpi(kind)))
            log.info(
                "page captured kind=%s pages=%d in %.0f ms",
                kind,
                self.pages,
                (time.perf_counter() - started) * 1000,
            )
        return FrameResult(str(step.guidance.value), outline, self.pages)

    def upload(self, status_url: str, materials: Sequence[str]) -> dict[str, Any]:
        """Send every page (JPEG) and the batch (one PDF) to the ticket; the reply for the flow.

        A retry sends the same bytes, which the server stores once, so a lost answer costs
        nothing. The pages are dropped afterwards whatever happened.
        """
        with self._lock:
            pages = list(self._pages)
        try:
            url = api_base(status_url) + "/attachments"
            label = "、".join(materials)[:64] or None
            bodies: list[tuple[bytes, str | None]] = [(to_jpeg(page, dpi=dpi), None) for page, dpi in pages]
            if len(pages) > 1:
                bodies.append((to_pdf([p for p, _ in pages], dpi=[d for _, d in pages]), label))
            elif bodies:
                bodies[0] = (bodies[0][0], label)
            with httpx.Client(timeout=self.timeout_s) as client:
                for body, material in bodies:
                    self._post(client, url, body, material)
            return {"ok": True, "result": {"pages": len(pages)}}
        except (httpx.HTTPError, ValueError) as exc:
            log.error("pages not sent: %s", exc)
            return {"ok": False, "error": {"code": "upload_failed", "message": str(exc)}}
        finally:
            self.reset()

    @staticmethod
    def _post(client: httpx.Client, url: str, body: bytes, material: str | None) -> None:
        params = {"material": material} if material else {}
        for attempt in range(3):
            try:
                response = client.post(url, content=body, params=params)
            except httpx.TransportError:
                if attempt == 2:
                    raise
                time.sleep(0.5 * (attempt + 1))
                continue
            response.raise_for_status()
            return
