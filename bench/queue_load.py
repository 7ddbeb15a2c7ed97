"""Load on the real queue server and broker over loopback: 200 windows, 30 kiosks.

    .venv/bin/python bench/queue_load.py [--rate 1000] [--seconds 20] [--db sqlite|postgresql]

Starts a private Mosquitto and `yichuang server` (a separate process, SQLite WAL with
synchronous=FULL: every reply follows a durable commit), then offers a steady stream of
commands, half `ticket/issue` from 30 kiosks and half `call_next` from 200 windows, from
this process. Prints the rate sustained and the p50/p99 latency of issue -> reply and of
call_next -> the window's retained state arriving at a subscriber. A second phase finds the
ceiling with many commands in flight.
"""

from __future__ import annotations

import argparse
import gc
import json
import signal
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import _hallgen  # noqa: E402
from _lean_mqtt import LeanClient, LeanLoop  # noqa: E402
from _server import ServerProcess, start_server  # noqa: E402

from yichuang.broker_process import free_port, start_mosquitto  # noqa: E402

HALL = "bench"
SERVICES = [
    ("realestate", "A"),
    ("mortgage", "B"),
    ("social", "C"),
    ("medical", "D"),
    ("fund", "E"),
    ("business", "F"),
    ("tax", "G"),
    ("police", "H"),
]
WINDOWS = 200
KIOSKS = 30


def hall_toml(broker_url: str, db_url: str, http_port: int) -> str:
    lines = _hallgen.hall_toml(
        hall=HALL,
        name="压测政务服务中心",
        name_en="Load test hall",
        broker_url=broker_url,
        db_url=db_url,
        http_port=http_port,
        services=SERVICES,
        windows=WINDOWS,
        services_per_window=3,
    )
    return "\n".join(lines)


class Load:
    """Kiosk and window clients plus a state subscriber, on one thread, timing by perf_counter."""

    def __init__(self, port: int, clients: int = 4) -> None:
        self.sent: dict[str, tuple[float, str, str | None]] = {}  # rid -> (t0, kind, window)
        self.latency: dict[str, list[float]] = {"issue": [], "call_next": [], "open": []}
        self.state_latency: list[float] = []
        self.timeline: list[tuple[float, float]] = []  # (sent at, latency) of every reply
        self.replied = 0
        self.errors: dict[str, int] = {}
        self.calls: dict[tuple[str, str], float] = {}  # (window, ticket) -> time the state arrived
        self.pending_state: dict[str, tuple[float, str]] = {}  # window -> (t0 of call_next, ticket no)
        self.names = [f"bench-{i}" for i in range(clients)]
        self.clients = [LeanClient("127.0.0.1", port, name, self._on_reply) for name in self.names]
        for name, client in zip(self.names, self.clients, strict=True):
            client.subscribe(f"yc/{HALL}/reply/{name}")
        self.watcher = LeanClient("127.0.0.1", port, "bench-watch", self._on_state)
        self.watcher.subscribe(f"yc/{HALL}/state/window/+")
        self.loop = LeanLoop([*self.clients, self.watcher])
        self.loop.poll(0.2)

    def send(self, index: int, kind: str, window: str | None, kiosk: str | None, service: str | None) -> None:
        slot = index % len(self.clients)
        rid = uuid.uuid4().hex
        reply_to = f"yc/{HALL}/reply/{self.names[slot]}"
        if kind == "issue":
            topic, body = f"yc/{HALL}/cmd/ticket/issue", {"service": service, "kiosk": kiosk}
        elif kind == "open":
            topic, body = f"yc/{HALL}/cmd/window/{window}/open", {"clerk": f"S{index + 1:04d}"}
        else:
            topic, body = f"yc/{HALL}/cmd/window/{window}/call_next", {}
        self.sent[rid] = (time.perf_counter(), kind, window)
        self.clients[slot].publish(topic, json.dumps({"id": rid, "reply_to": reply_to, **body}).encode())

    def _on_reply(self, topic: str, payload: bytes, now: float) -> None:
        reply = json.loads(payload)
        t0, kind, window = self.sent.pop(reply["id"])
        self.replied += 1
        self.latency[kind].append(now - t0)
        self.timeline.append((t0, now - t0))
        if not reply["ok"]:
            code = reply["error"]["code"]
            self.errors[code] = self.errors.get(code, 0) + 1
        elif kind == "call_next" and window is not None:
            ticket = reply["result"]["ticket"]["no"]
            arrived = self.calls.pop((window, ticket), None)
            if arrived is not None:
                self.state_latency.append(arrived - t0)
            else:
                self.pending_state[window] = (t0, ticket)

    def _on_state(self, topic: str, payload: bytes, now: float) -> None:
        state = json.loads(payload)
        if state.get("status") != "calling" or not state.get("ticket"):
            return
        window = state["window"]
        pending = self.pending_state.get(window)
        if pending is not None and pending[1] == state["ticket"]:
            del self.pending_state[window]
            self.state_latency.append(now - pending[0])
        else:
            self.calls[(window, state["ticket"])] = now

    def reset(self) -> None:
        for values in self.latency.values():
            values.clear()
        self.state_latency.clear()
        self.timeline.clear()
        self.errors.clear()
        self.replied = 0

    def close(self) -> None:
        self.loop.close()


