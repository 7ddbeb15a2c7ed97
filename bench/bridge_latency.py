"""Key press on a simulated YC-BUS line -> the window's LED panel showing the new ticket.

    .venv/bin/python bench/bridge_latency.py [--presses 1000] [--inflight 10] [--reply-timeout 0.05]

The issue's figure: p50/p99 over 1,000 CALL_NEXT presses across 50 windows, target
p99 <= 50 ms at 115200 baud. Starts a private Mosquitto, `yichuang server` (a separate
process, SQLite WAL synchronous=FULL), ten simulated RS-485 lines behind ``socket://``
(5 caller lines and 5 LED panel lines, 10 devices each, addresses 1-10, as a hall would be
wired) and the bridge (`firmware_bridge.bridge.Bridge`, in this process: there is no
`yichuang bridge` command yet). Opens the 50 windows and issues tickets over MQTT, then
presses CALL_NEXT on the callers round-robin, one press per window at a time and at most
`--inflight` windows at once, and times each press from `SimCaller.press()` to the moment
the simulated panel has applied the SET_DISPLAY that shows the new ticket on its line 1
(`A012 请到3号窗口`).

What the measured figure includes: the bridge's polling of the caller line, the durable
press queue, MQTT to the server and its durable commit, the retained window state back to
the bridge, and the SET_DISPLAY exchange on the panel line. What it does NOT include: wire
time. ``socket://`` delivers a frame at once, where a real 115200-baud 8N1 line needs 10 bits
per byte; the script prints the wire time of each exchange on the critical path and adds a
bound for it, labelled as an estimate. The simulated devices run in this process too, so
they share its interpreter (and GIL) with the bridge; the in-process bridge is the pessimistic
side of that. Stops by itself; the broker, server and lines are stopped in any case.
"""

from __future__ import annotations

import argparse
import logging
import re
import shutil
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

from firmware_bridge.bridge import Bridge  # noqa: E402
from firmware_bridge.codecs import ycbus  # noqa: E402
from firmware_bridge.codecs.ycbus import FrameType, Key  # noqa: E402
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


def window_id(index: int) -> str:
    return f"w{index + 1:02d}"


def window_label(index: int) -> str:
    return f"{index + 1}号窗口"


def hall_toml(
    broker_url: str, db_url: str, http_port: int, caller_urls: list[str], panel_urls: list[str]
) -> str:
    """The hall: 50 comprehensive windows, each with a caller and an LED panel on YC-BUS lines."""
    lines = [
        "[hall]",
        f'id = "{HALL}"',
        'name = "串口压测政务服务中心"',
        'name_en = "Bus latency bench hall"',
        'timezone = "Asia/Shanghai"',
        'opening_hours = "always"',
        "",
        "[broker]",
        f'url = "{broker_url}"',
        "",
        "[database]",
        f'url = "{db_url}"',
        "",
        "[http]",
        'host = "127.0.0.1"',
        f"port = {http_port}",
        "",
    ]
    for sid, prefix in SERVICES:
        lines += [
            "[[service]]",
            f'id = "{sid}"',
            f'prefix = "{prefix}"',
            f'name = "事项{prefix}"',
            f'name_en = "Service {prefix}"',
            'flow = "finish_on_spot"',
            "minutes = 10",
            "time_limit_days = 0",
            "",
        ]
    for n in range(WINDOWS):
        served = [SERVICES[(n + k) % len(SERVICES)][0] for k in range(SERVICES_PER_WINDOW)]
        lines += [
            "[[window]]",
            f'id = "{window_id(n)}"',
            f'label = "{window_label(n)}"',
            f'label_en = "Window {n + 1}"',
            'kind = "comprehensive"',
            "services = [" + ", ".join(f'"{s}"' for s in served) + "]",
            "",
        ]
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


