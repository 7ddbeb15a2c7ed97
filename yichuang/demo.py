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
import random
import tempfile
import threading
import time
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from firmware_bridge.codecs.ycbus import Key
from hw_sim.hall_sim import HallSim
from yichuang.broker_process import free_port, start_mosquitto
from yichuang.config import load_config
from yichuang.config_model import BrokerConfig, Config, DatabaseConfig, HttpConfig, OpeningHours
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
        }
        text = lines.get(kind)
        if text:
            print(f"{at}  {text}", flush=True)


def run_demo(config_path: Path, stop: threading.Event, duration_s: float = 0.0, speed: float = 1.0) -> int:
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

    sim = HallSim(config, transport="tcp").start()
    control = SimControl.for_config(sim, config)
    control.start()
    bridge_config = rewritten_config(config, sim.urls)
    bridges = [
        Bridge(bridge_config, bridge_id, workdir / bridge_id, gpio="mock")
        for bridge_id in sorted({d.bridge for d in config.devices if d.bridge})
    ]
    for bridge in bridges:
        bridge.start()
    first_window = next(w.id for w in config.windows)
    print(f"Yichuang demo: {config.hall.name} ({config.hall.name_en})")
    print(f"  broker         {broker.url}   (watch: mosquitto_sub -p {broker.port} -t 'yc/#' -v)")
    print(f"  server         {server.public_url}/healthz  {server.public_url}/docs")
    print(f"  clerk console  {server.public_url}/console/{first_window}")
    print(f"  database       {workdir / 'hall.db'}")
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
    actors = HallActors(config, rpc, random.Random(2026), speed, sim)
    watcher = PanelWatcher(sim)
    started = time.monotonic()
    try:
        actors.open_windows()
        while not stop.is_set():
            actors.step()
            watcher.report()
            if duration_s and time.monotonic() - started >= duration_s:
                break
            stop.wait(max(0.05, 1.0 / speed))
    finally:
        client.stop()
        for bridge in bridges:
            bridge.stop()
        control.stop()
        sim.stop()
        server.stop()
        broker.stop()
    return 0


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
        self, config: Config, rpc: CommandClient, rng: random.Random, speed: float, sim: HallSim | None = None
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
        self.kiosks = [k.id for k in config.kiosks] or ["kiosk-01"]
        self.services = sorted({s for w in self.windows for s in w.services})
        self.appointments = 0

    def open_windows(self) -> None:
        for index, window in enumerate(self.windows):
            self.rpc.request(f"window/{window.id}/open", {"clerk": f"S{1001 + index}"})

    def step(self) -> None:
        """One beat of the hall: a citizen or two arrive, and one clerk acts."""
        if self.rng.random() < 0.6:
            self._citizen()
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
