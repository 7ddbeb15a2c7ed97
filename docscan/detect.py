"""Finding the page on the desk: its four corners in a camera frame, to sub-pixel accuracy.

Approach (classical, no learned model):

1. **Downscale** the frame by an integer factor to about 480 px on the long side
   (1280x720 -> 426x240: INTER_AREA halving, then bilinear); everything up to the final
   refinement works there, which is what keeps a frame near budget.
2. **Colour gradients.** Per pixel the B, G or R channel with the strongest Sobel gradient
   supplies the gradient vector (a colour Canny, in effect): a white sheet on a tinted
   laminate differs most in one channel, not in grey.
3. **Quad hypotheses** from several independent views of the scene, because each fails
   somewhere: contours of colour-Canny edge maps at two sensitivities (inner and outer
   boundaries of the closed edge bands), and region masks: Otsu on lightness, the colour
   distance from the desk colour estimated on the frame border, and paper-likeness masks
   (unsaturated and bright for the frame; of those, the locally smooth ones, print closed
   over; and two shadow-proof ones, below) opened with an 11 px square, which cuts a page
   loose from the white checks of a tablecloth or the light squares of a mat touching its
   edges. **Shadows:** a hard cast shadow darkens paper below the "bright" level and split
   the sheet in two; saturation and hue are ratios a shadow leaves alone, so one mask is
   "less saturated than the desk" (under 0.6 x the border's median saturation, at most 60)
   with a V floor of only 0.25 of the bright level, and, on a plainly coloured desk (border
   saturation >= 25 with an interquartile range <= 8: wood, not a check pattern), one is
   "hue and saturation far from the desk's" (Otsu), which also keeps a tinted card whole
   across the band. Each contour's convex
   hull is simplified; a hull of 4 vertices is a hypothesis, one of 5-8 vertices (a corner
   cut off by a finger, a dog-ear, a hand's outline) yields every choice of 4 of its edges
   whose fitted lines, intersected, enclose the hull: that is how an occluded corner is put
   back where the two edges meet. Line hypotheses complete them: straight runs of the edge
   contours (a third, faint Canny level included, for white on white and dim light) are
   merged into lines, and two roughly parallel pairs of the longest lines make a quad when
   each line lies along its side and ends near its corners - that finds pages whose outline
   is cut by a shadow band or merged with a hand or clutter. The 16 longest lines are
   paired; when a hand is in view (a skin-coloured blob, YCrCb Cr 135-175, Cb 85-135,
   saturated, 1-30 % of the frame, on a desk whose border is not skin-toned) and the best
   quad (step 5) scores under 0.8, the 26 longest are paired too and the choice is made
   again: a hand hides part of a card's sides, and its outline and the clutter it is held
   over crowd them out of the 16.
4. **Scoring** all hypotheses in one vectorised lookup on the gradient field: for every
   side, the share of points (excluding the ends, where cards are rounded and fingers sit)
   that have a gradient across the side, aligned with its normal, within 2 px; the polarity
   of that gradient must stay the same along the side (a page is brighter or darker than the
   desk all along an edge, a texture is not). Support found *beyond* the corners, on the
   sides' extensions, is penalised: desk grids, tablecloth checks and table rulings run on,
   page edges end. Geometric plausibility gates (convex, corner angles, area, side ratios).
   **Polishing.** The 8 best distinct hypotheses (score x document-likeness >= 0.3) are
   polished: each side's ends are moved along its normal (+-6 px in 1 px steps, then +-1 in
   0.5) to the line along which the gradient across it, of one polarity, is strongest
   (sum of sqrt of the projected gradient: the many points of an edge beat a few strong
   text strokes; ties go to the smaller move); corners are where the new lines meet. The
   polished quad replaces its hypothesis: an outline traced from a region mask or from line
   fragments lies a few px off the page's edges, where scoring (+-2 px) undersells it.
5. **Choice.** A hypothesis' score is multiplied by its document-likeness: how much its
   inside looks like paper (unsaturated, about as bright as the brightest things in view or,
   on a lit desk, at least 0.9 of the desk just around it - a sheet in a lamp's shadow is
   darker than the lit desk across the frame: not a phone, not a sticky note), x 0.75 when
   it is square (sticky notes, mat squares).
   The best scoring quad is the page unless a quad at least 1.3 x larger encloses it (the
   sheet around a table, a frame or a card's printed panel) and either scores >= 0.9 of the
   best, or scores >= 0.8 of it with a paper-like band (>= 50 % unsaturated and bright, or
   of the inner quad's paper's chromaticity and not black: paper in a cast shadow) between
   the two; of those scoring >= 0.95 of the best of them the largest wins (a larger one
   scoring clearly worse is a polished quad with a side out on the desk), and whose sides,
   where they run away from the inner quad, lie along edges (>= 0.7 of their points: a quad
   spanning a card and the pen beside it has no edge across the desk between them). Growth is
   repeated from the quad grown to (up to 3 steps; then 1.05 x larger suffices once the
   chain has grown 1.3 x: a card's magnetic stripe, then the thin band above it), the
   second and later steps only with a paper-like band: a form's ruled
   table is square (x 0.75) and can enclose the best quad (a cell block) and be enclosed by
   the sheet, whose faint edge on a white desk scores < 0.8 of the block but not of the
   table; a desk grid's cell around the sheet scores well but its band is mat.
   A larger quad merely scoring well is not
   enough: on a dark desk the band would be desk, and the page's own outline is the best.
   "Encloses" also admits an inner quad that overshoots the outer one by a sliver (>= 90 %
   of its area inside): a page half cut off by a shadow's edge is such a quad, its corners
   on the shadow line a few px outside the sheet. And on a lit, coloured desk the larger quad
   is refused when the band between the two has the desk's saturation rather than the
   inner quad's (it is desk, the extra side a shadow's edge or a seam).
   **Near misses:** when no quad passes the threshold, the three best of those scoring
   >= 0.45 are snapped to the edges at full resolution (step 6) and scored again: a region
   outline rounded by a finger or cut off a little by a shadow then lies on the page's
   straight edges.
6. **Sub-pixel refinement** at full resolution: for each side, colour profiles along the
   side's normal are sampled every few pixels (bilinear remap, 0.5 px steps), the peak of
   the colour-gradient energy is located with a parabolic fit, and a line is fitted to the
   peaks robustly (Huber, then a trimmed least-squares refit), twice: a wide window
   (4 work px) then a narrow one (3 px) centred on the first pass' lines. Adjacent lines
   are intersected; the corners are therefore where the straight edges meet, which is also
   how the ground truth defines the corners of rounded ID cards and of occluded corners.
   When no quad is accepted, the 26 longest lines are paired too (not only with a hand in
   view): a card's faint side is crowded out of the 16 longest by its own print.
7. **Rejection.** No quad above the threshold (0.62), or a final score (below) under 0.5
   -> None: along a chance quad in a texture (terrazzo speckles, a cutting mat) few edge
   profiles agree with a straight line (polishing lifts such quads to ~0.45-0.49). Nor when
   fewer than three sides are sharp and there is no print inside: per side, the median over
   profiles of the peak gradient over the step across it (8 px apart) is 0.2-1 for a
   sheet's edge and ~0.11 for a reflection's soft fall-off on glass (_SHARP_MIN 0.13), but
   a blurred card's sides can be as soft; a reflection has nothing printed on it (under 8 %
   of its middle with a gradient of 8 grey levels per px; a blurred card ~20 %). On the
   bench's 54 empty desks that gives no false detection for seeds 2026 and 7 and one for
   seed 99 (a sticky note and a shadow line on a cluttered desk).
   A side within 1.5 work px of the frame's edge is the frame cutting a sheet off.

Bench (seed 2026): mean JI 0.982 (white desks 0.958, cluttered 0.963, the rest >= 0.99);
seed 99: 0.974; seed 7: 0.975; real photos 0.986. Left: cards on white desks whose faint
side is never proposed (hands, dim light), cards beside a pen whose shadow or body makes a
better-scoring quad (seed 2026 frames 161, 353), a faint sheet edge crowded out by a printed
table's rules (seed 99 frames 152, 212).

`PageQuad.score` is the working-image score (edge support x document-likeness, 0..1) times
the share of refinement profiles that agreed with the fitted lines.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

import cv2
import numpy as np

from docscan.metric import order_corners

__all__ = ["PageQuad", "detect_page"]

# Long side of the working image (px), roughly: frames are shrunk by an integer factor
# (1280x720 -> 426x240); the whole pipeline then costs ~19 ms CPU a frame (p50, x86 core;
# hypotheses ~40 % of it, polishing and refinement a fifth each). The per-candidate steps
# (line pairs, hull edge choices, gates, document-likeness, duplicate keys, polishing) run
# vectorised over all candidates.
_WORK_LONG = 480
# Canny (low, high) thresholds in Sobel units (8x grey levels per px): a sensitive one for
# white on white, a firm one where texture would merge everything into one contour.
_CANNY = ((12, 36), (30, 80))
_FAINT = (6, 16)
# Gradient (grey levels per px, after the Sobel normalisation below) a side's points need.
_EDGE_MIN = 1.2
# |cos| between the gradient and the side's normal for a point to count as edge support.
_ALIGN_MIN = 0.8
# Offsets (work px) across a side searched for support: the hull is a little off the edge.
_SEARCH = np.arange(-2, 3, dtype=np.float32)
# Points per side when scoring.
_SAMPLES = 40
# The part of each side that is scored: rounded card corners and fingers are at the ends.
_T_LO, _T_HI = 0.08, 0.92
# Minimum accepted score (edge support x document-likeness), set on the bench's empty desks.
_ACCEPT = 0.62
# Straight lines (the longest) combined into quads by the line-based hypotheses.
_MAX_LINES = 16
# ... and when a hand is in view and the best quad scores under _HAND_RETRY (see detect_page).
_MAX_LINES_HAND = 26
# Best-quad score under which a frame with a hand in view is tried with more lines.
_HAND_RETRY = 0.8
# Straight runs within this angle (and 3 px) are one line.
_MERGE_ANGLE = math.radians(4)
# A larger quad enclosing the best one wins when its score is at least this share of the best's.
# A quad enclosing the best one (>= 1.3 x its area) is the page when it scores this share of
# the best's score with a paper-like band between them, or _ENCLOSE_STRONG of it regardless.
_ENCLOSE_RATIO = 0.8
_ENCLOSE_STRONG = 0.9
# Paper-like in that band: saturation < 70 and V above this share of the frame's bright
# level; the band qualifies when at least _RING_PAPER of its pixels are.
_RING_VAL = 0.5
_RING_PAPER = 0.5
# Page area limits as a share of the frame.
_MIN_AREA, _MAX_AREA = 0.012, 0.97


@dataclass(frozen=True)
class PageQuad:
    """A page found in a frame.

    `corners` are (4, 2) float32 image pixels (OpenCV convention: pixel centres at integer
    coordinates), clockwise on screen starting from the corner nearest the image's
    top-left; `score` is a 0..1 confidence (see the module docstring).
    """

    corners: np.ndarray
    score: float


@dataclass
class _Field:
    """The working image and its colour gradient field."""

    img: np.ndarray  # (h, w, 3) uint8 BGR, smoothed
    gx: np.ndarray  # (h, w) float32, grey levels per px
    gy: np.ndarray
    mag: np.ndarray
    scale: float  # work px per frame px
    hsv: np.ndarray  # (h, w, 3) uint8
    v_ref: float  # the frame's bright level (97th percentile of V): white paper, roughly
    desk_sat: float  # median HSV saturation of the frame's border (the desk, mostly)
    desk_val: float  # median HSV value of the frame's border
    desk_sat_iqr: float  # interquartile range of the border's saturation: a patterned desk's is wide

    @property
    def size(self) -> tuple[int, int]:
        return self.img.shape[1], self.img.shape[0]


def detect_page(image_bgr: np.ndarray, *, refine: bool = True) -> PageQuad | None:
    """The page in `image_bgr` (H x W x 3 uint8), or None when the frame shows none.

    With `refine` the corners are refined to sub-pixel accuracy on the full-resolution
    frame; without it they come from the ~480 px working image (about +-1-2 work px).
    """
    if image_bgr.ndim != 3 or image_bgr.shape[2] != 3 or image_bgr.dtype != np.uint8:
        raise ValueError(f"expected an H x W x 3 uint8 BGR image, got {image_bgr.shape} {image_bgr.dtype}")
    field = _gradient_field(image_bgr)
    near: list[tuple[float, np.ndarray]] = []
    quads, edge_contours = _hypotheses(field)
    quads = _with_polished(_dedupe(quads), field)
    chosen = _choose(field, quads, near)
    # More lines are paired when no quad is accepted (a card's faint side crowded out of the
    # longest lines by its print), or when a hand is in view (a skin-coloured blob on a desk
    # that is not skin-toned: it adds its own lines and hides part of the page's) and no
    # quad scores well.
    if chosen is None or (chosen[0] < _HAND_RETRY and _hand_in_view(field)):
        more = _with_polished(_dedupe(_quads_from_lines(edge_contours, field, _MAX_LINES_HAND)), field)
        quads.extend(more)
        near = []
        chosen = _choose(field, _dedupe(quads), near)
    if chosen is None:
        chosen = _rescue(image_bgr, field, near)
    if chosen is None:
        return None
    score, quad = chosen
    corners = (quad / field.scale).astype(np.float64)
    agreement = 1.0
    if refine:
        corners, agreement = _refine(image_bgr, corners, field.scale)
    final = float(np.clip(score * agreement, 0.0, 1.0))
    # Refinement finds no straight edges along a texture's chance quad (a terrazzo speckle
    # pattern, a cutting mat): few of its profiles agree with a line.
    if refine and final < _FINAL_MIN:
        return None
    # A soft-edged bright patch (a reflection on glass, a light pool) has no sharp sides, and
    # nothing printed on it: a blurred card still has its print.
    work = (corners * field.scale).astype(np.float32)
    if sorted(_sharpness(work, field))[1] < _SHARP_MIN and _print_inside(work, field) < _PRINT_MIN:
        return None
    return PageQuad(corners=order_corners(corners), score=final)


# --- working image ------------------------------------------------------------------------


def _gradient_field(image: np.ndarray) -> _Field:
    h, w = image.shape[:2]
    # An integer decimation factor: INTER_AREA is a plain box average then, 5x faster.
    factor = max(1, round(max(h, w) / _WORK_LONG))
    small = image
    size = (w // factor, h // factor)
    if factor > 1:
        # OpenCV's INTER_AREA is fast for halving only: halve while that stays above the
        # target, then bilinear on the averaged image (it is band-limited by then).
        while small.shape[1] // 2 >= size[0]:
            small = cv2.resize(
                small, (small.shape[1] // 2, small.shape[0] // 2), interpolation=cv2.INTER_AREA
            )
        if (small.shape[1], small.shape[0]) != size:
            small = cv2.resize(small, size, interpolation=cv2.INTER_LINEAR)
    # The exact factor from frame to work pixels (the sizes are rounded down).
    scale = size[0] / w
    small = cv2.GaussianBlur(small, (5, 5), 1.0)
    # Sobel 3x3 / 8: a step of height s gives s/2 at its centre; in grey levels per px.
    gx = gy = best = None
    for ch in cv2.split(small):
        cx = cv2.Sobel(ch, cv2.CV_32F, 1, 0, ksize=3, scale=0.125)
        cy = cv2.Sobel(ch, cv2.CV_32F, 0, 1, ksize=3, scale=0.125)
        m = cv2.magnitude(cx, cy)
        if gx is None or gy is None or best is None:
            gx, gy, best = cx, cy, m
            continue
        # Per pixel, the colour channel with the strongest gradient supplies the vector: a
        # white sheet on a tinted laminate differs most in one channel, not in grey.
        better = cv2.compare(m, best, cv2.CMP_GT)
        cv2.copyTo(cx, better, gx)
        cv2.copyTo(cy, better, gy)
        best = cv2.max(best, m)
    assert gx is not None and gy is not None and best is not None
    hsv = cv2.cvtColor(small, cv2.COLOR_BGR2HSV)
    v_ref = float(np.percentile(hsv[::4, ::4, 2], 97))
    rim = np.concatenate(
        [
            hsv[:3].reshape(-1, 3),
            hsv[-3:].reshape(-1, 3),
            hsv[:, :3].reshape(-1, 3),
            hsv[:, -3:].reshape(-1, 3),
        ]
    )
    return _Field(
        img=small,
        gx=gx,
        gy=gy,
        mag=best,
        scale=scale,
        hsv=hsv,
        v_ref=max(v_ref, 16.0),
        desk_sat=float(np.median(rim[:, 1])),
        desk_val=float(np.median(rim[:, 2])),
        desk_sat_iqr=float(np.subtract(*np.percentile(rim[:, 1], [75, 25]))),
    )


# --- hypotheses ---------------------------------------------------------------------------


def _hypotheses(field: _Field) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Quad hypotheses, and the edge contours their lines came from."""
    w, h = field.size
    frame_area = float(w * h)
    contours: list[np.ndarray] = []
    kernel = cv2.getStructuringElement(cv2.MORPH_RECT, (3, 3))
    # Canny on the colour gradient already computed (int16, Sobel units).
    dx = np.clip(field.gx * 8.0, -32767, 32767).astype(np.int16)
    dy = np.clip(field.gy * 8.0, -32767, 32767).astype(np.int16)
    n_sensitive = 0
    for lo, hi in _CANNY:
        edges = cv2.Canny(dx, dy, lo, hi, L2gradient=True)
        edges = cv2.dilate(edges, kernel)
        found, _ = cv2.findContours(edges, cv2.RETR_LIST, cv2.CHAIN_APPROX_SIMPLE)
        contours.extend(found)
        n_sensitive = n_sensitive or len(contours)
    # The straight runs of the sensitive level suffice for lines; the firm level repeats them.
    edge_contours = list(contours[:n_sensitive])
    # The faintest page edges (white on white, dim light) only show at a low threshold, where
    # texture and text make contours useless as outlines but still give straight runs.
    faint = cv2.Canny(dx, dy, _FAINT[0], _FAINT[1], L2gradient=True)
    found, _ = cv2.findContours(faint, cv2.RETR_LIST, cv2.CHAIN_APPROX_SIMPLE)
    edge_contours.extend(found)
    for mask in _region_masks(field):
        found, _ = cv2.findContours(mask, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
        contours.extend(found)
    quads: list[np.ndarray] = []
    # Several masks often outline the same region: its hull is simplified once.
    seen: set[tuple[int, int, int, int, int]] = set()
    for c in contours:
        if len(c) < 8:
            continue
        bx, by, bw, bh = cv2.boundingRect(c)
        if bw * bh < _MIN_AREA * frame_area:
            continue
        hull = cv2.convexHull(c)
        hull_area = cv2.contourArea(hull)
        if not (_MIN_AREA * frame_area <= hull_area <= _MAX_AREA * frame_area):
            continue
        key = (bx, by, bw, bh, int(hull_area))
        if key in seen:
            continue
        seen.add(key)
        quads.extend(_quads_from_hull(hull.reshape(-1, 2).astype(np.float32), hull_area))
    quads.extend(_quads_from_lines(edge_contours, field, _MAX_LINES))
    return quads, edge_contours


def _quads_from_lines(contours: list[np.ndarray], field: _Field, max_lines: int = 16) -> list[np.ndarray]:
    """Quads made of four straight edge lines, for pages whose outline merges with a hand,
    a shadow or clutter so that no contour's hull is the page.

    Straight runs of the contours are merged into lines (angle within 4 deg, offset within
    3 px); two roughly parallel pairs of the longest lines that cross at plausible angles
    make a quad, kept when each line actually lies along its side and ends near the corners.
    """
    w, h = field.size
    min_len = 0.06 * min(w, h) + 6.0
    # A thin edge's contour runs out and back: twice the edge's length.
    polys = [
        cv2.approxPolyDP(contour, 1.5, True).reshape(-1, 2)
        for contour in _long_contours([c for c in contours if len(c) >= 4], 2 * min_len)
    ]
    if not polys:
        return []
    # Every polygon side (from the previous vertex, cyclically) at once; the few long
    # enough are then measured exactly as before, in order.
    verts = np.concatenate(polys).astype(np.int64)
    sizes = np.array([len(pg) for pg in polys])
    ends = np.cumsum(sizes)
    prev = np.arange(len(verts)) - 1
    prev[ends - sizes] = ends - 1
    dv = verts - verts[prev]
    sq = dv[:, 0] * dv[:, 0] + dv[:, 1] * dv[:, 1]
    # Longest first (a stable order: ties keep the contours' order), long enough only; the
    # squared integer length orders exactly as the length does.
    cand = np.nonzero(sq >= math.floor(min_len * min_len) - 1)[0]
    cand = cand[np.argsort(-sq[cand], kind="stable")][:80]
    segs: list[tuple[tuple[float, float], tuple[float, float], float]] = []
    for (ax, ay), (bx, by) in zip(verts[prev[cand]].tolist(), verts[cand].tolist(), strict=True):
        length = math.hypot(bx - ax, by - ay)
        if length < min_len:
            break
        segs.append(((float(ax), float(ay)), (float(bx), float(by)), length))
        if len(segs) >= 80:
            break
    if len(segs) < 4:
        return []
    # Per segment: theta, rho, length, t_min, t_max (plain Python: the few longest).
    geo: list[list[float]] = []
    for (px, py), (qx, qy), length in segs[:80]:
        theta = math.atan2(qy - py, qx - px) % math.pi
        c, s = math.cos(theta), math.sin(theta)
        t0, t1 = c * px + s * py, c * qx + s * qy
        geo.append([theta, -s * px + c * py, length, min(t0, t1), max(t0, t1)])
    # Which segment (row) would merge into the line started by which (column): within the
    # angle and 3 px; "same" when theta did not wrap around pi (rho and t then keep their sense).
    th = np.array([g[0] for g in geo])
    rh = np.array([g[1] for g in geo])
    dth = np.abs(th[:, None] - th[None, :])
    same_m = dth < math.pi / 2
    close = ~((dth > _MERGE_ANGLE) & (math.pi - dth > _MERGE_ANGLE))
    close &= np.abs(np.where(same_m, rh[:, None], -rh[:, None]) - rh[None, :]) < 3.0
    match, same_l = close.tolist(), same_m.tolist()
    # lines: [theta, rho, total length, t_min, t_max]; each merges into the first line it fits.
    lines: list[list[float]] = []
    starts: list[int] = []  # the segment that started each line
    for a, (theta, rho, length, t0, t1) in enumerate(geo):
        row = match[a]
        for ln, b in zip(lines, starts, strict=True):
            if row[b]:
                same = same_l[a][b]
                ln[2] += length
                ln[3] = min(ln[3], t0 if same else -t1)
                ln[4] = max(ln[4], t1 if same else -t0)
                break
        else:
            lines.append([theta, rho, length, t0, t1])
            starts.append(a)
        if len(lines) >= 40:
            break
    lines.sort(key=lambda ln: -ln[2])
    return _line_quads(np.array(lines[:max_lines], np.float64))


def _long_contours(contours: list[np.ndarray], min_length: float) -> list[np.ndarray]:
    """The contours whose open arc length (cv2.arcLength) is at least `min_length`, in order.
    All lengths are summed at once in numpy; only those within a rounding margin of the
    limit are measured by OpenCV, so the choice is exactly cv2.arcLength's."""
    if not contours:
        return []
    pts = np.concatenate(contours).reshape(-1, 2).astype(np.float64)
    sizes = np.array([len(c) for c in contours])
    starts = np.cumsum(sizes) - sizes
    step = np.diff(pts, axis=0)
    seg = np.sqrt(step[:, 0] * step[:, 0] + step[:, 1] * step[:, 1])
    seg = np.append(seg, 0.0)
    seg[starts[1:] - 1] = 0.0  # the step from one contour's last point to the next's first
    total = np.add.reduceat(seg, starts)
    out = []
    for c, t in zip(contours, total.tolist(), strict=True):
        if t >= min_length + 0.01 or (t > min_length - 0.01 and cv2.arcLength(c, False) >= min_length):
            out.append(c)
    return out


def _line_quads(lines: np.ndarray) -> list[np.ndarray]:
    """The quads of two roughly parallel pairs of `lines` (rows: theta, rho, length, t_min,
    t_max, longest first) crossing at 35-90 deg, each line lying along its side (see
    `_lies_along`); all pair combinations at once, in numpy."""
    n = len(lines)
    if n < 4:
        return []
    theta, rho, length, t_min, t_max = lines.T
    c, s = np.cos(theta), np.sin(theta)
    # Homogeneous lines (-s, c, -rho); every pairwise intersection (row i < column j).
    a, b, h = -s, c, -rho
    w = a[:, None] * b[None, :] - a[None, :] * b[:, None]
    ok = np.abs(w) >= 1e-9
    ws = np.where(ok, w, 1.0)
    cx = (b[:, None] * h[None, :] - b[None, :] * h[:, None]) / ws
    cy = (a[None, :] * h[:, None] - a[:, None] * h[None, :]) / ws
    upper = np.triu(np.ones((n, n), bool), 1)
    cx, cy, ok = (np.where(upper, m, m.T) for m in (cx, cy, ok))
    # Roughly parallel pairs (within 25 deg), each with the direction of its longer line.
    pi_, pj = np.nonzero(upper)
    dth = np.abs(theta[pi_] - theta[pj])
    dth = np.minimum(dth, math.pi - dth)
    keep = dth < math.radians(25)
    pi_, pj = pi_[keep], pj[keep]
    pt = np.where(length[pi_] >= length[pj], theta[pi_], theta[pj])
    if len(pi_) < 2:
        return []
    p, q = np.nonzero(np.triu(np.ones((len(pi_), len(pi_)), bool), 1))
    i, j, k, m = pi_[p], pj[p], pi_[q], pj[q]
    dth = np.abs(pt[p] - pt[q])
    dth = np.minimum(dth, math.pi - dth)
    keep = (i != k) & (i != m) & (j != k) & (j != m) & (dth >= math.radians(55))
    keep &= ok[i, k] & ok[k, j] & ok[j, m] & ok[m, i]
    i, j, k, m = i[keep], j[keep], k[keep], m[keep]
    # Corners: i^k, k^j, j^m, m^i; side of each line: i (m^i - i^k), k, j, m.
    xs = np.stack([cx[i, k], cx[k, j], cx[j, m], cx[m, i]], axis=1)
    ys = np.stack([cy[i, k], cy[k, j], cy[j, m], cy[m, i]], axis=1)
    side_line = np.stack([i, k, j, m], axis=1)
    ax, ay = np.roll(xs, 1, axis=1), np.roll(ys, 1, axis=1)
    lc, ls = c[side_line], s[side_line]
    ta = lc * ax + ls * ay
    tb = lc * xs + ls * ys
    ta, tb = np.minimum(ta, tb), np.maximum(ta, tb)
    side = tb - ta
    lo, hi = t_min[side_line], t_max[side_line]
    overlap = np.minimum(tb, hi) - np.maximum(ta, lo)
    slack = 0.25 * side + 4.0
    along = (side >= 12) & (overlap >= 0.3 * side) & (lo >= ta - slack) & (hi <= tb + slack)
    good = along.all(axis=1)
    corners = np.stack([xs[good], ys[good]], axis=2).astype(np.float32)
    return list(corners)


_OPEN_KERNEL = cv2.getStructuringElement(cv2.MORPH_RECT, (5, 5))


def _region_masks(field: _Field) -> list[np.ndarray]:
    """Foreground masks: bright/dark by Otsu on lightness, and far from the desk colour."""
    img = field.img
    masks = []
    light = cv2.cvtColor(img, cv2.COLOR_BGR2GRAY)
    _, bright = cv2.threshold(light, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    masks.extend([bright, 255 - bright])
    # The desk is what the frame's border mostly shows; a page lies inside the frame.
    border = np.concatenate(
        [
            img[:4].reshape(-1, 3),
            img[-4:].reshape(-1, 3),
            img[:, :4].reshape(-1, 3),
            img[:, -4:].reshape(-1, 3),
        ]
    )
    desk = np.median(border, axis=0)
    # L1 colour distance from the desk, x2 (saturating): OpenCV ops, no float image.
    desk_img = np.empty_like(img)
    desk_img[:] = desk.astype(np.uint8)
    diff = cv2.absdiff(img, desk_img)
    dist8 = cv2.transform(diff, np.array([[0.67, 0.67, 0.67]], np.float32))
    _, far = cv2.threshold(dist8, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    masks.append(far)
    out = [cv2.morphologyEx(m, cv2.MORPH_OPEN, _OPEN_KERNEL) for m in masks]
    # Paper-likeness, opened wide: that cuts a page loose from the white checks of a
    # tablecloth or the light squares of a mat that touch its edges.
    out.extend(cv2.morphologyEx(m, cv2.MORPH_OPEN, _BIG_OPEN) for m in _paper_masks(field, light))
    # Opening cuts the thin bridges that join a page to a pen or a neighbouring sheet.
    return out


def _hand_in_view(field: _Field) -> bool:
    """Whether a hand-sized skin-coloured blob is in view (YCrCb Cr 135-175, Cb 85-135,
    saturated; 1-30 % of the frame, still 1 % once opened) on a desk that is not itself
    skin-toned (wood, a tan pattern: the frame's border mostly skin-coloured)."""
    ycc = cv2.cvtColor(field.img, cv2.COLOR_BGR2YCrCb)
    skin = cv2.inRange(ycc, (0, _SKIN_CR[0], _SKIN_CB[0]), (255, _SKIN_CR[1], _SKIN_CB[1]))
    skin = cv2.bitwise_and(skin, cv2.inRange(field.hsv[..., 1], _SKIN_SAT, 255))
    frac = cv2.countNonZero(skin) / float(skin.size)
    if not _SKIN_MIN <= frac <= _SKIN_MAX:
        return False
    edge = np.concatenate([skin[:3].ravel(), skin[-3:].ravel(), skin[:, :3].ravel(), skin[:, -3:].ravel()])
    if float(np.mean(edge > 0)) > _SKIN_BORDER:
        return False
    skin = cv2.morphologyEx(skin, cv2.MORPH_OPEN, _OPEN_KERNEL)
    return cv2.countNonZero(skin) >= _SKIN_MIN * skin.size


_SKIN_CR = (135, 175)
_SKIN_CB = (85, 135)
_SKIN_SAT = 40
_SKIN_MIN = 0.01
_SKIN_MAX = 0.3
_SKIN_BORDER = 0.3

_BIG_OPEN = cv2.getStructuringElement(cv2.MORPH_RECT, (11, 11))
_CLOSE_KERNEL = cv2.getStructuringElement(cv2.MORPH_RECT, (7, 7))


def _paper_masks(field: _Field, grey: np.ndarray) -> list[np.ndarray]:
    """Paper-like pixels: unsaturated and bright for the frame; those of them that are also
    locally smooth once the print is closed over (desk checks are textured); and the two
    shadow-proof masks (see the module docstring), each only when it adds something."""
    g = grey.astype(np.float32)
    mean = cv2.blur(g, (7, 7))
    var = cv2.blur(g * g, (7, 7)) - mean * mean
    smooth = cv2.inRange(var, -1e9, _TEX_VAR)
    light = cv2.inRange(field.hsv, (0, 0, int(_PM_VAL * field.v_ref)), (180, _PM_SAT, 255))
    masks = [light, cv2.bitwise_and(light, smooth)]
    # Shadow-proof: a cast shadow darkens paper but leaves it unsaturated (saturation is a
    # ratio), so paper in a shadow band stays paper here and the sheet is one region; under
    # the desk's saturation (light wood is barely more saturated than paper).
    sat_max = int(min(_PM_SAT, max(_PM_SAT_MIN, 0.6 * field.desk_sat)))
    lit = cv2.inRange(field.hsv[..., 2], int(_PM_DARK * field.v_ref), 255)
    chroma = cv2.inRange(field.hsv, (0, 0, int(_PM_DARK * field.v_ref)), (180, sat_max, 255))
    if cv2.countNonZero(cv2.bitwise_xor(chroma, light)) > _MASK_NEW * chroma.size:
        masks.append(chroma)
    # Hue and saturation far from the desk's (a plainly coloured desk: wood): a shadow changes
    # neither, so a tinted card half in a shadow on wood is one region here.
    if field.desk_sat >= _CHROMA_DESK_SAT and field.desk_sat_iqr <= _CHROMA_DESK_IQR:
        hue, sat, _ = cv2.split(field.hsv)
        rim = np.concatenate([hue[:3].ravel(), hue[-3:].ravel(), hue[:, :3].ravel(), hue[:, -3:].ravel()])
        dh = cv2.absdiff(hue, np.full_like(hue, int(np.median(rim))))
        dh = cv2.min(dh, cv2.subtract(np.full_like(hue, 180), dh))
        ds = cv2.absdiff(sat, np.full_like(sat, int(field.desk_sat)))
        _, cfar = cv2.threshold(cv2.add(cv2.add(dh, dh), ds), 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
        masks.append(cv2.bitwise_and(cfar, lit))
    return [cv2.morphologyEx(m, cv2.MORPH_CLOSE, _CLOSE_KERNEL) for m in masks]


# Paper-likeness masks: grey variance (7x7) under _TEX_VAR is smooth; V at least _PM_VAL of
# the frame's bright level and HSV saturation at most _PM_SAT is paper-coloured.
_TEX_VAR = 60.0
_PM_VAL = 0.6
_PM_SAT = 60
# The shadow-proof paper mask's V floor (share of the bright level).
_PM_DARK = 0.25
_PM_SAT_MIN = 20
# A shadow-proof mask is used when it differs from the plain one in this share of pixels.
_MASK_NEW = 0.005
# _band_is_desk: the desk must be this much more saturated than the inner quad, and lit (its
# V at least _DESK_VAL of the bright level: a dark desk's saturation is noise).
_DESK_SAT_DIFF = 15.0
_DESK_VAL = 0.5
# _encloses: share of the inner quad's area inside the outer one that counts as enclosed.
_ENCLOSE_AREA = 0.9
# The hue/saturation mask is made on a plainly coloured desk only (border saturation median
# and interquartile range).
_CHROMA_DESK_SAT = 25.0
_CHROMA_DESK_IQR = 8.0


def _line_through(p: np.ndarray, q: np.ndarray) -> tuple[float, float, float]:
    """The homogeneous line through two points."""
    x1, y1, x2, y2 = float(p[0]), float(p[1]), float(q[0]), float(q[1])
    return (y1 - y2, x2 - x1, x1 * y2 - x2 * y1)


def _intersect(l1: tuple[float, float, float], l2: tuple[float, float, float]) -> tuple[float, float] | None:
    """The point where two homogeneous lines meet (None when parallel)."""
    a1, b1, c1 = l1
    a2, b2, c2 = l2
    w = a1 * b2 - a2 * b1
    if abs(w) < 1e-9:
        return None
    return ((b1 * c2 - b2 * c1) / w, (a2 * c1 - a1 * c2) / w)


# For a hull simplified to n (5-8) vertices, every choice of 4 of its edges (rows, in order).
_PICKS = {n: np.array(list(itertools.combinations(range(n), 4)), np.intp) for n in range(5, 9)}
_PICK_NEXT = {n: (np.arange(n) + 1) % n for n in range(5, 9)}
_PREV = np.array([3, 0, 1, 2])


def _quads_from_hull(hull: np.ndarray, hull_area: float) -> list[np.ndarray]:
    peri = cv2.arcLength(hull, True)
    out: list[np.ndarray] = []
    seen: set[int] = set()
    for eps in (0.01, 0.02, 0.04):
        approx = cv2.approxPolyDP(hull, eps * peri, True).reshape(-1, 2).astype(np.float64)
        n = len(approx)
        if n in seen or n < 4 or n > 8:
            continue
        seen.add(n)
        if n == 4:
            out.append(approx.astype(np.float32))
            continue
        # The lines through consecutive vertices, (a, b, c) homogeneous (see _line_through).
        x1, y1 = approx[:, 0], approx[:, 1]
        x2, y2 = x1[_PICK_NEXT[n]], y1[_PICK_NEXT[n]]
        la, lb, lc = y1 - y2, x2 - x1, x1 * y2 - x2 * y1
        pick = _PICKS[n]
        e1, e2 = pick, pick[:, _NEXT]  # corner k: edges pick[k] and pick[k + 1]
        a1, b1, c1, a2, b2, c2 = la[e1], lb[e1], lc[e1], la[e2], lb[e2], lc[e2]
        w = a1 * b2 - a2 * b1
        ok = (np.abs(w) >= 1e-9).all(axis=1)
        ws = np.where(np.abs(w) >= 1e-9, w, 1.0)
        quads = np.stack([(b1 * c2 - b2 * c1) / ws, (a2 * c1 - a1 * c2) / ws], axis=2).astype(np.float32)
        # Shoelace area in cv2.contourArea's order and precision.
        q = quads.astype(np.float64)
        px, py = q[:, _PREV, 0], q[:, _PREV, 1]
        t = px * q[..., 1] - q[..., 0] * py
        area = np.abs((((t[:, 0] + t[:, 1]) + t[:, 2]) + t[:, 3]) * 0.5)
        # Dropping edges may only cut corners back in: the quad must cover the hull.
        keep = ok & (hull_area * 0.97 <= area) & (area <= hull_area * 1.35)
        out.extend(quads[keep])
    return out


def _dedupe(quads: list[np.ndarray]) -> list[np.ndarray]:
    """The hypotheses without near-duplicates (same corners to 3 work px, in any order):
    refinement at full resolution removes such differences anyway."""
    if len(quads) < 2:
        return list(quads)
    # Keys: the corners on a 3 px grid, sorted (x, then y) within each quad; the first quad
    # of each key is kept, in the original order.
    key = np.round(np.stack(quads).astype(np.float64) / 3.0).astype(np.int64)
    order = np.lexsort((key[..., 1], key[..., 0]), axis=-1)
    key = np.take_along_axis(key, order[..., None], axis=1).reshape(len(quads), 8)
    _, first = np.unique(key, axis=0, return_index=True)
    return [quads[i] for i in np.sort(first).tolist()]


# --- scoring ------------------------------------------------------------------------------


_COS_MAX = math.cos(math.radians(50))  # corner angles within 90 +- 40 deg
# A side within this many work px of the frame's edge is the frame cutting a sheet off.
_BORDER = 1.5


def _plausible(quad: np.ndarray, size: tuple[int, int]) -> bool:
    """Cheap geometric gates: inside the frame, convex, near-right corner angles, a
    plausible area and side ratios, no side lying on the frame's border. Plain float
    arithmetic: it runs on every hypothesis."""
    w, h = size
    pts = [(float(x), float(y)) for x, y in quad]
    for x, y in pts:
        if x < -0.02 * w or x > 1.02 * w or y < -0.02 * h or y > 1.02 * h:
            return False
    ex = [pts[(k + 1) % 4][0] - pts[k][0] for k in range(4)]
    ey = [pts[(k + 1) % 4][1] - pts[k][1] for k in range(4)]
    lengths = [math.hypot(ex[k], ey[k]) for k in range(4)]
    if min(lengths) < 16:
        return False
    cross = [ex[k] * ey[(k + 1) % 4] - ey[k] * ex[(k + 1) % 4] for k in range(4)]
    if not (all(c > 0 for c in cross) or all(c < 0 for c in cross)):
        return False
    area = 0.5 * abs(sum(pts[k][0] * pts[(k + 1) % 4][1] - pts[(k + 1) % 4][0] * pts[k][1] for k in range(4)))
    if not (_MIN_AREA * w * h <= area <= _MAX_AREA * w * h):
        return False
    for k in range(4):
        j = (k + 1) % 4
        if abs(ex[k] * ex[j] + ey[k] * ey[j]) > _COS_MAX * lengths[k] * lengths[j]:
            return False
    # Opposite sides of a flat rectangle seen from above differ by perspective only.
    if max(lengths[0], lengths[2]) > 2.5 * min(lengths[0], lengths[2]):
        return False
    if max(lengths[1], lengths[3]) > 2.5 * min(lengths[1], lengths[3]):
        return False
    if max(lengths) > 8 * min(lengths):
        return False
    # A side on the frame's border is where a sheet is cut off by the frame, not its edge.
    for k in range(4):
        (x0, y0), (x1, y1) = pts[k], pts[(k + 1) % 4]
        if (
            (x0 < _BORDER and x1 < _BORDER)
            or (x0 > w - 1 - _BORDER and x1 > w - 1 - _BORDER)
            or (y0 < _BORDER and y1 < _BORDER)
            or (y0 > h - 1 - _BORDER and y1 > h - 1 - _BORDER)
        ):
            return False
    return True


def _plausibles(quads: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """`_plausible` of (N, 4, 2) quads at once: a boolean mask."""
    w, h = size
    q = quads.astype(np.float64)
    x, y = q[..., 0], q[..., 1]
    ok = ((x >= -0.02 * w) & (x <= 1.02 * w) & (y >= -0.02 * h) & (y <= 1.02 * h)).all(axis=1)
    x1, y1 = np.roll(x, -1, axis=1), np.roll(y, -1, axis=1)
    ex, ey = x1 - x, y1 - y
    lengths = np.hypot(ex, ey)
    ok &= lengths.min(axis=1, initial=np.inf) >= 16
    ex1, ey1 = np.roll(ex, -1, axis=1), np.roll(ey, -1, axis=1)
    cross = ex * ey1 - ey * ex1
    ok &= (cross > 0).all(axis=1) | (cross < 0).all(axis=1)
    t = x * y1 - x1 * y
    area = 0.5 * np.abs(((t[:, 0] + t[:, 1]) + t[:, 2]) + t[:, 3])
    ok &= (_MIN_AREA * w * h <= area) & (area <= _MAX_AREA * w * h)
    ok &= ~(np.abs(ex * ex1 + ey * ey1) > _COS_MAX * lengths * np.roll(lengths, -1, axis=1)).any(axis=1)
    # Opposite sides of a flat rectangle seen from above differ by perspective only.
    for a, b in ((0, 2), (1, 3)):
        la, lb = lengths[:, a], lengths[:, b]
        ok &= ~(np.maximum(la, lb) > 2.5 * np.minimum(la, lb))
    ok &= ~(lengths.max(axis=1, initial=0.0) > 8 * lengths.min(axis=1, initial=np.inf))
    # A side on the frame's border is where a sheet is cut off by the frame, not its edge.
    lo, rx, ry = _BORDER, w - 1 - _BORDER, h - 1 - _BORDER
    on_border = ((x < lo) & (x1 < lo)) | ((x > rx) & (x1 > rx))
    on_border |= ((y < lo) & (y1 < lo)) | ((y > ry) & (y1 > ry))
    ok &= ~on_border.any(axis=1)
    return ok


_TS = np.linspace(_T_LO, _T_HI, _SAMPLES, dtype=np.float32)
# Parameters on the sides' extensions, beyond both corners (8 each side of each corner).
_EXT = np.concatenate([np.linspace(-0.16, -0.04, 8), np.linspace(1.04, 1.16, 8)]).astype(np.float32)
_ALL_T = np.concatenate([_TS, _EXT])
_NEXT = np.array([1, 2, 3, 0])
_ROT = np.array([-1.0, 1.0], np.float32)


def _side_evidence(
    quads: np.ndarray, field: _Field, _points: list[np.ndarray] | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For (N, 4, 2) quads, per side (N, 4): the share of its points with an aligned edge
    across it, the share of those whose polarity agrees with the side's majority, and the
    share of points on its extensions with an aligned edge (one vectorised lookup)."""
    p0 = quads.astype(np.float32)
    d = p0[:, _NEXT] - p0  # (N, 4, 2)
    length = np.maximum(np.hypot(d[..., 0], d[..., 1]), 1e-6)
    nx, ny = -d[..., 1] / length, d[..., 0] / length  # unit normals (-dy, dx), (N, 4)
    # Points (N, 4, T, S): along each side (T) and across it (S).
    px = p0[:, :, None, None, 0] + _ALL_T[None, None, :, None] * d[:, :, None, None, 0]
    py = p0[:, :, None, None, 1] + _ALL_T[None, None, :, None] * d[:, :, None, None, 1]
    px = px + _SEARCH * nx[:, :, None, None]
    py = py + _SEARCH * ny[:, :, None, None]
    w, h = field.size
    xi = np.rint(px).astype(np.intp)
    yi = np.rint(py).astype(np.intp)
    inside = (xi >= 0) & (xi < w) & (yi >= 0) & (yi < h)
    flat = np.where(inside, yi * w + xi, 0)
    proj = field.gx.ravel()[flat] * nx[:, :, None, None] + field.gy.ravel()[flat] * ny[:, :, None, None]
    aproj = np.abs(proj)
    ok = inside & (aproj >= _EDGE_MIN) & (aproj >= _ALIGN_MIN * field.mag.ravel()[flat])
    # Reductions over the short search axis written out: numpy's are slow on a 5-long axis.
    hit = ok[..., 0].copy()  # (N, 4, T)
    for o in range(1, len(_SEARCH)):
        hit |= ok[..., o]
    k = len(_TS)
    if _points is not None:
        _points.append(hit[..., :k])
    support = hit[..., :k].mean(axis=2)
    runs_on = hit[..., k:].mean(axis=2)
    # A point's polarity: the sign of its aligned responses, summed across the search.
    aligned = np.where(ok[..., :k, :], proj[..., :k, :], 0.0)
    signed = aligned[..., 0].copy()
    for o in range(1, len(_SEARCH)):
        signed += aligned[..., o]
    pos = (signed > 0).sum(axis=2)
    neg = (signed < 0).sum(axis=2)
    agree = np.maximum(pos, neg) / np.maximum(pos + neg, 1)
    return support, agree, runs_on


def _scores(quads: np.ndarray, field: _Field) -> np.ndarray:
    """Edge support of each quad's sides (0..1), less the support on their extensions."""
    sup, agree, runs_on = _side_evidence(quads, field)
    # One side may be partly hidden (a finger, a hand): weigh the worst side less.
    ordered = np.sort(sup, axis=1)
    base = (ordered[:, 0] * 0.5 + ordered[:, 1:].sum(axis=1)) / 3.5
    score = base * (0.5 + 0.5 * agree.mean(axis=1)) - 0.2 * runs_on.mean(axis=1)
    return np.where(ordered[:, 0] < 0.35, 0.0, score)


def _score(quad: np.ndarray, field: _Field) -> float:
    """`_scores` of one quad."""
    return float(_scores(quad[None], field)[0])


# --- polishing ----------------------------------------------------------------------------

# Offsets (work px) each end of a side is moved along its normal when polishing: a coarse
# pass, then a fine one around the best line of the first. The edge evidence is sampled once
# per side, on a strip of offsets (_POLISH_SPAN, 0.5 px apart), and every variant line reads it.
_POLISH_STEPS = (np.arange(-6.0, 6.5, 1.0, dtype=np.float32), np.arange(-1.0, 1.25, 0.5, dtype=np.float32))
_POLISH_SPAN = 7.5
_POLISH_OFFS = np.arange(-_POLISH_SPAN, _POLISH_SPAN + 0.25, 0.5, dtype=np.float32)
_POLISH_TS = np.linspace(_T_LO, _T_HI, 40, dtype=np.float32)
# Projected gradient (grey levels per px) at which a point's contribution stops growing.
_POLISH_CAP = 64.0
# Gain lost per px moved: of lines equally well supported, the nearest wins.
_POLISH_MOVE = 0.05


def _polish(quads: np.ndarray, field: _Field) -> np.ndarray:
    """(N, 4, 2) quads with each side moved to the straight edge nearest it: every side is
    replaced by the line, among its ends shifted along the normal (coarse, then fine), along
    which the gradient across it (one polarity) is strongest; the corners are where the new
    lines meet. A hypothesis from a region's outline or from line fragments is a few px off
    the page's edges, and its score then undersells it."""
    q = quads.astype(np.float32)
    n_q = len(q)
    w, h = field.size
    a = q
    d = q[:, _NEXT] - a
    length = np.maximum(np.hypot(d[..., 0], d[..., 1]), 1e-6)
    nx, ny = -d[..., 1] / length, d[..., 0] / length  # (N, 4)
    # The strip of each side (N, 4, T, K): points along it (T) and offsets across it (K).
    t = _POLISH_TS[None, None, :, None]
    px = a[..., None, None, 0] + t * d[..., None, None, 0] + _POLISH_OFFS * nx[..., None, None]
    py = a[..., None, None, 1] + t * d[..., None, None, 1] + _POLISH_OFFS * ny[..., None, None]
    flat = np.clip(np.rint(py).astype(np.intp), 0, h - 1) * w + np.clip(np.rint(px).astype(np.intp), 0, w - 1)
    proj = field.gx.ravel()[flat] * nx[..., None, None] + field.gy.ravel()[flat] * ny[..., None, None]
    aproj = np.abs(proj)
    proj = np.where((aproj >= _EDGE_MIN) & (aproj >= _ALIGN_MIN * field.mag.ravel()[flat]), proj, 0.0)
    # sqrt: a line is good for the many points it runs along, not for a few strong text
    # strokes it crosses; yet an edge's crest still beats its flanks.
    pos = np.sqrt(np.clip(proj, 0.0, _POLISH_CAP)).reshape(n_q * 4, -1).ravel()
    neg = np.sqrt(np.clip(-proj, 0.0, _POLISH_CAP)).reshape(n_q * 4, -1).ravel()
    n_t, n_k = len(_POLISH_TS), len(_POLISH_OFFS)
    base = (np.arange(n_q * 4)[:, None, None] * n_t + np.arange(n_t)[None, None, :]) * n_k
    off_a = np.zeros(n_q * 4, np.float32)
    off_b = np.zeros(n_q * 4, np.float32)
    for steps in _POLISH_STEPS:
        oa = off_a[:, None] + np.repeat(steps, len(steps))  # (S, V)
        ob = off_b[:, None] + np.tile(steps, len(steps))
        off = oa[..., None] + _POLISH_TS * (ob - oa)[..., None]  # (S, V, T)
        k = np.clip(np.rint((off + _POLISH_SPAN) * 2.0).astype(np.intp), 0, n_k - 1)
        idx = base + k
        gain = np.maximum(pos[idx].sum(axis=2), neg[idx].sum(axis=2))
        gain -= _POLISH_MOVE * (np.abs(oa - off_a[:, None]) + np.abs(ob - off_b[:, None]))
        best = np.argmax(gain, axis=1)
        off_a = oa[np.arange(len(oa)), best]
        off_b = ob[np.arange(len(ob)), best]
    normal = np.stack([nx, ny], axis=-1)
    na = a + off_a.reshape(n_q, 4)[..., None] * normal
    nb = q[:, _NEXT] + off_b.reshape(n_q, 4)[..., None] * normal
    # Homogeneous lines of the moved sides; corner k is where side k-1 meets side k.
    lines = np.stack(
        [na[..., 1] - nb[..., 1], nb[..., 0] - na[..., 0], na[..., 0] * nb[..., 1] - nb[..., 0] * na[..., 1]],
        axis=-1,
    ).astype(np.float64)
    pt = np.cross(lines[:, _PREV], lines)
    wz = pt[..., 2]
    good = (np.abs(wz) > 1e-9).all(axis=1)
    out = q.copy()
    out[good] = (pt[good, :, :2] / wz[good, :, None]).astype(np.float32)
    return out


def _with_polished(quads: list[np.ndarray], field: _Field) -> list[np.ndarray]:
    """`quads` with the most promising distinct ones polished (`_polish`)."""
    if not quads:
        return quads
    stack = np.stack(quads).astype(np.float32)
    idx = np.nonzero(_plausibles(stack, field.size))[0]
    if not len(idx):
        return quads
    s = _scores(stack[idx], field) * _document_likenesses(stack[idx], field)
    keep = s >= _POLISH_MIN
    idx, s = idx[keep], s[keep]
    picked: list[int] = []
    for i in idx[np.argsort(-s, kind="stable")].tolist():
        if all(np.abs(stack[i] - stack[j]).max() > 4.0 for j in picked):
            picked.append(i)
            if len(picked) >= _POLISH_COUNT:
                break
    if not picked:
        return quads
    # Polished versions replace their hypotheses: fewer near-twins competing in the choice.
    out = list(quads)
    for i, polished in zip(picked, _polish(stack[picked], field), strict=True):
        out[i] = polished
    return out


# Hypotheses polished: the best _POLISH_COUNT distinct ones scoring at least _POLISH_MIN.
_POLISH_COUNT = 8
_POLISH_MIN = 0.3


def _rescue(
    image: np.ndarray, field: _Field, near: list[tuple[float, np.ndarray]]
) -> tuple[float, np.ndarray] | None:
    """The best of the near misses once their sides are snapped to the edges at full
    resolution: a region outline rounded by a finger or cut by a shadow lies a few pixels
    off the page's straight edges and scores just under the threshold."""
    best: tuple[float, np.ndarray] | None = None
    for _, quad in sorted(near, key=lambda c: -c[0])[:_RESCUE_TRIES]:
        corners, agreement = _refine(image, (quad / field.scale).astype(np.float64), field.scale)
        if agreement < 0.7:
            continue
        snapped = (order_corners(corners) * field.scale).astype(np.float32)
        if not _plausible(snapped, field.size):
            continue
        s = _score(snapped, field) * _document_likeness(snapped, field)
        if s >= _ACCEPT and (best is None or s > best[0]):
            best = (s, snapped)
    return best


# Final score (working score x refinement agreement) below which a detection is dropped.
_FINAL_MIN = 0.5
# Near misses (score x document-likeness >= _NEAR) snapped and re-scored when none passes.
_RESCUE_TRIES = 3
_NEAR = 0.45


def _choose(
    field: _Field, quads: list[np.ndarray], near: list[tuple[float, np.ndarray]] | None = None
) -> tuple[float, np.ndarray] | None:
    """The page among the hypotheses: the best quad by edge support times document-likeness,
    or the largest accepted quad that encloses it, scores nearly as well or has a paper-like
    band around it (the sheet rather than the table or the photo printed on it). Quads
    scoring under the threshold but at least _NEAR are appended to `near`."""
    accepted = []
    stack = np.stack(quads).astype(np.float32) if quads else np.zeros((0, 4, 2), np.float32)
    stack = stack[_plausibles(stack, field.size)]
    if len(stack):
        scores = _scores(stack, field)
        idx = np.nonzero(scores >= _NEAR)[0]
        likeness = _document_likenesses(stack[idx], field)
        for i, like in zip(idx.tolist(), likeness.tolist(), strict=True):
            s = float(scores[i]) * like
            if s >= _ACCEPT:
                accepted.append((s, stack[i]))
            elif near is not None and s >= _NEAR:
                near.append((s, stack[i]))
    if not accepted:
        return None
    top = max(accepted, key=lambda c: c[0])
    # The sheet around a table or a frame printed on it: an accepted quad enclosing the best
    # one, scoring nearly as well or with a paper-like band between the two. Repeated from
    # the quad grown to: a table's ruled square may itself enclose the best quad and be
    # enclosed by the sheet, whose faint edge scores less than the best but not the table.
    first_area = cv2.contourArea(top[1])
    for step in range(_GROW_STEPS):
        grown = _grown(accepted, top, field, paper_band=step > 0, min_area=1.3 * first_area)
        if grown is None:
            break
        top = grown
    return top


def _grown(
    accepted: list[tuple[float, np.ndarray]],
    top: tuple[float, np.ndarray],
    field: _Field,
    paper_band: bool = False,
    min_area: float = 0.0,
) -> tuple[float, np.ndarray] | None:
    """The best accepted quad enclosing `top` that is the page rather than `top` (see
    `_choose`), or None. With `paper_band` (growing a second time) the band between the two
    must be paper-like whatever the score: a desk grid's cell around the sheet scores well.
    The quad must be 1.3 x larger than `top`, or (growing again) _GROW_AGAIN x larger and
    `min_area` large."""
    top_area = cv2.contourArea(top[1])
    grown = [
        (cv2.contourArea(c[1]), c)
        for c in accepted
        if c[0] >= _ENCLOSE_RATIO * top[0]
        and cv2.contourArea(c[1]) > min(1.3 * top_area, max(min_area, _GROW_AGAIN * top_area))
        and _encloses(c[1], top[1])
        and (
            (c[0] >= _ENCLOSE_STRONG * top[0] and not paper_band)
            or _ring_paperness(c[1], top[1], field) >= _RING_PAPER
        )
    ]
    # Not when the band between them has the desk's saturation: the larger quad's extra side
    # is a shadow's edge or a desk seam (wood is more saturated than paper).
    # The largest of those scoring nearly as well as the best of them wins (checked largest
    # first: the band test costs masks): a larger one scoring clearly worse is a polished
    # hypothesis with one side out on the desk; a chain (cells, table, sheet) is followed by
    # growing again from the quad grown to.
    if not grown:
        return None
    floor = _GROW_NEAR * max(g[1][0] for g in grown)
    for _, cand in sorted(grown, key=lambda g: -g[0]):
        if cand[0] < floor or _band_is_desk(cand[1], top[1], field):
            continue
        if _outer_support(cand[1], top[1], field) < _OUTER_SUPPORT:
            continue
        return cand
    return None


def _outer_support(outer: np.ndarray, inner: np.ndarray, field: _Field) -> float:
    """Edge support along the parts of `outer`'s sides away from `inner` (over 3 px from it):
    where the larger quad adds area, its sides must run along edges too - a quad spanning a
    card and a pen beside it has no edge along the desk between them. 1.0 when no part is."""
    hits: list[np.ndarray] = []
    _side_evidence(outer[None].astype(np.float32), field, hits)
    hit = hits[0][0]  # (4, T)
    o = outer.astype(np.float32)
    d = o[_NEXT] - o
    pts = o[:, None, :] + _TS[None, :, None] * d[:, None, :]  # (4, T, 2)
    contour = inner.reshape(-1, 1, 2).astype(np.float32)
    away = np.array(
        [[cv2.pointPolygonTest(contour, (float(x), float(y)), True) < -3.0 for x, y in side] for side in pts]
    )
    if away.sum() < 8:
        return 1.0
    return float(hit[away].mean())


# Edge support the larger quad's sides need where they run away from the inner quad.
_OUTER_SUPPORT = 0.7


# Growth steps from the best quad to a quad enclosing it (see _choose).
_GROW_STEPS = 3
# Growing again (from a quad grown to), the next quad needs only this much more area, as long
# as the chain has grown 1.3 x from where it began: a card's magnetic stripe quad grows to
# the stripe's top edge, then across the thin band above it to the card's own.
_GROW_AGAIN = 1.05
# Quads enclosing the best one compete by area when they score this share of the best of them.
_GROW_NEAR = 0.95


def _band_is_desk(outer: np.ndarray, inner: np.ndarray, field: _Field) -> bool:
    """Whether the band between two nested quads is as saturated as the desk (the frame
    border's median) and clearly more than the inner quad."""
    w, h = field.size
    # A dark desk's saturation is noise.
    if field.desk_val < _DESK_VAL * field.v_ref:
        return False
    sat = field.hsv[..., 1]
    desk = field.desk_sat
    inside = np.zeros((h, w), np.uint8)
    cv2.fillConvexPoly(inside, np.rint(inner).astype(np.int32), 255)
    band = np.zeros((h, w), np.uint8)
    cv2.fillConvexPoly(band, np.rint(outer).astype(np.int32), 255)
    band[inside > 0] = 0
    band_sel = cv2.erode(band, _OPEN_KERNEL) > 0
    in_sel = cv2.erode(inside, _OPEN_KERNEL) > 0
    if band_sel.sum() < 20 or in_sel.sum() < 20:
        return False
    s_band = float(np.median(sat[band_sel]))
    s_in = float(np.median(sat[in_sel]))
    return desk - s_in > _DESK_SAT_DIFF and abs(s_band - desk) < abs(s_band - s_in)


_GRID_U, _GRID_V = (
    g.ravel()[:, None] for g in np.meshgrid(*[np.linspace(0.12, 0.88, 10, dtype=np.float32)] * 2)
)
_GRID_W = np.hstack(
    [(1 - _GRID_U) * (1 - _GRID_V), _GRID_U * (1 - _GRID_V), _GRID_U * _GRID_V, (1 - _GRID_U) * _GRID_V]
)


def _document_likeness(quad: np.ndarray, field: _Field) -> float:
    """0..1: how much the quad looks like paper rather than a phone, a sticky note or a
    square of a cutting mat (see `_document_likenesses`)."""
    return float(_document_likenesses(quad[None], field)[0])


def _document_likenesses(quads: np.ndarray, field: _Field) -> np.ndarray:
    """`_document_likeness` of (N, 4, 2) quads at once. Most of a document's surface is
    paper: unsaturated and about as bright as the brightest things in the frame; and
    documents are oblong (A-series 1.41, ID-1 1.59, receipts 2 and more), while sticky
    notes and mat squares are square."""
    q = quads.astype(np.float32)
    if not len(q):
        return np.zeros(0, np.float64)
    pts = _GRID_W @ q  # (N, 100, 2) bilinear points over each quad, 12 % in from its sides
    w, h = field.size
    xi = np.clip(np.rint(pts[..., 0]).astype(np.intp), 0, w - 1)
    yi = np.clip(np.rint(pts[..., 1]).astype(np.intp), 0, h - 1)
    sat = field.hsv[yi, xi, 1]
    val = field.hsv[yi, xi, 2].astype(np.float32)
    # Bright for the frame, or at least about as bright as the desk just around it: a sheet
    # in a lamp's soft shadow is darker than the lit desk across the frame.
    around = _ring_points(q, w, h)
    ring_val = np.median(field.hsv[around[..., 1], around[..., 0], 2].astype(np.float32), axis=1)
    bright = np.full(len(q), 0.5 * field.v_ref, np.float32)
    # Not on a dark desk (glass): there a lamp's grey reflection is brighter than around.
    if field.desk_val >= _DESK_VAL * field.v_ref:
        bright = np.minimum(bright, _AROUND_VAL * ring_val)
    bright = bright[:, None]
    paper = ((sat < 70) & (val > bright)).mean(axis=1)
    e = np.roll(q, -1, axis=1) - q
    lengths = np.hypot(e[..., 0], e[..., 1])
    aspect = (lengths[:, 0] + lengths[:, 2]) / (lengths[:, 1] + lengths[:, 3])
    aspect = np.maximum(aspect, 1.0 / aspect)
    oblong = np.where(aspect >= 1.22, 1.0, 0.75)
    return (0.45 + 0.55 * paper) * oblong


def _ring_points(quads: np.ndarray, w: int, h: int) -> np.ndarray:
    """(N, 12, 2) integer points just outside (N, 4, 2) quads: three per side, 5 px out."""
    centre = quads.mean(axis=1, keepdims=True)
    d = np.roll(quads, -1, axis=1) - quads
    along = np.array([0.25, 0.5, 0.75], np.float32)[None, None, :, None]
    mids = quads[:, :, None, :] + along * d[:, :, None, :]
    out = mids - centre[:, :, None, :]
    norm = np.maximum(np.hypot(out[..., 0], out[..., 1]), 1e-6)[..., None]
    pts = (mids + 5.0 * out / norm).reshape(len(quads), 12, 2)
    xi = np.clip(np.rint(pts[..., 0]).astype(np.intp), 0, w - 1)
    yi = np.clip(np.rint(pts[..., 1]).astype(np.intp), 0, h - 1)
    return np.stack([xi, yi], axis=-1)


# Paper is at least this share of the desk's V just around the quad (or bright for the frame).
_AROUND_VAL = 0.9


def _ring_paperness(outer: np.ndarray, inner: np.ndarray, field: _Field) -> float:
    """Share of paper-like pixels (unsaturated, bright) in the band between two nested quads.
    Worked on the outer quad's bounding box only: it runs for many candidate pairs."""
    w, h = field.size
    x0, y0 = (max(0, math.floor(v) - 1) for v in outer.min(axis=0))
    x1, y1 = min(w, math.ceil(outer[:, 0].max()) + 2), min(h, math.ceil(outer[:, 1].max()) + 2)
    if x1 - x0 < 3 or y1 - y0 < 3:
        return 0.0
    shift = np.array([x0, y0], np.float32)
    hsv = field.hsv[y0:y1, x0:x1]
    band = np.zeros((y1 - y0, x1 - x0), np.uint8)
    cv2.fillConvexPoly(band, np.rint(outer - shift).astype(np.int32), 255)
    inside = np.zeros_like(band)
    cv2.fillConvexPoly(inside, np.rint(inner - shift).astype(np.int32), 255)
    band[inside > 0] = 0
    # Keep off both outlines: their edges are neither paper nor desk.
    sel = cv2.erode(band, _OPEN_KERNEL) > 0
    if sel.sum() < 20:
        return 0.0
    sat = hsv[..., 1][sel]
    val = hsv[..., 2][sel].astype(np.float32)
    paper = (sat < 70) & (val > _RING_VAL * field.v_ref)
    if paper.mean() >= _RING_PAPER:
        return float(paper.mean())
    # Paper in a cast shadow: darker, but of the inner quad's paper's chromaticity (a shadow
    # scales all three channels alike), and not black.
    in_vals = hsv[..., 2][inside > 0]
    if len(in_vals) >= 20:
        img = field.img[y0:y1, x0:x1]
        bright = (inside > 0) & (hsv[..., 2] >= np.median(in_vals))
        ref = _chroma(img[bright]).mean(axis=0)
        near = np.abs(_chroma(img[sel]) - ref).sum(axis=1) < _SHADE_CHROMA
        paper |= near & (val > _PM_DARK * field.v_ref)
    return float(paper.mean())


def _chroma(bgr: np.ndarray) -> np.ndarray:
    """(N, 3) normalised colour b, g, r / (b + g + r): unchanged by a shadow."""
    v = bgr.astype(np.float32) + 1.0
    return v / v.sum(axis=1, keepdims=True)


# L1 distance in normalised colour within which a band pixel is the inner quad's paper.
_SHADE_CHROMA = 0.03


def _encloses(outer: np.ndarray, inner: np.ndarray, tolerance: float = 2.0) -> bool:
    """Whether `inner` lies in `outer`: its corners within `tolerance`, or all but a sliver of
    its area (a quad cut by a shadow's edge overshoots the sheet a little at its corners)."""
    contour = outer.reshape(-1, 1, 2).astype(np.float32)
    if all(cv2.pointPolygonTest(contour, (float(x), float(y)), True) >= -tolerance for x, y in inner):
        return True
    inter, _ = cv2.intersectConvexConvex(outer.astype(np.float32), inner.astype(np.float32))
    return float(inter) >= _ENCLOSE_AREA * cv2.contourArea(inner.astype(np.float32))


# Edge sharpness (see _sharpness) that at least three sides of a page reach: paper edges,
# even blurred, reach 0.2 and more; reflections on glass stay near 0.11.
_SHARP_MIN = 0.13
_SHARP_OFFS = np.arange(-8.0, 8.5, 1.0, dtype=np.float32)
_SHARP_TS = np.linspace(0.15, 0.85, 20, dtype=np.float32)


def _sharpness(quad: np.ndarray, field: _Field) -> list[float]:
    """Per side, the median over profiles across it of the peak gradient (within 3 px)
    over the step between its two sides (8 px apart): about 0.3-0.5 for a sheet's cut edge,
    much less for the gradual fall-off of a reflection or a light pool."""
    grey = cv2.cvtColor(field.img, cv2.COLOR_BGR2GRAY).astype(np.float32)
    q = quad.astype(np.float32)
    d = q[_NEXT] - q  # (4, 2)
    length = np.maximum(np.hypot(d[:, 0], d[:, 1]), 1e-6)
    n = np.stack([-d[:, 1], d[:, 0]], axis=1) / length[:, None]
    # Points (4 sides x T profiles, offsets across): one remap for all sides.
    base = q[:, None, :] + _SHARP_TS[None, :, None] * d[:, None, :]
    pts = base[:, :, None, :] + _SHARP_OFFS[None, None, :, None] * n[:, None, None, :]
    mx = pts[..., 0].reshape(-1, len(_SHARP_OFFS))
    my = pts[..., 1].reshape(-1, len(_SHARP_OFFS))
    prof = cv2.remap(grey, mx, my, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    gx = cv2.remap(field.gx, mx, my, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    gy = cv2.remap(field.gy, mx, my, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    nx = np.repeat(n[:, 0], len(_SHARP_TS))[:, None]
    ny = np.repeat(n[:, 1], len(_SHARP_TS))[:, None]
    peak = np.abs(gx * nx + gy * ny)[:, 5:12].max(axis=1)
    step = np.abs(prof[:, -3:].mean(axis=1) - prof[:, :3].mean(axis=1))
    ratio = (peak / np.maximum(step, 2.0)).reshape(4, -1)
    return [float(v) for v in np.median(ratio, axis=1)]


def _print_inside(quad: np.ndarray, field: _Field) -> float:
    """Share of the quad's inside (its middle 80 %, off the soft fall-off of a patch's
    outline) with a clear gradient: print."""
    w, h = field.size
    mask = np.zeros((h, w), np.uint8)
    centre = quad.mean(axis=0)
    cv2.fillConvexPoly(mask, np.rint(centre + 0.8 * (quad - centre)).astype(np.int32), 255)
    sel = mask > 0
    if sel.sum() < 20:
        return 0.0
    return float((field.mag[sel] >= _PRINT_GRAD).mean())


# Print inside a quad: gradient (grey levels per px) of a stroke, and the share of the inside
# above which a soft-edged quad is a document (blurred), not a reflection.
_PRINT_GRAD = 8.0
_PRINT_MIN = 0.08


# --- sub-pixel refinement -----------------------------------------------------------------


def _refine(image: np.ndarray, corners: np.ndarray, scale: float) -> tuple[np.ndarray, float]:
    """Corners refined on the full-resolution frame, and the share of edge profiles that
    agreed with the fitted lines."""
    quad = corners.astype(np.float64)
    agreement = 1.0
    # The first window covers the working image's error (a few work px, more at a corner
    # whose hull vertex was cut); each pass re-centres on the lines fitted by the last.
    for radius in (max(8.0, 4.0 / scale), 3.0):
        fits = _fit_edges(image, quad, radius)
        if fits is None:
            return corners, 0.5
        lines = [f[0] for f in fits]
        shares = [f[1] for f in fits]
        new = []
        for k in range(4):
            p = _intersect(lines[(k - 1) % 4], lines[k])
            if p is None:
                return corners, 0.5
            new.append(p)
        new_quad = np.array(new)
        # A refinement that moves a corner far has locked onto something else.
        if np.max(np.hypot(*(new_quad - quad).T)) > 4.0 * radius:
            return quad, 0.6
        quad = new_quad
        agreement = float(np.mean(shares))
    return quad, agreement


def _fit_edges(
    image: np.ndarray, quad: np.ndarray, radius: float
) -> list[tuple[tuple[float, float, float], float]] | None:
    """Per side of `quad` (k -> k + 1), the line (a, b, c with a^2+b^2 = 1) of the edge near
    it, fitted to the colour gradient peaks across it, and the share of profiles that agreed
    with it; None when a side is too short or has too few peaks. The profiles of all four
    sides are sampled and searched together; the fits are per side."""
    offs = np.arange(-radius, radius + 0.25, 0.5)
    sides = []
    for k in range(4):
        p0 = quad[k]
        d = quad[(k + 1) % 4] - p0
        length = float(np.hypot(d[0], d[1]))
        if length < 8:
            return None
        u = d / length
        n = np.array([-u[1], u[0]])
        count = int(np.clip(length / 5.0, 12, 120))
        base = p0[None, :] + np.linspace(0.1, 0.9, count)[:, None] * d[None, :]
        sides.append((base, n, count))
    bases = np.concatenate([sd[0] for sd in sides])
    normals = np.repeat(np.array([sd[1] for sd in sides]), [sd[2] for sd in sides], axis=0)
    pts = bases[:, None, :] + offs[None, :, None] * normals[:, None, :]
    strip = cv2.remap(
        image,
        pts[..., 0].astype(np.float32),
        pts[..., 1].astype(np.float32),
        cv2.INTER_LINEAR,
        borderMode=cv2.BORDER_REPLICATE,
    ).astype(np.float32)
    # Smooth along the side (neighbouring profiles) and across it, against sensor noise:
    # each side's block on its own.
    ends = np.cumsum([sd[2] for sd in sides])
    smooth = np.empty_like(strip)
    for lo, hi in zip((ends - [sd[2] for sd in sides]).tolist(), ends.tolist(), strict=True):
        smooth[lo:hi] = cv2.GaussianBlur(strip[lo:hi], (3, 5), sigmaX=1.0, sigmaY=1.0)
    deriv = smooth[:, 2:] - smooth[:, :-2]
    # The channel sum written out: numpy's reduction over a 3-long last axis is slow.
    energy = deriv[..., 0] * deriv[..., 0]
    energy += deriv[..., 1] * deriv[..., 1]
    energy += deriv[..., 2] * deriv[..., 2]
    # A mild prior for the hypothesis' position: text near an edge must not win.
    centre = offs[1:-1]
    energy = energy * np.exp(-0.5 * (centre / (radius * 0.75)) ** 2)[None, :]
    idx_all = np.argmax(energy, axis=1)
    peak_all = energy[np.arange(len(energy)), idx_all]
    fits = []
    lo = 0
    for (base, n, _count), hi in zip(sides, ends.tolist(), strict=True):
        fitted = _fit_peaks(energy[lo:hi], idx_all[lo:hi], peak_all[lo:hi], base, n, centre)
        if fitted is None:
            return None
        fits.append(fitted)
        lo = hi
    return fits


def _fit_peaks(
    energy: np.ndarray, idx: np.ndarray, peak: np.ndarray, base: np.ndarray, n: np.ndarray, centre: np.ndarray
) -> tuple[tuple[float, float, float], float] | None:
    """The line through one side's gradient-energy peaks (see `_fit_edges`): sub-pixel
    peaks by a parabolic fit, a Huber line, then a trimmed least-squares refit."""
    count = len(energy)
    valid = (idx > 0) & (idx < energy.shape[1] - 1) & (peak > 0.25 * np.median(peak) + 1.0)
    if valid.sum() < 6:
        return None
    rows = np.nonzero(valid)[0]
    i = idx[rows]
    e0, e1, e2 = energy[rows, i - 1], energy[rows, i], energy[rows, i + 1]
    den = e0 - 2 * e1 + e2
    frac = np.where(np.abs(den) > 1e-9, 0.5 * (e0 - e2) / np.where(np.abs(den) > 1e-9, den, 1.0), 0.0)
    offset = centre[i] + np.clip(frac, -0.5, 0.5) * 0.5
    pts_edge = base[rows] + offset[:, None] * n[None, :]
    line = cv2.fitLine(pts_edge.astype(np.float32), cv2.DIST_HUBER, 0, 0.01, 0.01).ravel()
    vx, vy, x0, y0 = (float(v) for v in line)
    nx, ny = -vy, vx
    resid = np.abs((pts_edge[:, 0] - x0) * nx + (pts_edge[:, 1] - y0) * ny)
    inl = resid < max(0.8, 2.5 * float(np.median(resid)))
    if inl.sum() >= 6:
        sel = pts_edge[inl]
        mean = sel.mean(axis=0)
        _, _, vt = np.linalg.svd(sel - mean, full_matrices=False)
        vx, vy = vt[0]
        nx, ny = -vy, vx
        x0, y0 = mean
    share = float(inl.sum()) / count
    return (float(nx), float(ny), -float(nx * x0 + ny * y0)), share
