"""A virtual kiosk camera: synthetic desk scenes, frame by frame, deterministic from a seed.

`VirtualCamera` is a `kiosk.camera.Camera` (``sim:`` in the config) that shows a desk
(`hw_sim.desk_scene`) and, on command, a phone or a printed slip with a QR code held under
it (`hold_qr`) or a document laid on it (`lay_page`: an A4/A5 form, an ID card, a receipt).
Tests and the demo drive it through `hold_qr`, `lay_page`, `clear`, `set_lighting`,
`unplug` / `replug`, and read back what the current frame shows from `scene` (the code's
text and its corners, the page's corners, in image pixels), so a decoder or the document
scanner can be checked against the truth.

Same seed, same calls -> the same frames, byte for byte. Cost: the desk, its light and the
object's shadow are drawn once per scene; a frame only warps the object into its bounding
box (the hand trembles), adds sensor noise from a pre-drawn bank and, if asked, a JPEG
round trip like an MJPG USB camera's.
"""

from __future__ import annotations

import dataclasses
import math
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Literal

import cv2
import numpy as np

from hw_sim import desk_scene
from hw_sim.desk_scene import Curl, DeskObject, Lighting, PageKind, PageTruth, Pose, Texture
from kiosk.camera import Camera

__all__ = ["SceneTruth", "VirtualCamera", "qr_frames"]

ObjectKind = Literal["phone", "paper"]


@dataclass(frozen=True)
class SceneTruth:
    """What the last frame `read` returned shows (before the first read: what it will).

    `qr_corners` are the symbol's four outer corners (no quiet zone) in image pixels,
    clockwise from the symbol's own top-left; None, like `qr_text`, with no code in view.
    With a document on the desk `kind` is ``"document"``, `page` its corners and size, and
    the QR fields describe the code printed on it, if any.
    """

    frame_index: int
    texture: str
    kind: ObjectKind | Literal["document"] | None = None
    qr_text: str | None = None
    qr_corners: tuple[tuple[float, float], ...] | None = None
    module_px: float | None = None
    rotation_deg: float | None = None
    page: PageTruth | None = None


@dataclass(frozen=True)
class _Laid:
    """A document on the desk: how to draw it again (after `set_lighting`) and its truth."""

    obj: DeskObject
    pose: Pose
    curl: Curl | None
    hand: Literal["corner", "edge"] | None
    blur_sigma: float
    seed: int
    truth: PageTruth


@dataclass(frozen=True)
class _Held:
    obj: DeskObject
    pose: Pose
    blur_sigma: float
    tremble_px: float
    phases: tuple[float, ...]
    prefiltered: tuple[np.ndarray, np.ndarray]


