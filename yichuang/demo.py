"""`yichuang demo`: a whole hall on loopback with simulated citizens and clerks.

Starts a private Mosquitto and the queue server on free ports (a broker or server already
running on the standard ports is left alone), then plays a morning in the hall: citizens take
tickets at two kiosks (some green channel, some with appointments), clerks call, serve,
recall, transfer and finish, citizens rate the service. Everything goes through the public
contract, and everything that happens is printed, until Ctrl-C.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import random
import re
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from firmware_bridge.codecs.ycbus import Key
from hw_sim.hall_sim import HallSim
from kiosk.app import KioskApp
from yichuang.broker_process import free_port, start_mosquitto
from yichuang.child_process import stop_child
from yichuang.config import load_config
from yichuang.config_model import BrokerConfig, Config, DatabaseConfig, HttpConfig, OpeningHours
from yichuang.demo_kiosk import KioskAutopilot
from yichuang.mqtt_client import Message, MqttClient
from yichuang.rpc import CommandClient

log = logging.getLogger(__name__)


def demo_config(base: Config, broker_url: str, db_path: Path, http_port: int) -> Config:
    """The example hall, open around the clock, on private ports and a throwaway database."""
    return dataclasses.replace(
        base,
        hall=dataclasses.replace(base.hall, opening_hours=OpeningHours(always=True)),
        broker=BrokerConfig(url=broker_url),
        database=DatabaseConfig(url=f"sqlite:///{db_path}"),
        http=HttpConfig(host="127.0.0.1", port=http_port),
    )


class Narrator:
    """Prints the hall's events as a person would describe them."""

    def __init__(self, config: Config) -> None:
        self.names = {s.id: s.name for s in config.services}

    def __call__(self, message: Message) -> None:
        kind = message.topic.rsplit("/", 1)[-1]
        event = json.loads(message.payload)
        at = event.get("at", "")[11:19]
        ticket = event.get("ticket", "")
        service = self.names.get(event.get("service", ""), event.get("service", ""))
        lines = {
            "ticket_issued": f"取号 issued   {ticket} {service} ({event.get('priority')}), "
            f"{event.get('ahead')} ahead",
            "ticket_called": f"叫号 called   请 {ticket} 号到 {event.get('label')} 办理",
            "ticket_recalled": f"重呼 recalled {ticket} at {event.get('label')} x{event.get('recall_count')}",
            "ticket_started": f"办理 serving  {ticket} at {event.get('window')}",
            "ticket_finished": f"办结 finished {ticket} at {event.get('window')}: {event.get('outcome')}",
            "ticket_no_show": f"过号 no-show  {ticket} at {event.get('window')}",
            "ticket_transferred": f"转移 transfer {ticket} -> {event.get('service')}",
            "evaluation": f"评价 rated    {ticket} at {event.get('window')}: {event.get('score')}/5",
            "help_requested": f"帮办 help     requested at {event.get('kiosk')}",
            "window_opened": f"开窗 opened   {event.get('window')}",
            "locker_deposited": f"存件 locker   {event.get('locker')} door {event.get('door')} "
            f"by {event.get('window')}; pickup code sent by SMS",
            "locker_picked_up": f"取件 locker   {event.get('locker')} door {event.get('door')} picked up",
            "sms_sent": f"短信 SMS sent ({event.get('parts')} part(s)) by {event.get('device')}",
        }
        text = lines.get(kind)
        if text:
            print(f"{at}  {text}", flush=True)


