"""The kiosk's scan session with the camera's scale at the desk (`[[kiosk]] camera_px_per_mm`):
an A5 and an A4 have the same aspect, so only the scale tells them apart.

The virtual camera lays each page at a chosen fraction of the frame; here both sizes lie at
about 2 px/mm (an A5's long side 432 px, an A4's 612 px in a 720 px high frame), the scale
the session is told.
"""

from __future__ import annotations

import dataclasses
import logging
from pathlib import Path

import pytest

from docscan.correct import PAGE_SIZES_MM
from hw_sim.desk_scene import PageKind
from hw_sim.virtual_camera import VirtualCamera
from kiosk.scanning import ScanSession
from yichuang.config import load_config

EXAMPLE = Path(__file__).resolve().parents[1] / "config" / "hall.example.toml"
SCALE = 2.0  # px/mm, what the kiosk's config says
FILL = {"a5": 0.6, "a4": 0.85}  # of the 720 px frame height: both pages at ~2.06 px/mm


def _pixels(kind: str, dpi: int = 200) -> tuple[int, int]:
    """(height, width) of a portrait page of `kind` warped at `dpi`."""
    short_mm, long_mm = PAGE_SIZES_MM[kind]
    return round(long_mm / 25.4 * dpi), round(short_mm / 25.4 * dpi)


def _capture(
    kind: PageKind, px_per_mm: float | None, caplog: pytest.LogCaptureFixture
) -> tuple[str, tuple[int, int]]:
    """Lay a page of `kind` under the camera until the session captures it: the kind it
    logged and the captured page's (height, width)."""
    camera = VirtualCamera(size=(1280, 720), seed=5)
    truth = camera.lay_page(kind, text_seed=1, fill=FILL[kind])
    assert truth.page is not None
    session = ScanSession(px_per_mm=px_per_mm)
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="kiosk.scanning"):
        now = 0.0
        while session.pages == 0 and now < 4.0:
            session.process(camera.read(), now)
            now += 1 / 30
    assert session.pages == 1, f"no {kind} captured in 4 s"
    (message,) = [r.getMessage() for r in caplog.records if "page captured" in r.getMessage()]
    logged = message.split("kind=", 1)[1].split()[0]
    (page, dpi) = session._pages[0]
    assert dpi == 200
    return logged, (page.shape[0], page.shape[1])


def test_an_a5_is_told_from_an_a4_when_the_scale_is_known(caplog: pytest.LogCaptureFixture) -> None:
    assert _capture("a5", SCALE, caplog) == ("a5", _pixels("a5"))  # 1654 x 1165 px
    assert _capture("a4", SCALE, caplog) == ("a4", _pixels("a4"))  # 2339 x 1654 px


def test_without_the_scale_an_a5_is_taken_for_an_a4(caplog: pytest.LogCaptureFixture) -> None:
    assert _capture("a5", None, caplog) == ("a4", _pixels("a4"))
    assert ScanSession(px_per_mm=0.0).px_per_mm is None  # the config's "unknown"


@pytest.mark.parametrize("scale", [2.0, 0.0])
def test_the_kiosk_hands_its_configured_scale_to_the_scan_session(scale: float) -> None:
    from kiosk.app import KioskApp

    config = load_config(EXAMPLE)
    kiosks = tuple(
        dataclasses.replace(k, camera_px_per_mm=scale) if k.id == "kiosk-01" else k for k in config.kiosks
    )
    config = dataclasses.replace(config, kiosks=kiosks)
    app = KioskApp(config, "kiosk-01", printer=None, camera=VirtualCamera(size=(64, 48)))
    assert app.scanner is not None
    assert app.scanner.px_per_mm == (scale or None)
