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
    "DESK_TYPES",
    "DOC_PX_PER_MM",
    "ID_CARD_MM",
    "PAGE_KINDS",
    "TEXTURES",
    "Curl",
    "DeskObject",
    "DeskType",
    "Lighting",
    "PageKind",
    "PageTruth",
    "Pose",
    "Texture",
    "add_sensor_noise",
    "apply_light",
    "blur_frame",
    "document",
    "document_pose",
    "document_size_mm",
    "draw_cast_shadow",
    "draw_clutter",
    "draw_document",
    "draw_hand",
    "draw_object",
    "draw_shadow",
    "form_page",
    "hand_on_page",
    "id_card",
    "light_field",
    "noise_bank",
    "object_homography",
    "order_from_top_left",
    "page_truth",
    "paper_slip_with_qr",
    "phone_with_qr",
    "prefilter_document",
    "prefilter_object",
    "project_points",
    "qr_modules",
    "receipt",
    "render_background",
    "render_desk",
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

    Documents (`form_page`, `id_card`, `receipt`) also carry `corners`, their outline's
    corners in object pixels (TL, TR, BR, BL of the document; for a rounded card where the
    straight edges meet), and `ref_size`, their size in 0.1 mm; their `px_per_module` is
    object pixels per millimetre, so `Pose.module_px` is image pixels per millimetre.
    """

    kind: str
    image: np.ndarray
    alpha: np.ndarray
    emissive: np.ndarray | None
    anchor: tuple[float, float]
    px_per_module: float
    qr_text: str | None = None
    qr_corners: np.ndarray | None = None
    corners: np.ndarray | None = None
    ref_size: tuple[int, int] | None = None


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


# --- documents ----------------------------------------------------------------------------
#
# A document is a DeskObject whose `px_per_module` is its raster's pixels per millimetre, so
# `Pose.module_px` becomes image pixels per millimetre at the page's centre; `corners` are its
# outline's corners in object pixels (OpenCV convention: the raster covers -0.5 .. w - 0.5,
# so the outline's corners sit half a pixel outside the first and last pixel centres) and
# `ref_size` its size in 0.1 mm as the SmartDoc metric wants it.

PageKind = Literal["a4", "a5", "id_card", "receipt"]
PAGE_KINDS: tuple[PageKind, ...] = ("a4", "a5", "id_card", "receipt")

DeskType = Literal["light_wood", "dark_wood", "white", "patterned", "glass", "cluttered"]
DESK_TYPES: tuple[DeskType, ...] = ("light_wood", "dark_wood", "white", "patterned", "glass", "cluttered")

# Raster resolution per kind: about 1.3-2x the finest the camera ever sees it at, so the warp
# only ever shrinks (a prefiltered shrink is alias-free) and a page costs ~1 Mpx at most.
#: Raster pixels per millimetre of each kind of document.
DOC_PX_PER_MM: dict[str, float] = {"a4": 4.0, "a5": 5.0, "id_card": 12.0, "receipt": 5.0}
ID_CARD_MM = (85.6, 54.0)  #: ID-1 card size, mm
_ID_CARD_RADIUS_MM = 3.18  # ISO/IEC 7810 ID-1

_FONT_DIRS = ("/usr/share/fonts/opentype/noto", "/usr/share/fonts/truetype/noto", "/usr/share/fonts/noto-cjk")
# Glyph rasters are drawn once at this em size and shrunk to the size a document needs.
_EM = 40

_TITLES = (
    "不动产登记申请书",
    "营业执照登记申请表",
    "居民身份证申领登记表",
    "社会保险参保登记表",
    "个体工商户设立登记申请书",
    "户口迁移申请表",
    "住房公积金提取申请表",
    "机动车驾驶证换证申请表",
    "企业名称自主申报承诺书",
    "行政许可申请书",
    "最低生活保障申请审批表",
    "政务服务事项办理告知书",
)
_LABELS = (
    "申请人", "证件类型", "证件号码", "联系电话", "通讯地址", "邮政编码", "代理人", "坐落",
    "不动产单元号", "权利类型", "登记原因", "面积", "用途", "申请事项", "受理编号", "经办人",
    "审核意见", "备注", "所属街道", "户籍地址", "工作单位", "申请日期",
)  # fmt: skip
_VALUES = (
    "张三", "李四", "王五", "样本", "居民身份证", "示例市测试路88号", "SPECIMEN", "样本区示例街道",
    "住宅", "买卖", "首次登记", "同意", "单独所有", "125.6平方米", "无", "0000-00000000", "示例公司",
)  # fmt: skip
# Body text: only CJK characters and full-width punctuation, so every glyph advances one em
# and a line can be cut from a long cached raster at any character boundary.
_BODY = (
    "申请人应当如实填写本表，并对所提交申请材料的真实性、合法性、有效性负责。"
    "本表一式两份，一份由登记机构留存，一份由申请人保存，涂改无效。"
    "根据《不动产登记暂行条例》及其实施细则的规定，现申请办理上述登记事项。"
    "受理机关应当自受理之日起二十个工作日内办结，法律另有规定的除外。"
    "申请人对登记结果有异议的，可以自收到通知之日起六十日内申请行政复议。"
    "委托他人办理的，应当提交授权委托书及受托人的身份证明材料。"
    "本人承诺所填信息真实准确，如有虚假，愿意承担相应的法律责任。"
    "请使用黑色或蓝色签字笔填写，字迹清楚，不得使用铅笔填写。"
    "办理过程中如需补正材料，窗口工作人员将一次性告知需要补正的全部内容。"
    "本业务已纳入一网通办，可通过政务服务网或自助终端查询办理进度。"
    "申请材料齐全、符合法定形式的，应当场受理并出具受理通知书。"
    "因申请人原因导致无法按期办结的，办理时限自动顺延。"
)
_STAMP_TEXTS = ("示例市不动产登记中心", "示例市政务服务管理局", "样本区行政审批局", "示例市社会保险事业局")
_PAPERS = {
    "white": ((246, 247, 248), (240, 242, 244)),
    "off_white": ((226, 236, 242), (222, 232, 240), (232, 238, 240)),
    "tinted": ((238, 226, 222), (222, 236, 244), (228, 240, 228), (232, 226, 244)),
}


def _font_path(serif: bool) -> str | None:
    import os

    name = "NotoSerifCJK-Regular.ttc" if serif else "NotoSansCJK-Regular.ttc"
    for d in _FONT_DIRS:
        p = os.path.join(d, name)
        if os.path.exists(p):
            return p
    return None


@functools.lru_cache(maxsize=8)
def _font(serif: bool, size: int) -> object | None:
    from PIL import ImageFont

    path = _font_path(serif)
    # Face 2 of the Noto CJK collections is Simplified Chinese (glyph shapes as printed in
    # mainland forms).
    return ImageFont.truetype(path, size, index=2) if path else None


@functools.lru_cache(maxsize=1024)
def _text_raster(text: str, serif: bool = False) -> np.ndarray:
    """Ink coverage (uint8, `_EM` * 1.25 px high) of one line of `text`, read-only. Without a
    CJK font it falls back to stroke glyphs that only look like text."""
    from PIL import Image, ImageDraw, ImageFont

    font = _font(serif, _EM)
    lh = int(_EM * 1.25)
    if not isinstance(font, ImageFont.FreeTypeFont):
        out = np.zeros((lh, max(1, len(text)) * _EM, 3), np.uint8)
        _pseudo_text(
            out, np.random.default_rng(zlib.crc32(text.encode())), 0, _EM // 8, len(text), _EM, (255,) * 3
        )
        r = np.ascontiguousarray(out[..., 0])
    else:
        w = max(1, math.ceil(font.getlength(text)))
        im = Image.new("L", (w, lh), 0)
        ImageDraw.Draw(im).text((0, lh // 2), text, font=font, fill=255, anchor="lm")
        r = np.asarray(im).copy()
    r.flags.writeable = False
    return r


def _ink(
    canvas: np.ndarray, cov: np.ndarray, x: int, y: int, ink: tuple[int, int, int], opacity: float = 1.0
) -> None:
    """Print coverage `cov` (uint8) at (x, y) in colour `ink`, in place. Multiplicative, as
    ink on paper: red over black stays black, and the paper's grain shows through."""
    h, w = cov.shape
    H, W = canvas.shape[:2]
    x0, y0, x1, y1 = max(0, x), max(0, y), min(W, x + w), min(H, y + h)
    if x1 <= x0 or y1 <= y0:
        return
    a = cov[y0 - y : y1 - y, x0 - x : x1 - x].astype(np.float32) * (opacity / 255.0)
    absorb = 1.0 - np.array(ink, np.float32) / 255.0
    region = canvas[y0:y1, x0:x1]
    region[:] = np.clip(region * (1.0 - a[..., None] * absorb), 0, 255).astype(np.uint8)