def local_hall_toml(
    base_text: str, broker_url: str, db_url: str, http_port: int, hall_id: str | None = None
) -> str:
    """A hall config's TOML text made to run on loopback: always open, on the given broker,
    database and HTTP port (and hall id); everything else, comments included, as it was.

    Used by the demo for the processes it starts, and by tests and benchmarks that run the
    example hall as the real programs read it.
    """
    text = re.sub(
        r"(?m)^opening_hours = \[\n(?:.*\n)*?\]\n", 'opening_hours = "always"\n', base_text, count=1
    )
    text = re.sub(r'(?m)^opening_hours = "[^"]*"', 'opening_hours = "always"', text, count=1)
    text = re.sub(r'(?m)^url = "mqtt://[^"]*"', f'url = "{broker_url}"', text, count=1)
    text = re.sub(r'(?m)^url = "(sqlite|postgresql)[^"]*"', f'url = "{db_url}"', text, count=1)
    text = re.sub(r'(?m)^host = "[^"]*"', 'host = "127.0.0.1"', text, count=1)
    text = re.sub(r"(?m)^port = \d+", f"port = {http_port}", text, count=1)
    if hall_id is not None:
        text = re.sub(r'(?m)^id = "[^"]*"', f'id = "{hall_id}"', text, count=1)
    return text


def run_demo(
    config_path: Path,
    stop: threading.Event,
    duration_s: float = 0.0,
    speed: float = 1.0,
    headless: bool = True,
) -> int:
    """The whole hall until `stop` (or `duration_s`); `headless`: no windows, SDL's dummy driver.

    With a screen, the kiosk opens a window here and the hall display one of its own (a
    `yichuang display` process); either way the demo's citizens use the kiosk by touch.
    """
    from queue_server.app import Server

    base = load_config(config_path)
    workdir = Path(tempfile.mkdtemp(prefix="yichuang-demo-"))
    broker = start_mosquitto(workdir)
    http_port = free_port()
    config = demo_config(base, broker.url, workdir / "hall.db", http_port)
    server = Server(config)
    server.start()
    hall = config.hall.id
    # the window devices: simulated callers, evaluation pad and LED panels on socket:// lines,
    # driven by a real bridge exactly as on real RS-485 lines
    from firmware_bridge.bridge import Bridge
    from hw_sim.hall_sim import HallSim, rewritten_config
    from hw_sim.sim_control import SimControl

    receipts = workdir / "receipts"
    sim = HallSim(config, transport="tcp", receipts_dir=receipts).start()
    control = SimControl.for_config(sim, config)
    control.start()
    bridge_config = rewritten_config(config, sim.urls, sim.printer_urls)
    bridges = [
        Bridge(bridge_config, bridge_id, workdir / bridge_id, gpio="mock")
        for bridge_id in sorted({d.bridge for d in config.devices if d.bridge})
    ]
    for bridge in bridges:
        bridge.start()
    display_proc = _start_display(config, config_path, workdir, broker.url, http_port, headless)
    kiosk_app, autopilot = _start_kiosk(bridge_config, speed)
    first_window = next(w.id for w in config.windows)
    print(f"Yichuang demo: {config.hall.name} ({config.hall.name_en})")
    print(f"  broker         {broker.url}   (watch: mosquitto_sub -p {broker.port} -t 'yc/#' -v)")
    print(f"  server         {server.public_url}/healthz  {server.public_url}/docs")
    print(f"  clerk console  {server.public_url}/console/{first_window}")
    print(
        f"  hall display   {server.public_url}/display"
        + (f"   (and a window: {config.displays[0].id})" if display_proc and not headless else "")
    )
    print(f"  database       {workdir / 'hall.db'}")
    if kiosk_app is not None:
        where = "headless" if headless else "a window"
        print(
            f"  kiosk          {kiosk_app.kiosk.id} ({where}), used by simulated citizens;"
            f" receipts as PNG in {receipts}"
        )
    for port, url in sim.urls.items():
        print(f"  device line    {port} simulated at {url}")
    press = '{"key": "call_next"}'
    print(f"  press a key    mosquitto_pub -p {broker.port} -t yc/{hall}/sim/caller-w01/press -m '{press}'")
    print("  Ctrl-C to stop.\n", flush=True)

    client = MqttClient(
        host="127.0.0.1", port=broker.port, client_id="yc-demo-actors", hall=hall, device="demo-actors"
    )
    client.subscribe(f"yc/{hall}/event/#", Narrator(config))
    client.start()
    rpc = CommandClient(client, hall, "demo-actors")
    real_kiosk = kiosk_app.kiosk.id if kiosk_app is not None else None
    actors = HallActors(config, rpc, random.Random(2026), speed, sim, skip_kiosk=real_kiosk)
    watcher = PanelWatcher(sim)
    started = time.monotonic()
    done = threading.Event()

    def hall_life() -> None:
        try:
            actors.open_windows()
            while not stop.is_set() and not done.is_set():
                actors.step()
                watcher.report()
                stop.wait(max(0.05, 1.0 / speed))
        except Exception:  # the narration stops; the demo says why and ends
            log.exception("demo actors failed")
            done.set()

    actors_thread = threading.Thread(target=hall_life, name="demo-actors", daemon=True)
    actors_thread.start()
    if autopilot is not None:
        autopilot.codes = _appointment_codes(rpc, config, actors)
    receipts_seen = 0
    try:
        # pygame wants the main thread: the kiosk's frames and its citizens run here
        while not stop.is_set() and not done.is_set():
            if duration_s and time.monotonic() - started >= duration_s:
                break
            if kiosk_app is not None and autopilot is not None:
                kiosk_app.step(wait_s=0.03)
                autopilot.tick()
                printer = sim.printers.get(kiosk_app.kiosk.id)
                if printer is not None and printer.printed > receipts_seen:
                    for receipt in printer.receipts[receipts_seen - printer.printed :]:
                        number = next(
                            (ln for ln in receipt.lines if re.fullmatch(r"[A-Z]\d{3,}", ln.strip())), ""
                        )
                        print(
                            f"          票 receipt {kiosk_app.kiosk.id} {number.strip()} -> "
                            f"{receipt.png_path}",
                            flush=True,
                        )
                    receipts_seen = printer.printed
            else:
                stop.wait(0.2)
    finally:
        done.set()
        actors_thread.join(timeout=10)
        if kiosk_app is not None:
            kiosk_app.stop()
        if display_proc is not None:
            stop_child(display_proc, 10)
        client.stop()
        for bridge in bridges:
            bridge.stop()
        control.stop()
        sim.stop()
        server.stop()
        broker.stop()
    return 0


