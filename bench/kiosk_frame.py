"""Kiosk figures: frame time, cold start to first frame, touch -> first byte at the printer.

    .venv/bin/python bench/kiosk_frame.py [--frames 300] [--tickets 200] [--cold 5]

The issue's targets: frame time p99 <= 16 ms on one core at 1920x1080 and 1280x800, and
touch -> first byte at the printer p99 <= 300 ms.

- Frame time: the real `KioskApp` (SDL dummy video driver, Noto Sans CJK) redraws every
  screen a citizen passes through (home, services, search, one service, guide, phone,
  ticket, check-in) in turn, each frame a full layout and repaint, `--frames` per size.
  The process is pinned to one core. The MQTT and printer threads run as in production.
- Cold start: a fresh interpreter imports the kiosk, opens the screen, loads the fonts and
  draws the first frame; timed from before the process is spawned (`--cold` runs).
- Touch -> printer: the kiosk takes `--tickets` tickets through its screens; each time
  from the release of the finger on 确认取号 (a pygame event posted like a touch) to the
  first byte of that receipt reaching the simulated printer (hw_sim's network ESC/POS
  printer, through a counting TCP relay). The queue server runs as `yichuang server` in its
  own process (SQLite WAL synchronous=FULL) on a private Mosquitto.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from _stats import percentile  # noqa: E402

os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")

EXAMPLE = ROOT / "config" / "hall.example.toml"
HALL = "kbench"


def hall_toml(tmp: Path, broker_port: int, http_port: int) -> Path:
    from yichuang.demo import local_hall_toml

    text = local_hall_toml(
        EXAMPLE.read_text(encoding="utf-8"),
        f"mqtt://127.0.0.1:{broker_port}",
        f"sqlite:///{tmp}/hall.db",
        http_port,
        HALL,
    )
    path = tmp / "hall.toml"
    path.write_text(text, encoding="utf-8")
    return path


class Relay:
    """A TCP relay in front of the printer that notes when each receipt's first byte passes."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.receipt_starts: list[float] = []
        self._stop = threading.Event()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            upstream = socket.create_connection(("127.0.0.1", self.target_port))
            for sock in (client, upstream):
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            threading.Thread(target=self._pipe, args=(client, upstream, True), daemon=True).start()
            threading.Thread(target=self._pipe, args=(upstream, client, False), daemon=True).start()

    def _pipe(self, src: socket.socket, dst: socket.socket, outbound: bool) -> None:
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                if outbound and b"\x1b@" in data:  # ESC @ opens every receipt
                    self.receipt_starts.append(time.monotonic())
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for sock in (src, dst):
                with contextlib.suppress(OSError):
                    sock.close()

    def close(self) -> None:
        self._stop.set()
        self.listener.close()


def cold_start_child(config_path: str) -> None:
    """Runs in a fresh interpreter: everything up to the first frame, then prints the clock."""
    from kiosk.app import KioskApp
    from yichuang.config import load_config

    config = load_config(config_path)
    app = KioskApp(config, "kiosk-01", printer=None, size=(1920, 1080))
    app.start()
    print(f"FIRST_FRAME {time.time():.6f}", flush=True)
    app.stop()


def cold_start(config_path: Path, runs: int) -> list[float]:
    times = []
    for _ in range(runs):
        start = time.time()
        out = subprocess.run(
            [sys.executable, __file__, "--cold-child", str(config_path)],
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        ).stdout
        match = re.search(r"FIRST_FRAME ([0-9.]+)", out)
        if match is None:
            raise SystemExit(f"cold-start child printed no frame time: {out!r}")
        times.append(float(match.group(1)) - start)
    return times


