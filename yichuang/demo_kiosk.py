"""The demo's citizens at the real kiosk: they touch its screen as people do, one tap at a time.

Used by `yichuang demo` only. Every tap is a pygame touch event on the real app, so the demo
shows the kiosk's screens, the server's answers and the printed receipts (hw_sim's printer
renders them to PNG) exactly as a hall would see them. When a person touches the window
the autopilot steps aside for a minute.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Iterator
from typing import Any

from hw_sim.virtual_camera import VirtualCamera
from kiosk.app import KioskApp
from kiosk.flow import Screen

log = logging.getLogger(__name__)

Tap = tuple[str, Any]


class KioskAutopilot:
    """Plays citizens at one kiosk: a visit every `every_s` seconds, a tap every `tap_s`."""

    HUMAN_PAUSE_S = 60.0

    def __init__(
        self,
        app: KioskApp,
        rng: random.Random,
        *,
        camera: VirtualCamera | None = None,
        appointment_codes: Iterator[str] | None = None,
        every_s: float = 8.0,
        tap_s: float = 0.7,
    ) -> None:
        self.app = app
        self.rng = rng
        self.camera = camera
        self.codes = appointment_codes
        self.every_s = every_s
        self.tap_s = tap_s
        self._script: Iterator[Tap] | None = None
        self._next_at = 0.0
        self._own_touch = 0.0
        self.visits = 0

    def tick(self) -> None:
        """Called once per frame from the demo's main loop."""
        app = self.app
        now = app.clock()
        state = app.flow.state
        if state.touched_at > self._own_touch + 0.05:
            # somebody touched the window: let them use it undisturbed
            self._script = None
            self._next_at = state.touched_at + self.HUMAN_PAUSE_S
            self._own_touch = state.touched_at
        if now < self._next_at:
            return
        if self._script is None:
            if state.screen != Screen.HOME or not state.ticketing:
                self._next_at = now + 1.0
                return
            self._script = self._visit()
            self.visits += 1
            log.info("autopilot: visit %d", self.visits)
        try:
            action, arg = next(self._script)
        except StopIteration:
            self._script = None
            self._next_at = now + self.every_s
            return
        if action == "_wait_ticket":
            waited = arg or now
            answered = state.screen == Screen.MESSAGE or (
                state.screen == Screen.TICKET and not state.printing
            )
            if not answered:
                if now - waited > 20.0:
                    log.info("autopilot: no ticket after 20 s on %s; visit abandoned", state.screen)
                    self._script = None
                    self._next_at = now + self.every_s
                    return
                self._script = _prepend(("_wait_ticket", waited), self._script)
                self._next_at = now + 0.2
                return
            if state.screen == Screen.MESSAGE:
                self._script = iter([("home", None)])
        elif action == "_hold_qr":
            if self.camera is not None:
                self.camera.hold_qr(str(arg), module_px=6)
        elif action == "_clear_qr":
            if self.camera is not None:
                self.camera.clear()
        else:
            button = app.find(action, arg)
            if button is None or not button.enabled:
                log.info("autopilot: no %s(%s) on %s; visit abandoned", action, arg, state.screen)
                self._script = None
                self._next_at = now + self.every_s
                return
            app.tap(action, arg)
            self._own_touch = app.flow.state.touched_at
        self._next_at = now + self.tap_s

    def _visit(self) -> Iterator[Tap]:
        catalogue = self.app.catalogue
        roll = self.rng.random()
        if roll < 0.15:
            yield ("language", None)
        elif roll < 0.25:
            yield ("elderly", None)
        kind = self.rng.random()
        if kind < 0.12 and self.camera is not None and self.codes is not None:
            code = next(self.codes)
            yield ("checkin", None)
            yield ("_hold_qr", f"YC:APPT:{code}")
            yield ("_wait_ticket", None)
            yield ("_clear_qr", None)
        elif kind < 0.2:
            yield ("take", None)
            yield ("search", None)
            for letter in "bdc":
                yield ("letter", letter)
            yield ("service", catalogue.search("bdc")[0].id)
            yield ("issue", None)
            yield ("_wait_ticket", None)
        elif kind < 0.28:
            yield ("guide", None)
            area = self.rng.randrange(len(catalogue.areas))
            if self.app.flow.state.elderly:
                yield ("area", area)
            else:
                yield ("area", area)
            yield ("service", self.rng.choice(catalogue.areas[area].services).id)
            yield ("page", 1)
            yield ("take_for_this", None)
            yield ("issue", None)
            yield ("_wait_ticket", None)
        else:
            yield ("green" if kind > 0.93 else "take", None)
            area = self.rng.randrange(len(catalogue.areas))
            yield ("area", area)
            yield ("service", self.rng.choice(catalogue.areas[area].services).id)
            yield ("issue", None)
            yield ("_wait_ticket", None)
        yield ("done", None)


def _prepend(first: Tap, rest: Iterator[Tap]) -> Iterator[Tap]:
    yield first
    yield from rest
