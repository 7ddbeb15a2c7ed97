"""QR codes in camera frames: `decode_qr` finds them, `QrWatcher` turns a stream of
per-frame results into one check-in per presentation.

Two decoders, chosen by `backend`:

- ``"zxing"`` (zxing-cpp): the default when it is installed. On 1280x720 desk frames it
  reads codes down to 3 px per module at any rotation and costs ~2 ms a frame on one x86
  core, empty desk included (see bench/qr_decode.py);
- ``"opencv"``: OpenCV's ArUco-based QR detector, for platforms without a zxing-cpp wheel
  (32-bit Raspberry Pi OS). It first tries a half-size frame (cheap, enough for codes of
  6 px per module and more), then full size, and a code that was found but not read is cut
  out and read again at twice the size: that is what makes 3-4 px per module work. Costs
  ~20-80 ms a frame, so a preview loop should decode every few frames with it.

Both verify the code's error correction, so a desk pattern does not produce a text.
"""

from __future__ import annotations

import importlib.util
import logging
import threading
from collections.abc import Iterable
from typing import Any, Literal

import cv2
import numpy as np

__all__ = ["BACKENDS", "DEFAULT_BACKEND", "Backend", "QrWatcher", "available_backends", "decode_qr"]

log = logging.getLogger(__name__)

Backend = Literal["zxing", "opencv"]
BACKENDS: tuple[Backend, ...] = ("zxing", "opencv")

_zxingcpp: Any = None
if importlib.util.find_spec("zxingcpp") is not None:
    import zxingcpp as _zxingcpp


def available_backends() -> tuple[Backend, ...]:
    """The decoders usable here, best first."""
    return BACKENDS if _zxingcpp is not None else ("opencv",)


#: What `decode_qr` uses when not told: zxing-cpp when installed, else OpenCV.
DEFAULT_BACKEND: Backend = available_backends()[0]

# Frames wider than this are first tried at half size by the OpenCV path.
_DOWNSCALE_ABOVE = 960
# Margin (px) kept around a found-but-unread code when it is cut out to be enlarged.
_CROP_MARGIN = 16


def decode_qr(frame: np.ndarray, backend: Backend | None = None) -> list[str]:
    """The texts of the QR codes readable in `frame` (BGR or grey, uint8), each once, in
    the order found; empty when there is none."""
    gray = _gray(frame)
    which = backend or DEFAULT_BACKEND
    if which == "zxing":
        if _zxingcpp is None:
            raise RuntimeError("QR backend 'zxing' needs the zxing-cpp package (pip install zxing-cpp)")
        texts = _decode_zxing(gray)
    elif which == "opencv":
        texts = _decode_opencv(gray)
    else:
        raise ValueError(f"unknown QR backend {which!r}; expected one of {', '.join(BACKENDS)}")
    return list(dict.fromkeys(t for t in texts if t))


def _gray(frame: np.ndarray) -> np.ndarray:
    if frame.dtype != np.uint8:
        raise ValueError(f"frame must be uint8, got {frame.dtype}")
    if frame.ndim == 2:
        return np.ascontiguousarray(frame)
    if frame.ndim == 3 and frame.shape[2] == 3:
        return cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY)
    if frame.ndim == 3 and frame.shape[2] == 1:
        return np.ascontiguousarray(frame[..., 0])
    raise ValueError(f"frame must be H x W or H x W x 3, got shape {frame.shape}")


def _decode_zxing(gray: np.ndarray) -> list[str]:
    results = _zxingcpp.read_barcodes(gray, formats=_zxingcpp.BarcodeFormat.QRCode)
    return [r.text for r in results]


# OpenCV's detectors keep state between calls and are not safe to share across threads.
_local = threading.local()


def _detectors() -> tuple[cv2.QRCodeDetectorAruco, cv2.QRCodeDetector]:
    if not hasattr(_local, "aruco"):
        _local.aruco = cv2.QRCodeDetectorAruco()
        _local.classic = cv2.QRCodeDetector()
    return _local.aruco, _local.classic


def _multi(detector: cv2.QRCodeDetectorAruco, gray: np.ndarray) -> tuple[list[str], list[np.ndarray]]:
    """(texts read, quads of codes found but not read)."""
    try:
        ok, texts, points, _ = detector.detectAndDecodeMulti(gray)
    except cv2.error as exc:  # degenerate geometry inside the detector; treat as "nothing"
        log.debug("qr opencv detect error=%s", exc)
        return [], []
    if not ok or points is None:
        return [], []
    read = [t for t in texts if t]
    unread = [q for t, q in zip(texts, points, strict=False) if not t]
    return read, unread


def _decode_opencv(gray: np.ndarray) -> list[str]:
    aruco, classic = _detectors()
    h, w = gray.shape
    if w > _DOWNSCALE_ABOVE:
        small = cv2.resize(gray, (w // 2, h // 2), interpolation=cv2.INTER_AREA)
        texts, _ = _multi(aruco, small)
        if texts:
            return texts
    texts, unread = _multi(aruco, gray)
    for quad in unread:
        x0, y0 = np.maximum(np.floor(quad.min(axis=0)) - _CROP_MARGIN, 0).astype(int)
        x1, y1 = np.minimum(np.ceil(quad.max(axis=0)) + _CROP_MARGIN, (w, h)).astype(int)
        if x1 - x0 < 8 or y1 - y0 < 8:
            continue
        # A code with 3-4 px per module is located but its modules are sampled too coarsely;
        # read at twice the size, bicubic, the modules separate again.
        big = cv2.resize(gray[y0:y1, x0:x1], None, fx=2, fy=2, interpolation=cv2.INTER_CUBIC)
        more, _ = _multi(aruco, big)
        if not more:
            text, _, _ = classic.detectAndDecode(big)
            more = [text] if text else []
        texts.extend(more)
    return texts


class QrWatcher:
    """De-bounces decoded codes: a code is reported once when it comes into view, and again
    only after it has been out of view for `forget_after_s` seconds.

    A citizen holds the phone still for seconds and the decoder reads it in most frames but
    not all (glare, a tremble); the gaps are shorter than `forget_after_s`, so they do not
    count as taking the phone away. Time is passed in (monotonic seconds), nothing here
    reads a clock.
    """

    def __init__(self, forget_after_s: float = 2.0) -> None:
        if forget_after_s <= 0:
            raise ValueError(f"forget_after_s must be positive, got {forget_after_s}")
        self.forget_after_s = forget_after_s
        self._last_seen: dict[str, float] = {}

    def update(self, texts: Iterable[str], now: float) -> list[str]:
        """Record the codes decoded in a frame taken at `now`; return those newly in view,
        to act on (check in)."""
        fresh: list[str] = []
        for text in dict.fromkeys(texts):
            last = self._last_seen.get(text)
            if last is None or now - last > self.forget_after_s:
                fresh.append(text)
            # max(): a frame processed out of order must not make a code look older.
            self._last_seen[text] = now if last is None else max(last, now)
        self._forget(now)
        return fresh

    def in_view(self, now: float) -> list[str]:
        """The codes seen within the last `forget_after_s` seconds."""
        return [t for t, seen in self._last_seen.items() if now - seen <= self.forget_after_s]

    def reset(self) -> None:
        """Forget everything (the kiosk left the check-in screen): the next sighting of any
        code is reported again."""
        self._last_seen.clear()

    def _forget(self, now: float) -> None:
        gone = [t for t, seen in self._last_seen.items() if now - seen > self.forget_after_s]
        for t in gone:
            del self._last_seen[t]
