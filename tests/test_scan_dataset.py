"""The document-scanning benchmark set: the same set for the same seed, page corners where
the page really is (to a fraction of a pixel), every desk and condition in the mix, empty
desks without a page, printed QR codes that decode, rounded ID cards measured at the
intersection of their straight edges, and a page laid on the virtual camera."""

from __future__ import annotations

import json
import math
from pathlib import Path

import cv2
import numpy as np
import pytest
import zxingcpp

from hw_sim import desk_scene
from hw_sim.desk_scene import DESK_TYPES, PAGE_KINDS, Curl, Lighting, Pose
from hw_sim.scan_dataset import (
    CONDITION_TAGS,
    QR_MODULE_PX,
    ScanPlan,
    ScanSample,
    main,
    render_plan,
    scan_frames,
    scan_plan,
)
from hw_sim.virtual_camera import VirtualCamera

SIZE = (1280, 720)
FLAT = Lighting(level=1.0, gradient=0.0, vignette=0.0)


def _render_flat(
    obj: desk_scene.DeskObject, pose: Pose, curl: Curl | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """The document's coverage (float, 0..1) drawn on a black frame, and its homography."""
    frame = np.zeros((SIZE[1], SIZE[0], 3), np.uint8)
    cov = np.zeros((SIZE[1], SIZE[0]), np.float32)
    field = desk_scene.light_field(SIZE, FLAT)
    h = desk_scene.object_homography(obj, pose, SIZE)
    desk_scene.draw_document(frame, obj, h, field, FLAT, curl, edge_shadow=0.0, coverage=cov)
    return cov, h


def _edge_offsets(cov: np.ndarray, a: np.ndarray, b: np.ndarray, ts: np.ndarray) -> np.ndarray:
    """Signed distance (px) from the line a-b to where the coverage crosses 0.5, measured
    along the line's normal at fractions `ts` of the way from a to b."""
    d = (b - a) / np.linalg.norm(b - a)
    n = np.array([-d[1], d[0]])
    steps = np.arange(-3.0, 3.0, 0.02)
    out = []
    for t in ts:
        p = a + (b - a) * t
        pts = p[None, :] + steps[:, None] * n[None, :]
        vals = cv2.remap(
            cov, pts[:, 0:1].astype(np.float32), pts[:, 1:2].astype(np.float32), cv2.INTER_LINEAR
        ).ravel()
        above = vals > 0.5
        k = int(np.flatnonzero(above[1:] != above[:-1])[0])
        f = (0.5 - vals[k]) / (vals[k + 1] - vals[k])
        out.append(steps[k] + f * (steps[k + 1] - steps[k]))
    return np.array(out)


def _line_intersection(p1: np.ndarray, d1: np.ndarray, p2: np.ndarray, d2: np.ndarray) -> np.ndarray:
    m = np.array([d1, -d2]).T
    t = np.linalg.solve(m, p2 - p1)
    return p1 + t[0] * d1


def test_the_same_seed_gives_the_same_set_byte_for_byte() -> None:
    first = [(s.name, s.jpeg, s.truth) for s in scan_frames(4, seed=5)]
    again = [(s.name, s.jpeg, s.truth) for s in scan_frames(4, seed=5)]
    assert first == again
    other = [s.jpeg for s in scan_frames(2, seed=6)]
    assert all(a[1] != b for a, b in zip(first, other, strict=False))
    # Sample i depends on the seed and i only: a longer set starts with the shorter one.
    assert [s.jpeg for s in scan_frames(3, seed=5)] == [j for _, j, _ in first[:3]]


def test_images_are_the_decoded_jpeg_bytes() -> None:
    s = next(scan_frames(1, seed=5))
    assert s.image.shape == (720, 1280, 3) and s.image.dtype == np.uint8
    decoded = cv2.imdecode(np.frombuffer(s.jpeg, np.uint8), cv2.IMREAD_COLOR)
    assert decoded is not None and np.array_equal(decoded, s.image)


@pytest.mark.parametrize("curl", [None, Curl("edge", 0.015, 2, 0.35), Curl("corner", 0.02, 1, 0.4)])
@pytest.mark.parametrize("kind", ["a4", "receipt"])
def test_page_corners_are_where_the_sheet_is_drawn_to_a_fraction_of_a_pixel(
    kind: str, curl: Curl | None
) -> None:
    rng = np.random.default_rng(3)
    obj = desk_scene.document(kind, rng)  # type: ignore[arg-type]
    pose = Pose((640, 360), rotation_deg=23.0, tilt_deg=(9.0, -7.0), module_px=1.6 if kind == "a4" else 2.5)
    cov, h = _render_flat(obj, pose, curl)
    truth = desk_scene.page_truth(obj, h, SIZE, curl)
    cp = np.array(truth.corners_page)
    centre = cp.mean(axis=0)
    for c in cp:
        towards = (centre - c) / np.linalg.norm(centre - c)
        inside = cv2.getRectSubPix(cov, (1, 1), tuple(float(v) for v in c + 1.0 * towards))[0, 0]
        outside = cv2.getRectSubPix(cov, (1, 1), tuple(float(v) for v in c - 1.0 * towards))[0, 0]
        assert inside > 0.6 and outside < 0.1
    if curl is None:
        # Flat: every edge of the coverage lies on the straight line between the corners.
        for k in range(4):
            off = _edge_offsets(cov, cp[k], cp[(k + 1) % 4], np.linspace(0.05, 0.95, 15))
            assert np.abs(off).max() < 0.1, off
        area = cv2.contourArea(cp.astype(np.float32))
        assert abs(cov.sum() - area) / area < 0.002


def test_rounded_id_card_corners_are_where_the_straight_edges_meet() -> None:
    obj = desk_scene.id_card(np.random.default_rng(1))
    pose = Pose((640, 360), rotation_deg=-31.0, tilt_deg=(6.0, 10.0), module_px=6.0)
    cov, h = _render_flat(obj, pose)
    truth = desk_scene.page_truth(obj, h, SIZE)
    cp = np.array(truth.corners_page)
    assert truth.ref_size == (856, 540)
    # Fit each edge's straight middle part, away from the rounded corners...
    lines = []
    for k in range(4):
        a, b = cp[k], cp[(k + 1) % 4]
        ts = np.linspace(0.15, 0.85, 12)
        off = _edge_offsets(cov, a, b, ts)
        d = (b - a) / np.linalg.norm(b - a)
        n = np.array([-d[1], d[0]])
        pts = a[None, :] + (b - a)[None, :] * ts[:, None] + off[:, None] * n[None, :]
        vx, vy, x0, y0 = cv2.fitLine(pts.astype(np.float32), cv2.DIST_L2, 0, 0.01, 0.01).ravel()
        lines.append((np.array([x0, y0], np.float64), np.array([vx, vy], np.float64)))
    # ...their intersections are the truth corners, which lie outside the card's outline.
    for k in range(4):
        p = _line_intersection(*lines[(k + 3) % 4], *lines[k])
        assert np.linalg.norm(p - cp[k]) < 0.15
        assert cv2.getRectSubPix(cov, (1, 1), (float(cp[k][0]), float(cp[k][1])))[0, 0] < 0.05


def test_the_mix_has_every_desk_kind_and_condition() -> None:
    plans = scan_plan(360, seed=2026)
    empty = [p for p in plans if p.kind is None]
    assert 0.12 <= len(empty) / len(plans) <= 0.18
    for desk in DESK_TYPES:
        on_desk = [p for p in plans if p.desk == desk]
        assert len(on_desk) == 60
        assert {p.kind for p in on_desk} == {*PAGE_KINDS, None}
    tags = [t for p in plans for t in p.tags]
    for tag in CONDITION_TAGS:
        assert tags.count(tag) >= 5, tag
    assert {p.qr_module_px for p in plans if p.qr_text} == set(map(float, QR_MODULE_PX))
    assert {p.hand for p in plans} == {None, "corner", "edge"}
    assert all("clutter" in p.tags for p in plans if p.desk == "cluttered")
    assert any(p.kind is None and p.clutter for p in plans) and any(
        p.kind is None and not p.clutter for p in plans
    )


def test_empty_desks_have_no_page_in_their_truth() -> None:
    samples = [s for s in scan_frames(24, seed=5) if "empty" in s.name]
    assert samples
    for s in samples:
        assert s.truth.page is None and s.truth.corners is None and s.truth.kind is None


def _qr_samples(count: int) -> list[ScanSample]:
    plans = [p for p in scan_plan(240, seed=2026) if p.qr_text]
    picked: dict[float, ScanPlan] = {}
    for p in plans:  # one per module size, then the next ones
        picked.setdefault(p.qr_module_px, p)
    chosen = list(picked.values()) + [p for p in plans if p not in picked.values()][: count - len(picked)]
    return [render_plan(p, 2026, SIZE) for p in chosen]


def test_printed_qr_codes_decode_from_3_px_per_module() -> None:
    samples = _qr_samples(8)
    assert min(s.truth.qr_module_px or 99 for s in samples) < 3.3
    for s in samples:
        assert s.truth.sharp and s.truth.qr_text
        texts = [r.text for r in zxingcpp.read_barcodes(s.image)]
        assert s.truth.qr_text in texts, (s.name, s.truth.qr_module_px)
        assert abs((s.truth.qr_module_px or 0) - round(s.truth.qr_module_px or 0)) < 0.5


def test_every_page_lies_wholly_in_the_frame() -> None:
    for s in scan_frames(30, seed=5):
        if s.truth.corners is not None:
            c = s.truth.corners
            assert (
                c[:, 0].min() >= 0 and c[:, 1].min() >= 0 and c[:, 0].max() <= 1279 and c[:, 1].max() <= 719
            )
            # Clockwise from the corner nearest the image's top-left.
            assert int(np.argmin(np.hypot(c[:, 0], c[:, 1]))) == 0
            x, y = c[:, 0], c[:, 1]
            assert 0.5 * float(np.dot(x, np.roll(y, -1)) - np.dot(y, np.roll(x, -1))) > 0


def test_write_dataset_writes_the_real_sets_schema(tmp_path: Path) -> None:
    assert main(["--out", str(tmp_path), "--count", "4", "--seed", "5"]) == 0
    doc = json.loads((tmp_path / "ground_truth.json").read_text(encoding="utf-8"))
    real = {
        "image", "width", "height", "group", "case", "kind", "ref_size", "ref_size_assumed", "corners",
        "corners_page", "partial", "sharp", "qr", "qr_module_px", "occluded_corner", "note", "source",
    }  # fmt: skip
    assert len(doc["images"]) == 4
    for rec, sample in zip(doc["images"], scan_frames(4, seed=5), strict=True):
        assert real <= set(rec)
        assert (tmp_path / rec["image"]).read_bytes() == sample.jpeg
        if sample.truth.corners is not None:
            assert np.allclose(rec["corners"], sample.truth.corners, atol=1e-3)


def test_a_page_laid_on_the_virtual_camera_is_in_its_truth_and_its_code_reads() -> None:
    cam = VirtualCamera(seed=4, texture="wood", noise_sigma=2.0)
    truth = cam.lay_page(
        "a4", rotation_deg=17.0, tilt_deg=(4.0, -3.0), fill=0.85, qr_text="YC:CASE:42", module_px=4.0
    )
    assert truth.kind == "document" and truth.page is not None and truth.page.kind == "a4"
    frame = cam.read()
    assert frame is not None
    page = cam.scene.page
    assert page is not None and page.qr_module_px is not None and abs(page.qr_module_px - 4.0) < 0.4
    texts = [r.text for r in zxingcpp.read_barcodes(frame)]
    assert "YC:CASE:42" in texts
    # The paper is brighter than the wood just inside its corners.
    grey = cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY).astype(np.float32)
    cp = np.array(page.corners_page)
    centre = cp.mean(axis=0)
    for c in cp:
        d = (centre - c) / np.linalg.norm(centre - c)
        ix, iy = (c + 6 * d).astype(int)
        ox, oy = (c - 6 * d).astype(int)
        assert grey[iy, ix] > grey[oy, ox] + 20
    cam.lay_page("id_card", hand="corner", fill=0.5)
    assert cam.scene.page is not None and cam.scene.page.occluded_corner in range(4)
    cam.clear()
    assert cam.read() is not None and cam.scene.page is None
    with pytest.raises(ValueError, match="kind"):
        cam.lay_page("letter")
    with pytest.raises(ValueError, match="QR"):
        cam.lay_page("id_card", qr_text="x")
    assert math.isfinite(truth.page.corners[0][0])
