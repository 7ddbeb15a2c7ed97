"""Synthetic desk scenes as the kiosk's downward-looking camera sees them. Pure: numpy and
OpenCV drawing only, no device I/O, every random choice drawn from a `numpy.random.Generator`
the caller passes in.

A scene is built in layers, each cached by `hw_sim.virtual_camera.VirtualCamera` as long as
it does not change:

1. `render_background` - a desk texture (wood, plain laminate, dark, a patterned mat);
2. `light_field` / `Lighting` - the hall's light: overall level, a gradient across the desk,
   vignetting of a cheap lens and the colour of the lamps, applied to everything that does
   not emit light itself;
3. a `DeskObject` - a flat picture of a thing (`phone_with_qr`, `paper_slip_with_qr`; a
   document page later) with its coverage mask, the part of it that emits light (a phone
   screen is not lit by the hall) and the ground truth of what it shows;
4. `Pose` + `object_homography` - where the object lies: rotated, tilted, at a scale set
   by how many image pixels one QR module covers;
5. `draw_object` per frame (the hand trembles), then `add_sensor_noise`.

Objects are drawn in "module units": their layout is a multiple of the QR module so a
phone, its screen and its code keep their real proportions whatever the distance.
"""

from __future__ import annotations

import functools
import math
import zlib
from dataclasses import dataclass
from typing import Literal

import cv2
import numpy as np
import qrcode
import qrcode.constants

__all__ = [
    "TEXTURES",
    "DeskObject",
    "Lighting",
    "Pose",
    "Texture",
    "add_sensor_noise",
    "apply_light",
    "draw_object",
    "draw_shadow",
    "light_field",
    "noise_bank",
    "object_homography",
    "paper_slip_with_qr",
    "phone_with_qr",
    "prefilter_object",
    "project_points",
    "qr_modules",
    "render_background",
]

Texture = Literal["wood", "plain", "dark", "patterned"]
TEXTURES: tuple[Texture, ...] = ("wood", "plain", "dark", "patterned")

# Object pixels per QR module when the flat object picture is drawn. The homography scales
# it down to the requested image size; drawing finer than the target and band-limiting
# before the warp keeps the small codes free of aliasing a real lens would not produce.
_OBJ_PX_PER_MODULE = 8


# --- background ---------------------------------------------------------------------------


