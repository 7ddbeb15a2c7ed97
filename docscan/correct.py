"""From a page found in a camera frame to a flat, upright, clean "scan": what kind of page
it is (`page_kind`), its perspective removed at its real size (`warp_page`), turned upright
(`orient`) and given the scan look (`clean`).

Pure image arithmetic (numpy, OpenCV): no I/O, no clock, nothing random.

Corners everywhere are a (4, 2) float array, clockwise from the corner nearest the image's
top-left (the order `docscan.detect.PageQuad.corners` uses), in pixel-centre coordinates.
"""

from __future__ import annotations

import math
from typing import Protocol

import cv2
import numpy as np

__all__ = [
    "KINDS",
    "PAGE_SIZES_MM",
    "HasCorners",
    "QuadLike",
    "clean",
    "estimate_aspect",
    "orient",
    "output_size",
    "page_dpi",
    "page_kind",
    "warp_page",
]


class HasCorners(Protocol):
    """Anything that carries a quad's corners (`docscan.detect.PageQuad`)."""

    @property
    def corners(self) -> np.ndarray: ...


#: A `docscan.detect.PageQuad` or a bare (4, 2) array of corners.
QuadLike = HasCorners | np.ndarray

KINDS: tuple[str, ...] = ("a4", "a5", "id_card", "receipt", "unknown")

#: Physical (short, long) side of each kind in millimetres; a receipt's length varies, only
#: its width (the common 80 mm till roll) is fixed.
PAGE_SIZES_MM: dict[str, tuple[float, float]] = {
    "a4": (210.0, 297.0),
    "a5": (148.0, 210.0),
    "id_card": (53.98, 85.6),  # ISO/IEC 7810 ID-1, the 居民身份证 format
    "receipt": (80.0, 0.0),
}

# DPI an ID card is always warped at: its print (the 12-digit-high number, the photo) is
# small, and 200 dpi leaves the ID number's digits ~20 px high, too few for later OCR.
ID_CARD_DPI = 300

# Aspect (long / short) bands. ISO 216 is sqrt(2) = 1.414; US Letter (1.294) and a sheet
# trimmed a little are still handled as A-series; ID-1 is 1.586; a till receipt is at least
# ~1.8 long (an 80 mm roll torn after a few lines). The perspective-corrected aspect of a
# flat page is within ~3 % of the truth on the scan-real photos (see tests), which the
# bands leave room for; between the bands the page is "unknown" and keeps its own aspect.
_ISO_BAND = (1.25, 1.50)
_ID_BAND = (1.50, 1.72)
_RECEIPT_MIN = 1.80

# A5 against A4: both are sqrt(2); only the physical size tells them apart, and a frame
# alone does not give it (how much of the frame a page fills depends on the camera's height
# and lens, and the simulated camera scales pages to fill the frame whatever their size).
# So an ISO page is "a5" only when the caller knows the camera's scale (`px_per_mm`, from
# the kiosk's camera calibration); otherwise it is "a4", by far the commonest form in the
# hall, and an A5 then comes out at A4 size (its content intact, printed 1.41x larger).
# Physical long-side threshold between A5 (210 mm) and A4 (297 mm) when the scale is known.
_A5_MAX_LONG_MM = 250.0
# Focal length in frame long sides: (shortest believed, assumed, longest believed). Phone
# main cameras are ~0.75-0.8 (26 mm equivalent), document cameras wider still; 0.8 gave
# the best aspects on the scan-real photos where the focal length could not be measured.
_ASSUMED_FOCAL = (0.5, 0.8, 1.5)


def _corners(quad: QuadLike) -> np.ndarray:
    pts = quad if isinstance(quad, np.ndarray) else quad.corners
    pts = np.asarray(pts, np.float64).reshape(-1, 2)
    if pts.shape != (4, 2):
        raise ValueError(f"a quad has 4 corners, got shape {pts.shape}")
    return pts


def _side_lengths(c: np.ndarray) -> tuple[float, float]:
    """(mean of top and bottom, mean of left and right) side lengths in pixels."""
    top = float(np.linalg.norm(c[1] - c[0]))
    bottom = float(np.linalg.norm(c[2] - c[3]))
    left = float(np.linalg.norm(c[3] - c[0]))
    right = float(np.linalg.norm(c[2] - c[1]))
    return (top + bottom) / 2.0, (left + right) / 2.0


