"""What the hall display shows, from the retained `state/…` topics and the call events (pure).

`HallModel` is fed the hall's retained state (`state/window/{w}`, `state/queue/{service}`,
`state/calls`) and the `ticket_called` / `ticket_recalled` events, and answers with a
`Screen`: everything one frame draws. No I/O and no clock: the caller passes the monotonic
time (`now`, seconds) and the hall's wall-clock time.

A display that starts or reconnects shows the truth at once because everything it draws
comes from retained state; the events only make the newest call blink for a few seconds and
bridge the moment before the server's `state/calls` catches up (it is published at most every
50 ms under load, possibly just after the event). Events never come back on a restart, so a
restarted display never blinks, or announces, an old call.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from displays.panel_rules import WindowCaption, window_caption
from yichuang.config_model import Config, DisplayConfig

__all__ = ["FLASH_S", "RECENT", "Call", "HallModel", "QueueRow", "Screen", "WindowRow", "call_from_event"]

FLASH_S = 6.0  # how long a new call blinks
BLINK_S = 0.5  # half a blink period
RECENT = 10  # calls listed (the contract's state/calls keeps at most 10)
_HEARD_TTL_S = 10.0  # an event's call shown before state/calls has it, at most this long
_WEEKDAYS = "一二三四五六日"


@dataclass(frozen=True)
class Call:
    """One call of a ticket to a window."""

    ticket: str
    window: str
    label: str
    label_en: str
    at: str = ""  # ISO 8601, as the server sent it
    recall: bool = False


@dataclass(frozen=True)
class WindowRow:
    """One open window's card: its labels and what its LED panel says (`panel_rules`)."""

    window: str
    label: str
    label_en: str
    status: str
    caption: WindowCaption


@dataclass(frozen=True)
class QueueRow:
    """One service's queue: citizens waiting and the estimated wait of a ticket taken now."""

    service: str
    prefix: str
    name: str
    name_en: str
    waiting: int
    wait_min: int | None  # None: no open window serves it


@dataclass(frozen=True)
class Screen:
    """Everything one frame of the hall display shows."""

    hall_name: str
    hall_name_en: str
    english: bool
    latest: Call | None  # the big call: the newest one, or the one blinking
    flashing: bool  # within FLASH_S of its event
    blink_on: bool  # the phase of the blink (draw highlighted)
    recent: tuple[Call, ...]  # newest first, the latest included
    windows: tuple[WindowRow, ...]
    queues: tuple[QueueRow, ...]
    clock: str  # 09:41
    date: str  # 11月23日 星期一
    notice: str
    notice_en: str
    online: bool  # connected to the broker and the server is up


def call_from_event(event_type: str, payload: Mapping[str, Any]) -> Call | None:
    """The call in a `ticket_called` / `ticket_recalled` event, or None if it is not one."""
    if event_type not in ("ticket_called", "ticket_recalled"):
        return None
    ticket, window = payload.get("ticket"), payload.get("window")
    if not isinstance(ticket, str) or not isinstance(window, str) or not ticket or not window:
        return None
    label = payload.get("label")
    label_en = payload.get("label_en")
    return Call(
        ticket,
        window,
        label if isinstance(label, str) and label else window,
        label_en if isinstance(label_en, str) else "",
        str(payload.get("at") or ""),
        event_type == "ticket_recalled",
    )


@dataclass
class _Heard:
    call: Call
    heard_at: float


