"""`yichuang display`: one hall display process: the screen, the voice, and its availability.

MQTT messages arrive on paho's thread and wait in an inbox; the frame loop (the thread that
calls `run`, the main thread under the CLI, as SDL wants) takes them into the `HallModel`,
draws a frame with `HallRenderer` and flips it. A message wakes the loop at once, so a call
reaches the screen within one frame's drawing; otherwise it draws `fps` frames a second for
the blink, the scrolling notice and the clock.

The display is device `{display id}`: retained `online`/`offline` (the last will), info
`{"kind": "display", …}`, telemetry every 10 s. It follows:

- `state/#` (retained: what it shows), `device/server/status` (the server's availability);
- `event/ticket_called`, `event/ticket_recalled`: the blink and the voice;
- `zone/{zone}/mute` (retained `{"mute": true|false}`): every display of a zone quiet at once;
- `device/{id}/set` `{"mute": true|false}`: this display alone.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from displays.view_model import HallModel, Screen, call_from_event
from displays.voice_queue import is_quiet_time
from yichuang.config_model import Config, DisplayConfig
from yichuang.mqtt_client import Message, MqttClient

__all__ = ["DisplayApp", "FrameInfo", "UnknownDisplay"]

log = logging.getLogger(__name__)

VERSION = "1.0"
TELEMETRY_S = 10.0


class UnknownDisplay(KeyError):
    """The display id is not a `[[display]]` of the config."""


class _Notifier(Protocol):
    """systemd's notify socket (`yichuang.sdnotify.Notifier`)."""

    def ready(self) -> object: ...

    def watchdog(self) -> object: ...

    def stopping(self) -> object: ...


@dataclass(frozen=True)
class FrameInfo:
    """One frame drawn: what it showed, and when its drawing started and its flip ended (monotonic)."""

    screen: Screen
    started: float
    flipped: float


