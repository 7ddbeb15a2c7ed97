"""Page detection for the document camera: the SmartDoc metric, real photos, synthetic desks,
sub-pixel refinement, the focus measure."""

from __future__ import annotations

import json
import math
from pathlib import Path

import cv2
import numpy as np
import pytest

from docscan import detect as detect_module
from docscan.detect import PageQuad, detect_page
from docscan.focus import sharpness
from docscan.metric import jaccard_index, order_corners

REAL_DIR = Path(__file__).resolve().parents[2] / "shared" / "data" / "scan-real"
if not REAL_DIR.is_dir():
    REAL_DIR = Path("/work/shared/data/scan-real")

SQUARE = np.array([[0, 0], [100, 0], [100, 100], [0, 100]], np.float32)
PAGE = np.array([[212.0, 95.0], [868.0, 131.0], [842.0, 604.0], [190.0, 566.0]], np.float32)


# --- metric -------------------------------------------------------------------------------


def test_identical_quads_score_one() -> None:
    assert jaccard_index(PAGE, PAGE, (2100, 2970)) == pytest.approx(1.0)


def test_a_shifted_square_scores_its_overlap_over_its_union() -> None:
    # 10 % to the side: overlap 90 x 100, union 110 x 100.
    shifted = SQUARE + np.array([10.0, 0.0], np.float32)
    assert jaccard_index(shifted, SQUARE, (100, 100)) == pytest.approx(90 / 110)


def test_a_missed_page_scores_zero() -> None:
    assert jaccard_index(None, PAGE, (2100, 2970)) == 0.0


def test_a_quad_elsewhere_scores_zero() -> None:
    assert jaccard_index(SQUARE + np.array([500.0, 500.0], np.float32), SQUARE, (100, 100)) == 0.0


@pytest.mark.parametrize("order", [[1, 2, 3, 0], [3, 2, 1, 0], [2, 0, 3, 1], [0, 2, 1, 3]])
def test_the_score_does_not_depend_on_corner_order(order: list[int]) -> None:
    found = PAGE + np.array([[3, -2], [1, 2], [-2, 1], [0, 0]], np.float32)
    ref = jaccard_index(found, PAGE, (2100, 2970))
    assert 0.95 < ref < 1.0
    assert jaccard_index(found[order], PAGE, (2100, 2970)) == pytest.approx(ref)
    assert jaccard_index(found, PAGE[order], (2100, 2970)) == pytest.approx(ref)


def test_the_score_is_measured_in_the_pages_own_frame() -> None:
    # The same 2 px error costs a small card far more than a big sheet.
    big = SQUARE * 6.0
    small = SQUARE * 1.0
    assert jaccard_index(big + np.array([2.0, 0.0], np.float32), big, (100, 100)) > jaccard_index(
        small + np.array([2.0, 0.0], np.float32), small, (100, 100)
    )
    # ref_size's aspect does not change the score (an axis scaling).
    found = PAGE + np.array([2.0, 1.0], np.float32)
    assert jaccard_index(found, PAGE, (2100, 2970)) == pytest.approx(jaccard_index(found, PAGE, (856, 540)))


def test_corners_are_ordered_clockwise_from_the_top_left() -> None:
    ordered = order_corners(PAGE[[2, 0, 3, 1]])
    np.testing.assert_array_equal(ordered, PAGE)


# --- synthetic clean case: refinement is sub-pixel ----------------------------------------


def _clean_page(corners: np.ndarray, size: tuple[int, int] = (1280, 720), ss: int = 4) -> np.ndarray:
    """A white sheet on a grey-brown desk, rendered at `ss` x supersampling and shrunk with
    INTER_AREA, so its edges are anti-aliased like a camera's; light sensor noise."""
    w, h = size
    big = np.full((h * ss, w * ss, 3), (90, 120, 150), np.uint8)
    # Supersampled pixel centres: a big pixel centre (x, y) is at ss*x + (ss-1)/2.
    pts = corners * ss + (ss - 1) / 2.0
    cv2.fillPoly(big, [np.round(pts * 16).astype(np.int32)], (235, 238, 240), cv2.LINE_AA, shift=4)
    img = cv2.resize(big, size, interpolation=cv2.INTER_AREA)
    noise = np.random.default_rng(7).normal(0, 2.0, img.shape)
    return np.clip(img + noise, 0, 255).astype(np.uint8)


