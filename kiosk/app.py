"""The kiosk program: pygame screen and touch, the flow, the server link, printer and camera.

The main thread owns pygame (draws and reads touches) and the flow; commands go out on one
worker thread, receipts on the printer's thread, camera frames on the camera's thread.
Their outcomes come back through an inbox drained once per frame, so the flow is only
ever touched by the main thread and a slow server or printer never freezes the screen.
"""

from __future__ import annotations

import contextlib
import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pygame

from kiosk.camera import Camera
from kiosk.catalogue import Catalogue
from kiosk.device_status import alarm_payload, discovery, info_payload, telemetry_payload
from kiosk.flow import (
    CheckIn,
    DiscardScans,
    Effect,
    Flow,
    IssueTicket,
    Pickup,
    PrintTicket,
    RequestHelp,
    Say,
    Screen,
    StartScan,
    UploadScans,
)
from kiosk.printer import TicketPrinter
from kiosk.printing import PrinterService
from kiosk.scanning import ScanSession
from kiosk.server_link import ServerLink
from kiosk.ui.fonts import Fonts
from kiosk.ui.layout import Button, Context, Widget, hit, layout
from kiosk.ui.render import Renderer
from kiosk.voice_prompt import Prompter
from yichuang.config_model import Config, KioskConfig
from yichuang.mqtt_client import Message, MqttClient

__all__ = ["KioskApp"]

log = logging.getLogger(__name__)

TELEMETRY_S = 30.0
FPS_ANIMATED = 30


@dataclass
class _Job:
    effect: Effect