def frame_times(app: object, frames: int) -> list[float]:
    from kiosk.app import KioskApp
    from kiosk.flow import Screen

    assert isinstance(app, KioskApp)
    route = [
        ("home", None),
        ("take", None),
        ("search", None),
        ("letter", "b"),
        ("back", None),
        ("service", "realestate"),
        ("guide", None),
        ("back", None),
        ("phone", None),
        ("back", None),
    ]
    times: list[float] = []
    step = 0
    while len(times) < frames:
        if step % 20 == 0:
            action, arg = route[(step // 20) % len(route)]
            if action == "home":
                app.flow._reset(app.clock())
            elif app.find(action, arg) is not None:
                app.flow.state.entered_at = -10.0  # skip the tap guard: this is not a person
                app.tap(action, arg)
        step += 1
        start = time.perf_counter()
        app.render()
        times.append((time.perf_counter() - start) * 1000)
    app.flow._reset(app.clock())
    assert app.flow.state.screen == Screen.HOME
    return times


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--frames", type=int, default=300, help="frames measured per screen size")
    parser.add_argument("--tickets", type=int, default=200, help="tickets for touch -> printer")
    parser.add_argument("--cold", type=int, default=5, help="cold starts")
    parser.add_argument("--cold-child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.cold_child:
        cold_start_child(args.cold_child)
        return 0

    from _server import ServerProcess, start_server

    from hw_sim.escpos_printer import SimPrinter
    from kiosk.app import KioskApp
    from kiosk.flow import Screen
    from kiosk.printer import open_printer
    from yichuang.broker_process import free_port, start_mosquitto
    from yichuang.config import load_config

    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})
    print(f"kiosk bench on {os.cpu_count()} cores, pinned to one; python {sys.version.split()[0]}")
    tmp = Path(tempfile.mkdtemp(prefix="kiosk-bench-"))
    (tmp / "mq").mkdir()
    broker = start_mosquitto(tmp / "mq")
    config_path = hall_toml(tmp, broker.port, free_port())
    server: ServerProcess | None = None
    printer = SimPrinter("kiosk-01").start()
    relay = Relay(printer.port)
    try:
        cold = cold_start(config_path, args.cold)
        print(
            f"cold start -> first frame (1920x1080, {len(cold)} runs): "
            f"median {statistics.median(cold):.2f} s, max {max(cold):.2f} s"
        )

        server = start_server(config_path, tmp / "server.log")
        config = load_config(config_path)
        for size in ((1920, 1080), (1280, 800)):
            app = KioskApp(config, "kiosk-01", printer=None, size=size, client_id=f"bench-{size[0]}")
            app.start()
            app.wait_for(lambda app=app: app.flow.state.link_ok, 30)  # type: ignore[misc]
            frame_times(app, 30)  # warm the text cache as a running kiosk has it
            times = frame_times(app, args.frames)
            app.stop()
            print(
                f"frame {size[0]}x{size[1]} ({len(times)} full redraws over 8 screens): "
                f"p50 {percentile(times, 50):.2f} ms, p99 {percentile(times, 99):.2f} ms, "
                f"max {max(times):.2f} ms (target p99 <= 16 ms)"
            )

        app = KioskApp(
            config,
            "kiosk-01",
            printer=open_printer(f"tcp://127.0.0.1:{relay.port}"),
            size=(1280, 800),
            client_id="bench-touch",
        )
        app.start()
        app.wait_for(lambda: app.flow.state.link_ok, 30)
        latencies: list[float] = []
        for _ in range(args.tickets):
            app.tap("take")
            app.tap("service", "realestate")
            button = app.find("issue")
            assert button is not None
            x, y, w, h = button.rect
            time.sleep(app.flow.TAP_GUARD_S)
            before = len(relay.receipt_starts)
            import pygame

            pos = (x + w // 2, y + h // 2)
            pygame.event.post(pygame.event.Event(pygame.MOUSEBUTTONDOWN, pos=pos, button=1))
            touched = time.monotonic()
            pygame.event.post(pygame.event.Event(pygame.MOUSEBUTTONUP, pos=pos, button=1))
            app.wait_for(lambda before=before: len(relay.receipt_starts) > before, 10)  # type: ignore[misc]
            latencies.append((relay.receipt_starts[before] - touched) * 1000)
            app.wait_for(lambda: app.flow.state.screen == Screen.TICKET and not app.flow.state.printing, 10)
            app.tap("done")
        app.stop()
        print(
            f"touch -> first byte at the printer ({len(latencies)} tickets): "
            f"p50 {percentile(latencies, 50):.1f} ms, p99 {percentile(latencies, 99):.1f} ms, "
            f"max {max(latencies):.1f} ms (target p99 <= 300 ms)"
        )
        print(f"receipts printed by the simulated printer: {printer.printed}")
    finally:
        relay.close()
        printer.stop()
        if server is not None:
            server.stop()
        broker.stop()
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
