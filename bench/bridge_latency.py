"""Key press on a simulated YC-BUS line -> the window's LED panel showing the new ticket.

    .venv/bin/python bench/bridge_latency.py [--presses 1000] [--inflight 2] [--same-process]

The issue's figure: p50/p99 over 1,000 CALL_NEXT presses across 50 windows, target
p99 <= 50 ms at 115200 baud. Starts a private Mosquitto, `yichuang server` (a separate
process, SQLite WAL synchronous=FULL), ten simulated RS-485 lines behind ``socket://``
(5 caller lines and 5 LED panel lines, 10 devices each, addresses 1-10, as a hall would be
wired) and the bridge (`firmware_bridge.bridge.Bridge`) in a child interpreter as
`yichuang bridge` runs (reporting its bus counters back), or with `--same-process` next to
the simulated lines. Opens the 50 windows and issues tickets over MQTT, then
presses CALL_NEXT on the callers round-robin, one press per window at a time and at most
`--inflight` windows at once, and times each press from `SimCaller.press()` to the moment
the simulated panel has applied the SET_DISPLAY that shows the new ticket on its line 1
(`A012 请到3号窗口`).

What the measured figure includes: the bridge's polling of the caller line, the durable
press queue, MQTT to the server and its durable commit, the retained window state back to
the bridge, and the SET_DISPLAY exchange on the panel line. What it does NOT include: wire
time. ``socket://`` delivers a frame at once, where a real 115200-baud 8N1 line needs 10 bits
per byte; the script prints the wire time of each exchange on the critical path and adds a
bound for it, labelled as an estimate. The simulated devices run in this process; with
`--same-process` they share its interpreter (and GIL) with the bridge, the pessimistic case.
Stops by itself; the broker, server and lines are stopped in any case.
"""

from __future__ import annotations

import argparse
import json
import logging
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable
from concurrent.futures import Future
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import _hallgen  # noqa: E402
from _server import ServerProcess, start_server  # noqa: E402

from firmware_bridge.bridge import Bridge  # noqa: E402
from firmware_bridge.codecs import ycbus  # noqa: E402
from firmware_bridge.codecs.ycbus import FrameType, Key  # noqa: E402
from firmware_bridge.serial_bus import POLL_WIRE_S  # noqa: E402
from hw_sim.serial_devices import SimBus, SimCaller, SimDevice, SimLedPanel  # noqa: E402
from yichuang.broker_process import BrokerProcess, free_port, start_mosquitto  # noqa: E402
from yichuang.config import parse_config  # noqa: E402
from yichuang.mqtt_client import Message, MqttClient  # noqa: E402
from yichuang.rpc import CommandClient  # noqa: E402

HALL = "benchbus"
BRIDGE_ID = "bridge-01"
SERVICES = [
    ("realestate", "A"),
    ("social", "B"),
    ("medical", "C"),
    ("fund", "D"),
    ("tax", "E"),
]
LINES = 5  # caller lines, and as many panel lines
PER_LINE = 10  # devices on each line, addresses 1..10
WINDOWS = LINES * PER_LINE
SERVICES_PER_WINDOW = 3
IDLE_TEXT = "欢迎办理"  # key_commands.panel_text for an open window with nobody called
SERIAL_READ_TIMEOUT_S = 0.002  # what firmware_bridge.serial_bus opens its ports with
MIN_CYCLE_S: float = PER_LINE * POLL_WIRE_S  # the bus master's floor for a line of PER_LINE callers


def window_id(index: int) -> str:
    return f"w{index + 1:02d}"


def window_label(index: int) -> str:
    return f"{index + 1}号窗口"


def hall_toml(
    broker_url: str, db_url: str, http_port: int, caller_urls: list[str], panel_urls: list[str]
) -> str:
    """The hall: 50 comprehensive windows, each with a caller and an LED panel on YC-BUS lines."""
    lines = _hallgen.hall_toml(
        hall=HALL,
        name="串口压测政务服务中心",
        name_en="Bus latency bench hall",
        broker_url=broker_url,
        db_url=db_url,
        http_port=http_port,
        services=SERVICES,
        windows=WINDOWS,
        services_per_window=SERVICES_PER_WINDOW,
        window_id=window_id,
    )
    for kind, prefix, urls in (("caller", "caller", caller_urls), ("led_panel", "panel", panel_urls)):
        for n in range(WINDOWS):
            lines += [
                "[[device]]",
                f'id = "{prefix}-{window_id(n)}"',
                f'kind = "{kind}"',
                f'port = "{urls[n // PER_LINE]}"',
                f"address = {n % PER_LINE + 1}",
                f'window = "{window_id(n)}"',
                f'bridge = "{BRIDGE_ID}"',
                "",
            ]
    return "\n".join(lines)


