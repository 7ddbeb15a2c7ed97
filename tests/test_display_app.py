"""A hall display against the real broker and queue server: what a citizen sees and hears.

The display runs its real frame loop (pygame, SDL_VIDEODRIVER=dummy) at 1920x1080 and its
real voice queue and espeak-ng rendering; only the loudspeaker is replaced by a recorder.
"""

from __future__ import annotations

import os
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import replace

import numpy as np
import pytest

os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
os.environ.setdefault("SDL_AUDIODRIVER", "dummy")
os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")

from helpers.halls import small_hall
from helpers.server import Caller, on_ports, start_server

from displays.app import DisplayApp, FrameInfo
from displays.voice import EspeakBackend, Voice
from yichuang.config_model import Config, DisplayConfig


class Recorder:
    """A loudspeaker that keeps what it is given (and takes a moment, like a real one)."""

    def __init__(self) -> None:
        self.played: list[np.ndarray] = []

    def play(self, samples: np.ndarray) -> None:
        self.played.append(samples)
        time.sleep(0.05)

    def stop(self) -> None:
        pass


class RunningDisplay:
    def __init__(self, config: Config, display_id: str = "display-main") -> None:
        self.frames: list[FrameInfo] = []
        self.spoken: list[str] = []
        self.recorder = Recorder()
        self.voice = Voice(
            EspeakBackend(),
            self.recorder,
            english=True,
            on_spoken=lambda s: self.spoken.append(s.call.ticket),
        )
        self.app = DisplayApp(
            config, display_id, size=(1920, 1080), voice=self.voice, on_frame=self.frames.append,
            client_id=f"test-display-{uuid.uuid4().hex[:6]}",
        )  # fmt: skip
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.app.run, args=(self.stop,), daemon=True)
        self.thread.start()

    def wait_frame(self, predicate, timeout: float = 5.0) -> FrameInfo:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for frame in reversed(self.frames[-5:]):
                if predicate(frame.screen):
                    return frame
            time.sleep(0.01)
        raise AssertionError(
            f"no frame matched within {timeout}s; last: {self.frames[-1].screen if self.frames else None}"
        )

    def close(self) -> None:
        self.stop.set()
        self.thread.join(10)
        assert not self.thread.is_alive()


@pytest.fixture
def hall(broker, tmp_path) -> Iterator[tuple[Config, Caller]]:
    config = on_ports(small_hall(), broker.url, f"sqlite:///{tmp_path / 'hall.db'}")
    config = replace(config, displays=(DisplayConfig("display-main", zone="east"),))
    server = start_server(config)
    caller = Caller(broker.port, config.hall.id)
    try:
        yield config, caller
    finally:
        caller.close()
        server.stop()


