"""The hall display drawn by real pygame (SDL_VIDEODRIVER=dummy), compared with reference screenshots.

The references are `tests/reference/display-{landscape,portrait}.png`, a realistic hall (the
example config) at 1920x1080 and 1080x1920. A frame may differ from its reference by a little
anti-aliasing (a font or SDL update) but not by a moved or missing element. After a deliberate
change of the layout, look at the new pictures, then regenerate them and the README's copies:

    YC_UPDATE_DISPLAY_REFERENCE=1 .venv/bin/python -m pytest tests/test_display_render.py

(the variable is read by this test module only).
"""

from __future__ import annotations

import os
from datetime import datetime
from pathlib import Path

import numpy as np
import pytest

os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")

import pygame
from helpers.halls import TZ
from helpers.server import EXAMPLE

from displays.render import HallRenderer
from displays.view_model import Call, HallModel
from yichuang.config import load_config

ROOT = Path(__file__).resolve().parents[1]
REFERENCE = ROOT / "tests" / "reference"
DOCS_IMG = ROOT / "docs" / "img"
UPDATE = os.environ.get("YC_UPDATE_DISPLAY_REFERENCE") == "1"
WALL = datetime(2026, 11, 23, 9, 41, tzinfo=TZ)
STATUSES = ("calling", "serving", "serving", "idle", "paused", "calling", "serving", "closed", "serving",
            "idle", "serving", "calling")  # fmt: skip


def busy_hall() -> HallModel:
    """The example hall mid-morning: eleven windows open, one paused for lunch, queues at every service."""
    config = load_config(EXAMPLE)
    model = HallModel(config, config.displays[0])
    model.set_link(connected=True)
    called = []
    for i, (w, status) in enumerate(zip(config.windows, STATUSES, strict=False)):
        service = config.service(w.services[0])
        assert service is not None
        ticket = f"{service.prefix}{20 + i:03d}" if status in ("calling", "serving") else None
        state = {"window": w.id, "label": w.label, "label_en": w.label_en, "status": status, "ticket": ticket}
        if status == "paused":
            state["reason"] = "午休"
        model.apply_state(f"state/window/{w.id}", state)
        if ticket:
            called.append(
                {"ticket": ticket, "window": w.id, "label": w.label, "at": f"2026-11-23T09:{10 + i}:00+08:00"}
            )
    for j, s in enumerate(config.services):
        ewt = (j * 311) % 2400 if j % 4 else None
        model.apply_state(f"state/queue/{s.id}", {"service": s.id, "name": s.name, "name_en": s.name_en,
                                                  "waiting": (j * 7) % 13, "ewt_s": ewt})  # fmt: skip
    model.apply_state("state/calls", {"recent": called[::-1][:10]})
    return model


def draw(model: HallModel, size: tuple[int, int], now: float) -> pygame.Surface:
    surface = pygame.Surface(size)
    HallRenderer(size).draw(surface, model.screen(now, WALL), now)
    return surface


def compare(surface: pygame.Surface, name: str) -> None:
    path = REFERENCE / f"{name}.png"
    if UPDATE or not path.exists():
        REFERENCE.mkdir(parents=True, exist_ok=True)
        pygame.image.save(surface, str(path))
        pygame.image.save(surface, str(DOCS_IMG / f"{name}.png"))
        if not UPDATE:
            pytest.fail(f"{path} did not exist: written; look at it and run again")
        return
    got = pygame.surfarray.array3d(surface).astype(np.int16)
    want = pygame.surfarray.array3d(pygame.image.load(str(path))).astype(np.int16)
    assert got.shape == want.shape, f"{name}: size {got.shape[:2]} vs reference {want.shape[:2]}"
    diff = np.abs(got - want).max(axis=2)
    changed = float((diff > 48).mean())
    if changed > 0.004 or float(diff.mean()) > 1.5:
        pygame.image.save(surface, str(path.with_name(f"{name}.actual.png")))
        pytest.fail(
            f"{name}: {changed:.2%} of pixels differ from {path} (mean {diff.mean():.2f}); "
            f"see {name}.actual.png beside it"
        )


@pytest.fixture(scope="module", autouse=True)
def _pygame():
    pygame.display.init()
    yield
    pygame.display.quit()


@pytest.mark.parametrize(
    ("size", "name"), [((1920, 1080), "display-landscape"), ((1080, 1920), "display-portrait")]
)
def test_busy_hall_looks_like_its_reference(size, name):
    model = busy_hall()
    model.apply_call(Call("A031", "w03", "3号窗口", "Window 3", "2026-11-23T09:41:00+08:00"), now=100.0)
    compare(draw(model, size, 100.1), name)  # the new call, in the lit half of its blink


def test_a_hall_before_the_first_call_and_offline_looks_like_its_reference():
    config = load_config(EXAMPLE)
    model = HallModel(config, config.displays[0])  # nothing received: broker or server not there yet
    compare(draw(model, (1920, 1080), 0.0), "display-empty")


def test_frames_are_deterministic_and_the_new_call_blinks():
    # frame time is measured by bench/display_latency.py, not here: a shared CI machine's
    # timing says nothing; what a test can check is that the same moment draws the same
    # picture and that the newest call really blinks
    model = busy_hall()
    renderer = HallRenderer((1920, 1080))
    shots = []
    for now in (100.0, 100.0, 100.3, 100.8):
        surface = pygame.Surface((1920, 1080))
        renderer.draw(surface, model.screen(now, WALL), now)
        shots.append(pygame.image.tobytes(surface, "RGB"))
    assert shots[0] == shots[1]
    assert len({shots[0], shots[2], shots[3]}) >= 2  # blinking changes the picture within a second