@dataclass
class Wiring:
    """The simulated lines: caller line k carries the callers of windows 10k+1..10k+10."""

    callers: list[SimCaller] = field(default_factory=list)
    panels: list[SimLedPanel] = field(default_factory=list)
    caller_buses: list[SimBus] = field(default_factory=list)
    panel_buses: list[SimBus] = field(default_factory=list)

    @classmethod
    def start(cls) -> Wiring:
        wiring = cls()
        try:
            for line in range(LINES):
                callers = [SimCaller(a) for a in range(1, PER_LINE + 1)]
                panels = [SimLedPanel(a) for a in range(1, PER_LINE + 1)]
                wiring.callers += callers
                wiring.panels += panels
                wiring.caller_buses.append(SimBus.tcp(*callers).start())
                wiring.panel_buses.append(SimBus.tcp(*panels).start())
                assert len(wiring.caller_buses) == line + 1
        except BaseException:
            wiring.stop()
            raise
        return wiring

    def stop(self) -> None:
        for bus in (*self.caller_buses, *self.panel_buses):
            bus.stop()


# ----------------------------------------------------------------- MQTT side (windows, tickets)


def settle(futures: Iterable[Future[dict[str, Any]]], what: str, timeout: float = 60.0) -> Counter[str]:
    """Wait for every reply; count them by outcome ("ok" or the error code)."""
    outcome: Counter[str] = Counter()
    deadline = time.monotonic() + timeout
    for future in futures:
        reply = future.result(max(0.1, deadline - time.monotonic()))
        outcome["ok" if reply.get("ok") else str(reply.get("error", {}).get("code"))] += 1
    if set(outcome) != {"ok"}:
        raise SystemExit(f"{what}: {dict(outcome)}")
    return outcome


def wait_until(predicate: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise SystemExit(f"timed out waiting for {what}")
        time.sleep(0.02)


def display_frames(devices: Iterable[SimDevice]) -> int:
    return sum(1 for d in devices for f in d.applied if f.type == FrameType.SET_DISPLAY)


def wait_quiet(wiring: Wiring, quiet_s: float = 0.5, timeout: float = 30.0) -> None:
    """Until no display on any line has changed for `quiet_s` (the bridge owes nothing)."""
    devices = [*wiring.callers, *wiring.panels]
    last, since = display_frames(devices), time.monotonic()
    deadline = since + timeout
    while time.monotonic() - since < quiet_s:
        if time.monotonic() > deadline:
            raise SystemExit("the lines never went quiet")
        time.sleep(0.05)
        now = display_frames(devices)
        if now != last:
            last, since = now, time.monotonic()


# ----------------------------------------------------------------- the presses


@dataclass
class StateTimes:
    """When each window's retained state first said it is calling a ticket (seen on MQTT)."""

    seen: dict[tuple[str, str], float] = field(default_factory=dict)  # (window, ticket) -> time

    def watch(self, client: MqttClient) -> None:
        def on_state(message: Message) -> None:
            now = time.perf_counter()
            state = message.json()
            if isinstance(state, dict) and state.get("ticket") and state.get("status") == "calling":
                self.seen.setdefault((str(state.get("window")), str(state["ticket"])), now)

        client.subscribe(f"yc/{HALL}/state/window/+", on_state)


@dataclass
class Results:
    latency: list[float] = field(default_factory=list)
    # press -> the caller's event is ACKed, -> window state on MQTT, -> panel shows it (seconds)
    split: list[tuple[float, float, float]] = field(default_factory=list)
    shown: list[str] = field(default_factory=list)  # the ticket each press brought to its panel
    missed: list[str] = field(default_factory=list)  # windows whose panel did not change in time
    lost: int = 0  # presses the caller's 16-event queue refused
    lock: threading.Lock = field(default_factory=threading.Lock)


def press_loop(
    wiring: Wiring,
    windows: list[int],
    budget: list[int],
    results: Results,
    states: StateTimes,
    timeout: float,
) -> None:
    """One clerk-driver: presses CALL_NEXT on `windows` in turn, one at a time, until the budget is spent."""
    turn = 0
    while True:
        with results.lock:
            if budget[0] <= 0:
                return
            budget[0] -= 1
        n = windows[turn % len(windows)]
        turn += 1
        caller, panel = wiring.callers[n], wiring.panels[n]
        before = panel.lines[1]
        called = re.compile(rf"^[A-Z]\d+ 请到{re.escape(window_label(n))}$")

        def shows_new(p: SimLedPanel, before: str = before, called: re.Pattern[str] = called) -> bool:
            text = p.lines[1]  # the device's lock is re-entrant: fine inside wait_for
            return text != before and called.match(text) is not None

        t0 = time.perf_counter()
        if caller.press(Key.CALL_NEXT) is None:
            with results.lock:
                results.lost += 1
            continue
        # The bridge ACKs the EVENT right after the press is durable in its press queue; the
        # panel can only change a server round trip later, so waiting in turn loses nothing.
        caller.wait_for(lambda c: not c.pending, timeout)
        acked = time.perf_counter()
        ok = panel.wait_for(shows_new, timeout)
        t1 = time.perf_counter()
        ticket = panel.lines[1].split(" ")[0]
        state = states.seen.get((window_id(n), ticket), acked)
        with results.lock:
            if ok:
                results.latency.append(t1 - t0)
                results.shown.append(ticket)
                results.split.append((acked - t0, state - acked, t1 - state))
            else:
                results.missed.append(window_id(n))


def run_presses(
    wiring: Wiring, states: StateTimes, presses: int, inflight: int, timeout: float
) -> tuple[Results, float]:
    results = Results()
    budget = [presses]
    order = list(range(WINDOWS))
    threads = [
        threading.Thread(
            target=press_loop,
            args=(wiring, order[k::inflight], budget, results, states, timeout),
            name=f"clerk-{k}",
            daemon=True,
        )
        for k in range(inflight)
    ]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results, time.perf_counter() - started


# ----------------------------------------------------------------- figures


def pct(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))] * 1000


