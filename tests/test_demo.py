"""`yichuang demo`: the whole simulated hall comes up, its citizens use the kiosk, and it stops cleanly."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_demo_runs_the_hall_with_the_kiosk_and_prints_receipts() -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
    done = subprocess.run(
        [sys.executable, "-m", "yichuang.cli", "demo", "--duration", "14", "--speed", "4"],
        cwd=ROOT,
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=90,
    )
    out = done.stdout
    assert done.returncode == 0, done.stderr[-2000:]
    assert "Traceback" not in done.stderr, done.stderr[-2000:]
    assert re.search(r"hall display +http://127\.0\.0\.1:\d+/display", out)
    assert "kiosk          kiosk-01 (headless)" in out
    assert "叫号 called" in out  # clerks call citizens
    assert "屏 panel" in out  # the simulated LED panels follow, through the real bridge
    receipts = re.findall(r"票 receipt kiosk-01 ([A-Z]\d{3,}) -> (\S+\.png)", out)
    assert receipts, out[-3000:]  # the kiosk's citizens left with printed tickets
    assert all(Path(png).is_file() for _, png in receipts)
