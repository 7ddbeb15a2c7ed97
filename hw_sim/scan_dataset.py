"""A benchmark set for the document scanner: synthetic desk photos with exact page corners.

`scan_frames(count, seed)` yields `ScanSample`s, the same for the same arguments (sample i
depends only on the seed and i, so a longer set starts with a shorter one). About 85 % show
one document (A4 or A5 form, ID-1 card, 80 mm receipt), 15 % an empty desk for the
false-detection rate. Desk types cycle (light wood, dark wood, white, patterned, glass,
cluttered), so each has a sixth of the set; conditions are drawn per sample: a hand over a
corner or an edge, a hard cast shadow (the camera's arm), a soft shadow, defocus and motion
blur, perspective tilt, curl, any rotation, the page filling 40-95 % of the frame, dim light,
sensor noise and JPEG compression (every frame is a JPEG, as an MJPG camera delivers it).
QR codes are printed on some sheets and receipts at 3, 4, 5, 6 and 8 image px per module.

`write_dataset(dir, ...)` writes the JPEGs (the exact bytes `ScanSample.jpeg`) and a
`ground_truth.json` in the schema of ``/work/shared/data/scan-real`` (one scorer reads
both): ``python -m hw_sim.scan_dataset --out DIR --count N --seed S``.
"""

from __future__ import annotations

import argparse
import dataclasses
import functools
import json
import math
import sys
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import cv2
import numpy as np

from hw_sim import desk_scene
from hw_sim.desk_scene import DESK_TYPES, Curl, DeskObject, DeskType, Lighting, PageKind, PageTruth, Pose

__all__ = [
    "CONDITION_TAGS",
    "QR_MODULE_PX",
    "ScanPlan",
    "ScanSample",
    "ScanTruth",
    "main",
    "render_plan",
    "scan_frames",
    "scan_plan",
    "summary",
    "truth_record",
    "write_dataset",
]

#: Image pixels per QR module of the codes printed on documents, cycled through.
QR_MODULE_PX: tuple[int, ...] = (3, 4, 5, 6, 8)
#: Every tag a sample's `ScanTruth.tags` may carry.
CONDITION_TAGS: tuple[str, ...] = (
    "hand", "shadow", "soft_shadow", "blur", "motion", "low_contrast", "clutter", "curl", "tilt",
    "dim", "qr", "jpeg_low", "small", "large", "rotated",
)  # fmt: skip

# Kinds by position in each desk's run of samples: A4 most often, every kind on every desk.
_KIND_CYCLE: tuple[PageKind, ...] = ("a4", "a5", "id_card", "a4", "receipt", "a4", "a5", "id_card")
_NOISE_SIGMAS = (1.5, 2.5, 4.0)
_CURL_SHAPES: tuple[Literal["edge", "corner", "bow"], ...] = ("edge", "edge", "corner", "bow")
_BANK_VARIANTS = 3
_BANK_PAD = 96


@dataclass(frozen=True)
class ScanTruth:
    """What a sample shows: the `desk` type, its condition `tags` (see `CONDITION_TAGS`),
    the document's `page` truth (None on an empty desk), whether the page is `sharp` (no
    defocus or motion blur) and the JPEG quality the frame was compressed at."""

    desk: str
    tags: tuple[str, ...]
    page: PageTruth | None
    sharp: bool
    jpeg_quality: int

    @property
    def corners(self) -> np.ndarray | None:
        """(4, 2) float32, clockwise from the corner nearest the image's top-left; None on
        an empty desk."""
        return None if self.page is None else np.array(self.page.corners, np.float32)

    @property
    def corners_page(self) -> np.ndarray | None:
        """(4, 2) float32, the document's own TL, TR, BR, BL; None on an empty desk."""
        return None if self.page is None else np.array(self.page.corners_page, np.float32)

    @property
    def kind(self) -> str | None:
        """``a4``, ``a5``, ``id_card`` or ``receipt``; None on an empty desk."""
        return None if self.page is None else self.page.kind

    @property
    def ref_size(self) -> tuple[int, int] | None:
        """The document's (width, height) in 0.1 mm, for the SmartDoc Jaccard index."""
        return None if self.page is None else self.page.ref_size

    @property
    def qr_text(self) -> str | None:
        """The text of the QR code printed on the document, if any."""
        return None if self.page is None else self.page.qr_text

    @property
    def qr_module_px(self) -> float | None:
        """Mean image pixels per module of that code."""
        return None if self.page is None else self.page.qr_module_px


