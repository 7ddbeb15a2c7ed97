"""Faults: the server killed mid-stream loses nothing it acknowledged; SIGTERM stops it cleanly."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
import uuid
from concurrent.futures import Future
from pathlib import Path

from helpers.server import Caller, example_toml

from yichuang.broker_process import free_port

HALL = "qingpu"


def spawn_server(config: Path, log: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "yichuang.cli", "server", "-c", str(config)],
        stdout=log.open("ab"),
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
    )


def wait_online(probe, timeout: float = 15.0) -> None:
    topic = f"yc/{HALL}/device/server/status"
    probe.subscribe(topic)
    probe.wait_for(topic, lambda m: m.payload == b"online", timeout=timeout)


def test_sigkill_mid_stream_loses_no_acknowledged_ticket_and_reuses_no_number(tmp_path, broker, mqtt_probe):
    db = tmp_path / "hall.db"
    config = example_toml(tmp_path, broker.url, f"sqlite:///{db}", free_port())
    log = tmp_path / "server.log"
    mqtt_probe.clear()
    proc = spawn_server(config, log)
    caller = Caller(broker.port, HALL)
    try:
        wait_online(mqtt_probe)
        services = ["realestate", "social_insurance", "housing_fund"]
        pending: dict[str, tuple[str, Future]] = {}
        for n in range(600):
            rid = f"crash-{n}"
            pending[rid] = (
                services[n % 3],
                caller.rpc.send("ticket/issue", {"service": services[n % 3], "kiosk": "kiosk-01"}, rid),
            )
            if n == 300:
                # some answered, some in flight, some not yet sent: then SIGKILL, no goodbye
                deadline = time.monotonic() + 10
                while sum(f.done() for _, f in pending.values()) < 50 and time.monotonic() < deadline:
                    time.sleep(0.005)
                proc.kill()
        proc.wait(10)
        mqtt_probe.wait_for(f"yc/{HALL}/device/server/status", lambda m: m.payload == b"offline")
        time.sleep(0.5)
        acked = {
            rid: f.result()["result"]["ticket"]["no"]
            for rid, (_, f) in pending.items()
            if f.done() and f.result()["ok"]
        }
        assert acked, f"no ticket acknowledged before the kill; log: {log.read_text()[-2000:]}"

        with sqlite3.connect(db) as conn:
            stored = {no for (no,) in conn.execute("SELECT no FROM tickets WHERE hall = ?", (HALL,))}
        assert set(acked.values()) <= stored, "an acknowledged ticket is missing from the database"

        mqtt_probe.clear()
        proc = spawn_server(config, log)
        wait_online(mqtt_probe)
        # every client retries what it never heard back about, with the same request id
        for rid, (service, _) in pending.items():
            if rid not in acked:
                reply = caller("ticket/issue", request_id=rid, service=service, kiosk="kiosk-01", timeout=10)
                assert reply["ok"], reply
                acked[rid] = reply["result"]["ticket"]["no"]
        for rid in list(acked)[:20]:  # and a retry of an acknowledged one gets the same ticket
            assert (
                caller("ticket/issue", request_id=rid, service="x", kiosk="kiosk-01")["result"]["ticket"][
                    "no"
                ]
                == acked[rid]
            )
        assert len(set(acked.values())) == len(acked) == 600, "a number was handed out twice"
        with sqlite3.connect(db) as conn:
            rows = conn.execute(
                "SELECT count(*), count(DISTINCT no) FROM tickets WHERE hall = ?", (HALL,)
            ).fetchone()
        assert rows[0] == rows[1] == 600
    finally:
        caller.close()
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            proc.wait(10)


def test_sigterm_finishes_in_flight_work_publishes_offline_and_exits_zero(tmp_path, broker, mqtt_probe):
    db = tmp_path / "hall.db"
    config = example_toml(tmp_path, broker.url, f"sqlite:///{db}", free_port())
    proc = spawn_server(config, tmp_path / "server.log")
    caller = Caller(broker.port, HALL)
    try:
        wait_online(mqtt_probe)
        futures = [
            caller.rpc.send("ticket/issue", {"service": "realestate", "kiosk": "kiosk-01"}, uuid.uuid4().hex)
            for _ in range(50)
        ]
        futures[-1].result(10)
        os.kill(proc.pid, signal.SIGTERM)
        assert proc.wait(15) == 0
        assert all(f.done() and f.result()["ok"] for f in futures)
        mqtt_probe.wait_for(f"yc/{HALL}/device/server/status", lambda m: m.payload == b"offline")
    finally:
        caller.close()
        if proc.poll() is None:
            proc.kill()


def test_check_config_reports_line_and_reason(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text(
        '[hall]\nid = "x"\nname = "某中心"\nname_en = "C"\ntimezone = "Mars/Olympus"\n'
        'opening_hours = "always"\n',
        encoding="utf-8",
    )
    done = subprocess.run(
        [sys.executable, "-m", "yichuang.cli", "check-config", str(bad)],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode == 1
    assert f"{bad}:5:" in done.stderr and "timezone" in done.stderr
    good = subprocess.run(
        [
            sys.executable,
            "-m",
            "yichuang.cli",
            "check-config",
            str(Path(__file__).resolve().parents[1] / "config" / "hall.example.toml"),
        ],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert good.returncode == 0, good.stderr
