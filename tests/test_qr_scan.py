"""Appointment check-in by QR code: decoding what the kiosk camera sees, and reporting each
presentation of a code once."""

from __future__ import annotations

from collections import Counter

import cv2
import numpy as np
import pytest

from hw_sim.desk_scene import TEXTURES, Lighting
from hw_sim.virtual_camera import SceneTruth, VirtualCamera, qr_frames
from kiosk.qr_scan import QrWatcher, available_backends, decode_qr

BACKENDS = available_backends()
APPT = "YC:APPT:20250521A1B2C3"


@pytest.fixture(scope="module")
def presentations() -> list[tuple[np.ndarray, SceneTruth]]:
    """102 seeded frames: 3-8 px per module, every rotation, phone and paper, every desk,
    random hall light, MJPG on half of them."""
    return list(qr_frames(102, seed=2024, module_px=(3, 4, 5, 6, 7, 8)))


@pytest.mark.parametrize("backend", BACKENDS)
def test_codes_of_3_px_per_module_and_up_decode_in_99_percent_of_frames(
    backend: str, presentations: list[tuple[np.ndarray, SceneTruth]]
) -> None:
    misses = [
        (truth.kind, round(truth.module_px or 0, 1), round(truth.rotation_deg or 0), truth.frame_index)
        for frame, truth in presentations
        if decode_qr(frame, backend) != [truth.qr_text]  # type: ignore[arg-type]
    ]
    rate = 1 - len(misses) / len(presentations)
    assert rate >= 0.99, f"{backend}: {rate:.1%} decoded; missed {misses}"


