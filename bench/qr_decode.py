"""QR decoding on kiosk camera frames: time per 1280x720 frame and decode rate by module size.

    .venv/bin/python bench/qr_decode.py [--frames 300] [--empty 60] [--backend all|zxing|opencv]

Frames come from the virtual camera (`hw_sim.virtual_camera.qr_frames`, seeded): a phone or
a printed slip, 3-8 px per QR module (+-0.2), any rotation, tilt up to 12 deg, random hall
light, every desk texture, MJPG compression on half. Empty-desk frames are timed apart: at
the kiosk most frames show no code, so their cost is what the preview loop pays.

Runs on one core (affinity pinned, OpenCV's thread pool off), as the decoder would on a
Pi whose other cores draw the screen. What it does NOT include: the camera's own capture
and conversion, and real optics (a real lens blurs differently and a phone screen may
moire); the figures are for this machine, a Raspberry Pi 4 is roughly 4-6x slower.
"""

from __future__ import annotations

import argparse
import platform
import sys
import time
from collections import defaultdict
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from _stats import pin_one_core  # noqa: E402

from hw_sim.desk_scene import TEXTURES  # noqa: E402
from hw_sim.virtual_camera import VirtualCamera, qr_frames  # noqa: E402
from kiosk.qr_scan import Backend, available_backends, decode_qr  # noqa: E402


def _ms(samples: list[float]) -> str:
    a = np.array(samples) * 1e3
    return f"p50 {np.percentile(a, 50):6.1f} ms   p95 {np.percentile(a, 95):6.1f} ms   max {a.max():6.1f} ms"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--frames", type=int, default=300, help="frames with a code (default 300)")
    ap.add_argument("--empty", type=int, default=60, help="empty-desk frames (default 60)")
    ap.add_argument("--backend", default="all", choices=["all", "zxing", "opencv"])
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()

    pinned = pin_one_core()
    backends: list[Backend] = list(available_backends()) if args.backend == "all" else [args.backend]
    print(f"python {platform.python_version()}  opencv {cv2.__version__}  {platform.machine()}  {pinned}")
    print(f"backends: {', '.join(backends)} (available: {', '.join(available_backends())})")

    t0 = time.perf_counter()
    coded = list(qr_frames(args.frames, seed=args.seed))
    empty = []
    for i in range(args.empty):
        cam = VirtualCamera(seed=args.seed * 1000 + i, texture=TEXTURES[i % len(TEXTURES)], jpeg_quality=85)
        frame = cam.read()
        assert frame is not None
        empty.append(frame)
    made = time.perf_counter() - t0
    print(f"{len(coded)} frames with a code, {len(empty)} empty, 1280x720, made in {made:.1f} s")

    for backend in backends:
        decode_qr(coded[0][0], backend)  # warm up: first call builds the detectors
        by_size: dict[int, list[int]] = defaultdict(lambda: [0, 0])
        by_kind: dict[str, list[int]] = defaultdict(lambda: [0, 0])
        times: list[float] = []
        wrong = 0
        for frame, truth in coded:
            t = time.perf_counter()
            texts = decode_qr(frame, backend)
            times.append(time.perf_counter() - t)
            right = texts == [truth.qr_text]
            wrong += bool(texts) and not right
            size = round(truth.module_px or 0)
            by_size[size][0] += right
            by_size[size][1] += 1
            by_kind[truth.kind or "?"][0] += right
            by_kind[truth.kind or "?"][1] += 1
        empty_times: list[float] = []
        false = 0
        for frame in empty:
            t = time.perf_counter()
            false += bool(decode_qr(frame, backend))
            empty_times.append(time.perf_counter() - t)
        total = sum(v[0] for v in by_size.values())
        print(f"\n== {backend}")
        print(f"  frame with a code: {_ms(times)}")
        print(f"  empty desk:        {_ms(empty_times)}")
        rate = total / len(coded)
        print(f"  decoded {total}/{len(coded)} = {rate:.1%}; wrong text {wrong}; false on empty {false}")
        for size in sorted(by_size):
            ok, n = by_size[size]
            print(f"    {size} px/module: {ok:3d}/{n:3d} = {ok / n:6.1%}")
        for kind in sorted(by_kind):
            ok, n = by_kind[kind]
            print(f"    {kind:5s}:        {ok:3d}/{n:3d} = {ok / n:6.1%}")

    # What the kiosk preview pays for the simulator itself (read() per frame).
    cam = VirtualCamera(seed=args.seed, texture="wood", jpeg_quality=None)
    for kind, mp in (("phone", 6.0), ("paper", 4.0)):
        cam.hold_qr("YC:APPT:20250521A1B2C3", module_px=mp, rotation_deg=20, kind=kind)  # type: ignore[arg-type]
        render = []
        for _ in range(60):
            t = time.perf_counter()
            cam.read()
            render.append(time.perf_counter() - t)
        print(f"\nvirtual camera read(), {kind} {mp:g} px/module: {_ms(render)}")


if __name__ == "__main__":
    main()