class DisplayApp:
    """A hall display: `DisplayApp(config, "display-main").run(stop_event)`.

    `size` (pixels) defaults to the whole screen, or 1280x720 (720x1280 portrait) with
    `windowed`. `mute` keeps the voice silent; `voice` replaces the one built from config
    (None builds it, False means none). `on_frame` is called after every flip (benchmarks,
    tests). `start()` connects; `run()` starts if needed, loops until `stop` is set, then stops.
    """

    def __init__(
        self,
        config: Config,
        display_id: str,
        *,
        windowed: bool = False,
        size: tuple[int, int] | None = None,
        mute: bool = False,
        voice: Any = None,
        fps: float = 30.0,
        client_id: str | None = None,
        on_frame: Callable[[FrameInfo], None] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        display = next((d for d in config.displays if d.id == display_id), None)
        if display is None:
            known = ", ".join(d.id for d in config.displays) or "none"
            raise UnknownDisplay(f"no [[display]] with id {display_id!r} in the config (known: {known})")
        self.config = config
        self.display: DisplayConfig = display
        self.windowed = windowed
        self.size = size
        self.fps = fps
        self.on_frame = on_frame
        self.clock = clock
        self.tz = ZoneInfo(config.hall.timezone)
        self.root = f"yc/{config.hall.id}/"
        self.model = HallModel(config, display)
        self.muted = mute
        self.zone_muted = False
        self.device_muted = False
        self.frames = 0
        self._inbox: deque[tuple[str, Any]] = deque()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._started_at = clock()
        self._started = False
        self.voice = self._build_voice() if voice is None else (voice or None)
        self.client = MqttClient(
            host=config.broker.host,
            port=config.broker.port,
            client_id=client_id or f"{config.hall.id}-{display.id}",
            hall=config.hall.id,
            device=display.id,
            username=config.broker.username,
            password=config.broker.password,
        )
        self.client.add_connect_hook(self._publish_info)
        self.client.subscribe(f"{self.root}state/#", self._on_state)
        self.client.subscribe(f"{self.root}device/server/status", self._on_server_status)
        self.client.subscribe(f"{self.root}event/ticket_called", self._on_call)
        self.client.subscribe(f"{self.root}event/ticket_recalled", self._on_call)
        self.client.subscribe(f"{self.root}device/{display.id}/set", self._on_set)
        if display.zone:
            self.client.subscribe(f"{self.root}zone/{display.zone}/mute", self._on_zone_mute)

    # -- life cycle -----------------------------------------------------------------

    def start(self) -> None:
        """Start the voice and connect to the broker (raises ConnectionError)."""
        if self._started:
            return
        if self.voice is not None:
            self.voice.start()
        self.client.start()
        self._started = True
        self._started_at = self.clock()
        log.info(
            "event=display_started display=%s zone=%s voice=%s",
            self.display.id,
            self.display.zone,
            "on" if self.voice is not None else "off",
        )

    def stop(self) -> None:
        """Ask the loop to end; `run` then publishes `offline` and returns."""
        self._stop.set()
        self._wake.set()

    def run(self, stop: threading.Event | None = None, notifier: _Notifier | None = None) -> None:
        """Draw frames on this thread until `stop` (or `self.stop()`), then shut down cleanly."""
        import pygame

        from displays.render import HallRenderer

        stop = stop or threading.Event()
        pygame.display.init()
        try:
            self.start()
            surface = self._open_window(pygame)
            renderer = HallRenderer(surface.get_size(), portrait=self.display.orientation == "portrait")
            if notifier is not None:
                notifier.ready()
            self._loop(pygame, surface, renderer, stop, notifier)
        finally:
            if notifier is not None:
                notifier.stopping()
            self.shutdown()
            pygame.display.quit()

    def shutdown(self) -> None:
        """Stop the voice and disconnect (publishing `offline`)."""
        if self.voice is not None:
            self.voice.stop()
        if self._started:
            self.client.stop()
            self._started = False
        log.info("event=display_stopped display=%s frames=%d", self.display.id, self.frames)

    # -- frame loop -----------------------------------------------------------------

    def _open_window(self, pygame: Any) -> Any:
        portrait = self.display.orientation == "portrait"
        if self.size is not None:
            size = self.size
        elif self.windowed:
            size = (720, 1280) if portrait else (1280, 720)
        else:
            size = (0, 0)  # the whole screen at its own resolution
        flags = 0 if self.windowed else pygame.FULLSCREEN
        surface = pygame.display.set_mode(size, flags)
        pygame.display.set_caption(f"{self.config.hall.name} · {self.display.id}")
        pygame.mouse.set_visible(self.windowed)
        return surface

    def _loop(self, pygame: Any, surface: Any, renderer: Any, stop: threading.Event, notifier: Any) -> None:
        period = 1.0 / self.fps
        next_frame = self.clock()
        next_telemetry = self.clock() + TELEMETRY_S
        next_watchdog = self.clock() + 5.0
        while not stop.is_set() and not self._stop.is_set():
            self._wake.wait(max(0.0, next_frame - self.clock()))
            self._wake.clear()
            started = self.clock()
            self._drain(started)
            for event in pygame.event.get():
                if event.type == pygame.QUIT or (
                    event.type == pygame.KEYDOWN
                    and event.key in (pygame.K_ESCAPE, pygame.K_q)
                    and self.windowed
                ):
                    self._stop.set()
            screen = self.model.screen(started, datetime.now(self.tz))
            renderer.draw(surface, screen, started)
            pygame.display.flip()
            self.frames += 1
            if self.on_frame is not None:
                self.on_frame(FrameInfo(screen, started, self.clock()))
            next_frame = max(next_frame + period, started + period * 0.5)
            if started >= next_telemetry:
                next_telemetry = started + TELEMETRY_S
                self._publish_telemetry()
            if notifier is not None and started >= next_watchdog:
                next_watchdog = started + 5.0
                notifier.watchdog()

    def _drain(self, now: float) -> None:
        """Take what MQTT delivered into the model (the model lives on the frame loop's thread)."""
        while self._inbox:
            kind, item = self._inbox.popleft()
            if kind == "state":
                topic, payload = item
                self.model.apply_state(topic, payload)
            elif kind == "call":
                self.model.apply_call(item, now)
            elif kind == "server":
                self.model.set_link(server_online=item)
        self.model.set_link(connected=self.client.connected)

    # -- MQTT (paho's thread) -------------------------------------------------------

    def _put(self, kind: str, item: Any) -> None:
        self._inbox.append((kind, item))
        self._wake.set()

    def _on_state(self, message: Message) -> None:
        topic = message.topic[len(self.root) :]
        if not message.payload:
            self._put("state", (topic, None))
            return
        payload = _json_object(message)
        if payload is not None:
            self._put("state", (topic, payload))

    def _on_server_status(self, message: Message) -> None:
        self._put("server", message.payload.strip() != b"offline")

    def _on_call(self, message: Message) -> None:
        if message.retain:
            return  # events are never retained; one that is would re-announce an old call
        payload = _json_object(message)
        if payload is None:
            return
        call = call_from_event(message.topic.rsplit("/", 1)[1], payload)
        if call is None or not self.model.shows_window(call.window):
            return
        self._put("call", call)
        if self.voice is not None and not self.quiet_now():
            self.voice.offer(call, str(payload.get("event_id") or ""))

    def _on_set(self, message: Message) -> None:
        payload = _json_object(message)
        if payload is not None and isinstance(payload.get("mute"), bool):
            self.device_muted = payload["mute"]
            self._hush()
            log.info("event=display_mute display=%s mute=%s", self.display.id, self.device_muted)

    def _on_zone_mute(self, message: Message) -> None:
        payload = _json_object(message) if message.payload else {"mute": False}
        if payload is not None and isinstance(payload.get("mute"), bool):
            self.zone_muted = payload["mute"]
            self._hush()
            log.info("event=zone_mute zone=%s mute=%s", self.display.zone, self.zone_muted)

    def _publish_info(self) -> None:
        info = {
            "kind": "display",
            "model": "pygame",
            "version": VERSION,
            "zone": self.display.zone,
            "orientation": self.display.orientation,
            "voice": self.display.voice if self.voice is not None else "off",
        }
        self.client.publish(f"{self.root}device/{self.display.id}/info", info, retain=True)

    def _publish_telemetry(self) -> None:
        telemetry: dict[str, Any] = {
            "uptime_s": round(self.clock() - self._started_at, 1),
            "frames": self.frames,
        }
        if self.voice is not None:
            telemetry.update(
                announced=self.voice.spoken, queued=len(self.voice.queue), muted=self.quiet_now()
            )
        self.client.publish(f"{self.root}device/{self.display.id}/telemetry", telemetry, qos=0)

    # -- voice ----------------------------------------------------------------------

    def _hush(self) -> None:
        """Muted now: the calls waiting to be read are dropped, not read when the mute ends."""
        if self.voice is not None and self.quiet_now():
            self.voice.clear()

    def quiet(self, wall: datetime) -> bool:
        """Whether the voice keeps quiet at hall time `wall`."""
        return self.muted or self.zone_muted or self.device_muted or is_quiet_time(self.display.mute, wall)

    def quiet_now(self) -> bool:
        """`quiet` at the current hall time."""
        return self.quiet(datetime.now(self.tz))

    def _build_voice(self) -> Any:
        if self.display.voice == "off":
            return None
        from displays.voice import ClipsBackend, EspeakBackend, MixerPlayer, Voice, VoiceError

        try:
            espeak = EspeakBackend()
            backend: Any = espeak
            if self.display.voice == "clips":
                from displays.clips import generate_clips

                folder = Path(self.display.clips_dir)
                generate_clips(folder, self.config.windows, espeak)
                backend = ClipsBackend(folder)
            player = MixerPlayer(volume=self.display.volume / 100)
        except (VoiceError, OSError, RuntimeError) as exc:
            # a display without sound still shows every call; it must not refuse to start
            log.warning("event=voice_unavailable display=%s error=%s", self.display.id, exc)
            return None
        return Voice(
            backend,
            player,
            english=self.display.english,
            chime=self.display.chime,
            quiet=self.quiet,
            wall_clock=lambda: datetime.now(self.tz),
            fallback=espeak if backend is not espeak else None,
        )


def _json_object(message: Message) -> dict[str, Any] | None:
    try:
        payload = json.loads(message.payload)
    except ValueError:
        log.warning("event=bad_payload topic=%s", message.topic)
        return None
    return payload if isinstance(payload, dict) else None
