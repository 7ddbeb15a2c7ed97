"""Estimated waiting time from recent handling times and the windows open for a service."""

from __future__ import annotations

import math
import statistics
from collections import deque
from collections.abc import Iterable, Mapping


class HandlingTimes:
    """The recent handling times (seconds, call to finish) of each service.

    The median of the last few resists the odd case that takes an hour; until a service
    has history, its configured typical time stands in.
    """

    def __init__(self, defaults_s: Mapping[str, float], history: int) -> None:
        self._defaults = dict(defaults_s)
        self._recent: dict[str, deque[float]] = {s: deque(maxlen=max(history, 1)) for s in defaults_s}
        self._typical: dict[str, float] = {}

    def record(self, service: str, seconds: float) -> None:
        # A ticket finished by call_next seconds after its call is a no-show in all but name;
        # a few seconds' floor keeps such entries from dragging the estimate to zero.
        if service in self._recent:
            self._recent[service].append(max(seconds, 30.0))
            self._typical[service] = float(statistics.median(self._recent[service]))

    def typical(self, service: str) -> float:
        cached = self._typical.get(service)
        return cached if cached is not None else self._defaults.get(service, 600.0)


def estimate_wait_s(
    ahead_by_service: Mapping[str, int],
    busy_remaining_s: Iterable[float],
    open_windows: int,
    times: HandlingTimes,
) -> int | None:
    """Seconds until a ticket is called: the work ahead of it shared by the open windows.

    `ahead_by_service` counts the tickets ahead per service; `busy_remaining_s` the expected
    remaining time of each open window's current citizen. None when no window is open.
    """
    if open_windows <= 0:
        return None
    work = sum(times.typical(s) * n for s, n in ahead_by_service.items())
    work += sum(max(r, 0.0) for r in busy_remaining_s)
    return math.ceil(work / open_windows)
