"""What a key press on a window's devices means, and what the window's devices show (pure).

The serial codec turns frames into `(key, arg)` integers; this module turns those into the
contract's window commands (CONTRACT §3.2), and the retained `state/window/{window}`
(§3.3) into the text of caller displays and the evaluation pad's lamp. The LED panels' text
follows `displays.panel_rules.panel_text` (re-exported here), the rules the hall display shares.
No I/O, no clock: whatever changes over time is passed in.

Transfer digits: key 0x07 with arg N (1–9) transfers the current ticket to the Nth service
of *the window's own* `services` list in config (1-based, priority order). A clerk's keypad
is labelled for the services that window handles, so digit 1 means the same thing on the
label and on the wire; a hall-wide numbering would change whenever a service is added.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, NamedTuple

from displays.panel_rules import panel_text  # one set of panel rules, shared with the hall display
from firmware_bridge.codecs.ycbus import Key  # one key map, shared with the devices
from yichuang.config_model import ServiceConfig, WindowConfig

__all__ = [
    "EvalPadLamp",
    "Key",
    "KeyCommand",
    "KeyRejected",
    "caller_display",
    "command_for_key",
    "panel_text",
]


class KeyCommand(NamedTuple):
    """A contract command: `path` under `yc/{hall}/cmd/` and its args. Unpacks as `(path, args)`."""

    path: str
    args: dict[str, Any]


@dataclass(frozen=True)
class KeyRejected:
    """A press that maps to no command, and why (a stable snake_case word for logs and beeps).

    Falsy, so `if not (cmd := command_for_key(...))` reads like the `None` it stands for.
    """

    reason: str
    detail: str = ""

    def __bool__(self) -> bool:
        return False


# Keys whose command takes no argument; an arg byte sent with them is ignored (firmware
# sends 0 there, but older pads repeat the key code).
_PLAIN: dict[int, str] = {
    Key.CALL_NEXT: "call_next",
    Key.RECALL: "recall",
    Key.START: "start",
    Key.FINISH: "finish",
    Key.NO_SHOW: "no_show",
    Key.PARK: "park",
}

# Window statuses in which the pause/resume key resumes (resume also opens a closed window,
# docs/mqtt.md "Window behaviour").
_RESUME_WHEN = frozenset({"paused", "closed"})


def command_for_key(
    window: WindowConfig,
    key: int,
    arg: int,
    window_state: Mapping[str, Any] | None,
    services: Iterable[ServiceConfig],
) -> KeyCommand | KeyRejected:
    """The command a press of `key` (with `arg`) at `window` stands for, or why there is none.

    `window_state` is the last retained `state/window/{window}` payload (None while not yet
    received); only the pause/resume toggle needs it. `services` are the hall's services,
    used to refuse a transfer digit that points at a service the hall does not have.
    """
    base = f"window/{window.id}/"
    if key in _PLAIN:
        return KeyCommand(base + _PLAIN[key], {})
    if key == Key.PAUSE_RESUME:
        if window_state is None or "status" not in window_state:
            # A toggle without knowing the state could pause a window the clerk meant to
            # open; refuse (the caller beeps) rather than guess.
            return KeyRejected("window_state_unknown", f"no state for window {window.id} yet")
        action = "resume" if window_state["status"] in _RESUME_WHEN else "pause"
        return KeyCommand(base + action, {})
    if key == Key.TRANSFER:
        if not 1 <= arg <= min(9, len(window.services)):
            return KeyRejected(
                "invalid_transfer_digit",
                f"digit {arg}; window {window.id} has {len(window.services)} services",
            )
        service = window.services[arg - 1]
        if service not in {s.id for s in services}:
            return KeyRejected("unknown_service", f"service {service!r} of window {window.id} not in hall")
        return KeyCommand(base + "transfer", {"service": service})
    if key == Key.SCORE:
        if not 1 <= arg <= 5:
            return KeyRejected("invalid_score", f"score {arg} not in 1..5")
        return KeyCommand(base + "evaluate", {"score": arg})
    return KeyRejected("unknown_key", f"key 0x{key:02x}")


def caller_display(state: Mapping[str, Any] | None, waiting: int) -> tuple[str, str]:
    """The two lines of a clerk's caller keypad: current ticket and status, then citizens waiting.

    `waiting` is the sum of `state/queue/{service}.waiting` over the window's services.
    """
    status = state.get("status") if state else None
    ticket = state.get("ticket") if state else None
    if status == "calling" and ticket:
        recalls = int(state.get("recall_count") or 0) if state else 0
        line0 = f"{ticket} 呼叫中" + (f" 重呼{recalls}" if recalls else "")
    elif status == "serving" and ticket:
        line0 = f"{ticket} 办理中"
    elif status == "paused":
        line0 = "暂停中"
    elif status == "closed":
        line0 = "未开窗"
    elif status == "idle":
        line0 = "空闲"
    else:
        line0 = "连接中"  # no retained state yet: the broker or server is not there
    return line0, f"等候 {max(0, waiting)} 人"


class EvalPadLamp:
    """The evaluation pad's "please rate" lamp for one window (a small pure state machine).

    `state/window` does not say whether the last ticket was rated, so the lamp follows
    events: `ticket_finished` at this window lights it; `evaluation` or the next
    `ticket_called` at this window, the window closing, or `expire_s` passing darkens it
    (the citizen has left). Time is passed in (`now`, seconds on any monotonic clock).
    """

    def __init__(self, window: str, expire_s: float | None = 180.0) -> None:
        self.window = window
        self.expire_s = expire_s
        self.ticket: str | None = None  # the ticket awaiting a rating while lit
        self._lit_at: float | None = None

    def is_lit(self, now: float) -> bool:
        """Whether the lamp is on at `now`."""
        if self._lit_at is None:
            return False
        if self.expire_s is not None and now - self._lit_at >= self.expire_s:
            self._darken()
            return False
        return True

    def on_event(self, event_type: str, payload: Mapping[str, Any], now: float) -> bool:
        """Feed `event/{event_type}`; events of other windows are ignored. Returns `is_lit(now)`."""
        if payload.get("window") == self.window:
            if event_type == "ticket_finished":
                self.ticket = str(payload.get("ticket") or "") or None
                self._lit_at = now
            elif event_type in ("evaluation", "ticket_called"):
                self._darken()
        return self.is_lit(now)

    def on_state(self, state: Mapping[str, Any] | None, now: float) -> bool:
        """Feed the window's retained state: a closed window has nobody left to rate it."""
        if state is not None and state.get("status") == "closed":
            self._darken()
        return self.is_lit(now)

    def on_score_pressed(self, now: float) -> bool:
        """A score key was pressed on the pad: darken at once, before the event comes back."""
        self._darken()
        return self.is_lit(now)

    def _darken(self) -> None:
        self._lit_at = None
        self.ticket = None