@dataclass(frozen=True, eq=False)
class ScanSample:
    """One benchmark frame: `image` (BGR uint8, decoded from `jpeg`), its `truth`, and a
    `name` that is unique in the set and says what it shows (``0042_a4_glass``)."""

    name: str
    image: np.ndarray
    truth: ScanTruth
    jpeg: bytes


def scan_frames(
    count: int = 360, seed: int = 2026, size: tuple[int, int] = (1280, 720)
) -> Iterator[ScanSample]:
    """`count` samples of the benchmark, deterministic from `seed`; see the module doc."""
    if count < 0:
        raise ValueError(f"count must be >= 0, got {count}")
    w, h = int(size[0]), int(size[1])
    if min(w, h) < 160:
        raise ValueError(f"frame size too small for documents: {size!r}")
    for i in range(count):
        yield _sample(i, seed, (w, h))


@functools.lru_cache(maxsize=64)
def _desk_bank(desk: DeskType, size: tuple[int, int], seed: int, variant: int) -> np.ndarray:
    """An unlit desk texture a little larger than the frame; samples crop and flip it, so a
    set of hundreds of frames needs only a few textures rendered (wood costs ~0.1 s)."""
    rng = np.random.default_rng([seed, 21, DESK_TYPES.index(desk), variant])
    img = desk_scene.render_desk((size[0] + _BANK_PAD, size[1] + _BANK_PAD), desk, rng)
    img.flags.writeable = False
    return img


@functools.lru_cache(maxsize=8)
def _noise(size: tuple[int, int], sigma: float) -> np.ndarray:
    return desk_scene.noise_bank(size, sigma, np.random.default_rng([int(sigma * 10), 23]))


def _desk(desk: DeskType, size: tuple[int, int], seed: int, rng: np.random.Generator) -> np.ndarray:
    bank = _desk_bank(desk, size, seed, int(rng.integers(_BANK_VARIANTS)))
    oy, ox = int(rng.integers(0, _BANK_PAD + 1)), int(rng.integers(0, _BANK_PAD + 1))
    crop = bank[oy : oy + size[1], ox : ox + size[0]]
    if rng.random() < 0.5:
        crop = crop[:, ::-1]
    if rng.random() < 0.5:
        crop = crop[::-1]
    return np.ascontiguousarray(crop)


def _qr_text(rng: np.random.Generator, module_px: float) -> str:
    """A case-lookup code. Big modules get the short form: printed at 8 px per module on a
    page that fills at most the frame, a long URL's code would not fit on the paper."""
    case = f"{int(rng.integers(2025, 2027))}{int(rng.integers(0, 10**8)):08d}"
    if module_px > 4:
        return f"YC:CASE:{case}"
    return str(
        rng.choice(
            [
                f"https://zwfw.example.gov.cn/bl/cx?sl={case}",
                f"YC:CASE:{case}",
                f"https://bdc.example.gov.cn/v/{case}",
            ]
        )
    )


def _rotation(rng: np.random.Generator) -> float:
    """Most documents are laid down roughly square to the camera, some at any angle."""
    if rng.random() < 0.45:
        return float(rng.uniform(-180, 180))
    base = float(rng.choice([0.0, 0.0, 0.0, 90.0, -90.0, 180.0]))
    return base + float(rng.normal(0, 4))