class VirtualCamera(Camera):
    """A camera looking down at a synthetic desk.

    `seed` fixes every random choice (texture details, noise, trembling); `texture`
    (``wood``, ``plain``, ``dark``, ``patterned``) and `lighting` default to ones drawn
    from the seed. `noise_sigma` is the sensor noise in grey levels, `jpeg_quality` (e.g.
    80) adds the MJPG compression of a USB camera. `read` does not pace itself: a preview
    loop calls it at its own frame rate.
    """

    def __init__(
        self,
        size: tuple[int, int] = (1280, 720),
        seed: int = 0,
        *,
        texture: Texture | None = None,
        lighting: Lighting | None = None,
        noise_sigma: float = 2.5,
        jpeg_quality: int | None = None,
    ) -> None:
        self._size = (int(size[0]), int(size[1]))
        if min(self._size) < 16:
            raise ValueError(f"virtual camera size too small: {size!r}")
        if jpeg_quality is not None and not 1 <= jpeg_quality <= 100:
            raise ValueError(f"jpeg_quality must be 1..100, got {jpeg_quality}")
        self.seed = seed
        self._lock = threading.Lock()
        rng = np.random.default_rng([seed, 0])
        self.texture: Texture = texture or desk_scene.TEXTURES[int(rng.integers(len(desk_scene.TEXTURES)))]
        self._desk = desk_scene.render_background(self._size, self.texture, rng)
        self._noise = desk_scene.noise_bank(self._size, noise_sigma, rng) if noise_sigma > 0 else None
        self._jpeg_quality = jpeg_quality
        self.lighting = lighting or Lighting.random(rng)
        self._field = desk_scene.light_field(self._size, self.lighting)
        self._lit_desk = desk_scene.apply_light(self._desk, self._field, self.lighting.tint)
        self._static = self._lit_desk
        self._held: _Held | None = None
        self._laid: _Laid | None = None
        self._holds = 0
        self._frame_index = 0
        self._closed = False
        self._unplugged = False
        self._scene = SceneTruth(frame_index=0, texture=self.texture)

    # -- Camera --

    @property
    def size(self) -> tuple[int, int]:
        """(width, height) of every frame."""
        return self._size

    def read(self) -> np.ndarray | None:
        """Render the next frame; None while `unplug`ged or after `close`."""
        with self._lock:
            if self._closed or self._unplugged:
                return None
            index = self._frame_index
            self._frame_index += 1
            rng = np.random.default_rng([self.seed, 1, index])
            frame = self._static.copy()
            held = self._held
            truth = SceneTruth(frame_index=index, texture=self.texture)
            if self._laid is not None:
                truth = _page_scene(index, self.texture, self._laid)
            if held is not None:
                pose, motion = _trembled(held, index)
                h = desk_scene.object_homography(held.obj, pose, self._size)
                desk_scene.draw_object(
                    frame, held.obj, h, self._field, self.lighting, held.blur_sigma, motion, held.prefiltered
                )
                truth = _truth(index, self.texture, held, pose, h)
            if self._noise is not None:
                frame = desk_scene.add_sensor_noise(frame, self._noise, rng)
            if self._jpeg_quality is not None:
                ok, buf = cv2.imencode(".jpg", frame, [cv2.IMWRITE_JPEG_QUALITY, self._jpeg_quality])
                decoded = cv2.imdecode(buf, cv2.IMREAD_COLOR) if ok else None
                if decoded is not None:
                    frame = decoded
            self._scene = truth
            return frame

    def close(self) -> None:
        """Stop delivering frames."""
        with self._lock:
            self._closed = True

    def describe(self) -> str:
        """E.g. ``sim seed=1 1280x720 wood: phone QR 6.0 px/module``."""
        w, h = self._size
        base = f"sim seed={self.seed} {w}x{h} {self.texture}"
        if self._closed:
            return f"{base}: closed"
        if self._unplugged:
            return f"{base}: not available (unplugged)"
        held = self._held
        if self._laid is not None:
            return f"{base}: {self._laid.obj.kind} document"
        if held is None:
            return f"{base}: empty desk"
        return f"{base}: {held.obj.kind} QR {held.pose.module_px:.1f} px/module"

    # -- control --

    @property
    def scene(self) -> SceneTruth:
        """Ground truth of the last frame read."""
        return self._scene

    @property
    def frames_read(self) -> int:
        """How many frames `read` has rendered."""
        return self._frame_index

    def hold_qr(
        self,
        text: str,
        module_px: float = 6.0,
        where: tuple[float, float] = (0.5, 0.5),
        rotation_deg: float = 0.0,
        kind: ObjectKind = "phone",
        *,
        tilt_deg: tuple[float, float] = (0.0, 0.0),
        blur_sigma: float | None = None,
        tremble_px: float | None = None,
        ecc: str = "M",
    ) -> SceneTruth:
        """Put a phone (`kind="phone"`) or a printed slip (``"paper"``) showing a QR code of
        `text` under the camera, replacing whatever was there.

        `module_px` is image pixels per module (the distance from the lens), `where` the
        code's centre as fractions of the frame's width and height, `rotation_deg` its
        turn (clockwise), `tilt_deg` its tilt away from the lens about the x and y axes.
        `blur_sigma` (defocus) and `tremble_px` (hand shake amplitude) default by kind: a
        held phone is above the focal plane and shakes, a slip lies flat and still.
        Returns the truth for the nominal, untrembled pose.
        """
        if kind not in ("phone", "paper"):
            raise ValueError(f"kind must be 'phone' or 'paper', got {kind!r}")
        if not (0.0 <= where[0] <= 1.0 and 0.0 <= where[1] <= 1.0):
            raise ValueError(f"where must be fractions of the frame (0..1, 0..1), got {where!r}")
        if not 1.0 <= module_px <= 40.0:
            raise ValueError(f"module_px must be 1..40, got {module_px}")
        with self._lock:
            self._holds += 1
            rng = np.random.default_rng([self.seed, 2, self._holds])
            if kind == "phone":
                obj = desk_scene.phone_with_qr(text, rng, ecc)
                lift, blur, tremble = 0.12, 0.7, 1.2
            else:
                obj = desk_scene.paper_slip_with_qr(text, rng, ecc)
                lift, blur, tremble = 0.0, 0.45, 0.0
            pose = Pose(
                center=(where[0] * self._size[0], where[1] * self._size[1]),
                rotation_deg=rotation_deg,
                tilt_deg=tilt_deg,
                module_px=module_px,
                lift=lift,
            )
            h = desk_scene.object_homography(obj, pose, self._size)
            static = self._lit_desk.copy()
            desk_scene.draw_shadow(static, obj, h, lift)
            self._static = static
            self._laid = None
            self._held = _Held(
                obj=obj,
                pose=pose,
                blur_sigma=blur if blur_sigma is None else blur_sigma,
                tremble_px=tremble if tremble_px is None else tremble_px,
                phases=tuple(float(v) for v in rng.uniform(0, 2 * math.pi, 6)),
                prefiltered=desk_scene.prefilter_object(obj, module_px),
            )
            self._scene = _truth(self._frame_index, self.texture, self._held, pose, h)
            return self._scene

    def lay_page(
        self,
        kind: PageKind = "a4",
        *,
        text_seed: int = 0,
        where: tuple[float, float] = (0.5, 0.5),
        fill: float = 0.75,
        rotation_deg: float = 0.0,
        tilt_deg: tuple[float, float] = (0.0, 0.0),
        curl: Curl | None = None,
        hand: Literal["corner", "edge"] | None = None,
        blur_sigma: float = 0.0,
        qr_text: str | None = None,
        module_px: float = 4.0,
    ) -> SceneTruth:
        """Lay a document on the desk, replacing whatever was there: an A4 or A5 form, an
        ID card or a receipt (`kind`) whose content is drawn from `text_seed`.

        `where` is its centre as fractions of the frame, `fill` the fraction of the frame
        its bounding box spans (in the frame's tighter direction), `rotation_deg` its turn
        (clockwise), `tilt_deg` the camera's tilt; `curl` lifts it off the desk, `hand`
        puts a hand over one of its corners or an edge, `blur_sigma` defocuses the lens;
        `qr_text` prints a QR code on a form or receipt at `module_px` image pixels per
        module. The page lies still: every frame shows it at the same place. Returns the
        truth (`SceneTruth.page`).
        """
        if kind not in desk_scene.PAGE_KINDS:
            raise ValueError(f"kind must be one of {', '.join(desk_scene.PAGE_KINDS)}, got {kind!r}")
        if not (0.0 <= where[0] <= 1.0 and 0.0 <= where[1] <= 1.0):
            raise ValueError(f"where must be fractions of the frame (0..1, 0..1), got {where!r}")
        if not 0.05 <= fill <= 1.0:
            raise ValueError(f"fill must be 0.05..1, got {fill}")
        if hand not in (None, "corner", "edge"):
            raise ValueError(f"hand must be None, 'corner' or 'edge', got {hand!r}")
        if qr_text is not None and kind == "id_card":
            raise ValueError("an ID card carries no QR code")
        if not 1.0 <= module_px <= 40.0:
            raise ValueError(f"module_px must be 1..40, got {module_px}")
        rng = np.random.default_rng([self.seed, 5, text_seed])
        ppm = desk_scene.DOC_PX_PER_MM[kind]
        dims_mm = desk_scene.document_size_mm(kind)
        # The code's size on paper follows from the page's scale in the image.
        pose = desk_scene.document_pose(
            self._size, (round(dims_mm[0] * ppm), round(dims_mm[1] * ppm)), ppm, fill, rotation_deg, tilt_deg,
            where=where,
        )  # fmt: skip
        obj = desk_scene.document(kind, rng, qr_text=qr_text, qr_module_mm=module_px / pose.module_px)
        if (obj.alpha.shape[1], obj.alpha.shape[0]) != (round(dims_mm[0] * ppm), round(dims_mm[1] * ppm)):
            # A receipt grew to fit its code: place it again at its real length.
            pose = desk_scene.document_pose(
                self._size,
                (obj.alpha.shape[1], obj.alpha.shape[0]),
                ppm,
                fill,
                rotation_deg,
                tilt_deg,
                where=where,
            )
        with self._lock:
            self._held = None
            self._laid = self._render_laid(
                # The truth passed in is a placeholder: _render_laid computes the real one.
                _Laid(
                    obj,
                    pose,
                    curl,
                    hand,
                    blur_sigma,
                    text_seed,
                    desk_scene.page_truth(obj, np.eye(3), self._size),
                )
            )
            self._scene = _page_scene(self._frame_index, self.texture, self._laid)
            return self._scene

    def _render_laid(self, laid: _Laid) -> _Laid:
        """Draw `laid` onto the lit desk as the new static frame; `laid` with its truth.
        Called with the lock held."""
        static = self._lit_desk.copy()
        h = desk_scene.object_homography(laid.obj, laid.pose, self._size)
        desk_scene.draw_document(static, laid.obj, h, self._field, self.lighting, laid.curl)
        truth = desk_scene.page_truth(laid.obj, h, self._size, laid.curl)
        if laid.hand is not None:
            rng = np.random.default_rng([self.seed, 6, laid.seed])
            occluded = desk_scene.hand_on_page(
                static, self._field, self.lighting, truth, laid.pose.module_px, rng, laid.hand
            )
            truth = dataclasses.replace(truth, occluded_corner=occluded)
        if laid.blur_sigma > 0:
            static = desk_scene.blur_frame(static, laid.blur_sigma)
        self._static = static
        return dataclasses.replace(laid, truth=truth)

    def clear(self) -> None:
        """Take the object away: an empty desk again."""
        with self._lock:
            self._laid = None
            self._held = None
            self._static = self._lit_desk
            self._scene = SceneTruth(frame_index=self._frame_index, texture=self.texture)

    def set_lighting(self, lighting: Lighting) -> None:
        """Change the hall's light (a lamp switched off, the sun through the window); the
        object in view, if any, stays."""
        with self._lock:
            self.lighting = lighting
            self._field = desk_scene.light_field(self._size, lighting)
            self._lit_desk = desk_scene.apply_light(self._desk, self._field, lighting.tint)
            self._static = self._lit_desk
            held = self._held
            if self._laid is not None:
                self._laid = self._render_laid(self._laid)
            if held is not None:
                h = desk_scene.object_homography(held.obj, held.pose, self._size)
                static = self._lit_desk.copy()
                desk_scene.draw_shadow(static, held.obj, h, held.pose.lift)
                self._static = static

    def unplug(self) -> None:
        """Simulate the USB cable pulled: `read` returns None until `replug`."""
        with self._lock:
            self._unplugged = True

    def replug(self) -> None:
        """The camera is back."""
        with self._lock:
            self._unplugged = False