class KioskApp:
    """One kiosk of a hall, as `yichuang kiosk -c hall.toml --id kiosk-01` runs it.

    `printer` and `camera` are the opened devices (None when the kiosk has none); the CLI
    opens them from the config, tests pass simulated ones.
    """

    def __init__(
        self,
        config: Config,
        kiosk_id: str,
        *,
        printer: TicketPrinter | None,
        camera: Camera | None = None,
        prompter: Prompter | None = None,
        size: tuple[int, int] = (1920, 1080),
        fullscreen: bool = False,
        client_id: str | None = None,
        clock: Callable[[], float] = time.monotonic,
        wall: Callable[[], datetime] | None = None,
        boot: str | None = None,
        printer_poll_s: float = 10.0,
    ) -> None:
        kiosk = next((k for k in config.kiosks if k.id == kiosk_id), None)
        if kiosk is None:
            known = ", ".join(k.id for k in config.kiosks) or "none"
            raise KeyError(f"no [[kiosk]] with id {kiosk_id!r} in the config (known: {known})")
        self.config = config
        self.kiosk: KioskConfig = kiosk
        self.hall = config.hall.id
        self.tz = ZoneInfo(config.hall.timezone)
        self.clock = clock
        self.wall = wall or (lambda: datetime.now(self.tz))
        self.started = clock()
        self.size = size
        self.fullscreen = fullscreen
        self.boot = boot or f"{int(time.time() * 1000):x}"
        self.catalogue = Catalogue(config.services)
        self.flow = Flow(self.catalogue, kiosk_id, self.boot)
        self.flow.state.printer = printer is not None
        self.flow.state.camera = camera is not None
        self.flow.state.locker = bool(kiosk.locker)
        self.flow.state.paper = "unknown" if printer is not None else "none"
        self.camera = camera
        self.prompter = prompter
        self.client = MqttClient(
            host=config.broker.host,
            port=config.broker.port,
            client_id=client_id or f"yichuang-{kiosk_id}",
            hall=self.hall,
            device=kiosk_id,
            username=config.broker.username,
            password=config.broker.password,
        )
        self._inbox: queue.SimpleQueue[Callable[[], list[Effect]]] = queue.SimpleQueue()
        self.link = ServerLink(self.client, self.hall, kiosk_id, on_change=self._wake)
        self.printer: PrinterService | None = None
        if printer is not None:
            self.printer = PrinterService(
                printer,
                config,
                on_printed=lambda ok: self._post(lambda: self._printed(ok)),
                on_paper=lambda status: self._post(lambda: self._paper(status)),
                poll_s=printer_poll_s,
            )
        self._jobs: queue.Queue[_Job | None] = queue.Queue()
        self._worker = threading.Thread(target=self._work, name="kiosk-commands", daemon=True)
        self._camera_thread: threading.Thread | None = None
        self._camera_on = threading.Event()
        self._preview_lock = threading.Lock()
        self._preview_frame: Any = None  # the newest camera frame (BGR numpy array)
        self._outline: tuple[tuple[float, float], ...] | None = None  # the page found in it
        self.scanner: ScanSession | None = (
            ScanSession(px_per_mm=kiosk.camera_px_per_mm) if camera is not None else None
        )
        self._stopping = threading.Event()
        self._alarm_seq = 0
        self._last_telemetry = -TELEMETRY_S
        self._last_link: bool | None = None
        self._dirty = True
        self._last_clock = ""
        self.widgets: list[Widget] = []
        self._pressed: Button | None = None
        self.frames = 0
        self.surface: pygame.Surface | None = None
        self.fonts: Fonts | None = None
        self.renderer: Renderer | None = None
        self.client.subscribe(f"yc/{self.hall}/device/{kiosk_id}/set", self._on_set)
        self.client.add_connect_hook(self._republish)

    # -- life cycle --------------------------------------------------------------------

    def start(self) -> None:
        """Open the screen, connect (in the background: the screen says when it cannot)."""
        pygame.display.init()
        flags = pygame.FULLSCREEN if self.fullscreen else 0
        self.surface = pygame.display.set_mode(self.size, flags)
        pygame.display.set_caption(f"Yichuang kiosk {self.kiosk.id}")
        if self.fullscreen:
            pygame.mouse.set_visible(False)
        self.fonts = Fonts()
        self.renderer = Renderer(self.fonts)
        self._worker.start()
        if self.printer is not None:
            self.printer.start()
        if self.camera is not None:
            self._camera_thread = threading.Thread(target=self._camera_loop, name="camera", daemon=True)
            self._camera_thread.start()
        self.client.start_background()
        self.render()

    def stop(self) -> None:
        """Finish what is in flight, publish `offline`, close the devices."""
        self._stopping.set()
        self._jobs.put(None)
        self._worker.join(timeout=ServerLink.DEADLINE_S + 1)
        if self.printer is not None:
            self.printer.stop()
        self._camera_on.set()
        if self._camera_thread is not None:
            self._camera_thread.join(timeout=2)
        if self.camera is not None:
            self.camera.close()
        self.client.stop()
        pygame.display.quit()

    def run(self, stop: threading.Event, on_frame: Callable[[], None] = lambda: None) -> None:
        """Frames until `stop` is set (or the window is closed): 30 per second while something
        moves, else on events only."""
        while not stop.is_set() and not self._stopping.is_set():
            animated = self._animated()
            self.step(wait_s=1 / FPS_ANIMATED if animated else 0.25)
            on_frame()

    # -- one frame -----------------------------------------------------------------------

    def step(self, wait_s: float = 0.0) -> bool:
        """Handle input and results, advance time, redraw when needed; True when a frame was drawn."""
        events = pygame.event.get()
        if not events and wait_s > 0:
            event = pygame.event.wait(int(wait_s * 1000))
            if event.type != pygame.NOEVENT:
                events = [event, *pygame.event.get()]
        now = self.clock()
        effects: list[Effect] = []
        for event in events:
            effects += self._on_event(event, now)
        while True:
            try:
                result = self._inbox.get_nowait()
            except queue.Empty:
                break
            effects += result()
            self._dirty = True
        link_ok = self.link.ok
        if link_ok != self._last_link:
            self._last_link = link_ok
            self.flow.link(link_ok, now)
            self._dirty = True
            self._last_telemetry = -TELEMETRY_S  # dashboards see the change now, not in 30 s
            if link_ok and self.printer is not None:
                self.printer.poll_now()
        queues = self.link.queues()
        if queues != self.flow.state.queues:
            self.flow.queues(queues)
            self._dirty = True
        screen_before = self.flow.state.screen
        effects += self.flow.tick(now)
        if self.flow.state.screen != screen_before:
            self._dirty = True
        self._dispatch(effects)
        self._camera_on_screen()
        if now - self._last_telemetry >= TELEMETRY_S:
            self._publish_telemetry(now)
        clock = self.wall().strftime("%H:%M")
        if clock != self._last_clock:
            self._last_clock = clock
            self._dirty = True
        if self._dirty or self._animated():
            self.render()
            return True
        return False

    def render(self) -> None:
        """Lay out and draw the current screen."""
        assert self.surface is not None and self.renderer is not None and self.fonts is not None
        context = Context(
            hall_name=self.config.hall.name,
            hall_name_en=self.config.hall.name_en,
            kiosk=f"{self.kiosk.id} · {self.kiosk.location}" if self.kiosk.location else self.kiosk.id,
            clock=self._last_clock or self.wall().strftime("%H:%M"),
        )
        self.widgets = layout(self.flow.state, self.flow, context, self.size, self.fonts.wrap)
        outline = self._outline if self.flow.state.screen == Screen.SCAN else None
        self.renderer.draw(
            self.surface, self.widgets, self.clock(), self._preview_surface(), self._pressed, outline
        )
        pygame.display.flip()
        self.frames += 1
        self._dirty = False

    def screenshot(self, path: str | Path) -> None:
        self.render()
        assert self.surface is not None
        pygame.image.save(self.surface, str(path))

    def _animated(self) -> bool:
        s = self.flow.state
        return (
            s.screen in (Screen.ISSUING, Screen.CHECKING_IN, Screen.PICKING_UP)
            or (s.screen == Screen.HELP and s.pending is not None)
            or (s.screen == Screen.TICKET and s.print_failed)
            or (s.screen in (Screen.CHECKIN, Screen.SCAN) and self.camera is not None)
            or s.screen == Screen.UPLOADING
        )

    # -- input -------------------------------------------------------------------------

    def _on_event(self, event: pygame.event.Event, now: float) -> list[Effect]:
        # A touchscreen reaches us as mouse events (SDL synthesises them from touches), so
        # finger events are ignored: handling both would press every button twice.
        if event.type == pygame.MOUSEBUTTONDOWN and event.button == 1:
            self._pressed = hit(self.widgets, *event.pos)
            self._dirty = True
            return []
        if event.type == pygame.MOUSEBUTTONUP and event.button == 1:
            pressed, self._pressed = self._pressed, None
            self._dirty = True
            released = hit(self.widgets, *event.pos)
            # a press counts where it is released on the same button: a slide away cancels it
            if pressed is None or released is None or released.rect != pressed.rect:
                return []
            effects = self.flow.tap(pressed.action, pressed.arg, now)
            # lay out the new screen before the next event is hit-tested against it
            self.render()
            return effects
        if event.type == pygame.QUIT:
            self._stopping.set()
        return []

    def tap(self, action: str, arg: Any = None, timeout: float = 2.0) -> None:
        """Touch the button with this action (and arg) as a finger would: for tests and the demo.

        The press and release are posted as pygame events at the button's centre and go
        through the same hit-testing as a real touch.
        """
        button = self.find(action, arg)
        if button is None:
            raise LookupError(f"no button {action}({arg!r}) on screen {self.flow.state.screen}")
        if not button.enabled:
            raise LookupError(f"button {action}({arg!r}) is disabled on screen {self.flow.state.screen}")
        x, y, w, h = button.rect
        pos = (x + w // 2, y + h // 2)
        # taps right after a screen change are ignored as belonging to the previous screen
        guard_end = self.flow.state.entered_at + self.flow.TAP_GUARD_S
        while self.clock() < guard_end:
            time.sleep(0.02)
        pygame.event.post(pygame.event.Event(pygame.MOUSEBUTTONDOWN, pos=pos, button=1))
        pygame.event.post(pygame.event.Event(pygame.MOUSEBUTTONUP, pos=pos, button=1))
        self.step()

    def find(self, action: str, arg: Any = None) -> Button | None:
        for widget in self.widgets:
            if isinstance(widget, Button) and widget.action == action and (arg is None or widget.arg == arg):
                return widget
        return None

    def wait_for(self, predicate: Callable[[], bool], timeout: float = 10.0) -> None:
        """Run frames until `predicate()` holds; TimeoutError after `timeout` seconds."""
        deadline = time.monotonic() + timeout
        while not predicate():
            if time.monotonic() > deadline:
                raise TimeoutError(f"kiosk still on {self.flow.state.screen} after {timeout:g}s")
            self.step(wait_s=0.02)

    # -- effects -----------------------------------------------------------------------

    def _post(self, result: Callable[[], list[Effect]]) -> None:
        self._inbox.put(result)
        self._wake()

    def _wake(self) -> None:
        # wakes pygame.event.wait in the main thread; posting from other threads is allowed
        if pygame.display.get_init():
            with contextlib.suppress(pygame.error):
                pygame.event.post(pygame.event.Event(pygame.USEREVENT))

    def _dispatch(self, effects: list[Effect]) -> None:
        for effect in effects:
            if isinstance(effect, PrintTicket):
                if self.printer is not None:
                    self.printer.print_ticket(effect.ticket)
                else:
                    self._post(lambda: self.flow.printed(False, self.clock()))
            elif isinstance(effect, Say):
                if self.prompter is not None:
                    self.prompter.say(effect.text, effect.language)
            elif isinstance(effect, StartScan | DiscardScans):
                if self.scanner is not None:
                    self.scanner.reset()
                self._outline = None
            else:
                self._jobs.put(_Job(effect))

    def _work(self) -> None:
        while True:
            job = self._jobs.get()
            if job is None:
                return
            effect = job.effect
            if isinstance(effect, IssueTicket):
                args: dict[str, Any] = {
                    "service": effect.service,
                    "kiosk": self.kiosk.id,
                    "priority": effect.priority,
                }
                if effect.phone:
                    args["phone"] = effect.phone
                path = "ticket/issue"
            elif isinstance(effect, CheckIn):
                args, path = {"code": effect.code, "kiosk": self.kiosk.id}, "appointment/checkin"
            elif isinstance(effect, Pickup) and self.kiosk.locker:
                # the code is a key to a door: it goes to the server only, never to the log
                args, path = {"code": effect.code}, f"locker/{self.kiosk.locker}/pickup"
            elif isinstance(effect, RequestHelp):
                args, path = {"kiosk": self.kiosk.id, "reason": effect.reason}, "help/request"
            elif isinstance(effect, UploadScans):
                if self.scanner is None:
                    continue
                reply = self.scanner.upload(effect.status_url, effect.materials)
                rid = effect.request_id
                self._post(lambda rid=rid, reply=reply: self.flow.reply(rid, reply, self.clock()))  # type: ignore[misc]
                continue
            else:
                continue
            reply = self.link.call(path, args, effect.request_id)
            if reply.get("ok"):
                log.info("command ok command=%s request=%s", path, effect.request_id)
            else:
                log.warning(
                    "command refused command=%s request=%s code=%s",
                    path,
                    effect.request_id,
                    (reply.get("error") or {}).get("code"),
                )
            rid = effect.request_id
            self._post(lambda rid=rid, reply=reply: self.flow.reply(rid, reply, self.clock()))  # type: ignore[misc]

    def _printed(self, ok: bool) -> list[Effect]:
        if not ok:
            self._alarm("print_failed")
        return self.flow.printed(ok, self.clock())

    def _paper(self, status: str) -> list[Effect]:
        before = self.flow.state.paper
        effects = self.flow.paper(status, self.clock())
        if status in ("low", "out") and status != before:
            self._alarm(f"paper_{status}")
        elif status == "offline" and before != "offline":
            self._alarm("printer_offline")
        self._publish_telemetry(self.clock())
        return effects

    # -- camera --------------------------------------------------------------------------

    def _camera_on_screen(self) -> None:
        if self.camera is None:
            return
        if self.flow.state.screen in (Screen.CHECKIN, Screen.SCAN):
            self._camera_on.set()
        else:
            self._camera_on.clear()

    def _camera_loop(self) -> None:
        from kiosk.qr_scan import QrWatcher, decode_qr

        assert self.camera is not None
        watcher = QrWatcher()
        watching = False
        while not self._stopping.is_set():
            if not self._camera_on.wait(0.5):
                with self._preview_lock:
                    self._preview_frame = None
                watching = False
                continue
            if not watching:
                # a code still in view from the last citizen is a new reading for this one
                watcher.reset()
                watching = True
            if self._stopping.is_set():
                return
            frame = self.camera.read()
            if frame is None:
                time.sleep(0.2)
                continue
            with self._preview_lock:
                self._preview_frame = frame
            if self.flow.state.screen == Screen.SCAN and self.scanner is not None:
                try:
                    result = self.scanner.process(frame, time.monotonic())
                except Exception:  # one bad frame must not end the camera for the day
                    log.exception("document pipeline failed on a frame")
                    time.sleep(0.2)
                    continue
                self._outline = result.outline
                self._post(
                    lambda r=result: self.flow.scan(r.guidance, r.pages, self.clock())  # type: ignore[misc]
                )
            else:
                for text in watcher.update(decode_qr(frame), time.monotonic()):
                    log.info("qr read on check-in screen")
                    self._post(lambda text=text: self.flow.qr(text, self.clock()))  # type: ignore[misc]
            time.sleep(0.03)

    def _preview_surface(self) -> pygame.Surface | None:
        if self.flow.state.screen not in (Screen.CHECKIN, Screen.SCAN):
            return None
        with self._preview_lock:
            frame = self._preview_frame
        if frame is None:
            return None
        rgb = frame[:, :, ::-1].copy()
        return pygame.image.frombuffer(rgb.tobytes(), (rgb.shape[1], rgb.shape[0]), "RGB")

    # -- MQTT ----------------------------------------------------------------------------

    def _republish(self) -> None:
        root = f"yc/{self.hall}/device/{self.kiosk.id}"
        printer = self.printer.printer.describe() if self.printer is not None else ""
        camera = self.camera.describe() if self.camera is not None else ""
        self.client.publish(f"{root}/info", info_payload(self.kiosk.location, printer, camera), retain=True)
        topic, payload = discovery(self.hall, self.kiosk.id, self.kiosk.location)
        self.client.publish(topic, payload, retain=True)
        self._last_telemetry = -TELEMETRY_S  # the main loop sends telemetry on its next frame

    def _publish_telemetry(self, now: float) -> None:
        self._last_telemetry = now
        s = self.flow.state
        payload = telemetry_payload(
            now - self.started,
            s.paper,
            s.link_ok,
            s.screen.value,
            self.printer.printed if self.printer else 0,
            self.printer.failures if self.printer else 0,
        )
        self.client.publish(f"yc/{self.hall}/device/{self.kiosk.id}/telemetry", payload, qos=0)

    def _alarm(self, kind: str) -> None:
        self._alarm_seq += 1
        at = self.wall().isoformat(timespec="seconds")
        event_id = f"{self.kiosk.id}-{self.boot}-alarm-{self._alarm_seq}"
        log.warning("alarm kind=%s kiosk=%s", kind, self.kiosk.id)
        self.client.publish(f"yc/{self.hall}/event/alarm", alarm_payload(event_id, at, kind, self.kiosk.id))

    def _on_set(self, message: Message) -> None:
        try:
            command = message.json()
        except ValueError:
            log.warning("ignored set: not JSON")
            return
        if not isinstance(command, dict):
            log.warning("ignored set: not an object")
            return
        if command.get("print_test") is True:
            if self.printer is not None:
                self.printer.print_test()
            else:
                log.warning("print_test ignored: this kiosk has no printer")
        else:
            log.warning("ignored set: unsupported command keys=%s", ",".join(sorted(command)))