@dataclass(frozen=True)
class ScanPlan:
    """Every choice behind sample `index`, drawn before anything is rendered (so the mix of
    a whole set can be checked in milliseconds): the desk, the document (None on an empty
    desk), how it lies, and the conditions. `tags` are the `ScanTruth.tags` it will have."""

    index: int
    desk: DeskType
    kind: PageKind | None
    tags: tuple[str, ...]
    lighting: Lighting
    fill: float = 0.0
    rotation_deg: float = 0.0
    tilt_deg: tuple[float, float] = (0.0, 0.0)
    length_mm: float = 0.0
    curl: Curl | None = None
    qr_text: str | None = None
    qr_module_px: float = 0.0
    hand: Literal["corner", "edge"] | None = None
    clutter: int = 0
    hard_shadow: bool = False
    soft_shadow: bool = False
    defocus_sigma: float = 0.0
    motion_px: tuple[float, float] = (0.0, 0.0)
    noise_sigma: float = 2.5
    jpeg_quality: int = 85


def scan_plan(count: int = 360, seed: int = 2026) -> list[ScanPlan]:
    """The plans of the first `count` samples of `scan_frames(count, seed)`."""
    return [_plan(i, seed) for i in range(count)]


def _plan(i: int, seed: int) -> ScanPlan:
    rng = np.random.default_rng([seed, 11, i])
    desk: DeskType = DESK_TYPES[i % len(DESK_TYPES)]
    run = i // len(DESK_TYPES)
    empty = run % 7 == 3
    kind: PageKind | None = None if empty else _KIND_CYCLE[run % len(_KIND_CYCLE)]
    tags: set[str] = set()
    light = Lighting.random(rng)
    dim = rng.random() < 0.12
    light = dataclasses.replace(
        light, level=float(rng.uniform(0.42, 0.6)) if dim else float(rng.uniform(0.65, 1.05))
    )
    if dim:
        tags.add("dim")
    if desk == "white":
        tags.add("low_contrast")
    plan = ScanPlan(i, desk, kind, (), light)
    qr = False
    if kind is not None:
        qr = kind != "id_card" and rng.random() < 0.4
        fill = float(rng.uniform(0.4, 0.85 if kind == "id_card" else 0.95))
        tags.update(("small",) if fill < 0.55 else ("large",) if fill > 0.85 else ())
        rotation = _rotation(rng)
        if abs(((rotation + 45) % 90) - 45) > 15:
            tags.add("rotated")
        tmax = (12.0 if qr else 20.0) if rng.random() < 0.45 else 6.0
        tilt = (float(rng.uniform(-tmax, tmax)), float(rng.uniform(-tmax, tmax)))
        if max(abs(tilt[0]), abs(tilt[1])) >= 8:
            tags.add("tilt")
        curl = None
        if kind != "id_card" and rng.random() < (0.6 if kind == "receipt" else 0.35):
            shape = _CURL_SHAPES[int(rng.integers(len(_CURL_SHAPES)))]
            curl = Curl(
                shape, float(rng.uniform(0.004, 0.02)), int(rng.integers(4)), float(rng.uniform(0.15, 0.45))
            )
            tags.add("curl")
        module = float(QR_MODULE_PX[run % len(QR_MODULE_PX)]) if qr else 0.0
        hand: Literal["corner", "edge"] | None = None
        if not qr and rng.random() < 0.22:
            hand = "corner" if rng.random() < 0.6 else "edge"
            tags.add("hand")
        if qr:
            tags.add("qr")
        plan = dataclasses.replace(
            plan,
            fill=fill,
            rotation_deg=rotation,
            tilt_deg=tilt,
            length_mm=float(rng.uniform(120, 260)),
            curl=curl,
            qr_text=_qr_text(rng, module) if qr else None,
            qr_module_px=module,
            hand=hand,
        )
    clutter = 0
    if desk == "cluttered":
        clutter = int(rng.integers(3, 7))
    elif rng.random() < (0.4 if empty else 0.15):
        clutter = int(rng.integers(1, 3))
    if clutter:
        tags.add("clutter")
    hard = rng.random() < (0.1 if qr else 0.2)
    soft = rng.random() < 0.2
    tags.update(("shadow",) if hard else ())
    tags.update(("soft_shadow",) if soft else ())
    # Codes are kept sharp: the QR target is for frames the scanner would capture.
    defocus, motion = 0.0, (0.0, 0.0)
    r = rng.random()
    if not qr and r < 0.12:
        defocus = float(rng.uniform(1.0, 2.5))
        tags.add("blur")
    elif not qr and r < 0.2:
        length, ang = float(rng.uniform(4, 12)), float(rng.uniform(0, math.pi))
        motion = (length * math.cos(ang), length * math.sin(ang))
        tags.update(("blur", "motion"))
    elif rng.random() < 0.5:
        defocus = float(rng.uniform(0.3, 0.7))  # a real lens is never crisp
    sigma = _NOISE_SIGMAS[int(rng.integers(len(_NOISE_SIGMAS) - (1 if qr else 0)))]
    quality = int(rng.integers(75 if qr else 60, 96))
    if quality < 75:
        tags.add("jpeg_low")
    return dataclasses.replace(
        plan,
        tags=tuple(sorted(tags)),
        clutter=clutter,
        hard_shadow=hard,
        soft_shadow=soft,
        defocus_sigma=defocus,
        motion_px=motion,
        noise_sigma=sigma,
        jpeg_quality=quality,
    )