def estimate_aspect(quad: QuadLike, image_size: tuple[int, int]) -> float:
    """The true width/height ratio (width along corner 0->1) of the rectangle whose image
    is `quad`, in a frame of `image_size` (width, height).

    Zhang & He, "Whiteboard scanning and image enhancement" (2007): the two vanishing
    directions of the quad give the focal length, and with it the aspect, assuming square
    pixels and the principal point at the image centre (true enough for phone and document
    cameras). A page lying almost square to the camera leaves the focal length undetermined
    (the estimate is noise, often negative); then an assumed focal length of
    `_ASSUMED_FOCAL` frame long sides is used, and where the perspective is that weak the
    result hardly depends on it. Corners inconsistent with any rectangle fall back to the
    ratio of the mean opposite side lengths.
    """
    c = _corners(quad)
    w, h = image_size
    long_side = float(max(w, h))
    u0, v0 = (w - 1) / 2.0, (h - 1) / 2.0
    along, across = _side_lengths(c)
    naive = along / max(across, 1e-9)
    # Zhang & He number the corners m1=(0,0), m2=(w,0), m3=(0,h), m4=(w,h).
    m1, m2, m4, m3 = (np.array([x - u0, y - v0, 1.0]) for x, y in c)
    d2 = float(np.dot(np.cross(m2, m4), m3))
    d3 = float(np.dot(np.cross(m3, m4), m2))
    if abs(d2) < 1e-9 or abs(d3) < 1e-9:  # three corners on a line: not a quad
        return naive
    k2 = float(np.dot(np.cross(m1, m4), m3)) / d2
    k3 = float(np.dot(np.cross(m1, m4), m2)) / d3
    n2 = k2 * m2 - m1
    n3 = k3 * m3 - m1
    f2 = _ASSUMED_FOCAL[1] ** 2 * long_side**2
    denom = n2[2] * n3[2]
    if abs(denom) > 1e-12:
        measured = -(n2[0] * n3[0] + n2[1] * n3[1]) / denom
        lo, hi = _ASSUMED_FOCAL[0] * long_side, _ASSUMED_FOCAL[2] * long_side
        # Outside the range of real lenses the measurement is the corners' noise.
        if lo**2 <= measured <= hi**2:
            f2 = measured
    num = n2[0] ** 2 + n2[1] ** 2 + f2 * n2[2] ** 2
    den = n3[0] ** 2 + n3[1] ** 2 + f2 * n3[2] ** 2
    if num <= 0 or den <= 0:
        return naive
    aspect = math.sqrt(num / den)
    # Far from the plain measurement: the corners are not those of a flat rectangle (a
    # curled page, a wrong corner); do not amplify that.
    if not 0.7 <= aspect / naive <= 1.4:
        return naive
    return float(aspect)


def page_kind(quad: QuadLike, image_size: tuple[int, int], *, px_per_mm: float | None = None) -> str:
    """Which page: "a4", "a5", "id_card", "receipt" or "unknown", from the page's
    perspective-corrected aspect; A5 only when `px_per_mm` (the camera's scale at the desk)
    is given, since A4 and A5 have the same aspect."""
    c = _corners(quad)
    aspect = estimate_aspect(c, image_size)
    ratio = max(aspect, 1.0 / aspect)
    if _ISO_BAND[0] <= ratio < _ISO_BAND[1]:
        return "a5" if _is_a5(c, px_per_mm) else "a4"
    if _ID_BAND[0] <= ratio < _ID_BAND[1]:
        return "id_card"
    if ratio >= _RECEIPT_MIN:
        return "receipt"
    return "unknown"


def _is_a5(c: np.ndarray, px_per_mm: float | None) -> bool:
    if px_per_mm is None:
        return False
    along, across = _side_lengths(c)
    return max(along, across) / px_per_mm < _A5_MAX_LONG_MM