def test_refinement_is_sub_pixel_on_a_clean_page() -> None:
    found = detect_page(_clean_page(PAGE))
    assert found is not None
    err = np.hypot(*(found.corners - PAGE).T)
    assert err.max() < 0.5, err
    coarse = detect_page(_clean_page(PAGE), refine=False)
    assert coarse is not None
    assert err.mean() < np.hypot(*(coarse.corners - PAGE).T).mean()


def test_an_occluded_corner_is_put_where_its_edges_meet() -> None:
    img = _clean_page(PAGE)
    # A finger (skin-coloured capsule from outside the frame) over the bottom-right corner.
    tip = PAGE[2] + [-12.0, -10.0]
    cv2.line(img, (int(tip[0]), int(tip[1])), (1100, 720), (120, 150, 205), 46, cv2.LINE_AA)
    found = detect_page(img)
    assert found is not None
    assert np.hypot(*(found.corners[2] - PAGE[2])) < 3.0
    assert jaccard_index(found.corners, PAGE, (2100, 2970)) > 0.98


def test_a_page_under_a_hard_cast_shadow_is_found_whole() -> None:
    # A light-wood desk; a small tinted card; a dark band (an arm's shadow) across both.
    card = np.array([[420.0, 200.0], [820.0, 230.0], [805.0, 480.0], [405.0, 455.0]], np.float32)
    w, h = 1280, 720
    img = np.full((h, w, 3), (120, 160, 190), np.uint8)
    cv2.fillPoly(img, [np.round(card * 16).astype(np.int32)], (225, 215, 200), cv2.LINE_AA, shift=4)
    band = np.zeros((h, w), np.uint8)
    cv2.line(band, (300, 720), (1000, 0), 255, 130)
    shade = cv2.GaussianBlur(band, (0, 0), 2.0).astype(np.float32) / 255.0
    lit = img * (1.0 - 0.7 * shade[..., None])
    frame = np.clip(lit + np.random.default_rng(5).normal(0, 2.0, img.shape), 0, 255).astype(np.uint8)
    found = detect_page(frame)
    assert found is not None
    assert jaccard_index(found.corners, card, (856, 540)) > 0.97


def test_a_soft_edged_bright_patch_is_not_a_page() -> None:
    # A reflection on a dark glass desk: an oblong patch whose edges fade over ~25 px.
    img = np.full((720, 1280, 3), (30, 30, 32), np.uint8)
    rect = np.zeros((720, 1280), np.uint8)
    cv2.rectangle(rect, (400, 200), (820, 500), 255, -1)
    patch = cv2.GaussianBlur(rect, (0, 0), 10.0).astype(np.float32) / 255.0
    glow = img + patch[..., None] * np.array([150.0, 150.0, 150.0])
    frame = np.clip(glow + np.random.default_rng(9).normal(0, 2.0, img.shape), 0, 255).astype(np.uint8)
    assert detect_page(frame) is None


def test_an_empty_plain_desk_shows_no_page() -> None:
    img = np.full((720, 1280, 3), (90, 120, 150), np.uint8)
    img = np.clip(img + np.random.default_rng(3).normal(0, 2.5, img.shape), 0, 255).astype(np.uint8)
    assert detect_page(img) is None


def test_corners_come_clockwise_from_the_one_nearest_the_top_left() -> None:
    # Rotated 90 deg: the page's own top-left is now at the image's top-right.
    rotated = PAGE[[3, 0, 1, 2]]
    found = detect_page(_clean_page(rotated))
    assert found is not None
    start = int(np.argmin(np.hypot(found.corners[:, 0], found.corners[:, 1])))
    assert start == 0
    a, b = found.corners[1] - found.corners[0], found.corners[2] - found.corners[1]
    cross = a[0] * b[1] - a[1] * b[0]
    assert cross > 0  # clockwise on screen (y down)