def _trembled(held: _Held, index: int) -> tuple[Pose, tuple[float, float]]:
    """The pose at frame `index` of a hand that trembles: a smooth sum of sines (so the
    offset between frames is small, like a real hand at 15 fps) and the smear the motion
    leaves in an exposure of about half a frame."""
    a = held.tremble_px
    if a <= 0:
        return held.pose, (0.0, 0.0)
    p = held.phases
    t = index / 15.0

    def offset(tt: float) -> tuple[float, float, float]:
        dx = a * (0.7 * math.sin(2.1 * tt + p[0]) + 0.3 * math.sin(5.3 * tt + p[1]))
        dy = a * (0.7 * math.sin(1.7 * tt + p[2]) + 0.3 * math.sin(4.1 * tt + p[3]))
        dr = 0.25 * a * math.sin(1.3 * tt + p[4])
        return dx, dy, dr

    dx, dy, dr = offset(t)
    dx2, dy2, _ = offset(t + 0.5 / 15.0)
    cx, cy = held.pose.center
    pose = Pose(
        center=(cx + dx, cy + dy),
        rotation_deg=held.pose.rotation_deg + dr,
        tilt_deg=held.pose.tilt_deg,
        module_px=held.pose.module_px,
        lift=held.pose.lift,
    )
    return pose, (dx2 - dx, dy2 - dy)