def page_dpi(kind: str, dpi: int = 200) -> int:
    """The resolution `warp_page` gives a page of `kind` when asked for `dpi`: ID cards
    always get ID_CARD_DPI, an unknown page has no physical size and keeps `dpi` as a
    nominal value."""
    return ID_CARD_DPI if kind == "id_card" else dpi


def output_size(quad: QuadLike, image_size: tuple[int, int], kind: str, dpi: int = 200) -> tuple[int, int]:
    """(width, height) in pixels `warp_page` gives the page: its physical size at `dpi`
    (ID cards at 300 dpi), landscape or portrait as the quad lies in the frame (`orient`
    decides which way is up). A receipt is 80 mm wide and as long as its aspect says; an
    unknown page keeps its measured aspect at the resolution the camera saw it with."""
    c = _corners(quad)
    aspect = estimate_aspect(c, image_size)  # width along corner 0->1 over height
    landscape = aspect > 1.0
    if kind in ("a4", "a5", "id_card"):
        short_mm, long_mm = PAGE_SIZES_MM[kind]
        d = page_dpi(kind, dpi)
        short_px, long_px = round(short_mm / 25.4 * d), round(long_mm / 25.4 * d)
    elif kind == "receipt":
        short_px = round(PAGE_SIZES_MM["receipt"][0] / 25.4 * dpi)
        long_px = round(short_px * max(aspect, 1.0 / aspect))
    else:
        # Unknown size: as many pixels as the camera gave it, no up-sampling beyond that.
        along, across = _side_lengths(c)
        long_px = max(round(max(along, across)), 8)
        short_px = max(round(long_px / max(aspect, 1.0 / aspect)), 8)
    return (long_px, short_px) if landscape else (short_px, long_px)


