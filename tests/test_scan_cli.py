"""`yichuang scan IMAGE [--out FILE]` (CONTRACT §1) run as a citizen's photo would be: a
synthetic photo whose page corners are known, and real photos from scan-real; plus the
codes it reads (docscan/codes.py)."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from importlib.util import find_spec
from pathlib import Path

import cv2
import numpy as np
import pytest
import zxingcpp
from test_scan_correct import SCAN_REAL, desk_photo, page_of_text, project_rectangle

from docscan.codes import decode_codes

ROOT = Path(__file__).resolve().parent.parent
needs_detector = pytest.mark.skipif(
    find_spec("docscan.detect") is None or find_spec("docscan.focus") is None,
    reason="docscan/detect.py and docscan/focus.py are still being written (the page detector)",
)

QR_TEXT = "https://zwfw.example.gov.cn/t/8F3K2Q"
CASE_NO = "330106202500123"


def barcode(text: str, fmt: zxingcpp.BarcodeFormat, scale: int) -> np.ndarray:
    """A code as zxing-cpp draws it (quiet zone included), BGR."""
    img = np.array(zxingcpp.write_barcode_to_image(zxingcpp.create_barcode(text, fmt), scale=scale))
    return cv2.cvtColor(img, cv2.COLOR_GRAY2BGR)


def form_with_codes() -> np.ndarray:
    """An A4 form at 150 dpi with a QR code (top right) and the case number as Code 128."""
    page = page_of_text(1240, 1754, stamp=True)
    qr = barcode(QR_TEXT, zxingcpp.BarcodeFormat.QRCode, 10)
    page[40 : 40 + qr.shape[0], 1200 - qr.shape[1] : 1200] = qr
    bar = barcode(CASE_NO, zxingcpp.BarcodeFormat.Code128, 6)
    bar = cv2.resize(bar, (bar.shape[1], 120), interpolation=cv2.INTER_NEAREST)
    page[1500 : 1500 + bar.shape[0], 100 : 100 + bar.shape[1]] = bar
    return page


def run_scan(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "yichuang.cli", "--log-level", "warning", "scan", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
    )


def one_json_line(stdout: str) -> dict[str, object]:
    lines = stdout.splitlines()
    assert len(lines) == 1, stdout
    result = json.loads(lines[0])
    assert set(result) == {"found", "corners", "sharpness", "qr"}
    assert isinstance(result["found"], bool)
    assert isinstance(result["sharpness"], float | int)
    assert isinstance(result["qr"], list) and all(isinstance(t, str) for t in result["qr"])
    return result


def assert_clockwise_from_top_left(corners: np.ndarray) -> None:
    assert corners.shape == (4, 2)
    # Clockwise on screen (y down): the shoelace sum is positive.
    x, y = corners[:, 0], corners[:, 1]
    assert float(np.sum(x * np.roll(y, -1) - np.roll(x, -1) * y)) > 0
    assert int(np.argmin(np.linalg.norm(corners, axis=1))) == 0


def image_aspect(path: Path) -> float:
    """Width over height of the image in `path`."""
    img = cv2.imread(str(path))
    assert img is not None, path
    h, w = img.shape[:2]
    return w / h


# --- codes ---------------------------------------------------------------------------------


def test_qr_codes_and_case_number_barcodes_are_read() -> None:
    sheet = np.full((700, 1400, 3), 255, np.uint8)
    qr = barcode(QR_TEXT, zxingcpp.BarcodeFormat.QRCode, 6)
    sheet[20 : 20 + qr.shape[0], 20 : 20 + qr.shape[1]] = qr
    bar = barcode(CASE_NO, zxingcpp.BarcodeFormat.Code128, 3)
    sheet[450 : 450 + bar.shape[0], 500 : 500 + bar.shape[1]] = bar
    ean = barcode("6901234567892", zxingcpp.BarcodeFormat.EAN13, 3)
    sheet[100 : 100 + ean.shape[0], 700 : 700 + ean.shape[1]] = ean
    assert sorted(decode_codes(sheet)) == sorted([QR_TEXT, CASE_NO, "6901234567892"])


def test_a_page_without_codes_reads_nothing() -> None:
    assert decode_codes(page_of_text()) == []


# --- the command ---------------------------------------------------------------------------


@needs_detector
def test_a_synthetic_photo_gives_its_corners_codes_and_an_a4_page(tmp_path: Path) -> None:
    # A document camera framing ~A3 (338 mm across the frame's height), the sheet a bit askew.
    truth = project_rectangle(
        210, 297, (0.12, -0.15, 0.08), distance_mm=470, focal_px=1500, size=(1920, 1080)
    )
    photo = desk_photo(form_with_codes(), truth, size=(1920, 1080))
    src, out = tmp_path / "photo.png", tmp_path / "page.jpg"
    cv2.imwrite(str(src), photo)
    done = run_scan(str(src), "--out", str(out))
    assert done.returncode == 0, done.stderr
    result = one_json_line(done.stdout)
    assert result["found"] is True
    corners = np.array(result["corners"], np.float64)
    assert_clockwise_from_top_left(corners)
    assert float(np.abs(corners - truth).max()) < 4.0  # image pixels of the photo
    assert isinstance(result["qr"], list) and sorted(result["qr"]) == sorted([QR_TEXT, CASE_NO])
    assert float(result["sharpness"]) > 0.5  # type: ignore[arg-type]
    page = cv2.imread(str(out))
    assert page is not None and page.shape[:2] == (2339, 1654)  # A4 portrait at 200 dpi
    # The page came out upright and clean: the title's ink is near the top, the paper white.
    gray = cv2.cvtColor(page, cv2.COLOR_BGR2GRAY)
    assert np.median(gray) >= 250
    rows = np.flatnonzero((gray < 100).sum(axis=1) > 5)
    assert rows[0] < 0.12 * gray.shape[0]


@needs_detector
@pytest.mark.parametrize(
    "name", ["breta_test1.jpg", "xlh_a4-on-dark-background.jpg", "xlh_card-on-dark-background.jpg"]
)
def test_a_real_photo_gives_its_corners_and_the_page_at_its_aspect(tmp_path: Path, name: str) -> None:
    record = next(
        r for r in json.loads((SCAN_REAL / "ground_truth.json").read_text())["images"] if r["image"] == name
    )
    out = tmp_path / "page.png"
    done = run_scan(str(SCAN_REAL / name), "--out", str(out))
    assert done.returncode == 0, done.stderr
    result = one_json_line(done.stdout)
    assert result["found"] is True
    corners = np.array(result["corners"], np.float64)
    assert_clockwise_from_top_left(corners)
    # The detector's accuracy is its own tests' business (tests/test_scan_detect.py); here:
    # the right page, in pixels of the photo as stored (a downscaled copy's coordinates
    # would be off by hundreds), in the right order.
    diagonal = float(np.hypot(record["width"], record["height"]))
    assert float(np.abs(corners - np.array(record["corners"])).max()) < 0.04 * diagonal
    expected = 210 / 297 if record["kind"] == "a4" else 85.6 / 53.98  # A4 portrait, ID-1 landscape
    assert image_aspect(out) == pytest.approx(expected, rel=0.01)


@needs_detector
def test_a_pdf_out_is_one_a4_page(tmp_path: Path) -> None:
    out = tmp_path / "page.pdf"
    done = run_scan(str(SCAN_REAL / "breta_test3.jpg"), "--out", str(out))
    assert done.returncode == 0, done.stderr
    pdf = out.read_bytes()
    boxes = re.findall(rb"/MediaBox \[0 0 ([\d.]+) ([\d.]+)\]", pdf)
    assert len(boxes) == 1
    w_mm, h_mm = (float(v) * 25.4 / 72 for v in boxes[0])
    assert (w_mm, h_mm) == (pytest.approx(210, abs=0.3), pytest.approx(297, abs=0.3))


@needs_detector
def test_an_empty_desk_is_scanned_but_nothing_is_written(tmp_path: Path) -> None:
    rng = np.random.default_rng(5)
    grain = rng.integers(0, 20, (720, 1280, 3), dtype=np.uint8)
    desk = cv2.GaussianBlur(np.full((720, 1280, 3), (70, 90, 110), np.uint8) + grain, (0, 0), 1.0)
    src, out = tmp_path / "desk.jpg", tmp_path / "page.jpg"
    cv2.imwrite(str(src), desk)
    done = run_scan(str(src), "--out", str(out))
    assert done.returncode == 0
    result = one_json_line(done.stdout)
    assert result["found"] is False and result["corners"] == []
    assert not out.exists()
    assert "no page found" in done.stderr


def test_an_unreadable_image_exits_2_with_a_message(tmp_path: Path) -> None:
    bad = tmp_path / "photo.jpg"
    bad.write_bytes(b"this is not a JPEG")
    done = run_scan(str(bad))
    assert done.returncode == 2
    assert done.stdout == ""
    assert "cannot read image" in done.stderr and str(bad) in done.stderr
    missing = run_scan(str(tmp_path / "nope.jpg"))
    assert missing.returncode == 2 and "no such file" in missing.stderr


def test_an_unknown_output_type_exits_2(tmp_path: Path) -> None:
    done = run_scan(str(SCAN_REAL / "breta_test1.jpg"), "--out", str(tmp_path / "page.tiff"))
    assert done.returncode == 2 and "unsupported output type" in done.stderr