def _page_scene(index: int, texture: str, laid: _Laid) -> SceneTruth:
    page = laid.truth
    return SceneTruth(
        frame_index=index,
        texture=texture,
        kind="document",
        qr_text=page.qr_text,
        qr_corners=page.qr_corners,
        module_px=page.qr_module_px,
        rotation_deg=laid.pose.rotation_deg,
        page=page,
    )


def _truth(index: int, texture: str, held: _Held, pose: Pose, h: np.ndarray) -> SceneTruth:
    corners = None
    if held.obj.qr_corners is not None:
        pts = desk_scene.project_points(h, held.obj.qr_corners)
        corners = tuple((float(x), float(y)) for x, y in pts)
    kind: ObjectKind = "phone" if held.obj.kind == "phone" else "paper"
    return SceneTruth(
        frame_index=index,
        texture=texture,
        kind=kind,
        qr_text=held.obj.qr_text,
        qr_corners=corners,
        module_px=pose.module_px,
        rotation_deg=pose.rotation_deg,
    )


def qr_frames(
    count: int,
    seed: int = 0,
    module_px: tuple[float, ...] = (3, 4, 5, 6, 7, 8),
    size: tuple[int, int] = (1280, 720),
) -> Iterator[tuple[np.ndarray, SceneTruth]]:
    """`count` varied frames, each showing one QR code, with their truth; the same for the
    same arguments. For decoder tests and benchmarks.

    Every desk texture, phone and paper, any rotation, tilt up to 12 deg, a random hall
    light per frame, MJPG compression on half the cameras; module sizes cycle through
    `module_px` (+-0.2 px). Texts are appointment codes and check-in URLs (QR versions 2-6).
    """
    rng = np.random.default_rng([seed, 3])
    cams = [
        VirtualCamera(size, seed=seed * 100 + i, texture=tex, jpeg_quality=85 if i % 2 else None)
        for i, tex in enumerate(desk_scene.TEXTURES)
    ]
    try:
        for i in range(count):
            cam = cams[i % len(cams)]
            mp = float(module_px[i % len(module_px)] + rng.uniform(-0.2, 0.2))
            appt = f"{int(rng.integers(20250101, 20251231))}{int(rng.integers(0, 16**6)):06X}"
            text = f"YC:APPT:{appt}" if i % 2 else f"https://zwfw.example.gov.cn/yy/checkin?id={appt}"
            n = desk_scene.qr_modules(text).shape[0]
            # Keep the whole code in the frame whatever its turn: its half diagonal plus a
            # little tilt from the frame's edges.
            half = 0.8 * n * mp + 8
            fx, fy = half / size[0], half / size[1]
            where = (float(rng.uniform(fx, 1 - fx)), float(rng.uniform(fy, 1 - fy)))
            cam.clear()  # so the new light is not first applied to the old object's shadow
            cam.set_lighting(Lighting.random(rng))
            cam.hold_qr(
                text,
                module_px=mp,
                where=where,
                rotation_deg=float(rng.uniform(-180, 180)),
                kind="phone" if rng.random() < 0.5 else "paper",
                tilt_deg=(float(rng.uniform(-12, 12)), float(rng.uniform(-12, 12))),
            )
            frame = cam.read()
            assert frame is not None
            yield frame, cam.scene
    finally:
        for cam in cams:
            cam.close()
