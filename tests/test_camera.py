"""The kiosk camera: choosing a backend by URL, the V4L2 backend's behaviour when the camera
is missing or unplugged, and the virtual camera's scenes and their ground truth."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest

from hw_sim.desk_scene import TEXTURES, Lighting
from hw_sim.virtual_camera import VirtualCamera
from kiosk.camera import CameraError, OpenCvCamera, open_camera, parse_size
from yichuang.errors import YichuangError

# Device nodes no test machine has, so a test never touches a real camera.
MISSING = "/dev/video97"


# --- open_camera URLs ----------------------------------------------------------------------


def test_empty_url_means_the_kiosk_has_no_camera() -> None:
    assert open_camera("") is None
    assert open_camera("   ") is None


@pytest.mark.parametrize(
    ("url", "path"),
    [
        ("/dev/video97", "/dev/video97"),
        ("v4l2:97", "/dev/video97"),
        (
            "/dev/v4l/by-id/usb-Sonix_USB_2.0_Camera-video-index0",
            "/dev/v4l/by-id/usb-Sonix_USB_2.0_Camera-video-index0",
        ),
        (
            "/dev/v4l/by-path/platform-xhci-usb-0:1:1.0-video-index0",
            "/dev/v4l/by-path/platform-xhci-usb-0:1:1.0-video-index0",
        ),
    ],
)
def test_device_urls_open_a_v4l2_camera_even_when_it_is_missing(url: str, path: str) -> None:
    cam = open_camera(url, size=(640, 480))
    assert isinstance(cam, OpenCvCamera)
    with cam:
        assert cam.path == path
        assert cam.size == (640, 480)
        assert cam.read() is None


def test_sim_url_opens_the_virtual_camera_with_its_options() -> None:
    cam = open_camera("sim:")
    assert isinstance(cam, VirtualCamera)
    assert cam.size == (1280, 720) and cam.seed == 0
    cam = open_camera("sim:?seed=7&w=640&h=360", size=(1920, 1080))
    assert isinstance(cam, VirtualCamera)
    assert cam.size == (640, 360) and cam.seed == 7
    frame = cam.read()
    assert frame is not None and frame.shape == (360, 640, 3) and frame.dtype == np.uint8


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("http://10.0.0.5/stream", "not understood"),
        ("/dev/ttyUSB0", "not understood"),
        ("/dev/video", "not understood"),
        ("video0", "not understood"),
        ("v4l2:", "device index"),
        ("v4l2:cam", "device index"),
        ("sim:?fps=15", "unknown option 'fps'"),
        ("sim:?seed=one", "seed must be one integer"),
        ("sim:?w=1280&w=640", "w must be one integer"),
        ("sim:?w=10", "64..4096"),
        ("sim://desk", "only a query"),
        ("sim:desk", "only a query"),
    ],
)
def test_bad_camera_urls_are_refused_with_the_reason(url: str, says: str) -> None:
    with pytest.raises(ValueError, match="camera") as err:
        open_camera(url)
    assert says in str(err.value)


def test_bad_requested_size_is_refused() -> None:
    with pytest.raises(ValueError, match=r"64\.\.4096"):
        open_camera("sim:", size=(0, 720))
    assert parse_size("1280x720") == (1280, 720)
    with pytest.raises(ValueError, match="1280x720"):
        parse_size("1280*720")


# --- OpenCvCamera ----------------------------------------------------------------------------


def test_missing_device_reads_none_and_says_why() -> None:
    cam = OpenCvCamera(MISSING)
    assert cam.read() is None
    assert cam.read() is None
    assert not cam.is_open
    assert "no such device node" in cam.describe()
    assert MISSING in cam.describe()
    err = cam.last_error
    assert isinstance(err, CameraError) and isinstance(err, OSError) and isinstance(err, YichuangError)
    with pytest.raises(CameraError, match="no such device node"):
        cam.ensure_open()
    cam.close()
    assert cam.read() is None and "closed" in cam.describe()


class FakeCapture:
    """Stands in for cv2.VideoCapture; records what the camera asked of it."""

    def __init__(self, frames: list[np.ndarray | None], opened: bool = True) -> None:
        self.frames = frames
        self.opened = opened
        self.props: dict[int, float] = {}
        self.released = False

    def isOpened(self) -> bool:  # OpenCV's name
        return self.opened

    def read(self) -> tuple[bool, Any]:
        frame = self.frames.pop(0) if self.frames else None
        return frame is not None, frame

    def set(self, prop: int, value: float) -> bool:
        self.props[prop] = value
        return True

    def get(self, prop: int) -> float:
        return self.props.get(prop, 0.0)

    def release(self) -> None:
        self.released = True


class Clock:
    def __init__(self) -> None:
        self.t = 100.0

    def __call__(self) -> float:
        return self.t


def _frame(value: int) -> np.ndarray:
    return np.full((720, 1280, 3), value, np.uint8)


def test_camera_asks_for_size_mjpg_and_a_short_buffer(tmp_path: Path) -> None:
    node = tmp_path / "video0"
    node.touch()
    caps: list[FakeCapture] = []

    def opener(path: str) -> FakeCapture:
        caps.append(FakeCapture([_frame(1)]))
        return caps[-1]

    cam = OpenCvCamera(str(node), (1280, 720), opener=opener)
    frame = cam.read()
    assert frame is not None and int(frame[0, 0, 0]) == 1
    props = caps[0].props
    assert props[cv2.CAP_PROP_FRAME_WIDTH] == 1280 and props[cv2.CAP_PROP_FRAME_HEIGHT] == 720
    assert props[cv2.CAP_PROP_FOURCC] == cv2.VideoWriter.fourcc(*"MJPG")
    assert props[cv2.CAP_PROP_BUFFERSIZE] == 1
    assert cam.describe() == f"v4l2 {node} 1280x720 MJPG"


def test_unplugged_camera_reads_none_then_is_reopened_when_back(tmp_path: Path) -> None:
    node = tmp_path / "video0"
    node.touch()
    clock = Clock()
    caps: list[FakeCapture] = []

    def opener(path: str) -> FakeCapture:
        caps.append(FakeCapture([_frame(len(caps) + 1) for _ in range(3)]))
        return caps[-1]

    cam = OpenCvCamera(str(node), opener=opener, clock=clock, retry_s=2.0)
    assert cam.read() is not None
    node.unlink()  # the USB cable is pulled: udev removes the node
    assert cam.read() is None
    assert caps[0].released and not cam.is_open
    assert "disappeared" in cam.describe()
    node.touch()  # plugged back in, but the retry interval has not passed
    clock.t += 1.0
    assert cam.read() is None and len(caps) == 1
    clock.t += 1.5
    frame = cam.read()
    assert frame is not None and int(frame[0, 0, 0]) == 2
    assert len(caps) == 2 and cam.last_error is None


def test_camera_that_stops_delivering_is_released_after_repeated_failures(tmp_path: Path) -> None:
    node = tmp_path / "video0"
    node.touch()
    clock = Clock()
    caps: list[FakeCapture] = []

    def opener(path: str) -> FakeCapture:
        caps.append(FakeCapture([] if not caps else [_frame(9)]))
        return caps[-1]

    cam = OpenCvCamera(str(node), opener=opener, clock=clock, max_failures=3, retry_s=2.0)
    assert [cam.read() for _ in range(3)] == [None, None, None]
    assert caps[0].released and "3 reads in a row" in cam.describe()
    clock.t += 2.0
    frame = cam.read()
    assert frame is not None and int(frame[0, 0, 0]) == 9


def test_device_that_cannot_be_opened_is_reported_and_retried(tmp_path: Path) -> None:
    node = tmp_path / "video0"
    node.touch()
    clock = Clock()
    attempts: list[str] = []

    def opener(path: str) -> FakeCapture:
        attempts.append(path)
        return FakeCapture([], opened=False)

    cam = OpenCvCamera(str(node), opener=opener, clock=clock, retry_s=2.0)
    assert cam.read() is None and len(attempts) == 1  # the constructor tried; no retry yet
    assert "busy" in cam.describe()
    clock.t += 2.0
    assert cam.read() is None and len(attempts) == 2


def test_grey_frames_are_delivered_as_bgr(tmp_path: Path) -> None:
    node = tmp_path / "video0"
    node.touch()
    grey = np.full((480, 640), 77, np.uint8)
    cam = OpenCvCamera(str(node), opener=lambda path: FakeCapture([grey]))
    frame = cam.read()
    assert frame is not None and frame.shape == (480, 640, 3)


# --- VirtualCamera ---------------------------------------------------------------------------


def _script(cam: VirtualCamera) -> list[np.ndarray]:
    frames = []
    for _ in range(2):
        frames.append(cam.read())
    cam.hold_qr("YC:APPT:20250521A1B2C3", module_px=5, where=(0.4, 0.6), rotation_deg=33, kind="phone")
    for _ in range(3):
        frames.append(cam.read())
    cam.hold_qr("YC:APPT:20250521A1B2C3", module_px=4, rotation_deg=-70, kind="paper", tilt_deg=(8, -6))
    frames.append(cam.read())
    cam.clear()
    frames.append(cam.read())
    assert all(f is not None for f in frames)
    return frames  # type: ignore[return-value]


def test_virtual_camera_is_deterministic_for_a_seed() -> None:
    a = _script(VirtualCamera((640, 360), seed=11))
    b = _script(VirtualCamera((640, 360), seed=11))
    c = _script(VirtualCamera((640, 360), seed=12))
    assert all(np.array_equal(x, y) for x, y in zip(a, b, strict=True))
    assert not any(np.array_equal(x, y) for x, y in zip(a, c, strict=True))


def test_virtual_camera_frames_change_with_noise_and_a_trembling_hand() -> None:
    cam = VirtualCamera((640, 360), seed=3)
    cam.hold_qr("YC:APPT:1", module_px=5, kind="phone")
    f1, f2 = cam.read(), cam.read()
    assert f1 is not None and f2 is not None
    assert not np.array_equal(f1, f2)
    c1 = cam.scene.qr_corners
    cam.read()
    assert c1 != cam.scene.qr_corners  # the phone moved a little
    cam.hold_qr("YC:APPT:1", module_px=5, kind="paper")
    cam.read()
    p1 = cam.scene.qr_corners
    cam.read()
    assert p1 == cam.scene.qr_corners  # a slip on the desk stays put


@pytest.mark.parametrize("kind", ["phone", "paper"])
def test_scene_truth_gives_the_code_where_a_detector_finds_it(kind: str) -> None:
    cam = VirtualCamera(seed=5, texture="wood")
    cam.hold_qr("YC:APPT:20250521A1B2C3", module_px=7, where=(0.55, 0.45), rotation_deg=25, kind=kind)  # type: ignore[arg-type]
    frame = cam.read()
    assert frame is not None
    truth = cam.scene
    assert truth.kind == kind and truth.qr_text == "YC:APPT:20250521A1B2C3" and truth.qr_corners
    corners = np.array(truth.qr_corners)
    ok, found = cv2.QRCodeDetectorAruco().detect(cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY))
    assert ok
    found = found.reshape(4, 2)
    # Same four corners (the detector may start at another one) within half a module: the
    # detector guesses the corner without a finder pattern from the other three.
    dist = np.linalg.norm(corners[:, None, :] - found[None, :, :], axis=2).min(axis=1)
    assert dist.max() < 0.5 * 7, dist
    # The code's centre is where it was asked to be, and the order is clockwise.
    assert np.allclose(corners.mean(axis=0), (0.55 * 1280, 0.45 * 720), atol=2.5)
    edge1, edge2 = corners[1] - corners[0], corners[2] - corners[1]
    assert edge1[0] * edge2[1] - edge1[1] * edge2[0] > 0
    assert abs(np.linalg.norm(edge1) / 25 - 7) < 0.5  # version 2: 25 modules of ~7 px


def test_empty_desk_has_no_code_in_its_truth() -> None:
    cam = VirtualCamera((640, 360), seed=1)
    cam.read()
    assert cam.scene.qr_text is None and cam.scene.qr_corners is None and cam.scene.kind is None
    cam.hold_qr("x", module_px=4)
    cam.clear()
    cam.read()
    assert cam.scene.qr_text is None and cam.scene.frame_index == 1


@pytest.mark.parametrize("texture", TEXTURES)
def test_every_desk_texture_renders(texture: str) -> None:
    cam = VirtualCamera((320, 180), seed=2, texture=texture)  # type: ignore[arg-type]
    frame = cam.read()
    assert frame is not None and frame.shape == (180, 320, 3)
    assert 5 < float(frame.mean()) < 250 and float(frame.std()) > 1.0
    assert texture in cam.describe()


def test_lighting_changes_the_desk_but_not_the_screen() -> None:
    cam = VirtualCamera((640, 360), seed=4, texture="plain", noise_sigma=0)
    cam.set_lighting(Lighting(level=1.0, gradient=0.0, vignette=0.0, screen=0.9))
    cam.hold_qr("YC:APPT:1", module_px=4, kind="phone", tremble_px=0)
    bright = cam.read()
    cam.set_lighting(Lighting(level=0.5, gradient=0.0, vignette=0.0, screen=0.9))
    dim = cam.read()
    assert bright is not None and dim is not None
    assert float(dim[5:20, 5:20].mean()) < 0.6 * float(bright[5:20, 5:20].mean())  # the desk
    # Just above the code is the phone's white screen: it glows the same in the dark.
    corners = np.array(cam.scene.qr_corners)
    cx, top = int(corners[:, 0].mean()), int(corners[:, 1].min()) - 5
    assert abs(float(dim[top, cx].mean()) - float(bright[top, cx].mean())) < 12


def test_unplugged_virtual_camera_reads_none_and_says_so() -> None:
    cam = VirtualCamera((320, 180), seed=1)
    cam.unplug()
    assert cam.read() is None and "unplugged" in cam.describe()
    cam.replug()
    assert cam.read() is not None
    cam.close()
    assert cam.read() is None and "closed" in cam.describe()


def test_hold_qr_refuses_impossible_requests() -> None:
    cam = VirtualCamera((320, 180), seed=1)
    with pytest.raises(ValueError, match="kind"):
        cam.hold_qr("x", kind="tablet")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="where"):
        cam.hold_qr("x", where=(1.5, 0.5))
    with pytest.raises(ValueError, match="module_px"):
        cam.hold_qr("x", module_px=0.5)