def warp_page(image_bgr: np.ndarray, quad: QuadLike, kind: str, dpi: int = 200) -> np.ndarray:
    """The page cut out of `image_bgr` with the perspective removed: corner 0 of `quad` at
    the output's top-left, clockwise, at the page's real aspect and a size from `dpi`
    (see `output_size`)."""
    c = _corners(quad)
    h_img, w_img = image_bgr.shape[:2]
    w, h = output_size(c, (w_img, h_img), kind, dpi)
    # Corners are pixel centres; the page's outer corners map to the outer pixel centres.
    dst = np.array([[0, 0], [w - 1, 0], [w - 1, h - 1], [0, h - 1]], np.float32)
    m = cv2.getPerspectiveTransform(c.astype(np.float32), dst)
    # The output usually has more pixels than the page had in the frame. Bilinear: bicubic
    # is a little crisper but 2.5x slower on an A4 page (80 against 30 ms on one core), and
    # `clean` sharpens the strokes anyway.
    return cv2.warpPerspective(image_bgr, m, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


# --- orientation -------------------------------------------------------------------------

# The page is analysed at this long side: text lines of 10.5 pt type are ~6 px high there,
# enough to see lines and punctuation, and the analysis costs a few ms.
_ORIENT_LONG_SIDE = 1000
# The text-line direction must be this much clearer one way than the other to rotate by 90°.
_LINE_EVIDENCE = 1.3
# At least this many votes (punctuation marks; half as many text lines) before a page is
# turned by 180°, and the majority it needs: handwriting and the small print of cards give
# stray votes both ways (up to 1:3 on the scan-real photos), printed Chinese text > 1:10.
_MIN_UPDOWN_VOTES = 8
_UPDOWN_RATIO = 4.0


def orient(page: np.ndarray, kind: str | None = None) -> np.ndarray:
    """`page` turned so that its text reads upright (a multiple of 90°).

    1. Text-line direction: Chinese (and Latin) text is set in horizontal lines, so the ink
       profile across the lines has deep, regular gaps and the one along them has not. If
       the columns look more like lines than the rows, the page lies on its side.
    2. Up or down: in horizontal Chinese text the commas and full stops (，。、) sit at the
       bottom of the line; in Latin text ascenders outnumber descenders, so a line carries
       more ink above its x-height core than below. Both vote; a page with too little text
       to vote is left as it is.
    Without text, an ID card is turned landscape and other kinds portrait (`kind`).
    """
    ink = _ink_mask(page)
    quarter = _text_is_vertical(ink)
    if quarter is None and kind is not None:
        h, w = page.shape[:2]
        want_landscape = kind == "id_card"
        quarter = (w > h) != want_landscape
    if quarter:
        page = cv2.rotate(page, cv2.ROTATE_90_CLOCKWISE)
        ink = cv2.rotate(ink, cv2.ROTATE_90_CLOCKWISE)
    # Clockwise may have been the wrong quarter turn: the up/down test then turns it the
    # other half, which makes it counter-clockwise.
    if _upside_down(ink):
        page = cv2.rotate(page, cv2.ROTATE_180)
    return page


def _ink_mask(page: np.ndarray) -> np.ndarray:
    """Dark marks on the paper (text) as a 0/1 uint8 mask at analysis scale."""
    gray = cv2.cvtColor(page, cv2.COLOR_BGR2GRAY) if page.ndim == 3 else page
    h, w = gray.shape
    scale = min(1.0, _ORIENT_LONG_SIDE / max(h, w))
    if scale < 1.0:
        gray = cv2.resize(gray, (round(w * scale), round(h * scale)), interpolation=cv2.INTER_AREA)
    # Adaptive threshold against the local background: shadows and gradients do not count
    # as ink; the offset keeps paper grain out.
    ink = cv2.adaptiveThreshold(gray, 1, cv2.ADAPTIVE_THRESH_MEAN_C, cv2.THRESH_BINARY_INV, 31, 15)
    # The page border (a few percent) often holds the desk or the warp's replicated edge.
    bh, bw = ink.shape
    my, mx = max(2, bh // 40), max(2, bw // 40)
    ink[:my, :] = 0
    ink[-my:, :] = 0
    ink[:, :mx] = 0
    ink[:, -mx:] = 0
    return ink


def _line_score(ink: np.ndarray) -> float:
    """How line-like the row profile of `ink` is: the share of its ink variance that sits
    at the scale of text lines (rows alternate between full and empty)."""
    prof = ink.sum(axis=1).astype(np.float64)
    if prof.sum() < 50:
        return 0.0
    # Only the span that holds text; empty margins would count as "gaps".
    nz = np.flatnonzero(prof > 0.02 * prof.max())
    prof = prof[nz[0] : nz[-1] + 1]
    if prof.size < 8:
        return 0.0
    mean = prof.mean()
    # Empty rows between lines: the fraction of near-empty rows, weighted by how full
    # the full rows are (coefficient of variation).
    gaps = float(np.mean(prof < 0.15 * mean))
    cv = float(prof.std() / max(mean, 1e-9))
    return gaps * cv


def _text_is_vertical(ink: np.ndarray) -> bool | None:
    """True when the text lines run top-to-bottom (page on its side), False when they run
    left-to-right, None when it cannot be told (no text, or no clear direction)."""
    if int(ink.sum()) < 200:
        return None
    rows = _line_score(ink)
    cols = _line_score(ink.T)
    if rows > _LINE_EVIDENCE * cols and rows > 0.05:
        return False
    if cols > _LINE_EVIDENCE * rows and cols > 0.05:
        return True
    return None


def _text_lines(ink: np.ndarray) -> list[tuple[int, int]]:
    """(top, bottom) row spans of the horizontal text lines in `ink`."""
    prof = ink.sum(axis=1)
    on = prof > max(2, 0.1 * float(np.median(prof[prof > 0])) if np.any(prof > 0) else 2)
    lines: list[tuple[int, int]] = []
    start = None
    for i, v in enumerate(on):
        if v and start is None:
            start = i
        elif not v and start is not None:
            lines.append((start, i))
            start = None
    if start is not None:
        lines.append((start, len(on)))
    if not lines:
        return []
    heights = np.array([b - a for a, b in lines])
    med = float(np.median(heights))
    # Lines of a plausible height only: not specks, not a photo or a table block.
    return [(a, b) for a, b in lines if 0.5 * med <= b - a <= 2.0 * med and b - a >= 4]


def _updown_votes(ink: np.ndarray) -> tuple[float, float, float, float]:
    """(punctuation at the bottom, at the top, lines heavier above, below) over the text
    lines of `ink`; see `orient`."""
    punct_low = punct_high = latin_up = latin_down = 0.0
    for top, bottom in _text_lines(ink):
        band = ink[top:bottom]
        lh = bottom - top
        n, labels, stats, cents = cv2.connectedComponentsWithStats(band, connectivity=8)
        if n <= 2:
            continue
        cols = band.sum(axis=0)
        for i in range(1, n):
            x, _, w, hgt, area = stats[i]
            # Punctuation: a small mark alone in its column span (the dots and ticks that are
            # parts of characters, 丶 or 氵, have the rest of their character above or below).
            if hgt > 0.4 * lh or w > 0.5 * lh or area < 2:
                continue
            own = (labels[:, x : x + w] == i).sum(axis=0)
            if np.any(cols[x : x + w] - own > 0):
                continue
            rel = cents[i, 1] / lh
            if rel > 0.6:
                punct_low += 1
            elif rel < 0.4:
                punct_high += 1
        # Latin: ink above vs below the line's core (the densest band, the x-height).
        prof = band.sum(axis=1).astype(np.float64)
        idx = np.flatnonzero(prof > 0.5 * prof.max())
        above = prof[: idx[0]].sum()
        below = prof[idx[-1] + 1 :].sum()
        if above + below > 0.1 * prof.sum():
            share = (above - below) / (above + below)
            latin_up += max(share, 0.0)
            latin_down += max(-share, 0.0)
    return punct_low, punct_high, latin_up, latin_down


def _verdict(upright: float, flipped: float, min_votes: float, ratio: float) -> bool | None:
    """True (upside down), False (upright) or None (no clear majority) from two tallies."""
    if upright + flipped < min_votes:
        return None
    if flipped >= ratio * max(upright, 0.5):
        return True
    if upright >= ratio * max(flipped, 0.5):
        return False
    return None


def _upside_down(ink: np.ndarray) -> bool:
    """Whether the horizontal text in `ink` is upside down (see `orient`). Turning an
    upright page over is worse than leaving an upside-down one: both cues need a clear
    majority, and when they disagree the page stays as it is."""
    punct_low, punct_high, latin_up, latin_down = _updown_votes(ink)
    punct = _verdict(punct_low, punct_high, _MIN_UPDOWN_VOTES, _UPDOWN_RATIO)
    latin = _verdict(latin_up, latin_down, _MIN_UPDOWN_VOTES / 2, _UPDOWN_RATIO)
    if punct is not None and latin is not None and punct != latin:
        return False
    return bool(punct if punct is not None else latin)


# --- the scan look -----------------------------------------------------------------------

# The illumination is estimated at this fraction of the page size: cheap, and it is smooth.
_BG_LONG_SIDE = 400
# The closing's kernel as a fraction of the page's long side at that scale: wider than a
# line of 5 Chinese characters at 10.5 pt on A4 (~20 mm), so text vanishes from the
# background; narrower than a hand's shadow edge blurred by the lamp.
_BG_KERNEL_FRACTION = 1 / 30
# Normalised luminance above this is paper and goes pure white (0.88: the paper's grain
# and a faint residual shading after division stay under it).
_WHITE_POINT = 0.88
# ...and below this is ink and goes pure black.
_BLACK_POINT = 0.25
# Chroma (HSV saturation of the normalised image) above which a pixel is "coloured" (a red
# stamp, a photo) and keeps its hue; below, it is made neutral grey, so a yellowish lamp
# or a tinted paper does not tint the scan.
_SAT_KEEP = 0.28
_SAT_DROP = 0.12


def clean(page: np.ndarray, keep_colour: bool = True) -> np.ndarray:
    """The "scan look": shadows and uneven light divided out so the paper is flat white,
    text dark and sharp, red stamps and photos in colour (`keep_colour`), else grey.

    Works on uint8 with OpenCV's saturating arithmetic and lookup tables (an A4 page at
    200 dpi is 4 million pixels; float arithmetic on it costs ~10x more); the colour path
    touches only the few pixels that are coloured.
    """
    if page.dtype != np.uint8 or page.ndim != 3 or page.shape[2] != 3:
        raise ValueError(f"page must be H x W x 3 uint8 BGR, got {page.dtype} {page.shape}")
    bg = _background(page)
    # Per channel: the same division removes the shading and the lamp's colour cast; the
    # paper comes out at 255 (saturating), darker marks keep their ratio to the paper.
    norm = cv2.divide(page, bg, scale=255.0)
    y = cv2.cvtColor(norm, cv2.COLOR_BGR2GRAY)
    # Unsharp mask on luminance: the warp's interpolation and the lens soften strokes;
    # sigma 1.2 px is about a stroke's width at 200 dpi.
    blur = cv2.GaussianBlur(y, (0, 0), 1.2)
    y_sharp = cv2.addWeighted(y, 1.8, blur, -0.8, 0.0)
    y_out = cv2.LUT(y_sharp, _CURVE)
    out = cv2.cvtColor(y_out, cv2.COLOR_GRAY2BGR)
    if not keep_colour:
        return out
    sat = cv2.cvtColor(norm, cv2.COLOR_BGR2HSV)[..., 1]
    coloured = sat > round(_SAT_DROP * 255)
    if not np.any(coloured):
        return out
    # Coloured pixels (a red stamp, a photo) keep their normalised colour, lifted where
    # the curve lifts their luminance but never darkened by the black point: a stamp is
    # lighter than text, and the curve meant for black ink would turn red into brown.
    # The blend weight rises with saturation, so the stamp's anti-aliased rim is smooth.
    src = norm[coloured].astype(np.float32)
    yy = np.maximum(y[coloured].astype(np.float32), 1.0)
    lift = np.clip(y_out[coloured].astype(np.float32) / yy, 1.0, 3.0)
    colour = np.minimum(src * lift[:, None], 255.0)
    s = sat[coloured].astype(np.float32) / 255.0
    weight = np.clip((s - _SAT_DROP) / (_SAT_KEEP - _SAT_DROP), 0.0, 1.0)
    grey = out[coloured].astype(np.float32)
    out[coloured] = (grey + weight[:, None] * (colour - grey) + 0.5).astype(np.uint8)
    return out


def _curve() -> np.ndarray:
    """The luminance lookup table: black point to 0, white point to 255, linear between."""
    v = np.arange(256, dtype=np.float32) / 255.0
    ramp = np.clip((v - _BLACK_POINT) / (_WHITE_POINT - _BLACK_POINT), 0.0, 1.0)
    return (ramp * 255.0 + 0.5).astype(np.uint8)


_CURVE = _curve()


def _background(page: np.ndarray) -> np.ndarray:
    """The paper's colour under the page's light, per channel, uint8, full size."""
    h, w = page.shape[:2]
    # An integer shrink factor on a crop to its multiple: OpenCV's INTER_AREA then takes its
    # block-averaging fast path (~4x faster than a fractional factor on an A4 page).
    f = max(1, -(-max(h, w) // _BG_LONG_SIDE))
    sw, sh = max(1, w // f), max(1, h // f)
    small = cv2.resize(page[: sh * f, : sw * f], (sw, sh), interpolation=cv2.INTER_AREA)
    k = max(3, round(max(sh, sw) * _BG_KERNEL_FRACTION) | 1)
    # Closing (max then min) removes dark marks narrower than the kernel: what is left is
    # the paper under the light. A square kernel is 4x cheaper than a disc and the blur
    # below hides its shape.
    closed = cv2.morphologyEx(small, cv2.MORPH_CLOSE, cv2.getStructuringElement(cv2.MORPH_RECT, (k, k)))
    # A small median takes out specks the closing left (dust, a dot of ink bigger than
    # the kernel); the blur smooths the closing's blocky steps so no seam shows after the
    # division.
    closed = cv2.GaussianBlur(cv2.medianBlur(closed, 5), (0, 0), k / 3.0)
    # Stretched to the full size (the crop's few lost pixels make no visible difference
    # to a field this smooth).
    bg = np.asarray(cv2.resize(closed, (w, h), interpolation=cv2.INTER_LINEAR))
    # Never divide by (near) black: a dark photo region would blow up into noise.
    return np.maximum(bg, 16, out=bg)
