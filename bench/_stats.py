"""What the benchmarks share: percentiles and pinning to one core."""

from __future__ import annotations

import math
import os


def percentile(values: list[float], q: float) -> float:
    """The nearest-rank `q`-th percentile (0-100) of `values`; NaN for none."""
    if not values:
        return math.nan
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


def pin_one_core() -> str:
    """Run this process (and OpenCV) on one core, as the targets are stated; says which."""
    try:
        import cv2

        cv2.setNumThreads(1)
    except ImportError:
        pass
    if hasattr(os, "sched_setaffinity"):
        cpu = min(os.sched_getaffinity(0))
        os.sched_setaffinity(0, {cpu})
        return f"cpu {cpu}"
    return "not pinned"