def wait_server_online(port: int, timeout: float = 30.0) -> None:
    online = threading.Event()

    def on_status(message: Message) -> None:
        if message.payload == b"online":
            online.set()

    watcher = MqttClient(host="127.0.0.1", port=port, client_id="bench-status", hall=HALL, device=None)
    watcher.subscribe(f"yc/{HALL}/device/server/status", on_status)
    watcher.start()
    try:
        if not online.wait(timeout):
            raise SystemExit("the server did not come online (see server.log)")
    finally:
        watcher.stop()


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
    poll = frame_len(ycbus.poll(1, 0))
    idle = frame_len(ycbus.idle(1, 0))
    event = frame_len(ycbus.event(1, 0, 1, Key.CALL_NEXT))
    ack_event = frame_len(ycbus.ack_event(1, 0, 1))
    ack = frame_len(ycbus.ack(1, 0))
    longest = window_label(WINDOWS - 1)
    panel_set = frame_len(ycbus.set_display(1, 0, 1, f"A999 请到{longest}"))
    poll_x, event_x = poll + idle, poll + event
    panel_x = panel_set + ack
    print(f"  wire time at {ycbus.BAUDRATE} baud 8N1 (10 bits/byte = {wire_ms(1) * 1000:.1f} us/byte):")
    print(f"    POLL + IDLE          {poll_x:3d} B  {wire_ms(poll_x):5.2f} ms")
    print(f"    POLL + EVENT         {event_x:3d} B  {wire_ms(event_x):5.2f} ms   (the press is read)")
    print(
        f"    ACK_EVENT + ACK      {ack_event + ack:3d} B  {wire_ms(ack_event + ack):5.2f} ms   (after the press is queued)"
    )
    print(
        f"    panel SET_DISPLAY    {panel_set:3d} B  {wire_ms(panel_set):5.2f} ms   (+ ACK {wire_ms(ack):.2f} ms; the panel shows it before the ACK)"
    )
    cycle_wire = PER_LINE * wire_ms(poll_x)
    per_exchange = max(read_timeout_s * 1000, wire_ms(poll_x)) + idle_s * 1000
    print(
        f"  poll cycle of a {PER_LINE}-device line: wire alone {cycle_wire:.1f} ms; with the bridge's pacing "
        f"(each read waits its {read_timeout_s * 1000:.0f} ms timeout, then {idle_s * 1000:.0f} ms idle) "
        f"~{PER_LINE * per_exchange:.0f} ms on a real line too"
    )
    sim_cycle = (
        elapsed / (caller_traffic.polls / (LINES * PER_LINE)) * 1000 if caller_traffic.polls else float("nan")
    )
    print(
        f"    measured on the simulated caller lines: {sim_cycle:.1f} ms per cycle (polls between display updates)"
    )
    # Per press, the caller lines also carry every caller's "等候 N 人" refresh, sent before any poll.
    c_ms = wire_ms(caller_traffic.display_bytes + caller_traffic.other_bytes) / presses
    p_ms = wire_ms(panel_traffic.display_bytes + panel_traffic.other_bytes) / presses
    rate = presses / elapsed
    print(
        f"  non-poll traffic per press: caller lines {caller_traffic.displays / presses:.1f} SET_DISPLAY "
        f"({c_ms:.1f} ms of wire), panel lines {panel_traffic.displays / presses:.1f} ({p_ms:.1f} ms)"
    )
    print(
        f"    at this bench's {rate:.0f} presses/s each caller line would be busy "
        f"{rate * c_ms / LINES / 10:.0f}% of the time with display updates alone"
        f" (a real hall: ~1 press/s, {c_ms / LINES / 10:.1f}%)"
    )
    # Critical path on a real line, beyond what the simulator already spends:
    #  - the POLL+EVENT exchange: hidden under the bridge's read timeout when it is shorter
    #  - the panel SET_DISPLAY frame itself, plus one exchange already under way on the panel line
    #  - the poll cycle growing only if an exchange outlasts the read timeout (not at 115200)
    extra_poll = max(0.0, wire_ms(event_x) - read_timeout_s * 1000)
    extra_cycle = PER_LINE * max(0.0, wire_ms(poll_x) - read_timeout_s * 1000)
    extra_panel = wire_ms(panel_set) + wire_ms(panel_x)
    bound = extra_poll + extra_cycle + extra_panel
    print(
        f"  estimate for real RS-485: + up to {bound:.1f} ms per press "
        f"(panel frame {wire_ms(panel_set):.1f} + one exchange in progress {wire_ms(panel_x):.1f}"
        f" + poll/cycle growth {extra_poll + extra_cycle:.1f}) -> p50 ~{p50 + bound:.0f} ms, p99 ~{p99 + bound:.0f} ms"
    )


def bridge_counters(bridge: Bridge) -> str:
    buses = bridge.buses
    stats = bridge.presses.stats()
    return (
        f"frames_ok={sum(b.stats.frames_ok for b in buses)} "
        f"retransmits={sum(b.stats.retransmits for b in buses)} "
        f"timeouts={sum(b.stats.timeouts for b in buses)} "
        f"crc_errors={sum(b.crc_errors for b in buses)} "
        f"presses={sum(b.stats.presses for b in buses)} "
        f"duplicates={sum(b.stats.duplicates for b in buses)} "
        f"port_errors={sum(b.stats.port_errors for b in buses)} "
        f"press_queue(sent={stats.sent} rejected={stats.rejected} retried={stats.retried} "
        f"dropped={stats.dropped} queued={stats.queued})"
    )