@dataclass
class HallModel:
    """The display's picture of the hall. Not thread-safe: feed it from one thread."""

    config: Config
    display: DisplayConfig
    flash_s: float = FLASH_S
    windows: dict[str, dict[str, Any]] = field(default_factory=dict)
    queues: dict[str, dict[str, Any]] = field(default_factory=dict)
    calls: list[Call] = field(default_factory=list)  # from state/calls, newest first
    connected: bool = False
    server_online: bool = True  # until told otherwise: a hall without the status topic still works
    _heard: list[_Heard] = field(default_factory=list)
    _flash: tuple[Call, float] | None = None  # the blinking call and when it started

    def __post_init__(self) -> None:
        shown = set(self.display.windows)
        self._window_ids = [w.id for w in self.config.windows if not shown or w.id in shown]
        self._shown = set(self._window_ids)
        self._labels_en = {w.id: w.label_en for w in self.config.windows}
        served = {s for w in self.config.windows if w.id in self._shown for s in w.services}
        self._services = [s for s in self.config.services if s.id in served]

    def shows_window(self, window: str) -> bool:
        """Whether this display shows (and announces) calls to `window`."""
        return window in self._shown

    # -- input ----------------------------------------------------------------------

    def apply_state(self, topic: str, payload: Mapping[str, Any] | None) -> bool:
        """Feed one retained state, `topic` relative to `yc/{hall}/` (`state/window/w03`).

        `payload` None (an empty retained message) forgets it. Returns whether anything shown changed.
        """
        parts = topic.split("/")
        if len(parts) == 3 and parts[:2] == ["state", "window"]:
            return _put(self.windows, parts[2], payload)
        if len(parts) == 3 and parts[:2] == ["state", "queue"]:
            return _put(self.queues, parts[2], payload)
        if topic == "state/calls":
            calls = self._calls_of(payload)
            changed = calls != self.calls
            self.calls = calls
            return changed
        return False

    def apply_call(self, call: Call, now: float) -> bool:
        """A `ticket_called` or `ticket_recalled` event: blink it, and list it until state/calls has it."""
        if not self.shows_window(call.window):
            return False
        self._flash = (call, now)
        if not call.recall:
            self._heard.append(_Heard(call, now))
        return True

    def set_link(self, *, connected: bool | None = None, server_online: bool | None = None) -> None:
        """The broker connection and the server's availability (`device/server/status`)."""
        if connected is not None:
            self.connected = connected
        if server_online is not None:
            self.server_online = server_online

    # -- output ---------------------------------------------------------------------

    def recent(self, now: float) -> tuple[Call, ...]:
        """The calls to list, newest first: state/calls, plus calls heard that it does not have yet."""
        known = {(c.ticket, c.window, c.at) for c in self.calls}
        self._heard = [
            h
            for h in self._heard
            if now - h.heard_at < _HEARD_TTL_S and (h.call.ticket, h.call.window, h.call.at) not in known
        ]
        heard = [h.call for h in reversed(self._heard)]
        # a ticket called again elsewhere (after a transfer) is listed once, at its newest call
        seen: set[str] = set()
        out: list[Call] = []
        for call in heard + self.calls:
            if call.ticket not in seen:
                seen.add(call.ticket)
                out.append(call)
        return tuple(out[:RECENT])

    def flashing(self, now: float) -> Call | None:
        """The call blinking at `now`, if any."""
        if self._flash is not None and now - self._flash[1] < self.flash_s:
            return self._flash[0]
        return None

    def screen(self, now: float, wall: datetime) -> Screen:
        """The frame at monotonic time `now` and hall time `wall`."""
        recent = self.recent(now)
        flash = self.flashing(now)
        latest = flash or (recent[0] if recent else None)
        blink_on = False
        if flash is not None and self._flash is not None:
            blink_on = int((now - self._flash[1]) / BLINK_S) % 2 == 0
        hall = self.config.hall
        return Screen(
            hall_name=hall.name,
            hall_name_en=hall.name_en,
            english=self.display.english,
            latest=latest,
            flashing=flash is not None,
            blink_on=blink_on,
            recent=recent,
            windows=self.window_rows(),
            queues=self.queue_rows(),
            clock=f"{wall:%H:%M}",
            date=f"{wall.month}月{wall.day}日 星期{_WEEKDAYS[wall.weekday()]}",
            notice=hall.notice,
            notice_en=hall.notice_en,
            online=self.connected and self.server_online,
        )

    def window_rows(self) -> tuple[WindowRow, ...]:
        """Open (or paused) windows in config order; closed ones and those not heard of yet are left out."""
        rows = []
        for wid in self._window_ids:
            state = self.windows.get(wid)
            if not state or state.get("status") in (None, "closed"):
                continue
            label = str(state.get("label") or wid)
            label_en = str(state.get("label_en") or self._labels_en.get(wid, ""))
            rows.append(
                WindowRow(wid, label, label_en, str(state["status"]), window_caption(state, label, label_en))
            )
        return tuple(rows)

    def queue_rows(self) -> tuple[QueueRow, ...]:
        """Services with citizens waiting or an open window, in config order."""
        rows = []
        for service in self._services:
            state = self.queues.get(service.id)
            if not state:
                continue
            waiting = state.get("waiting")
            ewt = state.get("ewt_s")
            waiting = waiting if isinstance(waiting, int) and not isinstance(waiting, bool) else 0
            known = isinstance(ewt, int | float) and not isinstance(ewt, bool)
            wait_min = math.ceil(float(ewt) / 60) if known and ewt is not None else None
            if waiting <= 0 and wait_min is None:
                continue
            rows.append(
                QueueRow(
                    service.id,
                    service.prefix,
                    str(state.get("name") or service.name),
                    str(state.get("name_en") or service.name_en),
                    waiting,
                    wait_min,
                )
            )
        return tuple(rows)

    def _calls_of(self, payload: Mapping[str, Any] | None) -> list[Call]:
        recent = payload.get("recent") if payload else None
        calls = []
        for item in recent if isinstance(recent, list) else []:
            if not isinstance(item, dict):
                continue
            call = call_from_event("ticket_called", item)
            if call is not None and self.shows_window(call.window):
                if not call.label_en:  # state/calls carries the Chinese label only
                    call = replace(call, label_en=self._labels_en.get(call.window, ""))
                calls.append(call)
        return calls


def _put(store: dict[str, dict[str, Any]], key: str, payload: Mapping[str, Any] | None) -> bool:
    if payload is None:
        return store.pop(key, None) is not None
    value = dict(payload)
    if store.get(key) == value:
        return False
    store[key] = value
    return True
