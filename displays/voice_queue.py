"""Which calls the voice reads, in what order, and when it keeps quiet (pure: time passed in).

Announcements never overlap: they wait in one queue and are read one at a time, a burst of
calls in the order the calls were made. A call still waiting when the same ticket is called
again (a recall, or a call at another window after a transfer) is replaced, where it stands,
by the newer one, so no ticket is read twice in a row for one summons. A call that waited
longer than `max_wait_s` is dropped unread: the citizen has long seen it on the screen.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from datetime import datetime

from displays.view_model import Call
from yichuang.config_model import OpeningRule

__all__ = ["AnnouncementQueue", "Pending", "is_quiet_time"]


@dataclass(frozen=True)
class Pending:
    """A call waiting to be read, and when it was heard (monotonic seconds)."""

    call: Call
    heard_at: float
    event_id: str = ""


class AnnouncementQueue:
    """The calls waiting to be read, oldest first."""

    def __init__(self, max_wait_s: float = 120.0, max_len: int = 100) -> None:
        self.max_wait_s = max_wait_s
        self.max_len = max_len
        self._items: deque[Pending] = deque()
        self._seen: deque[str] = deque(maxlen=256)  # event ids already taken (QoS 1 may deliver twice)
        self.dropped = 0  # calls dropped unread: stale, superseded, or over the bound

    def __len__(self) -> int:
        return len(self._items)

    def offer(self, call: Call, now: float, event_id: str = "") -> bool:
        """Queue a call (False for a duplicate event); a waiting call of the same ticket is replaced."""
        if event_id:
            if event_id in self._seen:
                return False
            self._seen.append(event_id)
        item = Pending(call, now, event_id)
        for i, waiting in enumerate(self._items):
            if waiting.call.ticket == call.ticket:
                self._items[i] = item
                self.dropped += 1
                return True
        if len(self._items) >= self.max_len:
            self._items.popleft()
            self.dropped += 1
        self._items.append(item)
        return True

    def take(self, now: float) -> Pending | None:
        """The next call to read, or None; calls that waited too long are dropped on the way."""
        while self._items:
            item = self._items.popleft()
            if now - item.heard_at <= self.max_wait_s:
                return item
            self.dropped += 1
        return None

    def clear(self) -> int:
        """Forget every waiting call (muted); returns how many."""
        n = len(self._items)
        self._items.clear()
        self.dropped += n
        return n


def is_quiet_time(rules: tuple[OpeningRule, ...], wall: datetime) -> bool:
    """Whether `wall` (hall time) falls in one of a display's quiet times (`mute` in config)."""
    t = wall.time().replace(tzinfo=None)
    return any(wall.weekday() in r.days and r.start <= t < r.end for r in rules)