def test_the_set_covers_sizes_kinds_and_rotations(presentations: list[tuple[np.ndarray, SceneTruth]]) -> None:
    truths = [t for _, t in presentations]
    assert Counter(round(t.module_px or 0) for t in truths) == {m: 17 for m in range(3, 9)}
    kinds = Counter(t.kind for t in truths)
    assert kinds["phone"] >= 35 and kinds["paper"] >= 35
    quadrants = Counter(int(((t.rotation_deg or 0) + 180) // 90) % 4 for t in truths)
    assert len(quadrants) == 4 and min(quadrants.values()) >= 12
    assert {t.texture for t in truths} == set(TEXTURES)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("kind", ["phone", "paper"])
@pytest.mark.parametrize(
    "lighting",
    [
        Lighting(level=0.45, gradient=0.3, vignette=0.3, screen=0.6),  # a dim corner of the hall
        Lighting(level=1.3, gradient=0.1, vignette=0.1, screen=1.0),  # sun on the desk
        Lighting(level=0.9, gradient=0.6, angle_deg=0, vignette=0.25),  # one lamp to the side
    ],
    ids=["dim", "bright", "uneven"],
)
def test_small_rotated_codes_decode_in_any_hall_light(backend: str, kind: str, lighting: Lighting) -> None:
    cam = VirtualCamera(seed=8, lighting=lighting, jpeg_quality=85)
    for i, (mp, rot) in enumerate([(3, 45), (3.5, -120), (4, 170)]):
        cam.hold_qr(f"{APPT}{i}", module_px=mp, where=(0.3 + 0.2 * i, 0.5), rotation_deg=rot, kind=kind)  # type: ignore[arg-type]
        frame = cam.read()
        assert frame is not None
        assert decode_qr(frame, backend) == [f"{APPT}{i}"], (mp, rot)  # type: ignore[arg-type]


@pytest.mark.parametrize("backend", BACKENDS)
def test_empty_desks_never_decode_a_code(backend: str) -> None:
    found = []
    for seed in range(8):
        texture = TEXTURES[seed % len(TEXTURES)]
        cam = VirtualCamera(seed=seed, texture=texture, jpeg_quality=80 if seed % 2 else None)
        for _ in range(2):
            frame = cam.read()
            assert frame is not None
            texts = decode_qr(frame, backend)  # type: ignore[arg-type]
            if texts:
                found.append((seed, texture, texts))
    assert not found


@pytest.mark.parametrize("backend", BACKENDS)
def test_chinese_text_in_a_code_decodes_as_utf8(backend: str) -> None:
    cam = VirtualCamera(seed=3, texture="plain")
    cam.hold_qr("预约取号 A012 政务服务大厅", module_px=5, rotation_deg=12, kind="paper")
    frame = cam.read()
    assert frame is not None
    assert decode_qr(frame, backend) == ["预约取号 A012 政务服务大厅"]  # type: ignore[arg-type]


def test_decode_accepts_grey_frames_and_refuses_other_shapes() -> None:
    cam = VirtualCamera((640, 480), seed=1, texture="plain")
    cam.hold_qr(APPT, module_px=5, kind="paper")
    frame = cam.read()
    assert frame is not None
    assert decode_qr(cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY)) == [APPT]
    with pytest.raises(ValueError, match="uint8"):
        decode_qr(frame.astype(np.float32))
    with pytest.raises(ValueError, match="shape"):
        decode_qr(np.zeros((4, 4, 4), np.uint8))
    with pytest.raises(ValueError, match="backend"):
        decode_qr(frame, "zbar")  # type: ignore[arg-type]


# --- QrWatcher: one check-in per presentation --------------------------------------------


def test_phone_held_still_checks_in_once() -> None:
    watcher = QrWatcher()
    reported = [watcher.update([APPT], now=i / 15) for i in range(15 * 10)]  # 10 s at 15 fps
    assert reported[0] == [APPT]
    assert all(r == [] for r in reported[1:])


def test_frames_where_the_code_was_not_read_do_not_count_as_taking_it_away() -> None:
    watcher = QrWatcher(forget_after_s=2.0)
    assert watcher.update([APPT], now=0.0) == [APPT]
    assert watcher.update([], now=1.0) == []  # glare: not read for 1.9 s
    assert watcher.update([APPT], now=1.9) == []
    assert watcher.update([], now=3.5) == []
    assert watcher.update([APPT], now=3.8) == []
    assert watcher.in_view(now=3.8) == [APPT]


def test_code_shown_again_after_two_seconds_away_is_reported_again() -> None:
    watcher = QrWatcher(forget_after_s=2.0)
    assert watcher.update([APPT], now=10.0) == [APPT]
    assert watcher.update([], now=11.0) == []
    assert watcher.in_view(now=12.5) == []
    assert watcher.update([APPT], now=12.1) == [APPT]


def test_two_citizens_codes_are_each_reported_once() -> None:
    other = "YC:APPT:20250521FFFFFF"
    watcher = QrWatcher()
    assert watcher.update([APPT], now=0.0) == [APPT]
    assert watcher.update([APPT, other, other], now=0.5) == [other]
    assert watcher.update([other, APPT], now=1.0) == []


def test_leaving_the_check_in_screen_forgets_the_codes() -> None:
    watcher = QrWatcher()
    watcher.update([APPT], now=0.0)
    watcher.reset()
    assert watcher.update([APPT], now=0.1) == [APPT]


def test_a_frame_processed_late_does_not_make_a_code_look_older() -> None:
    watcher = QrWatcher(forget_after_s=2.0)
    watcher.update([APPT], now=5.0)
    watcher.update([APPT], now=4.0)  # from a slower decode thread
    assert watcher.update([APPT], now=6.5) == []


def test_forget_after_must_be_positive() -> None:
    with pytest.raises(ValueError, match="positive"):
        QrWatcher(forget_after_s=0)


def test_camera_decoder_and_watcher_check_a_citizen_in_once_per_presentation() -> None:
    """15 fps: the phone is held for 3 s, taken away for 3 s, shown again for 2 s."""
    cam = VirtualCamera((1280, 720), seed=21, texture="wood", jpeg_quality=85)
    watcher = QrWatcher()
    check_ins: list[tuple[float, str]] = []
    fps = 15
    timeline = [("hold", 3.0), ("away", 3.0), ("hold", 2.0)]
    n = 0
    for what, seconds in timeline:
        if what == "hold":
            cam.hold_qr(APPT, module_px=4, where=(0.5, 0.55), rotation_deg=-20, kind="phone")
        else:
            cam.clear()
        for _ in range(round(seconds * fps)):
            frame = cam.read()
            assert frame is not None
            t = n / fps
            check_ins += [(t, text) for text in watcher.update(decode_qr(frame), now=t)]
            n += 1
    assert [text for _, text in check_ins] == [APPT, APPT]
    assert check_ins[0][0] < 0.2 and 5.99 <= check_ins[1][0] < 6.2