def _text(
    canvas: np.ndarray,
    text: str,
    x: float,
    y: float,
    height: float,
    ink: tuple[int, int, int],
    *,
    serif: bool = False,
    align: str = "left",
    opacity: float = 1.0,
) -> float:
    """Print `text` with its line box `height` px high, top at `y`; returns its width."""
    r = _text_raster(text, serif)
    s = height / r.shape[0]
    w = max(1, round(r.shape[1] * s))
    h = max(1, round(height))
    cov = cv2.resize(r, (w, h), interpolation=cv2.INTER_AREA)
    if align == "center":
        x -= w / 2
    elif align == "right":
        x -= w
    _ink(canvas, cov, round(x), round(y), ink, opacity)
    return float(w)


def _body_line(
    canvas: np.ndarray, start: int, n: int, x: float, y: float, em: float, ink: tuple[int, int, int]
) -> None:
    """`n` characters of the body corpus from `start`, em size `em` px, top-left at (x, y)."""
    corpus = _BODY * 2
    r = _text_raster(corpus)
    start %= len(_BODY)
    part = r[:, start * _EM : (start + n) * _EM]
    s = em / _EM
    cov = cv2.resize(
        part,
        (max(1, round(part.shape[1] * s)), max(1, round(part.shape[0] * s))),
        interpolation=cv2.INTER_AREA,
    )
    _ink(canvas, cov, round(x), round(y), ink)


@functools.lru_cache(maxsize=4)
def _paper_grain(seed: int) -> np.ndarray:
    """A 1536 px square of smooth fibre noise in [-1, 1] that documents crop their grain from
    (drawing fresh fractal noise per page would cost more than the page's text)."""
    rng = np.random.default_rng([seed, 77])
    g = 0.7 * _fractal_noise(rng, (1536, 1536), 96, 4) + 0.3 * rng.standard_normal((1536, 1536)).astype(
        np.float32
    )
    g.flags.writeable = False
    return g