def _sample(i: int, seed: int, size: tuple[int, int]) -> ScanSample:
    return render_plan(_plan(i, seed), seed, size)


def render_plan(plan: ScanPlan, seed: int = 2026, size: tuple[int, int] = (1280, 720)) -> ScanSample:
    """Render the sample `plan` describes (one of `scan_plan(count, seed)`): the same
    sample `scan_frames(count, seed, size)` yields at `plan.index`."""
    # Rendering details (texts, clutter, the hand's shape) come from their own stream, so
    # the plan stays the same whatever the rendering draws.
    rng = np.random.default_rng([seed, 12, plan.index])
    w, h = size
    unlit = _desk(plan.desk, size, seed, rng)
    light = plan.lighting
    field = desk_scene.light_field(size, light)
    page: PageTruth | None = None
    obj: DeskObject | None = None
    hmat: np.ndarray | None = None
    px_per_mm = float(rng.uniform(1.2, 2.6))  # an empty desk's scale, for its clutter
    if plan.kind is not None:
        kind = plan.kind
        ppm = desk_scene.DOC_PX_PER_MM[kind]
        dims_mm = desk_scene.document_size_mm(kind, plan.length_mm)
        curl = plan.curl
        margin = 5.0 + (curl.amount * math.hypot(w, h) / 2 if curl else 0.0)
        module_mm = 1.0
        pose = Pose((w / 2, h / 2))
        place_rng_state = rng.bit_generator.state
        # A sheet curling up towards the lens grows: leave it room at the frame's edges.
        fill_max = 1.0 - 2.0 * (margin + 1.0) / min(w, h)
        fill = min(plan.fill, fill_max)
        n_qr = desk_scene.qr_modules(plan.qr_text).shape[0] + 8 if plan.qr_text else 0
        for last in (False, False, False, True):  # a code's size on paper and the page's scale
            rng.bit_generator.state = place_rng_state  # depend on each other
            dims_px = (round(dims_mm[0] * ppm), round(dims_mm[1] * ppm))
            pose = desk_scene.document_pose(
                size, dims_px, ppm, fill, plan.rotation_deg, plan.tilt_deg, margin=margin, rng=rng
            )
            module_mm = plan.qr_module_px / pose.module_px if plan.qr_text else 1.0
            if last:
                break
            # The code with its quiet zone takes at most 80 % of the paper's width: if the
            # page is too small in the frame for that, it is moved closer.
            too_big = n_qr * module_mm / (0.8 * dims_mm[0])
            if too_big > 1.0:
                fill = min(fill_max, fill * too_big * 1.02)
            if kind == "receipt" and plan.qr_text is not None:
                need = 1.05 * (95 + n_qr * module_mm)  # slack: the next pose shrinks it a little
                dims_mm = (80.0, max(dims_mm[1], need))
        obj = desk_scene.document(
            kind, rng, qr_text=plan.qr_text, qr_module_mm=module_mm, length_mm=dims_mm[1]
        )
        if (obj.alpha.shape[1], obj.alpha.shape[0]) != dims_px:  # a receipt grew to fit its code
            rng_after = rng.bit_generator.state
            rng.bit_generator.state = place_rng_state
            pose = desk_scene.document_pose(
                size, (obj.alpha.shape[1], obj.alpha.shape[0]), ppm, fill, plan.rotation_deg, plan.tilt_deg,
                margin=margin, rng=rng,
            )  # fmt: skip
            rng.bit_generator.state = rng_after
        hmat = desk_scene.object_homography(obj, pose, size)
        px_per_mm = pose.module_px

    # Clutter goes on the desk before the light and the page.
    quad = (
        desk_scene.project_points(hmat, obj.corners)
        if obj is not None and obj.corners is not None and hmat is not None
        else None
    )
    if plan.clutter:
        desk_scene.draw_clutter(unlit, rng, px_per_mm, plan.clutter, quad)
    frame = desk_scene.apply_light(unlit, field, light.tint)
    if obj is not None and hmat is not None:
        desk_scene.draw_document(frame, obj, hmat, field, light, plan.curl)
        page = desk_scene.page_truth(obj, hmat, size, plan.curl)
        if plan.hand is not None:
            occluded = desk_scene.hand_on_page(frame, field, light, page, px_per_mm, rng, plan.hand)
            page = dataclasses.replace(page, occluded_corner=occluded)
    if plan.hard_shadow:
        desk_scene.draw_cast_shadow(frame, rng, _point_in(page, size, rng), hard=True)
    if plan.soft_shadow:
        desk_scene.draw_cast_shadow(frame, rng, _point_in(page, size, rng), hard=False)
    if plan.defocus_sigma > 0 or plan.motion_px != (0.0, 0.0):
        frame = desk_scene.blur_frame(frame, plan.defocus_sigma, plan.motion_px)
    frame = desk_scene.add_sensor_noise(frame, _noise(size, plan.noise_sigma), rng)
    ok, buf = cv2.imencode(".jpg", frame, [cv2.IMWRITE_JPEG_QUALITY, plan.jpeg_quality])
    if not ok:
        raise RuntimeError("JPEG encoding failed")
    image = cv2.imdecode(buf, cv2.IMREAD_COLOR)
    if image is None:
        raise RuntimeError("JPEG decoding failed")
    sharp = "blur" not in plan.tags
    truth = ScanTruth(plan.desk, plan.tags, page, sharp, plan.jpeg_quality)
    name = f"{plan.index:04d}_{plan.kind or 'empty'}_{plan.desk}"
    return ScanSample(name, image, truth, buf.tobytes())