def wire_ms(nbytes: int, baud: int = ycbus.BAUDRATE) -> float:
    """Time on an 8N1 line: a start bit, 8 data bits and a stop bit per byte."""
    return nbytes * 10 / baud * 1000


def frame_len(frame: ycbus.Frame) -> int:
    return len(frame.encode())


@dataclass(frozen=True)
class LineTraffic:
    polls: int
    displays: int
    display_bytes: int  # SET_DISPLAY frames plus their ACKs
    other_bytes: int  # ACK_EVENT + ACK, and the extra bytes of EVENT over IDLE


def line_traffic(devices: Iterable[SimDevice], since: dict[int, int]) -> LineTraffic:
    """What the bridge sent these devices since `since` (id(device) -> frames heard before)."""
    ack = frame_len(ycbus.ack(1, 0))
    polls = displays = display_bytes = other_bytes = 0
    for device in devices:
        for frame in device.received[since.get(id(device), 0) :]:
            size = frame_len(frame)
            if frame.type == FrameType.POLL:
                polls += 1
            elif frame.type == FrameType.SET_DISPLAY:
                displays += 1
                display_bytes += size + ack
            else:
                other_bytes += size + ack
    return LineTraffic(polls, displays, display_bytes, other_bytes)


def heard(devices: Iterable[SimDevice]) -> dict[int, int]:
    return {id(d): len(d.received) for d in devices}


