"""The demo's citizens at the real kiosk: they touch its screen as people do, one tap at a time.

Used by `yichuang demo` only. Every tap is a pygame touch event on the real app, so the demo
shows the kiosk's screens, the server's answers and the printed receipts (hw_sim's printer
renders them to PNG) exactly as a hall would see them. When a person touches the window
the autopilot steps aside for a minute.
"""

from __future__ import annotations

import logging
import random
from collections import deque
from collections.abc import Iterator
from typing import Any, Literal

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
        self._script: deque[Tap] | None = None
        self._next_at = 0.0
        self._own_touch = 0.0
        self._waiting_since: float | None = None
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
            self._script = deque(self._visit())
            self.visits += 1
            log.info("autopilot: visit %d", self.visits)
        if not self._script:
            self._script = None
            self._next_at = now + self.every_s
            return
        action, arg = self._script.popleft()
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
                self._script.appendleft(("_wait_ticket", waited))
                self._next_at = now + 0.2
                return
            if state.screen == Screen.MESSAGE:
                self._script = deque([("home", None)])
        elif action == "_lay_page":
            if self.camera is not None:
                kind: Literal["a4", "id_card"] = "id_card" if arg == "id_card" else "a4"
                self.camera.lay_page(
                    kind, text_seed=self.visits, fill=0.7, rotation_deg=self.rng.uniform(-12, 12)
                )
        elif action == "_wait_pages":
            waited_since = self._waiting_since or now
            self._waiting_since = waited_since
            if state.scan_pages < int(arg) and state.screen == Screen.SCAN:
                if now - waited_since > 20.0:
                    log.info("autopilot: page not captured after 20 s; visit abandoned")
                    self._waiting_since = None
                    self._script = deque([("back", None), ("done", None)])
                    return
                self._script.appendleft(("_wait_pages", arg))
                self._next_at = now + 0.2
                return
            self._waiting_since = None
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
            service = self.rng.choice(catalogue.areas[area].services)
            yield ("service", service.id)
            yield ("issue", None)
            yield ("_wait_ticket", None)
            if self.camera is not None and service.materials and self.rng.random() < 0.35:
                # the citizen sends the materials ahead to the window: a form, then an ID card
                yield ("scan", None)
                yield ("_lay_page", "a4")
                yield ("_wait_pages", 1)
                yield ("tick", 0)
                yield ("_lay_page", "id_card")
                yield ("_wait_pages", 2)
                yield ("_clear_qr", None)
                yield ("send", None)
                yield ("_wait_ticket", None)
        yield ("done", None)