# --- real photos --------------------------------------------------------------------------


def _real_records() -> list[dict[str, object]]:
    return list(json.loads((REAL_DIR / "ground_truth.json").read_text())["images"])


# Measured on the 19 photos: mean 0.986; every sheet >= 0.96 (the worst text5, 0.964); the
# card held in a hand with its corner under the thumb, over a keyboard, 0.935 (its corner is
# extrapolated, ±6 px): it has a bound of its own.
_REAL_HARD = {"xlh_holding-with-a-hand.jpg": 0.90}


@pytest.fixture(scope="module")
def real_scores() -> dict[str, float]:
    if not (REAL_DIR / "ground_truth.json").is_file():
        pytest.skip(f"no real photos at {REAL_DIR}")
    cv2.setNumThreads(1)
    out = {}
    for rec in _real_records():
        img = cv2.imread(str(REAL_DIR / str(rec["image"])))
        assert img is not None, rec["image"]
        quad = detect_page(img)
        truth = np.array(rec["corners"], np.float32)
        ref = rec["ref_size"]
        assert isinstance(ref, list)
        out[str(rec["image"])] = jaccard_index(
            None if quad is None else quad.corners, truth, (ref[0], ref[1])
        )
    return out


def test_pages_in_real_photos_are_found_accurately(real_scores: dict[str, float]) -> None:
    for name, ji in real_scores.items():
        assert ji >= _REAL_HARD.get(name, 0.95), f"{name}: JI {ji:.4f}"


def test_real_photos_mean_score(real_scores: dict[str, float]) -> None:
    assert float(np.mean(list(real_scores.values()))) >= 0.975


# --- synthetic desks ----------------------------------------------------------------------


@pytest.fixture(scope="module")
def synthetic() -> list[tuple[object, PageQuad | None]]:
    scan_dataset = pytest.importorskip("hw_sim.scan_dataset")
    cv2.setNumThreads(1)
    return [(s, detect_page(s.image)) for s in scan_dataset.scan_frames(count=40, seed=7, size=(1280, 720))]


def test_pages_on_synthetic_desks_are_found(synthetic: list[tuple[object, PageQuad | None]]) -> None:
    jis = []
    for sample, quad in synthetic:
        truth = sample.truth  # type: ignore[attr-defined]
        if truth.corners is None:
            continue
        jis.append(jaccard_index(None if quad is None else quad.corners, truth.corners, truth.ref_size))
    assert len(jis) >= 30
    # Measured 0.951 on this subset (seed 7; the bench's seed-2026 set gives 0.981): a card in
    # a hard shadow on a white desk missed and a card beside a pen's shadow half found pull
    # the mean down; the median is above 0.998.
    assert float(np.mean(jis)) >= 0.945, sorted(jis)[:5]
    assert float(np.median(jis)) >= 0.99


def _bench_frame(index: int, seed: int) -> tuple[np.ndarray, np.ndarray, tuple[float, float]]:
    """Frame `index` of the bench's synthetic set for `seed`: image, truth corners, ref size."""
    scan_dataset = pytest.importorskip("hw_sim.scan_dataset")
    sample = scan_dataset.render_plan(scan_dataset.scan_plan(index + 1, seed)[index], seed, (1280, 720))
    truth = sample.truth
    return sample.image, truth.corners, (float(truth.ref_size[0]), float(truth.ref_size[1]))