def test_a_display_started_after_ten_calls_shows_them_all_without_announcing_any(hall, mqtt_probe):
    config, call = hall
    for w in ("w01", "w02", "w03"):
        assert call(f"window/{w}/open", clerk="s01")["ok"]
    for _ in range(10):
        assert call("ticket/issue", service="A", kiosk="kiosk-01")["ok"]
    called = [
        call(f"window/w0{1 + n % 3}/call_next", clerk="s01")["result"]["ticket"]["no"] for n in range(10)
    ]

    mqtt_probe.subscribe("yc/testhall/device/display-main/#")
    display = RunningDisplay(config)
    try:
        frame = display.wait_frame(lambda s: len(s.recent) == 10)
        assert [c.ticket for c in frame.screen.recent] == called[::-1]
        assert frame.screen.latest.ticket == called[-1] and not frame.screen.flashing
        assert [w.caption.ticket for w in frame.screen.windows] == [called[9], called[7], called[8]]
        time.sleep(0.5)
        assert display.spoken == [] and display.voice.idle()  # a (re)start never re-announces old calls

        # the display is a device of the hall like any other
        info = mqtt_probe.wait_for("yc/testhall/device/display-main/info").json()
        assert info["kind"] == "display" and info["zone"] == "east"
        assert mqtt_probe.wait_for("yc/testhall/device/display-main/status").payload == b"online"

        # a new call: on screen within a frame or two of the reply, blinking, and read aloud once
        call("ticket/issue", service="B", kiosk="kiosk-01")
        ticket = call("window/w02/call_next", clerk="s01")["result"]["ticket"]["no"]
        frame = display.wait_frame(lambda s: s.latest is not None and s.latest.ticket == ticket)
        assert frame.screen.flashing and frame.screen.latest.label == "2号窗口"
        assert display.voice.wait_idle(10) and display.spoken == [ticket]
        assert len(display.recorder.played[0]) > 3 * 22050  # chime, Mandarin and English

        # a recall is read again; a muted zone stays quiet (and the screen still shows the call)
        call("window/w02/recall")
        deadline = time.monotonic() + 10
        while display.spoken != [ticket, ticket] and time.monotonic() < deadline:
            time.sleep(0.02)
        assert display.spoken == [ticket, ticket]
        mqtt_probe.publish("yc/testhall/zone/east/mute", {"mute": True}, retain=True)
        deadline = time.monotonic() + 5
        while not display.app.zone_muted and time.monotonic() < deadline:
            time.sleep(0.01)
        call("ticket/issue", service="A", kiosk="kiosk-01")
        quiet = call("window/w01/call_next", clerk="s01")["result"]["ticket"]["no"]
        display.wait_frame(lambda s: s.latest is not None and s.latest.ticket == quiet)
        time.sleep(0.3)
        assert display.spoken == [ticket, ticket]
    finally:
        mqtt_probe.publish("yc/testhall/zone/east/mute", b"", retain=True)
        display.close()
    # stopped cleanly: offline published before disconnecting
    mqtt_probe.wait_for("yc/testhall/device/display-main/status", lambda m: m.payload == b"offline")


def test_a_display_rebuilds_its_picture_after_the_broker_restarts(broker, hall):
    config, call = hall
    assert call("window/w01/open", clerk="s01")["ok"]
    call("ticket/issue", service="A", kiosk="kiosk-01")
    ticket = call("window/w01/call_next", clerk="s01")["result"]["ticket"]["no"]
    display = RunningDisplay(config)
    try:
        display.wait_frame(lambda s: s.online and s.latest is not None and s.latest.ticket == ticket)
        broker.restart()  # keeps nothing, like a broker after a crash
        display.wait_frame(lambda s: not s.online, timeout=10)
        # the server republishes its retained state on reconnect; the display shows it again
        display.wait_frame(
            lambda s: s.online and [w.caption.ticket for w in s.windows] == [ticket], timeout=15
        )
        assert display.spoken == []
    finally:
        display.close()


def test_yichuang_display_publishes_online_and_on_sigterm_offline_then_exits_0(broker, tmp_path, mqtt_probe):
    import signal
    import subprocess
    import sys

    from helpers.server import ROOT, example_toml

    path = example_toml(tmp_path, broker.url, f"sqlite:///{tmp_path / 'hall.db'}", 18080)
    mqtt_probe.subscribe("yc/qingpu/device/display-main/status")
    env = {**os.environ, "SDL_VIDEODRIVER": "dummy", "SDL_AUDIODRIVER": "dummy"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "yichuang.cli", "display", "-c", str(path), "--id", "display-main",
         "--windowed", "--size", "640x360", "--mute"],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )  # fmt: skip
    try:
        mqtt_probe.wait_for(
            "yc/qingpu/device/display-main/status", lambda m: m.payload == b"online", timeout=15
        )
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(15) == 0, proc.stdout.read().decode() if proc.stdout else ""
    finally:
        if proc.poll() is None:
            proc.kill()
    mqtt_probe.wait_for("yc/qingpu/device/display-main/status", lambda m: m.payload == b"offline")
    unknown = subprocess.run(
        [sys.executable, "-m", "yichuang.cli", "display", "-c", str(path), "--id", "nope"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=30,
    )  # fmt: skip
    assert unknown.returncode == 1 and "no [[display]] with id 'nope'" in unknown.stderr
