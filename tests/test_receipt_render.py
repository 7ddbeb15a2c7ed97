"""The simulated printer's paper: a ticket rendered at 576 dots, its QR readable by a camera."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import cv2
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from firmware_bridge.codecs.escpos import parse
from hw_sim.receipt_render import MAX_HEIGHT, PAPER_DOTS, TextLine, layout_receipt, render_receipt
from kiosk.receipt import TicketReceipt, receipt_bytes

CST = timezone(timedelta(hours=8))
URL = "http://10.20.0.5:8080/t/Xk3v9QpLm2Rt"


def ticket(language: str = "zh", url: str = URL) -> TicketReceipt:
    return TicketReceipt(
        hall_name="青浦区政务服务中心",
        number="A012",
        service_name="不动产登记" if language == "zh" else "Real estate registration",
        ahead=3,
        ewt_s=900,
        issued_at=datetime(2026, 11, 22, 9, 5, tzinfo=CST),
        status_url=url,
        language=language,
        priority="green",
    )


def decode_qr(image: Image.Image) -> str:
    """The QR text as OpenCV reads it off the image ("" when it finds none).

    The classic `QRCodeDetector` misses some valid symbols outright (this module's URL among
    them: the same symbol drawn by `qrcode` itself fails at most quiet-zone widths), so the
    ArUco-based detector, also OpenCV's own, gets a second look.
    """
    gray = np.array(image.convert("L"))
    text, _, _ = cv2.QRCodeDetector().detectAndDecode(gray)
    if not text:
        text, _, _ = cv2.QRCodeDetectorAruco().detectAndDecode(gray)
    return str(text)


@pytest.mark.parametrize("language", ["zh", "en"])
@pytest.mark.parametrize("token", ["Xk3v9QpLm2Rt", "abc", "0123456789abcdefABCDEF_-"])
def test_a_rendered_ticket_is_576_dots_wide_and_its_qr_scans_to_the_status_url(
    language: str, token: str
) -> None:
    url = f"http://10.20.0.5:8080/t/{token}"
    image = render_receipt(parse(receipt_bytes(ticket(language, url))))
    assert image.width == PAPER_DOTS == 576
    assert 900 < image.height < 1500  # about 12-18 cm of paper
    assert decode_qr(image) == url


def test_the_ticket_layout_reads_back_as_text() -> None:
    layout = layout_receipt(parse(receipt_bytes(ticket())))
    assert layout.lines[:4] == ["青浦区政务服务中心", "-" * 48, "【绿色通道】", "A012"]
    assert "预计等候约 15 分钟" in layout.lines
    assert layout.qr_texts == [URL]
    text_lines = [b for b in layout.blocks if isinstance(b, TextLine)]
    number = next(line for line in text_lines if line.text == "A012")
    assert [(g.width, g.height) for g in number.glyphs] == [(96, 192)] * 4  # font A 12x24, 8 times
    hall = text_lines[0]
    assert hall.glyphs[0].width == 24 and hall.glyphs[0].bold  # a Chinese character is 24 dots


def test_the_number_is_printed_in_black_across_the_middle_of_the_paper() -> None:
    image = render_receipt(parse(receipt_bytes(ticket())))
    ink = np.array(image) < 128
    bands: list[tuple[int, int]] = []  # runs of rows with ink: the printed lines
    start: int | None = None
    inked = [bool(ink[y].any()) for y in range(ink.shape[0])]
    for y, has_ink in enumerate([*inked, False]):
        if has_ink and start is None:
            start = y
        elif not has_ink and start is not None:
            bands.append((start, y))
            start = None
    top, bottom = max(bands, key=lambda band: band[1] - band[0])  # the tallest: the number
    assert 150 < bottom - top <= 192 + 24  # 8 times the 24-dot font
    columns = np.flatnonzero(ink[top:bottom].any(axis=0))
    assert columns.min() > 60 and columns.max() < 576 - 60  # centred, nothing clipped
    assert abs((columns.min() + columns.max()) / 2 - 288) < 20


def test_a_line_longer_than_the_paper_wraps_like_on_the_printer() -> None:
    layout = layout_receipt(parse(b"\x1b@" + b"x" * 60 + b"\n\x1c&" + "汉字".encode("gb18030") * 15 + b"\n"))
    assert layout.lines == ["x" * 48, "x" * 12, "汉字" * 12, "汉字" * 3]


def test_qr_size_and_error_correction_follow_the_stream() -> None:
    def qr(size: int, level: int) -> bytes:
        store = b"\x1d(k" + (len(URL) + 3).to_bytes(2, "little") + b"1P0" + URL.encode()
        return (
            b"\x1d(k\x03\x001C"
            + bytes((size,))
            + b"\x1d(k\x03\x001E"
            + bytes((level,))
            + store
            + b"\x1d(k\x03\x001Q0"
        )

    small = render_receipt(parse(qr(3, 48)), margin=0)  # 29 modules of 3 dots, level L
    large = render_receipt(parse(qr(8, 51)), margin=0)  # level H needs more modules
    assert small.height == 29 * 3
    assert large.height > 29 * 8 and large.height % 8 == 0
    assert decode_qr(_with_quiet_zone(large)) == URL


def _with_quiet_zone(image: Image.Image) -> Image.Image:
    framed = Image.new("L", (image.width, image.height + 80), 255)
    framed.paste(image, (0, 40))
    return framed


def test_an_endless_feed_is_cut_off_at_the_height_limit() -> None:
    layout = layout_receipt(parse(b"\x1bd\xff" * 1000))
    assert layout.truncated and layout.height <= MAX_HEIGHT


@settings(max_examples=60, deadline=None)
@given(st.binary(max_size=400))
def test_garbage_renders_without_raising(data: bytes) -> None:
    image = render_receipt(parse(data))
    assert image.width == 576
