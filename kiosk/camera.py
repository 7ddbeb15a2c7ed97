"""The kiosk's camera: one interface for every camera device, a V4L2 backend, and the URL
that picks one.

`open_camera(url)` is the only place a backend is chosen, and only by the URL the hall's
config names: ``""`` (the kiosk has no camera), ``/dev/video0``, ``/dev/v4l/by-id/...``,
``v4l2:0`` for a real camera, ``sim:`` for `hw_sim.virtual_camera.VirtualCamera`. A
missing real camera is never replaced by the simulator: the kiosk shows "camera not
available" and keeps trying.

Frames are BGR uint8 numpy arrays, as OpenCV hands them over, so the QR scan and the
document scanner can use them without a conversion.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable
from types import TracebackType
from typing import Any, Protocol, Self
from urllib.parse import parse_qs, urlsplit

import cv2
import numpy as np

from yichuang.errors import YichuangError

__all__ = ["Camera", "CameraError", "OpenCvCamera", "open_camera", "parse_size"]

log = logging.getLogger(__name__)

DEFAULT_SIZE = (1280, 720)
# What a kiosk camera can sensibly be asked for; outside this it is a typo in the config.
_MIN_SIDE, _MAX_SIDE = 64, 4096


class CameraError(YichuangError, OSError):
    """A camera could not be opened or stopped delivering frames."""


class Camera(ABC):
    """One camera: a source of BGR frames.

    `read` never raises for a device problem: it returns None while no frame is available
    (device unplugged, not yet reopened) so a preview loop keeps running and shows
    `describe()` instead of a picture.
    """

    @abstractmethod
    def read(self) -> np.ndarray | None:
        """The newest frame (H x W x 3, BGR, uint8), or None when there is none."""

    @property
    @abstractmethod
    def size(self) -> tuple[int, int]:
        """(width, height) of the frames `read` returns (requested size until known)."""

    @abstractmethod
    def close(self) -> None:
        """Release the device. Idempotent; `read` returns None afterwards."""

    @abstractmethod
    def describe(self) -> str:
        """One line for logs and the kiosk's service screen: what the camera is, and when
        it delivers no frames, why."""

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


class _Capture(Protocol):
    """The part of `cv2.VideoCapture` this module uses (tests pass a recording fake)."""

    def isOpened(self) -> bool: ...
    def read(self) -> tuple[bool, Any]: ...
    def set(self, prop: int, value: float) -> bool: ...
    def get(self, prop: int) -> float: ...
    def release(self) -> None: ...


def _open_v4l2(path: str) -> _Capture:
    return cv2.VideoCapture(path, cv2.CAP_V4L2)


class OpenCvCamera(Camera):
    """A V4L2 camera (USB UVC camera, document camera, Pi camera through libcamera's V4L2
    compatibility) read through OpenCV.

    `device` is a path (``/dev/video0``; prefer the stable ``/dev/v4l/by-id/...`` link, a
    replugged camera may come back as another ``videoN``) or an index N for
    ``/dev/videoN``. The requested `size` is asked for, MJPG first because a USB 2 camera
    cannot send 1280x720 uncompressed at a usable frame rate; the camera may choose
    another size, `size` reports what it delivers.

    When the device vanishes (unplugged) or stops delivering, `read` returns None and the
    camera is reopened every `retry_s` seconds; the device node is checked before every
    read because an unplugged camera's read can otherwise block for seconds. `clock` and
    `opener` are for tests.
    """

    def __init__(
        self,
        device: str | int,
        size: tuple[int, int] = DEFAULT_SIZE,
        *,
        fourcc: str = "MJPG",
        retry_s: float = 2.0,
        max_failures: int = 5,
        clock: Callable[[], float] = time.monotonic,
        opener: Callable[[str], _Capture] = _open_v4l2,
    ) -> None:
        self.path = f"/dev/video{device}" if isinstance(device, int) else device
        self._requested = _check_size(size)
        if len(fourcc) != 4:
            raise ValueError(f"fourcc must be 4 characters, got {fourcc!r}")
        self._fourcc = fourcc
        self._retry_s = retry_s
        self._max_failures = max_failures
        self._clock = clock
        self._opener = opener
        self._lock = threading.Lock()
        self._cap: _Capture | None = None
        self._actual: tuple[int, int] | None = None
        self._failures = 0
        self._next_try = float("-inf")
        self._closed = False
        #: Why the camera delivers no frames, None while it does.
        self.last_error: CameraError | None = None
        with self._lock:
            self._try_open()

    @property
    def size(self) -> tuple[int, int]:
        """The negotiated size once the device is open, the requested one before."""
        return self._actual or self._requested

    @property
    def is_open(self) -> bool:
        """Whether the device is open now (it may still fail its next read)."""
        return self._cap is not None

    def read(self) -> np.ndarray | None:
        """The next frame, or None (device missing, reopening, or closed). Never raises
        for a device problem."""
        with self._lock:
            if self._closed:
                return None
            if self._cap is None and (self._clock() < self._next_try or not self._try_open()):
                return None
            assert self._cap is not None
            if not os.path.exists(self.path):
                self._lost("device node disappeared (unplugged?)")
                return None
            try:
                ok, frame = self._cap.read()
            except cv2.error as exc:  # a driver error surfaces as cv2.error on some backends
                ok, frame = False, None
                log.debug("camera read error path=%s error=%s", self.path, exc)
            if ok and isinstance(frame, np.ndarray) and frame.size:
                self._failures = 0
                return _as_bgr(frame)
            self._failures += 1
            if self._failures >= self._max_failures:
                self._lost(f"{self._failures} reads in a row returned no frame")
            return None

    def ensure_open(self) -> None:
        """Open the device now if it is not open; raise `CameraError` saying why it cannot
        be (for a command-line camera check, where failing loudly is the point)."""
        with self._lock:
            if self._closed:
                raise CameraError(f"{self.path}: camera closed")
            if self._cap is None and not self._try_open():
                assert self.last_error is not None
                raise self.last_error

    def close(self) -> None:
        """Release the device; `read` returns None from now on."""
        with self._lock:
            self._closed = True
            self._release()

    def describe(self) -> str:
        """E.g. ``v4l2 /dev/video0 1280x720 MJPG`` or ``v4l2 /dev/video0: not available
        (no such device node; retrying every 2 s)``."""
        if self._closed:
            return f"v4l2 {self.path}: closed"
        if self._cap is not None:
            w, h = self.size
            return f"v4l2 {self.path} {w}x{h} {self._fourcc}"
        why = str(self.last_error) if self.last_error else "not opened yet"
        return f"v4l2 {self.path}: not available ({why}; retrying every {self._retry_s:g} s)"

    # -- internals, called with the lock held --

    def _try_open(self) -> bool:
        self._next_try = self._clock() + self._retry_s
        if not os.path.exists(self.path):
            return self._fail_open("no such device node")
        try:
            cap = self._opener(self.path)
        except (cv2.error, OSError) as exc:
            return self._fail_open(f"cannot open: {exc}")
        if not cap.isOpened():
            cap.release()
            return self._fail_open("cannot open (busy, no permission, or not a capture device)")
        # Best effort: a property the driver does not support is simply not applied.
        cap.set(cv2.CAP_PROP_FOURCC, cv2.VideoWriter.fourcc(*self._fourcc))
        cap.set(cv2.CAP_PROP_FRAME_WIDTH, self._requested[0])
        cap.set(cv2.CAP_PROP_FRAME_HEIGHT, self._requested[1])
        # The preview and the scanner want the newest frame, not one queued seconds ago.
        cap.set(cv2.CAP_PROP_BUFFERSIZE, 1)
        cap.set(cv2.CAP_PROP_READ_TIMEOUT_MSEC, 1000)
        w, h = int(cap.get(cv2.CAP_PROP_FRAME_WIDTH)), int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT))
        self._actual = (w, h) if w > 0 and h > 0 else None
        self._cap = cap
        self._failures = 0
        was_missing = self.last_error is not None
        self.last_error = None
        log.info(
            "camera opened path=%s size=%dx%d reopened=%s",
            self.path,
            *self.size,
            "yes" if was_missing else "no",
        )
        return True

    def _fail_open(self, why: str) -> bool:
        first = self.last_error is None or str(self.last_error) != f"{self.path}: {why}"
        self.last_error = CameraError(f"{self.path}: {why}")
        if first:  # retries every few seconds must not flood the journal
            log.warning("camera unavailable path=%s reason=%r", self.path, why)
        return False

    def _lost(self, why: str) -> None:
        log.warning("camera lost path=%s reason=%r", self.path, why)
        self.last_error = CameraError(f"{self.path}: {why}")
        self._release()
        self._next_try = self._clock() + self._retry_s

    def _release(self) -> None:
        if self._cap is not None:
            # Releasing a vanished device may complain; it is gone either way.
            with contextlib.suppress(cv2.error):
                self._cap.release()
            self._cap = None
        self._failures = 0


def _as_bgr(frame: np.ndarray) -> np.ndarray:
    """Some UVC cameras deliver grey frames; the rest of the kiosk expects 3 channels."""
    if frame.ndim == 2:
        return cv2.cvtColor(frame, cv2.COLOR_GRAY2BGR)
    if frame.shape[2] == 4:
        return cv2.cvtColor(frame, cv2.COLOR_BGRA2BGR)
    return frame


def _check_size(size: tuple[int, int]) -> tuple[int, int]:
    w, h = size
    if not all(isinstance(v, int) and _MIN_SIDE <= v <= _MAX_SIDE for v in (w, h)):
        raise ValueError(f"camera size must be two integers in {_MIN_SIDE}..{_MAX_SIDE}, got {size!r}")
    return int(w), int(h)


def parse_size(text: str) -> tuple[int, int]:
    """``"1280x720"`` -> (1280, 720); ValueError for anything else."""
    m = re.fullmatch(r"\s*(\d+)\s*[xX×]\s*(\d+)\s*", text)
    if not m:
        raise ValueError(f"camera size must look like 1280x720, got {text!r}")
    return _check_size((int(m.group(1)), int(m.group(2))))


_VIDEO_NODE = re.compile(r"/dev/video\d+")
_V4L_LINK = re.compile(r"/dev/v4l/by-(id|path)/[^/\s]+")
_SIM_KEYS = ("seed", "w", "h")


def open_camera(url: str, size: tuple[int, int] = DEFAULT_SIZE) -> Camera | None:
    """The camera the config's `url` names, or None for ``""`` (no camera).

    ``/dev/videoN``, ``/dev/v4l/by-id/...``, ``/dev/v4l/by-path/...`` or ``v4l2:N`` (index
    N, i.e. ``/dev/videoN``) -> `OpenCvCamera`, which does not fail when the device is
    missing now (it keeps trying, see `describe`); ``sim:`` or ``sim:?seed=1&w=1280&h=720``
    -> the virtual camera of `hw_sim`. Anything else is a `ValueError` that says what is
    accepted.
    """
    url = url.strip()
    if not url:
        return None
    size = _check_size(size)
    if _VIDEO_NODE.fullmatch(url) or _V4L_LINK.fullmatch(url):
        return OpenCvCamera(url, size)
    if url.startswith("v4l2:"):
        index = url.removeprefix("v4l2:")
        if not index.isdigit():
            raise ValueError(f"camera URL {url!r}: v4l2: takes a device index, e.g. v4l2:0")
        return OpenCvCamera(int(index), size)
    if url.startswith("sim:"):
        return _open_sim(url, size)
    raise ValueError(
        f"camera URL {url!r} not understood; expected '' (no camera), /dev/videoN, "
        "/dev/v4l/by-id/..., v4l2:N or sim:[?seed=N&w=W&h=H]"
    )


def _open_sim(url: str, size: tuple[int, int]) -> Camera:
    parts = urlsplit(url)
    if parts.netloc or parts.path or parts.fragment:
        raise ValueError(f"camera URL {url!r}: sim: takes only a query, e.g. sim:?seed=1&w=1280&h=720")
    try:
        query = parse_qs(parts.query, keep_blank_values=True, strict_parsing=bool(parts.query))
    except ValueError as exc:
        raise ValueError(f"camera URL {url!r}: bad query ({exc})") from None
    unknown = sorted(set(query) - set(_SIM_KEYS))
    if unknown:
        raise ValueError(f"camera URL {url!r}: unknown option {unknown[0]!r}; sim: takes seed, w, h")
    values: dict[str, int] = {}
    for key, vals in query.items():
        if len(vals) != 1 or not re.fullmatch(r"-?\d+", vals[0]):
            raise ValueError(f"camera URL {url!r}: {key} must be one integer, got {vals!r}")
        values[key] = int(vals[0])
    w, h = _check_size((values.get("w", size[0]), values.get("h", size[1])))
    # Imported here: the kiosk depends on the simulator only when the config asks for it.
    from hw_sim.virtual_camera import VirtualCamera

    return VirtualCamera(size=(w, h), seed=values.get("seed", 0))