def _start_kiosk(config: Config, speed: float) -> tuple[KioskApp | None, KioskAutopilot | None]:
    """The first kiosk of the hall as the real app, its printer and camera simulated."""
    if not config.kiosks:
        return None, None
    from hw_sim.virtual_camera import VirtualCamera
    from kiosk.printer import open_printer

    kiosk = config.kiosks[0]
    camera = VirtualCamera(size=(1280, 720), seed=7) if kiosk.camera else None
    app = KioskApp(
        config,
        kiosk.id,
        printer=open_printer(kiosk.printer) if kiosk.printer else None,
        camera=camera,
        size=(1280, 800),
        client_id="yc-demo-kiosk",
    )
    app.start()
    # a visit every few seconds, taps slow enough to follow on the screen
    autopilot = KioskAutopilot(
        app, random.Random(7), camera=camera, every_s=6 / speed, tap_s=0.7 / min(speed, 2)
    )
    return app, autopilot


def _start_display(
    config: Config, config_path: Path, workdir: Path, broker_url: str, http_port: int, headless: bool
) -> subprocess.Popen[bytes] | None:
    """The hall display as `yichuang display` (its own window: one pygame screen per process)."""
    if not config.displays:
        return None
    path = workdir / "hall.toml"
    path.write_text(
        local_hall_toml(
            config_path.read_text(encoding="utf-8"), broker_url, f"sqlite:///{workdir / 'hall.db'}", http_port
        ),
        encoding="utf-8",
    )
    env = dict(os.environ)
    args = [
        sys.executable,
        "-m",
        "yichuang.cli",
        "--log-level",
        "error",
        "display",
        "-c",
        str(path),
        "--id",
        config.displays[0].id,
    ]
    if headless:
        env["SDL_VIDEODRIVER"] = "dummy"
        env["SDL_AUDIODRIVER"] = "dummy"
        args += ["--mute", "--size", "1920x1080"]
    else:
        args += ["--windowed"]
    return subprocess.Popen(args, env=env, stdin=subprocess.DEVNULL)


