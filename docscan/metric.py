"""The ICDAR 2015 SmartDoc Challenge-1 page-detection metric.

SmartDoc scores a found page quad by the Jaccard index (intersection over union) of the
found and true quads, *after* mapping both with the homography that takes the true quad to
the page's own reference rectangle (``ref_size``, width x height, 0.1 mm). Working in the
page's frame makes the score independent of how large and how oblique the page appears in
the image: a 2 px error costs a small ID card as much as it would cost it on paper.

Corner order: both quads are put in the project's convention first (clockwise, starting
from the corner nearest the image's top-left, `order_corners`), so a caller that hands
corners in another cyclic or even a scrambled order is scored the same. The reference
rectangle's orientation does not matter: rectangles of any size differ by an axis scaling,
and the Jaccard index is invariant under affine maps.
"""

from __future__ import annotations

import cv2
import numpy as np

__all__ = ["jaccard_index", "order_corners"]


def order_corners(points: np.ndarray) -> np.ndarray:
    """The four points as float32 (4, 2), clockwise on screen (image y grows downwards),
    starting from the one nearest the image's top-left corner (0, 0).

    Sorting by angle around the centroid turns any order of a convex quad's corners,
    scrambled included, into its cyclic order.
    """
    pts = np.asarray(points, dtype=np.float64).reshape(4, 2)
    centre = pts.mean(axis=0)
    # With y pointing down, increasing atan2(dy, dx) runs clockwise on screen.
    angles = np.arctan2(pts[:, 1] - centre[1], pts[:, 0] - centre[0])
    cyclic = pts[np.argsort(angles, kind="stable")]
    first = int(np.argmin(np.hypot(cyclic[:, 0], cyclic[:, 1])))
    return np.roll(cyclic, -first, axis=0).astype(np.float32)


def _polygon_area(poly: np.ndarray) -> float:
    x, y = poly[:, 0], poly[:, 1]
    return 0.5 * abs(float(np.dot(x, np.roll(y, -1)) - np.dot(y, np.roll(x, -1))))


def _clip_to_rect(poly: np.ndarray, w: float, h: float) -> np.ndarray:
    """Sutherland-Hodgman clipping of a polygon to [0, w] x [0, h].

    Written out rather than cv2.intersectConvexConvex, which loses most of the area when
    the two polygons (nearly) share their edges - the common case of a good detection.
    """
    pts = [tuple(p) for p in poly]
    # Each boundary as (axis, limit, keep-below): x >= 0, x <= w, y >= 0, y <= h.
    for axis, limit, below in ((0, 0.0, False), (0, w, True), (1, 0.0, False), (1, h, True)):
        if not pts:
            break
        out = []
        for i, cur in enumerate(pts):
            prev = pts[i - 1]
            cur_in = cur[axis] <= limit if below else cur[axis] >= limit
            prev_in = prev[axis] <= limit if below else prev[axis] >= limit
            if cur_in != prev_in:
                t = (limit - prev[axis]) / (cur[axis] - prev[axis])
                out.append((prev[0] + t * (cur[0] - prev[0]), prev[1] + t * (cur[1] - prev[1])))
            if cur_in:
                out.append(cur)
        pts = out
    return np.array(pts, np.float64).reshape(-1, 2)


def jaccard_index(found: np.ndarray | None, truth: np.ndarray, ref_size: tuple[float, float]) -> float:
    """SmartDoc Challenge-1 Jaccard index of `found` against `truth` (both (4, 2) image
    pixels, any corner order), in the reference frame of size `ref_size` (width, height).

    A missed page (`found` is None) scores 0. A found quad that the true page's homography
    throws across the horizon (a corner maps behind the camera) scores 0 too: it cannot
    overlap the page in any sensible way.
    """
    if found is None:
        return 0.0
    w, h = float(ref_size[0]), float(ref_size[1])
    if w <= 0 or h <= 0:
        raise ValueError(f"ref_size must be positive, got {ref_size}")
    t = order_corners(truth)
    f = order_corners(found)
    rect = np.array([[0, 0], [w, 0], [w, h], [0, h]], np.float32)
    hom = cv2.getPerspectiveTransform(t, rect)
    f_h = np.hstack([f.astype(np.float64), np.ones((4, 1))]) @ hom.T
    if np.any(f_h[:, 2] <= 1e-12):
        return 0.0
    mapped = (f_h[:, :2] / f_h[:, 2:3]).astype(np.float32)
    # A found quad that is not convex (a bowtie from a bad detector) is scored by its hull;
    # the clipping below needs convex input, and a real page is convex anyway.
    hull = cv2.convexHull(mapped).reshape(-1, 2)
    area_f = _polygon_area(hull.astype(np.float64))
    if area_f <= 0:
        return 0.0
    clipped = _clip_to_rect(hull.astype(np.float64), w, h)
    inter = _polygon_area(clipped) if len(clipped) >= 3 else 0.0
    union = area_f + w * h - inter
    return inter / union if union > 0 else 0.0