# Bench frames that each failed once for a reason of their own, and the JI each must reach.
_HARD_FRAMES = [
    # An A5 form on a white desk, its edges faint; its printed table is a square quad that
    # encloses the best-scoring one and is itself enclosed by the sheet.
    pytest.param(2026, 344, 0.9, id="the sheet around its printed table"),
    # An ID card on a cluttered desk with skin-toned clutter in view; no quad is found from
    # the 16 longest lines, the card's sides are among the 26 longest.
    pytest.param(99, 95, 0.95, id="a card crowded out of the longest lines"),
    # An A5 form on a cutting mat; the mat's grid draws a rectangle around it that scores as
    # well as the sheet but the band between them is mat, not paper.
    pytest.param(99, 57, 0.5, id="not the desk grid's cell around the sheet"),
    # An A4 form on a tablecloth, blurred, tilted, under a soft shadow: every outline is a
    # few px off its edges and scored under the threshold until polished.
    pytest.param(2026, 99, 0.95, id="found only once polished"),
    # An ID card on a white desk, blurred, dim, low contrast: two of its sides are as soft as
    # a reflection's, but it has print inside.
    pytest.param(7, 92, 0.9, id="a blurred card with print is not a reflection"),
    # An ID card on glass whose top edge runs 5 px below the frame's.
    pytest.param(7, 304, 0.9, id="a card near the frame's edge is not cut off by it"),
    # An A5 form on a white desk in a soft shadow: the lit half of the desk is brighter than
    # the sheet, which is still brighter than the desk around it.
    pytest.param(99, 344, 0.95, id="a sheet in a lamp's shadow is paper"),
]


@pytest.mark.parametrize(("seed", "index", "bound"), _HARD_FRAMES)
def test_hard_bench_frames_are_found(seed: int, index: int, bound: float) -> None:
    img, truth, ref = _bench_frame(index, seed)
    quad = detect_page(img)
    assert quad is not None
    assert jaccard_index(quad.corners, truth, ref) > bound


def test_a_quad_a_few_pixels_off_the_edges_is_polished_onto_them() -> None:
    field = detect_module._gradient_field(_clean_page(PAGE))
    truth = PAGE * field.scale
    # Corners moved 4-6 work px, in and out: a region's outline or a line fragment's, off the
    # edges by more than scoring looks across them (2 px).
    off = truth + np.array([[5.0, -4.0], [-5.5, 4.0], [6.0, 4.5], [-4.0, -5.0]], np.float32)
    polished = detect_module._polish(off[None], field)[0]
    assert np.hypot(*(polished - truth).T).max() < 1.0
    assert detect_module._score(polished, field) > detect_module._score(off, field)


def test_empty_synthetic_desks_show_no_page(synthetic: list[tuple[object, PageQuad | None]]) -> None:
    empties = [quad for sample, quad in synthetic if sample.truth.corners is None]  # type: ignore[attr-defined]
    assert empties, "the subset has no empty desk"
    assert all(q is None for q in empties)


# --- focus ------------------------------------------------------------------------------


def test_a_sharp_page_measures_above_one_and_a_blurred_one_below() -> None:
    img = _clean_page(PAGE)
    # Some text lines on the page, so there is more than the border to measure.
    for k in range(12):
        y = int(150 + 30 * k)
        cv2.putText(img, "ABCDEFG 1234567 abcdefg", (260, y), cv2.FONT_HERSHEY_SIMPLEX, 0.8, (40, 40, 40), 2)
    quad = PageQuad(PAGE, 1.0)
    sharp = sharpness(img, quad)
    blurred = sharpness(cv2.GaussianBlur(img, (0, 0), 3.0), quad)
    assert sharp >= 1.0 > blurred
    assert not math.isnan(sharpness(img))


# --- vectorised helpers -------------------------------------------------------------------


def test_long_contours_choose_exactly_as_opencvs_arc_length() -> None:
    from docscan.detect import _long_contours

    rng = np.random.default_rng(5)
    contours = [rng.integers(0, 200, (int(rng.integers(4, 30)), 1, 2)).astype(np.int32) for _ in range(200)]
    for limit in (30.0, 300.0, 1500.0):
        expected = [c for c in contours if cv2.arcLength(c, False) >= limit]
        got = _long_contours(contours, limit)
        assert len(got) == len(expected) and all(a is b for a, b in zip(got, expected, strict=True))


def test_dedupe_keeps_the_first_of_quads_equal_to_3_px_in_any_corner_order() -> None:
    from docscan.detect import _dedupe

    a = np.array([[10, 10], [100, 10], [100, 80], [10, 80]], np.float32)
    same = a[[2, 3, 0, 1]] + 0.4  # rotated corners, within the 3 px grid
    other = a + 30.0
    out = _dedupe([a, same, other, other.copy()])
    assert len(out) == 2 and out[0] is a and out[1] is other