def print_wire_estimate(
    caller_traffic: LineTraffic,
    panel_traffic: LineTraffic,
    presses: int,
    elapsed: float,
    idle_s: float,
    read_timeout_s: float,
    p50: float,
    p99: float,
) -> None:
    """What a real 115200-baud line would add to the measured figure (an estimate, not measured)."""
    poll = frame_len(ycbus.poll(1, 0))
    idle = frame_len(ycbus.idle(1, 0))
    event = frame_len(ycbus.event(1, 0, 1, Key.CALL_NEXT))
    ack_event = frame_len(ycbus.ack_event(1, 0, 1))
    ack = frame_len(ycbus.ack(1, 0))
    panel_set = frame_len(ycbus.set_display(1, 0, 1, f"A999 请到{window_label(WINDOWS - 1)}"))
    poll_x, event_x, panel_x = poll + idle, poll + event, panel_set + ack
    print(f"  wire time at {ycbus.BAUDRATE} baud 8N1 (10 bits a byte, {wire_ms(1) * 1000:.1f} us):")
    rows = (
        ("POLL + IDLE", poll_x, ""),
        ("POLL + EVENT", event_x, "the press is read"),
        ("ACK_EVENT + ACK", ack_event + ack, "after the press is queued: off the path"),
        ("panel SET_DISPLAY", panel_set, f"+ ACK {wire_ms(ack):.2f} ms; shown before the ACK"),
    )
    for name, size, note in rows:
        print(f"    {name:<18} {size:3d} B  {wire_ms(size):5.2f} ms   {note}")
    cycle_wire = PER_LINE * wire_ms(poll_x)
    print(
        f"  poll cycle of a {PER_LINE}-device line: {cycle_wire:.1f} ms of wire; the bridge reads each reply"
        f" as it arrives and paces a cycle to at least {idle_s * 1000:.0f} ms,"
        f" so ~{max(cycle_wire, idle_s * 1000):.0f} ms on a real line"
    )
    polls_each = caller_traffic.polls / (LINES * PER_LINE)
    sim_cycle = elapsed / polls_each * 1000 if polls_each else float("nan")
    print(f"    measured on the simulated caller lines: {sim_cycle:.1f} ms between two polls of a caller")
    # Per press, the caller lines also carry the callers' "等候 N 人" refreshes, sent before any poll.
    c_ms = wire_ms(caller_traffic.display_bytes + caller_traffic.other_bytes) / presses
    p_ms = wire_ms(panel_traffic.display_bytes + panel_traffic.other_bytes) / presses
    rate = presses / elapsed
    print(
        f"  non-poll traffic per press: caller lines {caller_traffic.displays / presses:.1f} SET_DISPLAY "
        f"({c_ms:.1f} ms of wire), panel lines {panel_traffic.displays / presses:.1f} ({p_ms:.1f} ms)"
    )
    print(
        f"    at {rate:.0f} presses/s a real caller line would spend {rate * c_ms / LINES / 10:.0f}% of its "
        f"time on those alone (at 1 press/s in the hall: {c_ms / LINES / 10:.1f}%)"
    )
    # On the critical path, beyond what the simulator already spends: the panel's frame, one
    # exchange already under way on the panel line, and the POLL+EVENT exchange or the poll
    # cycle only where their wire time outlasts the read timeout the bridge waits anyway.
    extra_poll = max(0.0, wire_ms(event_x) - read_timeout_s * 1000)
    extra_cycle = PER_LINE * max(0.0, wire_ms(poll_x) - read_timeout_s * 1000)
    bound = extra_poll + extra_cycle + wire_ms(panel_set) + wire_ms(panel_x)
    print(
        f"  estimate for real RS-485: + up to {bound:.1f} ms a press (panel frame {wire_ms(panel_set):.1f}"
        f" + an exchange under way {wire_ms(panel_x):.1f} + poll {extra_poll + extra_cycle:.1f})"
    )
    print(f"    -> p50 ~{p50 + bound:.0f} ms, p99 ~{p99 + bound:.0f} ms (estimate, not measured)")


def bridge_counters(bridge: Bridge) -> dict[str, int]:
    buses = bridge.buses
    stats = bridge.presses.stats()
    return {
        "frames_ok": sum(b.stats.frames_ok for b in buses),
        "retransmits": sum(b.stats.retransmits for b in buses),
        "timeouts": sum(b.stats.timeouts for b in buses),
        "crc_errors": sum(b.crc_errors for b in buses),
        "presses": sum(b.stats.presses for b in buses),
        "duplicates": sum(b.stats.duplicates for b in buses),
        "port_errors": sum(b.stats.port_errors for b in buses),
        "sent": stats.sent,
        "rejected": stats.rejected,
        "retried": stats.retried,
        "dropped": stats.dropped,
        "queued": stats.queued,
    }


def format_counters(counters: dict[str, int]) -> str:
    return " ".join(f"{name}={value}" for name, value in counters.items())


# ----------------------------------------------------------------- the bridge, here or in a child


class InProcessBridge:
    def __init__(self, config_path: Path, state_dir: Path, reply_timeout_s: float) -> None:
        config = parse_config(config_path.read_text(encoding="utf-8"), str(config_path))
        self.bridge = Bridge(config, BRIDGE_ID, state_dir, reply_timeout_s=reply_timeout_s)
        self.bridge.start()

    def counters(self) -> dict[str, int]:
        return bridge_counters(self.bridge)

    def stop(self) -> None:
        self.bridge.stop()