def _paper(
    w: int, h: int, colour: tuple[int, int, int], rng: np.random.Generator, grain: float = 3.0
) -> np.ndarray:
    big = _paper_grain(0)
    reps_y, reps_x = -(-h // big.shape[0]), -(-w // big.shape[1])
    src = big if reps_x == 1 and reps_y == 1 else np.tile(big, (reps_y + 1, reps_x + 1))
    oy = int(rng.integers(0, src.shape[0] - h + 1))
    ox = int(rng.integers(0, src.shape[1] - w + 1))
    g = (src[oy : oy + h, ox : ox + w] * grain).astype(np.int16)
    base = np.empty((h, w, 3), np.uint8)
    base[:] = colour
    return cv2.add(base, cv2.merge([g, g, g]), dtype=cv2.CV_8U)  # saturating, in one pass


@functools.lru_cache(maxsize=8)
def _stamp_raster(text: str, size: int = 480) -> np.ndarray:
    """Coverage (uint8) of a round official seal: a thick ring, the issuer's name along the
    upper arc, a five-pointed star, a line under it. Read-only."""
    cov = np.zeros((size, size), np.uint8)
    c = size / 2
    ring = size * 0.035
    cv2.circle(cov, (round(c), round(c)), round(c - ring / 2 - 2), 255, round(ring), cv2.LINE_AA)
    # The star.
    rs = size * 0.16
    pts = []
    for k in range(10):
        ang = -math.pi / 2 + k * math.pi / 5
        rad = rs if k % 2 == 0 else rs * 0.38
        pts.append((c + rad * math.cos(ang), c + rad * math.sin(ang)))
    cv2.fillPoly(cov, [np.round(np.array(pts) * 16).astype(np.int32)], 255, cv2.LINE_AA, shift=4)
    # The name along the arc, each glyph turned to face the centre.
    n = len(text)
    span = math.radians(min(250, 25 * n))
    glyph = size * 0.15
    rad = c - ring - glyph * 0.62
    for i, ch in enumerate(text):
        ang = -math.pi / 2 - span / 2 + span * (i + 0.5) / n
        g = _text_raster(ch)
        gs = cv2.resize(
            g,
            (round(g.shape[1] * glyph / _EM), round(g.shape[0] * glyph / _EM)),
            interpolation=cv2.INTER_AREA,
        )
        gx, gy = c + rad * math.cos(ang), c + rad * math.sin(ang)
        m = cv2.getRotationMatrix2D((gs.shape[1] / 2, gs.shape[0] / 2), -math.degrees(ang + math.pi / 2), 1.0)
        m[0, 2] += gx - gs.shape[1] / 2
        m[1, 2] += gy - gs.shape[0] / 2
        rot = cv2.warpAffine(gs, m, (size, size))
        np.maximum(cov, rot, out=cov)
    line = _text_raster("业务专用章")
    lw, lh = round(size * 0.42), round(size * 0.42 * line.shape[0] / line.shape[1])
    small = cv2.resize(line, (lw, lh), interpolation=cv2.INTER_AREA)
    y0, x0 = round(c + size * 0.2), round(c - lw / 2)
    region = cov[y0 : y0 + lh, x0 : x0 + lw]
    np.maximum(region, small[: region.shape[0], : region.shape[1]], out=region)
    cov.flags.writeable = False
    return cov


def _stamp(canvas: np.ndarray, rng: np.random.Generator, cx: float, cy: float, diameter: float) -> None:
    """Press a red seal centred at (cx, cy): turned a little, inked unevenly (a seal never
    prints solid), in the vermilion of stamp pads."""
    cov = _stamp_raster(_STAMP_TEXTS[int(rng.integers(len(_STAMP_TEXTS)))])
    d = max(8, round(diameter))
    m = cv2.getRotationMatrix2D(
        (cov.shape[1] / 2, cov.shape[0] / 2), float(rng.uniform(-25, 25)), d / cov.shape[0]
    )
    m[0, 2] += d / 2 - cov.shape[1] / 2
    m[1, 2] += d / 2 - cov.shape[0] / 2
    small = cv2.warpAffine(cov, m, (d, d), flags=cv2.INTER_AREA).astype(np.float32)
    uneven = 0.55 + 0.45 * np.clip(0.6 + _smooth_noise(rng, (d, d), max(4, d // 5)), 0.0, 1.0)
    ink = tuple(int(v) for v in rng.choice([[50, 40, 215], [60, 50, 200], [70, 60, 225]]))
    _ink(
        canvas,
        (small * uneven).astype(np.uint8),
        round(cx - d / 2),
        round(cy - d / 2),
        (ink[0], ink[1], ink[2]),
        0.85,
    )


def _photo(canvas: np.ndarray, rng: np.random.Generator, x: int, y: int, w: int, h: int) -> None:
    """A colour ID photo glued on a form: a blue, red or white backdrop, a face, dark hair and
    a dark jacket. Crude, but it is colour and detail where a real photo is."""
    bg = tuple(int(v) for v in rng.choice([[200, 140, 60], [50, 50, 200], [235, 235, 235]]))
    ph = np.empty((h, w, 3), np.uint8)
    ph[:] = bg
    skin = tuple(int(v) for v in rng.choice([[150, 180, 225], [130, 165, 210], [115, 150, 195]]))
    hair = tuple(int(v) for v in rng.choice([[25, 25, 30], [30, 35, 50]]))
    jacket = tuple(int(v) for v in rng.choice([[40, 35, 35], [90, 50, 30], [60, 60, 60]]))
    cx = w // 2
    cv2.ellipse(
        ph, (cx, round(h * 1.05)), (round(w * 0.48), round(h * 0.35)), 0, 0, 360, jacket, -1, cv2.LINE_AA
    )
    cv2.ellipse(
        ph, (cx, round(h * 0.40)), (round(w * 0.26), round(h * 0.25)), 0, 0, 360, hair, -1, cv2.LINE_AA
    )
    cv2.ellipse(
        ph, (cx, round(h * 0.46)), (round(w * 0.21), round(h * 0.24)), 0, 0, 360, skin, -1, cv2.LINE_AA
    )
    cv2.rectangle(
        ph, (cx - round(w * 0.08), round(h * 0.62)), (cx + round(w * 0.08), round(h * 0.75)), skin, -1
    )
    H, W = canvas.shape[:2]
    hh, ww = min(h, H - y), min(w, W - x)
    if hh > 0 and ww > 0:
        canvas[y : y + hh, x : x + ww] = ph[:hh, :ww]


def _barcode(canvas: np.ndarray, rng: np.random.Generator, x: int, y: int, w: int, h: int, ink: int) -> None:
    """Bars of a Code 128-like symbol (random widths; it is not meant to decode)."""
    unit = max(1.0, w / 180)
    pos = 0.0
    while pos < w - 4 * unit:
        bw = unit * int(rng.integers(1, 5))
        if rng.random() < 0.55:
            cv2.rectangle(canvas, (x + round(pos), y), (x + round(pos + bw) - 1, y + h), (ink,) * 3, -1)
        pos += bw


def _qr_on(canvas: np.ndarray, text: str, x: float, y: float, module: float, ink: int) -> np.ndarray:
    """Print the QR code of `text` with its top-left at (x, y), `module` raster px per module
    (any real number: drawn 4x finer and shrunk with area averaging, so the code's edges land
    where they should to a fraction of a pixel); returns its corners (OpenCV convention)."""
    m = qr_modules(text)
    n = m.shape[0]
    side = n * module
    x0, y0 = math.floor(x), math.floor(y)
    fine = 4
    big_side = math.ceil((side + (x - x0) + 1) * fine)
    big = np.zeros((big_side, big_side), np.uint8)
    idx = np.clip(((np.arange(big_side) / fine - (x - x0)) / module).astype(np.int64), 0, n - 1)
    idy = np.clip(((np.arange(big_side) / fine - (y - y0)) / module).astype(np.int64), 0, n - 1)
    inside_x = (np.arange(big_side) / fine >= x - x0) & (np.arange(big_side) / fine < x - x0 + side)
    inside_y = (np.arange(big_side) / fine >= y - y0) & (np.arange(big_side) / fine < y - y0 + side)
    big[:] = np.where(m[idy][:, idx] & inside_y[:, None] & inside_x[None, :], 255, 0).astype(np.uint8)
    cov = cv2.resize(big, (big_side // fine, big_side // fine), interpolation=cv2.INTER_AREA)
    # Paper is not pure white and printer toner not pure black.
    _ink(canvas, cov, x0, y0, (ink, ink, ink))
    # Raster pixel i covers [i - 0.5, i + 0.5]: the code's edge at raster x is at x - 0.5.
    return np.array([[x - 0.5, y - 0.5], [x + side - 0.5, y - 0.5], [x + side - 0.5, y + side - 0.5],
                     [x - 0.5, y + side - 0.5]], np.float32)  # fmt: skip


def _doc_object(
    kind: str,
    img: np.ndarray,
    alpha: np.ndarray,
    ppm: float,
    ref_size: tuple[int, int],
    qr_text: str | None,
    qr_corners: np.ndarray | None,
) -> DeskObject:
    h, w = alpha.shape
    corners = np.array([[-0.5, -0.5], [w - 0.5, -0.5], [w - 0.5, h - 0.5], [-0.5, h - 0.5]], np.float32)
    return DeskObject(
        kind, img, alpha, None, ((w - 1) / 2, (h - 1) / 2), ppm, qr_text, qr_corners, corners, ref_size
    )


def form_page(
    kind: Literal["a4", "a5"],
    rng: np.random.Generator,
    *,
    qr_text: str | None = None,
    qr_module_mm: float = 1.0,
    paper: str | None = None,
    photo: bool | None = None,
    barcode: bool | None = None,
) -> DeskObject:
    """A government form on A4 or A5: a title (e.g. 不动产登记申请书), a form number, a
    table of labelled fields partly filled in blue ink, paragraphs of body text, a signature
    line with a red round seal over it; sometimes a colour ID photo, a barcode, and, given
    `qr_text`, a QR code of `qr_module_mm` mm per module. `paper` is ``white``,
    ``off_white`` or ``tinted`` (drawn when None)."""
    wmm, hmm = (210.0, 297.0) if kind == "a4" else (148.0, 210.0)
    ppm = DOC_PX_PER_MM[kind]
    w, h = round(wmm * ppm), round(hmm * ppm)
    if paper is None:
        paper = str(rng.choice(["white", "white", "off_white", "tinted"]))
    colour = _PAPERS[paper][int(rng.integers(len(_PAPERS[paper])))]
    img = _paper(w, h, colour, rng)
    k = wmm / 210.0  # A5 is laid out as a shrunk A4
    mm = ppm * k
    black = tuple(int(v) for v in [rng.integers(15, 45)] * 3)
    ink = (black[0], black[1], black[2])
    blue = (150, 60, 25)
    margin = rng.uniform(18, 25) * mm
    y = rng.uniform(14, 22) * mm
    title = _TITLES[int(rng.integers(len(_TITLES)))]
    _text(
        img, title, w / 2, y, rng.uniform(8.5, 11) * mm, ink, serif=bool(rng.random() < 0.5), align="center"
    )
    y += 14 * mm
    _text(img, f"编号：YC{int(rng.integers(10**7, 10**8))}", w - margin, y, 4.5 * mm, ink, align="right")
    if barcode if barcode is not None else rng.random() < 0.3:
        _barcode(img, rng, round(margin), round(y - 3 * mm), round(45 * mm), round(9 * mm), ink[0])
    y += 7 * mm
    # The table.
    rows = int(rng.integers(5, 11))
    row_h = rng.uniform(8.5, 11) * mm
    x0, x1 = margin, w - margin
    lab_w = rng.uniform(28, 36) * mm
    with_photo = photo if photo is not None else rng.random() < 0.35
    ph_w = 30 * mm
    thick = max(1, round(0.35 * mm))
    for r in range(rows + 1):
        yy = round(y + r * row_h)
        right = x1 - ph_w if with_photo and r < 4 and r > 0 else x1
        cv2.line(img, (round(x0), yy), (round(right), yy), ink, thick, cv2.LINE_AA)
    split = rng.random() < 0.5
    for r in range(rows):
        ya, yb = round(y + r * row_h), round(y + (r + 1) * row_h)
        right = x1 - ph_w if with_photo and r < 4 else x1
        cv2.line(img, (round(x0 + lab_w), ya), (round(x0 + lab_w), yb), ink, thick, cv2.LINE_AA)
        label = _LABELS[int(rng.integers(len(_LABELS)))]
        _text(img, label, x0 + 1.5 * mm, ya + row_h * 0.2, row_h * 0.6, ink)
        mid = (x0 + lab_w + right) / 2
        if split and right == x1:
            cv2.line(img, (round(mid), ya), (round(mid), yb), ink, thick, cv2.LINE_AA)
            cv2.line(img, (round(mid + lab_w), ya), (round(mid + lab_w), yb), ink, thick, cv2.LINE_AA)
            _text(
                img,
                _LABELS[int(rng.integers(len(_LABELS)))],
                mid + 1.5 * mm,
                ya + row_h * 0.2,
                row_h * 0.6,
                ink,
            )
        if rng.random() < 0.6:  # filled in by hand, in blue
            val = _VALUES[int(rng.integers(len(_VALUES)))]
            _text(
                img, val, x0 + lab_w + 3 * mm, ya + row_h * 0.15, row_h * 0.7, blue, serif=True, opacity=0.9
            )
    for xx in (x0, x1):
        cv2.line(img, (round(xx), round(y)), (round(xx), round(y + rows * row_h)), ink, thick, cv2.LINE_AA)
    if with_photo:
        px0 = round(x1 - ph_w)
        cv2.line(img, (px0, round(y)), (px0, round(y + 4 * row_h)), ink, thick, cv2.LINE_AA)
        pad = 2 * mm
        pw, phh = round(ph_w - 2 * pad), round(4 * row_h - 2 * pad)
        if rng.random() < 0.7:
            _photo(img, rng, round(px0 + pad), round(y + pad), pw, phh)
        else:
            _text(img, "照片", px0 + ph_w / 2, y + 2 * row_h - 3 * mm, 6 * mm, ink, align="center")
    y += rows * row_h + 6 * mm
    # Body text, as many lines as fit above the signature block and the QR code.
    em = rng.uniform(3.6, 4.4) * mm
    lead = em * rng.uniform(1.5, 1.8)
    n_chars = int((x1 - x0) / em)
    qr_side = 0.0
    if qr_text is not None:
        qr_side = (qr_modules(qr_text).shape[0] + 8) * qr_module_mm * ppm
    bottom = h - max(50 * mm, qr_side + 16 * mm)
    start = int(rng.integers(0, len(_BODY)))
    lines = max(0, min(int(rng.integers(4, 16)), int((bottom - y) / lead)))
    for i in range(lines):
        first = i == 0 or rng.random() < 0.15
        indent = 2 if first else 0
        n = n_chars - indent if i < lines - 1 else int(rng.integers(n_chars // 3, n_chars))
        _body_line(img, start, n, x0 + indent * em, y, em, ink)
        start += n
        y += lead
    # Signature line and date, the seal pressed over them.
    y = max(y + 4 * mm, h - 48 * mm) if qr_text is None else y + 4 * mm
    sx = x1 - 75 * mm
    _text(img, "申请人（签章）：", sx, y, 5 * mm, ink)
    _text(img, "年    月    日", x1, y + 10 * mm, 5 * mm, ink, align="right")
    if rng.random() < 0.6:
        _text(img, "张三", sx + 38 * mm, y - 1 * mm, 7 * mm, blue, serif=True, opacity=0.9)
    if rng.random() < 0.85:
        d = rng.uniform(38, 42) * mm
        _stamp(img, rng, x1 - 28 * mm + rng.uniform(-6, 6) * mm, y + 6 * mm + rng.uniform(-5, 5) * mm, d)
    qr_corners = None
    if qr_text is not None:
        qm = qr_module_mm * ppm
        q = qr_modules(qr_text).shape[0] * qm
        qx = x0 + 4 * qm
        qy = h - 8 * mm - q - 4 * qm
        qr_corners = _qr_on(img, qr_text, qx, qy, qm, ink[0])
        _text(img, "扫码查询办理进度", qx + q + 4 * mm, qy + q / 2 - 2.5 * mm, 5 * mm, ink)
    _text(img, "第 1 页  共 1 页", w / 2, h - 10 * mm, 3.5 * mm, ink, align="center")
    alpha = np.full((h, w), 255, np.uint8)
    ref = (2100, 2970) if kind == "a4" else (1480, 2100)
    return _doc_object(kind, img, alpha, ppm, ref, qr_text, qr_corners)


def id_card(rng: np.random.Generator) -> DeskObject:
    """An ID-1 card (85.6 x 54 mm, 3.18 mm rounded corners) that is obviously a specimen:
    a pale blue-green or pink guilloche background, a portrait, 姓名 张三 and the like, and
    样本 SPECIMEN across it. No number on it has the form of a real ID number. Its
    `corners` are where the straight edges meet, outside the rounded outline."""
    ppm = DOC_PX_PER_MM["id_card"]
    w, h = round(ID_CARD_MM[0] * ppm), round(ID_CARD_MM[1] * ppm)
    c0, c1 = [
        (np.array(a, np.float32), np.array(b, np.float32))
        for a, b in (
            [[235, 220, 190], [205, 235, 215]],
            [[220, 215, 245], [235, 235, 215]],
            [[200, 230, 240], [240, 215, 205]],
        )
    ][int(rng.integers(3))]
    t = np.linspace(0.0, 1.0, w, dtype=np.float32)[None, :, None]
    img = np.clip(c0 + (c1 - c0) * t + 3 * rng.standard_normal((h, 1, 1)).astype(np.float32), 0, 255)
    img = np.ascontiguousarray(np.broadcast_to(img, (h, w, 3))).astype(np.uint8)
    # Guilloche: interfering sine curves, the security print of every card.
    xs = np.arange(0, w, 3, dtype=np.float32)
    gcol = tuple(int(v) for v in (c0 * 0.85))
    for i in range(26):
        ph = rng.uniform(0, 2 * math.pi)
        amp = h * rng.uniform(0.04, 0.12)
        ys = h * (i + 0.5) / 26 + amp * np.sin(xs / w * rng.uniform(4, 10) + ph)
        cv2.polylines(img, [np.stack([xs, ys], 1).astype(np.int32)], False, gcol, 1, cv2.LINE_AA)
    ink = (40, 35, 30)
    mm = ppm
    title = str(rng.choice(["示例市居住证", "社会保障卡", "示例市市民卡", "工作证"]))
    _text(img, title, w / 2, 3 * mm, 6 * mm, (120, 60, 20), align="center")
    fields = [
        ("姓名", "张三"),
        ("性别", "男  民族  汉"),
        ("出生", "1990年1月1日"),
        ("住址", "样本省示例市测试路1号"),
    ]
    for i, (lab, val) in enumerate(fields):
        yy = 12 * mm + i * 7.5 * mm
        _text(img, lab, 5 * mm, yy, 4.2 * mm, (110, 100, 90))
        _text(img, val, 15 * mm, yy, 4.6 * mm, ink)
    _text(img, "证件号码  SPECIMEN-000000", 5 * mm, 45 * mm, 4.2 * mm, ink)
    # Portrait.
    px, py, pw, ph_ = round(58 * mm), round(11 * mm), round(23 * mm), round(29 * mm)
    _photo(img, rng, px, py, pw, ph_)
    # The specimen overprint, big and red, as on issuers' sample cards.
    over = np.zeros((h, w, 3), np.uint8)
    _text(over, "样本 SPECIMEN", w / 2, h / 2 - 6 * mm, 12 * mm, (255, 255, 255), align="center")
    m = cv2.getRotationMatrix2D((w / 2, h / 2), float(rng.uniform(10, 25)), 1.0)
    turned = np.asarray(cv2.warpAffine(over, m, (w, h)))
    _ink(img, turned[..., 0], 0, 0, (60, 60, 210), 0.45)
    # Rounded corners, antialiased: coverage is the distance inside the corner's circle.
    alpha = np.full((h, w), 255, np.uint8)
    r = _ID_CARD_RADIUS_MM * ppm
    n = math.ceil(r) + 1
    yy, xx = np.mgrid[0:n, 0:n].astype(np.float32)
    # Pixel (i, j) of the top-left n x n block; the outline's straight edges are at -0.5.
    d = np.hypot(xx - (r - 0.5), yy - (r - 0.5))
    corner = np.where((xx < r - 0.5) & (yy < r - 0.5), np.clip(r - d + 0.5, 0, 1), 1.0)
    cov = (corner * 255).astype(np.uint8)
    alpha[:n, :n] = np.minimum(alpha[:n, :n], cov)
    alpha[:n, w - n :] = np.minimum(alpha[:n, w - n :], cov[:, ::-1])
    alpha[h - n :, :n] = np.minimum(alpha[h - n :, :n], cov[::-1, :])
    alpha[h - n :, w - n :] = np.minimum(alpha[h - n :, w - n :], cov[::-1, ::-1])
    return _doc_object("id_card", img, alpha, ppm, (856, 540), None, None)


def receipt(
    rng: np.random.Generator,
    *,
    length_mm: float | None = None,
    qr_text: str | None = None,
    qr_module_mm: float = 1.0,
) -> DeskObject:
    """A queue ticket or fee receipt from an 80 mm thermal printer: bluish-white paper,
    slightly faded grey print, dashed separators, a big ticket number; `length_mm` drawn from
    120-260 when None; a QR code when `qr_text` is given."""
    ppm = DOC_PX_PER_MM["receipt"]
    if length_mm is None:
        length_mm = float(rng.uniform(120, 260))
    if qr_text is not None:
        length_mm = max(length_mm, 95 + (qr_modules(qr_text).shape[0] + 8) * qr_module_mm)
    w, h = round(80 * ppm), round(length_mm * ppm)
    img = _paper(w, h, (243, 242, 238), rng, 2.0)
    g = int(rng.integers(40, 90))
    ink = (g, g, g)
    mm = ppm
    x0 = 6 * mm
    y = 6 * mm
    _text(img, "示例市政务服务中心", w / 2, y, 6 * mm, ink, align="center")
    y += 9 * mm
    _text(img, str(rng.choice(["排队凭条", "缴费收据", "受理回执"])), w / 2, y, 5 * mm, ink, align="center")
    y += 8 * mm
    ticket = f"{rng.choice(['A', 'B', 'C', 'D'])}{int(rng.integers(1, 400)):03d}"
    _text(img, ticket, w / 2, y, 14 * mm, ink, align="center")
    y += 17 * mm
    lines = [
        f"业务类型：{rng.choice(['不动产登记', '社保医保', '公积金', '户籍办理'])}",
        f"等候人数：{int(rng.integers(0, 30))} 人",
        f"取号时间：2025-{int(rng.integers(1, 13)):02d}-{int(rng.integers(1, 29)):02d}"
        f" 09:{int(rng.integers(0, 60)):02d}",
        "请留意叫号，过号请重新取号",
        "办理窗口：综合受理区",
        "金额：0.00 元",
    ]
    stop = h - 10 * mm - ((qr_modules(qr_text).shape[0] + 8) * qr_module_mm * ppm if qr_text else 0)
    i = 0
    while y < stop - 6 * mm:
        if i % 4 == 3:
            for xx in range(round(x0), round(w - x0), round(3 * mm)):
                cv2.line(
                    img,
                    (xx, round(y + 2 * mm)),
                    (xx + round(1.5 * mm), round(y + 2 * mm)),
                    ink,
                    max(1, round(0.3 * mm)),
                )
        else:
            _text(img, lines[i % len(lines)], x0, y, 4.2 * mm, ink)
        y += 6.5 * mm
        i += 1
    qr_corners = None
    if qr_text is not None:
        qm = qr_module_mm * ppm
        q = qr_modules(qr_text).shape[0] * qm
        qr_corners = _qr_on(img, qr_text, (w - q) / 2, h - 8 * mm - q, qm, g)
    alpha = np.full((h, w), 255, np.uint8)
    return _doc_object("receipt", img, alpha, ppm, (800, round(length_mm * 10)), qr_text, qr_corners)


def document_size_mm(kind: PageKind, length_mm: float = 180.0) -> tuple[float, float]:
    """(width, height) in mm of a document of `kind` in its own orientation; a receipt is
    80 mm wide and `length_mm` long."""
    sizes = {"a4": (210.0, 297.0), "a5": (148.0, 210.0), "id_card": ID_CARD_MM, "receipt": (80.0, length_mm)}
    if kind not in sizes:
        raise ValueError(f"unknown document kind {kind!r}; expected one of {', '.join(PAGE_KINDS)}")
    return sizes[kind]


def document(
    kind: PageKind,
    rng: np.random.Generator,
    *,
    qr_text: str | None = None,
    qr_module_mm: float = 1.0,
    length_mm: float = 180.0,
) -> DeskObject:
    """A document of `kind`: `form_page` for ``a4``/``a5``, `id_card`, `receipt` (of
    `length_mm`, longer if its QR code needs it)."""
    if kind in ("a4", "a5"):
        return form_page(kind, rng, qr_text=qr_text, qr_module_mm=qr_module_mm)
    if kind == "id_card":
        return id_card(rng)
    if kind == "receipt":
        return receipt(rng, length_mm=length_mm, qr_text=qr_text, qr_module_mm=qr_module_mm)
    raise ValueError(f"unknown document kind {kind!r}; expected one of {', '.join(PAGE_KINDS)}")


# --- document scenes: desks, drawing a page, its truth, hands, shadows, clutter ------------


@dataclass(frozen=True)
class Curl:
    """How a sheet lies not quite flat: its lift above the desk, as a fraction of the camera's
    distance, is `amount` at its highest. ``edge`` curls up the side `side` (0 top, 1 right,
    2 bottom, 3 left of the document) over `width` of the page; ``corner`` lifts corner
    `side` (0 TL .. 3 BL) like a dog-ear; ``bow`` raises the middle (a sheet that was folded
    in two), across the document's x (`side` even) or y axis."""

    shape: Literal["edge", "corner", "bow"] = "edge"
    amount: float = 0.01
    side: int = 2
    width: float = 0.3

    def lift(self, u: np.ndarray, v: np.ndarray) -> np.ndarray:
        """Lift at page-normalised coordinates (u, v in 0..1, x and y of the document)."""
        if self.shape == "bow":
            t = u if self.side % 2 == 0 else v
            return self.amount * np.sin(np.pi * np.clip(t, 0.0, 1.0))
        if self.shape == "corner":
            cu, cv_ = ((0.0, 0.0), (1.0, 0.0), (1.0, 1.0), (0.0, 1.0))[self.side % 4]
            d = np.hypot(u - cu, v - cv_) / self.width
        else:
            d = (v, 1.0 - u, 1.0 - v, u)[self.side % 4] / self.width
        return self.amount * np.clip(1.0 - d, 0.0, None) ** 2


@dataclass(frozen=True)
class PageTruth:
    """Where a document lies in a frame.

    `corners_page` are its four corners in image pixels (OpenCV convention: pixel centres at
    integer coordinates) in the document's own order TL, TR, BR, BL; `corners` the same
    clockwise from the one nearest the image's top-left (the ``yichuang scan`` convention);
    `ref_size` its size (width, height) in 0.1 mm; `qr_corners` the outer corners of a QR
    code printed on it and `qr_module_px` its mean module size in image pixels;
    `occluded_corner` the index (in `corners_page`) of a corner under a hand.
    """

    kind: str
    corners: tuple[tuple[float, float], ...]
    corners_page: tuple[tuple[float, float], ...]
    ref_size: tuple[int, int]
    qr_text: str | None = None
    qr_corners: tuple[tuple[float, float], ...] | None = None
    qr_module_px: float | None = None
    occluded_corner: int | None = None


def order_from_top_left(corners: np.ndarray) -> np.ndarray:
    """`corners` (4 x 2, clockwise on screen) rotated to start at the one nearest (0, 0)."""
    k = int(np.argmin(np.hypot(corners[:, 0], corners[:, 1])))
    return np.roll(corners, -k, axis=0)


def _curled(
    pts: np.ndarray, h_inv: np.ndarray, obj_size: tuple[int, int], curl: Curl, c: np.ndarray
) -> np.ndarray:
    """Where image points `pts` of the flat warp move to on the curled sheet: the fixed point
    of x = p + (x - c) * lift(page(x)), the inverse of the map `draw_document` samples with."""
    x = pts.astype(np.float64).copy()
    for _ in range(30):
        u = cv2.perspectiveTransform(x.reshape(-1, 1, 2), h_inv).reshape(-1, 2)
        z = curl.lift(u[:, 0] / obj_size[0], u[:, 1] / obj_size[1])
        x = pts + (x - c) * z[:, None]
    return x


def page_truth(
    obj: DeskObject,
    h: np.ndarray,
    frame_size: tuple[int, int],
    curl: Curl | None = None,
    occluded_corner: int | None = None,
) -> PageTruth:
    """The truth of document `obj` drawn by `draw_document` through `h` (and `curl`)."""
    if obj.corners is None or obj.ref_size is None:
        raise ValueError(f"{obj.kind} is not a document (no corners)")
    pts = project_points(h, obj.corners).astype(np.float64)
    qr = project_points(h, obj.qr_corners).astype(np.float64) if obj.qr_corners is not None else None
    if curl is not None and curl.amount > 0:
        h_inv = np.linalg.inv(h)
        size = (obj.alpha.shape[1], obj.alpha.shape[0])
        c = np.array([frame_size[0] / 2, frame_size[1] / 2])
        pts = _curled(pts, h_inv, size, curl, c)
        if qr is not None:
            qr = _curled(qr, h_inv, size, curl, c)
    module = None
    qr_t = None
    if qr is not None and obj.qr_text is not None:
        n = qr_modules(obj.qr_text).shape[0]
        sides = np.linalg.norm(qr - np.roll(qr, -1, axis=0), axis=1)
        module = float(sides.mean() / n)
        qr_t = tuple((float(x), float(y)) for x, y in qr)
    cp = tuple((float(x), float(y)) for x, y in pts)
    co = tuple((float(x), float(y)) for x, y in order_from_top_left(pts))
    return PageTruth(obj.kind, co, cp, obj.ref_size, obj.qr_text, qr_t, module, occluded_corner)


def draw_document(
    frame: np.ndarray,
    obj: DeskObject,
    h: np.ndarray,
    field: np.ndarray,
    lighting: Lighting,
    curl: Curl | None = None,
    *,
    edge_shadow: float = 0.18,
    prefiltered: tuple[np.ndarray, int] | None = None,
    coverage: np.ndarray | None = None,
) -> None:
    """Lay document `obj` on the lit desk `frame` through `h`, in place: a thin contact
    shadow along its edges (paper is never quite flat), the sheet lit by `field`, its `curl`
    lifting it towards the lens (where it also catches the light differently). If given,
    `coverage` (H x W float32) receives the sheet's coverage, for tests."""
    fs = (frame.shape[1], frame.shape[0])
    c = np.array([fs[0] / 2, fs[1] / 2])
    curled = curl is not None and curl.amount > 0
    pad = 6
    if curled:
        assert curl is not None
        pad += math.ceil(curl.amount / (1 - curl.amount) * math.hypot(*fs) / 2)
    roi = _footprint(obj, h, fs, pad)
    if roi is None:
        return
    x0, y0, x1, y1 = roi
    size = (x1 - x0, y1 - y0)
    bgra, pad_px = prefiltered if prefiltered is not None else prefilter_document(obj, _scale_module(obj, h))
    t = (
        np.array([[1, 0, -x0], [0, 1, -y0], [0, 0, 1]], np.float64)
        @ h
        @ np.array([[1, 0, -pad_px], [0, 1, -pad_px], [0, 0, 1]], np.float64)
    )
    shade = None
    if not curled:
        warped = cv2.warpPerspective(bgra, t, size, flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT)
    else:
        t_inv = np.linalg.inv(t)
        assert curl is not None
        # The map from output pixel to object pixel, exact on a 4 px grid and interpolated
        # between (it is smooth): x -> y = x - (x - c) * lift(page(x)) -> page(y).
        step = 4
        gw, gh = -(-size[0] // step), -(-size[1] // step)
        gx = x0 + (np.arange(gw) + 0.5) * step - 0.5
        gy = y0 + (np.arange(gh) + 0.5) * step - 0.5
        xx, yy = np.meshgrid(gx, gy)
        pts = np.stack([xx, yy], -1).reshape(-1, 1, 2)
        h_inv = np.linalg.inv(h)
        u = cv2.perspectiveTransform(pts, h_inv).reshape(gh, gw, 2)
        ow, oh = obj.alpha.shape[1], obj.alpha.shape[0]
        z = curl.lift(u[..., 0] / ow, u[..., 1] / oh)
        src = np.stack([xx - (xx - c[0]) * z, yy - (yy - c[1]) * z], -1).reshape(-1, 1, 2)
        p = cv2.perspectiveTransform(src - np.array([x0, y0]), t_inv).reshape(gh, gw, 2).astype(np.float32)
        mx = cv2.resize(p[..., 0], (gw * step, gh * step), interpolation=cv2.INTER_LINEAR)[
            : size[1], : size[0]
        ]
        my = cv2.resize(p[..., 1], (gw * step, gh * step), interpolation=cv2.INTER_LINEAR)[
            : size[1], : size[0]
        ]
        warped = cv2.remap(bgra, mx, my, cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT)
        # A lifted part faces the lamp at another angle: brighter or darker with the slope.
        gzx, gzy = np.gradient(z.astype(np.float32))
        slope = gzx * math.cos(math.radians(lighting.angle_deg)) + gzy * math.sin(
            math.radians(lighting.angle_deg)
        )
        slope *= 40.0 / max(curl.amount, 1e-6) * curl.amount * step
        shade_small = np.clip(1.0 + np.clip(slope, -0.25, 0.15) - 0.6 * z, 0.6, 1.2).astype(np.float32)
        shade = cv2.resize(shade_small, (gw * step, gh * step), interpolation=cv2.INTER_LINEAR)[
            : size[1], : size[0]
        ]
    a = cv2.extractChannel(warped, 3).astype(np.float32) * (1.0 / 255.0)
    region = frame[y0:y1, x0:x1]
    if edge_shadow > 0:
        # Shadow at the sheet's edge: its coverage shifted away from the light, blurred.
        ang = math.radians(lighting.angle_deg)
        off = 1.5 + (6.0 if curled else 0.0)
        m = np.array([[1, 0, off * math.cos(ang)], [0, 1, off * math.sin(ang)]], np.float32)
        sh = cv2.GaussianBlur(cv2.warpAffine(a, m, size), (0, 0), 1.5 + (3.0 if curled else 0.0))
        region[:] = (region.astype(np.float32) * (1.0 - edge_shadow * sh)[..., None]).astype(np.uint8)
    gain_f = field[y0:y1, x0:x1] if shade is None else field[y0:y1, x0:x1] * shade
    gain = cv2.merge([gain_f * tt for tt in lighting.tint])
    # The picture is premultiplied by its coverage (see `prefilter_document`): over = under
    # * (1 - a) + picture.
    lit = cv2.multiply(cv2.cvtColor(warped, cv2.COLOR_BGRA2BGR), gain, dtype=cv2.CV_32F)
    under = cv2.multiply(region, cv2.merge([1.0 - a] * 3), dtype=cv2.CV_32F)
    region[:] = cv2.add(under, lit, dtype=cv2.CV_8U)
    if coverage is not None:
        coverage[y0:y1, x0:x1] = np.maximum(coverage[y0:y1, x0:x1], a)


def prefilter_document(obj: DeskObject, px_per_mm: float) -> tuple[np.ndarray, int]:
    """The document's picture premultiplied by its coverage, padded with a transparent
    border and band-limited for drawing at `px_per_mm` image pixels per mm; and the pad (px).
    Blurring the outline with the picture (not only inside it) gives its edges the
    sub-pixel softness a lens gives them, so where an edge crosses 50 % is exact."""
    shrink = obj.px_per_module / max(px_per_mm, 1e-3)
    sigma = 0.45 * shrink if shrink > 1.0 else 0.0
    pad = math.ceil(3 * sigma) + 2
    image = obj.image
    if int(obj.alpha.min()) < 255:  # rounded corners: premultiply (a sheet is opaque throughout)
        image = cv2.multiply(image, cv2.merge([obj.alpha] * 3), scale=1.0 / 255.0)
    bgra = cv2.merge([*cv2.split(image), obj.alpha])
    bgra = cv2.copyMakeBorder(bgra, pad, pad, pad, pad, cv2.BORDER_CONSTANT, value=(0, 0, 0, 0))
    if sigma > 0:
        bgra = cv2.GaussianBlur(bgra, (0, 0), sigma)
    return bgra, pad


def render_desk(size: tuple[int, int], desk: DeskType, rng: np.random.Generator) -> np.ndarray:
    """An unlit desk of type `desk`, `size` = (width, height), BGR uint8. ``cluttered`` is a
    wooden or laminate desk; its clutter is drawn by `draw_clutter`."""
    w, h = size
    if desk in ("light_wood", "dark_wood"):
        img = _wood(size, rng, light=desk == "light_wood")
    elif desk == "white":
        # White laminate or a white tablecloth: within a few grey levels of the paper.
        base = np.array(
            rng.choice([[232, 234, 236], [226, 230, 233], [236, 236, 232], [222, 225, 228]]), np.float32
        )
        img = base + 2.5 * _fractal_noise(rng, size, 96, 3)[..., None]
    elif desk == "patterned":
        img = _patterned(size, rng) if rng.random() < 0.6 else _granite(size, rng)
    elif desk == "glass":
        img = _glass(size, rng)
    elif desk == "cluttered":
        img = (
            _wood(size, rng, light=bool(rng.random() < 0.5))
            if rng.random() < 0.7
            else render_background(size, "plain", rng)
        )
    else:
        raise ValueError(f"unknown desk type {desk!r}; expected one of {', '.join(DESK_TYPES)}")
    img = img + 2.5 * rng.standard_normal((h, w, 1)).astype(np.float32)
    return np.clip(img, 0, 255).astype(np.uint8)


def _wood(size: tuple[int, int], rng: np.random.Generator, light: bool) -> np.ndarray:
    """Veneer seen from above at 1-3 px per mm: long, nearly parallel grain lines a few mm
    apart that wander slowly, fine fibre streaks, boards of slightly different tone; the
    grain along or across the frame."""
    across = rng.random() < 0.4
    w, h = (size[1], size[0]) if across else size
    wander = _fractal_noise(rng, (w, h), 320, 3) * rng.uniform(15, 45)
    yy = np.arange(h, dtype=np.float32)[:, None] + wander
    period = rng.uniform(9, 30)
    phase = 2 * math.pi * yy / period + 7.0 * _fractal_noise(rng, (w, h), 256, 3)
    # Thin dark late-wood lines on light early wood, stronger in some growth years than others.
    strength = 0.6 + 0.4 * _fractal_noise(rng, (w, h), 96, 2)
    lines = strength * (0.5 + 0.5 * np.cos(phase)) ** 4
    fibres = cv2.resize(rng.standard_normal((h, max(2, w // 90))).astype(np.float32), (w, h),
                        interpolation=cv2.INTER_LINEAR)  # fmt: skip
    tone = np.clip(0.75 - 0.35 * lines + 0.05 * fibres + 0.08 * _fractal_noise(rng, (w, h), 200, 2), 0.0, 1.0)
    if light:  # beech, maple, light oak veneer
        pal = [[150, 195, 225], [130, 180, 215], [165, 200, 220]]
    else:  # walnut, mahogany
        pal = [[55, 80, 120], [45, 62, 105], [65, 88, 118]]
    hi = np.array(pal[int(rng.integers(len(pal)))], np.float32)
    img = hi * (0.45 + 0.55 * tone[..., None])
    if rng.random() < 0.6:  # boards: a seam and a tone change between them
        y = 0
        while y < h:
            step = int(rng.integers(max(8, h // 4), max(9, h)))
            img[y : y + step] *= rng.uniform(0.9, 1.08)
            y += step
            cv2.line(img, (0, y), (w, y), tuple(float(v) * 0.45 for v in hi), 1, cv2.LINE_AA)
    return np.ascontiguousarray(img.transpose(1, 0, 2)) if across else img


def _granite(size: tuple[int, int], rng: np.random.Generator) -> np.ndarray:
    """Speckled stone or terrazzo: strong fine texture that breeds false edges."""
    w, h = size
    base = np.array(rng.choice([[150, 150, 150], [110, 120, 135], [185, 180, 175]]), np.float32)
    img = base + 20 * _fractal_noise(rng, size, 48, 3)[..., None]
    n = int(w * h / 400)
    xs, ys = rng.integers(0, w, n), rng.integers(0, h, n)
    cols = rng.choice([-70.0, -40.0, 40.0, 70.0], n)
    rs = rng.integers(1, 4, n)
    for x, y, cval, r in zip(xs, ys, cols, rs, strict=True):
        cv2.circle(img, (int(x), int(y)), int(r), tuple(float(v + cval) for v in base), -1)
    return img


def _glass(size: tuple[int, int], rng: np.random.Generator) -> np.ndarray:
    """A black glass or dark laminate top with reflections of the hall's ceiling: a broad
    sheen and sometimes an LED panel, out of focus (it is twice as far as the desk)."""
    w, h = size
    base = np.array(rng.choice([[22, 22, 24], [30, 28, 26], [18, 24, 30]]), np.float32)
    img = base + 3 * _fractal_noise(rng, size, 128, 2)[..., None]
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    a = rng.uniform(0, math.pi)
    across = (xx - w / 2) * math.cos(a) + (yy - h / 2) * math.sin(a) - rng.uniform(-0.4, 0.4) * w
    band = np.exp(-(across**2) / (2 * (w * rng.uniform(0.08, 0.2)) ** 2))
    img += rng.uniform(15, 45) * band[..., None]
    if rng.random() < 0.4:
        panel = np.zeros((h, w), np.float32)
        pw, ph = int(rng.uniform(0.15, 0.4) * w), int(rng.uniform(0.15, 0.5) * h)
        px, py = int(rng.integers(-pw // 2, w - pw // 2)), int(rng.integers(-ph // 2, h - ph // 2))
        cv2.rectangle(panel, (px, py), (px + pw, py + ph), 1.0, -1)
        soft = cv2.GaussianBlur(panel, (0, 0), rng.uniform(10, 25))
        img += rng.uniform(40, 90) * soft[..., None]
    return img


def _capsule(
    img: np.ndarray, p0: np.ndarray, p1: np.ndarray, width: float, colour: tuple[float, ...]
) -> None:
    cv2.line(img, (round(p0[0] * 16), round(p0[1] * 16)), (round(p1[0] * 16), round(p1[1] * 16)), colour,
             max(1, round(width)), cv2.LINE_AA, shift=4)  # fmt: skip


def draw_clutter(
    desk: np.ndarray, rng: np.random.Generator, px_per_mm: float, count: int, avoid: np.ndarray | None = None
) -> list[str]:
    """Put `count` things on the unlit desk image, in place, with their shadows: pens, a
    phone, sticky notes, a second sheet partly out of the frame, a mug; `avoid` (4 x 2 image
    points) is a region to keep the things' centres out of (where the page will lie, which
    goes on top anyway). Returns what was put down."""
    h, w = desk.shape[:2]
    s = px_per_mm
    put: list[str] = []
    for _ in range(count):
        what = str(rng.choice(["pen", "pen", "phone", "sticky", "sheet", "mug", "sticky"]))
        for _try in range(10):
            cx, cy = float(rng.uniform(0, w)), float(rng.uniform(0, h))
            if avoid is None or cv2.pointPolygonTest(avoid.astype(np.float32), (cx, cy), True) < -20:
                break
        ang = rng.uniform(0, 2 * math.pi)
        d = np.array([math.cos(ang), math.sin(ang)])
        c = np.array([cx, cy])
        shadow = np.zeros((h, w), np.float32)
        if what == "pen":
            length, width = rng.uniform(130, 150) * s, rng.uniform(8, 11) * s
            col = tuple(
                float(v) for v in rng.choice([[120, 40, 20], [30, 30, 30], [40, 40, 170], [190, 190, 195]])
            )
            _capsule(shadow, c - d * length / 2 + 3 * s, c + d * length / 2 + 3 * s, width, (1.0,))
            _apply_shadow(desk, shadow, 0.35, 2 * s)
            _capsule(desk, c - d * length / 2, c + d * length / 2, width, col)
            _capsule(
                desk,
                c - d * length * 0.45,
                c + d * length * 0.3,
                width * 0.25,
                tuple(min(255.0, v + 60) for v in col),
            )
        elif what == "phone":
            pts = _rect(c, ang, 72 * s, 150 * s)
            cv2.fillPoly(shadow, [np.round((pts + 4 * s) * 16).astype(np.int32)], 1.0, cv2.LINE_AA, shift=4)
            _apply_shadow(desk, shadow, 0.4, 3 * s)
            cv2.fillPoly(desk, [np.round(pts * 16).astype(np.int32)], (28, 26, 26), cv2.LINE_AA, shift=4)
            inner = _rect(c, ang, 66 * s, 138 * s)
            scr = (60, 45, 35) if rng.random() < 0.7 else (200, 170, 120)
            cv2.fillPoly(desk, [np.round(inner * 16).astype(np.int32)], scr, cv2.LINE_AA, shift=4)
        elif what == "sticky":
            side = 76 * s
            pts = _rect(c, ang, side, side)
            col = tuple(
                float(v)
                for v in rng.choice([[120, 235, 250], [190, 160, 250], [170, 240, 170], [240, 210, 150]])
            )
            cv2.fillPoly(shadow, [np.round((pts + 1.5 * s) * 16).astype(np.int32)], 1.0, cv2.LINE_AA, shift=4)
            _apply_shadow(desk, shadow, 0.2, 1.5 * s)
            cv2.fillPoly(desk, [np.round(pts * 16).astype(np.int32)], col, cv2.LINE_AA, shift=4)
            for k in range(int(rng.integers(1, 4))):  # a few scribbled words
                a = c + np.array([-0.3, -0.25 + 0.2 * k]) * side
                b = a + np.array([rng.uniform(0.2, 0.55), 0.0]) * side
                _capsule(desk, a, b, max(1.0, 0.8 * s), (140, 60, 30))
        elif what == "sheet":
            # A second sheet, mostly out of the frame: never a whole page in view.
            edge = int(rng.integers(4))
            c = np.array([cx, cy])
            c[edge % 2] = (-0.3 if edge < 2 else 1.3) * (w if edge % 2 == 0 else h)
            pts = _rect(c, ang, 210 * s, 297 * s)
            cv2.fillPoly(shadow, [np.round((pts + 1.5 * s) * 16).astype(np.int32)], 1.0, cv2.LINE_AA, shift=4)
            _apply_shadow(desk, shadow, 0.2, 1.5 * s)
            cv2.fillPoly(desk, [np.round(pts * 16).astype(np.int32)], (238, 240, 242), cv2.LINE_AA, shift=4)
        else:  # a mug seen from above: a rim and dark coffee
            r = rng.uniform(38, 45) * s
            cv2.circle(shadow, (round(cx + 8 * s), round(cy + 10 * s)), round(r), 1.0, -1, cv2.LINE_AA)
            _apply_shadow(desk, shadow, 0.45, 6 * s)
            cv2.circle(desk, (round(cx), round(cy)), round(r), (235, 235, 235), -1, cv2.LINE_AA)
            cv2.circle(desk, (round(cx), round(cy)), round(r * 0.85), (30, 45, 70), -1, cv2.LINE_AA)
        put.append(what)
    return put


def _rect(c: np.ndarray, ang: float, w: float, h: float) -> np.ndarray:
    ca, sa = math.cos(ang), math.sin(ang)
    local = np.array([[-w / 2, -h / 2], [w / 2, -h / 2], [w / 2, h / 2], [-w / 2, h / 2]])
    return local @ np.array([[ca, sa], [-sa, ca]]) + c


def _apply_shadow(img: np.ndarray, mask: np.ndarray, strength: float, blur: float) -> None:
    """Darken `img` in place by `strength` under `mask` (float 0..1) softened by `blur` px.
    Only the mask's bounding box is touched."""
    ys, xs = np.nonzero(mask > 0)
    if len(xs) == 0:
        return
    pad = int(3 * blur) + 2
    h, w = mask.shape
    x0, x1 = max(0, int(xs.min()) - pad), min(w, int(xs.max()) + pad + 1)
    y0, x1y = max(0, int(ys.min()) - pad), min(h, int(ys.max()) + pad + 1)
    m = mask[y0:x1y, x0:x1]
    if blur > 0.3:
        m = cv2.GaussianBlur(m, (0, 0), blur)
    region = img[y0:x1y, x0:x1]
    region[:] = np.clip(region.astype(np.float32) * (1.0 - strength * m)[..., None], 0, 255).astype(img.dtype)


def draw_hand(
    frame: np.ndarray,
    field: np.ndarray,
    tip: tuple[float, float],
    direction_deg: float,
    px_per_mm: float,
    rng: np.random.Generator,
    *,
    light_deg: float = 30.0,
) -> None:
    """A hand reaching in from outside: 1-4 fingers whose tips are at `tip` (image px),
    pointing along `direction_deg`, the palm and the forearm behind them (off the frame
    when the hand is near its edge); skin-coloured, shaded at its rim, lit by `field`, with
    its shadow on whatever is under it. Drawn in place."""
    h, w = frame.shape[:2]
    s = px_per_mm
    a = math.radians(direction_deg)
    d = np.array([math.cos(a), math.sin(a)])
    n = np.array([-d[1], d[0]])
    t = np.array(tip, np.float64)
    mask = np.zeros((h, w), np.float32)
    fingers = int(rng.integers(1, 5))
    fw = rng.uniform(15, 19) * s
    flen = rng.uniform(65, 80) * s
    # Creases between the fingers and the nails: without them a hand reads as a mitten.
    marks = np.zeros((h, w), np.float32)
    for i in range(fingers):
        off = (i - (fingers - 1) / 2) * fw * 1.05
        setback = abs(off) * 0.35 + rng.uniform(0, 6) * s
        ft = t + n * off - d * setback
        _capsule(mask, ft - d * fw / 2, ft - d * flen, fw, (1.0,))
        nail = ft - d * (fw * 0.55)
        axes = (max(1, round(fw * 0.3)), max(1, round(fw * 0.28)))
        cv2.ellipse(
            marks, (round(nail[0]), round(nail[1])), axes, math.degrees(a), 0, 360, -0.6, -1, cv2.LINE_AA
        )
        if i > 0:
            gap = t + n * (off - fw * 0.525) - d * (setback + fw * 0.6)
            _capsule(marks, gap, gap - d * (flen - fw * 0.5), max(1.0, 1.2 * s), (1.0,))
    palm = t - d * (flen + 30 * s)
    pw = max(fingers * fw * 1.05 + 15 * s, 70 * s) / 2
    centre = (round(palm[0]), round(palm[1]))
    cv2.ellipse(mask, centre, (round(50 * s), round(pw)), math.degrees(a), 0, 360, 1.0, -1, cv2.LINE_AA)
    if rng.random() < 0.6:  # the thumb, off to one side
        side = 1 if rng.random() < 0.5 else -1
        tb = palm + n * side * pw * 0.9
        _capsule(mask, tb, tb + (d * 0.8 + n * side * 0.6) * 45 * s, 21 * s, (1.0,))
    _capsule(mask, palm, palm - d * 600 * s, 62 * s, (1.0,))
    # Its shadow: the hand is a few centimetres above the page.
    la = math.radians(light_deg)
    off = rng.uniform(8, 18) * s
    m = np.array([[1, 0, off * math.cos(la)], [0, 1, off * math.sin(la)]], np.float32)
    _apply_shadow(
        frame, cv2.warpAffine(mask, m, (w, h)), float(rng.uniform(0.35, 0.6)), rng.uniform(3, 7) * s
    )
    ys, xs = np.nonzero(mask > 0)
    if len(xs) == 0:
        return
    x0, x1, y0, y1 = int(xs.min()), int(xs.max()) + 1, int(ys.min()), int(ys.max()) + 1
    mk = mask[y0:y1, x0:x1]
    rim = cv2.GaussianBlur(mk, (0, 0), max(1.0, 4 * s))
    skin = np.array(
        rng.choice([[140, 170, 215], [120, 150, 200], [100, 130, 180], [150, 175, 220]]), np.float32
    )
    crease = cv2.GaussianBlur(marks[y0:y1, x0:x1], (0, 0), max(0.7, 0.8 * s))
    light = field[y0:y1, x0:x1] * (0.72 + 0.3 * np.clip(rim, 0, 1)) * (1.0 - 0.45 * np.clip(crease, -1, 1))
    col = (
        skin[None, None, :]
        * light[..., None]
        * (1 + 0.05 * rng.standard_normal((1, 1, 3)).astype(np.float32))
    )
    region = frame[y0:y1, x0:x1]
    region[:] = np.clip(region * (1 - mk[..., None]) + col * mk[..., None], 0, 255).astype(np.uint8)


def hand_on_page(
    frame: np.ndarray,
    field: np.ndarray,
    lighting: Lighting,
    page: PageTruth,
    px_per_mm: float,
    rng: np.random.Generator,
    at: Literal["corner", "edge"] = "corner",
) -> int | None:
    """Draw a hand holding the page down `at` one of its corners (the finger over it) or
    the middle part of an edge, in place; returns the index of the covered corner in
    `page.corners_page` (None for an edge)."""
    s = px_per_mm
    cp = np.array(page.corners_page)
    centre = cp.mean(axis=0)
    k = int(rng.integers(4))
    if at == "corner":
        inward = (centre - cp[k]) / np.linalg.norm(centre - cp[k])
        tip = cp[k] + inward * rng.uniform(10, 25) * s
        direction = math.degrees(math.atan2(inward[1], inward[0])) + float(rng.uniform(-25, 25))
        occluded: int | None = k
    else:
        a, b = cp[k], cp[(k + 1) % 4]
        p = a + (b - a) * rng.uniform(0.25, 0.75)
        normal = np.array([-(b - a)[1], (b - a)[0]]) / np.linalg.norm(b - a)
        if np.dot(normal, centre - p) < 0:
            normal = -normal
        tip = p + normal * rng.uniform(8, 25) * s
        direction = math.degrees(math.atan2(normal[1], normal[0])) + float(rng.uniform(-20, 20))
        occluded = None
    draw_hand(frame, field, (float(tip[0]), float(tip[1])), direction, s, rng, light_deg=lighting.angle_deg)
    return occluded


def draw_cast_shadow(
    frame: np.ndarray, rng: np.random.Generator, through: tuple[float, float], *, hard: bool = True
) -> None:
    """A shadow falling across the scene, in place: ``hard`` the sharp-edged band of the
    document camera's arm (or an arm) from one side of the frame through `through`; soft a
    large blurred blob (someone leaning over the desk)."""
    h, w = frame.shape[:2]
    if hard:
        a = rng.uniform(0, math.pi)
        d = np.array([math.cos(a), math.sin(a)])
        n = np.array([-d[1], d[0]])
        bw = rng.uniform(0.03, 0.12) * min(w, h)
        p = np.array(through)
        end = p + d * rng.uniform(0.1, 0.6) * max(w, h)
        start = p - d * 3 * max(w, h)
        poly = np.array([start + n * bw / 2, end + n * bw / 2, end - n * bw / 2, start - n * bw / 2])
        q = 2
        mask = np.zeros((h // q + 1, w // q + 1), np.float32)
        cv2.fillPoly(mask, [np.round(poly / q * 16).astype(np.int32)], 1.0, cv2.LINE_AA, shift=4)
        if rng.random() < 0.5:  # the lamp head at the arm's end
            cv2.circle(
                mask, (round(end[0] / q), round(end[1] / q)), round(bw * 0.9 / q), 1.0, -1, cv2.LINE_AA
            )
        blur = rng.uniform(0.6, 2.5)
        strength = rng.uniform(0.3, 0.55)
    else:
        q = 8
        mask = np.zeros((h // q + 1, w // q + 1), np.float32)
        ax = (round(rng.uniform(0.2, 0.5) * w / q), round(rng.uniform(0.2, 0.5) * h / q))
        cv2.ellipse(
            mask, (round(through[0] / q), round(through[1] / q)), ax, rng.uniform(0, 180), 0, 360, 1.0, -1
        )
        blur = rng.uniform(6, 15)
        strength = rng.uniform(0.2, 0.4)
    mask = cv2.GaussianBlur(mask, (0, 0), blur)
    k = (
        1.0
        - strength
        * cv2.resize(mask, (w // q * q + q, h // q * q + q), interpolation=cv2.INTER_LINEAR)[:h, :w]
    )
    frame[:] = np.clip(frame * k[..., None], 0, 255).astype(np.uint8)


def _probe(w_px: int, h_px: int, ppm: float) -> DeskObject:
    """A stand-in with a document's size, for placing it before it is drawn (a homography
    needs only the size and the scale)."""
    empty = np.zeros((0, 0), np.uint8)
    return DeskObject("probe", empty, empty, None, ((w_px - 1) / 2, (h_px - 1) / 2), ppm)


def _outline_px(w_px: int, h_px: int) -> np.ndarray:
    return np.array(
        [[-0.5, -0.5], [w_px - 0.5, -0.5], [w_px - 0.5, h_px - 0.5], [-0.5, h_px - 0.5]], np.float32
    )


def document_pose(
    size: tuple[int, int],
    dims_px: tuple[int, int],
    ppm: float,
    fill: float,
    rotation: float,
    tilt: tuple[float, float],
    *,
    margin: float = 5.0,
    where: tuple[float, float] | None = None,
    rng: np.random.Generator | None = None,
) -> Pose:
    """The pose of a document `dims_px` raster pixels large at `ppm` pixels per mm that
    makes its bounding box `fill` of the frame (in the frame's tighter direction), turned by
    `rotation` and tilted by `tilt` degrees, its centre at `where` (fractions of the frame)
    or, without `where`, anywhere `rng` picks that leaves `margin` px to the frame's edges."""
    w, h = size
    probe = _probe(*dims_px, ppm)
    outline = _outline_px(*dims_px)
    s = 1.0
    box = np.zeros((4, 2), np.float32)
    for _ in range(4):
        pose = Pose((w / 2, h / 2), rotation, tilt, s)
        box = project_points(object_homography(probe, pose, size), outline)
        extent = max((box[:, 0].max() - box[:, 0].min()) / w, (box[:, 1].max() - box[:, 1].min()) / h)
        s *= fill / max(extent, 1e-6)
    pose = Pose((w / 2, h / 2), rotation, tilt, s)
    box = project_points(object_homography(probe, pose, size), outline)
    lo = np.array([margin, margin]) - box.min(axis=0) + np.array([w / 2, h / 2])
    hi = np.array([w - 1 - margin, h - 1 - margin]) - box.max(axis=0) + np.array([w / 2, h / 2])
    if where is not None:
        cx, cy = where[0] * w, where[1] * h
    elif rng is None:
        raise ValueError("document_pose needs `where` or `rng`")
    else:
        cx = float(rng.uniform(lo[0], hi[0])) if hi[0] > lo[0] else w / 2
        cy = float(rng.uniform(lo[1], hi[1])) if hi[1] > lo[1] else h / 2
    return Pose((cx, cy), rotation, tilt, s)


def blur_frame(
    frame: np.ndarray, sigma: float = 0.0, motion_px: tuple[float, float] = (0.0, 0.0)
) -> np.ndarray:
    """The whole frame defocused by `sigma` and smeared by `motion_px` (camera shake)."""
    return _blur(frame, sigma, motion_px)