def _smooth_noise(rng: np.random.Generator, size: tuple[int, int], cell: int) -> np.ndarray:
    """Value noise in [-1, 1]: a coarse random grid upscaled bicubically (cheap, smooth)."""
    w, h = size
    gw, gh = max(2, w // cell + 2), max(2, h // cell + 2)
    grid = rng.uniform(-1.0, 1.0, (gh, gw)).astype(np.float32)
    big = cv2.resize(grid, (gw * cell, gh * cell), interpolation=cv2.INTER_CUBIC)
    return big[:h, :w]


def _fractal_noise(rng: np.random.Generator, size: tuple[int, int], cell: int, octaves: int) -> np.ndarray:
    out = np.zeros((size[1], size[0]), np.float32)
    amp, total = 1.0, 0.0
    for _ in range(octaves):
        out += amp * _smooth_noise(rng, size, max(2, cell))
        total += amp
        amp *= 0.5
        cell //= 2
    return out / total


def render_background(size: tuple[int, int], texture: Texture, rng: np.random.Generator) -> np.ndarray:
    """An unlit desk surface, `size` = (width, height), BGR uint8."""
    w, h = size
    if texture == "wood":
        # Growth rings are iso-lines of a warped distance field; the grain runs along x.
        warp = _fractal_noise(rng, size, 256, 3) * 40.0
        yy = np.arange(h, dtype=np.float32)[:, None] + warp
        rings = 0.5 + 0.5 * np.sin(yy * rng.uniform(0.05, 0.09) + _fractal_noise(rng, size, 128, 2) * 3.0)
        streaks = cv2.resize(
            rng.standard_normal((h, max(2, w // 24))).astype(np.float32),
            (w, h),
            interpolation=cv2.INTER_LINEAR,
        )
        tone = np.clip(0.55 + 0.25 * rings + 0.06 * streaks, 0.0, 1.0)
        light = np.array(rng.choice([[95, 150, 205], [70, 115, 165], [120, 170, 215]]), np.float32)
        dark = light * rng.uniform(0.45, 0.6)
        img = dark + (light - dark) * tone[..., None]
    elif texture == "plain":
        base = np.array(rng.choice([[205, 208, 210], [190, 200, 212], [215, 215, 205]]), np.float32)
        img = base + 6.0 * _fractal_noise(rng, size, 64, 3)[..., None]
    elif texture == "dark":
        base = np.array(rng.choice([[40, 40, 42], [30, 34, 40], [55, 52, 50]]), np.float32)
        img = base + 5.0 * _fractal_noise(rng, size, 96, 3)[..., None]
    elif texture == "patterned":
        img = _patterned(size, rng)
    else:
        raise ValueError(f"unknown desk texture {texture!r}; expected one of {', '.join(TEXTURES)}")
    # Every surface has some fine speckle (fibres, dust) that is not sensor noise: it stays put.
    img = img + 3.0 * rng.standard_normal((h, w, 1)).astype(np.float32)
    return np.clip(img, 0, 255).astype(np.uint8)


def _patterned(size: tuple[int, int], rng: np.random.Generator) -> np.ndarray:
    """A green cutting mat with a grid, or a checked tablecloth: square-rich patterns that
    tempt a QR finder-pattern search into false positives."""
    w, h = size
    if rng.random() < 0.5:
        img = np.empty((h, w, 3), np.float32)
        img[:] = np.array([70, 120, 40], np.float32)
        step = int(rng.integers(28, 44))
        for i in range(0, max(w, h), step):
            heavy = (i // step) % 5 == 0
            c = (150, 200, 150) if heavy else (110, 160, 95)
            cv2.line(img, (i, 0), (i, h), c, 2 if heavy else 1, cv2.LINE_AA)
            cv2.line(img, (0, i), (w, i), c, 2 if heavy else 1, cv2.LINE_AA)
        return img
    step = int(rng.integers(18, 40))
    yy, xx = np.mgrid[0:h, 0:w]
    a = ((xx // step) % 2).astype(np.float32)
    b = ((yy // step) % 2).astype(np.float32)
    colour = np.array(rng.choice([[60, 60, 190], [170, 90, 40], [40, 120, 60]]), np.float32)
    white = np.array([225, 228, 230], np.float32)
    mix = (a + b)[..., None] / 2.0  # 0 white, 0.5 tinted stripe, 1 full colour at crossings
    return white + (colour - white) * mix


# --- light --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Lighting:
    """The hall's light on the desk.

    `level` is the overall gain (0.45 a dim corner, 1.0 normal, 1.3 an over-exposed
    camera); `gradient` the fraction by which the desk darkens from the lit side to the
    other, in the direction `angle_deg`; `vignette` the darkening of the frame's corners;
    `tint` the lamps' colour as BGR gains; `screen` the brightness of a phone screen, which
    the hall's light does not change.
    """

    level: float = 1.0
    gradient: float = 0.25
    angle_deg: float = 30.0
    vignette: float = 0.2
    tint: tuple[float, float, float] = (1.0, 1.0, 1.0)
    screen: float = 0.9

    @classmethod
    def random(cls, rng: np.random.Generator) -> Lighting:
        """A plausible hall: from a dim corner to a bright window seat."""
        warm = rng.uniform(-0.08, 0.08)
        return cls(
            level=float(rng.uniform(0.55, 1.2)),
            gradient=float(rng.uniform(0.05, 0.45)),
            angle_deg=float(rng.uniform(0, 360)),
            vignette=float(rng.uniform(0.05, 0.3)),
            tint=(1.0 - warm, 1.0, 1.0 + warm),
            screen=float(rng.uniform(0.7, 1.0)),
        )


def light_field(size: tuple[int, int], lighting: Lighting) -> np.ndarray:
    """Per-pixel gain (H x W float32) of the hall's light."""
    w, h = size
    # The field is smooth: compute it on an 8x coarser grid and enlarge it.
    q = 8
    gw, gh = w // q + 2, h // q + 2
    ys = ((np.arange(gh, dtype=np.float32) + 0.5) * q - h / 2) / max(w, h)
    xs = ((np.arange(gw, dtype=np.float32) + 0.5) * q - w / 2) / max(w, h)
    a = math.radians(lighting.angle_deg)
    along = xs[None, :] * math.cos(a) + ys[:, None] * math.sin(a)  # about -0.5 .. 0.5
    gain = 1.0 - lighting.gradient * (along + 0.5)
    r2 = (xs[None, :] ** 2 + ys[:, None] ** 2) / 0.35
    gain = (lighting.level * gain * (1.0 - lighting.vignette * np.clip(r2, 0.0, 1.0))).astype(np.float32)
    return cv2.resize(gain, (gw * q, gh * q), interpolation=cv2.INTER_LINEAR)[:h, :w].copy()


def apply_light(img: np.ndarray, field: np.ndarray, tint: tuple[float, float, float]) -> np.ndarray:
    """`img` (unlit, uint8 BGR) under the light `field`, uint8."""
    gain = cv2.merge([field * t for t in tint])
    return cv2.multiply(img, gain, dtype=cv2.CV_8U)  # saturating, like a sensor


# --- objects ------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class DeskObject:
    """A flat picture of something put under the camera, with its ground truth.

    `image` is BGR uint8 as the thing looks flat and evenly lit; `alpha` its coverage
    (uint8, 0 outside); `emissive` (uint8, 255 where it emits light, e.g. a screen) or
    None; `anchor` the object pixel that `Pose.center` puts in the image; `px_per_module`
    how many object pixels one QR module spans (the homography's scale reference);
    `qr_text` and `qr_corners` (4 x 2 float32, the symbol's outer corners without quiet
    zone, clockwise from its top-left) what it shows, None when it shows no QR code.
    """

    kind: str
    image: np.ndarray
    alpha: np.ndarray
    emissive: np.ndarray | None
    anchor: tuple[float, float]
    px_per_module: float
    qr_text: str | None = None
    qr_corners: np.ndarray | None = None


def qr_modules(text: str, ecc: str = "M") -> np.ndarray:
    """The QR symbol for `text` as a bool array (True = dark), no quiet zone. Read-only:
    it is cached."""
    return _qr_modules(text, ecc)


@functools.lru_cache(maxsize=256)
def _qr_modules(text: str, ecc: str) -> np.ndarray:
    levels = {
        "L": qrcode.constants.ERROR_CORRECT_L,
        "M": qrcode.constants.ERROR_CORRECT_M,
        "Q": qrcode.constants.ERROR_CORRECT_Q,
        "H": qrcode.constants.ERROR_CORRECT_H,
    }
    if ecc not in levels:
        raise ValueError(f"unknown QR error correction level {ecc!r}; expected L, M, Q or H")
    # A fixed mask per text instead of the encoder's search for the best of eight: the
    # search costs the pure-Python encoder ~10 ms a code, and every mask is one a phone
    # app may show (decoders read all eight).
    qr = qrcode.QRCode(border=0, error_correction=levels[ecc], mask_pattern=zlib.crc32(text.encode()) % 8)
    qr.add_data(text.encode("utf-8"))
    qr.make(fit=True)
    m = np.array(qr.get_matrix(), dtype=bool)
    m.flags.writeable = False
    return m


def _draw_qr(canvas: np.ndarray, modules: np.ndarray, x: int, y: int, px: int, ink: int) -> np.ndarray:
    """Draw `modules` at (x, y), `px` per module, dark modules in grey `ink`; its corners."""
    n = modules.shape[0]
    block = np.kron(modules, np.ones((px, px), bool))
    region = canvas[y : y + n * px, x : x + n * px]
    region[block] = ink
    s = float(n * px)
    return np.array([[x, y], [x + s, y], [x + s, y + s], [x, y + s]], np.float32)


def _pseudo_text(
    canvas: np.ndarray,
    rng: np.random.Generator,
    x: int,
    y: int,
    n_chars: int,
    cell: int,
    ink: tuple[int, ...],
) -> None:
    """A line of CJK-looking glyphs: a few strokes per square cell. At camera resolution it
    reads as text, costs nothing and needs no font file."""
    thick = max(1, cell // 9)
    for i in range(n_chars):
        cx = x + i * cell
        for _ in range(int(rng.integers(3, 7))):
            if rng.random() < 0.5:
                yy = cy = y + int(rng.integers(1, cell - 1))
                x0, x1 = sorted(int(v) for v in rng.integers(1, cell - 1, 2))
                cv2.line(canvas, (cx + x0, yy), (cx + x1, cy), ink, thick, cv2.LINE_AA)
            else:
                xx = cx + int(rng.integers(1, cell - 1))
                y0, y1 = sorted(int(v) for v in rng.integers(1, cell - 1, 2))
                cv2.line(canvas, (xx, y + y0), (xx, y + y1), ink, thick, cv2.LINE_AA)


def _rounded_rect(
    mask: np.ndarray, x0: int, y0: int, x1: int, y1: int, r: int, value: int | tuple[int, ...]
) -> None:
    cv2.rectangle(mask, (x0 + r, y0), (x1 - r, y1), value, -1)
    cv2.rectangle(mask, (x0, y0 + r), (x1, y1 - r), value, -1)
    for cx, cy in ((x0 + r, y0 + r), (x1 - r, y0 + r), (x0 + r, y1 - r), (x1 - r, y1 - r)):
        cv2.circle(mask, (cx, cy), r, value, -1, cv2.LINE_AA)


def phone_with_qr(text: str, rng: np.random.Generator, ecc: str = "M") -> DeskObject:
    """A phone in portrait, screen showing an appointment code the way the government apps
    do (coloured header, the code on white, a line of text under it), held by a thumb."""
    m = qr_modules(text, ecc)
    p = _OBJ_PX_PER_MODULE
    n = m.shape[0]
    qr_w = n * p
    # A real screen shows the code about 60 % of its width, the phone is ~2.1 screens tall.
    scr_w = int(qr_w / 0.62)
    scr_h = int(scr_w * 2.05)
    bezel = max(4, scr_w // 28)
    body_w, body_h = scr_w + 2 * bezel, scr_h + 6 * bezel
    thumb = int(body_w * 0.5)  # the hand sticks out below and to the side of the phone
    w, h = body_w + thumb // 2, body_h + thumb // 2
    img = np.zeros((h, w, 3), np.uint8)
    alpha = np.zeros((h, w), np.uint8)
    emissive = np.zeros((h, w), np.uint8)
    body_col = tuple(int(c) for c in rng.choice([[25, 25, 28], [200, 200, 205], [60, 45, 40]]))
    _rounded_rect(img, 0, 0, body_w - 1, body_h - 1, bezel * 3, body_col)
    _rounded_rect(alpha, 0, 0, body_w - 1, body_h - 1, bezel * 3, 255)
    sx, sy = bezel, 3 * bezel
    screen = np.full((scr_h, scr_w, 3), 250, np.uint8)
    header_h = scr_h // 9
    screen[:header_h] = rng.choice([[200, 120, 30], [60, 60, 200], [170, 130, 20]])
    _pseudo_text(screen, rng, scr_w // 8, header_h // 3, 6, max(6, header_h // 3), (255, 255, 255))
    qx = (scr_w - qr_w) // 2
    qy = header_h + (scr_h // 2 - header_h - qr_w // 2) + scr_h // 16
    corners = _draw_qr(screen, m, qx, qy, p, 20)
    _pseudo_text(screen, rng, qx, qy + qr_w + 3 * p, 8, int(qr_w / 8), (90, 90, 90))
    _pseudo_text(screen, rng, qx + qr_w // 8, qy + qr_w + 7 * p, 6, int(qr_w / 10), (150, 150, 150))
    # A lamp reflected in the glass: a soft bright band across the screen. Mild, as when the
    # citizen tilts the phone away from the glare; a saturating one would hide the code.
    yy, xx = np.mgrid[0:scr_h, 0:scr_w].astype(np.float32)
    band = np.exp(-(((xx * 0.6 + yy * 0.8) - rng.uniform(0.2, 1.0) * scr_h) ** 2) / (2 * (scr_w * 0.12) ** 2))
    screen = np.clip(screen.astype(np.float32) * (1 - 0.15 * band[..., None]) + 35 * band[..., None], 0, 255)
    img[sy : sy + scr_h, sx : sx + scr_w] = screen.astype(np.uint8)
    emissive[sy : sy + scr_h, sx : sx + scr_w] = 255
    corners += np.array([sx, sy], np.float32)
    # The thumb, over the phone's lower edge and never over the code.
    skin = tuple(int(c) for c in rng.choice([[140, 170, 215], [120, 150, 200], [100, 130, 180]]))
    cx, cy = body_w - thumb // 3, body_h - int(thumb * 0.2)
    axes = (int(thumb * 0.75), int(thumb * 0.28))
    cv2.ellipse(img, (cx, cy), axes, -35, 0, 360, skin, -1, cv2.LINE_AA)
    cv2.ellipse(alpha, (cx, cy), axes, -35, 0, 360, 255, -1, cv2.LINE_AA)
    cv2.ellipse(emissive, (cx, cy), axes, -35, 0, 360, 0, -1, cv2.LINE_AA)
    qc = corners.mean(axis=0)
    return DeskObject("phone", img, alpha, emissive, (float(qc[0]), float(qc[1])), p, text, corners)


def paper_slip_with_qr(text: str, rng: np.random.Generator, ecc: str = "M") -> DeskObject:
    """A printed appointment slip (a receipt-printer or office-printer print-out): a title,
    a few lines of text, the code, a line under it; off-white paper, grey ink."""
    m = qr_modules(text, ecc)
    p = _OBJ_PX_PER_MODULE
    n = m.shape[0]
    qr_w = n * p
    w = int(qr_w * 1.7)
    h = int(qr_w * 2.3)
    paper = tuple(int(c) for c in rng.choice([[236, 240, 242], [225, 232, 238], [240, 240, 240]]))
    img = np.empty((h, w, 3), np.uint8)
    img[:] = paper
    # Paper fibre and uneven whiteness; printers never print pure black.
    img = np.clip(img.astype(np.float32) + 4 * _fractal_noise(rng, (w, h), 64, 3)[..., None], 0, 255).astype(
        np.uint8
    )
    ink = int(rng.integers(15, 60))
    cell = max(6, qr_w // 9)
    _pseudo_text(img, rng, (w - 6 * cell) // 2, cell // 2, 6, cell, (ink,) * 3)
    line = max(5, qr_w // 16)
    for i in range(3):
        _pseudo_text(
            img,
            rng,
            w // 10,
            int(cell * 1.9) + i * int(line * 1.6),
            int(rng.integers(8, 14)),
            line,
            (ink,) * 3,
        )
    qx = (w - qr_w) // 2
    qy = int(cell * 1.9) + 3 * int(line * 1.6) + 3 * p
    corners = _draw_qr(img, m, qx, qy, p, ink)
    _pseudo_text(img, rng, w // 6, qy + qr_w + 3 * p, 10, line, (ink,) * 3)
    alpha = np.full((h, w), 255, np.uint8)
    qc = corners.mean(axis=0)
    return DeskObject("paper", img, alpha, None, (float(qc[0]), float(qc[1])), p, text, corners)


# --- geometry -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Pose:
    """Where an object is: its anchor at `center` (image px), turned by `rotation_deg`
    (clockwise on screen), tilted away from the camera by `tilt_deg` (about the image's x
    and y axes), at `module_px` image pixels per QR module at the anchor; `lift` is its
    height above the desk as a fraction of the camera distance (a held phone casts a
    wider shadow than a slip lying flat)."""

    center: tuple[float, float]
    rotation_deg: float = 0.0
    tilt_deg: tuple[float, float] = (0.0, 0.0)
    module_px: float = 6.0
    lift: float = 0.0


def object_homography(obj: DeskObject, pose: Pose, frame_size: tuple[int, int]) -> np.ndarray:
    """The 3 x 3 map from object pixels to image pixels: a pinhole camera with a ~60 deg
    horizontal field of view looking straight down at the object's plane."""
    f = frame_size[0] / (2 * math.tan(math.radians(30)))
    s = pose.module_px / obj.px_per_module
    rz = math.radians(pose.rotation_deg)
    tx, ty = (math.radians(a) for a in pose.tilt_deg)
    rot_z = np.array([[math.cos(rz), -math.sin(rz), 0], [math.sin(rz), math.cos(rz), 0], [0, 0, 1]])
    rot_x = np.array([[1, 0, 0], [0, math.cos(tx), -math.sin(tx)], [0, math.sin(tx), math.cos(tx)]])
    rot_y = np.array([[math.cos(ty), 0, math.sin(ty)], [0, 1, 0], [-math.sin(ty), 0, math.cos(ty)]])
    r = rot_x @ rot_y @ rot_z
    # Object pixel -> metric plane (anchor at the origin, scaled so one module = module_px
    # at distance f) -> camera -> image.
    to_plane = np.array([[s, 0, -s * obj.anchor[0]], [0, s, -s * obj.anchor[1]], [0, 0, 1]])
    ext = np.column_stack([r[:, 0], r[:, 1], [0.0, 0.0, f]])
    k = np.array([[f, 0, pose.center[0]], [0, f, pose.center[1]], [0, 0, 1]])
    h = k @ ext @ to_plane
    return h / h[2, 2]


def project_points(h: np.ndarray, pts: np.ndarray) -> np.ndarray:
    """`pts` (N x 2) through homography `h`, N x 2 float32."""
    return (
        cv2.perspectiveTransform(pts.reshape(-1, 1, 2).astype(np.float64), h)
        .reshape(-1, 2)
        .astype(np.float32)
    )


def _footprint(
    obj: DeskObject, h: np.ndarray, frame_size: tuple[int, int], pad: int
) -> tuple[int, int, int, int] | None:
    ho, wo = obj.alpha.shape
    box = project_points(h, np.array([[0, 0], [wo, 0], [wo, ho], [0, ho]], np.float32))
    x0 = max(0, math.floor(box[:, 0].min()) - pad)
    y0 = max(0, math.floor(box[:, 1].min()) - pad)
    x1 = min(frame_size[0], math.ceil(box[:, 0].max()) + pad)
    y1 = min(frame_size[1], math.ceil(box[:, 1].max()) + pad)
    return (x0, y0, x1, y1) if x1 > x0 and y1 > y0 else None


def prefilter_object(obj: DeskObject, module_px: float) -> tuple[np.ndarray, np.ndarray]:
    """The object's BGRA picture band-limited for the scale it will be drawn at, so the
    warp's bilinear sampling does not alias (a lens never shows a code sharper than its
    pixels)."""
    bgra = cv2.merge([*cv2.split(obj.image), obj.alpha])
    shrink = obj.px_per_module / max(module_px, 1e-3)
    e = obj.emissive if obj.emissive is not None else np.zeros_like(obj.alpha)
    if shrink > 1.0:
        sigma = 0.45 * shrink
        bgra = cv2.GaussianBlur(bgra, (0, 0), sigma)
        e = cv2.GaussianBlur(e, (0, 0), sigma)
    return bgra, e


def draw_shadow(
    frame: np.ndarray, obj: DeskObject, h: np.ndarray, lift: float, strength: float = 0.45
) -> None:
    """Darken the desk under and beside the object, in place: a soft offset copy of its
    outline, wider and fainter the higher it is held."""
    fs = (frame.shape[1], frame.shape[0])
    off = 4 + lift * 400.0
    blur = 2 + lift * 250.0
    shift = np.array([[1, 0, off], [0, 1, off * 1.3], [0, 0, 1]])
    hs = shift @ h
    roi = _footprint(obj, hs, fs, int(3 * blur) + 2)
    if roi is None:
        return
    x0, y0, x1, y1 = roi
    # A soft shadow has no detail: draw and blur it at 1/q size, then enlarge (a 30 px blur
    # at full size would cost more than the rest of the scene together).
    q = max(1, int(blur // 3))
    small = (max(1, (x1 - x0) // q), max(1, (y1 - y0) // q))
    t = np.array([[1 / q, 0, -x0 / q], [0, 1 / q, -y0 / q], [0, 0, 1]], np.float64)
    mask = cv2.warpPerspective(obj.alpha, t @ hs, small, flags=cv2.INTER_AREA)
    mask = cv2.GaussianBlur(mask.astype(np.float32) / 255.0, (0, 0), blur / q)
    mask = cv2.resize(mask, (x1 - x0, y1 - y0), interpolation=cv2.INTER_LINEAR)
    k = 1.0 - strength * (1.0 - 0.5 * min(1.0, lift * 4)) * mask
    region = frame[y0:y1, x0:x1]
    region[:] = np.clip(region.astype(np.float32) * k[..., None], 0, 255).astype(np.uint8)


def draw_object(
    frame: np.ndarray,
    obj: DeskObject,
    h: np.ndarray,
    field: np.ndarray,
    lighting: Lighting,
    blur_sigma: float = 0.0,
    motion_px: tuple[float, float] = (0.0, 0.0),
    prefiltered: tuple[np.ndarray, np.ndarray] | None = None,
) -> None:
    """Composite `obj` through homography `h` into `frame` (lit desk, uint8 BGR) in place.

    Its non-emissive parts are lit by `field` and `lighting.tint`, its screen shines at
    `lighting.screen`; `blur_sigma` is the lens's defocus, `motion_px` the smear of a hand
    moving during the exposure. Only the object's bounding box is touched, which keeps a
    frame cheap. Pass `prefiltered` (from a previous call's `prefilter_object`) to skip
    band-limiting the picture again.
    """
    fs = (frame.shape[1], frame.shape[0])
    pad = int(3 * blur_sigma + abs(motion_px[0]) + abs(motion_px[1])) + 2
    roi = _footprint(obj, h, fs, pad)
    if roi is None:
        return
    x0, y0, x1, y1 = roi
    size = (x1 - x0, y1 - y0)
    bgra, emis = prefiltered if prefiltered is not None else prefilter_object(obj, _scale_module(obj, h))
    t = np.array([[1, 0, -x0], [0, 1, -y0], [0, 0, 1]], np.float64) @ h
    warped = cv2.warpPerspective(bgra, t, size, flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT)
    e = cv2.warpPerspective(emis, t, size, flags=cv2.INTER_LINEAR).astype(np.float32) / 255.0
    if blur_sigma > 0 or motion_px != (0.0, 0.0):
        warped = _blur(warped, blur_sigma, motion_px)
    a = cv2.extractChannel(warped, 3).astype(np.float32) * (1.0 / 255.0)
    lit_part = field[y0:y1, x0:x1] * (1.0 - e)
    screen_part = lighting.screen * e
    gain = cv2.merge([lit_part * t + screen_part for t in lighting.tint])
    lit = cv2.multiply(cv2.cvtColor(warped, cv2.COLOR_BGRA2BGR), gain, dtype=cv2.CV_8U)
    region = frame[y0:y1, x0:x1]
    region[:] = cv2.blendLinear(region, lit, 1.0 - a, a)


def _scale_module(obj: DeskObject, h: np.ndarray) -> float:
    """Image pixels per QR module at the object's anchor under `h` (local scale)."""
    ax, ay = obj.anchor
    pts = project_points(h, np.array([[ax, ay], [ax + obj.px_per_module, ay]], np.float32))
    return float(np.linalg.norm(pts[1] - pts[0]))


def _blur(img: np.ndarray, sigma: float, motion: tuple[float, float]) -> np.ndarray:
    if sigma > 0:
        img = cv2.GaussianBlur(img, (0, 0), sigma)
    length = math.hypot(*motion)
    if length >= 0.5:
        k = math.ceil(length) * 2 + 1
        kernel = np.zeros((k, k), np.float32)
        c = k // 2
        cv2.line(
            kernel,
            (round(c - motion[0] / 2), round(c - motion[1] / 2)),
            (round(c + motion[0] / 2), round(c + motion[1] / 2)),
            1.0,
            1,
            cv2.LINE_AA,
        )
        img = cv2.filter2D(img, -1, kernel / kernel.sum())
    return img


def add_sensor_noise(frame: np.ndarray, noise_bank: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """`frame` plus sensor noise, uint8. `noise_bank` is a pre-drawn int16 field larger than
    the frame (see `noise_bank`); each frame takes a window at a random offset, which makes
    the noise change from frame to frame without drawing 2.7 million normals every time."""
    fh, fw = frame.shape[:2]
    bh, bw = noise_bank.shape[:2]
    oy = int(rng.integers(0, bh - fh + 1))
    ox = int(rng.integers(0, bw - fw + 1))
    return cv2.add(frame, noise_bank[oy : oy + fh, ox : ox + fw], dtype=cv2.CV_8U)


def noise_bank(size: tuple[int, int], sigma: float, rng: np.random.Generator, margin: int = 64) -> np.ndarray:
    """A field of Gaussian sensor noise (int16, BGR) `margin` px larger than `size` each way;
    mostly luma, as a Bayer sensor after demosaicing shows it, with some chroma. Drawn as a
    512 px tile and repeated: 4 million normals would cost more than the rest of a camera's
    start, and a repeat 512 px apart is invisible."""
    w, h = size
    tile = 512
    luma = rng.standard_normal((tile, tile, 1), dtype=np.float32) * sigma
    chroma = rng.standard_normal((tile, tile, 3), dtype=np.float32) * (sigma * 0.4)
    block = np.round(luma + chroma).astype(np.int16)
    reps = (-(-(h + margin) // tile), -(-(w + margin) // tile), 1)
    return np.tile(block, reps)[: h + margin, : w + margin].copy()
