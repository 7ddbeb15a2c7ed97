"""The whole document pipeline on one photo (`docscan.pipeline.scan_image`): codes read on
the frame and, again, on the straightened page."""

from __future__ import annotations

import numpy as np
import pytest

from docscan.pipeline import scan_image
from kiosk.qr_scan import decode_qr


def _bench_frame(index: int, seed: int) -> tuple[np.ndarray, str]:
    scan_dataset = pytest.importorskip("hw_sim.scan_dataset")
    sample = scan_dataset.render_plan(scan_dataset.scan_plan(index + 1, seed)[index], seed, (1280, 720))
    assert sample.truth.qr_text
    return sample.image, sample.truth.qr_text


def test_a_small_tilted_code_unread_on_the_frame_is_read_on_the_straightened_page() -> None:
    # Seed 2026 frame 339: an A4 form on a tablecloth, its QR at 4 px per module, tilted.
    image, text = _bench_frame(339, 2026)
    assert text not in decode_qr(image)
    result = scan_image(image)
    assert result.found
    assert text in result.qr
    assert result.qr.count(text) == 1
    assert "page_codes" in result.timings_ms


def test_a_code_read_on_the_frame_is_reported_once() -> None:
    # Seed 2026 frame 55: an A5 form on dark wood with a QR the frame already reads.
    image, text = _bench_frame(55, 2026)
    assert text in decode_qr(image)
    assert scan_image(image).qr.count(text) == 1
