"""QR codes and 1D barcodes on a scanned document: the case number's Code 128 on an
acceptance notice, an EAN on a receipt, the QR of an e-licence or of an appointment.

zxing-cpp reads all of them in one pass (~15-35 ms on a 1280x720 frame). Where it has no
wheel (32-bit Raspberry Pi OS) only QR codes can be read, through `kiosk.qr_scan`'s OpenCV
path; 1D barcodes are then missed, and `available_formats()` says so.
"""

from __future__ import annotations

import importlib.util
import logging
from typing import Any

import numpy as np

__all__ = ["available_formats", "decode_codes"]

log = logging.getLogger(__name__)

_zxingcpp: Any = None
if importlib.util.find_spec("zxingcpp") is not None:
    import zxingcpp as _zxingcpp

# What a government document carries: QR (and its micro/rectangular variants), the 1D
# symbologies of case numbers and goods (Code 128, Code 39, Code 93, EAN/UPC, ITF),
# PDF417 (some licences and boarding passes) and Data Matrix (parcel labels). Leaving
# the rest out saves time and avoids false reads of exotic codes in printed patterns.
_FORMAT_NAMES = (
    "QRCode",
    "MicroQRCode",
    "RMQRCode",
    "Code128",
    "Code39",
    "Code93",
    "EAN13",
    "EAN8",
    "UPCA",
    "UPCE",
    "ITF",
    "PDF417",
    "DataMatrix",
)


def _formats() -> Any:
    """The formats argument for `read_barcodes`: a list for zxing-cpp 3 (which deprecates
    `|` on formats), the `|`-combined flags for zxing-cpp 2."""
    found = [f for f in (getattr(_zxingcpp.BarcodeFormat, n, None) for n in _FORMAT_NAMES) if f is not None]
    try:
        _zxingcpp.read_barcodes(np.zeros((8, 8), np.uint8), formats=found)
        return found
    except TypeError:
        combined = found[0]
        for f in found[1:]:
            combined = combined | f
        return combined


_FORMATS: Any = _formats() if _zxingcpp is not None else None


def available_formats() -> tuple[str, ...]:
    """The symbologies `decode_codes` can read on this machine."""
    if _zxingcpp is None:
        return ("QRCode",)
    return tuple(n for n in _FORMAT_NAMES if getattr(_zxingcpp.BarcodeFormat, n, None) is not None)


def decode_codes(image_bgr: np.ndarray) -> list[str]:
    """The texts of the QR codes and barcodes readable in `image_bgr` (BGR or grey,
    uint8), each text once, in the order found; empty when there is none."""
    if _zxingcpp is None:
        from kiosk.qr_scan import decode_qr

        return decode_qr(image_bgr, backend="opencv")
    if image_bgr.dtype != np.uint8:
        raise ValueError(f"image must be uint8, got {image_bgr.dtype}")
    image = np.ascontiguousarray(image_bgr)
    # Only codes whose check digits / error correction verify are returned (zxing-cpp's
    # default), so a ruled table or a line of text does not come back as a barcode.
    results = _zxingcpp.read_barcodes(image, formats=_FORMATS)
    texts = [r.text for r in results if r.valid and r.text]
    log.debug("event=codes_decoded count=%d", len(texts))
    return list(dict.fromkeys(texts))
