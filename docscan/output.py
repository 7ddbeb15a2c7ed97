"""Scanned pages to files: JPEG for one page, PNG when lossless matters, and one PDF for a
batch, each PDF page at the paper's real physical size (an A4 prints as A4, an ID card as
an ID card) whatever resolution it was scanned at.

The PDF is written here (one JPEG-compressed image per page, ~60 lines of PDF 1.4) rather
than by Pillow, whose PDF writer gives every page of a file the same resolution: a batch of
an A4 form at 200 dpi and an ID card at 300 dpi must keep both sizes right.
"""

from __future__ import annotations

import io
from collections.abc import Sequence

import cv2
import numpy as np
from PIL import Image

__all__ = ["to_jpeg", "to_pdf", "to_png"]

# PDF user space unit: 1/72 inch.
_PT_PER_INCH = 72.0


def _pil(page: np.ndarray) -> Image.Image:
    """A BGR or grey uint8 array as a Pillow image (RGB or L)."""
    if page.dtype != np.uint8:
        raise ValueError(f"page must be uint8, got {page.dtype}")
    if page.ndim == 2:
        return Image.fromarray(page, "L")
    if page.ndim == 3 and page.shape[2] == 3:
        return Image.fromarray(cv2.cvtColor(page, cv2.COLOR_BGR2RGB), "RGB")
    raise ValueError(f"page must be H x W or H x W x 3, got shape {page.shape}")


def to_jpeg(page: np.ndarray, quality: int = 90, dpi: float | None = None) -> bytes:
    """`page` (BGR or grey) as JPEG bytes; `dpi` goes into the JFIF header so that image
    viewers and printers know the page's physical size."""
    if not 1 <= quality <= 100:
        raise ValueError(f"quality must be 1-100, got {quality}")
    buf = io.BytesIO()
    extra = {"dpi": (dpi, dpi)} if dpi else {}
    # 4:2:0 chroma is invisible on a scan (colour is only in stamps and photos) and a third
    # smaller; optimize costs a few ms and saves ~5 %.
    _pil(page).save(buf, "JPEG", quality=quality, optimize=True, subsampling=2, **extra)
    return buf.getvalue()


def to_png(page: np.ndarray, dpi: float | None = None) -> bytes:
    """`page` (BGR or grey) as PNG bytes, `dpi` in its pHYs chunk."""
    buf = io.BytesIO()
    extra = {"dpi": (dpi, dpi)} if dpi else {}
    _pil(page).save(buf, "PNG", **extra)
    return buf.getvalue()


def to_pdf(pages: Sequence[np.ndarray], dpi: float | Sequence[float] = 200, quality: int = 85) -> bytes:
    """One PDF with one page per image, each page's size its pixels at its `dpi` (one
    value for all, or one per page), the image JPEG-compressed at `quality`."""
    if not pages:
        raise ValueError("a PDF needs at least one page")
    dpis = [float(dpi)] * len(pages) if isinstance(dpi, int | float) else [float(d) for d in dpi]
    if len(dpis) != len(pages):
        raise ValueError(f"{len(pages)} pages but {len(dpis)} dpi values")
    if any(d <= 0 for d in dpis):
        raise ValueError(f"dpi must be positive, got {dpis}")

    objects: list[bytes] = []  # object n is objects[n - 1]

    def add(body: bytes) -> int:
        objects.append(body)
        return len(objects)

    catalog = add(b"")  # filled in once the page tree's number is known
    tree = add(b"")
    kids: list[int] = []
    for page, d in zip(pages, dpis, strict=True):
        h, w = page.shape[:2]
        jpeg = to_jpeg(page, quality)
        space = b"/DeviceGray" if page.ndim == 2 else b"/DeviceRGB"
        image = add(
            b"<< /Type /XObject /Subtype /Image /Width %d /Height %d /ColorSpace %s "
            b"/BitsPerComponent 8 /Filter /DCTDecode /Length %d >>\nstream\n%s\nendstream"
            % (w, h, space, len(jpeg), jpeg)
        )
        pw, ph = w * _PT_PER_INCH / d, h * _PT_PER_INCH / d
        draw = b"q %.3f 0 0 %.3f 0 0 cm /Im0 Do Q" % (pw, ph)
        content = add(b"<< /Length %d >>\nstream\n%s\nendstream" % (len(draw), draw))
        kids.append(
            add(
                b"<< /Type /Page /Parent %d 0 R /MediaBox [0 0 %.3f %.3f] "
                b"/Resources << /XObject << /Im0 %d 0 R >> >> /Contents %d 0 R >>"
                % (tree, pw, ph, image, content)
            )
        )
    objects[catalog - 1] = b"<< /Type /Catalog /Pages %d 0 R >>" % tree
    objects[tree - 1] = b"<< /Type /Pages /Kids [%s] /Count %d >>" % (
        b" ".join(b"%d 0 R" % k for k in kids),
        len(kids),
    )

    out = io.BytesIO()
    # The binary comment line tells transfer tools the file is not text.
    out.write(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for n, body in enumerate(objects, start=1):
        offsets.append(out.tell())
        out.write(b"%d 0 obj\n%s\nendobj\n" % (n, body))
    xref = out.tell()
    out.write(b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1))
    for off in offsets:
        out.write(b"%010d 00000 n \n" % off)
    out.write(b"trailer\n<< /Size %d /Root %d 0 R >>\n" % (len(objects) + 1, catalog))
    out.write(b"startxref\n%d\n%%%%EOF\n" % xref)
    return out.getvalue()
