"""Opening hours: whether the hall issues tickets at a given moment."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from yichuang.config_model import OpeningHours


def is_open(hours: OpeningHours, now: datetime, tz: ZoneInfo, stop_issuing_minutes: int = 0) -> bool:
    """True while the hall is open, less `stop_issuing_minutes` before each closing time.

    Halls stop issuing tickets shortly before closing so that every ticket taken can
    still be served the same day.
    """
    if hours.always:
        return True
    local = now.astimezone(tz)
    clock = local.time()
    for rule in hours.rules:
        if local.weekday() not in rule.days:
            continue
        close = (datetime.combine(local.date(), rule.end) - timedelta(minutes=stop_issuing_minutes)).time()
        if rule.start <= clock < close:
            return True
    return False