def pct(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))] * 1000


def drive(load: Load, rate: float, seconds: float, tick: int) -> tuple[int, float]:
    """Offer `rate` commands/s for `seconds`, alternating issue and call_next; returns (sent, elapsed)."""
    start = time.perf_counter()
    sent = 0
    while True:
        elapsed = time.perf_counter() - start
        if elapsed >= seconds:
            break
        due = int(elapsed * rate)
        while sent < due:
            n = tick + sent
            if n % 2 == 0:
                sid = SERVICES[(n // 2) % len(SERVICES)][0]
                load.send(n, "issue", None, f"kiosk-{(n // 2) % KIOSKS + 1:02d}", sid)
            else:
                load.send(n, "call_next", f"w{(n // 2) % WINDOWS + 1:03d}", None, None)
            sent += 1
        load.loop.poll(0.0005)
    return sent, time.perf_counter() - start


def wait_drained(load: Load, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and load.sent:
        load.loop.poll(0.01)


def main() -> int:
    # a timeout's SIGTERM must still run the clean-up below: no broker or server left behind
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rate", type=float, default=1000.0, help="commands offered per second")
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--db", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--timeline", action="store_true", help="print p50/p99/max of each second")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="yc-bench-"))
    broker = start_mosquitto(work)
    db_url = f"sqlite:///{work / 'hall.db'}" if args.db == "sqlite" else "postgresql://127.0.0.1:5432/test"
    if args.db == "postgresql":
        import psycopg

        with psycopg.connect("host=127.0.0.1 dbname=test", autocommit=True) as conn:
            for table in (
                "tickets",
                "windows",
                "counters",
                "appointments",
                "evaluations",
                "help_requests",
                "requests",
            ):
                if _has_table(conn, table):
                    conn.execute(f"DELETE FROM {table} WHERE hall = %s", (HALL,))
    config = work / "hall.toml"
    config.write_text(hall_toml(broker.url, db_url, free_port()), encoding="utf-8")
    server: ServerProcess | None = None
    load: Load | None = None
    try:
        server = start_server(config, work / "server.log")
        load = Load(broker.port)
        for n in range(WINDOWS):
            load.send(n, "open", f"w{n + 1:03d}", None, None)
        wait_drained(load)
        load.reset()
        # warm-up: fill the queues a little so call_next finds tickets
        for n in range(400):
            load.send(n, "issue", None, f"kiosk-{n % KIOSKS + 1:02d}", SERVICES[n % len(SERVICES)][0])
        wait_drained(load)
        load.reset()

        # the generator's own garbage collections would show up as server latency
        gc.collect()
        gc.disable()
        sent, elapsed = drive(load, args.rate, args.seconds, 0)
        wait_drained(load)
        gc.enable()
        issue = list(load.latency["issue"])
        call = list(load.latency["call_next"])
        state = list(load.state_latency)
        errors = dict(load.errors)
        durability = " (WAL, synchronous=FULL)" if args.db == "sqlite" else " (synchronous_commit on)"
        print(
            f"queue_load: {WINDOWS} windows, {KIOSKS} kiosks, db={args.db}{durability}, "
            f"offered {args.rate:.0f} commands/s for {args.seconds:.0f} s"
        )
        print(
            f"  sustained           {sent / elapsed:8.0f} commands/s ({(len(issue)) / elapsed:.0f} tickets/s)"
        )
        for label, values in (
            ("issue -> reply", issue),
            ("call_next -> reply", call),
            ("call_next -> state", state),
        ):
            print(
                f"  {label:<19} p50 {pct(values, 50):6.1f} ms"
                f"   p99 {pct(values, 99):6.1f} ms   n={len(values)}"
            )
        print(f"  error replies       {errors or 'none'}  (queue_empty is a normal answer)")
        if args.timeline:
            _print_timeline(load.timeline)

        # the ceiling: offer far more than can be served and count what comes back
        load.reset()
        started = time.perf_counter()
        sent, _ = drive(load, 6000.0, 5.0, 10**6)
        wait_drained(load, 60)
        took = time.perf_counter() - started
        print(
            f"  ceiling             {load.replied / took:8.0f} commands/s answered "
            f"({sent} offered at 6000/s, all answered in {took:.1f} s, each durable before its reply)"
        )
    finally:
        if load is not None:
            load.close()
        if server is not None:
            server.stop()
        broker.stop()
    return 0


def _print_timeline(timeline: list[tuple[float, float]]) -> None:
    """Latency second by second: shows whether a tail is spread out or comes in bursts."""
    if not timeline:
        return
    start = min(t for t, _ in timeline)
    seconds: dict[int, list[float]] = {}
    for sent, latency in timeline:
        seconds.setdefault(int(sent - start), []).append(latency)
    for second in sorted(seconds):
        values = seconds[second]
        print(
            f"    t={second:3d}s  n={len(values):5d}  p50 {pct(values, 50):6.1f}  p99 {pct(values, 99):6.1f}"
            f"  max {max(values) * 1000:6.1f} ms"
        )


def _has_table(conn: object, table: str) -> bool:
    row = conn.execute("SELECT to_regclass(%s)", (table,)).fetchone()  # type: ignore[attr-defined]
    return bool(row and row[0])


if __name__ == "__main__":
    raise SystemExit(main())