def _appointment_codes(rpc: CommandClient, config: Config, actors: HallActors) -> Iterator[str]:
    """Appointments made on the fly for the kiosk's citizens who check in by QR."""
    tz = ZoneInfo(config.hall.timezone)
    while True:
        actors.appointments += 1
        code = f"Q{actors.appointments:05d}"
        slot = datetime.now(tz) - timedelta(minutes=5)
        service = actors.rng.choice(actors.services)
        rpc.request("appointment/create", {"code": code, "service": service, "slot_at": slot.isoformat()})
        yield code


class PanelWatcher:
    """Prints what the simulated LED panels show whenever it changes."""

    def __init__(self, sim: HallSim) -> None:
        self.panels = {d: sim.device(d) for d in sim.device_ids if d.startswith("panel-")}
        self.shown: dict[str, str] = {}

    def report(self) -> None:
        for device_id, panel in self.panels.items():
            text = " | ".join(line for line in panel.lines if line)
            if text and self.shown.get(device_id) != text:
                self.shown[device_id] = text
                print(f"          屏 panel  {device_id}: {text}", flush=True)


class HallActors:
    """Simulated citizens at kiosks and clerks at the comprehensive and instant windows."""

    def __init__(
        self,
        config: Config,
        rpc: CommandClient,
        rng: random.Random,
        speed: float,
        sim: HallSim | None = None,
        skip_kiosk: str | None = None,
    ) -> None:
        self.config = config
        self.sim = sim
        # windows whose clerk uses the simulated keypad rather than the virtual caller
        self.keypads = {
            d.window: d.id
            for d in config.devices
            if d.kind == "caller" and sim is not None and d.id in sim.device_ids
        }
        self.pads = {
            d.window: d.id
            for d in config.devices
            if d.kind == "eval_pad" and sim is not None and d.id in sim.device_ids
        }
        self.rpc = rpc
        self.rng = rng
        self.speed = speed
        self.tz = ZoneInfo(config.hall.timezone)
        self.windows = [w for w in config.windows if w.kind.value in ("comprehensive", "instant")][:6]
        # the kiosk the real app runs is used by touch (KioskAutopilot), not over MQTT
        self.kiosks = [k.id for k in config.kiosks if k.id != skip_kiosk] or [skip_kiosk or "kiosk-01"]
        self.services = sorted({s for w in self.windows for s in w.services})
        self.appointments = 0
        # the file locker, when its lock board and modem are simulated: a clerk deposits a
        # result now and then, and its citizen comes back with the code from the SMS
        self.locker = self._simulated_locker()
        self.pickups: list[tuple[str, int, str]] = []  # (locker, door, code) waiting to be collected

    def _simulated_locker(self) -> tuple[str, str, str] | None:
        """(locker id, lock board id, modem id) when all three are in the config and simulated."""
        if self.sim is None or not self.config.lockers:
            return None
        boards = self.sim.lock_boards
        modem = next(iter(self.sim.modems), None)
        for device in self.config.devices:
            if device.locker and device.id in boards and modem is not None:
                return device.locker, device.id, modem
        return None

    def open_windows(self) -> None:
        for index, window in enumerate(self.windows):
            self.rpc.request(f"window/{window.id}/open", {"clerk": f"S{1001 + index}"})

    def step(self) -> None:
        """One beat of the hall: a citizen or two arrive, and one clerk acts."""
        if self.rng.random() < 0.6:
            self._citizen()
        if self.locker is not None and self.rng.random() < 0.08:
            self._locker()
        window = self.rng.choice(self.windows)
        if window.id in self.keypads and self.sim is not None:
            self._keypad(window.id)
            return
        reply = self.rpc.request(f"window/{window.id}/call_next", {})
        if not reply["ok"]:
            return
        roll = self.rng.random()
        path = f"window/{window.id}"
        if roll < 0.1:
            self.rpc.request(f"{path}/recall", {})
        elif roll < 0.15:
            others = [
                s
                for s in self.services
                if s != reply["result"]["ticket"]["service"] and any(s in w.services for w in self.windows)
            ]
            if others:
                self.rpc.request(f"{path}/transfer", {"service": self.rng.choice(others)})
                return
        self.rpc.request(f"{path}/start", {})
        self.rpc.request(f"{path}/finish", {})
        if self.rng.random() < 0.7:
            self.rpc.request(f"{path}/evaluate", {"score": self.rng.choice([5, 5, 5, 4, 4, 3])})

    def _locker(self) -> None:
        """A clerk deposits a result (the door opens, they put it in and shut it), or a citizen
        comes back with the code from the SMS the simulated modem received."""
        assert self.locker is not None and self.sim is not None
        locker, board_id, modem_id = self.locker
        board, modem = self.sim.lock_board(board_id), self.sim.modem(modem_id)
        if self.pickups and self.rng.random() < 0.5:
            locker, door, code = self.pickups.pop(0)
            if self.rpc.request(f"locker/{locker}/pickup", {"code": code})["ok"]:
                board.wait_for(lambda b: door in b.open_doors, 3.0)
                time.sleep(0.5 / self.speed)
                board.close(door)
            return
        texts = len(modem.sent)
        phone = f"139{self.rng.randrange(10**8):08d}"
        window = self.rng.choice(self.windows).id
        reply = self.rpc.request(f"locker/{locker}/deposit", {"window": window, "phone": phone})
        if not reply["ok"]:
            return
        door = int(reply["result"]["door"])
        board.wait_for(lambda b: door in b.open_doors, 3.0)
        time.sleep(0.5 / self.speed)
        board.close(door)
        if modem.wait_for(lambda m: len(m.sent) > texts, 10.0):
            found = re.search(r"取件码(\d{6})", modem.sent[-1].text)
            if found:
                self.pickups.append((locker, door, found.group(1)))

    def _keypad(self, window: str) -> None:
        """The clerk works the hardware caller: call, start, finish; the citizen rates on the pad."""
        assert self.sim is not None
        keypad = self.sim.device(self.keypads[window])
        for key in (Key.CALL_NEXT, Key.START, Key.FINISH):
            keypad.press(key)
            time.sleep(0.8 / self.speed)  # long enough to see the panel change
        pad = self.pads.get(window)
        if pad is not None and self.rng.random() < 0.8:
            self.sim.device(pad).press(Key.SCORE, self.rng.choice([5, 5, 4, 3]))

    def _citizen(self) -> None:
        kiosk = self.rng.choice(self.kiosks)
        service = self.rng.choice(self.services)
        roll = self.rng.random()
        if roll < 0.1:
            self.appointments += 1
            code = f"DEMO{self.appointments:04d}"
            slot = datetime.now(self.tz) - timedelta(minutes=5)
            self.rpc.request(
                "appointment/create", {"code": code, "service": service, "slot_at": slot.isoformat()}
            )
            self.rpc.request("appointment/checkin", {"code": code, "kiosk": kiosk})
        elif roll < 0.2:
            self.rpc.request("ticket/issue", {"service": service, "kiosk": kiosk, "priority": "green"})
        elif roll < 0.22:
            self.rpc.request("help/request", {"kiosk": kiosk, "reason": "不会操作 needs help"})
        else:
            self.rpc.request("ticket/issue", {"service": service, "kiosk": kiosk})