def _point_in(page: PageTruth | None, size: tuple[int, int], rng: np.random.Generator) -> tuple[float, float]:
    """A random point on the page (anywhere in the frame without one)."""
    if page is None:
        return float(rng.uniform(0, size[0])), float(rng.uniform(0, size[1]))
    cp = np.array(page.corners_page)
    wts = rng.dirichlet(np.ones(4))
    p = 0.5 * cp.mean(axis=0) + 0.5 * (wts @ cp)
    return float(p[0]), float(p[1])


def truth_record(sample: ScanSample, image_name: str, seed: int, index: int) -> dict[str, Any]:
    """The sample's `ground_truth.json` record, in the schema of the real-photo set."""
    t = sample.truth
    p = t.page
    h, w = sample.image.shape[:2]

    def pts(v: Sequence[tuple[float, float]] | None) -> list[list[float]] | None:
        return None if v is None else [[round(x, 3), round(y, 3)] for x, y in v]

    return {
        "image": image_name,
        "width": w,
        "height": h,
        "group": "synthetic",
        "case": "empty" if p is None else "page",
        "kind": None if p is None else p.kind,
        "ref_size": None if p is None else list(p.ref_size),
        "ref_size_assumed": False,
        "corners": pts(p.corners) if p else None,
        "corners_page": pts(p.corners_page) if p else None,
        "partial": False,
        "sharp": t.sharp,
        "qr": None if p is None else p.qr_text,
        "qr_module_px": None if p is None or p.qr_module_px is None else round(p.qr_module_px, 3),
        "qr_corners": pts(p.qr_corners) if p else None,
        "occluded_corner": None if p is None else p.occluded_corner,
        "annotation_uncertainty_px": 0,
        "note": " ".join(t.tags),
        "desk": t.desk,
        "tags": list(t.tags),
        "jpeg_quality": t.jpeg_quality,
        "source": {"generator": "hw_sim.scan_dataset", "seed": seed, "index": index},
    }