# ----------------------------------------------------------------- main


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--presses", type=int, default=1000)
    parser.add_argument("--inflight", type=int, default=10, help="windows with a press in flight at once")
    parser.add_argument("--tickets", type=int, default=1250, help="tickets issued before the presses")
    parser.add_argument(
        "--reply-timeout", type=float, default=0.05, help="the bridge's YC-BUS reply timeout, seconds"
    )
    parser.add_argument("--press-timeout", type=float, default=5.0, help="give up on one press after this")
    parser.add_argument(
        "--switch-interval",
        type=float,
        default=None,
        help="sys.setswitchinterval for this process (bridge + simulated lines); default: Python's",
    )
    args = parser.parse_args()
    if not 1 <= args.inflight <= WINDOWS:
        parser.error(f"--inflight must be 1..{WINDOWS}")
    if args.tickets < args.presses:
        parser.error("--tickets must be at least --presses (a press on an empty queue shows nothing new)")
    if args.switch_interval is not None:
        sys.setswitchinterval(args.switch_interval)
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s %(message)s")

    work = Path(tempfile.mkdtemp(prefix="yc-busbench-"))
    broker: BrokerProcess | None = None
    server: subprocess.Popen[bytes] | None = None
    wiring: Wiring | None = None
    bridge: Bridge | None = None
    client: MqttClient | None = None
    try:
        broker = start_mosquitto(work)
        wiring = Wiring.start()
        text = hall_toml(
            broker.url,
            f"sqlite:///{work / 'hall.db'}",
            free_port(),
            [b.url for b in wiring.caller_buses],
            [b.url for b in wiring.panel_buses],
        )
        config_path = work / "hall.toml"
        config_path.write_text(text, encoding="utf-8")
        config = parse_config(text, str(config_path))
        server = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "yichuang.cli",
                "--log-level",
                "warning",
                "server",
                "-c",
                str(config_path),
            ],
            stdout=(work / "server.log").open("wb"),
            stderr=subprocess.STDOUT,
            cwd=ROOT,
        )
        wait_server_online(broker.port)

        bridge = Bridge(config, BRIDGE_ID, work / "bridge", reply_timeout_s=args.reply_timeout)
        bridge.start()
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
        settle(
            [
                rpc.send(
                    "ticket/issue",
                    {"service": SERVICES[i % len(SERVICES)][0], "kiosk": f"kiosk-{i % 8 + 1:02d}"},
                )
                for i in range(args.tickets)
            ],
            "issuing tickets",
        )
        assert wiring is not None
        panels = wiring.panels
        wait_until(lambda: all(p.lines[1] == IDLE_TEXT for p in panels), 30, "every panel to show 欢迎办理")
        wait_quiet(wiring)

        callers_before = heard(wiring.callers)
        panels_before = heard(wiring.panels)
        counters_before = bridge_counters(bridge)
        results, elapsed = run_presses(wiring, states, args.presses, args.inflight, args.press_timeout)
        caller_traffic = line_traffic(wiring.callers, callers_before)
        panel_traffic = line_traffic(wiring.panels, panels_before)

        lat = results.latency
        p50, p99 = pct(lat, 50), pct(lat, 99)
        repeats = len(results.shown) - len(set(results.shown))
        print(
            f"bridge_latency: {WINDOWS} windows, {LINES} caller lines + {LINES} panel lines of {PER_LINE} "
            f"(socket://), {args.presses} CALL_NEXT presses, <= {args.inflight} windows in flight, "
            f"bridge reply timeout {args.reply_timeout * 1000:.0f} ms, switch interval "
            f"{sys.getswitchinterval() * 1000:.1f} ms, {len(lat)} shown"
        )
        print(
            f"  press -> panel shows new ticket   p50 {p50:6.1f} ms   p99 {pct(lat, 99):6.1f} ms"
            f"   max {max(lat, default=float('nan')) * 1000:6.1f} ms   (mean {sum(lat) / max(1, len(lat)) * 1000:.1f} ms)"
        )
        for i, label in enumerate(
            (
                "press -> EVENT polled, queued, ACKed",
                "-> window state on MQTT",
                "-> panel shows it",
            )
        ):
            part = [split[i] for split in results.split]
            print(f"    {label:<31}p50 {pct(part, 50):6.1f} ms   p99 {pct(part, 99):6.1f} ms")
        print(f"  throughput                         {len(lat) / elapsed:6.1f} presses/s ({elapsed:.1f} s)")
        print(
            f"  not shown within {args.press_timeout:g} s: {len(results.missed)}"
            f"{' ' + str(sorted(set(results.missed))[:10]) if results.missed else ''}; "
            f"refused by a full caller queue: {results.lost}; ticket shown twice: {repeats}"
        )
        print(f"  target p99 <= 50 ms (on the simulator, no wire time): {'met' if p99 <= 50 else 'NOT met'}")
        print(f"  bridge counters before: {counters_before}")
        print(f"  bridge counters after:  {bridge_counters(bridge)}")
        print(
            f"  sim lines: crc errors seen by devices {sum(b.crc_errors for b in (*wiring.caller_buses, *wiring.panel_buses))}"
        )
        print_wire_estimate(
            caller_traffic,
            panel_traffic,
            len(lat) or 1,
            elapsed,
            bridge.buses[0].idle_s,
            SERIAL_READ_TIMEOUT_S,
            p50,
            p99,
        )
        return 0 if lat else 1
    finally:
        if client is not None:
            client.stop()
        if bridge is not None:
            bridge.stop()
        if server is not None:
            server.terminate()
            try:
                server.wait(20)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait(5)
        if wiring is not None:
            wiring.stop()
        if broker is not None:
            broker.stop()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    raise SystemExit(main())