class ChildBridge:
    """The bridge in its own interpreter (`--bridge-process`): it no longer shares the GIL with
    the ten simulated lines, as a real `yichuang bridge` would not. Talks over stdin/stdout."""

    def __init__(self, config_path: Path, state_dir: Path, reply_timeout_s: float, log: Path) -> None:
        self.proc = subprocess.Popen(
            [
                sys.executable,
                __file__,
                "--child-bridge",
                str(config_path),
                str(state_dir),
                str(reply_timeout_s),
            ],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=log.open("wb"),
            text=True,
            cwd=ROOT,
        )
        if self._line() != "ready":
            raise SystemExit(f"the bridge process did not start (see {log})")

    def _line(self) -> str:
        assert self.proc.stdout is not None
        return self.proc.stdout.readline().strip()

    def counters(self) -> dict[str, int]:
        assert self.proc.stdin is not None
        self.proc.stdin.write("counters\n")
        self.proc.stdin.flush()
        counters: dict[str, int] = json.loads(self._line())
        return counters

    def stop(self) -> None:
        if self.proc.stdin is not None:
            self.proc.stdin.close()  # EOF: the child stops its bridge and exits
        try:
            self.proc.wait(15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5)


def child_bridge(config_path: str, state_dir: str, reply_timeout_s: str) -> int:
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    bridge = InProcessBridge(Path(config_path), Path(state_dir), float(reply_timeout_s))
    try:
        print("ready", flush=True)
        for line in sys.stdin:
            if line.strip() == "counters":
                print(json.dumps(bridge.counters()), flush=True)
    finally:
        bridge.stop()
    return 0