def write_dataset(
    out_dir: str | Path, count: int = 360, seed: int = 2026, size: tuple[int, int] = (1280, 720)
) -> dict[str, Any]:
    """Write `count` samples as ``NAME.jpg`` (the exact JPEG bytes of each sample) and their
    `ground_truth.json` into `out_dir`; returns the JSON document written."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    records = []
    for i, sample in enumerate(scan_frames(count, seed, size)):
        name = f"{sample.name}.jpg"
        (out / name).write_bytes(sample.jpeg)
        records.append(truth_record(sample, name, seed, i))
    doc = {
        "generator": {
            "name": "hw_sim.scan_dataset",
            "version": 1,
            "seed": seed,
            "count": count,
            "size": list(size),
            "note": "synthetic desk photos; corners exact in pixels of the stored images, OpenCV convention "
            "(pixel centres at integers); corners clockwise from the corner nearest the image's top-left, "
            "corners_page TL,TR,BR,BL of the document; ID-card corners where the straight edges meet",
        },
        "images": records,
    }
    (out / "ground_truth.json").write_text(
        json.dumps(doc, ensure_ascii=False, indent=1) + "\n", encoding="utf-8"
    )
    return doc


def summary(samples: Sequence[ScanTruth]) -> dict[str, Counter[str]]:
    """Counts per desk, kind and tag, for the report and the tests."""
    return {
        "desk": Counter(t.desk for t in samples),
        "kind": Counter(t.kind or "empty" for t in samples),
        "tag": Counter(tag for t in samples for tag in t.tags),
    }


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m hw_sim.scan_dataset --out DIR [--count N] [--seed S] [--size 1280x720]``."""
    ap = argparse.ArgumentParser(prog="python -m hw_sim.scan_dataset", description=__doc__.splitlines()[0])
    ap.add_argument("--out", required=True, help="directory to write the JPEGs and ground_truth.json into")
    ap.add_argument("--count", type=int, default=360)
    ap.add_argument("--seed", type=int, default=2026)
    ap.add_argument("--size", default="1280x720", help="frame size WxH")
    args = ap.parse_args(argv)
    try:
        w, h = (int(v) for v in args.size.lower().split("x"))
    except ValueError:
        ap.error(f"--size must look like 1280x720, got {args.size!r}")
    t0 = time.perf_counter()
    doc = write_dataset(args.out, args.count, args.seed, (w, h))
    dt = time.perf_counter() - t0
    n = len(doc["images"])
    print(f"wrote {n} samples to {args.out} in {dt:.1f} s ({1000 * dt / max(n, 1):.0f} ms per sample)")
    desks = Counter(r["desk"] for r in doc["images"])
    kinds = Counter(r["kind"] or "empty" for r in doc["images"])
    tags = Counter(t for r in doc["images"] for t in r["tags"])
    print("desks:", dict(sorted(desks.items())))
    print("kinds:", dict(sorted(kinds.items())))
    print("tags:", dict(sorted(tags.items())))
    return 0


if __name__ == "__main__":
    sys.exit(main())
