"""Scanned pages to files (docscan/output.py): a JPEG that decodes to the page, and one PDF
per batch whose pages print at the paper's real size."""

from __future__ import annotations

import io
import re

import cv2
import numpy as np
import pytest
from PIL import Image

from docscan.output import to_jpeg, to_pdf, to_png

MM_PER_PT = 25.4 / 72.0


def a_page(height: int, width: int, grey: bool = False) -> np.ndarray:
    rng = np.random.default_rng(height)
    page = np.full((height, width, 3), 255, np.uint8)
    for _ in range(40):
        y, x = int(rng.integers(0, height - 10)), int(rng.integers(0, width - 100))
        cv2.rectangle(page, (x, y), (x + 90, y + 6), (20, 20, 20), -1)
    cv2.circle(page, (width // 2, height // 2), min(width, height) // 6, (40, 40, 220), 5)
    return cv2.cvtColor(page, cv2.COLOR_BGR2GRAY) if grey else page


def pdf_pages(pdf: bytes) -> list[tuple[float, float]]:
    """(width, height) in mm of each page of a PDF, from its MediaBoxes."""
    boxes = re.findall(rb"/Type /Page /Parent \d+ 0 R /MediaBox \[0 0 ([\d.]+) ([\d.]+)\]", pdf)
    return [(float(w) * MM_PER_PT, float(h) * MM_PER_PT) for w, h in boxes]


def test_a_jpeg_decodes_to_the_page_with_its_resolution() -> None:
    page = a_page(2339, 1654)
    data = to_jpeg(page, quality=90, dpi=200)
    back = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    assert back is not None and back.shape == page.shape
    assert float(np.abs(back.astype(int) - page).mean()) < 3.0
    assert Image.open(io.BytesIO(data)).info["dpi"] == pytest.approx((200, 200))


def test_a_lower_quality_jpeg_is_smaller() -> None:
    page = a_page(1169, 827)
    assert len(to_jpeg(page, quality=50)) < len(to_jpeg(page, quality=95))
    with pytest.raises(ValueError):
        to_jpeg(page, quality=0)


def test_a_png_is_lossless_and_a_grey_page_stays_grey() -> None:
    page = a_page(600, 400, grey=True)
    back = cv2.imdecode(np.frombuffer(to_png(page, dpi=150), np.uint8), cv2.IMREAD_UNCHANGED)
    assert back is not None and back.ndim == 2 and np.array_equal(back, page)


def test_a_batch_is_one_pdf_with_each_page_at_its_real_size() -> None:
    a4 = a_page(2339, 1654)  # A4 portrait at 200 dpi
    form_landscape = a_page(1654, 2339)  # an A4 form printed landscape
    id_card = a_page(638, 1011)  # ID-1 at 300 dpi
    receipt = a_page(1575, 630, grey=True)  # an 80 mm receipt, 200 mm long, at 200 dpi
    pdf = to_pdf([a4, form_landscape, id_card, receipt], dpi=[200, 200, 300, 200])
    assert pdf.startswith(b"%PDF-1.4") and pdf.rstrip().endswith(b"%%EOF")
    assert re.search(rb"/Type /Pages /Kids \[[^\]]*\] /Count 4", pdf)
    sizes = pdf_pages(pdf)
    assert len(sizes) == 4
    expected = [(210, 297), (297, 210), (85.6, 54.0), (80, 200)]
    for (w, h), (ew, eh) in zip(sizes, expected, strict=True):
        assert w == pytest.approx(ew, abs=0.3) and h == pytest.approx(eh, abs=0.3)


def test_the_pdf_cross_reference_points_at_its_objects() -> None:
    pdf = to_pdf([a_page(400, 300), a_page(300, 400)], dpi=100)
    start = int(re.search(rb"startxref\n(\d+)\n", pdf).group(1))  # type: ignore[union-attr]
    table = pdf[start:].split(b"trailer")[0].split(b"\n")
    assert table[0] == b"xref"
    count = int(table[1].split()[1])
    offsets = [int(line[:10]) for line in table[3 : 3 + count - 1]]
    for n, offset in enumerate(offsets, start=1):
        assert pdf[offset:].startswith(b"%d 0 obj" % n)


def test_each_pdf_page_carries_its_image_as_jpeg() -> None:
    page = a_page(500, 350)
    pdf = to_pdf([page], dpi=100)
    start = pdf.index(b"stream\n", pdf.index(b"/Subtype /Image")) + len(b"stream\n")
    length = int(re.search(rb"/Subtype /Image .*?/Length (\d+)", pdf).group(1))  # type: ignore[union-attr]
    back = cv2.imdecode(np.frombuffer(pdf[start : start + length], np.uint8), cv2.IMREAD_COLOR)
    assert back is not None and back.shape == page.shape


def test_a_pdf_needs_pages_and_one_dpi_per_page() -> None:
    with pytest.raises(ValueError):
        to_pdf([])
    with pytest.raises(ValueError):
        to_pdf([a_page(100, 100)], dpi=[200, 300])