# ----------------------------------------------------------------- main


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--presses", type=int, default=1000)
    parser.add_argument(
        "--inflight",
        type=int,
        default=2,
        help="windows with a press in flight at once (50 clerks make well under one press a second)",
    )
    parser.add_argument("--tickets", type=int, default=1250, help="tickets issued before the presses")
    parser.add_argument(
        "--reply-timeout", type=float, default=0.05, help="the bridge's YC-BUS reply timeout, seconds"
    )
    parser.add_argument("--press-timeout", type=float, default=5.0, help="give up on one press after this")
    parser.add_argument(
        "--same-process",
        dest="bridge_process",
        action="store_false",
        help="run the bridge next to the simulated lines instead of in its own process as deployed",
    )
    parser.add_argument(
        "--switch-interval",
        type=float,
        default=None,
        help="sys.setswitchinterval of the process running the simulated lines; default: Python's",
    )
    parser.add_argument("--child-bridge", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if not 1 <= args.inflight <= WINDOWS:
        parser.error(f"--inflight must be 1..{WINDOWS}")
    if args.tickets < args.presses:
        parser.error("--tickets must be at least --presses (a press on an empty queue shows nothing new)")
    return args


def main() -> int:
    # a timeout's SIGTERM must still run the clean-up below: no broker or server left behind
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    args = parse_args()
    if args.child_bridge:
        return child_bridge(*args.child_bridge)
    if args.switch_interval is not None:
        sys.setswitchinterval(args.switch_interval)
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s %(message)s")

    work = Path(tempfile.mkdtemp(prefix="yc-busbench-"))
    broker: BrokerProcess | None = None
    server: ServerProcess | None = None
    wiring: Wiring | None = None
    bridge: InProcessBridge | ChildBridge | None = None
    client: MqttClient | None = None
    try:
        broker = start_mosquitto(work)
        wiring = Wiring.start()
        config_path = work / "hall.toml"
        config_path.write_text(
            hall_toml(
                broker.url,
                f"sqlite:///{work / 'hall.db'}",
                free_port(),
                [b.url for b in wiring.caller_buses],
                [b.url for b in wiring.panel_buses],
            ),
            encoding="utf-8",
        )
        parse_config(config_path.read_text(encoding="utf-8"), str(config_path))  # fail early, here
        server = start_server(config_path, work / "server.log")
        if args.bridge_process:
            bridge = ChildBridge(config_path, work / "bridge", args.reply_timeout, work / "bridge.log")
        else:
            bridge = InProcessBridge(config_path, work / "bridge", args.reply_timeout)

        client = MqttClient(
            host="127.0.0.1", port=broker.port, client_id="bench-clerks", hall=HALL, device=None
        )
        rpc = CommandClient(client, HALL, "bench-clerks")
        states = StateTimes()
        states.watch(client)
        client.start()
        settle(
            [rpc.send(f"window/{window_id(n)}/open", {"clerk": f"S{n + 1:04d}"}) for n in range(WINDOWS)],
            "opening the windows",
        )
        kiosk_args = [
            {"service": SERVICES[i % len(SERVICES)][0], "kiosk": f"kiosk-{i % 8 + 1:02d}"}
            for i in range(args.tickets)
        ]
        settle([rpc.send("ticket/issue", a) for a in kiosk_args], "issuing tickets")
        panels = wiring.panels
        wait_until(lambda: all(p.lines[1] == IDLE_TEXT for p in panels), 30, "every panel to show 欢迎办理")
        wait_quiet(wiring)

        callers_before, panels_before = heard(wiring.callers), heard(wiring.panels)
        counters_before = bridge.counters()
        results, elapsed = run_presses(wiring, states, args.presses, args.inflight, args.press_timeout)
        caller_traffic = line_traffic(wiring.callers, callers_before)
        panel_traffic = line_traffic(wiring.panels, panels_before)
        counters = bridge.counters()
        report(args, wiring, results, elapsed, counters_before, counters, caller_traffic, panel_traffic)
        return 0 if results.latency else 1
    finally:
        if client is not None:
            client.stop()
        if bridge is not None:
            bridge.stop()
        if server is not None:
            server.stop()
        if wiring is not None:
            wiring.stop()
        if broker is not None:
            broker.stop()
        shutil.rmtree(work, ignore_errors=True)


def report(
    args: argparse.Namespace,
    wiring: Wiring,
    results: Results,
    elapsed: float,
    counters_before: dict[str, int],
    counters: dict[str, int],
    caller_traffic: LineTraffic,
    panel_traffic: LineTraffic,
) -> None:
    lat = results.latency
    p50, p99 = pct(lat, 50), pct(lat, 99)
    where = "its own process" if args.bridge_process else "this process, with the simulated lines"
    print(
        f"bridge_latency: {WINDOWS} windows, {LINES} caller + {LINES} panel lines of {PER_LINE} devices "
        f"(socket://), {args.presses} CALL_NEXT presses, <= {args.inflight} windows in flight"
    )
    print(
        f"  bridge in {where}; YC-BUS reply timeout {args.reply_timeout * 1000:.0f} ms; "
        f"switch interval here {sys.getswitchinterval() * 1000:.1f} ms"
    )
    mean = sum(lat) / max(1, len(lat)) * 1000
    print(
        f"  press -> panel shows new ticket        p50 {p50:6.1f} ms   p99 {p99:6.1f} ms"
        f"   max {max(lat, default=float('nan')) * 1000:6.1f} ms   mean {mean:.1f} ms   n={len(lat)}"
    )
    labels = ("press -> EVENT polled, queued, ACKed", "-> window state seen on MQTT", "-> panel shows it")
    for i, label in enumerate(labels):
        part = [split[i] for split in results.split]
        print(f"    {label:<38}p50 {pct(part, 50):6.1f} ms   p99 {pct(part, 99):6.1f} ms")
    print(
        f"  throughput                             {len(lat) / elapsed:6.1f} presses/s over {elapsed:.1f} s"
    )
    missed = f" {sorted(set(results.missed))[:10]}" if results.missed else ""
    repeats = len(results.shown) - len(set(results.shown))
    print(
        f"  not shown within {args.press_timeout:g} s: {len(results.missed)}{missed}; "
        f"refused by a full caller queue: {results.lost}; a ticket shown twice: {repeats}"
    )
    print(f"  target p99 <= 50 ms (simulated lines, no wire time): {'met' if p99 <= 50 else 'NOT met'}")
    delta = {name: counters[name] - counters_before.get(name, 0) for name in counters}
    delta["queued"] = counters["queued"]
    print(f"  bridge counters during the presses: {format_counters(delta)}")
    sim_crc = sum(b.crc_errors for b in (*wiring.caller_buses, *wiring.panel_buses))
    print(f"  bridge counters since start:        {format_counters(counters)}; devices' crc errors {sim_crc}")
    print_wire_estimate(
        caller_traffic, panel_traffic, len(lat) or 1, elapsed, MIN_CYCLE_S, SERIAL_READ_TIMEOUT_S, p50, p99
    )


if __name__ == "__main__":
    raise SystemExit(main())
