"""Stopping child processes: SIGTERM first, SIGKILL only for one that will not stop."""

from __future__ import annotations

import subprocess
import sys
import time

from yichuang.child_process import stop_child


def _child(code: str) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE)
    assert proc.stdout is not None
    assert proc.stdout.readline() == b"ready\n"  # its signal handlers are in place
    return proc


def test_a_child_that_stops_on_sigterm_is_not_killed() -> None:
    proc = _child("import time; print('ready', flush=True); time.sleep(60)")
    assert stop_child(proc, 5.0) is True
    assert proc.returncode == -15


def test_a_child_ignoring_sigterm_is_killed_after_the_timeout() -> None:
    proc = _child(
        "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
        "print('ready', flush=True); time.sleep(60)"
    )
    started = time.monotonic()
    assert stop_child(proc, 0.5) is False
    assert proc.returncode == -9
    assert 0.5 <= time.monotonic() - started < 5.0


def test_a_child_that_already_exited_is_left_alone() -> None:
    proc = _child("print('ready', flush=True)")
    proc.wait(5)
    assert stop_child(proc, 0.1) is True
    assert proc.returncode == 0
