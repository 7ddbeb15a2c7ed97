"""Is the page sharp enough to capture? A focus measure inside the page.

Measure: the page is warped flat at about its own resolution in the frame (the mean of
opposite side lengths, so a blur of N image pixels stays N pixels; long side capped at
800 px). On its grey image the strongest 2 % of gradient magnitudes (Sobel) are compared
with the same pixels' gradients after a Gaussian blur of sigma 1.5: a sharp edge loses
much of its peak gradient to that blur, an already blurred one loses little. The ratio

    r = mean(top |grad I|) / mean(|grad (G_1.5 * I)| at the same pixels)

does not depend on the page's contrast or lighting, and little on its content (it only
needs some edges: text, a photo, the page's own border, which the warp keeps with a
margin). Sensor noise inflates |grad I| in flat areas, so pixels whose gradient is under
a noise floor are left out; a page with no edge above it (a blank sheet in the dark) gets 0.

Scale: ``sharpness = (r - 1) / (R_OK - 1)`` with ``R_OK = 1.45``, so **1.0 is the
threshold for "sharp enough to capture"**. Measured on the scan-real photos (pages warped
at their own size): in focus 1.6-4.4; after a Gaussian defocus of sigma 1.2 px 0.8-2.3;
sigma 2 px 0.4-1.2; sigma 3 px 0.2-0.7. The value depends on the content (fine handwriting
keeps more high frequencies than a card's print), so 1.0 sits around a defocus of sigma
1.5-2 px, where small text starts to blur; 0 means no usable edges. Not yet calibrated
against OCR or on the synthetic set's `sharp` flag.
"""

from __future__ import annotations

import cv2
import numpy as np

from docscan.detect import PageQuad

__all__ = ["R_OK", "sharpness"]

#: Gradient ratio (see the module docstring) that maps to sharpness 1.0.
R_OK = 1.45
# Longest side of the flattened page (px).
_MAX_SIDE = 800
# Share of the strongest gradients that are compared.
_TOP_SHARE = 0.02
# Gradients (grey levels per px, Sobel / 8) below this are noise, not edges.
_NOISE_FLOOR = 4.0


def sharpness(image_bgr: np.ndarray, quad: PageQuad | None = None) -> float:
    """Focus measure of the page `quad` in `image_bgr` (of the whole frame when None):
    >= 1.0 means sharp enough to capture (see the module docstring for the scale)."""
    gray = cv2.cvtColor(image_bgr, cv2.COLOR_BGR2GRAY) if image_bgr.ndim == 3 else image_bgr
    if quad is not None:
        gray = _flatten(gray, quad.corners)
    elif max(gray.shape) > _MAX_SIDE:
        f = _MAX_SIDE / max(gray.shape)
        gray = cv2.resize(gray, None, fx=f, fy=f, interpolation=cv2.INTER_AREA)
    img = gray.astype(np.float32)
    sharp = _grad(img)
    soft = _grad(cv2.GaussianBlur(img, (0, 0), 1.5))
    strong = sharp > _NOISE_FLOOR
    if strong.sum() < 20:
        return 0.0
    values = sharp[strong]
    cut = np.quantile(values, 1.0 - _TOP_SHARE) if values.size > 1000 else values.min()
    top = sharp >= max(cut, _NOISE_FLOOR)
    ratio = float(sharp[top].mean() / max(float(soft[top].mean()), 1e-6))
    return max(0.0, (ratio - 1.0) / (R_OK - 1.0))


def _grad(img: np.ndarray) -> np.ndarray:
    gx = cv2.Sobel(img, cv2.CV_32F, 1, 0, ksize=3, scale=0.125)
    gy = cv2.Sobel(img, cv2.CV_32F, 0, 1, ksize=3, scale=0.125)
    return cv2.magnitude(gx, gy)


def _flatten(gray: np.ndarray, corners: np.ndarray) -> np.ndarray:
    """The page warped flat at about its size in the frame, with a small margin so its
    border (an edge every page has) is part of the measure."""
    c = np.asarray(corners, np.float32).reshape(4, 2)
    sides = np.hypot(*(np.roll(c, -1, axis=0) - c).T)
    w = 0.5 * (sides[0] + sides[2])
    h = 0.5 * (sides[1] + sides[3])
    f = min(1.0, _MAX_SIDE / max(w, h, 1.0))
    w, h = max(16.0, w * f), max(16.0, h * f)
    margin = 0.03 * max(w, h)
    dst = np.array(
        [[margin, margin], [w + margin, margin], [w + margin, h + margin], [margin, h + margin]], np.float32
    )
    hom = cv2.getPerspectiveTransform(c, dst)
    size = (round(w + 2 * margin), round(h + 2 * margin))
    return cv2.warpPerspective(gray, hom, size, flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
